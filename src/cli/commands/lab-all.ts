// `medledger lab all`: regenerate every report the lab produces under docs/results, or with
// `--check` recompute them and fail, naming the file, line and (CSV) column, when a committed
// result differs from what the code computes now. `--quick` runs the same reports with small
// parameters into docs/results/quick — the form CI affords (a node:test test runs it) so that a
// change that moves any result cannot land without its regenerated output.
//
// Every report is built by the same function its own command uses (complexityReport,
// attackReport, compareReport …), so `lab all` and the single commands write the same bytes.
// Nothing compared may depend on the clock or the machine: reports carry no dates or timings
// (lines starting with "Generated " would be ignored by the check, explicitly, if one ever did).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CliError, makeOutput } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { attackReport, ATTACK_DEFAULTS, complexityReport, COMPLEXITY_DEFAULTS, writeReport } from './lab.ts';
import { compareReport, COMPARE_DEFAULTS } from './lab-compare.ts';
import { COMPARE_DEFAULT_ENGINES } from '../../lab/compare.ts';
import { orderersMarkdown, runOrderers } from '../../lab/orderers.ts';
import { runSeed438, seed438Markdown } from '../../lab/seed438.ts';
import { compareRadii, electionExample, gpbftExamplesMarkdown, hashgenForkMarkdown, splitBrain } from '../../lab/examples.ts';

export const LAB_DIR = 'docs/results';
export const LAB_QUICK_DIR = 'docs/results/quick';

export interface LabAllContext {
  /** The directory the files go to (as given: it appears in the regenerating commands). */
  readonly dir: string;
  readonly quick: boolean;
  /** A progress line (stderr). */
  readonly progress: (line: string) => void;
}

export interface LabReportSpec {
  readonly name: string;
  /** What it reproduces, for the listing. */
  readonly claim: string;
  readonly generate: (c: LabAllContext) => Promise<Record<string, string>>;
}

/** Print a line every tenth of the runs (a bar would not survive CI logs). */
function tenths(c: LabAllContext, name: string): (done: number, total: number, label: string) => void {
  let shown = -1;
  return (done, total, label) => {
    const tenth = total > 0 ? Math.floor((10 * done) / total) : 10;
    if (tenth === shown) return;
    shown = tenth;
    c.progress(`  ${name}: ${done}/${total} ${label}`);
  };
}

/** The command that regenerates one report of `lab all` (its markdown header). */
function allCommand(c: LabAllContext, name: string): string {
  const dirDefault = c.quick ? LAB_QUICK_DIR : LAB_DIR;
  return `node bin/medledger.js lab all --only ${name}${c.quick ? ' --quick' : ''}${c.dir === dirDefault ? '' : ` --dir ${c.dir}`}`;
}

export const LAB_REPORTS: readonly LabReportSpec[] = [
  {
    name: 'complexity',
    claim: 'paper 002 Table 2 / Figure 6: messages per consensus instance, k = √n, both conventions, Fig. 6 verdicts',
    generate: async (c) =>
      complexityReport(
        c.quick
          ? { engines: 'pbft,gpbft', nodes: '16,32', groups: '4', sqrt: '16,64', driver: 'auto', seed: '1', out: c.dir }
          : { ...COMPLEXITY_DEFAULTS, out: c.dir },
        (label, done, total) => c.progress(`  complexity: ${done}/${total} ${label}`),
      ).files,
  },
  {
    name: 'attack',
    claim: 'paper 002 Eq. 6 / Figure 5: Eq. 6, the exact race, Monte-Carlo with 95% interval',
    generate: async (c) => attackReport({ ...ATTACK_DEFAULTS, ...(c.quick ? { trials: '20000' } : {}), out: c.dir }).files,
  },
  {
    name: 'compare',
    claim: 'every engine under the same workload and faults; EH-BFT paper vs safe quorum; gpbft Byzantine at 16 nodes',
    generate: async (c) =>
      (
        await compareReport(
          {
            engines: COMPARE_DEFAULT_ENGINES.join(','),
            ...COMPARE_DEFAULTS,
            ...(c.quick ? { faults: 'none,byzantine', seeds: '1', durationMs: '1000' } : {}),
            quorumDemo: true,
            out: c.dir,
          },
          tenths(c, 'compare'),
        )
      ).files,
  },
  {
    name: 'paper000-orderers',
    claim: 'paper 000: 5 Raft orderers make progress with 2 down (leader included), not with 3, again when one returns',
    generate: async (c) => {
      const o = c.quick ? { seeds: [1, 2], phaseMs: 2000 } : { seeds: Array.from({ length: 10 }, (_, i) => i + 1), phaseMs: 3000 };
      const runs = runOrderers(o, (done, total) => c.progress(`  paper000-orderers: ${done}/${total} seeds`));
      return { 'paper000-orderers.md': orderersMarkdown(runs, o, allCommand(c, 'paper000-orderers')) };
    },
  },
  {
    name: 'hashgen-fork',
    claim: "paper 004: a Byzantine generator forks the chain under the paper's quorum (n = 4 even, n = 5 odd); bft resists",
    generate: async (c) => ({
      'hashgen-fork.md': hashgenForkMarkdown(
        [4, 5].flatMap((n) => (['paper', 'bft'] as const).map((q) => splitBrain(n, q))),
        allCommand(c, 'hashgen-fork'),
      ),
    }),
  },
  {
    name: 'gpbft-examples',
    claim: "paper 002: Distance grouping under Eq. 1's radius vs Algorithm 1 line 5's; primary election with and without normalisation",
    generate: async (c) => ({
      'gpbft-examples.md': gpbftExamplesMarkdown(compareRadii(c.quick ? 50 : 1000), electionExample(), allCommand(c, 'gpbft-examples')),
    }),
  },
  {
    name: 'ehbft-seed438',
    claim: 'paper 001 (EH-BFT) paper-quorum campaign seed 438: the liveness failure replayed, explained and fixed',
    // The same three runs in both modes: one seed is already the smallest form.
    generate: async (c) => ({
      'ehbft-seed438.md': seed438Markdown(
        runSeed438((label) => c.progress(`  ehbft-seed438: ${label}`)),
        allCommand(c, 'ehbft-seed438'),
      ),
    }),
  },
];

export interface Difference {
  readonly file: string;
  readonly line: number | null;
  readonly message: string;
}

/** Lines starting with this are not compared (a date or a machine description, should a report carry one). */
const IGNORED_LINE = /^Generated /;

/** The first difference between the committed text and the recomputed one, named precisely. */
export function firstDifference(file: string, committed: string | null, computed: string): Difference | null {
  if (committed === null) return { file, line: null, message: 'missing: the lab produces it but it is not committed' };
  const a = committed.split('\n').filter((l) => !IGNORED_LINE.test(l));
  const b = computed.split('\n').filter((l) => !IGNORED_LINE.test(l));
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    const clip = (s: string | undefined): string => (s === undefined ? '(end of file)' : s.length > 240 ? `${s.slice(0, 240)}…` : s);
    let where = `line ${i + 1}`;
    if (file.endsWith('.csv') && i > 0 && a[i] !== undefined && b[i] !== undefined) {
      // Name the column (figure) too; the header is line 1. Cells are split naively on commas, enough to point at the figure.
      const head = (b[0] ?? '').split(',');
      const x = a[i]!.split(',');
      const y = b[i]!.split(',');
      const col = x.findIndex((v, j) => v !== y[j]);
      if (col >= 0) where += `, column ${head[col] ?? col + 1} (row ${x.slice(0, 3).join(',')}): committed ${x[col]}, computed ${y[col] ?? '(none)'}`;
    }
    return { file, line: i + 1, message: `${where}\n    committed: ${clip(a[i])}\n    computed:  ${clip(b[i])}` };
  }
  return null;
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export interface LabAllFlags {
  check?: boolean;
  quick?: boolean;
  only?: string;
  dir?: string;
  json?: boolean;
}

export interface LabAllResult {
  readonly dir: string;
  readonly mode: 'write' | 'check';
  readonly quick: boolean;
  readonly reports: readonly { name: string; files: string[]; seconds: number }[];
  readonly differences: readonly Difference[];
}

/** The command body (exported for the in-process test). */
export async function runLabAll(
  flags: LabAllFlags,
  write?: (s: string) => void,
  writeErr?: (s: string) => void,
): Promise<{ code: number; result: LabAllResult }> {
  const out = makeOutput(flags.json === true, write, writeErr);
  const quick = flags.quick === true;
  const dir = flags.dir ?? (quick ? LAB_QUICK_DIR : LAB_DIR);
  const names =
    flags.only === undefined
      ? LAB_REPORTS.map((r) => r.name)
      : flags.only
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
  for (const n of names)
    if (!LAB_REPORTS.some((r) => r.name === n))
      throw new CliError(`--only: "${n}" is not a lab report (reports: ${LAB_REPORTS.map((r) => r.name).join(', ')})`, 2);
  if (names.length === 0) throw new CliError('--only must name at least one report', 2);
  const selected = LAB_REPORTS.filter((r) => names.includes(r.name));
  // Progress goes to stderr, also with --json: stdout keeps only the result.
  const toErr =
    writeErr ??
    ((t: string): void => {
      process.stderr.write(t);
    });
  const progress = (line: string): void => toErr(`${line}\n`);
  const reports: { name: string; files: string[]; seconds: number }[] = [];
  const differences: Difference[] = [];
  const started = performance.now();
  for (const [i, spec] of selected.entries()) {
    progress(`[${i + 1}/${selected.length}] ${spec.name}: ${spec.claim}`);
    const t0 = performance.now();
    const files = await spec.generate({ dir, quick, progress });
    const seconds = Math.round((performance.now() - t0) / 100) / 10;
    if (flags.check) {
      for (const [name, text] of Object.entries(files)) {
        const d = firstDifference(join(dir, name), readOrNull(join(dir, name)), text);
        if (d) differences.push(d);
      }
    } else {
      writeReport(dir, files);
    }
    reports.push({ name: spec.name, files: Object.keys(files), seconds });
    progress(`[${i + 1}/${selected.length}] ${spec.name}: ${Object.keys(files).length} files ${flags.check ? 'recomputed' : 'written'} in ${seconds} s`);
  }
  const total = Math.round((performance.now() - started) / 100) / 10;
  const fileCount = reports.reduce((s, r) => s + r.files.length, 0);
  const result: LabAllResult = { dir, mode: flags.check ? 'check' : 'write', quick, reports, differences };
  out.result(result, () => {
    if (!flags.check) return `lab all: wrote ${fileCount} files of ${reports.length} reports into ${dir} in ${total} s`;
    if (differences.length === 0)
      return `lab all --check: the ${fileCount} files of ${reports.length} reports in ${dir} match what the lab computes now (${total} s)`;
    return [
      `lab all --check: ${differences.length} of ${fileCount} files in ${dir} differ from what the lab computes now — regenerate with \`node bin/medledger.js lab all${quick ? ' --quick' : ''}\` and review the change:`,
      ...differences.map((d) => `  ${d.file}: ${d.message}`),
    ].join('\n');
  });
  return { code: differences.length > 0 ? 1 : 0, result };
}

export function registerLabAll(lab: Command, ctx: CommandContext): void {
  lab
    .command('all')
    .description(`Regenerate every lab report under ${LAB_DIR} (or check them: --check), with progress`)
    .option('--check', 'recompute and compare with the committed files; exit 1 naming the first differing line of each stale file')
    .option('--quick', `small seed counts and sizes, into ${LAB_QUICK_DIR} (the form CI runs)`)
    .option('--only <names>', `comma-separated reports: ${LAB_REPORTS.map((r) => r.name).join(',')}`)
    .option('--dir <dir>', `directory of the reports (default ${LAB_DIR}, with --quick ${LAB_QUICK_DIR})`)
    .option('--json', 'print the result as JSON')
    .action(async (flags: LabAllFlags) => {
      ctx.exitCode = (await runLabAll(flags)).code;
    });
}
