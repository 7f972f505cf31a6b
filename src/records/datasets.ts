// Datasets and statistics (PHDMF's data market, decision 1163): a hospital's datasets are
// prepared (sealed here, bounded and owned by their preparer like record versions), listed on
// chain, swept when abandoned; custodians answer statistics requests with partial aggregates that
// obey the disclosure rule, and the requester's node combines them and records the result.
import { decode, encode, type Bytes } from '../codec/index.ts';
import {
  AnalyticsError,
  combine,
  effectiveMinCohort,
  exactAggregateOf,
  finalize,
  releasePartial,
  type HistogramSpec,
  type ReleasedPartial,
  type Statistics,
} from '../analytics/aggregate.ts';
import type { MedLedgerNode } from '../node/node.ts';
import { commit, newDataKey, open, seal, type BlobStore } from '../offchain/index.ts';
import type { DatasetSelection } from '../contracts/health/index.ts';
import { type HealthCaller } from './caller.ts';
import { KeyStore, type KeyEntryInfo } from './keystore.ts';
import { PreparedLimitError, PreparedVersions, type PreparedEntry } from './prepared.ts';
import {
  commitmentKeyOf,
  CONTENT_BYTES_MAX,
  REMOTE_TIMEOUT_MS,
  SEAL_OVERHEAD_BYTES,
  STATS_CHANNEL,
  partialAnswerSchema,
  statsPartialRequestSchema,
  type PartialAnswer,
} from './wire.ts';
import { datasetShape, datasetValues, selectDataset } from './dataset-content.ts';
import { RecordError } from './errors.ts';

/** What the dataset side needs from the record service it belongs to. */
export interface DatasetContext {
  readonly node: MedLedgerNode;
  readonly blobs: BlobStore;
  readonly datasetKeys: KeyStore;
  readonly preparedDatasets: PreparedVersions;
  /** A value of this node's copy of the health contract's state. */
  state<T>(key: string): T | undefined;
  /** The peer node of an organisation. */
  nodeOf(org: string): string;
  deleteBlobs(cids: readonly string[]): Promise<void>;
  isClosed(): boolean;
  /** The dataset version released by the committed `downloadDataset` transaction `txId` of `user`, fetched and verified (service.ts). */
  fetchDownload(txId: string, user: string): Promise<VerifiedDownload>;
}

/** A dataset version as a download released it, after the checks of the requester's node. */
export interface VerifiedDownload {
  readonly datasetId: string;
  readonly version: number;
  readonly custodian: string;
  readonly mediaType: 'text/csv' | 'application/fhir+json';
  readonly cid: string;
  /** The plaintext of the whole version (checked against the CID and, when listed, the commitment). */
  readonly content: Bytes;
  /** Whether the on-chain keyed commitment was checked (a dataset listed before decision 1260 has none: the CID only). */
  readonly commitmentChecked: boolean;
  readonly selection: DatasetSelection | null;
}

/** What a download hands its caller: the part asked for, with what was verified (decision 1260). */
export interface DatasetDownload {
  readonly allowed: boolean;
  readonly txId: string;
  readonly code: string | null;
  readonly reasons: readonly string[];
  readonly datasetId: string;
  readonly version: number | null;
  readonly custodian: string | null;
  readonly mediaType: string | null;
  readonly cid: string | null;
  readonly verified: { readonly cid: boolean; readonly commitment: boolean } | null;
  readonly selection: DatasetSelection | null;
  readonly content: Bytes | null;
}

type ChainDataset = { cid: string; ownerOrg: string; version?: number; status?: string };

/** A dataset version sealed and held here, waiting for its listing transaction. */
export interface PreparedDataset {
  readonly cid: string;
  readonly sizeBytes: number;
  readonly columns: string[];
  readonly recordCount: number;
  readonly commitment: string;
  readonly mediaType: 'text/csv' | 'application/fhir+json';
  readonly version: number;
  readonly expiresAtMs: number;
}

/** What a listing transaction (registerDataset, updateDataset) says of a prepared version. */
function onChainVersion(p: PreparedDataset) {
  return {
    columns: p.columns,
    cid: p.cid,
    sizeBytes: p.sizeBytes,
    recordCount: p.recordCount,
    commitment: p.commitment,
    mediaType: p.mediaType,
    notAfterMs: p.expiresAtMs,
  };
}

export class DatasetCustodian {
  private readonly node: MedLedgerNode;
  private readonly blobs: BlobStore;
  private readonly datasetKeys: KeyStore;
  private readonly preparedDatasets: PreparedVersions;

  constructor(private readonly ctx: DatasetContext) {
    this.node = ctx.node;
    this.blobs = ctx.blobs;
    this.datasetKeys = ctx.datasetKeys;
    this.preparedDatasets = ctx.preparedDatasets;
  }

  private state<T>(key: string): T | undefined {
    return this.ctx.state<T>(key);
  }

  private nodeOf(org: string): string {
    return this.ctx.nodeOf(org);
  }

  private deleteBlobs(cids: readonly string[]): Promise<void> {
    return this.ctx.deleteBlobs(cids);
  }

  /** The unexpired claim of the user who prepared version `version` of dataset `datasetId`, if any. */
  preparedDatasetHolder(datasetId: string, version = 1, nowMs = Date.now()): PreparedEntry | undefined {
    return this.preparedDatasets.holder(datasetId, version, nowMs);
  }

  /**
   * Store a dataset (CSV or FHIR Bundle of Observations) sealed at this node for `preparedBy`;
   * the listing's fields and when the prepared dataset expires. Like a record version it is
   * bounded per user and per node (RecordError LIMIT; the reservation is taken before the first
   * await) and belongs to its preparer until it is listed on chain or swept (issue 16, item 7).
   * `version` above 1 prepares a new version of a dataset this node holds (decision 1260): the
   * chain must list the one before it, not deleted. Each version has its own data key, so its
   * keyed commitment (decision 1100) dies with that key when the dataset is deleted.
   */
  async prepareDataset(a: {
    datasetId: string;
    bytes: Bytes;
    mediaType: 'text/csv' | 'application/fhir+json';
    preparedBy?: string;
    version?: number;
  }): Promise<PreparedDataset> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(a.datasetId))
      throw new RecordError(`invalid dataset id ${JSON.stringify(a.datasetId.slice(0, 80))}`, 'INVALID_CONTENT');
    if (a.bytes.byteLength > CONTENT_BYTES_MAX) throw new RecordError(`dataset ${a.datasetId} exceeds ${CONTENT_BYTES_MAX} bytes`, 'INVALID_CONTENT');
    const version = a.version ?? 1;
    const existing = this.state<ChainDataset>(`ds|${a.datasetId}`);
    if (version === 1) {
      if (existing) throw new RecordError(`dataset ${a.datasetId} already exists`, 'REFUSED');
    } else {
      if (!existing) throw new RecordError(`dataset ${a.datasetId} does not exist`, 'NOT_FOUND');
      if (existing.status === 'deleted') throw new RecordError(`DATASET_DELETED: dataset ${a.datasetId} was deleted`, 'NOT_FOUND');
      if (existing.ownerOrg !== this.node.org)
        throw new RecordError(`dataset ${a.datasetId} is held by ${existing.ownerOrg}; update it through that hospital's node`, 'REFUSED');
      if ((existing.version ?? 1) + 1 !== version)
        throw new RecordError(
          `dataset ${a.datasetId} is at version ${existing.version ?? 1}: the next version is ${(existing.version ?? 1) + 1}, not ${version}`,
          'REFUSED',
        );
    }
    const shape = datasetShape(a.bytes, a.mediaType);
    if (shape.columns.length === 0) throw new RecordError(`dataset ${a.datasetId} has no columns`, 'INVALID_CONTENT');
    const user = a.preparedBy ?? 'unknown';
    const nowMs = Date.now();
    const freed = this.expirePreparedDatasets(nowMs);
    const held = this.preparedDatasets.get(a.datasetId, version);
    if (held) {
      if (held.storing) throw new RecordError(`dataset ${a.datasetId} is being prepared right now; try again in a moment`, 'REFUSED');
      if (held.user !== user && !this.preparedDatasets.isAbandoned(held, nowMs))
        throw new RecordError(`dataset ${a.datasetId} is being prepared by ${held.user}`, 'REFUSED');
    }
    // Preparing it again replaces it: the earlier blob and key go (they would be orphans).
    if (held || this.datasetKeys.cids(a.datasetId, version).length > 0) freed.push(...this.dropPreparedDataset(a.datasetId, version));
    let entry: PreparedEntry;
    try {
      entry = this.preparedDatasets.reserve(a.datasetId, version, user, a.bytes.byteLength + SEAL_OVERHEAD_BYTES, nowMs);
    } catch (err) {
      void this.deleteBlobs(freed);
      if (err instanceof PreparedLimitError) throw new RecordError(err.message, 'LIMIT');
      throw err;
    }
    await this.deleteBlobs(freed);
    let cid: string;
    let sizeBytes: number;
    let commitment: string;
    try {
      const dataKey = newDataKey();
      const sealed = seal(dataKey, a.bytes, KeyStore.aad(a.datasetId, version, a.mediaType));
      cid = await this.blobs.put(sealed);
      sizeBytes = sealed.byteLength;
      commitment = Buffer.from(commit(commitmentKeyOf(dataKey), a.bytes)).toString('hex');
      this.datasetKeys.put(a.datasetId, version, a.mediaType, cid, dataKey, { preparedBy: user, atMs: nowMs, sizeBytes });
    } catch (err) {
      await this.deleteBlobs(this.dropPreparedDataset(a.datasetId, version));
      throw err;
    }
    entry.sizeBytes = sizeBytes;
    entry.storing = false;
    return {
      cid,
      sizeBytes,
      columns: shape.columns.slice(0, 100),
      recordCount: shape.rows,
      commitment,
      mediaType: a.mediaType,
      version,
      expiresAtMs: this.preparedDatasets.expiresAtMs(entry),
    };
  }

  /** Every CID the chain lists for dataset `datasetId`, current and earlier versions (empty: not listed). */
  private listedDatasetCids(datasetId: string): Set<string> {
    const ds = this.state<ChainDataset>(`ds|${datasetId}`);
    if (!ds) return new Set();
    const cids = new Set([ds.cid]);
    for (let v = 1; v <= (ds.version ?? 1); v++) {
      const entry = this.state<{ cid?: string }>(`dsv|${datasetId}|${String(v).padStart(6, '0')}`);
      if (entry?.cid) cids.add(entry.cid);
    }
    return cids;
  }

  /** Whether version `version` of the dataset is on this node's chain. */
  private datasetVersionListed(datasetId: string, version: number): boolean {
    const ds = this.state<ChainDataset>(`ds|${datasetId}`);
    return ds !== undefined && (ds.version ?? 1) >= version;
  }

  /**
   * Forget a prepared dataset version: its bookkeeping, and the keys of its stored content the
   * chain does not list (synchronously); returns those CIDs for deletion. Listed content is never touched.
   */
  private dropPreparedDataset(datasetId: string, version: number): string[] {
    this.preparedDatasets.delete(datasetId, version);
    const listed = this.listedDatasetCids(datasetId);
    const cids = this.datasetKeys.cids(datasetId, version).filter((cid) => !listed.has(cid));
    if (cids.length > 0) this.datasetKeys.dropCids(datasetId, cids);
    return cids;
  }

  /**
   * Synchronous half of the dataset sweep: entries whose version is now listed on chain leave the
   * bookkeeping (their content is kept if it is what the chain lists); abandoned ones not
   * listed lose their keys. Returns the blobs to delete.
   */
  private expirePreparedDatasets(nowMs: number): string[] {
    const cids: string[] = [];
    for (const e of this.preparedDatasets.all()) {
      if (e.storing) continue;
      const listed = this.datasetVersionListed(e.recordId, e.version);
      if (listed || this.preparedDatasets.isAbandoned(e, nowMs)) {
        if (!listed)
          this.node.log.info({ datasetId: e.recordId, version: e.version, preparedBy: e.user, ageMs: nowMs - e.atMs }, 'abandoned prepared dataset swept');
        cids.push(...this.dropPreparedDataset(e.recordId, e.version));
      }
    }
    return cids;
  }

  /** Delete prepared datasets that expired without being listed on chain (`nowMs` for tests). */
  async sweepPreparedDatasets(nowMs = Date.now()): Promise<{ swept: number; blobs: number }> {
    if (!this.node.peer || this.ctx.isClosed()) return { swept: 0, blobs: 0 };
    const before = this.preparedDatasets.usage().count;
    const cids = this.expirePreparedDatasets(nowMs);
    await this.deleteBlobs(cids);
    return { swept: before - this.preparedDatasets.usage().count, blobs: cids.length };
  }

  /** Rebuild the prepared-dataset bookkeeping from the dataset key store (start-up). */
  restorePreparedDatasets(): void {
    const nowMs = Date.now();
    for (const datasetId of this.datasetKeys.recordIds()) {
      let entries: KeyEntryInfo[];
      try {
        entries = this.datasetKeys.entries(datasetId);
      } catch (err) {
        this.node.log.warn({ datasetId, reason: (err as Error).message }, 'unreadable dataset key file skipped');
        continue;
      }
      const listed = this.listedDatasetCids(datasetId);
      const byVersion = new Map<number, KeyEntryInfo[]>();
      for (const e of entries) if (!listed.has(e.cid)) byVersion.set(e.version, [...(byVersion.get(e.version) ?? []), e]);
      for (const [version, unlisted] of byVersion) {
        // Prepared before preparers were recorded: its clock starts now.
        this.preparedDatasets.restore({
          recordId: datasetId,
          version,
          user: unlisted[0]?.preparedBy ?? 'unknown',
          atMs: Math.min(...unlisted.map((e) => e.atMs ?? nowMs)),
          sizeBytes: unlisted.reduce((n, e) => n + (e.sizeBytes ?? 0), 0),
        });
      }
    }
  }

  /** Store a dataset here and list it in the data market (on chain, by an admin/supervisor). */
  async registerDataset(
    caller: HealthCaller,
    a: {
      datasetId: string;
      name: string;
      description?: string;
      bytes: Bytes;
      mediaType: 'text/csv' | 'application/fhir+json';
      open?: boolean;
      minCohort?: number;
      queryBudget?: number;
      tags?: string[];
    },
  ): Promise<Record<string, unknown>> {
    const p = await this.prepareDataset({ ...a, preparedBy: caller.user });
    const r = await caller.submit('registerDataset', {
      datasetId: a.datasetId,
      name: a.name,
      description: a.description ?? '',
      ...onChainVersion(p),
      ...(a.tags !== undefined ? { tags: a.tags } : {}),
      open: a.open ?? true,
      ...(a.minCohort !== undefined ? { minCohort: a.minCohort } : {}),
      ...(a.queryBudget !== undefined ? { queryBudget: a.queryBudget } : {}),
    });
    return { txId: r.txId, ...r.payload };
  }

  /**
   * A new version of a dataset this node holds (decision 1260): sealed under a fresh key, then
   * listed by the owner's `updateDataset` (the contract decides who may). Earlier versions keep
   * their keys and blobs until the dataset is deleted. A refused update leaves nothing behind.
   */
  async updateDataset(
    caller: HealthCaller,
    a: { datasetId: string; bytes: Bytes; mediaType: 'text/csv' | 'application/fhir+json' },
  ): Promise<Record<string, unknown>> {
    const ds = this.state<ChainDataset>(`ds|${a.datasetId}`);
    if (!ds) throw new RecordError(`DATASET_NOT_FOUND: dataset ${a.datasetId} does not exist`, 'NOT_FOUND');
    const version = (ds.version ?? 1) + 1;
    const p = await this.prepareDataset({ ...a, preparedBy: caller.user, version });
    try {
      const r = await caller.submit('updateDataset', {
        datasetId: a.datasetId,
        ...onChainVersion(p),
      });
      return { txId: r.txId, ...r.payload };
    } catch (err) {
      // Refused (not the owner, deleted meanwhile …): the prepared version goes; a version the chain lists is never dropped.
      await this.deleteBlobs(this.dropPreparedDataset(a.datasetId, version));
      throw err;
    }
  }

  /** Delete on chain (the contract decides who may), then crypto-shred here; other nodes hold no dataset content. */
  async deleteDataset(caller: HealthCaller, datasetId: string): Promise<Record<string, unknown>> {
    const r = await caller.submit('deleteDataset', { datasetId });
    await this.shredDeleted();
    return { txId: r.txId, ...r.payload };
  }

  /**
   * Crypto-shred every dataset this node holds whose listing on its chain says deleted: the
   * wrapped keys of every version first, then the blobs (decision 1102 as for records). Idempotent;
   * run on every commit and at start.
   */
  async shredDeleted(): Promise<void> {
    if (!this.node.peer) return;
    for (const id of this.datasetKeys.recordIds()) {
      if (this.state<ChainDataset>(`ds|${id}`)?.status !== 'deleted') continue;
      this.preparedDatasets
        .all()
        .filter((e) => e.recordId === id)
        .forEach((e) => this.preparedDatasets.delete(id, e.version));
      const cids = this.datasetKeys.shred(id);
      for (const cid of cids) await this.blobs.delete(cid);
      this.node.log.info({ datasetId: id, blobs: cids.length }, 'dataset crypto-shredded');
    }
  }

  /**
   * Download (decision 1260): the user's own `downloadDataset` transaction decides and audits
   * (who, version, part); the version it released is fetched — from this node's store, or from
   * its custodian against the committed transaction, HPKE-wrapped and journaled for the served-read
   * audit (decisions 1101, 1150, 1153) — and checked against its CID and keyed commitment here;
   * only then is the part the transaction names cut out. A refusal is returned (audited), not thrown.
   */
  async download(caller: HealthCaller, a: { datasetId: string; purpose: string; version?: number; selection?: DatasetSelection }): Promise<DatasetDownload> {
    const r = await caller.submit('downloadDataset', {
      datasetId: a.datasetId,
      purpose: a.purpose,
      ...(a.version !== undefined ? { version: a.version } : {}),
      ...(a.selection !== undefined ? { selection: a.selection } : {}),
    });
    if (r.payload['allowed'] !== true)
      return {
        allowed: false,
        txId: r.txId,
        code: typeof r.payload['code'] === 'string' ? r.payload['code'] : null,
        reasons: (r.payload['reasons'] as string[] | undefined) ?? [],
        datasetId: a.datasetId,
        version: null,
        custodian: null,
        mediaType: null,
        cid: null,
        verified: null,
        selection: null,
        content: null,
      };
    const got = await this.downloadContent(r.txId, caller.user);
    return { allowed: true, txId: r.txId, code: null, reasons: [], ...got };
  }

  /** The part released by the committed download `txId` of `user` (this node's organisation), verified and cut out. */
  async downloadContent(txId: string, user: string): Promise<Omit<DatasetDownload, 'allowed' | 'txId' | 'code' | 'reasons'>> {
    const v = await this.ctx.fetchDownload(txId, user);
    return {
      datasetId: v.datasetId,
      version: v.version,
      custodian: v.custodian,
      mediaType: v.mediaType,
      cid: v.cid,
      verified: { cid: true, commitment: v.commitmentChecked },
      selection: v.selection,
      content: selectDataset(v.content, v.mediaType, v.selection),
    };
  }

  /**
   * The threshold of a statistics request as this node's own chain gives it: max(the floor, the
   * request's, every dataset owner's). Recomputed here rather than read: a request stored before
   * decision 1163 may carry a minimum under the floor.
   */
  private statsThreshold(st: { minCohort?: number; datasetIds: readonly string[] }): number {
    return effectiveMinCohort([st.minCohort, ...st.datasetIds.map((id) => this.state<{ minCohort?: number }>(`ds|${id}`)?.minCohort)]);
  }

  /** This custodian's dataset reduced to what may leave it under the disclosure rule at `threshold`. */
  private async releasedPartial(datasetId: string, variable: string, spec: HistogramSpec, threshold: number): Promise<ReleasedPartial> {
    const ds = this.state<ChainDataset>(`ds|${datasetId}`);
    if (!ds || ds.status === 'deleted') throw new RecordError(`dataset ${datasetId} does not exist${ds ? ' (deleted)' : ''}`, 'NOT_FOUND');
    if (ds.ownerOrg !== this.node.org) throw new RecordError(`dataset ${datasetId} is held by ${ds.ownerOrg}`, 'REFUSED');
    // Statistics are computed over the current version.
    const key = this.datasetKeys.get(datasetId, ds.cid);
    const sealed = await this.blobs.get(ds.cid);
    if (!key || !sealed) throw new RecordError(`dataset ${datasetId} content is not on this node`, 'UNAVAILABLE');
    const bytes = open(key.dataKey, sealed, KeyStore.aad(datasetId, key.version, key.sensitivity), `dataset ${datasetId}`);
    return releasePartial(exactAggregateOf(datasetValues(bytes, key.sensitivity, variable), spec), threshold);
  }

  /**
   * Custodian side of 'stats': only for a statistics request on this node's chain that was
   * allowed, and only a released partial — the asking node sees it, so it gets no more than the
   * researcher may (no small cell, no raw minimum or maximum).
   */
  async servePartial(from: string, payload: Bytes): Promise<Bytes> {
    const parsed = statsPartialRequestSchema.safeParse(decode(payload));
    if (!parsed.success) return encode({ ok: false, error: 'malformed statistics request' } satisfies PartialAnswer);
    try {
      const fromOrg = (this.node.config.nodes ?? []).find((n) => n.id === from)?.org;
      const st = await this.statsRequest(parsed.data.requestId);
      if (st.requester.slice(0, st.requester.indexOf('/')) !== fromOrg)
        throw new RecordError(`statistics request ${parsed.data.requestId} was made by ${st.requester}, not by a user of ${fromOrg ?? from}`, 'DENIED');
      if (st.status !== 'requested') throw new RecordError(`statistics request ${parsed.data.requestId} is ${st.status}`, 'DENIED');
      if (!st.datasetIds.includes(parsed.data.datasetId))
        throw new RecordError(`statistics request ${parsed.data.requestId} does not cover dataset ${parsed.data.datasetId}`, 'DENIED');
      const partial = await this.releasedPartial(parsed.data.datasetId, st.variable, st.histogram, this.statsThreshold(st));
      return encode({ ok: true, partial } satisfies PartialAnswer);
    } catch (err) {
      return encode({ ok: false, error: (err as Error).message } satisfies PartialAnswer);
    }
  }

  private async statsRequest(requestId: string): Promise<{
    requester: string;
    status: string;
    datasetIds: string[];
    variable: string;
    histogram: HistogramSpec;
    minCohort: number;
    inputs: Array<{ datasetId: string; ownerOrg: string | null }>;
  }> {
    type St = Awaited<ReturnType<DatasetCustodian['statsRequest']>>;
    let st = this.state<St>(`st|${requestId}`);
    // The requester's node may be a block ahead of ours.
    for (let i = 0; !st && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      st = this.state<St>(`st|${requestId}`);
    }
    if (!st) throw new RecordError(`statistics request ${requestId} is not on this node's chain`, 'NOT_FOUND');
    return st;
  }

  /** Request on chain (the user's approval is checked there), gather partials, combine, suppress, record. */
  async statistics(
    caller: HealthCaller,
    a: { datasetIds: string[]; variable: string; purpose: string; histogram: HistogramSpec; minCohort?: number },
  ): Promise<{ allowed: boolean; requestId: string; reasons: string[]; result: Statistics | null; inputs: unknown[] }> {
    const r = await caller.submit('requestStatistics', {
      datasetIds: a.datasetIds,
      variable: a.variable,
      purpose: a.purpose,
      histogram: a.histogram,
      ...(a.minCohort !== undefined ? { minCohort: a.minCohort } : {}),
    });
    const requestId = String(r.payload['requestId']);
    const reasons = (r.payload['reasons'] as string[] | undefined) ?? [];
    if (r.payload['allowed'] !== true) return { allowed: false, requestId, reasons, result: null, inputs: [] };
    const result = await this.computeStatistics(requestId, caller.user);
    await caller.submit('recordStatisticsResult', { requestId, result });
    return { allowed: true, requestId, reasons, result, inputs: r.payload['inputs'] as unknown[] };
  }

  /**
   * For an allowed statistics request of `user` on this node's chain: gather a released partial
   * from each dataset's custodian (this node included), combine, and apply the disclosure rule to
   * the pooled figures (finalize checks its own output). Only released partials travel.
   */
  async computeStatistics(requestId: string, user: string): Promise<Statistics> {
    const st = await this.statsRequest(requestId);
    if (st.requester !== user) throw new RecordError(`statistics request ${requestId} belongs to ${st.requester}`, 'DENIED');
    if (st.status !== 'requested') throw new RecordError(`statistics request ${requestId} is ${st.status}`, 'REFUSED');
    const threshold = this.statsThreshold(st);
    const partials: ReleasedPartial[] = [];
    for (const input of st.inputs) {
      if (!input.ownerOrg) throw new RecordError(`dataset ${input.datasetId} has no owner`, 'NOT_FOUND');
      if (input.ownerOrg === this.node.org) {
        partials.push(await this.releasedPartial(input.datasetId, st.variable, st.histogram, threshold));
        continue;
      }
      const raw = await this.node.request(this.nodeOf(input.ownerOrg), STATS_CHANNEL, encode({ requestId, datasetId: input.datasetId }), REMOTE_TIMEOUT_MS);
      const answer = partialAnswerSchema.safeParse(decode(raw));
      if (!answer.success)
        throw new RecordError(
          `custodian ${input.ownerOrg} answered dataset ${input.datasetId} with a malformed partial (${answer.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`)
            .join('; ')})`,
          'UNAVAILABLE',
        );
      if (!answer.data.ok) throw new RecordError(`custodian ${input.ownerOrg} refused dataset ${input.datasetId}: ${answer.data.error}`, 'UNAVAILABLE');
      partials.push(answer.data.partial);
    }
    try {
      return finalize(combine(partials, st.histogram, threshold), st.histogram, threshold);
    } catch (err) {
      if (err instanceof AnalyticsError) throw new RecordError(`statistics request ${requestId}: ${err.message}`, 'UNAVAILABLE');
      throw err;
    }
  }
}
