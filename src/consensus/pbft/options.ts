// PBFT engine options (EngineContext.options), validated at the edge: unknown keys and
// out-of-range values are errors that name the offending option.

export interface PbftOptions {
  /** K: a checkpoint every K sequence numbers. */
  readonly checkpointInterval: number;
  /** L: high watermark H = h + L; a multiple of K (Castro–Liskov use L = 2K). */
  readonly logWindow: number;
  /** T: base timeout (ticks) waiting for a known request to execute / for a NEW-VIEW. */
  readonly viewChangeTimeoutTicks: number;
  /** Timeouts double with each consecutive view change up to T · 2^this. */
  readonly viewChangeBackoffMax: number;
  /** A STATUS (retransmission / catch-up trigger) is broadcast every this many ticks. */
  readonly statusIntervalTicks: number;
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
  statusIntervalTicks: 10,
  pendingRequestsMax: 10_000,
  catchUpBatchMax: 20,
  stateBytesMax: 16 * 1024 * 1024,
  rebroadcastMax: 100,
  // Two view-change timeouts: the primary's STATUS every 10 ticks must go missing 8 times over.
  silentPrimaryTimeoutTicks: 80,
};

export class PbftOptionsError extends Error {
  override readonly name = 'PbftOptionsError';
}

const LIMITS: Record<keyof PbftOptions, readonly [number, number]> = {
  checkpointInterval: [1, 1_000_000],
  logWindow: [1, 1_000_000],
  viewChangeTimeoutTicks: [2, 10_000_000],
  viewChangeBackoffMax: [0, 20],
  statusIntervalTicks: [1, 1_000_000],
  pendingRequestsMax: [1, 10_000_000],
  catchUpBatchMax: [1, 10_000],
  stateBytesMax: [1024, 1024 * 1024 * 1024],
  rebroadcastMax: [1, 100_000],
  silentPrimaryTimeoutTicks: [0, 10_000_000],
};

export function parsePbftOptions(raw: Readonly<Record<string, unknown>> | undefined): PbftOptions {
  const out: Record<string, number> = { ...DEFAULT_PBFT_OPTIONS };
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (!(key in LIMITS)) {
      throw new PbftOptionsError(`unknown pbft option "${key}" (known: ${Object.keys(LIMITS).join(', ')})`);
    }
    const [lo, hi] = LIMITS[key as keyof PbftOptions];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < lo || value > hi) {
      throw new PbftOptionsError(`pbft option ${key} must be an integer in [${lo}, ${hi}], got ${String(value)}`);
    }
    out[key] = value;
  }
  const opts = out as unknown as PbftOptions;
  if (opts.logWindow % opts.checkpointInterval !== 0 || opts.logWindow < opts.checkpointInterval) {
    throw new PbftOptionsError(
      `pbft option logWindow (${opts.logWindow}) must be a positive multiple of checkpointInterval (${opts.checkpointInterval})`,
    );
  }
  return opts;
}
