// Every registered engine (solo now; raft, pbft, gpbft, ehbft, hashgen as they register) over a
// small fixed seed set, under its own fault model. The big campaign is scripts/sim-campaign.mjs.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { engineNames, getEngine } from '../consensus/registry.ts';
import { runSimulation, type FaultMode, type SimOptions } from './index.ts';

/** Fixed seeds: one fault-free run, three under the engine's fault model (kept small: CPU budget). */
const SEEDS: Record<FaultMode, number[]> = { none: [1], crash: [1, 2, 3], partition: [1, 2, 3], byzantine: [1, 2, 3], all: [1, 2, 3] };

function nodesFor(name: string): number {
  const def = getEngine(name);
  return Math.max(def.nodesMin, def.faultModel === 'byzantine' ? 4 : 3);
}

/** The fault modes an engine must survive: none, and 'all' within its fault model when it tolerates any fault. */
function modesFor(name: string): FaultMode[] {
  const def = getEngine(name);
  return def.faultsTolerated(nodesFor(name)) > 0 ? ['none', 'all'] : ['none', 'crash'];
}

for (const name of engineNames().filter((n) => !n.startsWith('test-'))) {
  describe(`engine ${name} in the simulator`, () => {
    for (const faults of modesFor(name)) {
      it(`faults ${faults}: no violation on seeds ${SEEDS[faults].join(', ')}`, () => {
        for (const seed of SEEDS[faults]) {
          const r = runSimulation({ engine: name, nodes: nodesFor(name), seed, faults, durationMs: 800, crypto: 'fast' });
          assert.deepEqual(
            r.violations,
            [],
            `seed ${seed} (replay: medledger sim --engine ${name} --nodes ${nodesFor(name)} --seeds 1 --seed-start ${seed} --faults ${faults} --duration-ms 800 --crypto fast)\n${r.faultSchedule.join('\n')}\n${r.trace.join('\n')}`,
          );
          assert.ok(r.metrics.decidedProposals > 0, `seed ${seed}: something was decided`);
        }
      });
    }

    it('replays a seed exactly', () => {
      const o: SimOptions = { engine: name, nodes: nodesFor(name), seed: 7, faults: modesFor(name)[1]!, durationMs: 400, crypto: 'fast' };
      assert.deepEqual(runSimulation(o), runSimulation(o));
    });
  });
}
