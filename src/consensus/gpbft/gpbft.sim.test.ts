// A small fixed seed set in the simulator (the full campaigns run from the CLI; see
// docs/architecture/gpbft.md). Every checker must pass; a failing seed replays exactly with
// `node bin/medledger.js sim --engine gpbft --nodes N --seed-start SEED --seeds 1 --faults F --crypto fast`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../engines.ts';
import { runSimulation } from '../../sim/index.ts';

describe('gpbft in the simulator', () => {
  for (const [nodes, faults, seed] of [
    [4, 'byzantine', 15],
    [4, 'all', 16],
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

  // One group (4 nodes): layer 2 is voted by the whole group (decision 1399), so the head crashed
  // for good — in the paper's single-voter layer 2 it stalled every view change — is replaced and
  // the three others decide everything submitted after it (the liveness checker passes).
  it('4 nodes, the head crashed for good: the other three decide everything (decision 1399)', () => {
    const r = runSimulation({
      engine: 'gpbft',
      nodes: 4,
      seed: 3,
      faults: 'none',
      durationMs: 3000,
      livenessMs: 3000,
      crypto: 'fast',
      schedule: [{ atMs: 1000, action: 'crash', node: '@leader' }],
    });
    assert.deepEqual(r.violations, [], `${r.faultSchedule.join('\n')}\n${r.trace.join('\n')}`);
    assert.match(r.scheduleResolved[0]!, /crash @leader -> n\d/);
    assert.ok(
      r.ackTimesMs.some((t, i) => t - r.latencySamplesMs[i]! >= 1000),
      'proposals submitted after the crash are decided',
    );
  });
});
