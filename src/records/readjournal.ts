// The custodian's journal of served cross-hospital reads that are not yet audited on chain
// (decision 1152). A read is served only after its event is durably in this journal (SQLite, WAL,
// synchronous=FULL: the row is on disk when append returns); an event leaves the journal only
// after the `recordReads` transaction carrying it is committed VALID. A crash anywhere in between
// leaves the event here, and the flusher replays it on restart; the event's id is stable (chosen
// once, here) and the contract records each id at most once, so a replay after "committed but not
// yet deleted" is answered as a duplicate instead of being audited twice.
//
// Bounded: at `capacity` pending events append refuses, and the service then refuses to serve —
// fail closed, no unaudited reads.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { toHex } from '../codec/index.ts';

export const JOURNAL_CAPACITY_DEFAULT = 10_000;
const EVENT_BYTES_MAX = 4096;

export class JournalFullError extends Error {
  override readonly name = 'JournalFullError';
}

export interface JournalEntry<T> {
  readonly eventId: string;
  readonly event: T;
  readonly createdAtMs: number;
}

export class ServedReadJournal<T extends object> {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly countStmt: Database.Statement;
  private readonly oldest: Database.Statement;
  private readonly del: Database.Statement;
  private closed = false;

  constructor(
    readonly path: string,
    readonly capacity = JOURNAL_CAPACITY_DEFAULT,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`journal capacity must be a positive integer, got ${capacity}`);
    // Who read which record is itself sensitive: the journal is readable by the node only. The
    // file is made private before SQLite opens it, because SQLite gives its -wal and -shm files
    // the main file's mode at creation (tightening afterwards left them world-readable).
    if (!existsSync(path)) writeFileSync(path, '', { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS served_reads (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL, created_at_ms INTEGER NOT NULL)',
    );
    this.insert = this.db.prepare('INSERT INTO served_reads (event_id, body, created_at_ms) VALUES (?, ?, ?)');
    this.countStmt = this.db.prepare('SELECT COUNT(*) AS n FROM served_reads');
    this.oldest = this.db.prepare('SELECT event_id, body, created_at_ms FROM served_reads ORDER BY seq LIMIT ?');
    this.del = this.db.prepare('DELETE FROM served_reads WHERE event_id = ?');
  }

  /** Durably add one event; returns its id. Throws JournalFullError at capacity. */
  append(event: T, nowMs = Date.now()): string {
    this.assertOpen();
    const pending = this.size();
    if (pending >= this.capacity)
      throw new JournalFullError(`the audit backlog is full (${pending} served reads not yet recorded on chain, capacity ${this.capacity})`);
    const body = JSON.stringify(event);
    if (body.length > EVENT_BYTES_MAX) throw new RangeError(`a served-read event of ${body.length} bytes exceeds ${EVENT_BYTES_MAX}`);
    const eventId = toHex(randomBytes(16));
    this.insert.run(eventId, body, nowMs);
    return eventId;
  }

  size(): number {
    this.assertOpen();
    return (this.countStmt.get() as { n: number }).n;
  }

  /** The oldest `limit` pending events, in the order they were appended. */
  pending(limit: number): JournalEntry<T>[] {
    this.assertOpen();
    const rows = this.oldest.all(Math.max(1, Math.floor(limit))) as Array<{ event_id: string; body: string; created_at_ms: number }>;
    return rows.map((r) => ({ eventId: r.event_id, event: JSON.parse(r.body) as T, createdAtMs: r.created_at_ms }));
  }

  /** Forget events whose audit transaction is committed. */
  remove(eventIds: readonly string[]): void {
    this.assertOpen();
    this.db.transaction((ids: readonly string[]) => {
      for (const id of ids) this.del.run(id);
    })(eventIds);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`served-read journal ${this.path} is closed`);
  }
}
