// Prepared record versions: sealed and stored at the custodian, not (yet) on chain (decisions
// 1050, 1160). Preparing costs the node disk before any transaction exists, so it is bounded —
// per user and in total, in versions and in sealed bytes. A prepared version may be written on
// chain for `ttlMs` (10 minutes, the lifetime of an access ticket too; the contract refuses a
// later write through `notAfterMs`); after a further grace (the orderer's clock-skew bound + 1
// minute) the record service sweeps it (blobs and wrapped keys deleted) unless the chain holds
// it by then. Until that moment it belongs to its preparer.
// This class is the bookkeeping only (synchronous, so a check and its reservation cannot be
// interleaved by another request); the service owns the disk and the chain checks.
// Prepared datasets (sealed at the custodian before registerDataset lists them) are kept the
// same way, as version 1 of their dataset id, with their own limits (issue 16, item 7).

export interface PreparedLimits {
  /** Versions one user may hold prepared at once. */
  readonly perUserMax: number;
  /** Sealed bytes one user may hold prepared at once. */
  readonly perUserBytesMax: number;
  /** Versions held prepared on this node, every user together. */
  readonly totalMax: number;
  readonly totalBytesMax: number;
  /** A prepared version's lifetime: the contract refuses a write of it timestamped later (`notAfterMs`). */
  readonly ttlMs: number;
  /**
   * After the TTL, how long the content is kept before it is swept and the preparer's claim
   * lapses: a transaction timestamped before the expiry may still be admitted (the orderer allows
   * its clock-skew bound, 5 minutes by default) and committed. Default: skew bound + 1 minute.
   */
  readonly sweepGraceMs: number;
}

export const PREPARED_VERSION_TTL_MS = 10 * 60_000;

export const PREPARED_LIMITS_DEFAULT: PreparedLimits = {
  perUserMax: 16,
  perUserBytesMax: 256 * 1024 * 1024,
  totalMax: 256,
  totalBytesMax: 2 * 1024 * 1024 * 1024,
  ttlMs: PREPARED_VERSION_TTL_MS,
  sweepGraceMs: 6 * 60_000,
};

/** Datasets: fewer and larger than record versions; same lifetime. */
export const PREPARED_DATASET_LIMITS_DEFAULT: PreparedLimits = {
  perUserMax: 8,
  perUserBytesMax: 256 * 1024 * 1024,
  totalMax: 64,
  totalBytesMax: 2 * 1024 * 1024 * 1024,
  ttlMs: PREPARED_VERSION_TTL_MS,
  sweepGraceMs: 6 * 60_000,
};

export interface PreparedEntry {
  readonly recordId: string;
  readonly version: number;
  /** "org/user" of the preparer ("unknown" for a version prepared before preparers were recorded). */
  readonly user: string;
  readonly atMs: number;
  sizeBytes: number;
  /** Parts are being sealed and stored right now (a second prepare of it must wait). */
  storing: boolean;
}

export class PreparedLimitError extends Error {
  override readonly name = 'PreparedLimitError';
}

const keyOf = (recordId: string, version: number): string => `${recordId}|${version}`;

export class PreparedVersions {
  private readonly entries = new Map<string, PreparedEntry>();

  /**
   * `wording`: what the entries are and how their holder gets rid of them, for the limit
   * messages (default: record versions, submitted or discarded).
   */
  constructor(
    readonly limits: PreparedLimits = PREPARED_LIMITS_DEFAULT,
    private readonly wording: { readonly noun: string; readonly settle: string } = { noun: 'record versions', settle: 'submit or discard them' },
  ) {}

  get(recordId: string, version: number): PreparedEntry | undefined {
    return this.entries.get(keyOf(recordId, version));
  }

  /** The preparer's claim, until the version is abandoned (then anyone may take it over). */
  holder(recordId: string, version: number, nowMs: number): PreparedEntry | undefined {
    const e = this.get(recordId, version);
    return e && !this.isAbandoned(e, nowMs) ? e : undefined;
  }

  /** When a write of it is refused by the contract. */
  expiresAtMs(e: Pick<PreparedEntry, 'atMs'>): number {
    return e.atMs + this.limits.ttlMs;
  }

  /** Expired and past the grace: no transaction timestamped before the expiry can still arrive; its content may go. */
  isAbandoned(e: PreparedEntry, nowMs: number): boolean {
    return nowMs - e.atMs >= this.limits.ttlMs + this.limits.sweepGraceMs;
  }

  all(): PreparedEntry[] {
    return [...this.entries.values()];
  }

  usage(user?: string): { count: number; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const e of this.entries.values()) {
      if (user !== undefined && e.user !== user) continue;
      count++;
      bytes += e.sizeBytes;
    }
    return { count, bytes };
  }

  /**
   * Reserve (recordId, version) for `user` with an estimate of its sealed size, or throw
   * PreparedLimitError naming the limit. An existing entry for the same version must have been
   * removed by the caller first (it decides whether it may be replaced).
   */
  reserve(recordId: string, version: number, user: string, sizeBytes: number, nowMs: number): PreparedEntry {
    const k = keyOf(recordId, version);
    if (this.entries.has(k)) throw new Error(`internal: version ${version} of ${recordId} is already reserved`);
    const mine = this.usage(user);
    const all = this.usage();
    const l = this.limits;
    const ttlMin = Math.round((l.ttlMs + l.sweepGraceMs) / 60_000);
    const advice = `${this.wording.settle}, or wait until they are swept (${ttlMin} minutes after preparing)`;
    const what = this.wording.noun;
    if (mine.count + 1 > l.perUserMax)
      throw new PreparedLimitError(`${user} already holds ${mine.count} prepared ${what} not on chain (at most ${l.perUserMax}): ${advice}`);
    if (mine.bytes + sizeBytes > l.perUserBytesMax)
      throw new PreparedLimitError(
        `${user} holds ${mine.bytes} bytes of prepared ${what} not on chain; ${sizeBytes} more would exceed ${l.perUserBytesMax}: ${advice}`,
      );
    if (all.count + 1 > l.totalMax)
      throw new PreparedLimitError(`this node holds ${all.count} prepared ${what} not on chain (at most ${l.totalMax}): try again later`);
    if (all.bytes + sizeBytes > l.totalBytesMax)
      throw new PreparedLimitError(
        `this node holds ${all.bytes} bytes of prepared ${what} not on chain; ${sizeBytes} more would exceed ${l.totalBytesMax}: try again later`,
      );
    const e: PreparedEntry = { recordId, version, user, atMs: nowMs, sizeBytes, storing: true };
    this.entries.set(k, e);
    return e;
  }

  /** Take back an entry found on disk at start-up (not subject to the limits: it already exists). */
  restore(e: Omit<PreparedEntry, 'storing'>): void {
    this.entries.set(keyOf(e.recordId, e.version), { ...e, storing: false });
  }

  delete(recordId: string, version: number): boolean {
    return this.entries.delete(keyOf(recordId, version));
  }
}
