import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReceiveBudget } from './receive-budget.ts';

function budgetAt(limits: { framesPerSecond: number; bytesPerSecond: number }): { budget: ReceiveBudget; advance: (ms: number) => void } {
  let nowMs = 1_000;
  return { budget: new ReceiveBudget(limits, () => nowMs), advance: (ms) => (nowMs += ms) };
}

describe('receive budget', () => {
  it('lets a peer read one second of messages at once, then asks it to wait for the refill', () => {
    const { budget, advance } = budgetAt({ framesPerSecond: 100, bytesPerSecond: 1_000_000 });
    for (let i = 0; i < 100; i++) assert.equal(budget.charge('a', 10), 0, `message ${i + 1} is within the burst`);
    // The 101st overdraws by one message: 10 ms at 100 per second.
    assert.equal(budget.charge('a', 10), 10);
    assert.equal(budget.charge('a', 10), 20);
    advance(10);
    assert.equal(budget.waitMs('a'), 10);
    advance(10);
    assert.equal(budget.waitMs('a'), 0);
    // Refilled at the rate, never above one second's worth.
    advance(60_000);
    for (let i = 0; i < 100; i++) assert.equal(budget.charge('a', 10), 0);
    assert.ok(budget.charge('a', 10) > 0);
  });

  it('meters bytes as well as messages, whichever is overdrawn more', () => {
    const { budget, advance } = budgetAt({ framesPerSecond: 1_000, bytesPerSecond: 10_000 });
    assert.equal(budget.charge('a', 10_000), 0);
    // 5,000 bytes over: half a second at 10,000 bytes per second.
    assert.equal(budget.charge('a', 5_000), 500);
    advance(250);
    assert.equal(budget.waitMs('a'), 250);
  });

  it("charges the bytes of answers to the asker's byte bucket, not its frames", () => {
    const { budget } = budgetAt({ framesPerSecond: 2, bytesPerSecond: 1_000 });
    assert.equal(budget.chargeBytes('a', 1_000), 0);
    assert.equal(budget.chargeBytes('a', 500), 500);
    assert.equal(budget.charge('b', 1), 0);
    assert.equal(budget.charge('b', 1), 0, "b's frames are untouched by a's answers");
  });

  it('keeps each peer to its own buckets', () => {
    const { budget } = budgetAt({ framesPerSecond: 2, bytesPerSecond: 1_000 });
    budget.charge('a', 1);
    budget.charge('a', 1);
    assert.ok(budget.charge('a', 1) > 0);
    assert.equal(budget.charge('b', 1), 0, 'another peer is not held back by the first');
    assert.equal(budget.waitMs('never-seen'), 0);
    budget.forget('a');
    assert.equal(budget.waitMs('a'), 0);
    assert.equal(budget.charge('a', 1), 0, 'a forgotten peer starts again with its burst');
  });

  it('refuses limits that are not positive numbers', () => {
    assert.throws(() => new ReceiveBudget({ framesPerSecond: 0, bytesPerSecond: 1 }, Date.now), /framesPerSecond must be a positive number/);
    assert.throws(() => new ReceiveBudget({ framesPerSecond: 1, bytesPerSecond: Number.NaN }, Date.now), /bytesPerSecond/);
  });
});
