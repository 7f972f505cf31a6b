// What the dataset functions of the health contract share (decision 1260): the error codes their
// refusals start with, ownership, the listing's state, and the version history (`dsv|…`).
import { ContractError } from '../runtime.ts';
import type { Dataset, DatasetStatus, DatasetVersion } from './model.ts';
import { isStaffOf } from './contract-support.ts';
import { getJson, key, pad, putJson, type HealthTx } from './state.ts';

/**
 * Codes that start a dataset refusal's message ("DATASET_WITHDRAWN: …"): a contract refusal
 * reaches every face as its message (REST 422 ENDORSEMENT_REFUSED), so the code travels in it and
 * clients can match it; an audited denial of a download carries it as `code` in its payload.
 */
export const DATASET_CODES = {
  notFound: 'DATASET_NOT_FOUND',
  withdrawn: 'DATASET_WITHDRAWN',
  notWithdrawn: 'DATASET_NOT_WITHDRAWN',
  deleted: 'DATASET_DELETED',
  notOwner: 'NOT_DATASET_OWNER',
  notAuthorised: 'NOT_AUTHORISED',
  versionNotFound: 'DATASET_VERSION_NOT_FOUND',
  versionLimit: 'DATASET_VERSION_LIMIT',
  unknownColumn: 'DATASET_UNKNOWN_COLUMN',
  expired: 'DATASET_PREPARATION_EXPIRED',
} as const;
export type DatasetCode = (typeof DATASET_CODES)[keyof typeof DATASET_CODES];

export function datasetError(code: DatasetCode, message: string): ContractError {
  return new ContractError(`${code}: ${message}`);
}

export function statusOf(ds: Dataset): DatasetStatus {
  return ds.status ?? 'listed';
}

export function requireDataset(tx: HealthTx, datasetId: string): Dataset {
  const ds = tx.dataset(datasetId);
  if (!ds) throw datasetError(DATASET_CODES.notFound, `dataset ${datasetId} does not exist`);
  return ds;
}

/** The owner: an admin or supervisor of the owner organisation, or the user who registered it. */
export function isDatasetOwner(tx: HealthTx, ds: Dataset): boolean {
  return isStaffOf(tx, ds.ownerOrg) || tx.creatorRef === ds.registeredBy;
}

export function requireOwner(tx: HealthTx, ds: Dataset, what: string): void {
  if (!isDatasetOwner(tx, ds))
    throw datasetError(
      DATASET_CODES.notOwner,
      `${what}: only an admin or supervisor of ${ds.ownerOrg} (the owner) or ${ds.registeredBy} may change dataset ${ds.datasetId}`,
    );
}

export function refuseDeleted(ds: Dataset): void {
  if (statusOf(ds) === 'deleted')
    throw datasetError(DATASET_CODES.deleted, `dataset ${ds.datasetId} was deleted by its owner (its content is crypto-shredded; its history stays auditable)`);
}

/** A write of dataset content prepared off chain must be timestamped before it expires at the custodian (decision 1160). */
export function refuseExpiredDataset(tx: HealthTx, datasetId: string, notAfterMs: number | undefined): void {
  if (notAfterMs !== undefined && tx.nowMs > notAfterMs)
    throw datasetError(
      DATASET_CODES.expired,
      `the prepared content of dataset ${datasetId} expired at ${new Date(notAfterMs).toISOString()} (the custodian may have deleted it): prepare it again`,
    );
}

function versionOfListing(ds: Dataset): DatasetVersion {
  return {
    datasetId: ds.datasetId,
    version: ds.version ?? 1,
    cid: ds.cid,
    commitment: ds.commitment ?? null,
    mediaType: ds.mediaType ?? null,
    columns: ds.columns,
    sizeBytes: ds.sizeBytes,
    recordCount: ds.recordCount,
    txId: ds.txId ?? '',
    by: ds.registeredBy,
    atMs: ds.updatedAtMs ?? ds.registeredAtMs,
  };
}

/** Write the history entry of the listing's current version. */
export function putDatasetVersion(tx: HealthTx, ds: Dataset): void {
  const v = versionOfListing(ds);
  putJson(tx.stub, key('dsv', ds.datasetId, pad(v.version, 6)), { ...v, by: tx.creatorRef, atMs: tx.nowMs, txId: tx.stub.getTxID() });
}

/**
 * Version `version` of a dataset: its history entry; a dataset listed before decision 1260 has
 * none for version 1, whose listing is then the only record of it.
 */
export function datasetVersion(tx: HealthTx, ds: Dataset, version: number): DatasetVersion | undefined {
  const stored = getJson<DatasetVersion>(tx.stub, key('dsv', ds.datasetId, pad(version, 6)));
  if (stored) return stored;
  if (version === 1 && (ds.version ?? 1) === 1) return versionOfListing(ds);
  return undefined;
}

/** Before a second version is written: a dataset from before decision 1260 gets its version 1 entry. */
export function ensureFirstVersion(tx: HealthTx, ds: Dataset): void {
  if ((ds.version ?? 1) === 1 && !getJson<DatasetVersion>(tx.stub, key('dsv', ds.datasetId, pad(1, 6))))
    putJson(tx.stub, key('dsv', ds.datasetId, pad(1, 6)), versionOfListing(ds));
}
