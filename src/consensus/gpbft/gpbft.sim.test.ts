// A small fixed seed set in the simulator (the full campaigns run from the CLI; see
// docs/architecture/gpbft.md). Every checker must pass; a failing seed replays exactly with
// `node bin/medledger.js sim --engine gpbft --nodes N --seed-start SEED --seeds 1 --faults F --crypto fast`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../engines.ts';
import { runSimulation } from '../../sim/index.ts';

describe('gpbft in the simulator', () => {
  for (const [nodes, faults, seed] of [
    [8, 'all', 11],
    [8, 'partition', 12],
    [16, 'byzantine', 13],
    [16, 'all', 14],
  ] as const) {
    it(`${nodes} nodes, faults ${faults}, seed ${seed}: no checker violation`, () => {
      const r = runSimulation({ engine: 'gpbft', nodes, seed, faults, durationMs: 2000, crypto: 'fast', workload: { proposalsMax: 80 } });
      assert.deepEqual(r.violations, [], `${r.faultSchedule.join('\n')}\n${r.trace.join('\n')}`);
      assert.ok(r.metrics.decidedProposals > 0);
    });
  }
});
