// The health contract through the real lifecycle: gateway → endorsing peers (certificate roles
// from real X.509 identities, ACLs, majority endorsement) → solo orderer → validation and commit
// on every peer; then `ledger verify` over each peer's chain after an erasure.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createConsortium } from '../../identity/index.ts';
import { tempDir } from '../../testing/ledger-network.ts';
import { verifyLedger } from '../../ledger/verify.ts';
import { InProcessNetwork, orgNames } from '../../node/inprocess.ts';
import { healthContract } from './contract.ts';
import { partFor, pseudonymFor } from './testkit.ts';

const orgs = orgNames(3);
const tmp = tempDir('medledger-health-');
let net: InProcessNetwork;
const PP = pseudonymFor('network-patient');

before(async () => {
  const consortium = await createConsortium({
    orgs,
    users: [
      ...orgs.flatMap((org) => [
        { org, commonName: 'admin1', role: 'admin' as const },
        { org, commonName: 'doctor1', role: 'doctor' as const },
      ]),
      { org: 'Hospital1', commonName: 'patient1', role: 'patient', pseudonym: PP },
      { org: 'Hospital2', commonName: 'nurse1', role: 'nurse' },
    ],
  });
  net = await InProcessNetwork.create({ dir: tmp.dir, orgs, consortium, contracts: [healthContract] });
});
after(() => {
  net.close();
  tmp.cleanup();
});

async function submit(org: string, user: string, fn: string, arg: unknown): Promise<Record<string, unknown>> {
  const r = await net.gateway(org, user).submit('health', fn, [JSON.stringify(arg)]);
  assert.equal(r.code, 'VALID', `${fn}: ${r.reason ?? ''}`);
  await net.waitForHeight(r.blockNumber);
  return JSON.parse(Buffer.from(r.payload).toString()) as Record<string, unknown>;
}

describe('health contract on the in-process network', () => {
  it('records, consent, audited access and erasure commit on every peer; the ledgers verify', async () => {
    await submit('Hospital1', 'admin1', 'initialize', { camsOrg: 'Hospital1' });
    await submit('Hospital1', 'admin1', 'enrolPatient', { pseudonym: PP });
    await submit('Hospital1', 'admin1', 'startCare', { doctor: 'Hospital1/doctor1', patient: PP });
    const created = await submit('Hospital1', 'doctor1', 'createRecord', {
      recordId: 'n1',
      patient: PP,
      category: 'Observation',
      parts: [partFor('n1', 'normal')],
    });
    assert.equal(created['allowed'], true);

    // The role comes from the certificate: the nurse is refused, then allowed by the patient's consent.
    const denied = await submit('Hospital2', 'nurse1', 'access', { recordId: 'n1', action: 'read', purpose: 'TREAT' });
    assert.equal(denied['allowed'], false);
    const now = Date.now();
    await submit('Hospital1', 'patient1', 'grantConsent', {
      patient: PP,
      grantee: { kind: 'user', user: 'Hospital2/nurse1' },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: now - 60_000, endMs: now + 3_600_000 },
      scope: { maxSensitivity: 'sensitive' },
    });
    const allowed = await submit('Hospital2', 'nurse1', 'access', { recordId: 'n1', action: 'read', purpose: 'TREAT' });
    assert.equal(allowed['allowed'], true);

    // A patient certificate cannot call an admin-only function (ACL at the endorsers).
    await assert.rejects(
      net.gateway('Hospital1', 'patient1').submit('health', 'enrolPatient', [JSON.stringify({ pseudonym: pseudonymFor('another-patient') })]),
      /role "patient" may not call/,
    );

    const log = JSON.parse(
      Buffer.from(
        await net.gateway('Hospital1', 'patient1').evaluate('health', 'auditTrail', [JSON.stringify({ kind: 'patient', patient: PP })], 'Hospital3'),
      ).toString(),
    ) as { entries: Array<{ op: string; outcome: string; actor: { id: string } }> };
    assert.ok(log.entries.some((e) => e.op === 'access.read' && e.outcome === 'deny' && e.actor.id === 'nurse1'));
    assert.ok(log.entries.some((e) => e.op === 'access.read' && e.outcome === 'allow' && e.actor.id === 'nurse1'));

    await submit('Hospital1', 'patient1', 'eraseRecord', { recordId: 'n1' });
    const states = net.peers.map((p) => p.height);
    assert.equal(new Set(states).size, 1, 'every peer at the same height');
    for (const org of orgs) {
      const report = await verifyLedger(`${tmp.dir}/${org}`);
      assert.equal(report.ok, true, JSON.stringify(report).slice(0, 500));
    }
  });
});
