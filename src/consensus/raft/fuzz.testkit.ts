// The Raft membership fuzz (fuzz.test.ts, lazy-commit.test.ts): random proposals, configuration
// changes, crashes that keep only what was persisted, partitions and heals on the scenario
// cluster, asserting agreement after every step and convergence of the final voters after healing.
import assert from 'node:assert/strict';
import { SeededRng } from '../rng.ts';
import { RaftCluster } from './scenario.testkit.ts';

const POOL = ['1', '2', '3', '4', '5', '6'];

export function runMembershipFuzz(seed: number, steps: number, engineOptions: Record<string, unknown> = {}): { changes: number; decided: number } {
  const rng = new SeededRng(seed);
  const c = new RaftCluster();
  c.addNodes(3, { electionTicks: 6, snapshotEntries: 8, ...engineOptions }, 2, seed);
  c.addNodes(3, { electionTicks: 6, snapshotEntries: 8, ...engineOptions }, 2, seed); // 4..6 start outside the configuration
  let changes = 0;
  let seq = 0;
  const pick = <T>(xs: readonly T[]): T => xs[rng.nextInt(xs.length)]!;
  for (let step = 0; step < steps; step++) {
    const live = c.liveIds();
    const roll = rng.nextInt(100);
    if (roll < 30 && live.length > 0) {
      c.propose(pick(live), `v${++seq}`, 'fuzz', seq);
    } else if (roll < 40) {
      const leader = live.find((id) => c.engine(id).status().role === 'leader');
      if (leader) {
        const voters = c.engine(leader).raftStatus().conf.voters;
        const outside = POOL.filter((id) => !voters.includes(id));
        const change =
          voters.length > 3 && (outside.length === 0 || rng.nextInt(2) === 0) ? { remove: [pick(voters)] } : outside.length > 0 ? { add: [pick(outside)] } : {};
        if (c.engine(leader).proposeConfChange(change).accepted) changes += 1;
        c.processReady(leader);
      }
    } else if (roll < 45) {
      const down = POOL.filter((id) => !live.includes(id));
      if (down.length > 0) c.restart(pick(down));
      else c.crash(pick(live));
    } else if (roll < 50) {
      const a = POOL.filter(() => rng.nextInt(2) === 0);
      c.partition([a, POOL.filter((id) => !a.includes(id))]);
    } else if (roll < 55) {
      c.heal();
    } else {
      for (const id of c.liveIds()) c.tick(id);
      c.stabilize();
    }
    assert.deepEqual(c.checkAgreement(), [], `seed ${seed} step ${step}`);
  }
  c.heal();
  for (const id of POOL) if (!c.liveIds().includes(id)) c.restart(id);
  for (let i = 0; i < 200; i++) {
    for (const id of c.liveIds()) c.tick(id);
    c.stabilize();
  }
  assert.deepEqual(c.checkAgreement(), [], `seed ${seed} after heal`);
  const leader = c.liveIds().find((id) => c.engine(id).status().role === 'leader');
  assert.ok(leader, `seed ${seed}: a leader after healing`);
  const voters = c.engine(leader).raftStatus().conf.voters;
  const heights = voters.map((id) => c.node(id).appHeight);
  assert.ok(
    heights.every((h) => h === heights[0]),
    `seed ${seed}: voters at one height ${heights.join(',')}`,
  );
  return { changes, decided: heights[0]! };
}
