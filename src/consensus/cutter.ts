// The block cutter: the proposer (leader / primary) of every engine batches pending proposals
// into blocks, cutting when the batch reaches its count or byte limit, or when the oldest
// pending proposal has waited `timeoutTicks` (Fabric's BatchSize / BatchTimeout).
import type { Proposal } from './engine.ts';
import { assertInvariant } from './engine.ts';
import { proposalSizeBytes } from './digest.ts';

export interface CutterConfig {
  /** Max proposals per block. */
  readonly countMax: number;
  /** Max total proposal bytes per block (a single larger proposal is rejected on entry). */
  readonly sizeBytesMax: number;
  /** Cut a non-empty partial batch after this many ticks. */
  readonly timeoutTicks: number;
  /** Bound on pending proposals; beyond it `add` refuses (backpressure). */
  readonly pendingMax: number;
}

export const DEFAULT_CUTTER_CONFIG: CutterConfig = {
  countMax: 100,
  sizeBytesMax: 1024 * 1024,
  timeoutTicks: 2,
  pendingMax: 10_000,
};

export type AddResult = 'added' | 'queue-full' | 'too-large';

export class BlockCutter {
  private readonly pending: Proposal[] = [];
  private pendingBytes = 0;
  private ticksWaiting = 0;

  constructor(readonly config: CutterConfig = DEFAULT_CUTTER_CONFIG) {
    assertInvariant(config.countMax >= 1, 'cutter countMax >= 1');
    assertInvariant(config.sizeBytesMax >= 1, 'cutter sizeBytesMax >= 1');
    assertInvariant(config.timeoutTicks >= 0, 'cutter timeoutTicks >= 0');
    assertInvariant(config.pendingMax >= config.countMax, 'cutter pendingMax >= countMax');
  }

  get size(): number {
    return this.pending.length;
  }

  add(p: Proposal): AddResult {
    const bytes = proposalSizeBytes(p);
    if (bytes > this.config.sizeBytesMax) return 'too-large';
    if (this.pending.length >= this.config.pendingMax) return 'queue-full';
    this.pending.push(p);
    this.pendingBytes += bytes;
    return 'added';
  }

  /** Count one tick of waiting; returns true when a partial batch is due. */
  tick(): boolean {
    if (this.pending.length === 0) {
      this.ticksWaiting = 0;
      return false;
    }
    this.ticksWaiting += 1;
    return this.ticksWaiting >= this.config.timeoutTicks;
  }

  /** A full batch is ready without waiting. */
  hasFullBatch(): boolean {
    return this.pending.length >= this.config.countMax || this.pendingBytes >= this.config.sizeBytesMax;
  }

  /** Take the next batch (up to the limits), oldest first. Empty when nothing pends. */
  cut(): Proposal[] {
    const batch: Proposal[] = [];
    let bytes = 0;
    while (batch.length < this.config.countMax && this.pending.length > 0) {
      const next = this.pending[0]!;
      const size = proposalSizeBytes(next);
      if (batch.length > 0 && bytes + size > this.config.sizeBytesMax) break;
      batch.push(this.pending.shift()!);
      bytes += size;
    }
    this.pendingBytes -= bytes;
    this.ticksWaiting = 0;
    return batch;
  }

  /** Remove and return everything (e.g. a deposed leader hands its queue on). */
  drain(): Proposal[] {
    const all = this.pending.splice(0);
    this.pendingBytes = 0;
    this.ticksWaiting = 0;
    return all;
  }
}
