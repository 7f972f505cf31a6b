import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { faultsTolerated, joinThreshold, makePlan, quorumSize, selectedAfterRounds, selectionOrder, sliceFormula, sliceSchedule } from './quorum.ts';

describe('ehbft quorum slicing arithmetic', () => {
  it('the paper formula ⌊(T − i)/2⌋ + 1', () => {
    assert.equal(sliceFormula(7, 0), 4);
    assert.equal(sliceFormula(7, 4), 2);
    assert.equal(sliceFormula(7, 6), 1);
    assert.equal(sliceFormula(10, 0), 6);
    assert.equal(sliceFormula(10, 6), 3);
    assert.equal(sliceFormula(1, 0), 1);
    assert.throws(() => sliceFormula(7, 8));
  });

  it('continuous slicing selects every trusted node exactly once', () => {
    assert.deepEqual(sliceSchedule(7, 4), [4, 2, 1]);
    assert.deepEqual(sliceSchedule(10, 6), [6, 3, 1]);
    // 'safe' asks a full 2f+1 first, then slices the rest with the paper's formula.
    assert.deepEqual(sliceSchedule(7, 5), [5, 2]);
    for (let t = 1; t <= 40; t++) {
      for (const q of [quorumSize('paper', t, t), quorumSize('safe', t, t)]) {
        const s = sliceSchedule(t, q);
        assert.equal(
          s.reduce((a, b) => a + b, 0),
          t,
          `T=${t} q=${q}`,
        );
        assert.ok(s[0]! >= q);
        assert.ok(s.every((x) => x >= 1));
      }
    }
  });

  it('paper vs safe quorum sizes, and what their intersections guarantee', () => {
    assert.equal(quorumSize('paper', 7, 7), 4);
    assert.equal(quorumSize('safe', 7, 7), 5);
    for (let n = 4; n <= 40; n++) {
      const f = faultsTolerated(n);
      const safe = quorumSize('safe', n, n);
      const paper = quorumSize('paper', n, n);
      // Two safe quorums share at least f + 1 nodes: one of them is correct.
      assert.ok(2 * safe - n >= f + 1, `safe n=${n}`);
      if (n % 3 === 1) assert.equal(safe, 2 * f + 1);
      // Two paper quorums share only 2⌊n/2⌋ + 2 − n nodes: 1 or 2, which f Byzantine nodes cover once f >= 2.
      assert.ok(2 * paper - n <= 2);
      if (f >= 2) assert.ok(2 * paper - n <= f, `paper n=${n} is not Byzantine-safe`);
    }
  });

  it('the leader is selected first, then the most reputable', () => {
    const plan = makePlan('paper', ['c', 'a', 'b', 'e', 'd', 'f', 'g'], ['c', 'a', 'b', 'e', 'd', 'f', 'g']);
    assert.deepEqual(selectionOrder(plan, 'b'), ['b', 'c', 'a', 'e', 'd', 'f', 'g']);
    assert.equal(selectedAfterRounds(plan, 1), 4);
    assert.equal(selectedAfterRounds(plan, 2), 6);
    assert.equal(selectedAfterRounds(plan, 3), 7);
    assert.equal(selectedAfterRounds(plan, 9), 7);
    assert.equal(joinThreshold(plan), 4);
    const safe = makePlan('safe', ['c', 'a'], ['c', 'a', 'b', 'e', 'd', 'f', 'g']);
    assert.equal(safe.quorum, 5);
    assert.equal(safe.eligible.length, 7);
    assert.equal(joinThreshold(safe), 3); // f + 1
  });
});
