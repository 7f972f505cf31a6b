// World state, history and the txId index in SQLite (better-sqlite3, WAL, synchronous=NORMAL: decision 1330).
//
// Tables:
//   state    (ns, key) → value, version (block, tx)        the current value of every live key
//   history  (ns, key, block, tx) → isDelete, value        every committed write of every key
//   txindex  txId → (block, position, code)                 for duplicate detection and status
//   meta     'savepoint' → {height, stateHash, blockHash}   the last block fully applied
//
// One block is applied in ONE SQLite transaction together with its savepoint, so the state is
// always exactly "blocks 0..height applied" — never half a block. The block store is written
// (and fsync'd) before the state, so the state is never ahead of the store; on open the ledger
// re-applies any block the store has beyond the savepoint (src/ledger/ledger.ts).
//
// The state hash is a rolling digest: stateHash_n = sha256(encode({prev, number, writes})) over the
// block's applied writes in (ns, key) order. Two peers that applied the same blocks with the same
// validation outcome have the same hash, so comparing hashes compares peers cheaply.
// `contentDigest()` hashes the full table instead, for verification against a replay.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { encode, sha256, type Bytes } from '../codec/index.ts';
import { assertInvariant } from '../consensus/engine.ts';
import type { ValidationCode } from './codes.ts';
import type { Version } from './tx.ts';
import { StateKeyFilter } from './state-key-filter.ts';
import { TxIdFilter } from './txid-filter.ts';

export const ZERO_STATE_HASH: Bytes = new Uint8Array(32);

export interface StateEntry {
  readonly key: string;
  readonly value: Bytes;
  readonly version: Version;
}

export interface HistoryEntry {
  readonly block: number;
  readonly tx: number;
  readonly isDelete: boolean;
  readonly value: Bytes | null;
}

export interface TxStatus {
  readonly block: number;
  readonly position: number;
  readonly code: ValidationCode;
}

export interface Savepoint {
  /** Number of the last block applied. */
  readonly height: number;
  readonly stateHash: Bytes;
  readonly blockHash: Bytes;
}

/** One write applied by a VALID transaction. */
export interface AppliedWrite {
  readonly ns: string;
  readonly key: string;
  readonly isDelete: boolean;
  readonly value: Bytes | null;
  readonly tx: number;
}

export interface BlockUpdate {
  readonly number: number;
  readonly blockHash: Bytes;
  /** In application order (tx order, then key order); a later write to a key wins. */
  readonly writes: readonly AppliedWrite[];
  /** Transactions to index (those whose creator is authenticated), with their codes. */
  readonly txIndex: readonly { readonly txId: string; readonly position: number; readonly code: ValidationCode }[];
}

/** Read access to committed state: what contracts simulate against and validators check. */
export interface StateReader {
  get(ns: string, key: string): StateEntry | undefined;
  /** Keys in [startKey, endKey) (endKey '' = unbounded) in byte order, at most `limit`. */
  range(ns: string, startKey: string, endKey: string, limit: number): StateEntry[];
  /**
   * Keys in [startKey, endKey) (endKey '' = unbounded) from the highest down, at most `limit`: the
   * newest entries of a time-ordered index first, without reading the older ones.
   */
  rangeDescending(ns: string, startKey: string, endKey: string, limit: number): StateEntry[];
  history(ns: string, key: string, limit: number): HistoryEntry[];
}

interface StateRow {
  key: string;
  value: Buffer;
  block: number;
  tx: number;
}
interface HistoryRow {
  block: number;
  tx: number;
  is_delete: number;
  value: Buffer | null;
}

function toBytes(buf: Buffer): Bytes {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function toBuffer(bytes: Bytes): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class StateDb implements StateReader {
  private readonly db: Database.Database;
  private readonly stmts;
  private closed = false;

  /** path ':memory:' gives a throw-away state (used by `ledger verify` to replay). */
  constructor(
    readonly path: string,
    options: { readonly readOnly?: boolean } = {},
  ) {
    this.db = new Database(path, { readonly: options.readOnly ?? false, fileMustExist: options.readOnly ?? false });
    if (!options.readOnly) {
      this.db.pragma('journal_mode = WAL');
      // NORMAL, not FULL (issue 13, decision 1330): in WAL mode a commit is then atomic but not
      // fsync'd; a power cut may roll back the last commits, never corrupt the file. The state is
      // derived: ledger.ts fsyncs each block into the block store BEFORE applying it here, and
      // opening re-applies every stored block above the savepoint — so the state can lag, never
      // lose a block. One fsync per block fewer on every peer.
      this.db.pragma('synchronous = NORMAL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS state (ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
          block INTEGER NOT NULL, tx INTEGER NOT NULL, PRIMARY KEY (ns, key)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS history (ns TEXT NOT NULL, key TEXT NOT NULL, block INTEGER NOT NULL,
          tx INTEGER NOT NULL, is_delete INTEGER NOT NULL, value BLOB, PRIMARY KEY (ns, key, block, tx)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS txindex (txid TEXT PRIMARY KEY, block INTEGER NOT NULL,
          position INTEGER NOT NULL, code TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
      `);
    }
    this.stmts = {
      get: this.db.prepare<[string, string], StateRow>('SELECT key, value, block, tx FROM state WHERE ns = ? AND key = ?'),
      rangeBounded: this.db.prepare<[string, string, string, number], StateRow>(
        'SELECT key, value, block, tx FROM state WHERE ns = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?',
      ),
      rangeOpen: this.db.prepare<[string, string, number], StateRow>('SELECT key, value, block, tx FROM state WHERE ns = ? AND key >= ? ORDER BY key LIMIT ?'),
      rangeBoundedDescending: this.db.prepare<[string, string, string, number], StateRow>(
        'SELECT key, value, block, tx FROM state WHERE ns = ? AND key >= ? AND key < ? ORDER BY key DESC LIMIT ?',
      ),
      rangeOpenDescending: this.db.prepare<[string, string, number], StateRow>(
        'SELECT key, value, block, tx FROM state WHERE ns = ? AND key >= ? ORDER BY key DESC LIMIT ?',
      ),
      history: this.db.prepare<[string, string, number], HistoryRow>(
        'SELECT block, tx, is_delete, value FROM history WHERE ns = ? AND key = ? ORDER BY block DESC, tx DESC LIMIT ?',
      ),
      txStatus: this.db.prepare<[string], { block: number; position: number; code: string }>('SELECT block, position, code FROM txindex WHERE txid = ?'),
      meta: this.db.prepare<[string], { v: Buffer }>('SELECT v FROM meta WHERE k = ?'),
      all: this.db.prepare<[], { ns: string; key: string; value: Buffer; block: number; tx: number }>(
        'SELECT ns, key, value, block, tx FROM state ORDER BY ns, key',
      ),
      count: this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM state'),
      ...(options.readOnly
        ? {}
        : {
            put: this.db.prepare(
              'INSERT INTO state (ns, key, value, block, tx) VALUES (?, ?, ?, ?, ?) ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value, block = excluded.block, tx = excluded.tx',
            ),
            del: this.db.prepare('DELETE FROM state WHERE ns = ? AND key = ?'),
            hist: this.db.prepare('INSERT OR REPLACE INTO history (ns, key, block, tx, is_delete, value) VALUES (?, ?, ?, ?, ?, ?)'),
            index: this.db.prepare('INSERT OR IGNORE INTO txindex (txid, block, position, code) VALUES (?, ?, ?, ?)'),
            setMeta: this.db.prepare('INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v'),
          }),
    };
    if (options.readOnly) {
      this.txIdFilter = null;
      this.keyFilter = null;
    } else {
      this.txIdFilter = new TxIdFilter();
      for (const row of this.db.prepare<[], { txid: string }>('SELECT txid FROM txindex').iterate()) this.txIdFilter.add(row.txid);
      this.keyFilter = new StateKeyFilter();
      for (const row of this.db.prepare<[], { ns: string; key: string }>('SELECT ns, key FROM state').iterate()) this.keyFilter.add(row.ns, row.key);
    }
  }

  savepoint(): Savepoint | null {
    const row = this.stmts.meta.get('savepoint');
    if (!row) return null;
    const buf = row.v;
    assertInvariant(buf.length === 8 + 32 + 32, 'savepoint record is 72 bytes');
    return {
      height: Number(buf.readBigUInt64BE(0)),
      stateHash: toBytes(Buffer.from(buf.subarray(8, 40))),
      blockHash: toBytes(Buffer.from(buf.subarray(40, 72))),
    };
  }

  /** Every (ns, key) of the state table, added before it is written (a read-only state has none). */
  private readonly keyFilter: StateKeyFilter | null;

  get(ns: string, key: string): StateEntry | undefined {
    if (this.keyFilter !== null && !this.keyFilter.mayContain(ns, key)) return undefined;
    const row = this.stmts.get.get(ns, key);
    return row ? { key: row.key, value: toBytes(row.value), version: { block: row.block, tx: row.tx } } : undefined;
  }

  range(ns: string, startKey: string, endKey: string, limit: number): StateEntry[] {
    const rows = endKey === '' ? this.stmts.rangeOpen.all(ns, startKey, limit) : this.stmts.rangeBounded.all(ns, startKey, endKey, limit);
    return rows.map((row) => ({ key: row.key, value: toBytes(row.value), version: { block: row.block, tx: row.tx } }));
  }

  rangeDescending(ns: string, startKey: string, endKey: string, limit: number): StateEntry[] {
    const rows = endKey === '' ? this.stmts.rangeOpenDescending.all(ns, startKey, limit) : this.stmts.rangeBoundedDescending.all(ns, startKey, endKey, limit);
    return rows.map((row) => ({ key: row.key, value: toBytes(row.value), version: { block: row.block, tx: row.tx } }));
  }

  history(ns: string, key: string, limit: number): HistoryEntry[] {
    return this.stmts.history.all(ns, key, limit).map((r) => ({
      block: r.block,
      tx: r.tx,
      isDelete: r.is_delete === 1,
      value: r.value ? toBytes(r.value) : null,
    }));
  }

  /** Every txId of the index (a read-only state has none: it always queries). */
  private readonly txIdFilter: TxIdFilter | null;

  txStatus(txId: string): TxStatus | undefined {
    if (this.txIdFilter !== null && !this.txIdFilter.mayContain(txId)) return undefined;
    const row = this.stmts.txStatus.get(txId);
    return row ? { block: row.block, position: row.position, code: row.code as ValidationCode } : undefined;
  }

  /** Apply one block's outcome atomically (state, history, index, savepoint). */
  applyBlock(update: BlockUpdate): Savepoint {
    const s = this.stmts;
    if (!s.put || !s.del || !s.hist || !s.index || !s.setMeta) throw new Error('state database is read-only');
    const { put, del, hist, index, setMeta } = s;
    const previous = this.savepoint();
    const expected = previous ? previous.height + 1 : 0;
    assertInvariant(update.number === expected, `state applies block ${expected} next, got ${update.number}`);
    const sorted = [...update.writes].sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : a.key < b.key ? -1 : a.key > b.key ? 1 : a.tx - b.tx));
    const stateHash = sha256(
      encode({
        prev: previous ? previous.stateHash : ZERO_STATE_HASH,
        number: update.number,
        writes: sorted.map((w) => [w.ns, w.key, w.tx, w.isDelete, w.value]),
      }),
    );
    const savepoint: Savepoint = { height: update.number, stateHash, blockHash: update.blockHash };
    const record = Buffer.alloc(72);
    record.writeBigUInt64BE(BigInt(update.number), 0);
    Buffer.from(stateHash).copy(record, 8);
    Buffer.from(update.blockHash).copy(record, 40);
    // Before the write: from the moment the table may hold a key, the filter says "maybe".
    if (this.keyFilter !== null) for (const w of update.writes) if (!w.isDelete) this.keyFilter.add(w.ns, w.key);
    this.db.transaction(() => {
      for (const w of update.writes) {
        if (w.isDelete) del.run(w.ns, w.key);
        else put.run(w.ns, w.key, toBuffer(w.value!), update.number, w.tx);
        hist.run(w.ns, w.key, update.number, w.tx, w.isDelete ? 1 : 0, w.value ? toBuffer(w.value) : null);
      }
      for (const t of update.txIndex) index.run(t.txId, update.number, t.position, t.code);
      setMeta.run('savepoint', record);
    })();
    // After the commit: a txId is "maybe" from the moment the index holds it.
    if (this.txIdFilter !== null) for (const t of update.txIndex) this.txIdFilter.add(t.txId);
    return savepoint;
  }

  /** sha256 over every (ns, key, value, version) in order: the state's full content. */
  contentDigest(): { digest: Bytes; keys: number } {
    const hash = createHash('sha256');
    let keys = 0;
    for (const row of this.stmts.all.iterate()) {
      hash.update(encode([row.ns, row.key, toBytes(row.value), row.block, row.tx]));
      keys += 1;
    }
    return { digest: new Uint8Array(hash.digest()), keys };
  }

  keyCount(): number {
    return this.stmts.count.get()?.n ?? 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
