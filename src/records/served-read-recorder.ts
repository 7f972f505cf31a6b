// The custodian's own audit of what it served (decision 1152): every served read is journaled
// durably before the part leaves, and a flusher records the journal on chain in `recordReads`
// batches — oldest first, deleting events only once their transaction is committed, backing off
// and halving the batch on failure. A full journal refuses to serve (fail closed). Replay after a
// restart is idempotent: the contract records each ticket's part once (decision 1153).
import type { Sensitivity } from '../contracts/health/index.ts';
import type { MedLedgerNode } from '../node/node.ts';
import type { HealthCaller } from './caller.ts';
import { RecordError } from './errors.ts';
import { JournalFullError, type ServedReadJournal } from './readjournal.ts';
import type { AuditBacklog } from './service-options.ts';
import { servedReadEventSchema, type ServedReadEvent } from './wire.ts';

export interface ServedReadAuditSettings {
  readonly flushMs: number;
  readonly batchMax: number;
  readonly journalCapacity: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
}

export class ServedReadRecorder {
  private flushTimer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private flushFailures = 0;
  private batchSize: number;
  private recordedCount = 0;
  private stopping = false;
  private closed = false;

  constructor(
    private readonly journal: ServedReadJournal<ServedReadEvent> | null,
    private readonly audit: ServedReadAuditSettings,
    /** Who signs `recordReads` (asked each time: the node's caller is built lazily). */
    private readonly caller: () => HealthCaller,
    private readonly log: MedLedgerNode['log'],
  ) {
    this.batchSize = audit.batchMax;
  }

  /** The journal's state (for status and tests). */
  backlog(): AuditBacklog {
    return {
      enabled: this.journal !== null,
      pending: this.journal && !this.journal.isClosed ? this.journal.size() : 0,
      capacity: this.audit.journalCapacity,
      failures: this.flushFailures,
      recorded: this.recordedCount,
    };
  }

  /** Served reads journaled before a crash or restart: record them now. */
  replayPending(): void {
    if (this.journal && this.journal.size() > 0) {
      this.log.info({ pending: this.journal.size() }, 'replaying served reads not yet recorded on chain');
      this.scheduleFlush(0);
    }
  }

  /** No more timers; a drain in progress finishes. */
  stop(): void {
    this.stopping = true;
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  /** After stop(): wait for a drain in progress, then (unless `flush` is false) try once more. */
  async settle(flush: boolean): Promise<void> {
    await this.draining;
    if (flush) await this.drain();
  }

  /** Close the journal: what is not recorded stays in it for the next start. */
  close(): void {
    this.closed = true;
    this.journal?.close();
  }

  /**
   * Durably journal one served read (throws — and so refuses to serve — when the journal is full).
   * The event names the access transaction (its ticket) and the part's level, nothing else: who
   * read, which record and why are on chain already, bound to that transaction (decision 1153).
   */
  note(txId: string, sensitivity: Sensitivity, served: 'allow' | 'deny'): void {
    if (!this.journal) return;
    try {
      this.journal.append({ ticket: txId, sensitivity, servedDecision: served });
    } catch (err) {
      if (err instanceof JournalFullError) {
        this.log.error({ pending: this.journal.size(), failures: this.flushFailures }, 'served-read audit backlog full: refusing to serve');
        throw new RecordError(`${err.message}: this custodian refuses to serve until they are recorded`, 'UNAVAILABLE');
      }
      throw new RecordError(`cannot journal the served read for the audit, so it is not served: ${(err as Error).message}`, 'UNAVAILABLE');
    }
    if (this.journal.size() >= this.audit.batchMax) this.scheduleFlush(0);
    else this.scheduleFlush(this.audit.flushMs);
  }

  scheduleFlush(delayMs: number): void {
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
        this.log.error({ reason: err.message }, 'served-read journal flush failed');
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
          this.log.error({ eventIds: unrecordable.map((e) => e.eventId) }, 'served-read journal entries in an unrecordable format dropped');
          journal.remove(unrecordable.map((e) => e.eventId));
          continue;
        }
        const entries = pending;
        try {
          const r = await this.caller().submit(
            'recordReads',
            entries.map((e) => ({ ...e.event, eventId: e.eventId })),
          );
          journal.remove(entries.map((e) => e.eventId));
          const duplicates = Array.isArray(r.payload) ? (r.payload as Array<{ duplicate?: boolean }>).filter((x) => x.duplicate === true).length : 0;
          this.recordedCount += entries.length;
          this.flushFailures = 0;
          this.batchSize = this.audit.batchMax;
          this.log.debug({ count: entries.length, duplicates, txId: r.txId }, 'served reads recorded on chain');
        } catch (err) {
          this.flushFailures += 1;
          this.batchSize = Math.max(1, Math.floor(this.batchSize / 2));
          const delayMs = Math.min(this.audit.retryMaxMs, this.audit.retryBaseMs * 2 ** Math.min(this.flushFailures - 1, 16));
          this.log.warn(
            { count: entries.length, pending: journal.size(), failures: this.flushFailures, retryInMs: delayMs, reason: (err as Error).message },
            'served reads not recorded yet; kept in the journal',
          );
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
}
