// A small fixed seed set through the real simulator and its five checkers (the 1,000-seed
// campaign runs outside the default tests: see docs/results/ehbft-campaign.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation, type FaultMode } from '../../sim/index.ts';

const RUNS: Array<{ faults: FaultMode; seed: number }> = [
  { faults: 'none', seed: 1 },
  { faults: 'byzantine', seed: 2 },
  { faults: 'all', seed: 3 },
];

describe('ehbft in the simulator (safe quorum, 7 nodes)', () => {
  for (const { faults, seed } of RUNS) {
    it(`seed ${seed}, faults ${faults}: all checkers pass and blocks are decided`, () => {
      const r = runSimulation({ engine: 'ehbft', nodes: 7, seed, faults, durationMs: 2000, crypto: 'fast', workload: { proposalsMax: 150 } });
      assert.deepEqual(r.violations, [], r.trace.join('\n'));
      assert.ok(r.metrics.decidedBlocks > 0);
      assert.ok((r.metrics.messagesByType['ehbft/pre-prepare']?.count ?? 0) > 0);
    });
  }

  it('replays exactly from its seed', () => {
    const a = runSimulation({ engine: 'ehbft', nodes: 4, seed: 9, faults: 'all', durationMs: 1000, crypto: 'fast', workload: { proposalsMax: 60 } });
    const b = runSimulation({ engine: 'ehbft', nodes: 4, seed: 9, faults: 'all', durationMs: 1000, crypto: 'fast', workload: { proposalsMax: 60 } });
    assert.deepEqual(a.metrics, b.metrics);
    assert.deepEqual(a.faultSchedule, b.faultSchedule);
  });
});
