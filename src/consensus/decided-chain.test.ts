// Retention, catch-up ranges and re-delivery after a restart: the one rule every engine follows.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decode, encode, type Bytes } from '../codec/index.ts';
import { MemoryStorage } from './memory-storage.ts';
import { DecidedChain, decidedBlockKey } from './decided-chain.ts';
import { EngineAssertionError } from './engine.ts';

interface Block {
  readonly height: number;
  readonly note: string;
}
const codec = { encode: (b: Block): Bytes => encode(b), decode: (bytes: Bytes): Block => decode<Block>(bytes) };
const digest = new Uint8Array(32).fill(7);

function chainOf(heights: number, retain: number, storage = new MemoryStorage()): { chain: DecidedChain<Block>; storage: MemoryStorage } {
  const chain = new DecidedChain<Block>('test', retain, codec);
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
