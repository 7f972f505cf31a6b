import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CliError } from '../output.ts';
import { buildOptions, runSimCommand, type SimFlags } from './sim.ts';
import { registerTestEngines } from '../../sim/testdata/sequencer.ts';

registerTestEngines();

const defaults: SimFlags = { nodes: '4', seeds: '1', seedStart: '1', faults: 'none', durationMs: '5000', crypto: 'ecdsa' };

async function run(flags: Partial<SimFlags>): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runSimCommand(
    { ...defaults, ...flags },
    (s) => (out += s),
    () => {},
  );
  return { code, out };
}

describe('medledger sim', () => {
  it('prints a JSON summary with the required fields and exits 0 when every checker passed', async () => {
    const r = await run({ engine: 'solo', nodes: '3', seeds: '2', faults: 'crash', durationMs: '500', crypto: 'fast', json: true });
    assert.equal(r.code, 0);
    const s = JSON.parse(r.out) as Record<string, unknown>;
    for (const key of ['engine', 'nodes', 'runs', 'violations', 'messagesByType', 'decidedBlocks', 'latencyMs']) assert.ok(key in s, key);
    assert.equal(s['engine'], 'solo');
    assert.equal(s['runs'], 2);
    assert.deepEqual(s['violations'], { count: 0, failingSeeds: [] });
    assert.ok((s['decidedBlocks'] as number) > 0);
  });

  it('prints a human summary by default', async () => {
    const r = await run({ engine: 'solo', nodes: '1', durationMs: '300', crypto: 'fast' });
    assert.equal(r.code, 0);
    assert.match(r.out, /checkers: all passed/);
    assert.match(r.out, /commit latency p50 [\d.]+ ms, p99 [\d.]+ ms/);
  });

  it('exits 1 on a violation and prints the failing seed with schedule, trace and replay command', async () => {
    const r = await run({
      engine: 'test-sequencer',
      nodes: '3',
      seeds: '2',
      seedStart: '5',
      durationMs: '300',
      crypto: 'fast',
      engineOptions: '{"bug":"validity"}',
    });
    assert.equal(r.code, 1);
    assert.match(r.out, /checkers: 2 failing seed\(s\), 2 violation\(s\): 5, 6/);
    assert.match(r.out, /FAILING SEED 5\n {2}\[validity\] n1 block 1 decided ghost#1, which no client proposed/);
    assert.match(r.out, /fault schedule:\n {4}t=300ms heal all/);
    assert.match(r.out, /VIOLATION validity/);
    assert.match(r.out, /replay: medledger sim --engine test-sequencer --nodes 3 --seeds 1 --seed-start 5 --faults none/);
  });

  it('rejects bad options with a usage error naming the option', () => {
    const cases: Array<[Partial<SimFlags>, RegExp]> = [
      [{}, /--engine is required/],
      [{ engine: 'nope' }, /unknown consensus engine "nope"/],
      [{ engine: 'solo', nodes: 'three' }, /--nodes must be an integer/],
      [{ engine: 'solo', faults: 'chaos' }, /--faults must be one of/],
      [{ engine: 'solo', faults: 'byzantine' }, /crash-fault tolerant/],
      [{ engine: 'solo', crypto: 'rsa' }, /--crypto must be ecdsa or fast/],
      [{ engine: 'solo', loss: '2' }, /--loss must be a probability/],
      [{ engine: 'solo', engineOptions: '[1]' }, /--engine-options must be a JSON object/],
      [{ engine: 'solo', seeds: '0' }, /--seeds must be an integer/],
      [{ engine: 'solo', durationMs: '-5' }, /--duration-ms must be an integer/],
    ];
    for (const [flags, message] of cases) {
      assert.throws(
        () => buildOptions({ ...defaults, ...flags }),
        (e: Error) => e instanceof CliError && e.exitCode === 2 && message.test(e.message),
        JSON.stringify(flags),
      );
    }
  });

  it('engine options the engine rejects are a usage error, not a failing run', async () => {
    await assert.rejects(
      run({ engine: 'test-sequencer', nodes: '3', durationMs: '300', crypto: 'fast', engineOptions: '{"bug":"nonsense"}' }),
      (e: Error) => e instanceof CliError && e.exitCode === 2 && /refused to start with these options: test-sequencer: unknown bug nonsense/.test(e.message),
    );
  });

  it('the real command exits 2 on a bad option', () => {
    const r = spawnSync(process.execPath, ['bin/medledger.js', 'sim', '--engine', 'solo', '--faults', 'chaos'], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--faults must be one of none\|crash\|partition\|byzantine\|all/);
  });
});
