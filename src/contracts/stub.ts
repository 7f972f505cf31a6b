// The contract's window on the ledger, named after Fabric's ChaincodeStub so Fabric chaincode
// authors feel at home. It records a read/write set while the contract runs:
//   - reads see COMMITTED state only (as in Fabric: a transaction does not read its own writes);
//   - every point read records (key, version) once, at its first read;
//   - every range query records its bounds and exactly the (key, version) list it returned, so the
//     validator can re-run it and detect phantoms;
//   - writes keep the last put/delete per key.
// Everything is bounded (LEDGER_LIMITS); exceeding a bound throws ContractLimitError.
import { utf8, type Bytes } from '../codec/index.ts';
import type { StateReader, HistoryEntry } from '../ledger/state.ts';
import { LEDGER_LIMITS } from '../ledger/limits.ts';
import type { ContractEvent, KvRead, KvWrite, NsRwSet, RangeRead, Version } from '../ledger/tx.ts';
import { checkKey, compareKeys, COMPOSITE_KEY_NAMESPACE, createCompositeKey, MAX_UNICODE_RUNE, splitCompositeKey } from '../ledger/keys.ts';

export class ContractLimitError extends Error {
  override readonly name = 'ContractLimitError';
}

/** The authenticated identity that created the proposal. */
export interface CreatorInfo {
  readonly org: string;
  readonly role: string;
  readonly id: string;
  readonly certPem: string;
}

export interface StubContext {
  readonly namespace: string;
  readonly txId: string;
  readonly timestampMs: number;
  readonly creator: CreatorInfo;
  readonly fn: string;
  readonly args: readonly string[];
  readonly state: StateReader;
  /** evaluate-functions get a read-only stub. */
  readonly readOnly: boolean;
}

export interface KV {
  readonly key: string;
  readonly value: Bytes;
}

export interface Page {
  readonly results: KV[];
  /** Pass back as `bookmark` to continue; '' when the range is exhausted. */
  readonly bookmark: string;
}

export class ChaincodeStub {
  private readonly reads = new Map<string, Version | null>();
  private readonly rangeReads: RangeRead[] = [];
  private readonly writes = new Map<string, KvWrite>();
  private event: ContractEvent | null = null;

  constructor(private readonly ctx: StubContext) {}

  getTxID(): string {
    return this.ctx.txId;
  }

  /** Fabric's Timestamp shape; the proposal's timestamp, identical on every endorser. */
  getTxTimestamp(): { seconds: number; nanos: number } {
    const ms = this.ctx.timestampMs;
    return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
  }

  getTxTimestampMs(): number {
    return this.ctx.timestampMs;
  }

  getCreator(): CreatorInfo {
    return this.ctx.creator;
  }

  getFunctionAndParameters(): { fcn: string; params: string[] } {
    return { fcn: this.ctx.fn, params: [...this.ctx.args] };
  }

  getArgs(): string[] {
    return [...this.ctx.args];
  }

  getNamespace(): string {
    return this.ctx.namespace;
  }

  /** The committed value, or undefined when the key does not exist. */
  getState(key: string): Bytes | undefined {
    checkKey(key);
    const entry = this.ctx.state.get(this.ctx.namespace, key);
    this.recordRead(key, entry ? entry.version : null);
    return entry?.value;
  }

  /** Convenience: getState decoded as UTF-8 text. */
  getStateText(key: string): string | undefined {
    const value = this.getState(key);
    return value === undefined ? undefined : Buffer.from(value).toString('utf8');
  }

  putState(key: string, value: Bytes | string): void {
    this.checkWritable();
    checkKey(key);
    const bytes = typeof value === 'string' ? utf8(value) : value;
    if (!(bytes instanceof Uint8Array)) throw new ContractLimitError('putState value must be bytes or a string');
    if (bytes.byteLength > LEDGER_LIMITS.valueSizeBytesMax) {
      throw new ContractLimitError(`value of ${bytes.byteLength} bytes for key ${JSON.stringify(key)} exceeds ${LEDGER_LIMITS.valueSizeBytesMax}`);
    }
    this.recordWrite({ key, isDelete: false, value: new Uint8Array(bytes) });
  }

  deleteState(key: string): void {
    this.checkWritable();
    checkKey(key);
    this.recordWrite({ key, isDelete: true, value: null });
  }

  /**
   * Simple keys in [startKey, endKey) ('' = open end). Composite keys are excluded, as in Fabric.
   * Throws ContractLimitError when the range holds more than rangeResultsMax keys: use
   * getStateByRangeWithPagination for large ranges.
   */
  getStateByRange(startKey: string, endKey: string): KV[] {
    const start = startKey === '' ? '\u0001' : startKey;
    this.checkSimpleRangeKey(start, 'startKey');
    if (endKey !== '') this.checkSimpleRangeKey(endKey, 'endKey');
    return this.scan(start, endKey, LEDGER_LIMITS.rangeResultsMax, true).results;
  }

  /**
   * A page of simple keys in [startKey, endKey). Ascending (the default), `bookmark` is the first
   * key of the next page; descending — the highest keys first, as a time-ordered index is read
   * newest first — it is the last key of the page before, and the next page lies below it.
   */
  getStateByRangeWithPagination(startKey: string, endKey: string, pageSize: number, bookmark = '', order: 'ascending' | 'descending' = 'ascending'): Page {
    if (!Number.isSafeInteger(pageSize) || pageSize < 1 || pageSize > LEDGER_LIMITS.rangeResultsMax) {
      throw new ContractLimitError(`pageSize must be 1..${LEDGER_LIMITS.rangeResultsMax}`);
    }
    if (order === 'descending') {
      const start = startKey === '' ? '\u0001' : startKey;
      const end = bookmark !== '' ? bookmark : endKey;
      this.checkSimpleRangeKey(start, 'startKey');
      if (end !== '') this.checkSimpleRangeKey(end, bookmark !== '' ? 'bookmark' : 'endKey');
      return this.scanDescending(start, end, pageSize);
    }
    const start = bookmark !== '' ? bookmark : startKey === '' ? '\u0001' : startKey;
    this.checkSimpleRangeKey(start, 'startKey');
    if (endKey !== '') this.checkSimpleRangeKey(endKey, 'endKey');
    return this.scan(start, endKey, pageSize, false);
  }

  getStateByPartialCompositeKey(objectType: string, attributes: readonly string[]): KV[] {
    const start = createCompositeKey(objectType, attributes);
    return this.scan(start, `${start}${MAX_UNICODE_RUNE}`, LEDGER_LIMITS.rangeResultsMax, true).results;
  }

  createCompositeKey(objectType: string, attributes: readonly string[]): string {
    return createCompositeKey(objectType, attributes);
  }

  splitCompositeKey(key: string): { objectType: string; attributes: string[] } {
    return splitCompositeKey(key);
  }

  /**
   * Committed history of a key, newest first (at most historyResultsMax). Like Fabric, history
   * reads are not part of the read set: they are not re-checked at validation.
   */
  getHistoryForKey(key: string): HistoryEntry[] {
    checkKey(key);
    return this.ctx.state.history(this.ctx.namespace, key, LEDGER_LIMITS.historyResultsMax);
  }

  /** One event per transaction (the last call wins), delivered when the tx commits VALID. */
  setEvent(name: string, payload: Bytes | string): void {
    if (typeof name !== 'string' || name.length === 0 || name.length > LEDGER_LIMITS.nameLengthMax) {
      throw new ContractLimitError(`event name must be 1..${LEDGER_LIMITS.nameLengthMax} characters`);
    }
    const bytes = typeof payload === 'string' ? utf8(payload) : new Uint8Array(payload);
    if (bytes.byteLength > LEDGER_LIMITS.eventPayloadBytesMax)
      throw new ContractLimitError(`event payload exceeds ${LEDGER_LIMITS.eventPayloadBytesMax} bytes`);
    this.event = { name, payload: bytes };
  }

  /** The recorded read/write set (sorted, deterministic) and event. */
  result(): { rwset: NsRwSet; event: ContractEvent | null } {
    const reads: KvRead[] = [...this.reads].sort((a, b) => compareKeys(a[0], b[0])).map(([key, version]) => ({ key, version }));
    const writes = [...this.writes.values()].sort((a, b) => compareKeys(a.key, b.key));
    return { rwset: { namespace: this.ctx.namespace, reads, rangeReads: [...this.rangeReads], writes }, event: this.event };
  }

  // -------------------------------------------------------------------------------------------

  /** Counts a range query against its limit; an empty range is recorded as read (nothing in it) and needs no scan. */
  private isEmptyRange(start: string, end: string): boolean {
    if (this.rangeReads.length >= LEDGER_LIMITS.rangeQueriesMax)
      throw new ContractLimitError(`more than ${LEDGER_LIMITS.rangeQueriesMax} range queries in one transaction`);
    if (end === '' || compareKeys(start, end) < 0) return false;
    this.rangeReads.push({ startKey: start, endKey: end, exhausted: true, results: [] });
    return true;
  }

  private scan(start: string, end: string, limit: number, mustExhaust: boolean): Page {
    if (this.isEmptyRange(start, end)) return { results: [], bookmark: '' };
    const rows = this.ctx.state.range(this.ctx.namespace, start, end, limit + 1);
    const more = rows.length > limit;
    if (more && mustExhaust) {
      throw new ContractLimitError(`range query returns more than ${limit} keys; use getStateByRangeWithPagination`);
    }
    const page = rows.slice(0, limit);
    this.rangeReads.push({
      startKey: start,
      endKey: end,
      exhausted: !more,
      results: page.map((r) => ({ key: r.key, version: r.version })),
    });
    return { results: page.map((r) => ({ key: r.key, value: r.value })), bookmark: more ? rows[limit]!.key : '' };
  }

  /**
   * The highest `limit` keys of [start, end). Recorded for validation as the ascending range it
   * covered — from its lowest key returned (or `start` when none is left below) up to `end`, every
   * key in it seen — so the validator re-runs it as any exhausted range, with no descending mode.
   */
  private scanDescending(start: string, end: string, limit: number): Page {
    if (this.isEmptyRange(start, end)) return { results: [], bookmark: '' };
    const rows = this.ctx.state.rangeDescending(this.ctx.namespace, start, end, limit + 1);
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const lowest = more ? page[page.length - 1]!.key : start;
    this.rangeReads.push({
      startKey: lowest,
      endKey: end,
      exhausted: true,
      results: page.map((r) => ({ key: r.key, version: r.version })).reverse(),
    });
    return { results: page.map((r) => ({ key: r.key, value: r.value })), bookmark: more ? lowest : '' };
  }

  private checkSimpleRangeKey(key: string, what: string): void {
    checkKey(key);
    if (key.startsWith(COMPOSITE_KEY_NAMESPACE))
      throw new ContractLimitError(`${what} of getStateByRange must be a simple key (composite keys start with U+0000)`);
  }

  private recordRead(key: string, version: Version | null): void {
    if (this.reads.has(key)) return;
    if (this.reads.size >= LEDGER_LIMITS.readsMax) throw new ContractLimitError(`more than ${LEDGER_LIMITS.readsMax} keys read in one transaction`);
    this.reads.set(key, version);
  }

  private recordWrite(write: KvWrite): void {
    if (!this.writes.has(write.key) && this.writes.size >= LEDGER_LIMITS.writesMax) {
      throw new ContractLimitError(`more than ${LEDGER_LIMITS.writesMax} keys written in one transaction`);
    }
    this.writes.set(write.key, write);
  }

  private checkWritable(): void {
    if (this.ctx.readOnly) throw new ContractLimitError(`${this.ctx.fn} is an evaluate (read-only) function: it cannot write`);
  }
}

/** A short, stable rendering of a key for messages (composite separators made visible). */
export function printableKey(key: string): string {
  return key.startsWith(COMPOSITE_KEY_NAMESPACE) ? key.split(COMPOSITE_KEY_NAMESPACE).join('|') : key;
}
