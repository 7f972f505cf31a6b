// The data-lake pool (BMRS §3.2 iv): the pending proposals a node holds until they are decided.
// Every node keeps one (followers forward theirs to the generator and keep them until decided,
// so a generator that fails loses nothing); the generator cuts blocks from its own, oldest
// first. Bounded by count; a proposal is in the pool at most once.
import { proposalKey, proposalSizeBytes } from '../digest.ts';
import type { Proposal } from '../engine.ts';

export type PoolAddResult = 'added' | 'duplicate' | 'queue-full';

export class DataLakePool {
  private readonly items = new Map<string, Proposal>();
  private bytes = 0;
  /** Ticks the pool has been non-empty without a block being cut (the cutter's batch timeout). */
  waitingTicks = 0;

  constructor(private readonly pendingMax: number) {}

  get size(): number {
    return this.items.size;
  }

  has(p: Pick<Proposal, 'clientId' | 'seq'>): boolean {
    return this.items.has(proposalKey(p));
  }

  add(p: Proposal): PoolAddResult {
    const key = proposalKey(p);
    if (this.items.has(key)) return 'duplicate';
    if (this.items.size >= this.pendingMax) return 'queue-full';
    this.items.set(key, p);
    this.bytes += proposalSizeBytes(p);
    return 'added';
  }

  remove(p: Pick<Proposal, 'clientId' | 'seq'>): void {
    const key = proposalKey(p);
    const held = this.items.get(key);
    if (held === undefined) return;
    this.items.delete(key);
    this.bytes -= proposalSizeBytes(held);
    if (this.items.size === 0) this.waitingTicks = 0;
  }

  /** Oldest first, at most `countMax`. */
  oldest(countMax: number): Proposal[] {
    const out: Proposal[] = [];
    for (const p of this.items.values()) {
      if (out.length >= countMax) break;
      out.push(p);
    }
    return out;
  }

  /**
   * The next block's batch: oldest first, up to `countMax` proposals and `sizeBytesMax` bytes
   * (a first proposal is always taken; the cutter rejected oversize ones on entry). The batch
   * stays pooled until it is decided.
   */
  batch(countMax: number, sizeBytesMax: number): Proposal[] {
    const out: Proposal[] = [];
    let bytes = 0;
    for (const p of this.items.values()) {
      if (out.length >= countMax) break;
      const size = proposalSizeBytes(p);
      if (out.length > 0 && bytes + size > sizeBytesMax) break;
      out.push(p);
      bytes += size;
    }
    return out;
  }

  /** A full block is waiting (count or bytes). */
  hasFullBatch(countMax: number, sizeBytesMax: number): boolean {
    return this.items.size >= countMax || this.bytes >= sizeBytesMax;
  }
}
