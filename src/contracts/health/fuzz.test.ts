// Malformed input never crashes the contract: every function, fed arbitrary JSON (fixed seed),
// answers 200 or a clear refusal (400/403) — never 500, which would mean a contract bug.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { healthContract } from './contract.ts';
import { partFor, pseudonymFor, TestChain } from './testkit.ts';

describe('health contract: malformed input', () => {
  const c = new TestChain();
  after(() => c.close());
  const pp = pseudonymFor('fuzz');
  c.submit('H1/admin:admin', 'initialize', { camsOrg: 'H1' });
  c.submit('H1/admin:admin', 'enrolPatient', { pseudonym: pp });
  c.submit('H1/admin:admin', 'startCare', { doctor: 'H1/doc', patient: pp });
  c.submit('H1/doc:doctor', 'createRecord', { recordId: 'r1', patient: pp, category: 'Observation', parts: [partFor('r1', 'normal')] });
  const callers = ['H1/doc:doctor', 'H1/admin:admin', `H1/${pp}:patient`, 'H1/node:peer', 'H2/res:researcher'];
  // Near-misses of valid arguments reach deeper than random JSON does.
  const nearMisses: unknown[] = [
    {},
    [],
    null,
    0,
    '',
    'x'.repeat(70_000),
    { recordId: 'r1' },
    { recordId: 'r1', action: 'read' },
    { patient: pp },
    { patient: pp.toUpperCase() },
    { patient: pp, pageSize: 201 },
    { patient: pp, bookmark: `cxe|${pp}|zzz` },
    { recordId: 'r1', action: 'read', purpose: 'TREAT', requester: { org: 'H1', id: 'x|y', role: 'doctor' } },
    { user: 'H1/pat', pseudonym: pp },
    { pseudonym: pp },
    { kind: 'record', recordId: 'r1' },
    { kind: 'patient', patient: pp, bookmark: 'zzz' },
    { kind: 'org', org: 'H1', pageSize: 0 },
    [{ requester: { org: 'H1', id: 'a', role: 'nurse' }, recordId: 'r1', action: 'read', purpose: 'TREAT', servedDecision: 'allow' }],
    { target: { kind: 'record', recordId: 'missing' }, purpose: 'HRESCH', actions: ['read'], period: { startMs: 1, endMs: 2 } },
    { requestId: 'nope', result: { suppressed: true, minCohort: 5, count: null, min: null, max: null, mean: null, stdDev: null, histogram: [] } },
    { datasetIds: ['nope'], variable: 'v', purpose: 'HRESCH', histogram: { min: 1, max: 0, bins: 3 } },
    { provider: 'H1/doc', patient: pp },
    { applicationId: 'nope', approve: 'yes' },
    { consentId: '../../etc' },
  ];

  it('never answers 500, for every function and caller', () => {
    const seen = new Set<number>();
    for (const [name, def] of Object.entries(healthContract.functions)) {
      const samples = [...nearMisses, ...fc.sample(fc.jsonValue({ maxDepth: 3 }), { seed: name.length * 7919, numRuns: 25 })];
      for (const [i, arg] of samples.entries()) {
        const who = callers[i % callers.length]!;
        const r = c.try(def.kind, who, name, JSON.stringify(arg));
        seen.add(r.status);
        assert.notEqual(r.status, 500, `${name}(${JSON.stringify(arg).slice(0, 200)}) by ${who}: ${r.message}`);
        if (r.status === 400) assert.ok(r.message.length > 0);
      }
    }
    assert.ok(seen.has(400) && seen.has(200));
  });
});
