// Retention, catch-up ranges and re-delivery after a restart: the one rule every engine follows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode, type Bytes } from '../codec/index.ts';
import { MemoryStorage } from './memory-storage.ts';
import { DecidedChain, decidedBlockKey } from './decided-chain.ts';
import { EngineAssertionError, type DecidedArchive, type DecidedBlock } from './engine.ts';

interface Block {
  readonly height: number;
  readonly note: string;
}
const codec = {
  encode: (b: Block): Bytes => encode(b),
  decode: (bytes: Bytes): Block => decode<Block>(bytes),
  // The test's blocks keep their note in the archived block's `extra`; none: cannot be rebuilt.
  fromArchive: (b: DecidedBlock): Block | undefined => (b.extra === undefined ? undefined : { height: b.height, note: decode<string>(b.extra) }),
};
const digest = new Uint8Array(32).fill(7);

/** The application's chain of `heights` blocks, each archived with its note (or without, from `bareFrom`). */
function archiveOf(heights: number, bareFrom = Infinity): DecidedArchive & { reads: number[] } {
  const reads: number[] = [];
  return {
    reads,
    decided(height) {
      reads.push(height);
      if (height < 1 || height > heights) return undefined;
      return { height, proposals: [], digest, previousDigest: digest, certificate: null, ...(height >= bareFrom ? {} : { extra: encode(`b${height}`) }) };
    },
  };
}

function chainOf(
  heights: number,
  retain: number,
  storage = new MemoryStorage(),
  archive?: DecidedArchive,
): { chain: DecidedChain<Block>; storage: MemoryStorage } {
  const chain = new DecidedChain<Block>('test', retain, codec, archive);
  for (let h = 1; h <= heights; h++) storage.apply(chain.append({ height: h, note: `b${h}` }));
  return { chain, storage };
}

describe('DecidedChain', () => {
  it('names keys so that storage order is height order', () => {
    assert.equal(decidedBlockKey('pbft', 42), 'pbft/block/0000000000000042');
    assert.ok(decidedBlockKey('x', 9) < decidedBlockKey('x', 10));
    assert.throws(() => decidedBlockKey('x', 0), EngineAssertionError);
  });

  it('keeps the last retainMax blocks, in memory and in storage', () => {
    const { chain, storage } = chainOf(10, 4, new MemoryStorage());
    assert.deepEqual(
      [...Array(10).keys()].map((i) => chain.get(i + 1) !== undefined),
      [false, false, false, false, false, false, true, true, true, true],
    );
    assert.equal(storage.keysWithPrefix('test/block/').length, 4);
  });

  it('serves contiguous ranges and stops at the first block it no longer holds', () => {
    const { chain } = chainOf(10, 4);
    assert.deepEqual(
      chain.range(8, 10, 100).map((b) => b.height),
      [8, 9, 10],
    );
    assert.deepEqual(
      chain.range(8, 10, 2).map((b) => b.height),
      [8, 9],
    );
    assert.deepEqual(chain.range(3, 10, 100), [], 'block 3 left retention: nothing after the gap is useful');
  });

  it("serves blocks that left retention from the application's chain, so a node can replay from genesis", () => {
    const archive = archiveOf(10);
    const { chain } = chainOf(10, 4, new MemoryStorage(), archive);
    assert.deepEqual(
      chain.range(1, 10, 100).map((b) => `${b.height}:${b.note}`),
      ['1:b1', '2:b2', '3:b3', '4:b4', '5:b5', '6:b6', '7:b7', '8:b8', '9:b9', '10:b10'],
    );
    assert.deepEqual(archive.reads, [1, 2, 3, 4, 5, 6], 'only the heights below the retained window are read');
    assert.deepEqual(
      chain.range(2, 10, 3).map((b) => b.height),
      [2, 3, 4],
      'at most countMax',
    );
  });

  it('cuts a catch-up reply by encoded bytes too, never below one block', () => {
    const chain = new DecidedChain<Block>('test', 10, codec);
    for (let h = 1; h <= 6; h++) chain.append({ height: h, note: 'x'.repeat(1000) });
    const one = encode({ height: 1, note: 'x'.repeat(1000) }).byteLength;
    assert.deepEqual(
      chain.range(1, 6, 100, 3 * one).map((b) => b.height),
      [1, 2, 3],
    );
    assert.deepEqual(
      chain.range(2, 6, 100, one - 1).map((b) => b.height),
      [2],
      'a block larger than the budget still goes, alone',
    );
    assert.equal(chain.range(1, 6, 100).length, 6, 'no budget: count only');
  });

  it('stops at the first archived block it cannot rebuild, and never asks the archive above its retained window', () => {
    const { chain } = chainOf(10, 4, new MemoryStorage(), archiveOf(10, 4));
    assert.deepEqual(
      chain.range(1, 10, 100).map((b) => b.height),
      [1, 2, 3],
    );
    // Above the retained window a missing block is one this node has not decided: not the archive's.
    const archive = archiveOf(20);
    const short = new DecidedChain<Block>('test', 4, codec, archive);
    assert.deepEqual(short.range(1, 3, 100), []);
    assert.deepEqual(archive.reads, []);
  });

  it("treats an archive that answers with another height's block as its own corruption", () => {
    const wrong: DecidedArchive = { decided: (h) => ({ height: h + 1, proposals: [], digest, previousDigest: digest, certificate: null, extra: encode('x') }) };
    const { chain } = chainOf(10, 4, new MemoryStorage(), wrong);
    assert.throws(() => chain.range(1, 10, 100), EngineAssertionError);
  });

  it('restores what was persisted up to the durable head and re-delivers what the application lacks', () => {
    const { storage } = chainOf(10, 4);
    const restarted = new DecidedChain<Block>('test', 4, codec);
    restarted.restore(storage, 10);
    assert.deepEqual(restarted.redeliver(8, 10, digest), { blocks: [restarted.get(9), restarted.get(10)], restore: null });
    assert.deepEqual(restarted.redeliver(10, 10, digest), { blocks: [], restore: null });
    assert.deepEqual(restarted.redeliver(undefined, 10, digest), { blocks: [], restore: null });
  });

  it('asks for a restore, never a gap, when a block the application lacks is gone', () => {
    const { storage } = chainOf(10, 4);
    const restarted = new DecidedChain<Block>('test', 4, codec);
    restarted.restore(storage, 10);
    assert.deepEqual(restarted.redeliver(2, 10, digest), { blocks: [], restore: { height: 10, digest } });
  });

  it('treats a block stored under another height as corruption of its own state', () => {
    const storage = new MemoryStorage();
    storage.apply([{ op: 'put', key: decidedBlockKey('test', 3), value: encode({ height: 4, note: 'misfiled' }) }]);
    assert.throws(() => new DecidedChain<Block>('test', 4, codec).restore(storage, 10), EngineAssertionError);
  });
});
