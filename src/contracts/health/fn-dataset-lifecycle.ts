// The dataset lifecycle of the data market (issue 12 item 2, decision 1260): new versions (the old
// ones stay listed in a provable history), withdrawing and reopening a listing, deletion
// (crypto-shred at the custodian on commit, as records, decision 1102), the audited download
// decision (the custodian serves only against it, decision 1101/1153) and the catalogue with
// search, filters and the caller's own standing. Part of the health contract.
import { z } from 'zod';
import { type ContractFunction, ContractError } from '../runtime.ts';
import {
  datasetTypeOf,
  downloadDatasetArgs,
  idSchema,
  LIMITS,
  listDatasetsArgs,
  updateDatasetArgs,
  type Application,
  type Dataset,
  type DatasetVersion,
} from './model.ts';
import { decide } from './rules.ts';
import { getJson, key, prefixRange, putJson, SEP, type AccessTicket, type HealthTx } from './state.ts';
import { parseArg, json, writeAudit, fn, basisText } from './contract-support.ts';
import {
  DATASET_CODES,
  datasetError,
  datasetVersion,
  ensureFirstVersion,
  isDatasetOwner,
  putDatasetVersion,
  refuseDeleted,
  refuseExpiredDataset,
  requireDataset,
  requireOwner,
  statusOf,
  type DatasetCode,
} from './dataset-support.ts';

/** What the caller may do with a dataset, as the catalogue shows it. */
export type DatasetStanding = 'owner' | 'approved' | 'pending' | 'not-authorised' | 'withdrawn' | 'deleted';

function setStatus(tx: HealthTx, args: readonly string[], to: 'listed' | 'withdrawn'): string {
  const a = parseArg(z.strictObject({ datasetId: idSchema }), args);
  const ds = requireDataset(tx, a.datasetId);
  const what = to === 'withdrawn' ? 'withdrawDataset' : 'reopenDataset';
  requireOwner(tx, ds, what);
  refuseDeleted(ds);
  const from = statusOf(ds);
  if (from === to)
    throw to === 'withdrawn'
      ? datasetError(DATASET_CODES.withdrawn, `dataset ${a.datasetId} is already withdrawn`)
      : datasetError(DATASET_CODES.notWithdrawn, `dataset ${a.datasetId} is listed, not withdrawn: nothing to reopen`);
  putJson(tx.stub, key('ds', a.datasetId), { ...ds, status: to, updatedAtMs: tx.nowMs });
  const auditId = writeAudit(tx, {
    op: to === 'withdrawn' ? 'dataset.withdraw' : 'dataset.reopen',
    actor: tx.creator,
    datasetId: a.datasetId,
    custodian: ds.ownerOrg,
    version: ds.version ?? 1,
  });
  return json({ datasetId: a.datasetId, status: to, auditId });
}

function inPeriod(nowMs: number, app: Application): boolean {
  return nowMs >= app.period.startMs && nowMs < app.period.endMs;
}

export const datasetLifecycleFunctions: Readonly<Record<string, ContractFunction>> = {
  updateDataset: fn(
    'submit',
    "updateDataset({datasetId, columns, cid, sizeBytes, recordCount, commitment, mediaType, notAfterMs?}) — the owner's new version (prepared at its custodian); earlier versions stay in the history",
    (tx, args) => {
      const { notAfterMs, ...a } = parseArg(updateDatasetArgs, args);
      refuseExpiredDataset(tx, a.datasetId, notAfterMs);
      const ds = requireDataset(tx, a.datasetId);
      requireOwner(tx, ds, 'updateDataset');
      refuseDeleted(ds);
      const version = (ds.version ?? 1) + 1;
      if (version > LIMITS.datasetVersionsMax)
        throw datasetError(DATASET_CODES.versionLimit, `dataset ${a.datasetId} has reached ${LIMITS.datasetVersionsMax} versions`);
      ensureFirstVersion(tx, ds);
      const next: Dataset = { ...ds, ...a, version, updatedAtMs: tx.nowMs, txId: tx.stub.getTxID() };
      putJson(tx.stub, key('ds', a.datasetId), next);
      putDatasetVersion(tx, next);
      const auditId = writeAudit(tx, { op: 'dataset.update', actor: tx.creator, datasetId: a.datasetId, custodian: ds.ownerOrg, version });
      return json({ dataset: next, auditId });
    },
    ['admin', 'supervisor'],
  ),

  withdrawDataset: fn(
    'submit',
    'withdrawDataset({datasetId}) — the owner takes the listing off the market: no new applications, hidden from the default catalogue',
    (tx, args) => setStatus(tx, args, 'withdrawn'),
  ),

  reopenDataset: fn('submit', 'reopenDataset({datasetId}) — the owner lists a withdrawn dataset again', (tx, args) => setStatus(tx, args, 'listed')),

  deleteDataset: fn(
    'submit',
    'deleteDataset({datasetId}) — the owner deletes it: the custodian crypto-shreds every version on commit; the listing says deleted and its history stays auditable',
    (tx, args) => {
      const a = parseArg(z.strictObject({ datasetId: idSchema }), args);
      const ds = requireDataset(tx, a.datasetId);
      requireOwner(tx, ds, 'deleteDataset');
      refuseDeleted(ds);
      ensureFirstVersion(tx, ds);
      const deleted: Dataset = { ...ds, status: 'deleted', open: false, deletedAtMs: tx.nowMs, deletedBy: tx.creatorRef, updatedAtMs: tx.nowMs };
      putJson(tx.stub, key('ds', a.datasetId), deleted);
      const auditId = writeAudit(tx, { op: 'dataset.delete', actor: tx.creator, datasetId: a.datasetId, custodian: ds.ownerOrg, version: ds.version ?? 1 });
      return json({ dataset: deleted, auditId });
    },
  ),

  downloadDataset: fn(
    'submit',
    'downloadDataset({datasetId, purpose, version?, selection?: {columns?, rows?: {from, to}}}) — decide (the owner, or an approved application for read with this purpose) and audit; an allowed download releases the version (CID, commitment) its custodian serves against this transaction',
    (tx, args) => {
      const a = parseArg(downloadDatasetArgs, args);
      const ds = tx.dataset(a.datasetId);
      const refuse = (code: DatasetCode, reasons: readonly string[]): string => {
        const auditId = writeAudit(tx, {
          op: 'dataset.download',
          actor: tx.creator,
          outcome: 'deny',
          purpose: a.purpose,
          datasetId: a.datasetId,
          custodian: ds?.ownerOrg ?? null,
          version: a.version ?? ds?.version ?? null,
          reasons: [`${code}: ${reasons[0] ?? ''}`, ...reasons.slice(1)],
          selection: a.selection ?? null,
        });
        return json({ allowed: false, decision: 'deny', code, reasons, auditId });
      };
      if (!ds) return refuse(DATASET_CODES.notFound, [`dataset ${a.datasetId} does not exist`]);
      if (statusOf(ds) === 'deleted') return refuse(DATASET_CODES.deleted, [`dataset ${a.datasetId} was deleted by its owner: its content no longer exists`]);
      const owner = isDatasetOwner(tx, ds);
      const d = owner ? null : decide(tx.datasetFacts(tx.creator, 'read', a.purpose, a.datasetId));
      if (d && d.decision === 'deny') return refuse(DATASET_CODES.notAuthorised, [`not authorised to download dataset ${a.datasetId}`, ...d.reasons]);
      const version = a.version ?? ds.version ?? 1;
      const v = datasetVersion(tx, ds, version);
      if (!v) throw datasetError(DATASET_CODES.versionNotFound, `dataset ${a.datasetId} has no version ${version} (its current version is ${ds.version ?? 1})`);
      const unknown = (a.selection?.columns ?? []).filter((c) => !v.columns.includes(c));
      if (unknown.length > 0)
        throw datasetError(
          DATASET_CODES.unknownColumn,
          `version ${version} of dataset ${a.datasetId} has no column ${unknown.join(', ')} (it has ${v.columns.join(', ')})`,
        );
      const selection = a.selection ?? null;
      const auditId = writeAudit(tx, {
        op: 'dataset.download',
        actor: tx.creator,
        purpose: a.purpose,
        datasetId: a.datasetId,
        custodian: ds.ownerOrg,
        version,
        ...(d ? { decision: d } : { reasons: ['the dataset owner'] }),
        selection,
      });
      // Served by another organisation's node: the ticket it must find before serving and the only
      // thing its served-read audit may name (decision 1153), as for a record part.
      if (ds.ownerOrg !== tx.creator.org) {
        const ticket: AccessTicket = { auditId, custodian: ds.ownerOrg, released: ['normal'], recorded: {} };
        tx.putTicket(tx.stub.getTxID(), ticket);
      }
      return json({
        allowed: true,
        decision: 'allow',
        basis: d ? basisText(d) : 'dataset-owner',
        auditId,
        dataset: {
          datasetId: a.datasetId,
          version,
          custodian: ds.ownerOrg,
          cid: v.cid,
          commitment: v.commitment,
          mediaType: v.mediaType,
          sizeBytes: v.sizeBytes,
          recordCount: v.recordCount,
          columns: v.columns,
        },
        selection,
      });
    },
  ),

  datasetVersions: fn(
    'evaluate',
    "datasetVersions({datasetId}) → the listing's state and every version's CID, keyed commitment, size and transaction (metadata only; content is released by downloadDataset)",
    (tx, args) => {
      const a = parseArg(z.strictObject({ datasetId: idSchema }), args);
      const ds = requireDataset(tx, a.datasetId);
      const [start, end] = prefixRange('dsv', a.datasetId);
      const stored = tx.stub.getStateByRange(start, end).map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as DatasetVersion);
      const first = stored.length === 0 ? datasetVersion(tx, ds, 1) : undefined;
      return json({
        datasetId: ds.datasetId,
        ownerOrg: ds.ownerOrg,
        status: statusOf(ds),
        currentVersion: ds.version ?? 1,
        deletedAtMs: ds.deletedAtMs ?? null,
        versions: first ? [first] : stored,
      });
    },
  ),

  listDatasets: fn(
    'evaluate',
    "listDatasets({pageSize?, bookmark?, q?, ownerOrg?, status?, type?, tag?}) — the data market: listed datasets (status 'all' for every state), searched and filtered, each with the caller's standing (owner / approved / pending / not-authorised / withdrawn / deleted) and, when approved, the actions granted now (grantedActions); a page may hold fewer than pageSize matches when the bookmark is not empty",
    (tx, args) => {
      const a = parseArg(listDatasetsArgs, args);
      const [start, end] = prefixRange('ds');
      if (a.bookmark !== '' && !(a.bookmark >= start && a.bookmark < end)) throw new ContractError('bookmark does not belong to this query');
      const q = a.q?.trim().toLowerCase() ?? '';
      const matches = (ds: Dataset): boolean =>
        (a.status === 'all' || statusOf(ds) === a.status) &&
        (a.ownerOrg === undefined || ds.ownerOrg === a.ownerOrg) &&
        (a.type === undefined || datasetTypeOf(ds.mediaType) === a.type) &&
        (a.tag === undefined || (ds.tags ?? []).includes(a.tag)) &&
        (q === '' || [ds.name, ds.description, ...(ds.tags ?? [])].some((t) => t.toLowerCase().includes(q)));
      // One bounded scan; matches are collected until the page is full.
      const page = tx.stub.getStateByRangeWithPagination(start, end, LIMITS.datasetListScanMax, a.bookmark);
      const found: Dataset[] = [];
      let bookmark = page.bookmark;
      for (let i = 0; i < page.results.length; i++) {
        const ds = JSON.parse(Buffer.from(page.results[i]!.value).toString('utf8')) as Dataset;
        if (!matches(ds)) continue;
        found.push(ds);
        if (found.length === a.pageSize) {
          bookmark = page.results[i + 1]?.key ?? page.bookmark;
          break;
        }
      }
      // The caller's pending applications: one bounded scan of its own application index, the
      // latest first (a pending application is a recent one).
      const pending = new Set<string>();
      if (found.length > 0) {
        const [appStart, appEnd] = prefixRange('ax', 'applicant', tx.creatorRef);
        for (const kv of tx.stub.getStateByRangeWithPagination(appStart, appEnd, LIMITS.datasetListApplicationsMax, '', 'descending').results) {
          const app = getJson<Application>(tx.stub, key('app', kv.key.slice(kv.key.lastIndexOf(SEP) + 1)));
          // One whose period has ended can no longer be approved (decision 0912): not pending.
          if (app?.status === 'pending' && app.target.kind === 'dataset' && app.period.endMs > tx.nowMs) pending.add(app.target.datasetId);
        }
      }
      // A page of up to 200 datasets: their approvals in a few scans, not one each.
      tx.preloadApprovals(
        tx.creatorRef,
        'd',
        found.filter((ds) => !isDatasetOwner(tx, ds)).map((ds) => ds.datasetId),
      );
      /** The actions the caller's approved applications grant now (a statistics approval is not a licence to download). */
      const granted = (ds: Dataset): string[] => {
        const actions = new Set<string>();
        for (const app of tx.approvedApplications(tx.creatorRef, 'd', ds.datasetId))
          if (app.status === 'approved' && inPeriod(tx.nowMs, app)) for (const a of app.actions) actions.add(a);
        return [...actions].sort();
      };
      const standing = (ds: Dataset, grantedActions: readonly string[]): DatasetStanding => {
        if (isDatasetOwner(tx, ds)) return 'owner';
        if (statusOf(ds) === 'deleted') return 'deleted';
        if (grantedActions.length > 0) return 'approved';
        if (statusOf(ds) === 'withdrawn') return 'withdrawn';
        return pending.has(ds.datasetId) ? 'pending' : 'not-authorised';
      };
      return json({
        datasets: found.map((ds) => {
          const grantedActions = isDatasetOwner(tx, ds) ? [] : granted(ds);
          const s = standing(ds, grantedActions);
          return {
            ...ds,
            status: statusOf(ds),
            version: ds.version ?? 1,
            type: datasetTypeOf(ds.mediaType),
            tags: ds.tags ?? [],
            access: s,
            authorised: s === 'owner' || s === 'approved',
            // What `approved` allows: e.g. ['statistics'] only, which is not a licence to download.
            grantedActions: s === 'approved' ? grantedActions : [],
          };
        }),
        bookmark,
      });
    },
  ),
};
