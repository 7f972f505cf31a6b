// Randomized membership changes under crashes and partitions, driven through the scenario
// cluster (interaction.ts). The simulator never changes membership, so this is where joint
// consensus meets faults at random: safety (agreement, and the engine's own invariants, which
// throw) must hold throughout; after healing and restarting everything, a leader must exist and
// every voter of the final configuration must reach the same height. (Proposals held by a node
// that crashed are volatile, so "every proposal decided" is not asserted here; the simulator's
// liveness checker covers it with retrying clients.)
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runMembershipFuzz } from './fuzz.testkit.ts';

// RAFT_FUZZ_SEEDS=<n> runs seeds 1..n instead (opt-in, for longer searches).
const extra = Number(process.env.RAFT_FUZZ_SEEDS ?? 0);
const SEEDS = extra > 0 ? Array.from({ length: extra }, (_, i) => i + 1) : [1, 2, 3];

describe('raft membership fuzz', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: random conf changes, crashes and partitions keep agreement and converge`, () => {
      const r = runMembershipFuzz(seed, 250);
      if (extra > 0) console.log(`seed ${seed}: ${r.changes} configuration changes, height ${r.decided}`);
      assert.ok(r.changes > 0, 'some configuration changes happened');
      assert.ok(r.decided > 0, 'something was decided');
    });
  }
});
