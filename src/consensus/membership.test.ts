import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextMemberStep, parseMemberList, sameMemberSet, singleStep } from './membership.ts';

describe('member-list steps', () => {
  it('adds first (appended), then removes, one member per step; keeps what it must keep', () => {
    assert.deepEqual(nextMemberStep(['a', 'b', 'c'], ['b', 'c', 'd']), ['a', 'b', 'c', 'd']);
    assert.deepEqual(nextMemberStep(['a', 'b', 'c', 'd'], ['b', 'c', 'd']), ['b', 'c', 'd']);
    assert.equal(nextMemberStep(['a', 'b'], ['b', 'a']), null);
    assert.equal(nextMemberStep(['a', 'b'], ['b'], new Set(['a'])), null, 'a kept member is never removed');
    assert.equal(nextMemberStep(['a'], ['b'].slice(1)), null, 'never below one member');
  });

  it('recognises exactly the single steps nextMemberStep makes', () => {
    assert.deepEqual(singleStep(['a', 'b'], ['a', 'b', 'c']), { added: 'c' });
    assert.deepEqual(singleStep(['a', 'b', 'c'], ['a', 'c']), { removed: 'b' });
    assert.equal(singleStep(['a', 'b'], ['a', 'b', 'c', 'd']), null, 'two at once');
    assert.equal(singleStep(['a', 'b'], ['b', 'a', 'c']), null, 'reordered');
    assert.equal(singleStep(['a', 'b', 'c'], ['c', 'a']), null, 'removed and reordered');
    assert.equal(singleStep(['a', 'b'], ['a', 'c']), null, 'a swap is two steps');
    assert.equal(singleStep(['a'], []), null, 'never empty');
  });

  it('parses member lists at the edge', () => {
    assert.deepEqual(parseMemberList(['a', 'b']), ['a', 'b']);
    for (const bad of [[], ['a', 'a'], [''], [1], 'a', null, ['x'.repeat(257)]]) assert.equal(parseMemberList(bad), null, JSON.stringify(bad));
    assert.ok(sameMemberSet(['a', 'b'], ['b', 'a']));
    assert.ok(!sameMemberSet(['a', 'b'], ['a', 'c']));
  });
});
