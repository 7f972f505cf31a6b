import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RaftLog } from './log.ts';
import type { Entry } from './messages.ts';

function e(index: number, term: number): Entry {
  return { index, term, kind: 'noop', proposals: [], conf: null, cert: null };
}

/** A log whose entry i has term terms[i-1]. */
function logOf(terms: number[], offset = 0, offsetTerm = 0): RaftLog {
  return new RaftLog(
    offset,
    offsetTerm,
    terms.map((t, i) => e(offset + i + 1, t)),
  );
}

describe('RaftLog', () => {
  it('answers term, last index and up-to-dateness', () => {
    const log = logOf([1, 1, 2]);
    assert.equal(log.lastIndex(), 3);
    assert.equal(log.lastTerm(), 2);
    assert.equal(log.term(0), 0);
    assert.equal(log.term(2), 1);
    assert.equal(log.term(4), undefined);
    assert.equal(log.isUpToDate(3, 2), true);
    assert.equal(log.isUpToDate(2, 2), false); // same last term, shorter
    assert.equal(log.isUpToDate(1, 3), true); // higher last term wins regardless of length
    assert.equal(log.isUpToDate(9, 1), false);
  });

  it('finds the first conflicting or new entry', () => {
    const log = logOf([1, 1, 2]);
    assert.equal(log.findConflict([e(1, 1), e(2, 1)]), 0);
    assert.equal(log.findConflict([e(2, 1), e(3, 3), e(4, 3)]), 3);
    assert.equal(log.findConflict([e(3, 2), e(4, 2)]), 4);
  });

  it('append replaces a conflicting suffix and reports the removed range', () => {
    const log = logOf([1, 1, 2, 2, 2]);
    const removed = log.append([e(3, 3)]);
    assert.deepEqual(removed, { removedFrom: 4, removedTo: 5 });
    assert.equal(log.lastIndex(), 3);
    assert.equal(log.term(3), 3);
    assert.equal(log.append([e(4, 3), e(5, 3)]), null);
    assert.throws(() => log.append([e(7, 3)]), /no gap/);
  });

  it('findConflictByTerm skips whole terms (fast backtracking)', () => {
    // index: 1 2 3 4 5 6 7
    // term:  1 1 2 2 4 4 4
    const log = logOf([1, 1, 2, 2, 4, 4, 4]);
    assert.deepEqual(log.findConflictByTerm(7, 3), { index: 4, term: 2 });
    assert.deepEqual(log.findConflictByTerm(7, 4), { index: 7, term: 4 });
    assert.deepEqual(log.findConflictByTerm(7, 1), { index: 2, term: 1 });
    assert.deepEqual(log.findConflictByTerm(7, 0), { index: 0, term: 0 });
    assert.deepEqual(log.findConflictByTerm(9, 4), { index: 9, term: 0 }); // beyond the log
  });

  it('slices with count and byte limits, never below the compaction point', () => {
    const log = logOf([1, 1, 1, 1, 1]);
    assert.equal(log.slice(2, 5, 2, 1 << 20)!.length, 2);
    assert.equal(log.slice(2, 5, 100, 1)!.length, 1); // always at least one entry
    assert.deepEqual(log.slice(6, 5, 10, 1 << 20), []);
    log.compact(3);
    assert.equal(log.firstIndex(), 4);
    assert.equal(log.term(3), 1);
    assert.equal(log.term(2), undefined);
    assert.equal(log.slice(3, 5, 10, 1 << 20), undefined);
    assert.deepEqual(
      log.slice(4, 5, 10, 1 << 20)!.map((x) => x.index),
      [4, 5],
    );
    assert.deepEqual(log.findConflictByTerm(5, 0), { index: 2, term: 0 });
  });

  it('reset replaces the log by a snapshot point', () => {
    const log = logOf([1, 2]);
    log.reset(10, 3);
    assert.equal(log.lastIndex(), 10);
    assert.equal(log.lastTerm(), 3);
    assert.equal(log.entry(10), undefined);
    assert.equal(log.matchTerm(10, 3), true);
  });
});
