import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { NOTICES_HOLD_MS } from '../consensus/engine.ts';
import { HeldNoticesTimer } from './held-notices.ts';

describe('HeldNoticesTimer: the drivers side of Ready.noticesHeld (decisions 1405, 1416)', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('flushes once NOTICES_HOLD_MS after the first Ready that holds, not earlier, not twice', () => {
    let flushes = 0;
    const held = new HeldNoticesTimer(() => (flushes += 1));
    held.afterReady(true);
    mock.timers.tick(NOTICES_HOLD_MS - 1);
    held.afterReady(true); // a second hold while one is pending starts no second timer
    held.afterReady(undefined); // a Ready that says nothing leaves the pending flush alone
    assert.equal(flushes, 0);
    assert.equal(held.pending, true);
    mock.timers.tick(1);
    assert.equal(flushes, 1);
    assert.equal(held.pending, false);
    mock.timers.tick(10 * NOTICES_HOLD_MS);
    assert.equal(flushes, 1);
  });

  it('a Ready that says an entry carried the notices calls the flush off', () => {
    let flushes = 0;
    const held = new HeldNoticesTimer(() => (flushes += 1));
    held.afterReady(true);
    mock.timers.tick(1);
    held.afterReady(false);
    assert.equal(held.pending, false);
    mock.timers.tick(10 * NOTICES_HOLD_MS);
    assert.equal(flushes, 0);
  });

  it("a later round's hold waits its own NOTICES_HOLD_MS, not what was left of an earlier one", () => {
    // The bug decision 1416 mended: the timer of round 1's hold, never called off, fired 1 ms
    // into round 2's hold and sent that notice early.
    const flushedAt: number[] = [];
    let nowMs = 0;
    const held = new HeldNoticesTimer(() => flushedAt.push(nowMs));
    const advance = (ms: number): void => {
      nowMs += ms;
      mock.timers.tick(ms);
    };
    held.afterReady(true); // round 1 commits at 0
    advance(1);
    held.afterReady(false); // round 2's entry carried it at 1
    advance(NOTICES_HOLD_MS - 1);
    held.afterReady(true); // round 2 commits at NOTICES_HOLD_MS
    advance(NOTICES_HOLD_MS - 1);
    assert.deepEqual(flushedAt, []);
    advance(1);
    assert.deepEqual(flushedAt, [2 * NOTICES_HOLD_MS]);
  });

  it('cancel() stops a pending flush (the driver closes)', () => {
    let flushes = 0;
    const held = new HeldNoticesTimer(() => (flushes += 1));
    held.afterReady(true);
    held.cancel();
    held.cancel();
    mock.timers.tick(10 * NOTICES_HOLD_MS);
    assert.equal(flushes, 0);
  });
});
