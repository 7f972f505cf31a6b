import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_REPUTATION_CONFIG, ReputationBook } from './reputation.ts';

const members = ['a', 'b', 'c', 'd', 'e'];

/** Everyone in `voters` vouches for everyone else in it (what one decided block records). */
function block(book: ReputationBook, voters: readonly string[]): void {
  for (const i of voters) for (const j of voters) if (i !== j) book.observe(i, j);
  book.endBlock();
}

describe('ehbft reputation (simplified PowerTrust)', () => {
  it('starts uniform: a distribution over the members', () => {
    const book = new ReputationBook(members);
    const v = book.reputations(0);
    assert.equal(v.length, 5);
    for (const x of v) assert.equal(x, 0.2);
    assert.deepEqual(book.ranking(0), members);
  });

  it('power iteration converges to a fixed point that sums to 1', () => {
    const book = new ReputationBook(members, { ...DEFAULT_REPUTATION_CONFIG, iterationsMax: 500, epsilon: 1e-12 });
    for (let k = 0; k < 20; k++) block(book, ['a', 'b', 'c', k % 2 === 0 ? 'd' : 'e']);
    const v = book.reputations(20);
    assert.ok(Math.abs(v.reduce((s, x) => s + x, 0) - 1) < 1e-6);
    // One more iteration of the same map changes nothing: compare against a book that ran
    // many more iterations from the same counts.
    const longer = new ReputationBook(members, { ...DEFAULT_REPUTATION_CONFIG, iterationsMax: 5000, epsilon: 0 });
    longer.restore(book.snapshot());
    const w = longer.reputations(20);
    for (let i = 0; i < v.length; i++) assert.ok(Math.abs(v[i]! - w[i]!) < 1e-8, `member ${members[i]} ${v[i]} vs ${w[i]}`);
  });

  it('a node that never votes in time drops to the bottom of the ranking', () => {
    const book = new ReputationBook(members);
    for (let k = 0; k < 30; k++) block(book, ['a', 'b', 'c', 'd']);
    const ranking = book.ranking(30);
    assert.equal(ranking[ranking.length - 1], 'e');
    assert.ok(book.reputationOf('e', 30) < book.reputationOf('a', 30) / 3);
  });

  it('proven misbehaviour bans a node: zero reputation, ranked last, until the ban expires', () => {
    const book = new ReputationBook(members, { ...DEFAULT_REPUTATION_CONFIG, banBlocks: 10 });
    for (let k = 0; k < 10; k++) block(book, members);
    book.punish('b', 10);
    assert.equal(book.isBanned('b', 10), true);
    assert.equal(book.reputationOf('b', 10), 0);
    assert.equal(book.ranking(10).at(-1), 'b');
    assert.equal(book.isBanned('b', 20), false);
  });

  it('is deterministic: the same observations give bit-identical reputations', () => {
    const x = new ReputationBook(members);
    const y = new ReputationBook(members);
    for (const book of [x, y])
      for (let k = 0; k < 50; k++)
        block(
          book,
          members.filter((_, i) => (k + i) % 3 !== 0),
        );
    assert.deepEqual(x.reputations(50), y.reputations(50));
    assert.deepEqual(x.ranking(50), y.ranking(50));
  });

  it('old behaviour fades: counts halve every decayBlocks', () => {
    const book = new ReputationBook(members, { ...DEFAULT_REPUTATION_CONFIG, decayBlocks: 4 });
    for (let k = 0; k < 3; k++) block(book, ['a', 'b']);
    assert.equal(book.snapshot().counts[0]![1], 3);
    block(book, ['a', 'b']);
    assert.equal(book.snapshot().counts[0]![1], 2); // 4 halved
  });

  it('rebased onto a new membership (decision 1290): counts and bans among remaining members carry over, a newcomer starts unobserved', () => {
    const book = new ReputationBook(members);
    for (let k = 0; k < 10; k++) block(book, ['a', 'b', 'c', 'd']);
    book.punish('d', 10);
    const next = book.rebased(['a', 'b', 'c', 'd', 'f']);
    const before = book.snapshot();
    const after = next.snapshot();
    // a→b, b→c … as they were; f's row and column are zero; d's ban holds; e is gone.
    for (const [x, y] of [
      ['a', 'b'],
      ['b', 'c'],
      ['c', 'a'],
    ] as const) {
      assert.equal(after.counts[next.indexOf(x)!]![next.indexOf(y)!], before.counts[book.indexOf(x)!]![book.indexOf(y)!]);
    }
    assert.ok(after.counts[0]![1]! > 0);
    assert.deepEqual(after.counts[4], [0, 0, 0, 0, 0]);
    assert.ok(after.counts.every((row) => row[4] === 0));
    assert.equal(next.isBanned('d', 11), true);
    assert.equal(next.indexOf('e'), undefined);
    assert.equal(after.observedBlocks, before.observedBlocks);
    // The newcomer ranks below the members that vouched for one another; the book is unchanged.
    const ranking = next.ranking(11);
    assert.ok(ranking.indexOf('f') > ranking.indexOf('a'));
    assert.deepEqual(book.snapshot(), before);
  });
});
