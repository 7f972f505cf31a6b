import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SEEN_INDEX_MAX, SEEN_PREFIXES_MAX, SeenIds } from './seen-ids.ts';

/** A payload as the closed loop builds it: tag (4), level (4), counter (8), then filler. */
function payload(tag: number, level: number, index: number, extra = 8): Uint8Array {
  const bytes = new Uint8Array(16 + extra);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, tag);
  view.setUint32(4, level);
  view.setBigUint64(8, BigInt(index));
  return bytes;
}

describe('SeenIds', () => {
  it('tells a payload decided before from a new one, per run and level, however far the counter goes', () => {
    const seen = new SeenIds();
    assert.equal(seen.seenBefore(payload(1, 1, 0)), false);
    assert.equal(seen.seenBefore(payload(1, 1, 0)), true);
    assert.equal(seen.seenBefore(payload(1, 16, 0)), false, 'another level');
    assert.equal(seen.seenBefore(payload(2, 1, 0)), false, 'another run');
    // Past the first bitset's size (grown), out of order, and back.
    for (const i of [9_000_000, 7, 123_456, 8191, 8192]) assert.equal(seen.seenBefore(payload(1, 1, i)), false, `new ${i}`);
    for (const i of [0, 7, 8191, 8192, 123_456, 9_000_000]) assert.equal(seen.seenBefore(payload(1, 1, i)), true, `again ${i}`);
    assert.equal(seen.seenBefore(payload(1, 1, 8193)), false);
    assert.equal(seen.unchecked, 0);
  });

  it('a payload inside a larger buffer is read at its own offset', () => {
    const seen = new SeenIds();
    const whole = new Uint8Array(64);
    whole.set(payload(3, 4, 5), 10);
    assert.equal(seen.seenBefore(whole.subarray(10, 34)), false);
    assert.equal(seen.seenBefore(payload(3, 4, 5)), true);
  });

  it('ids outside the scheme or its limits are counted unchecked, never taken as new or as duplicates', () => {
    const seen = new SeenIds();
    assert.equal(seen.seenBefore(new Uint8Array(15)), false);
    assert.equal(seen.seenBefore(payload(1, 1, SEEN_INDEX_MAX)), false);
    assert.equal(seen.seenBefore(payload(1, 1, SEEN_INDEX_MAX)), false);
    assert.equal(seen.seenBefore(payload(1, 1, 2 ** 40)), false);
    assert.equal(seen.unchecked, 4);
    for (let level = 0; level < SEEN_PREFIXES_MAX; level++) assert.equal(seen.seenBefore(payload(9, level, 0)), false);
    assert.equal(seen.seenBefore(payload(9, SEEN_PREFIXES_MAX, 0)), false);
    assert.equal(seen.seenBefore(payload(9, SEEN_PREFIXES_MAX, 0)), false);
    assert.equal(seen.unchecked, 6);
  });
});
