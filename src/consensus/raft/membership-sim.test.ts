// Raft membership change in the deterministic simulator: hospitals join and leave while crashes,
// partitions, message loss and duplication run (faults 'all'), every node asked on every tick to
// reconfigure toward the target member set — as the node runtime does with the ledger's config
// in force. Safety checkers cover every node (a removed one keeps a prefix of the one history);
// liveness after the heal covers the final members, which must all decide everything and all
// report exactly the target members. A campaign over many more seeds:
//   medledger sim --engine raft --nodes 3 --joins 2 --leaves 1 --faults all --crypto fast --seeds 1000 --engine-options '{"snapshotEntries":20}'
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { registerEngine, getEngine, engineNames } from '../registry.ts';
import { runSimulation, SimOptionsError, type SimOptions } from '../../sim/index.ts';
import '../engines.ts';
import { RaftEngine } from './engine.ts';

// A Raft whose reconfigure never acts: the membership checker must notice.
if (!engineNames().includes('test-raft-no-reconfigure')) {
  registerEngine({
    ...getEngine('raft'),
    name: 'test-raft-no-reconfigure',
    create: (ctx) => {
      const engine = new RaftEngine(ctx);
      engine.reconfigure = () => 'stepping';
      return engine;
    },
  });
}

const base: SimOptions = {
  engine: 'raft',
  nodes: 3,
  seed: 1,
  faults: 'all',
  durationMs: 4000,
  crypto: 'fast',
  livenessMs: 30_000,
  membership: { joins: 2, leaves: 1 },
  // Snapshots every 20 entries: joiners are brought up by snapshot install, not only by replay.
  engineOptions: { snapshotEntries: 20 },
  // 200/s: all 400 arrive well inside the 4 s faulty phase (none is left unsubmitted at the heal,
  // whatever the retries drawn from the workload stream), so every one must be decided.
  workload: { proposalsMax: 400, proposalsPerSecond: 200 },
};

describe('raft membership change in the simulator', () => {
  it('three hospitals, two join and one leaves under every fault: one history, nothing lost, members settle (seeds 1-8)', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const r = runSimulation({ ...base, seed });
      assert.deepEqual(r.violations, [], `seed ${seed}: ${JSON.stringify(r.violations)}\n${r.trace.slice(-30).join('\n')}`);
      assert.equal(r.membershipSchedule?.length, 3);
      assert.equal(r.metrics.decidedProposals, 400);
    }
  });

  it('five hospitals, one joins and two leave (seeds 1-3), and a run replays exactly', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const r = runSimulation({ ...base, nodes: 5, seed, membership: { joins: 1, leaves: 2 } });
      assert.deepEqual(r.violations, [], `seed ${seed}: ${JSON.stringify(r.violations)}`);
      assert.match(r.membershipSchedule!.at(-1)!, /members (n\d ){2}n\d( n\d)?$/);
    }
    const a = runSimulation({ ...base, seed: 5 });
    const b = runSimulation({ ...base, seed: 5 });
    assert.deepEqual(a, b);
  });

  it('the membership checker is not vacuous: an engine that never reconfigures fails liveness', () => {
    const r = runSimulation({ ...base, engine: 'test-raft-no-reconfigure', faults: 'none', seed: 2, livenessMs: 5000 });
    const liveness = r.violations
      .filter((v) => v.checker === 'liveness')
      .map((v) => v.message)
      .join('\n');
    assert.match(liveness, /membership did not reach its target .*has members n1 n2 n3, the target is/);
    assert.deepEqual(
      r.violations.filter((v) => v.checker !== 'liveness'),
      [],
    );
  });

  it('an engine with a fixed member set (solo) is refused clearly, and bad membership options are named', () => {
    assert.throws(
      () => runSimulation({ ...base, engine: 'solo', nodes: 1, faults: 'none', engineOptions: {}, membership: { joins: 1 } }),
      (e: Error) => e instanceof SimOptionsError && /fixed member set/.test(e.message),
    );
    assert.throws(() => runSimulation({ ...base, membership: { joins: 99 } }), /membership\.joins must be an integer between 0 and 8/);
    assert.throws(() => runSimulation({ ...base, membership: { leaves: 3 } }), /membership\.leaves must be an integer between 0 and 2/);
    assert.throws(() => runSimulation({ ...base, membership: { joins: 1, stay: 2 } as never }), /membership: unknown option "stay"/);
  });
});
