// Raft option syncCommitIndex false (decision 1350): a hard state that only advances commit /
// applied is not written on its own. The membership fuzz (random conf changes, crashes that keep
// only what was persisted, partitions) must keep agreement and converge with it, and a restarted
// node must not hand out again a height its application already stored.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runMembershipFuzz } from './fuzz.testkit.ts';

describe('raft syncCommitIndex false: the membership fuzz', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}: random conf changes, crashes and partitions keep agreement and converge`, () => {
      const r = runMembershipFuzz(seed, 250, { syncCommitIndex: false });
      assert.ok(r.changes > 0, 'some configuration changes happened');
      assert.ok(r.decided > 0, 'something was decided');
    });
  }
});
