import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jointActive, jointCommitted, jointVote, majorityCommitted, majorityVote, quorumSize } from './quorum.ts';
import type { ConfState } from './messages.ts';

const conf = (voters: string[], outgoing: string[] = []): ConfState => ({ voters, outgoing, learners: [] });
const acked = (m: Record<string, number>) => (id: string) => m[id] ?? 0;

describe('quorum math', () => {
  it('majority sizes', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumSize), [1, 2, 2, 3, 3, 4, 4]);
  });

  it('majority commit index is the quorum-th largest acknowledgement', () => {
    assert.equal(majorityCommitted(['1', '2', '3'], acked({ 1: 5, 2: 3, 3: 1 })), 3);
    assert.equal(majorityCommitted(['1', '2', '3', '4'], acked({ 1: 5, 2: 3, 3: 1, 4: 9 })), 3);
    assert.equal(majorityCommitted(['1', '2', '3', '4', '5'], acked({ 1: 5, 2: 5 })), 0);
    assert.equal(majorityCommitted([], acked({})), Infinity);
  });

  it('majority commit index: the same as sorting every acknowledgement, call after call of any size', () => {
    // One array is reused between calls: a smaller set after a larger one must not see its values.
    fc.assert(
      fc.property(fc.array(fc.array(fc.nat({ max: 50 }), { minLength: 1, maxLength: 9 }), { minLength: 1, maxLength: 6 }), (sets) => {
        for (const values of sets) {
          const voters = values.map((_, i) => String(i));
          const reference = [...values].sort((a, b) => b - a)[quorumSize(values.length) - 1];
          assert.equal(
            majorityCommitted(voters, (id) => values[Number(id)]!),
            reference,
          );
        }
      }),
      { numRuns: 500 },
    );
  });

  it('joint commit index needs both halves', () => {
    const c = conf(['3', '4', '5'], ['1', '2', '3']);
    // {1,2} have 10, {3,4,5} have 2 or less: the old half alone would commit 10, the new half 2.
    assert.equal(jointCommitted(c, acked({ 1: 10, 2: 10, 3: 2, 4: 2, 5: 0 })), 2);
    assert.equal(jointCommitted(conf(['1', '2', '3']), acked({ 1: 10, 2: 10 })), 10);
  });

  it('votes: won, lost, pending; joint needs both', () => {
    const v = (m: Record<string, boolean>) => new Map(Object.entries(m));
    assert.equal(majorityVote(['1', '2', '3'], v({ 1: true, 2: true })), 'won');
    assert.equal(majorityVote(['1', '2', '3'], v({ 1: true, 2: false })), 'pending');
    assert.equal(majorityVote(['1', '2', '3'], v({ 1: true, 2: false, 3: false })), 'lost');
    const c = conf(['3', '4', '5'], ['1', '2', '3']);
    assert.equal(jointVote(c, v({ 1: true, 2: true, 3: false })), 'pending');
    assert.equal(jointVote(c, v({ 1: true, 2: true, 4: true, 5: true })), 'won');
    assert.equal(jointVote(c, v({ 1: false, 2: false, 4: true, 5: true })), 'lost');
    // A voter outside both halves does not count.
    assert.equal(majorityVote(['1', '2', '3'], v({ 1: true, 9: true })), 'pending');
  });

  it('check-quorum activity is evaluated on both halves', () => {
    const c = conf(['3', '4', '5'], ['1', '2', '3']);
    assert.equal(
      jointActive(c, (id) => ['1', '2'].includes(id)),
      false,
    );
    assert.equal(
      jointActive(c, (id) => ['1', '3', '4'].includes(id)),
      true,
    );
  });
});
