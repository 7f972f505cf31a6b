// The decided blocks an engine keeps, written once for every engine that keeps them (issue 14 §2):
// to answer a peer that is behind (catch-up) and to hand blocks to the application again after a
// restart, when the engine had persisted a decision the application had not yet applied.
//
// One rule for each question the engines used to answer differently:
//   keys     — `<engine>/block/<height, 16 digits>`, so keysWithPrefix returns them in height order;
//   catch-up — contiguous blocks only, stopping at the first one not retained: a receiver accepts a
//              block only on top of its own head, so a block after a gap is useless to it;
//              below the retained window the application's chain answers (EngineContext.archive),
//              so a node can replay a chain of any length (a hospital that joins late);
//   restart  — every block above the application's height is re-delivered; if one of them is no
//              longer retained (the application lost more than the retention window, e.g. its
//              block store was restored from an old backup) the engine asks for a restore to its
//              head instead of skipping a height (a gap would break the chain) or crashing (the
//              engine's own state is intact; only the application is behind).
import type { Bytes } from '../codec/index.ts';
import { assertInvariant, type DecidedArchive, type DecidedBlock, type DurableState, type PersistOp, type RestoreRequest } from './engine.ts';

/** Blocks kept by default: enough for any peer that is briefly behind; older ones come by restore. */
export const DECIDED_BLOCKS_RETAINED_DEFAULT = 1024;
/**
 * The encoded blocks one catch-up reply carries at most (always at least one block): a quarter of
 * the nodes' default p2p message limit (16 MiB), so a batch of large blocks is split over several
 * replies instead of being refused by the transport — which left a node replaying a busy chain
 * asking for the same batch for ever. A single block fits any configuration that can order it.
 */
export const CATCH_UP_BYTES_MAX = 4 * 1024 * 1024;
const HEIGHT_DIGITS = 16;

export function decidedBlockKey(engine: string, height: number): string {
  assertInvariant(Number.isSafeInteger(height) && height >= 1, `a decided block has a height ≥ 1 (got ${height})`);
  return `${engine}/block/${String(height).padStart(HEIGHT_DIGITS, '0')}`;
}

/**
 * fromArchive for engines that keep blocks as DecidedBlocks (gpbft, hashgen, solo): the archived
 * block without `extra`, which such engines never set.
 */
export function plainBlock(block: DecidedBlock): DecidedBlock {
  return { height: block.height, proposals: block.proposals, digest: block.digest, previousDigest: block.previousDigest, certificate: block.certificate };
}

export interface DecidedBlockCodec<B> {
  encode(block: B): Bytes;
  /** Decode persisted bytes; throws on corruption (the engine's own durable state: crash). */
  decode(bytes: Bytes, key: string): B;
  /**
   * The engine's form of a block the application archived, or undefined when it cannot be rebuilt
   * from it (e.g. archived before the application kept the engine's `extra`): catch-up stops there.
   */
  fromArchive(block: DecidedBlock): B | undefined;
}

export interface Redelivery<B> {
  /** Blocks to hand to the application again, in height order. */
  readonly blocks: readonly B[];
  /** Set when a block the application lacks is no longer retained. */
  readonly restore: RestoreRequest | null;
}

export class DecidedChain<B extends { readonly height: number }> {
  private readonly blocks = new Map<number, B>();
  private readonly prefix: string;

  constructor(
    private readonly engine: string,
    readonly retainMax: number,
    private readonly codec: DecidedBlockCodec<B>,
    private readonly archive?: DecidedArchive,
  ) {
    assertInvariant(Number.isSafeInteger(retainMax) && retainMax >= 1, `an engine retains at least one block (got ${retainMax})`);
    this.prefix = `${engine}/block/`;
  }

  /** Load the retained blocks the engine persisted, up to its durable head. */
  restore(storage: DurableState, head: number): void {
    for (const key of storage.keysWithPrefix(this.prefix)) {
      const bytes = storage.get(key);
      if (bytes === undefined) continue;
      const block = this.codec.decode(bytes, key);
      // A block stored under another height's key is corruption of our own state.
      assertInvariant(decidedBlockKey(this.engine, block.height) === key, `${key} holds the block of height ${block.height}`);
      if (block.height <= head && block.height > head - this.retainMax) this.blocks.set(block.height, block);
    }
  }

  /** Keep a newly decided block. The returned ops persist it and drop the one leaving retention. */
  append(block: B): PersistOp[] {
    const ops: PersistOp[] = [{ op: 'put', key: decidedBlockKey(this.engine, block.height), value: this.codec.encode(block) }];
    this.blocks.set(block.height, block);
    const leaving = block.height - this.retainMax;
    if (leaving >= 1) {
      this.blocks.delete(leaving);
      ops.push({ op: 'delete', key: decidedBlockKey(this.engine, leaving) });
    }
    return ops;
  }

  get(height: number): B | undefined {
    return this.blocks.get(height);
  }

  /**
   * Contiguous blocks from `from` up to `to`, at most `countMax` and — past the first — at most
   * `bytesMax` encoded (see the file comment): retained ones, and below the retained window (only
   * there: above it a missing block is one this node has not decided) the archive's.
   */
  range(from: number, to: number, countMax: number, bytesMax = Number.POSITIVE_INFINITY): B[] {
    const out: B[] = [];
    const retainedFrom = to - this.retainMax + 1;
    let bytes = 0;
    for (let h = Math.max(1, from); h <= to && out.length < countMax; h++) {
      const block = this.blocks.get(h) ?? (h < retainedFrom ? this.archived(h) : undefined);
      if (block === undefined) break;
      if (Number.isFinite(bytesMax)) {
        bytes += this.codec.encode(block).byteLength;
        if (out.length > 0 && bytes > bytesMax) break;
      }
      out.push(block);
    }
    return out;
  }

  private archived(height: number): B | undefined {
    const decided = this.archive?.decided(height);
    if (decided === undefined) return undefined;
    // The application's chain is this node's own; a block under another height is its bug, not a peer's.
    assertInvariant(decided.height === height, `the archive holds the block of height ${decided.height} at ${height}`);
    const block = this.codec.fromArchive(decided);
    assertInvariant(block === undefined || block.height === height, `an archived block of height ${height} rebuilt at ${block?.height}`);
    return block;
  }

  /** What to hand the application after a restart (see the file comment). */
  redeliver(appliedHeight: number | undefined, head: number, headDigest: Bytes): Redelivery<B> {
    if (appliedHeight === undefined || appliedHeight >= head) return { blocks: [], restore: null };
    const blocks = this.range(appliedHeight + 1, head, head - appliedHeight);
    if (blocks.length === head - appliedHeight) return { blocks, restore: null };
    return { blocks: [], restore: { height: head, digest: headDigest } };
  }
}

/**
 * The block of `height` among an application's decided blocks, for test clusters' archives: at its
 * index unless a restart re-delivered blocks or a restore skipped some (then the last one of it).
 */
export function archivedBlock(decided: readonly DecidedBlock[], height: number): DecidedBlock | undefined {
  const at = decided[height - 1];
  return at?.height === height ? at : decided.findLast((b) => b.height === height);
}
