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
import { newDataKey, open, seal, type BlobStore } from '../offchain/index.ts';
import { type HealthCaller } from './caller.ts';
import { KeyStore, type KeyEntryInfo } from './keystore.ts';
import { PreparedLimitError, PreparedVersions, type PreparedEntry } from './prepared.ts';
import {
  CONTENT_BYTES_MAX,
  REMOTE_TIMEOUT_MS,
  SEAL_OVERHEAD_BYTES,
  STATS_CHANNEL,
  partialAnswerSchema,
  statsPartialRequestSchema,
  type PartialAnswer,
} from './wire.ts';
import { datasetShape, datasetValues } from './dataset-content.ts';
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

  /** The unexpired claim of the user who prepared dataset `datasetId`, if any. */
  preparedDatasetHolder(datasetId: string, nowMs = Date.now()): PreparedEntry | undefined {
    return this.preparedDatasets.holder(datasetId, 1, nowMs);
  }

  /**
   * Store a dataset (CSV or FHIR Bundle of Observations) sealed at this node for `preparedBy`;
   * the listing's fields and when the prepared dataset expires. Like a record version it is
   * bounded per user and per node (RecordError LIMIT; the reservation is taken before the first
   * await) and belongs to its preparer until it is listed on chain or swept (issue 16, item 7).
   */
  async prepareDataset(a: {
    datasetId: string;
    bytes: Bytes;
    mediaType: 'text/csv' | 'application/fhir+json';
    preparedBy?: string;
  }): Promise<{ cid: string; sizeBytes: number; columns: string[]; recordCount: number; expiresAtMs: number }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(a.datasetId))
      throw new RecordError(`invalid dataset id ${JSON.stringify(a.datasetId.slice(0, 80))}`, 'INVALID_CONTENT');
    if (a.bytes.byteLength > CONTENT_BYTES_MAX) throw new RecordError(`dataset ${a.datasetId} exceeds ${CONTENT_BYTES_MAX} bytes`, 'INVALID_CONTENT');
    const existing = this.state<{ cid: string }>(`ds|${a.datasetId}`);
    if (existing) throw new RecordError(`dataset ${a.datasetId} already exists`, 'REFUSED');
    const shape = datasetShape(a.bytes, a.mediaType);
    if (shape.columns.length === 0) throw new RecordError(`dataset ${a.datasetId} has no columns`, 'INVALID_CONTENT');
    const user = a.preparedBy ?? 'unknown';
    const nowMs = Date.now();
    const freed = this.expirePreparedDatasets(nowMs);
    const held = this.preparedDatasets.get(a.datasetId, 1);
    if (held) {
      if (held.storing) throw new RecordError(`dataset ${a.datasetId} is being prepared right now; try again in a moment`, 'REFUSED');
      if (held.user !== user && !this.preparedDatasets.isAbandoned(held, nowMs))
        throw new RecordError(`dataset ${a.datasetId} is being prepared by ${held.user}`, 'REFUSED');
    }
    // Preparing it again replaces it: the earlier blob and key go (they would be orphans).
    if (held || this.datasetKeys.cids(a.datasetId).length > 0) freed.push(...this.dropPreparedDataset(a.datasetId));
    let entry: PreparedEntry;
    try {
      entry = this.preparedDatasets.reserve(a.datasetId, 1, user, a.bytes.byteLength + SEAL_OVERHEAD_BYTES, nowMs);
    } catch (err) {
      void this.deleteBlobs(freed);
      if (err instanceof PreparedLimitError) throw new RecordError(err.message, 'LIMIT');
      throw err;
    }
    await this.deleteBlobs(freed);
    let cid: string;
    let sizeBytes: number;
    try {
      const dataKey = newDataKey();
      const sealed = seal(dataKey, a.bytes, KeyStore.aad(a.datasetId, 1, a.mediaType));
      cid = await this.blobs.put(sealed);
      sizeBytes = sealed.byteLength;
      this.datasetKeys.put(a.datasetId, 1, a.mediaType, cid, dataKey, { preparedBy: user, atMs: nowMs, sizeBytes });
    } catch (err) {
      await this.deleteBlobs(this.dropPreparedDataset(a.datasetId));
      throw err;
    }
    entry.sizeBytes = sizeBytes;
    entry.storing = false;
    return { cid, sizeBytes, columns: shape.columns.slice(0, 100), recordCount: shape.rows, expiresAtMs: this.preparedDatasets.expiresAtMs(entry) };
  }

  /** The CID the chain lists for dataset `datasetId` (null: not listed). */
  private listedDatasetCid(datasetId: string): string | null {
    return this.state<{ cid?: string }>(`ds|${datasetId}`)?.cid ?? null;
  }

  /**
   * Forget a prepared dataset: its bookkeeping, and the keys of every stored part the chain does
   * not list (synchronously); returns those parts' CIDs for deletion. Listed content is never touched.
   */
  private dropPreparedDataset(datasetId: string): string[] {
    this.preparedDatasets.delete(datasetId, 1);
    const listed = this.listedDatasetCid(datasetId);
    const cids = this.datasetKeys.cids(datasetId).filter((cid) => cid !== listed);
    if (cids.length > 0) this.datasetKeys.dropCids(datasetId, cids);
    return cids;
  }

  /**
   * Synchronous half of the dataset sweep: entries whose id is now listed on chain leave the
   * bookkeeping (their content is kept if it is what the chain lists); abandoned ones not
   * listed lose their keys. Returns the blobs to delete.
   */
  private expirePreparedDatasets(nowMs: number): string[] {
    const cids: string[] = [];
    for (const e of this.preparedDatasets.all()) {
      if (e.storing) continue;
      if (this.listedDatasetCid(e.recordId) !== null || this.preparedDatasets.isAbandoned(e, nowMs)) {
        if (this.listedDatasetCid(e.recordId) === null)
          this.node.log.info({ datasetId: e.recordId, preparedBy: e.user, ageMs: nowMs - e.atMs }, 'abandoned prepared dataset swept');
        cids.push(...this.dropPreparedDataset(e.recordId));
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
      const listed = this.listedDatasetCid(datasetId);
      const unlisted = entries.filter((e) => e.cid !== listed);
      if (unlisted.length === 0) continue;
      // Prepared before preparers were recorded: its clock starts now.
      this.preparedDatasets.restore({
        recordId: datasetId,
        version: 1,
        user: unlisted[0]?.preparedBy ?? 'unknown',
        atMs: Math.min(...unlisted.map((e) => e.atMs ?? nowMs)),
        sizeBytes: unlisted.reduce((n, e) => n + (e.sizeBytes ?? 0), 0),
      });
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
    },
  ): Promise<Record<string, unknown>> {
    const p = await this.prepareDataset({ ...a, preparedBy: caller.user });
    const r = await caller.submit('registerDataset', {
      datasetId: a.datasetId,
      name: a.name,
      description: a.description ?? '',
      columns: p.columns,
      cid: p.cid,
      sizeBytes: p.sizeBytes,
      recordCount: p.recordCount,
      open: a.open ?? true,
      ...(a.minCohort !== undefined ? { minCohort: a.minCohort } : {}),
      ...(a.queryBudget !== undefined ? { queryBudget: a.queryBudget } : {}),
    });
    return { txId: r.txId, ...r.payload };
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
    const ds = this.state<{ cid: string; ownerOrg: string }>(`ds|${datasetId}`);
    if (!ds) throw new RecordError(`dataset ${datasetId} does not exist`, 'NOT_FOUND');
    if (ds.ownerOrg !== this.node.org) throw new RecordError(`dataset ${datasetId} is held by ${ds.ownerOrg}`, 'REFUSED');
    const key = this.datasetKeys.get(datasetId, ds.cid);
    const sealed = await this.blobs.get(ds.cid);
    if (!key || !sealed) throw new RecordError(`dataset ${datasetId} content is not on this node`, 'UNAVAILABLE');
    const bytes = open(key.dataKey, sealed, KeyStore.aad(datasetId, 1, key.sensitivity), `dataset ${datasetId}`);
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

  /** The version the next write of `recordId` at this custodian will have. */
}
