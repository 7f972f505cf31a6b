// The one place quorums are computed: table tests and the intersection property for every size.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byzantineFaults, byzantineQuorum, crashFaults, majorityQuorum, quorumsIntersect } from './quorum.ts';

describe('quorums', () => {
  it('match the textbook tables', () => {
    const rows: Array<[number, number, number, number, number]> = [
      // n, f (Byzantine), Byzantine quorum, crash faults, majority
      [1, 0, 1, 0, 1],
      [3, 0, 2, 1, 2],
      [4, 1, 3, 1, 3],
      [5, 1, 4, 2, 3],
      [6, 1, 4, 2, 4],
      [7, 2, 5, 3, 4],
      [8, 2, 6, 3, 5],
      [10, 3, 7, 4, 6],
      [16, 5, 11, 7, 9],
      [128, 42, 86, 63, 65],
    ];
    for (const [n, f, q, cf, m] of rows) {
      assert.deepEqual([byzantineFaults(n), byzantineQuorum(n), crashFaults(n), majorityQuorum(n)], [f, q, cf, m], `n = ${n}`);
    }
  });

  it('two Byzantine quorums share a correct member, and one forms with f silent, for every n up to 1000', () => {
    for (let n = 1; n <= 1000; n++) {
      const f = byzantineFaults(n);
      const q = byzantineQuorum(n);
      assert.ok(quorumsIntersect(n, q, f + 1), `n = ${n}`);
      assert.ok(q <= n - f, `n = ${n}`);
      // And it is the smallest such quorum.
      assert.ok(!quorumsIntersect(n, q - 1, f + 1) || q - 1 < 1, `n = ${n}: ${q - 1} would do`);
    }
  });

  it('2f + 1 alone would not be safe for n = 5 (why the formula is not simply 2f + 1)', () => {
    assert.equal(byzantineFaults(5), 1);
    assert.ok(!quorumsIntersect(5, 3, 2));
    assert.equal(byzantineQuorum(5), 4);
  });

  it('two majorities always intersect', () => {
    for (let n = 1; n <= 1000; n++) assert.ok(quorumsIntersect(n, majorityQuorum(n), 1));
  });
});
