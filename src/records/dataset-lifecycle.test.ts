// The dataset lifecycle at the custodians of a real 3-hospital network (decision 1260): versions
// sealed under fresh keys with keyed commitments, downloads served only against the downloader's
// committed transaction (HPKE-wrapped key, checked against CID and commitment, the part cut out
// after the check) and confirmed on chain by the custodian's served-read audit, and deletion that
// crypto-shreds every version on commit so that later downloads are refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decode, encode, utf8 } from '../codec/index.ts';
import { startRecordsNetwork, type RecordsNetwork } from '../testing/records-network.ts';
import { RecordError } from './service.ts';
import { selectDataset } from './dataset-content.ts';

const H1 = 'Hospital1';
const H2 = 'Hospital2';
const ID = 'life-ds';
const V1 = 'id,age,sbp\n1,40,120\n2,41,125\n3,42,130\n4,43,135\n';
const V2 = 'id,age,sbp,dbp\n1,40,121,80\n2,41,126,81\n3,42,131,82\n4,43,136,83\n5,44,141,84\n';
const period = { startMs: Date.now() - 60_000, endMs: Date.now() + 86_400_000 };
const text = (b: Uint8Array | null): string => Buffer.from(b ?? new Uint8Array()).toString('utf8');

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

let net: RecordsNetwork;

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

type Entry = {
  op: string;
  outcome: string;
  actor: { org: string; id: string };
  recordedBy: { org: string } | null;
  version: number | null;
  selection?: unknown;
};
async function trail(): Promise<Entry[]> {
  return ((await net.caller(H1, 'admin1').evaluate('auditTrail', { kind: 'dataset', datasetId: ID, pageSize: 200 })) as { entries: Entry[] }).entries;
}

before(async () => {
  net = await startRecordsNetwork({
    orgs: 3,
    recordServedReads: true,
    service: () => ({ recordServedReads: { flushMs: 50, retryBaseMs: 50, retryMaxMs: 400 } }),
  });
  await net.caller(H1, 'admin1').submit('initialize', { camsOrg: H1 });
});
after(async () => {
  await net?.stop();
});

describe('dataset lifecycle at the custodian (3-hospital network)', () => {
  it('register and update: every version sealed here with its own key; the chain lists each CID and keyed commitment', async () => {
    const h1 = net.services.get(H1)!;
    const reg = (await h1.registerDataset(net.caller(H1, 'admin1'), { datasetId: ID, name: 'Life', bytes: utf8(V1), mediaType: 'text/csv', tags: ['bp'] })) as {
      dataset: { commitment: string; version: number };
    };
    assert.equal(reg.dataset.version, 1);
    assert.match(reg.dataset.commitment, /^[0-9a-f]{64}$/);
    const up = (await h1.updateDataset(net.caller(H1, 'supervisor1'), { datasetId: ID, bytes: utf8(V2), mediaType: 'text/csv' })) as {
      dataset: { version: number; columns: string[] };
    };
    assert.deepEqual({ v: up.dataset.version, c: up.dataset.columns }, { v: 2, c: ['id', 'age', 'sbp', 'dbp'] });
    // Asked at Hospital2's node, which may be a block behind.
    let h = { versions: [] as Array<{ version: number; cid: string }> };
    await until('Hospital2 sees version 2', async () => {
      h = (await net.caller(H2, 'researcher1').evaluate('datasetVersions', { datasetId: ID })) as typeof h;
      return h.versions.length === 2;
    });
    assert.deepEqual(
      h.versions.map((v) => v.version),
      [1, 2],
    );
    assert.deepEqual(h1.datasetKeys.cids(ID).sort(), h.versions.map((v) => v.cid).sort(), 'both versions keyed at the custodian');
    // Another hospital's node holds no content of it: an update there is refused before anything is stored.
    await assert.rejects(
      net.services.get(H2)!.updateDataset(net.caller(H2, 'admin1'), { datasetId: ID, bytes: utf8(V2), mediaType: 'text/csv' }),
      (e: unknown) => e instanceof RecordError && e.code === 'REFUSED' && /held by Hospital1/.test(e.message),
    );
    // A non-owner's update through the custodian is refused by the contract; the prepared version is dropped.
    await assert.rejects(h1.updateDataset(net.caller(H1, 'doctor1'), { datasetId: ID, bytes: utf8(V2), mediaType: 'text/csv' }), /updateDataset|ACL|may not/);
    assert.equal(h1.datasetKeys.cids(ID).length, 2, 'nothing left of the refused version');
  });

  it('download: refused without approval; an approved researcher of another hospital gets the part asked for, verified; the custodian records the served read', async () => {
    const h2 = net.services.get(H2)!;
    const researcher = net.caller(H2, 'researcher1');
    const refused = await h2.downloadDataset(researcher, { datasetId: ID, purpose: 'HRESCH' });
    assert.deepEqual({ allowed: refused.allowed, code: refused.code, content: refused.content }, { allowed: false, code: 'NOT_AUTHORISED', content: null });
    const app = await researcher.submit('apply', { target: { kind: 'dataset', datasetId: ID }, purpose: 'HRESCH', actions: ['read'], period });
    await net
      .caller(H1, 'admin1')
      .submit('decideApplication', { applicationId: (app.payload['application'] as { applicationId: string }).applicationId, approve: true });

    const part = await h2.downloadDataset(researcher, { datasetId: ID, purpose: 'HRESCH', selection: { columns: ['id', 'sbp'], rows: { from: 2, to: 3 } } });
    assert.equal(part.allowed, true);
    assert.deepEqual({ v: part.version, c: part.custodian, verified: part.verified }, { v: 2, c: H1, verified: { cid: true, commitment: true } });
    assert.equal(text(part.content), 'id,sbp\n2,126\n3,131\n');
    // An old version, whole: provable against its own on-chain commitment.
    const old = await h2.downloadDataset(researcher, { datasetId: ID, purpose: 'HRESCH', version: 1 });
    assert.deepEqual({ v: old.version, verified: old.verified, content: text(old.content) }, { v: 1, verified: { cid: true, commitment: true }, content: V1 });
    // The custodian's node confirms each served download on chain, attributed to the downloader.
    await until(
      'the served downloads recorded',
      async () => (await trail()).filter((e) => e.op === 'dataset.download' && e.recordedBy?.org === H1).length >= 2,
    );
    const served = (await trail()).filter((e) => e.op === 'dataset.download' && e.recordedBy !== null);
    assert.deepEqual(served.map((e) => [`${e.actor.org}/${e.actor.id}`, e.version]).sort(), [
      [`${H2}/researcher1`, 1],
      [`${H2}/researcher1`, 2],
    ]);
    assert.deepEqual(served.find((e) => e.version === 2)?.selection, { columns: ['id', 'sbp'], rows: { from: 2, to: 3 } });
    // The download's transaction is no ticket for a record route, nor for another organisation's node.
    await assert.rejects(h2.fetchReleased(part.txId, `${H2}/researcher1`), /released a dataset, not a record/);
    const answer = decode(await net.services.get(H1)!.servePart('node.Hospital3', encode({ txId: part.txId, recordId: ID, cid: part.cid! }))) as {
      ok: boolean;
      error: string;
    };
    assert.equal(answer.ok, false);
  });

  it('the owner downloads at its own node without a ticket; delete crypto-shreds every version on commit and later downloads are refused (DATASET_DELETED)', async () => {
    const h1 = net.services.get(H1)!;
    const own = await h1.downloadDataset(net.caller(H1, 'supervisor1'), { datasetId: ID, purpose: 'HOPERAT' });
    assert.equal(text(own.content), V2);
    const blobs = h1.datasetKeys.cids(ID);
    assert.equal(blobs.length, 2);
    // Deleted by the owner's admin through another hospital's node: the contract decides, the custodian shreds when it commits.
    await net.caller(H1, 'admin1', H2).submit('deleteDataset', { datasetId: ID });
    await until('the custodian shredded the dataset', () => h1.datasetKeys.cids(ID).length === 0);
    for (const cid of blobs) assert.equal(await h1.blobs.get(cid), null, 'blob deleted');
    const after = await net.services.get(H2)!.downloadDataset(net.caller(H2, 'researcher1'), { datasetId: ID, purpose: 'HRESCH' });
    assert.deepEqual({ allowed: after.allowed, code: after.code }, { allowed: false, code: 'DATASET_DELETED' });
    const ops = (await trail()).map((e) => `${e.op}:${e.outcome}`);
    for (const op of ['dataset.register:allow', 'dataset.update:allow', 'dataset.download:deny', 'dataset.download:allow', 'dataset.delete:allow'])
      assert.ok(ops.includes(op), op);
    await assert.rejects(
      h1.updateDataset(net.caller(H1, 'admin1'), { datasetId: ID, bytes: utf8(V2), mediaType: 'text/csv' }),
      (e: unknown) => e instanceof RecordError && /DATASET_DELETED/.test(e.message),
    );
  });
});

describe('selectDataset', () => {
  it('cuts columns (in header order) and a row range from a CSV, and Observations from a Bundle', () => {
    assert.equal(text(selectDataset(utf8(V1), 'text/csv', { columns: ['sbp', 'id'] })), 'id,sbp\n1,120\n2,125\n3,130\n4,135\n');
    assert.equal(text(selectDataset(utf8(V1), 'text/csv', { rows: { from: 4, to: 9 } })), 'id,age,sbp\n4,43,135\n');
    assert.equal(text(selectDataset(utf8(V1), 'text/csv', null)), V1);
    assert.throws(
      () => selectDataset(utf8(V1), 'text/csv', { columns: ['dbp'] }),
      (e: unknown) => e instanceof RecordError && e.code === 'NOT_FOUND',
    );
    const obs = (code: string, value: number) => ({
      resource: { resourceType: 'Observation', status: 'final', code: { coding: [{ code }] }, valueQuantity: { value } },
    });
    const bundle = { resourceType: 'Bundle', type: 'collection', entry: [obs('a', 1), obs('b', 2), obs('a', 3)] };
    const cut = JSON.parse(
      text(selectDataset(utf8(JSON.stringify(bundle)), 'application/fhir+json', { columns: ['a'], rows: { from: 2, to: 3 } })),
    ) as typeof bundle;
    assert.deepEqual(cut, { ...bundle, entry: [obs('a', 3)] });
  });
});
