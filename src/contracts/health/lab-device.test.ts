// The laboratory and device roles (decision 1253): a hospital's lab adds results for its own
// hospital's patients and reads only what it wrote; a sensor only appends observations for its own
// hospital's patients and reads nothing. Both are refused everything else: by the contract's ACL
// (403) for functions outside their list, by the rule engine (a recorded denial) inside it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { healthContract, RESTRICTED_ROLE_FUNCTIONS } from './contract.ts';
import { granteeSchema } from './model.ts';
import { decide, type AccessFacts } from './rules.ts';
import { DAY_MS, partFor, pseudonymFor, TestChain } from './testkit.ts';

type Verdict = { allowed: boolean; reasons: string[]; basis: { rule: string } | null; record?: { parts: unknown[] } };

const H1_ADMIN = 'H1/admin1:admin';
const H2_ADMIN = 'H2/admin2:admin';
const DOC1 = 'H1/doc1:doctor';
const LAB1 = 'H1/lab1:laboratory';
const LAB1B = 'H1/lab2:laboratory';
const LAB2 = 'H2/lab9:laboratory';
const DEV1 = 'H1/sensor1:device';
const DEV2 = 'H2/sensor9:device';
const PP = pseudonymFor('lab-device-patient');
const PP2 = pseudonymFor('lab-device-patient-of-h2');
const PAT = `H1/${PP}:patient`;
const T0 = Date.UTC(2026, 0, 1);

function create(c: TestChain, who: string, recordId: string, category = 'Observation', patient = PP): Verdict {
  return c.submit<Verdict>(who, 'createRecord', { recordId, patient, category, parts: [partFor(recordId, 'normal')] });
}

describe('health contract: laboratory and device roles (decision 1253)', () => {
  let c: TestChain;
  before(() => {
    c = new TestChain(T0);
    c.submit(H1_ADMIN, 'initialize', { camsOrg: 'H1' });
    c.submit(H1_ADMIN, 'enrolPatient', { pseudonym: PP });
    c.submit(H2_ADMIN, 'enrolPatient', { pseudonym: PP2 });
    c.submit(H1_ADMIN, 'startCare', { doctor: 'H1/doc1', patient: PP });
    assert.equal(create(c, DOC1, 'doc-note', 'Encounter').allowed, true);
  });
  after(() => c.close());

  it('a device creates an observation for a patient of its hospital, and that is all it writes', () => {
    const v = create(c, DEV1, 'hr-1');
    assert.equal(v.allowed, true, v.reasons.join('; '));
    assert.equal(v.basis?.rule, 'device-observation');
    // Its doctor and the patient read it as any record.
    assert.equal(c.submit<Verdict>(DOC1, 'access', { recordId: 'hr-1', action: 'read', purpose: 'TREAT' }).allowed, true);
    assert.equal(c.submit<Verdict>(PAT, 'access', { recordId: 'hr-1', action: 'read', purpose: 'PATRQT' }).allowed, true);

    const report = create(c, DEV1, 'dev-report', 'DiagnosticReport');
    assert.equal(report.allowed, false);
    assert.match(report.reasons.join(';'), /device: appends Observation records, not DiagnosticReport/);
    const elsewhere = create(c, DEV2, 'hr-h2', 'Observation', PP);
    assert.equal(elsewhere.allowed, false);
    assert.match(elsewhere.reasons.join(';'), /not registered with H2/);
  });

  it("refuses a device's read: the rule engine on `access`, the ACL on every reading function", () => {
    // `access` (the only way to the parts) is outside a device's functions: the peers' ACL refuses it.
    const read = c.try('submit', DEV1, 'access', { recordId: 'hr-1', action: 'read', purpose: 'TREAT' });
    assert.equal(read.status, 403, read.message);
    for (const [kind, fn, arg] of [
      ['evaluate', 'getRecord', { recordId: 'hr-1' }],
      ['evaluate', 'recordVersions', { recordId: 'hr-1' }],
      ['evaluate', 'listPatientRecords', { patient: PP }],
      ['evaluate', 'myPatients', {}],
      ['submit', 'updateRecord', { recordId: 'hr-1', parts: [partFor('hr-1b', 'normal')] }],
      ['submit', 'grantConsent', { patient: PP }],
      ['submit', 'startCare', { doctor: 'H1/doc1', patient: PP }],
      ['submit', 'apply', {}],
      ['submit', 'registerDataset', {}],
      ['evaluate', 'auditTrail', { kind: 'org', org: 'H1' }],
    ] as const) {
      const r = c.try(kind, DEV1, fn, arg);
      assert.equal(r.status, 403, `${fn}: ${r.status} ${r.message}`);
    }
  });

  it('a laboratory adds results for its own hospital, reads and corrects only what it wrote', () => {
    const v = create(c, LAB1, 'lab-1', 'DiagnosticReport');
    assert.equal(v.allowed, true, v.reasons.join('; '));
    assert.equal(v.basis?.rule, 'lab-result');
    const own = c.submit<Verdict>(LAB1, 'access', { recordId: 'lab-1', action: 'read', purpose: 'TREAT' });
    assert.equal(own.allowed, true, own.reasons.join('; '));
    assert.equal(own.basis?.rule, 'lab-own-result');
    const fix = c.submit<Verdict>(LAB1, 'updateRecord', { recordId: 'lab-1', parts: [partFor('lab-1-v2', 'normal')] });
    assert.equal(fix.allowed, true, fix.reasons.join('; '));

    // Not a clinical note, not another hospital's patient.
    assert.match(create(c, LAB1, 'lab-note', 'Encounter').reasons.join(';'), /laboratory: adds results .* not Encounter/);
    assert.match(create(c, LAB2, 'lab-h2', 'Observation', PP).reasons.join(';'), /laboratory: the patient is not registered with H2/);
    assert.equal(create(c, LAB2, 'lab-h2-own', 'Observation', PP2).allowed, true);
  });

  it("refuses a laboratory reading another's record, sharing, or an emergency", () => {
    for (const recordId of ['doc-note', 'hr-1']) {
      const r = c.submit<Verdict>(LAB1, 'access', { recordId, action: 'read', purpose: 'TREAT' });
      assert.equal(r.allowed, false);
      assert.match(r.reasons.join(';'), /laboratory: reads and corrects only the results it wrote/);
    }
    // Another lab of the same hospital did not write lab-1.
    assert.equal(c.submit<Verdict>(LAB1B, 'access', { recordId: 'lab-1', action: 'read', purpose: 'TREAT' }).allowed, false);
    assert.throws(() => c.evaluate(LAB1B, 'getRecord', { recordId: 'lab-1' }), /not allowed/);
    const listed = c.evaluate<{ records: Array<{ recordId: string }> }>(LAB1, 'listPatientRecords', { patient: PP });
    assert.deepEqual(
      listed.records.map((r) => r.recordId),
      ['lab-1'],
    );
    assert.equal(c.submit<Verdict>(LAB1, 'access', { recordId: 'lab-1', action: 'share', purpose: 'TREAT' }).allowed, false);
    assert.equal(c.submit<Verdict>(LAB1, 'updateRecord', { recordId: 'doc-note', parts: [partFor('x', 'normal')] }).allowed, false);
    const btg = c.submit<Verdict>(LAB1, 'access', { recordId: 'doc-note', action: 'read', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    assert.equal(btg.allowed, false);
  });

  it('a consent never widens them: a consent to the laboratory or device role is refused', () => {
    assert.equal(granteeSchema.safeParse({ kind: 'role', role: 'laboratory' }).success, false);
    assert.equal(granteeSchema.safeParse({ kind: 'role', role: 'device' }).success, false);
    // A consent naming the lab as a user does not open a record it did not write.
    c.submit(PAT, 'grantConsent', {
      patient: PP,
      grantee: { kind: 'user', user: 'H1/lab1' },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: c.nowMs, endMs: c.nowMs + DAY_MS },
      scope: { maxSensitivity: 'sensitive' },
    });
    assert.equal(c.submit<Verdict>(LAB1, 'access', { recordId: 'doc-note', action: 'read', purpose: 'TREAT' }).allowed, false);
  });

  it('the ACL: no dataset, analytics, consent, care, audit or admin function for either role', () => {
    for (const [name, def] of Object.entries(healthContract.functions)) {
      for (const role of ['laboratory', 'device'] as const) {
        assert.equal(def.roles?.includes(role) ?? true, RESTRICTED_ROLE_FUNCTIONS[role].includes(name), `${role} on ${name}`);
      }
    }
    for (const fn of [
      'registerDataset',
      'requestStatistics',
      'downloadDataset',
      'listDatasets',
      'apply',
      'grantConsent',
      'startCare',
      'auditTrail',
      'enrolPatient',
      'eraseRecord',
    ])
      assert.equal(c.try(healthContract.functions[fn]!.kind, LAB1, fn, {}).status, 403, fn);
    // Everyone else keeps every function they had.
    assert.equal(healthContract.functions['myPatients']!.roles?.includes('doctor'), true);
  });

  it('the rule engine alone (behind the ACL) refuses a device every read, share and update', () => {
    const facts = (action: 'read' | 'write' | 'share', isNew: boolean): AccessFacts => ({
      nowMs: T0,
      requester: { org: 'H1', id: 'sensor1', role: 'device', pseudonym: null },
      action,
      purpose: 'TREAT',
      reason: null,
      subject: {
        kind: 'record',
        recordId: 'x',
        exists: true,
        patient: PP,
        patientOrg: 'H1',
        custodian: 'H1',
        category: 'Observation',
        sensitivity: 'normal',
        isNew,
        author: 'H1/sensor1',
      },
      care: { startedByPatient: true },
      consents: [],
      applications: [],
      session: 0,
    });
    assert.equal(decide(facts('write', true)).decision, 'allow');
    for (const [action, isNew] of [
      ['read', false],
      ['share', false],
      ['write', false],
      ['read', true],
    ] as const) {
      const d = decide(facts(action, isNew));
      assert.equal(d.decision, 'deny', `${action} new=${isNew}`);
      assert.match(d.reasons.join(';'), /^device: a device only appends new observations/);
    }
    const dataset = decide({ ...facts('read', false), subject: { kind: 'dataset', datasetId: 'd', exists: true, ownerOrg: 'H1' } });
    assert.equal(dataset.decision, 'deny');
    const labDataset = decide({
      ...facts('read', false),
      requester: { org: 'H1', id: 'lab1', role: 'laboratory', pseudonym: null },
      subject: { kind: 'dataset', datasetId: 'd', exists: true, ownerOrg: 'H1' },
    });
    assert.match(labDataset.reasons.join(';'), /laboratory: laboratories write and read results, not datasets/);
  });
});
