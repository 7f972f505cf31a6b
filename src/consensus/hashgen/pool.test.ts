import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataLakePool } from './pool.ts';

const p = (seq: number, bytes = 10) => ({ clientId: 'c', seq, data: new Uint8Array(bytes) });

describe('data-lake pool', () => {
  it('keeps each proposal once, oldest first, bounded', () => {
    const pool = new DataLakePool(3);
    assert.equal(pool.add(p(1)), 'added');
    assert.equal(pool.add(p(1)), 'duplicate');
    assert.equal(pool.add(p(2)), 'added');
    assert.equal(pool.add(p(3)), 'added');
    assert.equal(pool.add(p(4)), 'queue-full');
    assert.deepEqual(
      pool.oldest(2).map((x) => x.seq),
      [1, 2],
    );
    pool.remove(p(1));
    pool.remove(p(9)); // absent: no effect
    assert.equal(pool.size, 2);
    assert.equal(pool.add(p(4)), 'added');
    assert.deepEqual(
      pool.oldest(10).map((x) => x.seq),
      [2, 3, 4],
    );
  });

  it('cuts batches by count and bytes; a batch stays pooled until removed', () => {
    const pool = new DataLakePool(100);
    for (let s = 1; s <= 5; s++) pool.add(p(s, 100)); // 100 + 1 + 16 = 117 bytes each
    assert.deepEqual(
      pool.batch(3, 10_000).map((x) => x.seq),
      [1, 2, 3],
    );
    assert.deepEqual(
      pool.batch(10, 300).map((x) => x.seq),
      [1, 2],
      '3 × 117 > 300',
    );
    assert.deepEqual(
      pool.batch(10, 50).map((x) => x.seq),
      [1],
      'the first proposal is always taken',
    );
    assert.equal(pool.size, 5);
    assert.ok(pool.hasFullBatch(5, 1_000_000));
    assert.ok(!pool.hasFullBatch(6, 1_000_000));
    assert.ok(pool.hasFullBatch(6, 585), 'bytes reach the limit');
    for (let s = 1; s <= 5; s++) pool.remove(p(s));
    assert.ok(!pool.hasFullBatch(1, 1), 'empty: bytes back to zero');
  });
});
