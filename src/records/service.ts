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
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import { decode, encode, jsonNestingDepth, utf8, type Bytes } from '../codec/index.ts';
import { AnalyticsError, combine, effectiveMinCohort, exactAggregateOf, finalize, releasedPartialSchema, releasePartial, type HistogramSpec, type ReleasedPartial, type Statistics } from '../analytics/aggregate.ts';
import { CODE_RE, HEALTH_CONTRACT, readEventSchema, type AccessTicket, type Part, type Sensitivity } from '../contracts/health/index.ts';
import { FHIR_NESTING_DEPTH_MAX, FhirValidationError, validateFhir, type FhirIssue } from '../fhir/validate.ts';
import { parseTx } from '../ledger/tx.ts';
import { readPem } from '../node/config.ts';
import type { MedLedgerNode } from '../node/node.ts';
import { checkCommitment, cidOf, commit, FsBlobStore, IntegrityError, newDataKey, open, seal, unwrapAsRecipient, wrapForRecipient, type BlobStore, type HpkeKeyPair, type WrappedKey } from '../offchain/index.ts';
import { gatewayCaller, type HealthCaller } from './caller.ts';
import { KeyStore, loadOrCreateKek, type KeyEntryInfo } from './keystore.ts';
import { keyFingerprint, loadOrCreateNodeKey, X25519_KEY_BYTES } from './nodekey.ts';
import { JOURNAL_CAPACITY_DEFAULT, JournalFullError, ServedReadJournal } from './readjournal.ts';
import { CSV_LIMITS_DEFAULT, CsvError, checkHeader, csvSplitConfigSchema, DEFAULT_CSV_SPLIT, joinCsvParts, readCsv, splitCsv, type CsvLimits, type CsvSplitConfig } from './csv.ts';
import { PREPARED_DATASET_LIMITS_DEFAULT, PREPARED_LIMITS_DEFAULT, PreparedLimitError, PreparedVersions, type PreparedEntry, type PreparedLimits } from './prepared.ts';
import { DEFAULT_SENSITIVITY_RULES, maxLevel, splitBySensitivity, type SensitivityRule } from './sensitivity.ts';

export const RECORDS_CHANNEL = 'records';
export const STATS_CHANNEL = 'stats';
/** An access transaction is a ticket for this long (it is checked against its proposal time). */
export const ACCESS_TICKET_TTL_MS = 10 * 60_000;
const CONTENT_BYTES_MAX = 32 * 1024 * 1024;
const WAIT_FOR_TX_MS = 10_000;
const REMOTE_TIMEOUT_MS = 15_000;
const DATASET_ROWS_MAX = 1_000_000;
/** Datasets are read streaming (nothing but one column is kept), so they may be larger than a record's CSV. */
const DATASET_CSV_LIMITS: CsvLimits = { bytesMax: CONTENT_BYTES_MAX, rowsMax: DATASET_ROWS_MAX, columnsMax: 500, cellBytesMax: 64 * 1024, cellsMax: 50_000_000 };
/** How often abandoned prepared versions are looked for (they expire after PreparedLimits.ttlMs). */
const PREPARED_SWEEP_MS = 60_000;
/** AES-GCM nonce + tag: a sealed part is this much larger than its plaintext. */
const SEAL_OVERHEAD_BYTES = 12 + 16;
/** How long a custodian waits for the requesting node's key to appear in its world state. */
const WAIT_FOR_NODE_KEY_MS = 2_000;
const NODE_KEY_FILE = 'node-hpke.key';
const JOURNAL_FILE = 'served-reads.sqlite';
const READ_BATCH_MAX = 40;
const RETRY_BASE_MS = 250;
const RETRY_MAX_MS = 30_000;
/** HPKE: enc is the X25519 ephemeral public key; the ciphertext is the 32-byte data key plus the AES-GCM tag. */
const WRAPPED_KEY_CIPHERTEXT_BYTES = 32 + 16;

export class RecordError extends Error {
  override readonly name = 'RecordError';
  /** LIMIT: a bound of the node's prepared (not yet on chain) versions (decision 1160). */
  constructor(message: string, readonly code: 'INVALID_CONTENT' | 'DENIED' | 'NOT_FOUND' | 'UNAVAILABLE' | 'REFUSED' | 'LIMIT' = 'REFUSED', readonly issues: readonly FhirIssue[] = []) {
    super(message);
  }
}

export type RecordContent =
  | { readonly kind: 'fhir'; readonly resource: unknown }
  | { readonly kind: 'file'; readonly bytes: Bytes; readonly mediaType: string; readonly sensitivity?: Sensitivity };

export interface ReadPart {
  readonly sensitivity: Sensitivity;
  readonly mediaType: string;
  readonly cid: string;
  readonly content: Bytes;
}

export interface ReadResult {
  readonly allowed: boolean;
  readonly txId: string;
  readonly decision: Record<string, unknown>;
  readonly recordId: string;
  readonly version: number | null;
  readonly custodian: string | null;
  readonly parts: readonly ReadPart[];
  /** A CSV record's released parts re-joined into one CSV (decision 1161); null otherwise. */
  readonly csv: Bytes | null;
}

/** The commitment key is derived from the part's data key: shredding the key also shreds the
 *  ability to confirm a guess against the on-chain commitment. */
export function commitmentKeyOf(dataKey: Bytes): Bytes {
  return new Uint8Array(createHmac('sha256', dataKey).update('medledger-commitment-key').digest());
}

const partRequestSchema = z.strictObject({ txId: z.string().regex(/^[0-9a-f]{64}$/), recordId: z.string().min(1).max(64), cid: z.string().min(1).max(200) });
const statsPartialRequestSchema = z.strictObject({ requestId: z.string().min(1).max(64), datasetId: z.string().min(1).max(64) });

/** A part as the custodian holds it (never sent: the data key is in the clear here). */
type LocalPart = { ok: true; sealed: Bytes; dataKey: Bytes; version: number; sensitivity: string } | PartRefusal;
type PartRefusal = { ok: false; integrity: boolean; error: string };
/**
 * What travels on the 'records' channel: the sealed blob and its data key wrapped with HPKE to
 * `recipientKey` — the requesting node's key as published on chain (decision 1150).
 */
export type PartAnswer = { ok: true; sealed: Bytes; wrappedKey: WrappedKey; recipientKey: Bytes; version: number; sensitivity: string } | PartRefusal;

/**
 * The associated data a transported data key is bound to: the access ticket, the exact part and
 * the recipient node. A wrapped key cannot be replayed for another part, ticket or node.
 */
export function keyTransportAad(a: { txId: string; recordId: string; version: number; sensitivity: string; cid: string; recipientOrg: string; recipientNode: string }): Bytes {
  return utf8(`medledger-key-transport|${a.txId}|${a.recordId}|v${a.version}|${a.sensitivity}|${a.cid}|${a.recipientOrg}/${a.recipientNode}`);
}

/**
 * One served-read event as `recordReads` takes it, without its journal id (decision 1153): the
 * access transaction whose ticket released the part, the part's level, and whether it was served.
 */
const servedReadEventSchema = readEventSchema.omit({ eventId: true });
type ServedReadEvent = z.infer<typeof servedReadEventSchema>;
type PartialAnswer = { ok: true; partial: ReleasedPartial } | { ok: false; error: string };
/** A custodian's answer on the 'stats' channel, as the requesting node accepts it (external input). */
const partialAnswerSchema = z.union([z.strictObject({ ok: z.literal(true), partial: releasedPartialSchema }), z.strictObject({ ok: z.literal(false), error: z.string().max(2000) })]);

type ReleasedPart = Part;
interface Released { recordId: string; version: number; custodian: string; parts: ReleasedPart[] }

/** Values of one variable in a stored dataset: CSV (header row, numeric cells) or a FHIR Bundle of Observations. */
export function datasetValues(bytes: Bytes, mediaType: string, variable: string): number[] {
  const out: number[] = [];
  if (mediaType === 'text/csv') {
    let col = -2;
    csvOrError(() => readCsv(bytes, DATASET_CSV_LIMITS, (fields) => {
      if (col === -2) {
        col = checkHeader(fields, { allowRowKey: true }).indexOf(variable);
        if (col < 0) throw new RecordError(`the dataset has no column ${variable}`, 'NOT_FOUND');
        return;
      }
      const cell = (fields[col] ?? '').trim();
      if (cell === '') return;
      const v = Number(cell);
      if (Number.isFinite(v)) out.push(v);
    }), 'dataset');
    if (col < 0) throw new RecordError(`the dataset has no column ${variable}`, 'NOT_FOUND');
    return out;
  }
  const bundle = parseJson(bytes, 'dataset') as { entry?: Array<{ resource?: { code?: { coding?: Array<{ code?: string }> }; valueQuantity?: { value?: number } } }> };
  for (const e of (bundle.entry ?? []).slice(0, DATASET_ROWS_MAX)) {
    const r = e.resource;
    if (r?.code?.coding?.some((c) => c.code === variable) && typeof r.valueQuantity?.value === 'number' && Number.isFinite(r.valueQuantity.value)) out.push(r.valueQuantity.value);
  }
  return out;
}

/** Run a CSV reader; its CsvError becomes RecordError INVALID_CONTENT naming `what`. */
function csvOrError<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CsvError) throw new RecordError(`${what}: ${err.message}`, 'INVALID_CONTENT');
    throw err;
  }
}

function parseJson(bytes: Bytes, what: string): unknown {
  // Parsing copes with any depth, but validating and encoding the value recurse (issue 16, item 8).
  if (jsonNestingDepth(bytes, FHIR_NESTING_DEPTH_MAX) > FHIR_NESTING_DEPTH_MAX) {
    throw new RecordError(`${what}: nests objects and arrays deeper than ${FHIR_NESTING_DEPTH_MAX} levels (at most ${FHIR_NESTING_DEPTH_MAX} are accepted)`, 'INVALID_CONTENT');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RecordError(`${what}: not valid UTF-8`, 'INVALID_CONTENT');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RecordError(`${what}: not JSON (${(err as Error).message.slice(0, 200)})`, 'INVALID_CONTENT');
  }
}

/** A listed column must be a column code: registerDataset puts the names on chain and refuses others. */
function checkColumnCode(name: string): void {
  if (!CODE_RE.test(name)) throw new RecordError(`dataset: column ${JSON.stringify(name.slice(0, 80))} is not a column code (names are listed on chain and must match ${CODE_RE.source})`, 'INVALID_CONTENT');
}

/**
 * Columns (CSV header) or Observation codes (FHIR Bundle) of a dataset, and its row count.
 * What a dataset is for decides what it must hold (issue 16, item 7: arbitrary bytes were
 * stored under a dataset's media type): column names that can be listed on chain, at least one
 * row, and at least one numeric variable for statistics — a CSV column whose non-empty cells are
 * all numbers (at least one), or an Observation with a code and a numeric valueQuantity.
 * An empty CSV has no columns (the caller refuses it). Bad input is a RecordError
 * INVALID_CONTENT (with the validator's issues for invalid FHIR).
 */
export function datasetShape(bytes: Bytes, mediaType: string): { columns: string[]; rows: number } {
  if (mediaType === 'text/csv') {
    if (Buffer.from(bytes).toString('utf8').trim() === '') return { columns: [], rows: 0 };
    let columns: string[] | null = null;
    let rows = 0;
    let numericCells: number[] = [];
    let textual: boolean[] = [];
    csvOrError(() => readCsv(bytes, DATASET_CSV_LIMITS, (fields) => {
      if (columns === null) {
        columns = checkHeader(fields, { allowRowKey: true });
        columns.forEach(checkColumnCode);
        numericCells = columns.map(() => 0);
        textual = columns.map(() => false);
        return;
      }
      rows++;
      fields.forEach((field, k) => {
        const cell = field.trim();
        if (cell === '') return;
        if (Number.isFinite(Number(cell))) numericCells[k]! += 1;
        else textual[k] = true;
      });
    }), 'dataset');
    const names: string[] = columns ?? [];
    if (rows === 0) throw new RecordError(`dataset: a header (${names.slice(0, 5).join(',')}) but no data rows`, 'INVALID_CONTENT');
    if (!names.some((_, k) => numericCells[k]! > 0 && !textual[k])) {
      throw new RecordError('dataset: no numeric column (statistics need at least one column whose non-empty cells are all numbers)', 'INVALID_CONTENT');
    }
    return { columns: names, rows };
  }
  let resource: { resourceType: string; entry?: Array<{ resource?: { resourceType?: string; code?: { coding?: Array<{ code?: string }> }; valueQuantity?: { value?: unknown } } }> };
  try {
    resource = validateFhir(parseJson(bytes, 'dataset')) as unknown as typeof resource;
  } catch (err) {
    if (err instanceof FhirValidationError) throw new RecordError(`dataset: ${err.message}`, 'INVALID_CONTENT', err.issues);
    throw err;
  }
  if (resource.resourceType !== 'Bundle') throw new RecordError('a FHIR dataset must be a Bundle of Observations', 'INVALID_CONTENT');
  const codes = new Set<string>();
  let measured = 0;
  for (const e of resource.entry ?? []) {
    if (e.resource?.resourceType !== 'Observation') throw new RecordError('a FHIR dataset must contain Observations only', 'INVALID_CONTENT');
    const c = e.resource.code?.coding?.[0]?.code;
    if (!c) continue;
    checkColumnCode(c);
    codes.add(c);
    const v = e.resource.valueQuantity?.value;
    if (typeof v === 'number' && Number.isFinite(v)) measured++;
  }
  if (measured === 0) throw new RecordError('dataset: no Observation with a code and a numeric valueQuantity (statistics need at least one)', 'INVALID_CONTENT');
  return { columns: [...codes], rows: resource.entry?.length ?? 0 };
}

/** Decode and shape-check a custodian's answer (it is another node's input: trust nothing). */
export function checkPartAnswer(raw: Bytes, custodian: string): PartAnswer {
  const garbage = (why: string): PartAnswer => ({ ok: false, integrity: false, error: `custodian ${custodian} answered garbage (${why})` });
  let a: unknown;
  try {
    a = decode(raw);
  } catch {
    return garbage('undecodable');
  }
  if (typeof a !== 'object' || a === null) return garbage('not a map');
  const m = a as Record<string, unknown>;
  if (m['ok'] === false) return { ok: false, integrity: m['integrity'] === true, error: typeof m['error'] === 'string' ? m['error'].slice(0, 1000) : 'refused' };
  if (m['ok'] !== true) return garbage('no ok flag');
  const w = m['wrappedKey'] as Record<string, unknown> | undefined;
  if (!(m['sealed'] instanceof Uint8Array)) return garbage('no sealed bytes');
  if ('dataKey' in m) return garbage('a bare data key: refusing key material that was not wrapped to this node');
  if (typeof w !== 'object' || w === null || !(w['enc'] instanceof Uint8Array) || w['enc'].byteLength !== X25519_KEY_BYTES || !(w['ciphertext'] instanceof Uint8Array) || w['ciphertext'].byteLength !== WRAPPED_KEY_CIPHERTEXT_BYTES) {
    return garbage('no well-formed wrapped key');
  }
  if (!(m['recipientKey'] instanceof Uint8Array) || m['recipientKey'].byteLength !== X25519_KEY_BYTES) return garbage('no recipient key');
  if (typeof m['version'] !== 'number' || typeof m['sensitivity'] !== 'string') return garbage('no version or sensitivity');
  return { ok: true, sealed: m['sealed'], wrappedKey: { enc: w['enc'], ciphertext: w['ciphertext'] }, recipientKey: m['recipientKey'], version: m['version'], sensitivity: m['sensitivity'] };
}

export interface ServedReadAuditOptions {
  /** Who signs `recordReads` (default: this node's own identity). */
  readonly caller?: HealthCaller;
  /** How long a lone event may wait for company before it is flushed. */
  readonly flushMs?: number;
  /** Events per `recordReads` transaction (≤ the contract's 40). */
  readonly batchMax?: number;
  /** Pending events at which the node refuses to serve (fail closed). */
  readonly journalCapacity?: number;
  /** First retry delay after a failed flush; doubles per failure up to retryMaxMs. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

/** TypeScript's Partial (the name `Partial` is the analytics partial aggregate here). */
type Some<T> = { [K in keyof T]?: T[K] };

export interface RecordServiceOptions {
  /** Where blobs, keys, the KEK, the node's HPKE key and the served-read journal live (default: <node data dir>/records). */
  readonly dir?: string;
  readonly rules?: readonly SensitivityRule[];
  /** Column rules and row-key patterns for splitting CSV files (default DEFAULT_CSV_SPLIT; decision 1161). */
  readonly csvSplit?: CsvSplitConfig;
  /** Size limits of a CSV record (default CSV_LIMITS_DEFAULT). */
  readonly csvLimits?: Some<CsvLimits>;
  /** Bounds of prepared, not yet committed versions (default PREPARED_LIMITS_DEFAULT; decision 1160). */
  readonly preparedLimits?: Some<PreparedLimits>;
  /** Bounds of prepared, not yet registered datasets (default PREPARED_DATASET_LIMITS_DEFAULT). */
  readonly preparedDatasetLimits?: Some<PreparedLimits>;
  /** How often expired prepared versions and datasets are swept (default 60 s). */
  readonly preparedSweepMs?: number;
  /**
   * Record served cross-hospital reads in `recordReads` (the custodian's own audit), through a
   * durable journal (decision 1152). Default: on, signed by this node's identity. `false` turns
   * it off: reads are then audited only by the requester's `access` transaction.
   */
  readonly recordServedReads?: false | ServedReadAuditOptions;
  /** Signs this node's own transactions (its key publication; default audit caller). Default: the node certificate and key of its configuration. */
  readonly nodeCaller?: HealthCaller;
  /** Publish this node's HPKE key on chain at start-up when missing or changed (default true). */
  readonly publishNodeKey?: boolean;
}

export interface AuditBacklog {
  readonly enabled: boolean;
  readonly pending: number;
  readonly capacity: number;
  /** Consecutive failed flush attempts (0 after a success). */
  readonly failures: number;
  /** Events whose audit transaction committed since start. */
  readonly recorded: number;
}

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
  private readonly journal: ServedReadJournal<ServedReadEvent> | null;
  private readonly audit: Required<Omit<ServedReadAuditOptions, 'caller'>> & { caller: HealthCaller | null };
  private flushTimer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private flushFailures = 0;
  private batchSize: number;
  private recordedCount = 0;
  private stopping = false;
  private closed = false;

  constructor(readonly node: MedLedgerNode, private readonly options: RecordServiceOptions = {}) {
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
    this.prepared = new PreparedVersions({ ...PREPARED_LIMITS_DEFAULT, ...(skewMs !== undefined ? { sweepGraceMs: skewMs + 60_000 } : {}), ...options.preparedLimits });
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
    this.batchSize = this.audit.batchMax;
    this.journal = a ? new ServedReadJournal<ServedReadEvent>(join(dir, JOURNAL_FILE), this.audit.journalCapacity) : null;
  }

  /** This node's HPKE public key (what it publishes on chain). */
  get publicKey(): Bytes {
    return this.nodeKey.publicKey;
  }

  /** The served-read journal's state (for status and tests). */
  auditBacklog(): AuditBacklog {
    return {
      enabled: this.journal !== null,
      pending: this.journal && !this.journal.isClosed ? this.journal.size() : 0,
      capacity: this.audit.journalCapacity,
      failures: this.flushFailures,
      recorded: this.recordedCount,
    };
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
      s.cleanups.push(node.subscribeBlocks(node.height() + 1, () => {
        s.shredding = s.shredding.then(() => s.shredErased()).catch((err: Error) => node.log.error({ reason: err.message }, 'crypto-shredding failed'));
      }));
    }
    // Records erased while this node was down.
    s.shredding = s.shredErased().catch((err: Error) => node.log.error({ reason: err.message }, 'crypto-shredding failed'));
    if (node.peer) {
      // Prepared versions from before a restart keep their preparer and age (key store), then are swept as usual.
      s.restorePrepared();
      s.restorePreparedDatasets();
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
    if (s.journal && s.journal.size() > 0) {
      node.log.info({ pending: s.journal.size() }, 'replaying served reads not yet recorded on chain');
      s.scheduleFlush(0);
    }
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
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    await this.draining;
    if (opts.flush !== false) await this.drain();
    await this.shredding;
    await this.publication;
    this.closed = true;
    this.journal?.close();
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
        this.node.log.info({ fingerprint: keyFingerprint(this.nodeKey.publicKey), txId: r.txId, replaced: r.payload['previous'] ?? null }, 'node HPKE key published on chain');
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
    const timeout = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), timeoutMs); });
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
  private async releasedBy(txId: string, check: { creatorOrg: string; creatorUser?: string }): Promise<Released> {
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
    if (tx.proposal.contract !== HEALTH_CONTRACT || tx.proposal.fn !== 'access') throw new RecordError(`transaction ${txId} is not a health access decision`, 'DENIED');
    const who = this.node.msp.identify(tx.proposal.creator);
    if (who.org !== check.creatorOrg || (check.creatorUser !== undefined && `${who.org}/${who.id}` !== check.creatorUser)) {
      throw new RecordError(`access transaction ${txId} was made by ${who.org}/${who.id}, not by ${check.creatorUser ?? `a user of ${check.creatorOrg}`}`, 'DENIED');
    }
    if (Date.now() - tx.proposal.timestampMs > ACCESS_TICKET_TTL_MS) throw new RecordError(`access transaction ${txId} is older than ${ACCESS_TICKET_TTL_MS / 60_000} minutes: ask again`, 'DENIED');
    const answer = JSON.parse(Buffer.from(tx.response.result.payload).toString('utf8')) as { allowed?: boolean; record?: Released; reasons?: string[]; session?: { notice?: string | null } | null };
    // A refusal carries the contract's BMRS session notice (a dead session and who revives it) to every face.
    if (answer.allowed !== true) throw new RecordError(`access was denied: ${[...(answer.reasons ?? []), ...(answer.session?.notice ? [answer.session.notice] : [])].join('; ')}`, 'DENIED');
    if (!answer.record) throw new RecordError(`access transaction ${txId} released no content (only an allowed read or share does)`, 'DENIED');
    return answer.record;
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
      for (const p of splitBySensitivity(resource, this.rules)) pieces.push({ sensitivity: p.sensitivity, mediaType: 'application/fhir+json', bytes: utf8(JSON.stringify(p.resource)) });
      return { category: String(resource['resourceType']), pieces };
    }
    if (!/^[a-z]+\/[a-z0-9][a-z0-9.+-]{0,99}$/.test(content.mediaType)) throw new RecordError(`record ${recordId}: invalid media type ${JSON.stringify(content.mediaType.slice(0, 60))}`, 'INVALID_CONTENT');
    if (content.mediaType === 'text/csv') {
      // Tabular: split column by column (decision 1161); the declared level is every column's floor.
      const split = csvOrError(() => splitCsv(content.bytes, { config: this.csvSplit, codeRules: this.rules, floor: content.sensitivity ?? 'normal', limits: this.csvLimits }), `record ${recordId}: CSV`);
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
  async prepareParts(recordId: string, version: number, content: RecordContent, opts: { preparedBy?: string } = {}): Promise<{ category: string; parts: Part[]; expiresAtMs: number }> {
    const { category, pieces } = this.piecesOf(recordId, content);
    for (const piece of pieces) {
      if (piece.bytes.byteLength > CONTENT_BYTES_MAX) throw new RecordError(`record ${recordId}: a part of ${piece.bytes.byteLength} bytes exceeds ${CONTENT_BYTES_MAX}`, 'INVALID_CONTENT');
    }
    if (this.isCommitted(recordId, version)) throw new RecordError(`version ${version} of ${recordId} is already on chain`, 'REFUSED');
    const user = opts.preparedBy ?? 'unknown';
    const nowMs = Date.now();
    const freed = this.expirePrepared(nowMs);
    const existing = this.prepared.get(recordId, version);
    if (existing) {
      if (existing.storing) throw new RecordError(`version ${version} of ${recordId} is being prepared right now; try again in a moment`, 'REFUSED');
      if (existing.user !== user && !this.prepared.isAbandoned(existing, nowMs)) throw new RecordError(`version ${version} of ${recordId} is being written by ${existing.user}`, 'REFUSED');
    }
    // Preparing a version again replaces it: its earlier blobs and keys go (they would be orphans).
    if (existing || this.keys.cids(recordId, version).length > 0) freed.push(...this.dropPrepared(recordId, version));
    let entry: PreparedEntry;
    try {
      entry = this.prepared.reserve(recordId, version, user, pieces.reduce((n, p) => n + p.bytes.byteLength + SEAL_OVERHEAD_BYTES, 0), nowMs);
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
        parts.push({ sensitivity: piece.sensitivity, cid, sizeBytes: sealed.byteLength, mediaType: piece.mediaType, commitment: Buffer.from(commit(commitmentKeyOf(dataKey), piece.bytes)).toString('hex') });
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
        this.prepared.restore({ recordId, version, user: es[0]?.preparedBy ?? 'unknown', atMs: Math.min(...es.map((e) => e.atMs ?? nowMs)), sizeBytes: es.reduce((n, e) => n + (e.sizeBytes ?? 0), 0) });
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
      const r = await caller.submit('createRecord', { recordId: a.recordId, patient: a.patient, category, parts, purpose: a.purpose ?? 'TREAT', notAfterMs: expiresAtMs });
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
    if (current.custodian !== this.node.org) throw new RecordError(`record ${a.recordId} is held by ${current.custodian}; update it through that hospital's node`, 'REFUSED');
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
  async read(caller: HealthCaller, a: { recordId: string; purpose: string; reason?: string; sensitivity?: Sensitivity; version?: number }): Promise<ReadResult> {
    const req: Record<string, unknown> = { recordId: a.recordId, action: 'read', purpose: a.purpose };
    if (a.reason !== undefined) req['reason'] = a.reason;
    if (a.sensitivity !== undefined) req['sensitivity'] = a.sensitivity;
    if (a.version !== undefined) req['version'] = a.version;
    const r = await caller.submit('access', req);
    if (r.payload['allowed'] !== true) return { allowed: false, txId: r.txId, decision: r.payload, recordId: a.recordId, version: null, custodian: null, parts: [], csv: null };
    const fetched = await this.fetchReleased(r.txId, caller.user);
    const csv = fetched.parts.length > 0 && fetched.parts.every((p) => p.mediaType === 'text/csv')
      ? csvOrError(() => joinCsvParts(fetched.parts), `record ${a.recordId}: the released CSV parts cannot be re-joined`)
      : null;
    return { allowed: true, txId: r.txId, decision: r.payload, recordId: a.recordId, version: fetched.version, custodian: fetched.custodian, parts: fetched.parts, csv };
  }

  /** The content released by the committed access transaction `txId` of `user` (this node's org). */
  async fetchReleased(txId: string, user: string): Promise<{ version: number; custodian: string; parts: ReadPart[] }> {
    const released = await this.releasedBy(txId, { creatorOrg: this.node.org, creatorUser: user });
    const out: ReadPart[] = [];
    // A custodian wraps data keys only to this node's key as its chain shows it: make sure it is there.
    if (released.custodian !== this.node.org && this.options.publishNodeKey !== false) await this.nodeKeyPublished();
    for (const part of released.parts) {
      const what = `record ${released.recordId} v${released.version} (${part.sensitivity} part, ${part.cid})`;
      let sealed: Bytes;
      let dataKey: Bytes;
      if (released.custodian === this.node.org) {
        const local = await this.loadPart(released.recordId, part.cid);
        if (!local.ok) throw local.integrity ? new IntegrityError(`${what}: ${local.error}`) : new RecordError(`${what}: ${local.error}`, 'UNAVAILABLE');
        sealed = local.sealed;
        dataKey = local.dataKey;
      } else {
        const answer = await this.requestPart(released.custodian, txId, released.recordId, part.cid);
        if (!answer.ok) throw answer.integrity ? new IntegrityError(`${what}: ${answer.error}`) : new RecordError(`${what}: ${answer.error}`, 'UNAVAILABLE');
        sealed = answer.sealed;
        dataKey = await this.unwrapReleasedKey(answer, { txId, recordId: released.recordId, version: released.version, sensitivity: part.sensitivity, cid: part.cid });
      }
      // The custodian could be wrong or lying: check the address and the commitment ourselves.
      const cid = await cidOf(sealed);
      if (cid !== part.cid) throw new IntegrityError(`${what}: the custodian returned bytes addressed ${cid}`);
      const plaintext = open(dataKey, sealed, KeyStore.aad(released.recordId, released.version, part.sensitivity), what);
      if (!checkCommitment(commitmentKeyOf(dataKey), plaintext, new Uint8Array(Buffer.from(part.commitment, 'hex')))) {
        throw new IntegrityError(`${what}: content does not match its on-chain commitment`);
      }
      out.push({ sensitivity: part.sensitivity, mediaType: part.mediaType, cid: part.cid, content: plaintext });
    }
    return { version: released.version, custodian: released.custodian, parts: out };
  }

  /**
   * Requester side: the data key of a part a custodian released to this node, unwrapped with this
   * node's private key. `ctx` comes from this node's own view of the access transaction, so a key
   * wrapped for another part, ticket or node — or altered in transit — does not open.
   */
  async unwrapReleasedKey(answer: Extract<PartAnswer, { ok: true }>, ctx: { txId: string; recordId: string; version: number; sensitivity: string; cid: string }): Promise<Bytes> {
    const what = `record ${ctx.recordId} v${ctx.version} (${ctx.sensitivity} part, ${ctx.cid})`;
    if (!Buffer.from(answer.recipientKey).equals(Buffer.from(this.nodeKey.publicKey))) {
      throw new IntegrityError(`${what}: the custodian wrapped the data key to key ${keyFingerprint(answer.recipientKey)}, but this node's key is ${keyFingerprint(this.nodeKey.publicKey)} (is the key on chain stale?)`);
    }
    const aad = keyTransportAad({ ...ctx, recipientOrg: this.node.org, recipientNode: this.node.nodeId });
    try {
      return await unwrapAsRecipient(this.nodeKey.privateKey, answer.wrappedKey, aad);
    } catch (err) {
      throw new IntegrityError(`${what}: the wrapped data key failed to open with this node's key (tampered, or wrapped for another part or node): ${(err as Error).message}`);
    }
  }

  private async loadPart(recordId: string, cid: string): Promise<LocalPart> {
    const key = this.keys.get(recordId, cid);
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
      if (released.recordId !== recordId || released.custodian !== this.node.org) throw new RecordError(`access ${txId} is for record ${released.recordId} at ${released.custodian}`, 'DENIED');
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
      const local = await this.loadPart(recordId, cid);
      if (!local.ok) {
        // Nothing is released; still journal what was asked for and refused, if there is room.
        try {
          this.noteServedRead(txId, part.sensitivity, 'deny');
        } catch (err) {
          this.node.log.warn({ txId, reason: (err as Error).message }, 'refused part request not journaled');
        }
        return encode(local satisfies PartAnswer);
      }
      // Journal first (durably), release second: a crash in between over-reports, never under-reports.
      this.noteServedRead(txId, part.sensitivity, 'allow');
      const aad = keyTransportAad({ txId, recordId, version: released.version, sensitivity: part.sensitivity, cid, recipientOrg: fromOrg, recipientNode: from });
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
    throw new RecordError(`node ${nodeId} of ${org} has no HPKE key published on chain: the custodian cannot wrap the data key for it (a node publishes its key when its record service starts)`, 'DENIED');
  }

  // ---- served-read audit (decision 1152) ------------------------------------------------------

  /**
   * Durably journal one served read (throws — and so refuses to serve — when the journal is full).
   * The event names the access transaction (its ticket) and the part's level, nothing else: who
   * read, which record and why are on chain already, bound to that transaction (decision 1153).
   */
  private noteServedRead(txId: string, sensitivity: Sensitivity, served: 'allow' | 'deny'): void {
    if (!this.journal) return;
    try {
      this.journal.append({ ticket: txId, sensitivity, servedDecision: served });
    } catch (err) {
      if (err instanceof JournalFullError) {
        this.node.log.error({ pending: this.journal.size(), failures: this.flushFailures }, 'served-read audit backlog full: refusing to serve');
        throw new RecordError(`${err.message}: this custodian refuses to serve until they are recorded`, 'UNAVAILABLE');
      }
      throw new RecordError(`cannot journal the served read for the audit, so it is not served: ${(err as Error).message}`, 'UNAVAILABLE');
    }
    if (this.journal.size() >= this.audit.batchMax) this.scheduleFlush(0);
    else this.scheduleFlush(this.audit.flushMs);
  }

  private scheduleFlush(delayMs: number): void {
    if (this.stopping) return;
    if (this.flushTimer) {
      if (delayMs > 0) return;
      clearTimeout(this.flushTimer);
    }
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      // A journal failure (disk) must not become an unhandled rejection: log it, retry later.
      this.drain().catch((err: Error) => {
        this.flushFailures += 1;
        this.node.log.error({ reason: err.message }, 'served-read journal flush failed');
        this.scheduleFlush(this.audit.retryMaxMs);
      });
    }, delayMs);
    // Never keep a stopping process alive for the audit: what is not recorded stays journaled.
    this.flushTimer.unref();
  }

  /**
   * Record journaled events on chain, oldest first, in batches; delete each batch only once its
   * `recordReads` transaction is committed VALID. On failure: back off (doubling, capped), halve
   * the batch (isolating an event the contract refuses), and keep everything in the journal.
   * Single-flight. Resolves true when the journal is empty.
   */
  async drain(): Promise<boolean> {
    if (!this.journal || this.closed) return true;
    if (this.draining) {
      await this.draining;
      return this.journal.isClosed || this.journal.size() === 0;
    }
    const journal = this.journal;
    const run = async (): Promise<void> => {
      while (!journal.isClosed && journal.size() > 0) {
        const pending = journal.pending(this.batchSize);
        // The journal is a file on disk: an entry that is not a served-read event of this format
        // (written before tickets, or damaged) could never be recorded and would block every event
        // behind it. It is dropped, loudly; the read it stood for is audited by its access tx.
        const unrecordable = pending.filter((e) => !servedReadEventSchema.safeParse(e.event).success);
        if (unrecordable.length > 0) {
          this.node.log.error({ eventIds: unrecordable.map((e) => e.eventId) }, 'served-read journal entries in an unrecordable format dropped');
          journal.remove(unrecordable.map((e) => e.eventId));
          continue;
        }
        const entries = pending;
        try {
          const r = await this.auditCaller().submit('recordReads', entries.map((e) => ({ ...e.event, eventId: e.eventId })));
          journal.remove(entries.map((e) => e.eventId));
          const duplicates = Array.isArray(r.payload) ? (r.payload as Array<{ duplicate?: boolean }>).filter((x) => x.duplicate === true).length : 0;
          this.recordedCount += entries.length;
          this.flushFailures = 0;
          this.batchSize = this.audit.batchMax;
          this.node.log.debug({ count: entries.length, duplicates, txId: r.txId }, 'served reads recorded on chain');
        } catch (err) {
          this.flushFailures += 1;
          this.batchSize = Math.max(1, Math.floor(this.batchSize / 2));
          const delayMs = Math.min(this.audit.retryMaxMs, this.audit.retryBaseMs * 2 ** Math.min(this.flushFailures - 1, 16));
          this.node.log.warn({ count: entries.length, pending: journal.size(), failures: this.flushFailures, retryInMs: delayMs, reason: (err as Error).message }, 'served reads not recorded yet; kept in the journal');
          this.scheduleFlush(Math.max(1, delayMs));
          return;
        }
      }
    };
    this.draining = run().finally(() => {
      this.draining = null;
    });
    await this.draining;
    return journal.isClosed || journal.size() === 0;
  }

  // ---- list / erase ---------------------------------------------------------------------------

  async list(caller: HealthCaller, a: { patient: string; purpose?: string; pageSize?: number; bookmark?: string }): Promise<unknown> {
    return caller.evaluate('listPatientRecords', { patient: a.patient, purpose: a.purpose ?? 'TREAT', ...(a.pageSize ? { pageSize: a.pageSize } : {}), ...(a.bookmark ? { bookmark: a.bookmark } : {}) });
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
  }

  // ---- datasets and statistics ----------------------------------------------------------------

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
  async prepareDataset(a: { datasetId: string; bytes: Bytes; mediaType: 'text/csv' | 'application/fhir+json'; preparedBy?: string }): Promise<{ cid: string; sizeBytes: number; columns: string[]; recordCount: number; expiresAtMs: number }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(a.datasetId)) throw new RecordError(`invalid dataset id ${JSON.stringify(a.datasetId.slice(0, 80))}`, 'INVALID_CONTENT');
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
      if (held.user !== user && !this.preparedDatasets.isAbandoned(held, nowMs)) throw new RecordError(`dataset ${a.datasetId} is being prepared by ${held.user}`, 'REFUSED');
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
        if (this.listedDatasetCid(e.recordId) === null) this.node.log.info({ datasetId: e.recordId, preparedBy: e.user, ageMs: nowMs - e.atMs }, 'abandoned prepared dataset swept');
        cids.push(...this.dropPreparedDataset(e.recordId));
      }
    }
    return cids;
  }

  /** Delete prepared datasets that expired without being listed on chain (`nowMs` for tests). */
  async sweepPreparedDatasets(nowMs = Date.now()): Promise<{ swept: number; blobs: number }> {
    if (!this.node.peer || this.closed) return { swept: 0, blobs: 0 };
    const before = this.preparedDatasets.usage().count;
    const cids = this.expirePreparedDatasets(nowMs);
    await this.deleteBlobs(cids);
    return { swept: before - this.preparedDatasets.usage().count, blobs: cids.length };
  }

  /** Rebuild the prepared-dataset bookkeeping from the dataset key store (start-up). */
  private restorePreparedDatasets(): void {
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
      this.preparedDatasets.restore({ recordId: datasetId, version: 1, user: unlisted[0]?.preparedBy ?? 'unknown', atMs: Math.min(...unlisted.map((e) => e.atMs ?? nowMs)), sizeBytes: unlisted.reduce((n, e) => n + (e.sizeBytes ?? 0), 0) });
    }
  }

  /** Store a dataset here and list it in the data market (on chain, by an admin/supervisor). */
  async registerDataset(caller: HealthCaller, a: { datasetId: string; name: string; description?: string; bytes: Bytes; mediaType: 'text/csv' | 'application/fhir+json'; open?: boolean; minCohort?: number; queryBudget?: number }): Promise<Record<string, unknown>> {
    const p = await this.prepareDataset({ ...a, preparedBy: caller.user });
    const r = await caller.submit('registerDataset', {
      datasetId: a.datasetId, name: a.name, description: a.description ?? '', columns: p.columns, cid: p.cid, sizeBytes: p.sizeBytes, recordCount: p.recordCount, open: a.open ?? true,
      ...(a.minCohort !== undefined ? { minCohort: a.minCohort } : {}), ...(a.queryBudget !== undefined ? { queryBudget: a.queryBudget } : {}),
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
      if (st.requester.slice(0, st.requester.indexOf('/')) !== fromOrg) throw new RecordError(`statistics request ${parsed.data.requestId} was made by ${st.requester}, not by a user of ${fromOrg ?? from}`, 'DENIED');
      if (st.status !== 'requested') throw new RecordError(`statistics request ${parsed.data.requestId} is ${st.status}`, 'DENIED');
      if (!st.datasetIds.includes(parsed.data.datasetId)) throw new RecordError(`statistics request ${parsed.data.requestId} does not cover dataset ${parsed.data.datasetId}`, 'DENIED');
      const partial = await this.releasedPartial(parsed.data.datasetId, st.variable, st.histogram, this.statsThreshold(st));
      return encode({ ok: true, partial } satisfies PartialAnswer);
    } catch (err) {
      return encode({ ok: false, error: (err as Error).message } satisfies PartialAnswer);
    }
  }

  private async statsRequest(requestId: string): Promise<{ requester: string; status: string; datasetIds: string[]; variable: string; histogram: HistogramSpec; minCohort: number; inputs: Array<{ datasetId: string; ownerOrg: string | null }> }> {
    type St = Awaited<ReturnType<RecordService['statsRequest']>>;
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
  async statistics(caller: HealthCaller, a: { datasetIds: string[]; variable: string; purpose: string; histogram: HistogramSpec; minCohort?: number }): Promise<{ allowed: boolean; requestId: string; reasons: string[]; result: Statistics | null; inputs: unknown[] }> {
    const r = await caller.submit('requestStatistics', { datasetIds: a.datasetIds, variable: a.variable, purpose: a.purpose, histogram: a.histogram, ...(a.minCohort !== undefined ? { minCohort: a.minCohort } : {}) });
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
      if (!answer.success) throw new RecordError(`custodian ${input.ownerOrg} answered dataset ${input.datasetId} with a malformed partial (${answer.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ')})`, 'UNAVAILABLE');
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
  nextVersion(recordId: string): number {
    const current = this.state<{ version?: number; custodian?: string; erased?: boolean }>(`rec|${recordId}`);
    if (!current) return 1;
    if (current.erased) throw new RecordError(`record ${recordId} was erased`, 'NOT_FOUND');
    if (current.custodian !== this.node.org) throw new RecordError(`record ${recordId} is held by ${current.custodian}; write it through that hospital's node`, 'REFUSED');
    return (current.version ?? 0) + 1;
  }
}
