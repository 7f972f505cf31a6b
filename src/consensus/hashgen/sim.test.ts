// hashgen in the deterministic simulator on a small fixed seed set (the sim's own
// engines.test.ts also runs every engine with 'none' and 'all'). The 1,000-seed campaigns are in
// docs/results/hashgen-campaign.md.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import '../engines.ts';
import { runSimulation, type SimOptions } from '../../sim/index.ts';

function check(o: SimOptions): ReturnType<typeof runSimulation> {
  const r = runSimulation(o);
  const replay = `medledger sim --engine ${o.engine} --nodes ${o.nodes} --seeds 1 --seed-start ${o.seed} --faults ${o.faults} --duration-ms ${o.durationMs} --crypto fast${o.engineOptions ? ` --engine-options '${JSON.stringify(o.engineOptions)}'` : ''}`;
  assert.deepEqual(r.violations, [], `${replay}\n${r.faultSchedule.join('\n')}\n${r.trace.join('\n')}`);
  assert.ok(r.metrics.decidedProposals > 0, `${replay}: something was decided`);
  return r;
}

describe('hashgen in the simulator', () => {
  it('paper quorum, 5 generators, crash faults (seeds 1, 2)', () => {
    for (const seed of [1, 2]) check({ engine: 'hashgen', nodes: 5, seed, faults: 'crash', durationMs: 1500, crypto: 'fast' });
  });

  it('faithful CAMS (cams: node), partitions (seed 3)', () => {
    check({ engine: 'hashgen', nodes: 5, seed: 3, faults: 'partition', durationMs: 1500, crypto: 'fast', engineOptions: { cams: 'node' } });
  });

  it('bft quorum, 4 generators, one Byzantine (seed 4)', () => {
    check({ engine: 'hashgen-bft', nodes: 4, seed: 4, faults: 'byzantine', durationMs: 1500, crypto: 'fast' });
  });

  it('bft quorum, a Byzantine generator that reports its locks without their blocks (campaign seeds 22, 602; decision 1395)', () => {
    // As the campaign runs hashgen-bft (scripts/sim-campaign.mjs). Both seeds lost liveness before
    // 1395: the concealing node's bare reports got the correct generators barred in turn.
    for (const seed of [22, 602]) {
      const o: SimOptions = {
        engine: 'hashgen-bft',
        nodes: 4,
        seed,
        faults: 'all',
        durationMs: 2000,
        crypto: 'fast',
        workload: { proposalsPerSecond: 100, proposalsMax: 1000 },
      };
      const r = check(o);
      assert.ok(
        r.faultSchedule.some((f) => /byzantine .*conceal/.test(f)),
        `seed ${seed} draws a concealing node`,
      );
    }
  });
});
