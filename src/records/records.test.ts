// Off-chain records, cross-hospital reads, erasure and statistics on a real 3-hospital network
// (three MedLedgerNodes over mTLS with Raft, each with its RecordService), users signing with
// their own keys.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { combine, exactAggregateOf, finalize, releasePartial } from '../analytics/aggregate.ts';
import { utf8 } from '../codec/index.ts';
import { verifyLedger } from '../ledger/verify.ts';
import { IntegrityError } from '../offchain/index.ts';
import { connectAs } from '../sdk/health.ts';
import { RecordError } from './service.ts';
import { classifyResource, splitBySensitivity } from './sensitivity.ts';
import { patientPseudonym, startRecordsNetwork, type RecordsNetwork } from '../testing/records-network.ts';

let net: RecordsNetwork;
const H1 = 'Hospital1';
const H2 = 'Hospital2';
const H3 = 'Hospital3';
/** The pseudonym Hospital1's CA issued patient1's certificate to (decision 0906). */
let PP: string;

const observation = {
  resourceType: 'Observation',
  id: 'bp1',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
  valueQuantity: { value: 128, unit: 'mmHg' },
};
const hiv = {
  resourceType: 'Condition',
  id: 'c1',
  code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'B20', display: 'HIV disease' }] },
  subject: { reference: 'Patient/p1' },
};
const bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: observation }, { resource: hiv }] };

function text(b: Uint8Array): string {
  return Buffer.from(b).toString('utf8');
}

before(async () => {
  net = await startRecordsNetwork({ orgs: 3, recordServedReads: true, api: true });
  const admin = net.caller(H1, 'admin1');
  await admin.submit('initialize', { camsOrg: H1 });
  PP = patientPseudonym(net.dir, H1, 'patient1');
  await admin.submit('enrolPatient', { pseudonym: PP });
  await admin.submit('startCare', { doctor: `${H1}/doctor1`, patient: PP });
});
after(async () => {
  await net?.stop();
});

describe('sensitivity rules', () => {
  it('classify HIV, mental health and genetics as restricted and split a Bundle per level', () => {
    assert.equal(classifyResource(hiv).sensitivity, 'restricted');
    assert.equal(
      classifyResource({ resourceType: 'Condition', code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'F32.1' }] } }).sensitivity,
      'restricted',
    );
    assert.equal(classifyResource({ resourceType: 'MolecularSequence' }).sensitivity, 'restricted');
    assert.equal(classifyResource(observation).sensitivity, 'normal');
    const parts = splitBySensitivity(bundle);
    assert.deepEqual(
      parts.map((p) => [p.sensitivity, p.resourceCount]),
      [
        ['normal', 1],
        ['restricted', 1],
      ],
    );
  });
});

describe('records across hospitals', () => {
  it('creates a record from FHIR, split into sealed parts; rejects invalid FHIR with the issues', async () => {
    const svc = net.services.get(H1)!;
    const created = await svc.create(net.caller(H1, 'doctor1'), { recordId: 'rec-1', patient: PP, content: { kind: 'fhir', resource: bundle } });
    assert.equal(created['allowed'], true);
    const record = created['record'] as { parts: Array<{ sensitivity: string; cid: string }> };
    assert.deepEqual(
      record.parts.map((p) => p.sensitivity),
      ['normal', 'restricted'],
    );
    for (const p of record.parts) {
      const stored = await svc.blobs.get(p.cid);
      assert.ok(stored, 'stored under its CID');
      assert.ok(!text(stored).includes('B20'), 'sealed, not plaintext');
    }
    await assert.rejects(
      svc.create(net.caller(H1, 'doctor1'), {
        recordId: 'rec-bad',
        patient: PP,
        content: { kind: 'fhir', resource: { resourceType: 'Observation', status: 'not-a-status' } },
      }),
      (e: Error) => e instanceof RecordError && e.code === 'INVALID_CONTENT' && e.issues.length > 0 && e.message.includes('rec-bad'),
    );
    assert.equal(svc.keys.cids('rec-bad').length, 0, 'nothing kept for a rejected record');
  });

  it('the custodian reads its own record; another hospital is refused without consent, served with it', async () => {
    const own = await net.services.get(H1)!.read(net.caller(H1, 'doctor1'), { recordId: 'rec-1', purpose: 'TREAT', sensitivity: 'sensitive' });
    assert.equal(own.allowed, true);
    assert.deepEqual(JSON.parse(text(own.parts[0]!.content)).entry[0].resource, observation);

    const svc2 = net.services.get(H2)!;
    const denied = await svc2.read(net.caller(H2, 'doctor1'), { recordId: 'rec-1', purpose: 'TREAT' });
    assert.equal(denied.allowed, false);
    assert.equal(denied.parts.length, 0);

    const now = Date.now();
    const granted = await net.caller(H1, 'patient1').submit('grantConsent', {
      patient: PP,
      grantee: { kind: 'user', user: `${H2}/doctor1` },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: now - 60_000, endMs: now + 3_600_000 },
      scope: { maxSensitivity: 'sensitive' },
    });
    const consentId = (granted.payload['consent'] as { consentId: string }).consentId;
    const read = await svc2.read(net.caller(H2, 'doctor1'), { recordId: 'rec-1', purpose: 'TREAT', sensitivity: 'sensitive' });
    assert.equal(read.allowed, true, JSON.stringify(read.decision));
    assert.equal(read.custodian, H1);
    assert.deepEqual(
      read.parts.map((p) => p.sensitivity),
      ['normal'],
      'the restricted part is never released under a sensitive-only consent',
    );
    assert.deepEqual(JSON.parse(text(read.parts[0]!.content)).entry[0].resource, observation);

    // The custodian checks the access transaction itself: a third hospital cannot reuse it.
    await assert.rejects(net.services.get(H3)!.fetchReleased(read.txId, `${H2}/doctor1`), /not by|made by/);

    // Revoke, then read: refused.
    await net.caller(H1, 'patient1').submit('revokeConsent', { consentId });
    const afterRevoke = await svc2.read(net.caller(H2, 'doctor1'), { recordId: 'rec-1', purpose: 'TREAT', sensitivity: 'normal' });
    assert.equal(afterRevoke.allowed, false);
  });

  it('an expired consent no longer opens the record', async () => {
    const now = Date.now();
    await net.caller(H1, 'patient1').submit('grantConsent', {
      patient: PP,
      grantee: { kind: 'user', user: `${H2}/nurse1` },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: now - 60_000, endMs: now + 1_500 },
      scope: { maxSensitivity: 'normal' },
    });
    await new Promise((r) => setTimeout(r, 2_000));
    const read = await net.services.get(H2)!.read(net.caller(H2, 'nurse1'), { recordId: 'rec-1', purpose: 'TREAT', sensitivity: 'normal' });
    assert.equal(read.allowed, false);
    assert.ok(JSON.stringify(read.decision).includes('consent'), JSON.stringify(read.decision));
  });

  it('break-the-glass: a doctor elsewhere reads with an emergency purpose; flagged and in the patient feed', async () => {
    const read = await net.services.get(H3)!.read(net.caller(H3, 'doctor1'), { recordId: 'rec-1', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    assert.equal(read.allowed, true, JSON.stringify(read.decision));
    assert.ok((read.decision['flags'] as string[]).includes('break-the-glass'));
    assert.ok(read.parts.length >= 1);
    const feed = (await net.caller(H1, 'patient1').evaluate('notifications', { patient: PP })) as {
      notifications?: Array<{ kind: string }>;
      entries?: Array<{ kind: string }>;
    };
    const items = feed.notifications ?? feed.entries ?? [];
    assert.ok(JSON.stringify(items).includes('break-the-glass'), JSON.stringify(feed).slice(0, 400));
  });

  it('a changed byte in a stored blob is an integrity error naming the record', async () => {
    const svc = net.services.get(H1)!;
    const created = await svc.create(net.caller(H1, 'doctor1'), {
      recordId: 'rec-tamper',
      patient: PP,
      content: { kind: 'file', bytes: utf8('a,b\n1,2\n'), mediaType: 'text/csv' },
    });
    const cid = (created['record'] as { parts: Array<{ cid: string }> }).parts[0]!.cid;
    const path = join(net.nodes.get(H1)!.nodeConfig.node.dataDir, 'records', 'blobs', cid.slice(-2), cid);
    const bytes = readFileSync(path);
    bytes[20] = (bytes[20] ?? 0) ^ 1;
    writeFileSync(path, bytes);
    await assert.rejects(
      svc.read(net.caller(H1, 'doctor1'), { recordId: 'rec-tamper', purpose: 'TREAT' }),
      (e: Error) => e instanceof IntegrityError && e.message.includes('rec-tamper'),
    );
  });

  it('erasure: no node returns the content afterwards, and every ledger still verifies', async () => {
    const svc = net.services.get(H1)!;
    const created = await svc.create(net.caller(H1, 'doctor1'), { recordId: 'rec-erase', patient: PP, content: { kind: 'fhir', resource: observation } });
    const cids = (created['record'] as { parts: Array<{ cid: string }> }).parts.map((p) => p.cid);
    // An access granted before the erasure ...
    const before = await net.caller(H3, 'doctor1').submit('access', { recordId: 'rec-erase', action: 'read', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    assert.equal(before.payload['allowed'], true);
    // ... erased by the patient, through the patient's hospital node.
    const erased = await svc.erase(net.caller(H1, 'patient1'), 'rec-erase');
    assert.ok(erased['erased']);
    for (const org of net.orgs) for (const cid of cids) assert.equal(await net.services.get(org)!.blobs.has(cid), false, `${org} holds no blob`);
    assert.equal(svc.keys.cids('rec-erase').length, 0, 'keys shredded');
    // ... no longer yields content: the custodian has no key.
    await assert.rejects(net.services.get(H3)!.fetchReleased(before.txId, `${H3}/doctor1`), /no key|erased/);
    const again = await net.services.get(H3)!.read(net.caller(H3, 'doctor1'), { recordId: 'rec-erase', purpose: 'BTG', reason: 'unconscious-no-proxy' });
    assert.equal(again.allowed, false);
    // verifyLedger replays the block store, then reads the world state: on a live node a block
    // committed in between (a custodian's recordReads flush) puts the state "ahead". Quiesce first.
    for (const org of net.orgs) await net.services.get(org)!.drain();
    let heights = net.orgs.map((o) => net.nodes.get(o)!.height());
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const now = net.orgs.map((o) => net.nodes.get(o)!.height());
      if (now.every((h, j) => h === now[0] && h === heights[j])) break;
      heights = now;
    }
    for (const org of net.orgs) {
      const report = await verifyLedger(join(net.nodes.get(org)!.nodeConfig.node.dataDir, 'ledger'));
      assert.equal(report.ok, true, JSON.stringify(report.problem));
    }
  });
});

describe('statistics across hospitals', () => {
  const values: Record<string, number[]> = {
    Hospital1: [120, 135, 150, 110, 142, 128, 131],
    Hospital2: [118, 160, 125, 139, 144, 127],
    Hospital3: [133, 121, 149, 152, 117, 138, 126, 140],
  };
  const histogram = { min: 100, max: 170, bins: 7 };

  before(async () => {
    for (const org of [H1, H2, H3]) {
      const csv = `age,sbp\n${values[org]!.map((v, i) => `${40 + i},${v}`).join('\n')}\n`;
      await net.services
        .get(org)!
        .registerDataset(net.caller(org, 'admin1'), { datasetId: `bp-${org}`, name: `Blood pressure ${org}`, bytes: utf8(csv), mediaType: 'text/csv' });
      const now = Date.now();
      const app = await net.caller(H2, 'researcher1').submit('apply', {
        target: { kind: 'dataset', datasetId: `bp-${org}` },
        purpose: 'HRESCH',
        actions: ['statistics'],
        period: { startMs: now - 60_000, endMs: now + 3_600_000 },
      });
      await net
        .caller(org, 'admin1')
        .submit('decideApplication', { applicationId: (app.payload['application'] as { applicationId: string }).applicationId, approve: true });
    }
  });

  it("combined statistics equal the custodians' released partials combined (count and mean exact, small cells withheld); the result is on chain", async () => {
    const out = await net.services
      .get(H2)!
      .statistics(net.caller(H2, 'researcher1'), { datasetIds: [`bp-${H1}`, `bp-${H2}`, `bp-${H3}`], variable: 'sbp', purpose: 'HRESCH', histogram });
    assert.equal(out.allowed, true, out.reasons.join('; '));
    // Each custodian releases its own partial under the rule (decision 1163); the node combines those.
    const expected = finalize(
      combine(
        [H1, H2, H3].map((org) => releasePartial(exactAggregateOf(values[org]!, histogram), 5)),
        histogram,
        5,
      ),
      histogram,
      5,
    );
    assert.deepEqual(out.result, expected);
    assert.equal(out.result!.count, 21);
    const pooled = Object.values(values).flat();
    assert.ok(Math.abs(out.result!.mean! - pooled.reduce((a, b) => a + b, 0) / pooled.length) < 1e-9);
    assert.ok(
      [out.result!.under, out.result!.over, ...out.result!.histogram.map((b) => b.count)].every((c) => c === null || c >= 5),
      'no cell under 5',
    );
    const st = (await net.caller(H2, 'researcher1').evaluate('getStatistics', { requestId: out.requestId })) as { status: string; result: { count: number } };
    assert.equal(st.status, 'completed');
    assert.equal(st.result.count, 21);
  });

  it('suppresses a cohort below the minimum', async () => {
    const out = await net.services
      .get(H2)!
      .statistics(net.caller(H2, 'researcher1'), { datasetIds: [`bp-${H1}`], variable: 'sbp', purpose: 'HRESCH', histogram, minCohort: 10 });
    assert.equal(out.allowed, true);
    assert.equal(out.result!.suppressed, true);
    assert.equal(out.result!.count, null);
  });

  it('a researcher without an approved application is refused with reasons', async () => {
    const out = await net.services
      .get(H3)!
      .statistics(net.caller(H3, 'researcher1'), { datasetIds: [`bp-${H1}`], variable: 'sbp', purpose: 'HRESCH', histogram });
    assert.equal(out.allowed, false);
    assert.match(out.reasons.join(' '), /application/);
    assert.equal(out.result, null);
  });
});

describe('REST API and SDK (signed by the user, content through the node)', () => {
  it('a doctor creates, a consented doctor elsewhere reads, the patient sees the access log', async () => {
    const doctor = connectAs(net.dir, H1, 'doctor1');
    const patient = connectAs(net.dir, H1, 'patient1');
    const other = connectAs(net.dir, H3, 'doctor2');
    try {
      const created = await doctor.createRecord({ recordId: 'rec-api', patient: PP, input: { kind: 'fhir', resource: observation } });
      assert.equal(created['allowed'], true);
      await assert.rejects(
        doctor.createRecord({ recordId: 'rec-api-bad', patient: PP, input: { kind: 'fhir', resource: { resourceType: 'Observation' } } }),
        /INVALID|invalid/,
      );
      const denied = await other.readRecord({ recordId: 'rec-api', purpose: 'TREAT', sensitivity: 'normal' });
      assert.equal(denied.allowed, false);
      const now = Date.now();
      await patient.grantConsent({
        patient: PP,
        grantee: { kind: 'user', user: `${H3}/doctor2` },
        actions: ['read'],
        purposes: ['TREAT'],
        period: { startMs: now - 60_000, endMs: now + 3_600_000 },
        scope: { recordIds: ['rec-api'], maxSensitivity: 'normal' },
      });
      // The denial above was an honest request outside consent: it left the session alive (decision 0901).
      const read = await other.readRecord({ recordId: 'rec-api', purpose: 'TREAT', sensitivity: 'normal' });
      assert.equal(read.allowed, true, JSON.stringify(read.decision));
      assert.deepEqual(JSON.parse(Buffer.from(read.parts[0]!.content).toString('utf8')), observation);
      const log = (await patient.auditTrail({ kind: 'patient', patient: PP })) as { entries: Array<{ actor: { org: string; id: string }; outcome: string }> };
      assert.ok(log.entries.some((e) => e.actor.org === H3 && e.actor.id === 'doctor2' && e.outcome === 'allow'));
      const stats = await connectAs(net.dir, H2, 'researcher1').statistics({
        datasetIds: [`bp-${H1}`, `bp-${H3}`],
        variable: 'sbp',
        purpose: 'HRESCH',
        histogram: { min: 100, max: 170, bins: 7 },
      });
      assert.equal(stats.allowed, true);
      assert.equal((stats.result as { count: number }).count, 15);
    } finally {
      doctor.close();
      patient.close();
      other.close();
    }
  });
});
