import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '../consensus/engines.ts';
import { attackSuccessProbability, pbftFormula, sgPbftFormula, twoLayerFormula } from './formulas.ts';
import { attackCsv, attackMarkdown, attackSvg, attackTable } from './attack.ts';
import { complexityCsv, complexityPlan, complexitySvg, runComplexityItem } from './complexity.ts';
import { lineChart } from './svg.ts';
import { parseBlocks, parseShares } from '../cli/commands/lab.ts';
import { CliError } from '../cli/output.ts';
import { spawnSync } from 'node:child_process';

describe('paper formulas', () => {
  it('Table 2: PBFT and the two-layer scheme', () => {
    assert.deepEqual(pbftFormula(16), { prePrepare: 15, prepare: 240, commit: 240, total: 495 });
    assert.equal(pbftFormula(16).total, 2 * 16 * 16 - 16 - 1);
    // n = 16, k = 4: groups of 4 → (1 + 8)·3 = 27 first, (3)(9) = 27 second.
    assert.deepEqual(twoLayerFormula(16, 4), { first: 27, second: 27, total: 54 });
    assert.deepEqual(twoLayerFormula(256, 8), { first: 65 * 31, second: 7 * 17, total: 65 * 31 + 119 });
    assert.equal(sgPbftFormula(16), 63);
  });

  it('Eq. 6 equals Nakamoto’s published values (Bitcoin paper §11)', () => {
    const expect = [
      [0.1, 1, 0.2045873],
      [0.1, 5, 0.0009137],
      [0.1, 10, 0.0000012],
      [0.3, 5, 0.1773523],
      [0.3, 10, 0.0416605],
      [0.3, 50, 0.0000006],
    ] as const;
    for (const [w, n, p] of expect) assert.ok(Math.abs(attackSuccessProbability(w, n) - p) < 5e-8, `w=${w} n=${n}: ${attackSuccessProbability(w, n)} vs ${p}`);
    assert.equal(attackSuccessProbability(0.1, 0), 1);
    assert.equal(attackSuccessProbability(0.5, 3), 1, 'an attacker with half the power always catches up');
    assert.throws(() => attackSuccessProbability(1.2, 3), RangeError);
    assert.throws(() => attackSuccessProbability(0.1, -1), RangeError);
  });

  it('attack reports: decreasing in n, CSV/markdown/SVG carry every value', () => {
    const rows = attackTable([0.1, 0.2], parseBlocks('1..10'));
    assert.equal(rows.length, 20);
    for (const w of [0.1, 0.2]) {
      const ps = rows.filter((r) => r.w === w).map((r) => r.probability);
      for (let i = 1; i < ps.length; i++) assert.ok(ps[i]! < ps[i - 1]!, 'w_n falls with n');
    }
    assert.equal(attackCsv(rows).trim().split('\n').length, 21);
    assert.match(attackMarkdown(rows, 'cmd'), /\| 10 \| 1\.2414e-6 \|/);
    assert.match(attackSvg(rows), /^<svg[^>]*>[\s\S]*w = 0\.2[\s\S]*<\/svg>\n$/);
  });
});

describe('lab option parsing', () => {
  it('parses block ranges and lists, rejects bad ones with the option name', () => {
    assert.deepEqual(parseBlocks('1..4'), [1, 2, 3, 4]);
    assert.deepEqual(parseBlocks('2,5'), [2, 5]);
    for (const bad of ['4..1', 'x', '1..100000', '-1'])
      assert.throws(
        () => parseBlocks(bad),
        (e: unknown) => e instanceof CliError && /--blocks/.test(e.message),
      );
    assert.deepEqual(parseShares('0.1,0.2'), [0.1, 0.2]);
    for (const bad of ['0', '0.5', 'abc', ''])
      assert.throws(
        () => parseShares(bad),
        (e: unknown) => e instanceof CliError && /--w/.test(e.message),
      );
  });
});

describe('lab complexity', () => {
  it('gpbft measured phases equal Table 2 in the simulator and in the counting driver', () => {
    const sim = runComplexityItem({ engine: 'gpbft', nodes: 16, groups: 4 }, 'sim', 1);
    const sync = runComplexityItem({ engine: 'gpbft', nodes: 16, groups: 4 }, 'sync', 1);
    for (const row of [sim, sync]) {
      assert.deepEqual(
        row.phases.map((p) => [p.name, p.measured, p.formula]),
        [
          ['first', 27, 27],
          ['second', 27, 27],
        ],
      );
      assert.equal(row.notInFormula['gpbft/deliver'], 12, 'n − k deliveries, shown, not hidden');
      assert.equal(row.decidedNodes, 16);
    }
    const csv = complexityCsv([sim, sync]);
    assert.match(csv, /^engine,nodes,groups,driver,/);
    assert.match(csv, /gpbft,16,4,sim,first,27,27,second,27,27,,,,54,54,/);
    assert.match(complexitySvg([sim, sync]), /gpbft k=4 \(measured\)/);
  });

  it('plans one run per engine × size (× groups for gpbft), skipping k > n', () => {
    const plan = complexityPlan({ engines: ['pbft', 'gpbft'], nodes: [4, 16], groups: [4, 8] });
    assert.deepEqual(
      plan.map((p) => `${p.engine}/${p.nodes}/${p.groups}`),
      ['pbft/4/null', 'pbft/16/null', 'gpbft/4/4', 'gpbft/16/4', 'gpbft/16/8'],
    );
  });

  it('the simulator driver refuses sizes beyond its limit', () => {
    assert.throws(() => runComplexityItem({ engine: 'gpbft', nodes: 128, groups: 8 }, 'sim', 1), /at most/);
  });
});

describe('svg chart', () => {
  it('is deterministic and escapes labels', () => {
    const s = [
      {
        name: 'a<b',
        points: [
          { x: 1, y: 10 },
          { x: 2, y: 1000 },
        ],
      },
    ];
    const a = lineChart(s, { title: 't&t', xLabel: 'x', yLabel: 'y', logY: true });
    assert.equal(a, lineChart(s, { title: 't&t', xLabel: 'x', yLabel: 'y', logY: true }));
    assert.match(a, /a&lt;b/);
    assert.match(a, /t&amp;t/);
    assert.throws(() => lineChart([{ name: 'z', points: [{ x: 1, y: 0 }] }], { title: '', xLabel: '', yLabel: '', logY: true }), RangeError);
  });
});

describe('medledger lab (CLI)', () => {
  const cli = (args: string[]): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, ['bin/medledger.js', ...args], { encoding: 'utf8', timeout: 120_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('lab attack --out writes the CSV, SVG and markdown with the regenerating command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-'));
    try {
      const r = cli(['lab', 'attack', '--w', '0.1', '--blocks', '1..3', '--out', dir, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const result = JSON.parse(r.stdout) as { rows: unknown[]; command: string };
      assert.equal(result.rows.length, 3);
      assert.match(readFileSync(join(dir, 'attack.md'), 'utf8'), /node bin\/medledger\.js lab attack --w 0\.1 --blocks 1\.\.3/);
      assert.match(
        readFileSync(join(dir, 'attack.csv'), 'utf8'),
        /^w,blocks,probability,exact,exact_over_eq6,mc_trials,mc_successes,mc_estimate,mc_low95,mc_high95\n0\.1,1,2\.045873e-1,2\.000000e-1,0\.978,1000000,/,
      );
      assert.match(readFileSync(join(dir, 'attack.svg'), 'utf8'), /^<svg/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('bad options are usage errors (exit 2) naming the option', () => {
    const a = cli(['lab', 'complexity', '--engines', 'raft']);
    assert.equal(a.status, 2);
    assert.match(a.stderr, /--engines/);
    const b = cli(['lab', 'attack', '--blocks', '9..1']);
    assert.equal(b.status, 2);
    assert.match(b.stderr, /--blocks/);
  });

  it('an --out that cannot be made is said at once, before any run (a file in the way; /proc, where a recursive mkdir never returns)', () => {
    for (const out of ['/etc/hostname/report', ...(process.platform === 'linux' ? ['/proc/medledger-nowhere'] : [])]) {
      const r = cli(['lab', 'compare', '--out', out]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`cannot write the report to "${out}": (ENOTDIR|ENOENT)`));
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.doesNotMatch(r.stderr, /skip raft/, 'the plan was not started');
    }
  });
});

describe('attack: the exact race and the Monte-Carlo check', () => {
  it('the exact probability matches the negative-binomial values (Rosenfeld 2014) and exceeds Eq. 6 as n grows', async () => {
    const { exactAttackProbability, attackSuccessProbability } = await import('./formulas.ts');
    assert.ok(Math.abs(exactAttackProbability(0.1, 1) - 0.2) < 1e-12, 'n = 1: 2w');
    assert.ok(Math.abs(exactAttackProbability(0.1, 5) - 0.00178184) < 1e-8);
    assert.ok(Math.abs(exactAttackProbability(0.1, 10) / attackSuccessProbability(0.1, 10) - 6.33) < 0.01);
    assert.ok(Math.abs(exactAttackProbability(0.2, 10) / attackSuccessProbability(0.2, 10) - 2.96) < 0.01);
    assert.equal(exactAttackProbability(0.5, 3), 1);
    assert.equal(exactAttackProbability(0.2, 0), 1);
    // Positive terms in logs: ~(4wr)^n = 1e−133 at n = 300, where 1 − Σ… would round to 0.
    const far = exactAttackProbability(0.1, 300);
    assert.ok(far > 1e-140 && far < 1e-120, `n = 300: ${far}`);
  });

  it('the Wilson interval covers 0 successes and the Monte-Carlo is seeded', async () => {
    const { wilsonInterval } = await import('./formulas.ts');
    const { attackMonteCarlo } = await import('./attack.ts');
    const z = wilsonInterval(0, 1000);
    assert.equal(z.low, 0);
    assert.ok(z.high > 0.003 && z.high < 0.004);
    const a = attackMonteCarlo(0.2, 3, 20_000, 7);
    assert.deepEqual(attackMonteCarlo(0.2, 3, 20_000, 7), a);
    assert.ok(a.low <= 0.1158 && 0.1158 <= a.high, `exact 0.1158 in [${a.low}, ${a.high}]`);
  });
});
