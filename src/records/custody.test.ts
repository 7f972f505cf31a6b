// Key transport and served-read audit durability on a real 3-hospital network (decisions 1150,
// 1152): data keys travel HPKE-wrapped to the requesting node's on-chain key; every served read
// is journaled before release and recorded on chain exactly once, across failures and restarts.
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decode, encode, utf8, type Bytes } from '../codec/index.ts';
import type { MedLedgerNode } from '../node/node.ts';
import { readPem } from '../node/config.ts';
import { IntegrityError, unwrapAsRecipient } from '../offchain/index.ts';
import { gatewayCaller, type HealthCaller, type SubmitOutcome } from './caller.ts';
import { loadOrCreateNodeKey } from './nodekey.ts';
import { checkPartAnswer, keyTransportAad, RecordError, type PartAnswer } from './service.ts';
import { patientPseudonym, startRecordsNetwork, type RecordsNetwork } from '../testing/records-network.ts';

const H1 = 'Hospital1';
const H2 = 'Hospital2';
const H3 = 'Hospital3';
/** The pseudonym Hospital1's CA issued patient1's certificate to (decision 0906). */
let PP: string;
const RECORD = 'cust-1';
const CONTENT = 'systolic,diastolic\n128,84\n';

type Mode = 'pass' | 'fail' | 'commit-then-throw';

/**
 * The custodian's audit caller with an injectable fault in front of the real one: 'fail' refuses
 * without submitting (network down), 'commit-then-throw' commits and then fails (a crash between
 * the commit and the journal deletion).
 */
class FaultyAuditCaller implements HealthCaller {
  mode: Mode = 'pass';
  attempts = 0;
  readonly payloads: unknown[] = [];
  constructor(private readonly inner: HealthCaller) {}
  get user(): string {
    return this.inner.user;
  }
  evaluate(fn: string, arg: unknown): Promise<unknown> {
    return this.inner.evaluate(fn, arg);
  }
  async submit(fn: string, arg: unknown): Promise<SubmitOutcome> {
    this.attempts += 1;
    if (this.mode === 'fail') throw new Error('injected: orderer unreachable');
    const r = await this.inner.submit(fn, arg);
    this.payloads.push(r.payload);
    if (this.mode === 'commit-then-throw') throw new Error('injected: crashed after the commit');
    return r;
  }
}

function nodeCallerOf(node: MedLedgerNode): HealthCaller {
  return gatewayCaller(node, readPem(node.nodeConfig.identity.cert, 'cert'), readPem(node.nodeConfig.identity.key, 'key'));
}

let net: RecordsNetwork;
let faulty: FaultyAuditCaller;
let cid: string;
const FAST_RETRY = { flushMs: 50, retryBaseMs: 50, retryMaxMs: 400 };

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Audit entries of the record that the custodian's node recorded (served reads). */
async function servedReadsOnChain(): Promise<number> {
  const trail = (await net.caller(H1, 'admin1').evaluate('auditTrail', { kind: 'record', recordId: RECORD, pageSize: 200 })) as {
    entries: Array<{ recordedBy: unknown }>;
  };
  return trail.entries.filter((e) => e.recordedBy !== null).length;
}

async function readByH2(): Promise<string> {
  const r = await net.services.get(H2)!.read(net.caller(H2, 'doctor1'), { recordId: RECORD, purpose: 'TREAT' });
  assert.equal(r.allowed, true, JSON.stringify(r.decision));
  // A one-level CSV is one part, stored unchanged; its re-join is itself.
  assert.equal(Buffer.from(r.csv ?? []).toString('utf8'), Buffer.from(r.parts[0]!.content).toString('utf8'));
  return Buffer.from(r.parts[0]!.content).toString('utf8');
}

before(async () => {
  net = await startRecordsNetwork({
    orgs: 3,
    recordServedReads: true,
    service: (org, node) => {
      if (org === H1) {
        faulty = new FaultyAuditCaller(nodeCallerOf(node));
        return { recordServedReads: { caller: faulty, ...FAST_RETRY } };
      }
      // Hospital3's node never publishes its key: the custodian must refuse it.
      return org === H3 ? { publishNodeKey: false } : {};
    },
  });
  const admin = net.caller(H1, 'admin1');
  await admin.submit('initialize', { camsOrg: H1 });
  PP = patientPseudonym(net.dir, H1, 'patient1');
  await admin.submit('enrolPatient', { pseudonym: PP });
  await admin.submit('startCare', { doctor: `${H1}/doctor1`, patient: PP });
  const created = await net.services
    .get(H1)!
    .create(net.caller(H1, 'doctor1'), { recordId: RECORD, patient: PP, content: { kind: 'file', bytes: utf8(CONTENT), mediaType: 'text/csv' } });
  cid = (created['record'] as { parts: Array<{ cid: string }> }).parts[0]!.cid;
  const now = Date.now();
  await net.caller(H1, 'patient1').submit('grantConsent', {
    patient: PP,
    grantee: { kind: 'user', user: `${H2}/doctor1` },
    actions: ['read'],
    purposes: ['TREAT'],
    period: { startMs: now - 60_000, endMs: now + 3_600_000 },
    scope: { maxSensitivity: 'normal' },
  });
});
after(async () => {
  await net?.stop();
});

describe('node HPKE keys on chain', () => {
  it('each node publishes its own key at start-up; the private key file is readable by the node only', async () => {
    for (const org of [H1, H2]) {
      const svc = net.services.get(org)!;
      assert.equal(await svc.nodeKeyPublished(), true, org);
      const entry = (await net.caller(H3, 'admin1').evaluate('nodeKey', { org, nodeId: `node.${org}` })) as { publicKey: string };
      assert.equal(entry.publicKey, Buffer.from(svc.publicKey).toString('hex'));
      const path = join(net.nodes.get(org)!.nodeConfig.node.dataDir, 'records', 'node-hpke.key');
      assert.equal(statSync(path).mode & 0o077, 0, `${path} is private`);
      assert.deepEqual(loadOrCreateNodeKey(path).publicKey, svc.publicKey, 'the same key after reloading');
    }
    assert.equal(await net.caller(H1, 'admin1').evaluate('nodeKey', { org: H3, nodeId: `node.${H3}` }), null);
  });

  it("another organisation's node identity cannot overwrite a node's key", async () => {
    const h2Node = nodeCallerOf(net.nodes.get(H2)!);
    await assert.rejects(
      h2Node.submit('publishNodeKey', { org: H1, nodeId: `node.${H1}`, publicKey: 'ab'.repeat(32) }),
      /may publish only its own node key, not the key of Hospital1\/node\.Hospital1/,
    );
    const entry = (await net.caller(H2, 'admin1').evaluate('nodeKey', { org: H1, nodeId: `node.${H1}` })) as { publicKey: string };
    assert.equal(entry.publicKey, Buffer.from(net.services.get(H1)!.publicKey).toString('hex'));
  });
});

describe('cross-hospital read with wrapped data keys', () => {
  let answer: Extract<PartAnswer, { ok: true }>;
  let raw: Bytes;
  let ctx: { txId: string; recordId: string; version: number; sensitivity: string; cid: string };

  it('works end to end, and the answer on the wire carries the key wrapped to the requester, never in the clear', async () => {
    assert.equal(await readByH2(), CONTENT);
    // Ask the custodian exactly as Hospital2's node does, and look at the bytes it answers.
    const access = await net.caller(H2, 'doctor1').submit('access', { recordId: RECORD, action: 'read', purpose: 'TREAT' });
    assert.equal(access.payload['allowed'], true);
    const custodian = net.services.get(H1)!;
    raw = await custodian.servePart(`node.${H2}`, encode({ txId: access.txId, recordId: RECORD, cid }));
    const decoded = decode<Record<string, unknown>>(raw);
    assert.equal(decoded['ok'], true, JSON.stringify(decoded['error']));
    assert.equal('dataKey' in decoded, false);
    const dataKey = custodian.keys.get(RECORD, cid)!.dataKey;
    assert.equal(Buffer.from(raw).indexOf(Buffer.from(dataKey)), -1, 'the raw data key does not occur in the answer bytes');
    const checked = checkPartAnswer(raw, H1);
    assert.ok(checked.ok);
    answer = checked;
    assert.deepEqual(answer.recipientKey, net.services.get(H2)!.publicKey, "wrapped to Hospital2's published key");
    ctx = { txId: access.txId, recordId: RECORD, version: 1, sensitivity: 'normal', cid };
    assert.deepEqual(await net.services.get(H2)!.unwrapReleasedKey(answer, ctx), dataKey);
  });

  it('a tampered, misdirected or replayed wrapped key fails with a clear error', async () => {
    const requester = net.services.get(H2)!;
    const flip = (b: Bytes, i: number): Bytes => {
      const c = new Uint8Array(b);
      c[i] = c[i]! ^ 0x01;
      return c;
    };
    const notOpen = (e: unknown): boolean =>
      e instanceof IntegrityError &&
      /record cust-1 v1 \((normal|restricted) part, .*\): the wrapped data key failed to open with this node's key/.test((e as Error).message);
    await assert.rejects(
      requester.unwrapReleasedKey({ ...answer, wrappedKey: { ...answer.wrappedKey, ciphertext: flip(answer.wrappedKey.ciphertext, 5) } }, ctx),
      notOpen,
    );
    await assert.rejects(requester.unwrapReleasedKey({ ...answer, wrappedKey: { ...answer.wrappedKey, enc: flip(answer.wrappedKey.enc, 0) } }, ctx), notOpen);
    // Replayed for another ticket or another part: the associated data differs.
    await assert.rejects(requester.unwrapReleasedKey(answer, { ...ctx, txId: 'f'.repeat(64) }), notOpen);
    await assert.rejects(requester.unwrapReleasedKey(answer, { ...ctx, sensitivity: 'restricted' }), notOpen);
    // Another node: told the key was not wrapped to it; and its private key cannot open it.
    await assert.rejects(net.services.get(H3)!.unwrapReleasedKey(answer, ctx), /wrapped the data key to key [0-9a-f]{16}, but this node's key is/);
    const h3Key = loadOrCreateNodeKey(join(net.nodes.get(H3)!.nodeConfig.node.dataDir, 'records', 'node-hpke.key'));
    const aadForH3 = keyTransportAad({ ...ctx, recipientOrg: H3, recipientNode: `node.${H3}` });
    await assert.rejects(unwrapAsRecipient(h3Key.privateKey, answer.wrappedKey, aadForH3), IntegrityError);
    // An answer in the old format (a bare data key) is refused outright.
    const legacy = checkPartAnswer(encode({ ok: true, sealed: answer.sealed, dataKey: new Uint8Array(32), version: 1, sensitivity: 'normal' }), H1);
    assert.equal(legacy.ok, false);
    assert.match(!legacy.ok ? legacy.error : '', /bare data key/);
  });

  it('a requesting node without a published key is refused, naming the missing key', async () => {
    await assert.rejects(
      net.services.get(H3)!.read(net.caller(H3, 'doctor1'), { recordId: RECORD, purpose: 'BTG', reason: 'unconscious-no-proxy' }),
      (e: Error) => e instanceof RecordError && /node node\.Hospital3 of Hospital3 has no HPKE key published on chain/.test(e.message),
    );
  });
});

describe('served-read audit: journaled, retried, exactly once', () => {
  it('a failing submit is retried with backoff; the read is recorded once it succeeds', async () => {
    const custodian = net.services.get(H1)!;
    await until('earlier served reads to be recorded', () => custodian.auditBacklog().pending === 0);
    const base = await servedReadsOnChain();
    faulty.mode = 'fail';
    const attemptsBefore = faulty.attempts;
    assert.equal(await readByH2(), CONTENT, 'served: the event is in the journal');
    await until('two failed flushes', () => custodian.auditBacklog().failures >= 2);
    assert.equal(custodian.auditBacklog().pending, 1);
    assert.equal(await servedReadsOnChain(), base, 'not on chain while the submit fails');
    faulty.mode = 'pass';
    await until('the journal to drain', () => custodian.auditBacklog().pending === 0);
    assert.ok(faulty.attempts - attemptsBefore >= 3, `retried (${faulty.attempts - attemptsBefore} attempts)`);
    assert.equal(custodian.auditBacklog().failures, 0);
    assert.equal(await servedReadsOnChain(), base + 1);
  });

  it('survives restarts: pending events are recorded after a restart exactly once; a full journal refuses to serve', async () => {
    await until('a drained journal', () => net.services.get(H1)!.auditBacklog().pending === 0);
    const base = await servedReadsOnChain();
    // A served read whose audit never reached the chain, then the custodian crashes.
    faulty.mode = 'fail';
    assert.equal(await readByH2(), CONTENT);
    assert.equal(net.services.get(H1)!.auditBacklog().pending, 1);
    // Restart with a journal of capacity 1 whose flushes first fail, then commit but "crash"
    // before deleting the event (so the event stays journaled although it is on chain).
    let restarted = await net.restart(H1, {
      crash: true,
      service: (node) => {
        faulty = new FaultyAuditCaller(nodeCallerOf(node));
        faulty.mode = 'fail';
        return { recordServedReads: { caller: faulty, journalCapacity: 1, ...FAST_RETRY } };
      },
    });
    assert.equal(restarted.auditBacklog().pending, 1, 'the journal survived the crash');
    // Fail closed: no room to journal another read, so it is not served.
    await assert.rejects(
      readByH2(),
      (e: Error) => e instanceof RecordError && /audit backlog is full \(1 served reads not yet recorded on chain, capacity 1\)/.test(e.message),
    );
    faulty.mode = 'commit-then-throw';
    await until('the replayed event to be on chain', async () => (await servedReadsOnChain()) === base + 1);
    assert.equal(restarted.auditBacklog().pending, 1, 'committed, but not deleted from the journal');
    // Crash again and restart normally: the replay is de-duplicated by its event id.
    restarted = await net.restart(H1, {
      crash: true,
      service: (node) => {
        faulty = new FaultyAuditCaller(nodeCallerOf(node));
        return { recordServedReads: { caller: faulty, ...FAST_RETRY } };
      },
    });
    await until('the journal to drain after the restart', () => restarted.auditBacklog().pending === 0);
    assert.deepEqual(
      (faulty.payloads.at(-1) as Array<{ duplicate?: boolean }>).map((r) => r.duplicate),
      [true],
      'the replay was answered as a duplicate',
    );
    assert.equal(await servedReadsOnChain(), base + 1, 'recorded exactly once');
    // And the custodian serves again, each read recorded.
    assert.equal(await readByH2(), CONTENT);
    await until('the new read to be recorded', () => restarted.auditBacklog().pending === 0);
    assert.equal(await servedReadsOnChain(), base + 2);
    // The journal file is private to the node.
    const journal = join(net.nodes.get(H1)!.nodeConfig.node.dataDir, 'records', 'served-reads.sqlite');
    assert.equal(statSync(journal).mode & 0o077, 0);
    assert.ok(readFileSync(journal).byteLength > 0);
  });

  it('prepared versions and datasets keep their preparer, age and size across a restart (and still count against the limits)', async () => {
    const svc = net.services.get(H1)!;
    const prepared = await svc.prepareParts(
      'cust-pending',
      1,
      { kind: 'file', bytes: utf8('id,hiv_status\n1,neg\n'), mediaType: 'text/csv' },
      { preparedBy: `${H1}/doctor2` },
    );
    assert.deepEqual(
      prepared.parts.map((p) => p.sensitivity),
      ['normal', 'restricted'],
    );
    const before = svc.prepared.get('cust-pending', 1)!;
    // A prepared (unregistered) dataset too (issue 16 item 7).
    const dataset = await svc.prepareDataset({ datasetId: 'cust-ds', bytes: utf8('age,sbp\n30,120\n'), mediaType: 'text/csv', preparedBy: `${H1}/admin1` });
    const datasetBefore = svc.preparedDatasets.get('cust-ds', 1)!;
    const restarted = await net.restart(H1, {
      service: (node) => ({ recordServedReads: { caller: new FaultyAuditCaller(nodeCallerOf(node)), ...FAST_RETRY } }),
    });
    const after = restarted.prepared.get('cust-pending', 1);
    assert.deepEqual(
      { user: after?.user, atMs: after?.atMs, sizeBytes: after?.sizeBytes },
      { user: `${H1}/doctor2`, atMs: before.atMs, sizeBytes: prepared.parts.reduce((n, p) => n + p.sizeBytes, 0) },
    );
    assert.equal(restarted.preparedHolder('cust-pending', 1)?.user, `${H1}/doctor2`, 'the claim survives');
    const datasetAfter = restarted.preparedDatasets.get('cust-ds', 1);
    assert.deepEqual(
      { user: datasetAfter?.user, atMs: datasetAfter?.atMs, sizeBytes: datasetAfter?.sizeBytes },
      { user: `${H1}/admin1`, atMs: datasetBefore.atMs, sizeBytes: dataset.sizeBytes },
    );
    assert.equal(restarted.preparedDatasetHolder('cust-ds')?.user, `${H1}/admin1`);
    // The committed record is not a prepared version.
    assert.equal(restarted.prepared.get(RECORD, 1), undefined);
    assert.equal(await readByH2(), CONTENT);
  });
});
