// The leader's view of one follower (etcd's tracker.Progress): how far it matches, what to send
// next, and the flow-control state.
//   probe:     we do not know where the follower's log matches; one append in flight at a time.
//   replicate: the follower is keeping up; send optimistically, at most `inflightMax` appends
//              in flight (a sliding window of the last index each carried).
//   snapshot:  a snapshot is on its way; send nothing else until it is acknowledged.
import { assertInvariant } from '../engine.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** A bounded FIFO of the last index carried by each in-flight append. */
export class Inflights {
  private readonly items: number[] = [];

  constructor(readonly capacity: number) {
    assertInvariant(capacity >= 1, 'inflight capacity >= 1');
  }

  get count(): number {
    return this.items.length;
  }

  full(): boolean {
    return this.items.length >= this.capacity;
  }

  add(lastIndex: number): void {
    assertInvariant(!this.full(), 'inflights not full when adding');
    const prev = this.items[this.items.length - 1];
    assertInvariant(prev === undefined || lastIndex > prev, 'inflight indices increase');
    this.items.push(lastIndex);
  }

  /** An ack up to `index` frees every append that carried nothing beyond it. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.items.length && this.items[n]! <= index) n += 1;
    this.items.splice(0, n);
  }

  freeFirstOne(): void {
    this.items.shift();
  }

  reset(): void {
    this.items.length = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** Probe state: an append is out and unanswered (cleared by any response or heartbeat reply). */
  probeSent = false;
  /** Snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** Ticks spent in snapshot state (the snapshot may be lost: fall back to probing). */
  snapshotTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, inflightMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightMax);
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = 'probe';
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.snapshotTicks = 0;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** An acknowledgement up to n. Returns true when match moved forward. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** Replicate state: entries up to n are on their way. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * The follower rejected an append whose prevIndex was `rejected`; `matchHint` is the highest
   * index that may match. Returns false for a stale rejection (nothing to change).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
