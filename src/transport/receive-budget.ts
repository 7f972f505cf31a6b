// What a node reads from each peer, metered: a token bucket per peer over frames and one over
// bytes, each refilled continuously at its rate and holding at most one second of it (the burst).
// The transport charges every frame it reads from a peer; once a bucket is overdrawn it stops
// reading that peer's connections (TCP then pushes back on the sender) until the bucket is back
// at zero (decision 1397). A frame already read is never refused: the budget only delays. The
// answers a peer's requests make this node send are charged to its bytes too: a request of a few
// bytes that costs a large answer (a range of blocks) is paid for like a large message.
//
// Pure bookkeeping with an injected clock, so the arithmetic is tested without sockets.

export interface ReceiveBudgetLimits {
  /** Frames per second one peer may have read (requests, answers and one-way messages alike). */
  readonly framesPerSecond: number;
  /** Bytes per second one peer may have read. */
  readonly bytesPerSecond: number;
}

interface Bucket {
  frames: number;
  bytes: number;
  atMs: number;
}

export class ReceiveBudget {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: ReceiveBudgetLimits,
    private readonly clock: () => number,
  ) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isFinite(value) || value <= 0) throw new RangeError(`receive budget ${name} must be a positive number, got ${value}`);
    }
  }

  /**
   * Charges one frame of `bytes` read from `peer`. Returns 0 while the peer is within its budget,
   * otherwise how many milliseconds from now its buckets are back at zero.
   */
  charge(peer: string, bytes: number): number {
    const b = this.refilled(peer);
    b.frames -= 1;
    b.bytes -= bytes;
    return this.waitOf(b);
  }

  /** Charges bytes this node sends `peer` at its request; returns as `charge` does. */
  chargeBytes(peer: string, bytes: number): number {
    const b = this.refilled(peer);
    b.bytes -= bytes;
    return this.waitOf(b);
  }

  /** Milliseconds from now until `peer`'s buckets are back at zero (0: within its budget). */
  waitMs(peer: string): number {
    return this.buckets.has(peer) ? this.waitOf(this.refilled(peer)) : 0;
  }

  /** Drops a peer's buckets (it is no longer connected): the map stays bounded by the peers. */
  forget(peer: string): void {
    this.buckets.delete(peer);
  }

  private refilled(peer: string): Bucket {
    const now = this.clock();
    let b = this.buckets.get(peer);
    if (!b) {
      // A peer starts with a full second of budget: its burst.
      b = { frames: this.limits.framesPerSecond, bytes: this.limits.bytesPerSecond, atMs: now };
      this.buckets.set(peer, b);
      return b;
    }
    const elapsedSeconds = Math.max(0, now - b.atMs) / 1000;
    b.frames = Math.min(this.limits.framesPerSecond, b.frames + elapsedSeconds * this.limits.framesPerSecond);
    b.bytes = Math.min(this.limits.bytesPerSecond, b.bytes + elapsedSeconds * this.limits.bytesPerSecond);
    b.atMs = now;
    return b;
  }

  private waitOf(b: Bucket): number {
    const framesWaitMs = b.frames < 0 ? (-b.frames / this.limits.framesPerSecond) * 1000 : 0;
    const bytesWaitMs = b.bytes < 0 ? (-b.bytes / this.limits.bytesPerSecond) * 1000 : 0;
    return Math.max(framesWaitMs, bytesWaitMs);
  }
}
