// The dataset lifecycle in the health contract (issue 12 item 2, decision 1260): versions and their
// provable history, withdraw / reopen, deletion, the audited download decision with its ticket,
// and the catalogue's search, filters and per-caller standing — refusals included.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sha256, toHex } from '../../codec/index.ts';
import type { AuditEntry } from './state.ts';
import { DAY_MS, partFor, TestChain } from './testkit.ts';

const T0 = Date.UTC(2026, 0, 1);
const H1_ADMIN = 'H1/admin1:admin';
const SUP1 = 'H1/sup1:supervisor';
const H2_ADMIN = 'H2/admin2:admin';
const RES = 'H2/res1:researcher';
const RES_B = 'H3/res2:researcher';
const DOC1 = 'H1/doc1:doctor';
const period = { startMs: T0, endMs: T0 + 30 * DAY_MS };

type Download = {
  allowed: boolean;
  code?: string;
  reasons?: string[];
  basis?: string;
  auditId: string;
  dataset?: { version: number; cid: string; commitment: string | null; custodian: string; columns: string[] };
  selection?: unknown;
};
type Listed = { datasetId: string; status: string; access: string; authorised: boolean; grantedActions: string[]; version: number; type: string | null };

const commitment = (label: string): string => toHex(sha256(`commitment:${label}`));
const ds = (id: string, extra: Record<string, unknown> = {}) => ({
  datasetId: id,
  name: `Blood pressure ${id}`,
  description: 'Systolic readings of adults',
  columns: ['age', 'sbp'],
  cid: partFor(`${id}-v1`, 'normal').cid,
  commitment: commitment(`${id}-v1`),
  mediaType: 'text/csv',
  sizeBytes: 1000,
  recordCount: 40,
  ...extra,
});
const update = (id: string, v: number, extra: Record<string, unknown> = {}) => ({
  datasetId: id,
  columns: ['age', 'sbp', 'dbp'],
  cid: partFor(`${id}-v${v}`, 'normal').cid,
  commitment: commitment(`${id}-v${v}`),
  mediaType: 'text/csv',
  sizeBytes: 1200 + v,
  recordCount: 40 + v,
  ...extra,
});

function applyAndApprove(c: TestChain, who: string, datasetId: string, actions = ['read']): string {
  const app = c.submit<{ application: { applicationId: string } }>(who, 'apply', {
    target: { kind: 'dataset', datasetId },
    purpose: 'HRESCH',
    actions,
    period,
  });
  c.submit(SUP1, 'decideApplication', { applicationId: app.application.applicationId, approve: true });
  return app.application.applicationId;
}

describe('health contract: dataset lifecycle', () => {
  let c: TestChain;
  before(() => {
    c = new TestChain(T0);
    c.submit(H1_ADMIN, 'initialize', { camsOrg: 'H1' });
    c.submit(SUP1, 'registerDataset', ds('bp', { tags: ['cardio', 'adults'] }));
  });
  after(() => c.close());

  it('update: a new version; the old one stays in the history with its CID and commitment, and can be downloaded and checked', () => {
    const r = c.submit<{ dataset: { version: number; cid: string; columns: string[] } }>(SUP1, 'updateDataset', update('bp', 2));
    assert.equal(r.dataset.version, 2);
    assert.deepEqual(r.dataset.columns, ['age', 'sbp', 'dbp']);
    const h = c.evaluate<{ currentVersion: number; versions: Array<{ version: number; cid: string; commitment: string; txId: string; by: string }> }>(
      RES,
      'datasetVersions',
      { datasetId: 'bp' },
    );
    assert.equal(h.currentVersion, 2);
    assert.deepEqual(
      h.versions.map((v) => [v.version, v.cid, v.commitment, v.by]),
      [
        [1, ds('bp').cid, commitment('bp-v1'), 'H1/sup1'],
        [2, update('bp', 2).cid, commitment('bp-v2'), 'H1/sup1'],
      ],
    );
    for (const v of h.versions) assert.match(v.txId, /^[0-9a-f]{64}$/);
    // The owner downloads version 1: released with the proof its custodian and the reader check against.
    const old = c.submit<Download>(SUP1, 'downloadDataset', { datasetId: 'bp', purpose: 'HOPERAT', version: 1 });
    assert.equal(old.allowed, true);
    assert.equal(old.basis, 'dataset-owner');
    assert.deepEqual({ v: old.dataset?.version, cid: old.dataset?.cid, com: old.dataset?.commitment }, { v: 1, cid: ds('bp').cid, com: commitment('bp-v1') });
    assert.match(c.try('submit', SUP1, 'downloadDataset', { datasetId: 'bp', purpose: 'HOPERAT', version: 7 }).message, /^DATASET_VERSION_NOT_FOUND: /);
    assert.match(
      c.try('submit', SUP1, 'downloadDataset', { datasetId: 'bp', purpose: 'HOPERAT', version: 1, selection: { columns: ['dbp'] } }).message,
      /^DATASET_UNKNOWN_COLUMN: version 1 of dataset bp has no column dbp/,
    );
  });

  it('only the owner updates, withdraws, reopens or deletes (NOT_DATASET_OWNER); a prepared version that expired is refused', () => {
    assert.match(c.try('submit', H2_ADMIN, 'updateDataset', update('bp', 3)).message, /^NOT_DATASET_OWNER: updateDataset: only an admin or supervisor of H1/);
    assert.equal(c.try('submit', DOC1, 'updateDataset', update('bp', 3)).status, 403, 'ACL: a doctor may not');
    for (const f of ['withdrawDataset', 'reopenDataset', 'deleteDataset'])
      assert.match(c.try('submit', H2_ADMIN, f, { datasetId: 'bp' }).message, /^NOT_DATASET_OWNER: /, f);
    assert.match(c.try('submit', DOC1, 'withdrawDataset', { datasetId: 'bp' }).message, /^NOT_DATASET_OWNER: /, 'a user of the owner who is not staff');
    assert.match(c.try('submit', SUP1, 'updateDataset', { ...update('bp', 3), notAfterMs: T0 }).message, /^DATASET_PREPARATION_EXPIRED: /);
    assert.match(c.try('submit', SUP1, 'withdrawDataset', { datasetId: 'nope' }).message, /^DATASET_NOT_FOUND: /);
  });

  it('download: refused without approval (audited, NOT_AUTHORISED); allowed with an approved read application for its purpose, with a ticket for the custodian', () => {
    const refused = c.submit<Download>(RES, 'downloadDataset', { datasetId: 'bp', purpose: 'HRESCH' });
    assert.equal(refused.allowed, false);
    assert.equal(refused.code, 'NOT_AUTHORISED');
    assert.match(refused.reasons!.join(' '), /no approved access application/);
    // A statistics-only approval is not a licence to download.
    applyAndApprove(c, RES, 'bp', ['statistics']);
    assert.equal(c.submit<Download>(RES, 'downloadDataset', { datasetId: 'bp', purpose: 'HRESCH' }).code, 'NOT_AUTHORISED');
    // The catalogue says what the approval grants, so a client need not offer a download it would be refused.
    const listed = (): Listed => c.evaluate<{ datasets: Listed[] }>(RES, 'listDatasets', {}).datasets.find((d) => d.datasetId === 'bp')!;
    assert.deepEqual([listed().access, listed().grantedActions], ['approved', ['statistics']]);
    const appId = applyAndApprove(c, RES, 'bp', ['read']);
    assert.deepEqual(listed().grantedActions, ['read', 'statistics']);
    assert.deepEqual(
      c.evaluate<{ datasets: Listed[] }>(H1_ADMIN, 'listDatasets', {}).datasets.find((d) => d.datasetId === 'bp')?.grantedActions,
      [],
      "the owner's own: none listed",
    );
    assert.equal(c.submit<Download>(RES, 'downloadDataset', { datasetId: 'bp', purpose: 'TREAT' }).code, 'NOT_AUTHORISED', 'another purpose');
    const selection = { columns: ['sbp'], rows: { from: 1, to: 10 } };
    const ok = c.submit<Download>(RES, 'downloadDataset', { datasetId: 'bp', purpose: 'HRESCH', selection });
    const txId = c.lastTxId;
    assert.equal(ok.allowed, true);
    assert.equal(ok.basis, `application:${appId}`);
    assert.deepEqual({ v: ok.dataset?.version, custodian: ok.dataset?.custodian }, { v: 2, custodian: 'H1' });
    assert.deepEqual(ok.selection, selection);
    // The ticket a cross-organisation download leaves (decision 1153): the custodian's only basis to serve and record.
    const ticket = c.dump().find((kv) => kv.key === `tk|${txId}`);
    assert.deepEqual(JSON.parse(ticket!.value), { auditId: ok.auditId, custodian: 'H1', released: ['normal'], recorded: {} });
    // The custodian's node confirms what it served: attributed to the downloader, dataset, version and part.
    const served = c.submit<Array<{ datasetId: string; requester: string; auditId: string }>>('H1/peer0:peer', 'recordReads', [
      { ticket: txId, sensitivity: 'normal', servedDecision: 'allow', eventId: '0'.repeat(32) },
    ]);
    assert.deepEqual({ d: served[0]!.datasetId, r: served[0]!.requester }, { d: 'bp', r: 'H2/res1' });
    const trail = c.evaluate<{ entries: AuditEntry[] }>(SUP1, 'auditTrail', { kind: 'dataset', datasetId: 'bp', pageSize: 200 }).entries;
    const entry = trail.find((e) => e.auditId === served[0]!.auditId)!;
    assert.deepEqual(
      {
        op: entry.op,
        actor: `${entry.actor.org}/${entry.actor.id}`,
        by: entry.recordedBy?.role,
        version: entry.version,
        selection: entry.selection,
        ticket: entry.ticket,
      },
      { op: 'dataset.download', actor: 'H2/res1', by: 'peer', version: 2, selection, ticket: txId },
    );
    const denied = trail.filter((e) => e.op === 'dataset.download' && e.outcome === 'deny');
    assert.equal(denied.length, 3, 'every refused download is audited');
    assert.match(denied[0]!.reasons[0]!, /^NOT_AUTHORISED: /);
  });

  it('withdraw: no new application (DATASET_WITHDRAWN), hidden from the default catalogue, pending ones cannot be approved; reopen restores it', () => {
    c.submit(H2_ADMIN, 'registerDataset', ds('lab', { mediaType: 'application/fhir+json', tags: ['lab'], description: 'HbA1c values' }));
    const pending = c.submit<{ application: { applicationId: string } }>(RES_B, 'apply', {
      target: { kind: 'dataset', datasetId: 'bp' },
      purpose: 'HRESCH',
      actions: ['read'],
      period,
    });
    const w = c.submit<{ status: string; auditId: string }>(H1_ADMIN, 'withdrawDataset', { datasetId: 'bp' });
    assert.equal(w.status, 'withdrawn');
    assert.match(c.try('submit', H1_ADMIN, 'withdrawDataset', { datasetId: 'bp' }).message, /^DATASET_WITHDRAWN: dataset bp is already withdrawn/);
    const applied = c.try('submit', 'H3/res3:researcher', 'apply', {
      target: { kind: 'dataset', datasetId: 'bp' },
      purpose: 'HRESCH',
      actions: ['read'],
      period,
    });
    assert.equal(applied.status, 400);
    assert.match(applied.message, /^DATASET_WITHDRAWN: dataset bp is withdrawn from the market by its owner: it cannot be applied for/);
    assert.match(
      c.try('submit', SUP1, 'decideApplication', { applicationId: pending.application.applicationId, approve: true }).message,
      /^DATASET_WITHDRAWN: /,
    );
    const ids = (who: string, q: Record<string, unknown> = {}) => c.evaluate<{ datasets: Listed[] }>(who, 'listDatasets', q).datasets.map((d) => d.datasetId);
    assert.deepEqual(ids(RES_B), ['lab'], 'hidden from the default catalogue');
    const all = c.evaluate<{ datasets: Listed[] }>(RES_B, 'listDatasets', { status: 'all' }).datasets;
    assert.deepEqual(
      all.map((d) => [d.datasetId, d.status, d.access]),
      [
        ['bp', 'withdrawn', 'withdrawn'],
        ['lab', 'listed', 'not-authorised'],
      ],
    );
    // An approved downloader keeps the permission the owner granted (until its period ends).
    assert.equal(c.submit<Download>(RES, 'downloadDataset', { datasetId: 'bp', purpose: 'HRESCH' }).allowed, true);
    assert.deepEqual(
      c.evaluate<{ datasets: Listed[] }>(RES, 'listDatasets', { status: 'withdrawn' }).datasets.map((d) => [d.datasetId, d.access, d.authorised]),
      [['bp', 'approved', true]],
    );
    assert.match(c.try('submit', H2_ADMIN, 'reopenDataset', { datasetId: 'lab' }).message, /^DATASET_NOT_WITHDRAWN: /);
    assert.equal(c.submit<{ status: string }>(SUP1, 'reopenDataset', { datasetId: 'bp' }).status, 'listed');
    assert.deepEqual(ids(RES_B), ['bp', 'lab']);
    const ops = c.evaluate<{ entries: AuditEntry[] }>(SUP1, 'auditTrail', { kind: 'dataset', datasetId: 'bp', pageSize: 200 }).entries.map((e) => e.op);
    assert.ok(ops.includes('dataset.withdraw') && ops.includes('dataset.reopen') && ops.includes('dataset.update'));
  });

  it("list: each caller's standing, text search over name/description/tags, filters by owner, status, type and tag, paging", () => {
    const standing = (who: string) =>
      Object.fromEntries(c.evaluate<{ datasets: Listed[] }>(who, 'listDatasets', {}).datasets.map((d) => [d.datasetId, d.access]));
    assert.deepEqual(standing(SUP1), { bp: 'owner', lab: 'not-authorised' });
    assert.deepEqual(standing(H2_ADMIN), { bp: 'not-authorised', lab: 'owner' });
    assert.deepEqual(standing(RES), { bp: 'approved', lab: 'not-authorised' });
    assert.deepEqual(standing(RES_B), { bp: 'pending', lab: 'not-authorised' });
    const ids = (q: Record<string, unknown>) => c.evaluate<{ datasets: Listed[] }>(RES_B, 'listDatasets', q).datasets.map((d) => d.datasetId);
    assert.deepEqual(ids({ q: 'HBA1C' }), ['lab'], 'description, case-insensitive');
    assert.deepEqual(ids({ q: 'cardio' }), ['bp'], 'tags');
    assert.deepEqual(ids({ q: 'pressure' }), ['bp', 'lab'], 'names');
    assert.deepEqual(ids({ ownerOrg: 'H2' }), ['lab']);
    assert.deepEqual(ids({ type: 'fhir' }), ['lab']);
    assert.deepEqual(ids({ type: 'csv' }), ['bp']);
    assert.deepEqual(ids({ tag: 'lab' }), ['lab']);
    assert.deepEqual(ids({ q: 'nothing-like-this' }), []);
    const first = c.evaluate<{ datasets: Listed[]; bookmark: string }>(RES_B, 'listDatasets', { pageSize: 1 });
    assert.deepEqual(
      first.datasets.map((d) => d.datasetId),
      ['bp'],
    );
    const second = c.evaluate<{ datasets: Listed[]; bookmark: string }>(RES_B, 'listDatasets', { pageSize: 1, bookmark: first.bookmark });
    assert.deepEqual(
      second.datasets.map((d) => d.datasetId),
      ['lab'],
    );
    assert.equal(second.bookmark, '');
    assert.equal(c.try('evaluate', RES_B, 'listDatasets', { pageSize: 201 }).status, 400);
    assert.equal(c.try('evaluate', RES_B, 'listDatasets', { q: 'x'.repeat(101) }).status, 400);
    assert.equal(c.try('evaluate', RES_B, 'listDatasets', { status: 'gone' }).status, 400);
    assert.equal(c.try('evaluate', RES_B, 'listDatasets', { bookmark: 'au|x' }).status, 400);
  });

  it('delete: the listing says deleted, downloads are refused (DATASET_DELETED, audited), nothing more can change, the history stays', () => {
    const d = c.submit<{ dataset: { status: string; deletedBy: string } }>(SUP1, 'deleteDataset', { datasetId: 'bp' });
    assert.deepEqual({ s: d.dataset.status, by: d.dataset.deletedBy }, { s: 'deleted', by: 'H1/sup1' });
    const refused = c.submit<Download>(RES, 'downloadDataset', { datasetId: 'bp', purpose: 'HRESCH' });
    assert.deepEqual({ allowed: refused.allowed, code: refused.code }, { allowed: false, code: 'DATASET_DELETED' });
    assert.equal(c.submit<Download>(SUP1, 'downloadDataset', { datasetId: 'bp', purpose: 'HOPERAT' }).code, 'DATASET_DELETED', 'the owner too');
    assert.match(c.try('submit', SUP1, 'deleteDataset', { datasetId: 'bp' }).message, /^DATASET_DELETED: /);
    assert.match(c.try('submit', SUP1, 'updateDataset', update('bp', 3)).message, /^DATASET_DELETED: /);
    assert.match(c.try('submit', SUP1, 'reopenDataset', { datasetId: 'bp' }).message, /^DATASET_DELETED: /);
    assert.match(c.try('submit', SUP1, 'setDatasetAccess', { datasetId: 'bp', open: true }).message, /^DATASET_DELETED: /);
    assert.match(
      c.try('submit', 'H3/res4:researcher', 'apply', { target: { kind: 'dataset', datasetId: 'bp' }, purpose: 'HRESCH', actions: ['read'], period }).message,
      /^DATASET_DELETED: /,
    );
    // Statistics over it are refused like over a dataset that never existed.
    const st = c.submit<{ allowed: boolean; reasons: string[] }>(RES, 'requestStatistics', {
      datasetIds: ['bp'],
      variable: 'sbp',
      purpose: 'HRESCH',
      histogram: { min: 0, max: 1, bins: 1 },
    });
    assert.equal(st.allowed, false);
    assert.match(st.reasons.join(' '), /does not exist or was erased/);
    const h = c.evaluate<{ status: string; versions: unknown[] }>(RES, 'datasetVersions', { datasetId: 'bp' });
    assert.deepEqual({ s: h.status, n: h.versions.length }, { s: 'deleted', n: 2 });
    const listed = c.evaluate<{ datasets: Listed[] }>(RES, 'listDatasets', { status: 'deleted' }).datasets;
    assert.deepEqual(
      listed.map((x) => [x.datasetId, x.access, x.authorised]),
      [['bp', 'deleted', false]],
    );
    const ops = c.evaluate<{ entries: AuditEntry[] }>(SUP1, 'auditTrail', { kind: 'dataset', datasetId: 'bp', pageSize: 200 }).entries.map((e) => e.op);
    assert.ok(ops.includes('dataset.delete') && ops.includes('dataset.register'), 'the trail survives the deletion');
  });

  it('a dataset listed before decision 1260 (no version history, no commitment) is version 1 of its history, and updates from there', () => {
    // As stored by the former registerDataset: no version, status, commitment or dsv entry.
    const legacy = { ...ds('old'), commitment: undefined, mediaType: undefined, ownerOrg: 'H1', registeredBy: 'H1/sup1', registeredAtMs: T0, open: true };
    const c2 = new TestChain(T0);
    try {
      c2.db.applyBlock({
        number: 1,
        blockHash: sha256('legacy'),
        writes: [{ ns: 'health', key: 'ds|old', isDelete: false, value: Buffer.from(JSON.stringify(legacy)), tx: 0 }],
        txIndex: [],
      });
      c2.height = 1;
      const h = c2.evaluate<{ currentVersion: number; versions: Array<{ version: number; commitment: string | null }> }>(RES, 'datasetVersions', {
        datasetId: 'old',
      });
      assert.deepEqual([h.currentVersion, h.versions.map((v) => [v.version, v.commitment])], [1, [[1, null]]]);
      c2.submit(SUP1, 'updateDataset', update('old', 2));
      const after2 = c2.evaluate<{ versions: Array<{ version: number; cid: string }> }>(RES, 'datasetVersions', { datasetId: 'old' });
      assert.deepEqual(
        after2.versions.map((v) => [v.version, v.cid]),
        [
          [1, legacy.cid],
          [2, update('old', 2).cid],
        ],
      );
      assert.equal(c2.evaluate<{ datasets: Listed[] }>(RES, 'listDatasets', {}).datasets[0]?.status, 'listed');
    } finally {
      c2.close();
    }
  });
});
