// `medledger lab compare`: registered into `medledger lab` by src/cli/commands/lab.ts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { CliError, makeOutput, parseNonNegativeInt, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { engineNames } from '../../consensus/registry.ts';
import { FAULT_MODES, type FaultMode } from '../../sim/index.ts';
import {
  COMPARE_DEFAULT_ENGINES,
  COMPARE_ENGINES_MAX,
  COMPARE_SEEDS_MAX,
  CompareOptionsError,
  compareCsv,
  comparePlan,
  compareTable,
  parseEngineSpec,
  runCompareItem,
  type CompareOptions,
  type CompareRow,
} from '../../lab/compare.ts';
import { compareMarkdown } from '../../lab/compare-report.ts';
import { compareLatencySvg, compareMessagesSvg } from '../../lab/compare-svg.ts';
import { runQuorumDemo, type QuorumDemoResult } from '../../lab/compare-quorum.ts';
import { makeDirectory } from '../../files/directory.ts';

export interface CompareFlags {
  engines: string;
  nodes: string;
  faults: string;
  seeds: string;
  seedStart: string;
  durationMs: string;
  crypto: string;
  quorumDemo: boolean;
  demoSeed: string;
  out?: string;
  json?: boolean;
}

export const COMPARE_DEFAULTS = {
  nodes: '7',
  faults: 'none,crash,partition,byzantine,all',
  seeds: '10',
  seedStart: '1',
  durationMs: '5000',
  crypto: 'fast',
  demoSeed: '11',
};

export function parseFaultList(text: string): FaultMode[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0 || parts.length > FAULT_MODES.length)
    throw new CliError(`--faults must list 1 to ${FAULT_MODES.length} of ${FAULT_MODES.join('|')}, got "${text}"`, 2);
  for (const p of parts) if (!(FAULT_MODES as readonly string[]).includes(p)) throw new CliError(`--faults: "${p}" is not one of ${FAULT_MODES.join('|')}`, 2);
  return [...new Set(parts)] as FaultMode[];
}

export function buildCompareOptions(flags: CompareFlags): CompareOptions {
  const specs = flags.engines
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (specs.length === 0 || specs.length > COMPARE_ENGINES_MAX) throw new CliError(`--engines must list 1 to ${COMPARE_ENGINES_MAX} engines`, 2);
  let engines;
  try {
    engines = specs.map(parseEngineSpec);
  } catch (err) {
    if (err instanceof CompareOptionsError) throw new CliError(`--engines: ${err.message}`, 2);
    throw err;
  }
  if (new Set(engines.map((e) => e.label)).size !== engines.length) throw new CliError('--engines lists an engine twice', 2);
  if (flags.crypto !== 'fast' && flags.crypto !== 'ecdsa') throw new CliError(`--crypto must be fast or ecdsa, got "${flags.crypto}"`, 2);
  return {
    engines,
    nodes: parsePositiveInt('nodes', flags.nodes, 64),
    faults: parseFaultList(flags.faults),
    seeds: parsePositiveInt('seeds', flags.seeds, COMPARE_SEEDS_MAX),
    seedStart: parseNonNegativeInt('seed-start', flags.seedStart, 0xffff_ffff - COMPARE_SEEDS_MAX),
    durationMs: parsePositiveInt('duration-ms', flags.durationMs, 600_000),
    crypto: flags.crypto,
  };
}

function commandLine(flags: CompareFlags, o: CompareOptions): string {
  const parts = [
    'node bin/medledger.js lab compare',
    `--engines ${o.engines.map((e) => e.label).join(',')}`,
    `--nodes ${o.nodes}`,
    `--faults ${o.faults.join(',')}`,
    `--seeds ${o.seeds}`,
  ];
  if (o.seedStart !== 1) parts.push(`--seed-start ${o.seedStart}`);
  if (o.durationMs !== 5000) parts.push(`--duration-ms ${o.durationMs}`);
  if (o.crypto !== 'fast') parts.push(`--crypto ${o.crypto}`);
  if (!flags.quorumDemo) parts.push('--no-quorum-demo');
  else if (flags.demoSeed !== COMPARE_DEFAULTS.demoSeed) parts.push(`--demo-seed ${flags.demoSeed}`);
  if (flags.out) parts.push(`--out ${flags.out}`);
  return parts.join(' ');
}

function writeFiles(dir: string, files: Record<string, string>): string[] {
  try {
    makeDirectory(dir);
    return Object.entries(files).map(([name, content]) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    });
  } catch (err) {
    throw new CliError(`cannot write the report to "${dir}": ${(err as Error).message}`);
  }
}

export interface CompareResult {
  readonly command: string;
  readonly rows: readonly CompareRow[];
  readonly quorumDemo: QuorumDemoResult | null;
  readonly written: readonly string[];
}

export interface CompareReport {
  readonly code: number;
  readonly command: string;
  readonly rows: readonly CompareRow[];
  readonly quorumDemo: QuorumDemoResult | null;
  /** The report files by name (written by the caller: the command or `lab all`). */
  readonly files: Record<string, string>;
}

/**
 * The body of `lab compare` without I/O, shared with `lab all` so both write the same bytes.
 * `onRun(done, total, label)` after every simulator run; `info` for the skip lines.
 */
export async function compareReport(
  flags: CompareFlags,
  onRun?: (done: number, total: number, label: string) => void,
  info?: (line: string) => void,
): Promise<CompareReport> {
  const o = buildCompareOptions(flags);
  const demoSeed = parseNonNegativeInt('demo-seed', flags.demoSeed, 0xffff_ffff);
  let plan;
  try {
    plan = comparePlan(o);
  } catch (err) {
    if (err instanceof CompareOptionsError) throw new CliError(err.message, 2);
    throw err;
  }
  const total = plan.filter((p) => p.skip === null).length * o.seeds;
  const rows: CompareRow[] = [];
  let done = 0;
  for (const item of plan) {
    if (item.skip !== null) info?.(`skip ${item.spec.label} / ${item.faults}: ${item.skip}`);
    const base = done;
    const label = `${item.spec.label}${item.nodes === undefined ? '' : `@${item.nodes}`} / ${item.faults}`;
    rows.push(runCompareItem(item, o, (n) => onRun?.(base + n, total, label)));
    if (item.skip === null) done += o.seeds;
    // Let a progress bar draw and Ctrl-C through between configurations.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const demo = flags.quorumDemo && o.engines.some((e) => e.engine === 'ehbft') ? runQuorumDemo(demoSeed) : null;
  const command = commandLine(flags, o);
  const files = {
    'compare.csv': compareCsv(rows),
    'compare-messages.svg': compareMessagesSvg(rows),
    'compare-latency.svg': compareLatencySvg(rows),
    'compare.md': compareMarkdown(rows, o, command, demo, engineNames()),
  };
  // Exit 1 when a checker failed on an engine whose own fault model covers the run; a row
  // deliberately run with the paper's unsafe quorum documents its failures instead.
  const unexpected = rows.some((r) => !r.skipped && r.failingSeeds.length > 0 && !r.engine.includes('quorum=paper'));
  return { code: unexpected ? 1 : 0, command, rows, quorumDemo: demo, files };
}

/** The command body (exported for in-process tests). */
export async function runCompare(
  flags: CompareFlags,
  write?: (s: string) => void,
  writeErr?: (s: string) => void,
): Promise<{ code: number; result: CompareResult }> {
  const out = makeOutput(flags.json === true, write, writeErr);
  const bar =
    process.stderr.isTTY && !out.json
      ? new SingleBar({ format: 'lab compare [{bar}] {value}/{total} runs | {label}', stream: process.stderr, hideCursor: true })
      : null;
  // The runs take minutes: a --out that cannot be made is said before them, not after.
  if (flags.out) writeFiles(flags.out, {});
  let started = false;
  let report: CompareReport;
  try {
    report = await compareReport(
      flags,
      (done, total, label) => {
        if (!started && total > 1) {
          bar?.start(total, 0, { label });
          started = true;
        }
        bar?.update(done, { label });
      },
      (line) => out.info(line),
    );
  } finally {
    bar?.stop();
  }
  const { rows, quorumDemo: demo, command } = report;
  const written = flags.out ? writeFiles(flags.out, report.files) : [];
  const result: CompareResult = { command, rows, quorumDemo: demo, written };
  out.result(result, () => {
    const lines = [compareTable(rows)];
    if (demo) {
      for (const s of demo.sides)
        lines.push(
          `ehbft quorum demo (seed ${demo.seed}), quorum ${s.quorum}: ${s.conflicts.length > 0 ? `AGREEMENT VIOLATED (${s.conflicts.length} conflicting pairs)` : 'agreement holds'}`,
        );
    }
    if (written.length > 0) lines.push('', `wrote ${written.join(', ')}`);
    return lines.join('\n');
  });
  return { code: report.code, result };
}

export function registerCompare(lab: Command, ctx: CommandContext): void {
  lab
    .command('compare')
    .description('Run the same workload on several engines in the simulator (same seeds): decided blocks, latency, messages per block, checker results')
    .option('--engines <list>', 'comma-separated engines, optionally with options: ehbft:quorum=paper', COMPARE_DEFAULT_ENGINES.join(','))
    .option('--nodes <n>', 'cluster size', COMPARE_DEFAULTS.nodes)
    .option('--faults <modes>', `one or more of ${FAULT_MODES.join('|')}, comma-separated`, COMPARE_DEFAULTS.faults)
    .option('--seeds <s>', 'seeds per engine and fault mode', COMPARE_DEFAULTS.seeds)
    .option('--seed-start <k>', 'first seed', COMPARE_DEFAULTS.seedStart)
    .option('--duration-ms <d>', 'virtual ms of the faulty phase', COMPARE_DEFAULTS.durationMs)
    .option('--crypto <mode>', 'fast (keyed hash) or ecdsa', COMPARE_DEFAULTS.crypto)
    .option('--no-quorum-demo', 'skip the EH-BFT paper-vs-safe quorum scenario (run when ehbft is compared)')
    .option('--demo-seed <s>', 'seed of the quorum scenario', COMPARE_DEFAULTS.demoSeed)
    .option('--out <dir>', 'write compare.csv, compare-messages.svg, compare-latency.svg and compare.md into this directory')
    .option('--json', 'print the rows as JSON')
    .action(async (flags: CompareFlags) => {
      ctx.exitCode = (await runCompare(flags)).code;
    });
}
