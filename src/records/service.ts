// The off-chain record service of one node, the custodian of its organisation's records (DESIGN
// §5–§7, issue 6). What it does, and what it never does:
//   - create/update: validate FHIR (or take a file + media type), split by sensitivity, seal each
//     part with a fresh data key, store the sealed bytes under their CID, wrap the data keys under
//     the node's KEK, compute a keyed commitment per part, and only then submit the on-chain entry
//     — signed by the *user* (HealthCaller). Plaintext never goes on chain.
//   - read: the user's own `access` transaction is the only authorisation. Its committed payload
//     (the contract's endorsed answer) lists exactly the parts released; the requester's node and
//     the custodian both check that transaction on their own copy of the chain before any byte of
//     content or key moves. The custodian serves parts over the node-to-node mTLS channel
//     'records': the blob stays sealed and the part's data key is HPKE-wrapped to the requesting
//     node's X25519 key as published on chain and read from the custodian's own world state
//     (decision 1150). The requester unwraps with its private key and verifies CID and commitment.
//   - served-read audit: before the custodian releases a part it durably journals a served-read
//     event naming the access transaction's on-chain ticket and the part's level (nothing the
//     contract would have to believe: who read what comes from the ticket, decision 1153); a
//     flusher records the journal on chain in `recordReads` batches with retry and backoff,
//     deleting events only once committed; replay after a restart is idempotent (the contract
//     records each ticket part once); a full journal refuses to serve (decision 1152).
//   - erase: the contract's eraseRecord; the custodian crypto-shreds (keys, then blobs) as soon as
//     its own chain shows the tombstone, whoever submitted the erasure and from whichever node.
//   - statistics: custodians compute partial aggregates of their datasets for an on-chain
//     statistics request ('stats' channel); only a partial that obeys the disclosure rule leaves
//     (no cell under the request's threshold, complementary suppression, no raw min/max —
//     decision 1163), because the requesting node sees it. The requester's node combines,
//     applies the rule to the pooled figures and records the result on chain, where the
//     contract checks the rule again.
import { join } from 'node:path';
import { decode, encode, utf8, type Bytes } from '../codec/index.ts';
import { HEALTH_CONTRACT, type AccessTicket, type DatasetSelection, type Part, type Sensitivity } from '../contracts/health/index.ts';
import { FhirValidationError, validateFhir } from '../fhir/validate.ts';
import { parseTx } from '../ledger/tx.ts';
import { readPem } from '../node/config.ts';
import type { MedLedgerNode } from '../node/node.ts';
import {
  checkCommitment,
  cidOf,
  commit,
  FsBlobStore,
  IntegrityError,
  newDataKey,
  open,
  seal,
  unwrapAsRecipient,
  wrapForRecipient,
  type BlobStore,
  type HpkeKeyPair,
} from '../offchain/index.ts';
import { gatewayCaller, type HealthCaller } from './caller.ts';
import { KeyStore, loadOrCreateKek, type KeyEntryInfo } from './keystore.ts';
import { keyFingerprint, loadOrCreateNodeKey } from './nodekey.ts';
import { JOURNAL_CAPACITY_DEFAULT, ServedReadJournal } from './readjournal.ts';
import { CSV_LIMITS_DEFAULT, csvSplitConfigSchema, DEFAULT_CSV_SPLIT, joinCsvParts, splitCsv, type CsvLimits, type CsvSplitConfig } from './csv.ts';
import { PREPARED_DATASET_LIMITS_DEFAULT, PREPARED_LIMITS_DEFAULT, PreparedLimitError, PreparedVersions, type PreparedEntry } from './prepared.ts';
import { DEFAULT_SENSITIVITY_RULES, maxLevel, splitBySensitivity, type SensitivityRule } from './sensitivity.ts';
import { RecordError } from './errors.ts';
import { csvOrError } from './dataset-content.ts';
import type { AuditBacklog, RecordServiceOptions, ServedReadAuditOptions } from './service-options.ts';
import { ServedReadRecorder } from './served-read-recorder.ts';
import { DatasetCustodian, type VerifiedDownload } from './datasets.ts';
import {
  ACCESS_TICKET_TTL_MS,
  checkPartAnswer,
  commitmentKeyOf,
  CONTENT_BYTES_MAX,
  keyTransportAad,
  REMOTE_TIMEOUT_MS,
  SEAL_OVERHEAD_BYTES,
  partRequestSchema,
  RECORDS_CHANNEL,
  STATS_CHANNEL,
  type LocalPart,
  type PartAnswer,
  type ReadPart,
  type ReadResult,
  type RecordContent,
  type Released,
  type ServedReadEvent,
} from './wire.ts';

// The service's pieces, re-exported so that importers of service.ts keep working.
export { RecordError } from './errors.ts';
export { datasetShape, datasetValues } from './dataset-content.ts';
export type { AuditBacklog, RecordServiceOptions, ServedReadAuditOptions } from './service-options.ts';
export {
  ACCESS_TICKET_TTL_MS,
  checkPartAnswer,
  commitmentKeyOf,
  keyTransportAad,
  RECORDS_CHANNEL,
  STATS_CHANNEL,
  type PartAnswer,
  type ReadPart,
  type ReadResult,
  type RecordContent,
} from './wire.ts';

const WAIT_FOR_TX_MS = 10_000;
/** How often abandoned prepared versions are looked for (they expire after PreparedLimits.ttlMs). */
const PREPARED_SWEEP_MS = 60_000;
/** How long a custodian waits for the requesting node's key to appear in its world state. */
const WAIT_FOR_NODE_KEY_MS = 2_000;
const NODE_KEY_FILE = 'node-hpke.key';
const JOURNAL_FILE = 'served-reads.sqlite';
const READ_BATCH_MAX = 40;
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 30_000;

export class RecordService {
  readonly blobs: BlobStore;
  readonly keys: KeyStore;
  readonly datasetKeys: KeyStore;
  private readonly rules: readonly SensitivityRule[];
  private readonly csvSplit: CsvSplitConfig;
  private readonly csvLimits: CsvLimits;
  /** Prepared versions not (yet) on chain: who, when, how many bytes (decision 1160). */
  readonly prepared: PreparedVersions;
  /** Prepared datasets not (yet) listed on chain, kept as version 1 of their id: bounded and swept the same way. */
  readonly preparedDatasets: PreparedVersions;
  private readonly cleanups: (() => void)[] = [];
  private shredding: Promise<void> = Promise.resolve();
  /** This node's HPKE key pair; the private half never leaves this object. */
  private readonly nodeKey: HpkeKeyPair;
  private nodeCallerCache: HealthCaller | null = null;
  /** Resolves true once this node's key is on chain (false: publication off, or closed first). */
  private publication: Promise<boolean> = Promise.resolve(false);
  private readonly audit: Required<Omit<ServedReadAuditOptions, 'caller'>> & { caller: HealthCaller | null };
  /** The served-read audit (decision 1152). */
  private readonly recorder: ServedReadRecorder;
  /** Datasets and statistics. */
  private readonly datasets: DatasetCustodian;
  private stopping = false;
  private closed = false;

  constructor(
    readonly node: MedLedgerNode,
    private readonly options: RecordServiceOptions = {},
  ) {
    const dir = options.dir ?? join(node.nodeConfig.node.dataDir, 'records');
    this.blobs = new FsBlobStore(dir);
    const kek = loadOrCreateKek(join(dir, 'kek'));
    this.keys = new KeyStore(dir, kek);
    this.datasetKeys = new KeyStore(join(dir, 'datasets'), kek);
    this.rules = options.rules ?? DEFAULT_SENSITIVITY_RULES;
    // Column rules are data a hospital supplies: validate them like any other input.
    this.csvSplit = options.csvSplit ? csvSplitConfigSchema.parse(options.csvSplit) : DEFAULT_CSV_SPLIT;
    this.csvLimits = { ...CSV_LIMITS_DEFAULT, ...options.csvLimits };
    // Sweep no earlier than a transaction timestamped before the expiry could still be admitted.
    const skewMs = node.peer?.ledger.config.ordering.clockSkewMsMax;
    this.prepared = new PreparedVersions({
      ...PREPARED_LIMITS_DEFAULT,
      ...(skewMs !== undefined ? { sweepGraceMs: skewMs + 60_000 } : {}),
      ...options.preparedLimits,
    });
    this.preparedDatasets = new PreparedVersions(
      { ...PREPARED_DATASET_LIMITS_DEFAULT, ...(skewMs !== undefined ? { sweepGraceMs: skewMs + 60_000 } : {}), ...options.preparedDatasetLimits },
      { noun: 'datasets', settle: 'register them (health.registerDataset)' },
    );
    this.nodeKey = loadOrCreateNodeKey(join(dir, NODE_KEY_FILE));
    const a = options.recordServedReads === false ? null : (options.recordServedReads ?? {});
    this.audit = {
      caller: a?.caller ?? null,
      flushMs: a?.flushMs ?? 500,
      batchMax: Math.max(1, Math.min(READ_BATCH_MAX, a?.batchMax ?? READ_BATCH_MAX)),
      journalCapacity: a?.journalCapacity ?? JOURNAL_CAPACITY_DEFAULT,
      retryBaseMs: a?.retryBaseMs ?? RETRY_BASE_MS,
      retryMaxMs: a?.retryMaxMs ?? RETRY_MAX_MS,
    };
    const journal = a ? new ServedReadJournal<ServedReadEvent>(join(dir, JOURNAL_FILE), this.audit.journalCapacity) : null;
    this.recorder = new ServedReadRecorder(journal, this.audit, () => this.auditCaller(), node.log);
    this.datasets = new DatasetCustodian({
      node,
      blobs: this.blobs,
      datasetKeys: this.datasetKeys,
      preparedDatasets: this.preparedDatasets,
      state: (key) => this.state(key),
      nodeOf: (org) => this.nodeOf(org),
      deleteBlobs: (cids) => this.deleteBlobs(cids),
      isClosed: () => this.closed,
      fetchDownload: (txId, user) => this.fetchDownload(txId, user),
    });
  }

  /** This node's HPKE public key (what it publishes on chain). */
  get publicKey(): Bytes {
    return this.nodeKey.publicKey;
  }

  /** The served-read journal's state (for status and tests). */
  auditBacklog(): AuditBacklog {
    return this.recorder.backlog();
  }

  /** The identity this node signs its own transactions with. */
  private nodeCaller(): HealthCaller {
    if (this.options.nodeCaller) return this.options.nodeCaller;
    if (!this.nodeCallerCache) {
      const id = this.node.nodeConfig.identity;
      this.nodeCallerCache = gatewayCaller(this.node, readPem(id.cert, 'node certificate'), readPem(id.key, 'node key'));
    }
    return this.nodeCallerCache;
  }

  private auditCaller(): HealthCaller {
    return this.audit.caller ?? this.nodeCaller();
  }

  /** Create the service and register its request channels and its shredding on commit. */
  static attach(node: MedLedgerNode, options: RecordServiceOptions = {}): RecordService {
    const s = new RecordService(node, options);
    node.handleRequests(RECORDS_CHANNEL, (from, payload) => s.servePart(from, payload));
    node.handleRequests(STATS_CHANNEL, (from, payload) => s.servePartial(from, payload));
    if (node.peer) {
      s.cleanups.push(
        node.subscribeBlocks(node.height() + 1, () => {
          s.shredding = s.shredding.then(() => s.shredErased()).catch((err: Error) => node.log.error({ reason: err.message }, 'crypto-shredding failed'));
        }),
      );
    }
    // Records erased while this node was down.
    s.shredding = s.shredErased().catch((err: Error) => node.log.error({ reason: err.message }, 'crypto-shredding failed'));
    if (node.peer) {
      // Prepared versions from before a restart keep their preparer and age (key store), then are swept as usual.
      s.restorePrepared();
      s.datasets.restorePreparedDatasets();
      const sweep = (): void => {
        s.sweepPrepared().catch((err: Error) => node.log.error({ reason: err.message }, 'sweeping prepared versions failed'));
        s.sweepPreparedDatasets().catch((err: Error) => node.log.error({ reason: err.message }, 'sweeping prepared datasets failed'));
      };
      sweep();
      const timer = setInterval(sweep, options.preparedSweepMs ?? PREPARED_SWEEP_MS);
      timer.unref();
      s.cleanups.push(() => clearInterval(timer));
    }
    if (node.peer && options.publishNodeKey !== false) s.publication = s.publishNodeKeyUntilDone();
    // Served reads journaled before a crash or restart: record them now.
    s.recorder.replayPending();
    return s;
  }

  /**
   * Stop: unsubscribe, and (unless `flush` is false) try once more to record pending served reads.
   * Whatever is not recorded stays in the journal for the next start.
   */
  async close(opts: { flush?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.stopping = true;
    for (const c of this.cleanups) c();
    this.recorder.stop();
    await this.recorder.settle(opts.flush !== false);
    await this.shredding;
    await this.publication;
    this.closed = true;
    this.recorder.close();
  }

  // ---- this node's HPKE key on chain (decision 1150) ----------------------------------------

  private publishedKeyOf(org: string, nodeId: string): Bytes | null {
    const entry = this.state<{ publicKey?: string }>(`nk|${org}|${nodeId}`);
    if (typeof entry?.publicKey !== 'string' || !/^[0-9a-f]{64}$/.test(entry.publicKey)) return null;
    return new Uint8Array(Buffer.from(entry.publicKey, 'hex'));
  }

  /** Publish this node's key when this node's chain does not show it; retry with backoff until done or closed. */
  private async publishNodeKeyUntilDone(): Promise<boolean> {
    const mine = Buffer.from(this.nodeKey.publicKey).toString('hex');
    for (let attempt = 1; !this.stopping; attempt++) {
      try {
        const onChain = this.publishedKeyOf(this.node.org, this.node.nodeId);
        if (onChain && Buffer.from(onChain).equals(Buffer.from(this.nodeKey.publicKey))) return true;
        const r = await this.nodeCaller().submit('publishNodeKey', { org: this.node.org, nodeId: this.node.nodeId, publicKey: mine });
        this.node.log.info(
          { fingerprint: keyFingerprint(this.nodeKey.publicKey), txId: r.txId, replaced: r.payload['previous'] ?? null },
          'node HPKE key published on chain',
        );
        return true;
      } catch (err) {
        const delayMs = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(attempt, 10));
        this.node.log.warn({ attempt, delayMs, reason: (err as Error).message }, 'node HPKE key not published yet; retrying');
        await this.sleepUnlessStopping(delayMs);
      }
    }
    return false;
  }

  private async sleepUnlessStopping(ms: number): Promise<void> {
    const stepMs = 50;
    for (let waited = 0; waited < ms && !this.stopping; waited += stepMs) await new Promise((r) => setTimeout(r, Math.min(stepMs, ms - waited)).unref());
  }

  /** Resolves true once this node's HPKE key is on chain (false if publication is off or was abandoned). */
  async nodeKeyPublished(timeoutMs = WAIT_FOR_TX_MS): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), timeoutMs);
    });
    try {
      return await Promise.race([this.publication, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---- chain access (this node's own copy) ----------------------------------------------------

  private state<T>(key: string): T | undefined {
    const peer = this.node.peer;
    if (!peer) throw new RecordError('this node has no peer: it holds no copy of the chain', 'UNAVAILABLE');
    const e = peer.ledger.reader.get(HEALTH_CONTRACT, key);
    return e ? (JSON.parse(Buffer.from(e.value).toString('utf8')) as T) : undefined;
  }

  private nodeOf(org: string): string {
    const n = (this.node.config.nodes ?? []).find((x) => x.org === org && x.roles.includes('peer'));
    if (!n) throw new RecordError(`no node of ${org} holds records`, 'UNAVAILABLE');
    return n.id;
  }

  /**
   * The committed `access` transaction `txId`, checked on this node's chain: VALID, a health
   * `access` call, allowed, recent, by a user of `creatorOrg` (and exactly `creatorUser` when
   * given). Returns what it released.
   */
  private async releasedBy(txId: string, check: { creatorOrg: string; creatorUser?: string; kind?: Released['kind'] }): Promise<Released> {
    const peer = this.node.peer;
    if (!peer) throw new RecordError('this node has no peer', 'UNAVAILABLE');
    let status = peer.ledger.txStatus(txId);
    if (!status) {
      await peer.waitForTx(txId, WAIT_FOR_TX_MS).catch(() => undefined);
      status = peer.ledger.txStatus(txId);
    }
    // Unknown (after the wait) is not a refusal: nothing on this chain decided anything about it.
    if (!status) throw new RecordError(`access transaction ${txId} is not on this node's chain`, 'NOT_FOUND');
    if (status.code !== 'VALID') throw new RecordError(`access transaction ${txId} is ${status.code}, not VALID`, 'DENIED');
    const envelope = peer.ledger.getBlock(status.block).block.data[status.position];
    if (!envelope) throw new RecordError(`access transaction ${txId} is missing from block ${status.block}`, 'DENIED');
    const tx = parseTx(envelope);
    // A record's parts are released by `access`, a dataset version by `downloadDataset` (decision 1260).
    const kind = tx.proposal.fn === 'downloadDataset' ? 'dataset' : 'record';
    if (tx.proposal.contract !== HEALTH_CONTRACT || !['access', 'downloadDataset'].includes(tx.proposal.fn))
      throw new RecordError(`transaction ${txId} is not a health access decision`, 'DENIED');
    if (check.kind !== undefined && check.kind !== kind)
      throw new RecordError(`transaction ${txId} released a ${kind}, not a ${check.kind}: ask for it through the ${kind} route`, 'DENIED');
    const who = this.node.msp.identify(tx.proposal.creator);
    if (who.org !== check.creatorOrg || (check.creatorUser !== undefined && `${who.org}/${who.id}` !== check.creatorUser)) {
      throw new RecordError(
        `access transaction ${txId} was made by ${who.org}/${who.id}, not by ${check.creatorUser ?? `a user of ${check.creatorOrg}`}`,
        'DENIED',
      );
    }
    if (Date.now() - tx.proposal.timestampMs > ACCESS_TICKET_TTL_MS)
      throw new RecordError(`access transaction ${txId} is older than ${ACCESS_TICKET_TTL_MS / 60_000} minutes: ask again`, 'DENIED');
    const answer = JSON.parse(Buffer.from(tx.response.result.payload).toString('utf8')) as {
      allowed?: boolean;
      record?: Omit<Released, 'kind'>;
      dataset?: { datasetId: string; version: number; custodian: string; cid: string; commitment: string | null; mediaType: string | null; sizeBytes: number };
      selection?: DatasetSelection | null;
      reasons?: string[];
      session?: { notice?: string | null } | null;
    };
    // A refusal carries the contract's BMRS session notice (a dead session and who revives it) to every face.
    if (answer.allowed !== true)
      throw new RecordError(
        `access was denied: ${[...(answer.reasons ?? []), ...(answer.session?.notice ? [answer.session.notice] : [])].join('; ')}`,
        'DENIED',
      );
    if (kind === 'dataset') {
      const d = answer.dataset;
      if (!d) throw new RecordError(`download transaction ${txId} released no dataset`, 'DENIED');
      return {
        kind,
        recordId: d.datasetId,
        version: d.version,
        custodian: d.custodian,
        parts: [{ sensitivity: 'normal', cid: d.cid, sizeBytes: d.sizeBytes, mediaType: d.mediaType ?? 'text/csv', commitment: d.commitment ?? '' }],
        selection: answer.selection ?? null,
      };
    }
    if (!answer.record) throw new RecordError(`access transaction ${txId} released no content (only an allowed read or share does)`, 'DENIED');
    return { kind, ...answer.record };
  }

  // ---- create / update ------------------------------------------------------------------------

  /** The pieces of a record's content, validated and split by sensitivity (nothing stored yet). */
  private piecesOf(recordId: string, content: RecordContent): { category: string; pieces: { sensitivity: Sensitivity; mediaType: string; bytes: Bytes }[] } {
    const pieces: { sensitivity: Sensitivity; mediaType: string; bytes: Bytes }[] = [];
    if (content.kind === 'fhir') {
      let resource: Record<string, unknown>;
      try {
        resource = validateFhir(content.resource) as unknown as Record<string, unknown>;
      } catch (err) {
        if (err instanceof FhirValidationError) throw new RecordError(`record ${recordId}: ${err.message}`, 'INVALID_CONTENT', err.issues);
        throw err;
      }
      for (const p of splitBySensitivity(resource, this.rules))
        pieces.push({ sensitivity: p.sensitivity, mediaType: 'application/fhir+json', bytes: utf8(JSON.stringify(p.resource)) });
      return { category: String(resource['resourceType']), pieces };
    }
    if (!/^[a-z]+\/[a-z0-9][a-z0-9.+-]{0,99}$/.test(content.mediaType))
      throw new RecordError(`record ${recordId}: invalid media type ${JSON.stringify(content.mediaType.slice(0, 60))}`, 'INVALID_CONTENT');
    if (content.mediaType === 'text/csv') {
      // Tabular: split column by column (decision 1161); the declared level is every column's floor.
      const split = csvOrError(
        () => splitCsv(content.bytes, { config: this.csvSplit, codeRules: this.rules, floor: content.sensitivity ?? 'normal', limits: this.csvLimits }),
        `record ${recordId}: CSV`,
      );
      for (const p of split.parts) pieces.push({ sensitivity: p.sensitivity, mediaType: 'text/csv', bytes: p.bytes });
    } else {
      // Binary (PDF, images, …): no structure to cut along; one part at the declared level.
      pieces.push({ sensitivity: content.sensitivity ?? 'normal', mediaType: content.mediaType, bytes: content.bytes });
    }
    return { category: 'file', pieces };
  }

  /** The record's version on this node's chain (null: not on chain). */
  private chainVersion(recordId: string): { version: number; erased: boolean } | null {
    const r = this.state<{ version?: number; erased?: boolean }>(`rec|${recordId}`);
    return r ? { version: r.version ?? 0, erased: r.erased === true } : null;
  }

  private isCommitted(recordId: string, version: number): boolean {
    const c = this.chainVersion(recordId);
    return c !== null && (c.erased || c.version >= version);
  }

  /** The unexpired claim of the user who prepared (recordId, version), if any (decision 1050). */
  preparedHolder(recordId: string, version: number, nowMs = Date.now()): PreparedEntry | undefined {
    return this.prepared.holder(recordId, version, nowMs);
  }

  /**
   * Seal and store the parts of version `version` for `preparedBy`; returns the on-chain part
   * entries and when the prepared version expires. Bounded (PreparedLimits → RecordError LIMIT);
   * the reservation is taken synchronously, before the first await, so concurrent prepares
   * cannot both pass a limit. A failure stores nothing.
   */
  async prepareParts(
    recordId: string,
    version: number,
    content: RecordContent,
    opts: { preparedBy?: string } = {},
  ): Promise<{ category: string; parts: Part[]; expiresAtMs: number }> {
    const { category, pieces } = this.piecesOf(recordId, content);
    for (const piece of pieces) {
      if (piece.bytes.byteLength > CONTENT_BYTES_MAX)
        throw new RecordError(`record ${recordId}: a part of ${piece.bytes.byteLength} bytes exceeds ${CONTENT_BYTES_MAX}`, 'INVALID_CONTENT');
    }
    if (this.isCommitted(recordId, version)) throw new RecordError(`version ${version} of ${recordId} is already on chain`, 'REFUSED');
    const user = opts.preparedBy ?? 'unknown';
    const nowMs = Date.now();
    const freed = this.expirePrepared(nowMs);
    const existing = this.prepared.get(recordId, version);
    if (existing) {
      if (existing.storing) throw new RecordError(`version ${version} of ${recordId} is being prepared right now; try again in a moment`, 'REFUSED');
      if (existing.user !== user && !this.prepared.isAbandoned(existing, nowMs))
        throw new RecordError(`version ${version} of ${recordId} is being written by ${existing.user}`, 'REFUSED');
    }
    // Preparing a version again replaces it: its earlier blobs and keys go (they would be orphans).
    if (existing || this.keys.cids(recordId, version).length > 0) freed.push(...this.dropPrepared(recordId, version));
    let entry: PreparedEntry;
    try {
      entry = this.prepared.reserve(
        recordId,
        version,
        user,
        pieces.reduce((n, p) => n + p.bytes.byteLength + SEAL_OVERHEAD_BYTES, 0),
        nowMs,
      );
    } catch (err) {
      void this.deleteBlobs(freed);
      if (err instanceof PreparedLimitError) throw new RecordError(err.message, 'LIMIT');
      throw err;
    }
    await this.deleteBlobs(freed);
    const parts: Part[] = [];
    try {
      for (const piece of pieces) {
        const dataKey = newDataKey();
        const sealed = seal(dataKey, piece.bytes, KeyStore.aad(recordId, version, piece.sensitivity));
        const cid = await this.blobs.put(sealed);
        this.keys.put(recordId, version, piece.sensitivity, cid, dataKey, { preparedBy: user, atMs: nowMs, sizeBytes: sealed.byteLength });
        parts.push({
          sensitivity: piece.sensitivity,
          cid,
          sizeBytes: sealed.byteLength,
          mediaType: piece.mediaType,
          commitment: Buffer.from(commit(commitmentKeyOf(dataKey), piece.bytes)).toString('hex'),
        });
      }
    } catch (err) {
      await this.deleteBlobs(this.dropPrepared(recordId, version));
      throw err;
    }
    entry.sizeBytes = parts.reduce((n, p) => n + p.sizeBytes, 0);
    entry.storing = false;
    return { category, parts, expiresAtMs: this.prepared.expiresAtMs(entry) };
  }

  /**
   * Forget a version that is not on chain: its wrapped keys (synchronously) and its bookkeeping;
   * returns its blobs' CIDs for deletion. A version the chain holds is never touched on disk.
   */
  private dropPrepared(recordId: string, version: number): string[] {
    this.prepared.delete(recordId, version);
    if (this.isCommitted(recordId, version)) return [];
    const cids = this.keys.cids(recordId, version);
    this.keys.dropVersion(recordId, version);
    return cids;
  }

  private async deleteBlobs(cids: readonly string[]): Promise<void> {
    for (const cid of cids) {
      try {
        await this.blobs.delete(cid);
      } catch (err) {
        this.node.log.warn({ cid, reason: (err as Error).message }, 'could not delete a discarded blob');
      }
    }
  }

  /**
   * Synchronous half of the sweep: entries now on chain leave the bookkeeping (their content
   * stays); expired ones not on chain lose their keys. Returns the blobs to delete.
   */
  private expirePrepared(nowMs: number): string[] {
    const cids: string[] = [];
    for (const e of this.prepared.all()) {
      if (e.storing) continue;
      if (this.isCommitted(e.recordId, e.version)) {
        this.prepared.delete(e.recordId, e.version);
        continue;
      }
      if (!this.prepared.isAbandoned(e, nowMs)) continue;
      cids.push(...this.dropPrepared(e.recordId, e.version));
      this.node.log.info({ recordId: e.recordId, version: e.version, preparedBy: e.user, ageMs: nowMs - e.atMs }, 'abandoned prepared version swept');
    }
    return cids;
  }

  /**
   * Delete prepared versions that expired without reaching the chain (blobs and wrapped keys);
   * forget the bookkeeping of those that did. `nowMs` is for tests. Returns what was swept.
   */
  async sweepPrepared(nowMs = Date.now()): Promise<{ swept: number; blobs: number }> {
    if (!this.node.peer || this.closed) return { swept: 0, blobs: 0 };
    const before = this.prepared.usage().count;
    const cids = this.expirePrepared(nowMs);
    const after = this.prepared.usage().count;
    await this.deleteBlobs(cids);
    return { swept: before - after, blobs: cids.length };
  }

  /** Rebuild the prepared-version bookkeeping from the key store (start-up). */
  private restorePrepared(): void {
    const nowMs = Date.now();
    for (const recordId of this.keys.recordIds()) {
      let entries: KeyEntryInfo[];
      try {
        entries = this.keys.entries(recordId);
      } catch (err) {
        this.node.log.warn({ recordId, reason: (err as Error).message }, 'unreadable key file skipped');
        continue;
      }
      const chain = this.chainVersion(recordId);
      if (chain?.erased) continue;
      const byVersion = new Map<number, KeyEntryInfo[]>();
      for (const e of entries) if (e.version > (chain?.version ?? 0)) byVersion.set(e.version, [...(byVersion.get(e.version) ?? []), e]);
      for (const [version, es] of byVersion) {
        // A version prepared before preparers were recorded: its clock starts now.
        this.prepared.restore({
          recordId,
          version,
          user: es[0]?.preparedBy ?? 'unknown',
          atMs: Math.min(...es.map((e) => e.atMs ?? nowMs)),
          sizeBytes: es.reduce((n, e) => n + (e.sizeBytes ?? 0), 0),
        });
      }
    }
  }

  /** Undo prepareParts (the contract refused the write, or its preparer gave up). Never a version on chain. */
  async discardVersion(recordId: string, version: number): Promise<void> {
    if (this.isCommitted(recordId, version)) throw new RecordError(`version ${version} of ${recordId} is on chain; erase the record instead`, 'REFUSED');
    await this.deleteBlobs(this.dropPrepared(recordId, version));
  }

  async create(caller: HealthCaller, a: { recordId: string; patient: string; content: RecordContent; purpose?: string }): Promise<Record<string, unknown>> {
    if (this.keys.cids(a.recordId).length > 0) throw new RecordError(`record ${a.recordId} already has content on this node`, 'REFUSED');
    const { category, parts, expiresAtMs } = await this.prepareParts(a.recordId, 1, a.content, { preparedBy: caller.user });
    try {
      const r = await caller.submit('createRecord', {
        recordId: a.recordId,
        patient: a.patient,
        category,
        parts,
        purpose: a.purpose ?? 'TREAT',
        notAfterMs: expiresAtMs,
      });
      if (r.payload['allowed'] !== true) {
        await this.discardVersion(a.recordId, 1);
        throw new RecordError(`createRecord ${a.recordId} denied: ${String((r.payload['reasons'] as string[] | undefined)?.join('; '))}`, 'DENIED');
      }
      return { txId: r.txId, ...r.payload, sensitivity: maxLevel(parts.map((p) => p.sensitivity)) };
    } catch (err) {
      // The submission may still have committed (e.g. a commit timeout): discardVersion then refuses, keeping the content.
      if (!(err instanceof RecordError)) await this.discardVersion(a.recordId, 1).catch(() => undefined);
      throw err;
    }
  }

  async update(caller: HealthCaller, a: { recordId: string; content: RecordContent; purpose?: string }): Promise<Record<string, unknown>> {
    const current = this.state<{ version?: number; custodian?: string; erased?: boolean }>(`rec|${a.recordId}`);
    if (!current || current.erased) throw new RecordError(`record ${a.recordId} does not exist${current?.erased ? ' (erased)' : ''}`, 'NOT_FOUND');
    if (current.custodian !== this.node.org)
      throw new RecordError(`record ${a.recordId} is held by ${current.custodian}; update it through that hospital's node`, 'REFUSED');
    const version = (current.version ?? 0) + 1;
    const { parts, expiresAtMs } = await this.prepareParts(a.recordId, version, a.content, { preparedBy: caller.user });
    try {
      const r = await caller.submit('updateRecord', { recordId: a.recordId, parts, purpose: a.purpose ?? 'TREAT', notAfterMs: expiresAtMs });
      if (r.payload['allowed'] !== true) {
        await this.discardVersion(a.recordId, version);
        throw new RecordError(`updateRecord ${a.recordId} denied: ${String((r.payload['reasons'] as string[] | undefined)?.join('; '))}`, 'DENIED');
      }
      return { txId: r.txId, ...r.payload };
    } catch (err) {
      // The submission may still have committed (e.g. a commit timeout): discardVersion then refuses, keeping the content.
      if (!(err instanceof RecordError)) await this.discardVersion(a.recordId, version).catch(() => undefined);
      throw err;
    }
  }

  // ---- read -----------------------------------------------------------------------------------

  /** Decide on chain (the user's `access`), then fetch and verify what it released. */
  async read(
    caller: HealthCaller,
    a: { recordId: string; purpose: string; reason?: string; sensitivity?: Sensitivity; version?: number },
  ): Promise<ReadResult> {
    const req: Record<string, unknown> = { recordId: a.recordId, action: 'read', purpose: a.purpose };
    if (a.reason !== undefined) req['reason'] = a.reason;
    if (a.sensitivity !== undefined) req['sensitivity'] = a.sensitivity;
    if (a.version !== undefined) req['version'] = a.version;
    const r = await caller.submit('access', req);
    if (r.payload['allowed'] !== true)
      return { allowed: false, txId: r.txId, decision: r.payload, recordId: a.recordId, version: null, custodian: null, parts: [], csv: null };
    const fetched = await this.fetchReleased(r.txId, caller.user);
    const csv =
      fetched.parts.length > 0 && fetched.parts.every((p) => p.mediaType === 'text/csv')
        ? csvOrError(() => joinCsvParts(fetched.parts), `record ${a.recordId}: the released CSV parts cannot be re-joined`)
        : null;
    return {
      allowed: true,
      txId: r.txId,
      decision: r.payload,
      recordId: a.recordId,
      version: fetched.version,
      custodian: fetched.custodian,
      parts: fetched.parts,
      csv,
    };
  }

  /** The content released by the committed access transaction `txId` of `user` (this node's org). */
  async fetchReleased(txId: string, user: string): Promise<{ version: number; custodian: string; parts: ReadPart[] }> {
    const released = await this.releasedBy(txId, { creatorOrg: this.node.org, creatorUser: user, kind: 'record' });
    return { version: released.version, custodian: released.custodian, parts: await this.fetchParts(txId, released) };
  }

  /**
   * The dataset version released by the committed `downloadDataset` transaction `txId` of `user`
   * (this node's organisation), fetched like a record's part — locally, or from the custodian against
   * the transaction's ticket — and checked here against its CID and keyed commitment (decision 1260).
   */
  async fetchDownload(txId: string, user: string): Promise<VerifiedDownload> {
    const released = await this.releasedBy(txId, { creatorOrg: this.node.org, creatorUser: user, kind: 'dataset' });
    const [part] = await this.fetchParts(txId, released);
    const listed = released.parts[0];
    if (!part || !listed) throw new RecordError(`download ${txId} released no content`, 'DENIED');
    return {
      datasetId: released.recordId,
      version: released.version,
      custodian: released.custodian,
      mediaType: part.mediaType === 'application/fhir+json' ? 'application/fhir+json' : 'text/csv',
      cid: part.cid,
      content: part.content,
      commitmentChecked: listed.commitment !== '',
      selection: released.selection ?? null,
    };
  }

  /** Fetch and verify every part `released` lists (for a dataset, its one version). */
  private async fetchParts(txId: string, released: Released): Promise<ReadPart[]> {
    const out: ReadPart[] = [];
    // A custodian wraps data keys only to this node's key as its chain shows it: make sure it is there.
    if (released.custodian !== this.node.org && this.options.publishNodeKey !== false) await this.nodeKeyPublished();
    for (const part of released.parts) {
      const what = `${released.kind} ${released.recordId} v${released.version} (${part.sensitivity} part, ${part.cid})`;
      let sealed: Bytes;
      let dataKey: Bytes;
      if (released.custodian === this.node.org) {
        const local = await this.loadPart(released.kind, released.recordId, part.cid);
        if (!local.ok) throw local.integrity ? new IntegrityError(`${what}: ${local.error}`) : new RecordError(`${what}: ${local.error}`, 'UNAVAILABLE');
        sealed = local.sealed;
        dataKey = local.dataKey;
      } else {
        const answer = await this.requestPart(released.custodian, txId, released.recordId, part.cid);
        if (!answer.ok) throw answer.integrity ? new IntegrityError(`${what}: ${answer.error}`) : new RecordError(`${what}: ${answer.error}`, 'UNAVAILABLE');
        sealed = answer.sealed;
        dataKey = await this.unwrapReleasedKey(answer, {
          txId,
          recordId: released.recordId,
          version: released.version,
          sensitivity: part.sensitivity,
          cid: part.cid,
        });
      }
      // The custodian could be wrong or lying: check the address and the commitment ourselves.
      const cid = await cidOf(sealed);
      if (cid !== part.cid) throw new IntegrityError(`${what}: the custodian returned bytes addressed ${cid}`);
      // A dataset's key is stored under its media type (datasets.ts), a record part's under its level.
      const aadLevel = released.kind === 'dataset' ? part.mediaType : part.sensitivity;
      const plaintext = open(dataKey, sealed, KeyStore.aad(released.recordId, released.version, aadLevel), what);
      // A dataset listed before decision 1260 has no commitment: its CID (checked above) is the only proof.
      if (!(released.kind === 'dataset' && part.commitment === '')) {
        if (!checkCommitment(commitmentKeyOf(dataKey), plaintext, new Uint8Array(Buffer.from(part.commitment, 'hex'))))
          throw new IntegrityError(`${what}: content does not match its on-chain commitment`);
      }
      out.push({ sensitivity: part.sensitivity, mediaType: part.mediaType, cid: part.cid, content: plaintext });
    }
    return out;
  }

  /**
   * Requester side: the data key of a part a custodian released to this node, unwrapped with this
   * node's private key. `ctx` comes from this node's own view of the access transaction, so a key
   * wrapped for another part, ticket or node — or altered in transit — does not open.
   */
  async unwrapReleasedKey(
    answer: Extract<PartAnswer, { ok: true }>,
    ctx: { txId: string; recordId: string; version: number; sensitivity: string; cid: string },
  ): Promise<Bytes> {
    const what = `record ${ctx.recordId} v${ctx.version} (${ctx.sensitivity} part, ${ctx.cid})`;
    if (!Buffer.from(answer.recipientKey).equals(Buffer.from(this.nodeKey.publicKey))) {
      throw new IntegrityError(
        `${what}: the custodian wrapped the data key to key ${keyFingerprint(answer.recipientKey)}, but this node's key is ${keyFingerprint(this.nodeKey.publicKey)} (is the key on chain stale?)`,
      );
    }
    const aad = keyTransportAad({ ...ctx, recipientOrg: this.node.org, recipientNode: this.node.nodeId });
    try {
      return await unwrapAsRecipient(this.nodeKey.privateKey, answer.wrappedKey, aad);
    } catch (err) {
      throw new IntegrityError(
        `${what}: the wrapped data key failed to open with this node's key (tampered, or wrapped for another part or node): ${(err as Error).message}`,
      );
    }
  }

  private async loadPart(kind: Released['kind'], recordId: string, cid: string): Promise<LocalPart> {
    const key = (kind === 'dataset' ? this.datasetKeys : this.keys).get(recordId, cid);
    if (!key) return { ok: false, integrity: false, error: 'no key on the custodian (erased, or never stored here)' };
    let sealed: Bytes | null;
    try {
      sealed = await this.blobs.get(cid);
    } catch (err) {
      if (err instanceof IntegrityError) return { ok: false, integrity: true, error: err.message };
      throw err;
    }
    if (!sealed) return { ok: false, integrity: false, error: 'the blob is missing on the custodian' };
    return { ok: true, sealed, dataKey: key.dataKey, version: key.version, sensitivity: key.sensitivity };
  }

  private async requestPart(custodian: string, txId: string, recordId: string, cid: string): Promise<PartAnswer> {
    let raw: Bytes;
    try {
      raw = await this.node.request(this.nodeOf(custodian), RECORDS_CHANNEL, encode({ txId, recordId, cid }), REMOTE_TIMEOUT_MS);
    } catch (err) {
      return { ok: false, integrity: false, error: `custodian ${custodian} unreachable or refused: ${(err as Error).message}` };
    }
    return checkPartAnswer(raw, custodian);
  }

  /**
   * Custodian side of 'records': release a part only if this node's own chain holds a VALID,
   * recent, allowed access transaction by a user of the requesting node's organisation that
   * released exactly this CID — and only after the served read is durably journaled for the
   * on-chain audit. The blob stays sealed; its data key is HPKE-wrapped to the requesting node's
   * key as published on this node's chain (never a key named in the request).
   */
  async servePart(from: string, payload: Bytes): Promise<Bytes> {
    const parsed = partRequestSchema.safeParse(decode(payload));
    if (!parsed.success) return encode({ ok: false, integrity: false, error: 'malformed part request' } satisfies PartAnswer);
    const { txId, recordId, cid } = parsed.data;
    const fromOrg = (this.node.config.nodes ?? []).find((n) => n.id === from)?.org;
    try {
      if (!fromOrg) throw new RecordError(`unknown node ${from}`, 'DENIED');
      const released = await this.releasedBy(txId, { creatorOrg: fromOrg });
      if (released.recordId !== recordId || released.custodian !== this.node.org)
        throw new RecordError(`access ${txId} is for record ${released.recordId} at ${released.custodian}`, 'DENIED');
      const part = released.parts.find((p) => p.cid === cid);
      if (!part) throw new RecordError(`access ${txId} did not release part ${cid}`, 'DENIED');
      // Serve only what can be recorded: the part must be on the transaction's on-chain ticket, the
      // only thing this node's `recordReads` may name (decision 1153). The same transaction wrote
      // both; an access from before tickets has none, and is not served.
      const ticket = this.state<AccessTicket>(`tk|${txId}`);
      if (!ticket || ticket.custodian !== this.node.org || !ticket.released.includes(part.sensitivity)) {
        throw new RecordError(`access ${txId} left no ticket on this node's chain for its ${part.sensitivity} part: ask again`, 'DENIED');
      }
      const recipientKey = await this.recipientKeyOf(fromOrg, from);
      const local = await this.loadPart(released.kind, recordId, cid);
      if (!local.ok) {
        // Nothing is released; still journal what was asked for and refused, if there is room.
        try {
          this.recorder.note(txId, part.sensitivity, 'deny');
        } catch (err) {
          this.node.log.warn({ txId, reason: (err as Error).message }, 'refused part request not journaled');
        }
        return encode(local satisfies PartAnswer);
      }
      // Journal first (durably), release second: a crash in between over-reports, never under-reports.
      this.recorder.note(txId, part.sensitivity, 'allow');
      const aad = keyTransportAad({
        txId,
        recordId,
        version: released.version,
        sensitivity: part.sensitivity,
        cid,
        recipientOrg: fromOrg,
        recipientNode: from,
      });
      const wrappedKey = await wrapForRecipient(recipientKey, local.dataKey, aad);
      return encode({ ok: true, sealed: local.sealed, wrappedKey, recipientKey, version: local.version, sensitivity: local.sensitivity } satisfies PartAnswer);
    } catch (err) {
      this.node.log.warn({ from, txId, recordId, reason: (err as Error).message }, 'record part refused');
      return encode({ ok: false, integrity: false, error: (err as Error).message } satisfies PartAnswer);
    }
  }

  /** The requesting node's published HPKE key, from this node's own world state (it may be a block behind). */
  private async recipientKeyOf(org: string, nodeId: string): Promise<Bytes> {
    const deadline = Date.now() + WAIT_FOR_NODE_KEY_MS;
    for (;;) {
      const key = this.publishedKeyOf(org, nodeId);
      if (key) return key;
      if (Date.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new RecordError(
      `node ${nodeId} of ${org} has no HPKE key published on chain: the custodian cannot wrap the data key for it (a node publishes its key when its record service starts)`,
      'DENIED',
    );
  }

  /** Record journaled served reads on chain now (see ServedReadRecorder.drain). */
  drain(): Promise<boolean> {
    return this.recorder.drain();
  }

  // ---- list / erase ---------------------------------------------------------------------------

  async list(caller: HealthCaller, a: { patient: string; purpose?: string; pageSize?: number; bookmark?: string }): Promise<unknown> {
    return caller.evaluate('listPatientRecords', {
      patient: a.patient,
      purpose: a.purpose ?? 'TREAT',
      ...(a.pageSize ? { pageSize: a.pageSize } : {}),
      ...(a.bookmark ? { bookmark: a.bookmark } : {}),
    });
  }

  /**
   * Erase on chain (the contract decides who may), then crypto-shred here if this node is the
   * custodian; any other custodian shreds when its chain shows the tombstone (shredErased).
   */
  async erase(caller: HealthCaller, recordId: string): Promise<Record<string, unknown>> {
    const r = await caller.submit('eraseRecord', { recordId });
    await this.shredErased();
    return { txId: r.txId, ...r.payload };
  }

  /** Shred every record whose on-chain entry is an erasure tombstone. Idempotent. */
  async shredErased(): Promise<void> {
    if (!this.node.peer) return;
    for (const id of this.keys.recordIds()) {
      const entry = this.state<{ erased?: boolean }>(`rec|${id}`);
      if (!entry?.erased) continue;
      const cids = this.keys.shred(id);
      for (const cid of cids) await this.blobs.delete(cid);
      this.node.log.info({ recordId: id, blobs: cids.length }, 'record crypto-shredded');
    }
    // Deleted datasets, the same way (decision 1260).
    await this.datasets.shredDeleted();
  }

  // ---- datasets and statistics (datasets.ts) ----------------------------------------------------

  preparedDatasetHolder(...a: Parameters<DatasetCustodian['preparedDatasetHolder']>): ReturnType<DatasetCustodian['preparedDatasetHolder']> {
    return this.datasets.preparedDatasetHolder(...a);
  }

  prepareDataset(...a: Parameters<DatasetCustodian['prepareDataset']>): ReturnType<DatasetCustodian['prepareDataset']> {
    return this.datasets.prepareDataset(...a);
  }

  sweepPreparedDatasets(...a: Parameters<DatasetCustodian['sweepPreparedDatasets']>): ReturnType<DatasetCustodian['sweepPreparedDatasets']> {
    return this.datasets.sweepPreparedDatasets(...a);
  }

  registerDataset(...a: Parameters<DatasetCustodian['registerDataset']>): ReturnType<DatasetCustodian['registerDataset']> {
    return this.datasets.registerDataset(...a);
  }

  updateDataset(...a: Parameters<DatasetCustodian['updateDataset']>): ReturnType<DatasetCustodian['updateDataset']> {
    return this.datasets.updateDataset(...a);
  }

  deleteDataset(...a: Parameters<DatasetCustodian['deleteDataset']>): ReturnType<DatasetCustodian['deleteDataset']> {
    return this.datasets.deleteDataset(...a);
  }

  downloadDataset(...a: Parameters<DatasetCustodian['download']>): ReturnType<DatasetCustodian['download']> {
    return this.datasets.download(...a);
  }

  downloadContent(...a: Parameters<DatasetCustodian['downloadContent']>): ReturnType<DatasetCustodian['downloadContent']> {
    return this.datasets.downloadContent(...a);
  }

  servePartial(...a: Parameters<DatasetCustodian['servePartial']>): ReturnType<DatasetCustodian['servePartial']> {
    return this.datasets.servePartial(...a);
  }

  statistics(...a: Parameters<DatasetCustodian['statistics']>): ReturnType<DatasetCustodian['statistics']> {
    return this.datasets.statistics(...a);
  }

  computeStatistics(...a: Parameters<DatasetCustodian['computeStatistics']>): ReturnType<DatasetCustodian['computeStatistics']> {
    return this.datasets.computeStatistics(...a);
  }

  nextVersion(recordId: string): number {
    const current = this.state<{ version?: number; custodian?: string; erased?: boolean }>(`rec|${recordId}`);
    if (!current) return 1;
    if (current.erased) throw new RecordError(`record ${recordId} was erased`, 'NOT_FOUND');
    if (current.custodian !== this.node.org)
      throw new RecordError(`record ${recordId} is held by ${current.custodian}; write it through that hospital's node`, 'REFUSED');
    return (current.version ?? 0) + 1;
  }
}
