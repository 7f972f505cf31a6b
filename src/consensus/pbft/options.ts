// PBFT engine options (EngineContext.options), validated at the edge the way every engine's are
// (consensus/options.ts): unknown keys and out-of-range values are errors naming the option.
import { z } from 'zod';
import { intIn, parseEngineOptions } from '../options.ts';

export interface PbftOptions {
  /** K: a checkpoint every K sequence numbers. */
  readonly checkpointInterval: number;
  /** L: high watermark H = h + L; a multiple of K (Castro–Liskov use L = 2K). */
  readonly logWindow: number;
  /** T: base timeout (ticks) waiting for a known request to execute / for a NEW-VIEW. */
  readonly viewChangeTimeoutTicks: number;
  /** Timeouts double with each consecutive view change up to T · 2^this. */
  readonly viewChangeBackoffMax: number;
  /**
   * A STATUS (the retransmission / catch-up trigger: peers answer with what the sender misses) is
   * broadcast every this many ticks. Every engine calls its retransmission period retransmitTicks.
   */
  readonly retransmitTicks: number;
  /** Bound on known-but-unexecuted client requests per replica. */
  readonly pendingRequestsMax: number;
  /** Max commit certificates sent in answer to one STATUS. */
  readonly catchUpBatchMax: number;
  /** Max bytes of a transferred state (dedup window snapshot). */
  readonly stateBytesMax: number;
  /** Max proposals re-broadcast at once when a request has waited T/2 ticks. */
  readonly rebroadcastMax: number;
  /**
   * A backup that has heard nothing from the primary for this many ticks (times the view-change
   * back-off), while it does hear the other backups, starts a view change even with no request
   * pending: a dead primary is replaced under no load (issue 11). 0 disables it.
   */
  readonly silentPrimaryTimeoutTicks: number;
}

export const DEFAULT_PBFT_OPTIONS: PbftOptions = {
  checkpointInterval: 10,
  logWindow: 20,
  viewChangeTimeoutTicks: 40,
  viewChangeBackoffMax: 6,
  retransmitTicks: 10,
  pendingRequestsMax: 10_000,
  catchUpBatchMax: 20,
  stateBytesMax: 16 * 1024 * 1024,
  rebroadcastMax: 100,
  // Two view-change timeouts: the primary's STATUS every 10 ticks must go missing 8 times over.
  silentPrimaryTimeoutTicks: 80,
};

const PbftOptionsSchema = z.strictObject({
  checkpointInterval: intIn(1, 1_000_000).default(DEFAULT_PBFT_OPTIONS.checkpointInterval),
  logWindow: intIn(1, 1_000_000).default(DEFAULT_PBFT_OPTIONS.logWindow),
  viewChangeTimeoutTicks: intIn(2, 10_000_000).default(DEFAULT_PBFT_OPTIONS.viewChangeTimeoutTicks),
  viewChangeBackoffMax: intIn(0, 20).default(DEFAULT_PBFT_OPTIONS.viewChangeBackoffMax),
  retransmitTicks: intIn(1, 1_000_000).default(DEFAULT_PBFT_OPTIONS.retransmitTicks),
  pendingRequestsMax: intIn(1, 10_000_000).default(DEFAULT_PBFT_OPTIONS.pendingRequestsMax),
  catchUpBatchMax: intIn(1, 10_000).default(DEFAULT_PBFT_OPTIONS.catchUpBatchMax),
  stateBytesMax: intIn(1024, 1024 * 1024 * 1024).default(DEFAULT_PBFT_OPTIONS.stateBytesMax),
  rebroadcastMax: intIn(1, 100_000).default(DEFAULT_PBFT_OPTIONS.rebroadcastMax),
  silentPrimaryTimeoutTicks: intIn(0, 10_000_000).default(DEFAULT_PBFT_OPTIONS.silentPrimaryTimeoutTicks),
});

export function parsePbftOptions(raw: Readonly<Record<string, unknown>> | undefined): PbftOptions {
  return parseEngineOptions('pbft', PbftOptionsSchema, raw, (o) =>
    o.logWindow % o.checkpointInterval !== 0 || o.logWindow < o.checkpointInterval
      ? `logWindow (${o.logWindow}) must be a positive multiple of checkpointInterval (${o.checkpointInterval})`
      : null,
  );
}
