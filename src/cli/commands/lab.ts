// `medledger lab …`: reproduce the source papers' quantitative claims with one command each.
//   lab complexity  messages per consensus instance, PBFT vs grouped two-layer PBFT (paper 002 Table 2)
//   lab attack      attacker success probability w_n (paper 002 Eq. 6)
// Subcommands register through LAB_SUBCOMMANDS: another lab command (e.g. `lab compare`) adds one
// entry there (or calls addLabSubcommand) without touching the others.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { CliError, makeOutput, parseIntList, parseNonNegativeInt, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import '../../consensus/engines.ts';
import {
  attackCsv,
  attackMarkdown,
  attackSvg,
  attackTable,
  ATTACK_BLOCKS_MAX,
  ATTACK_MC_BLOCKS_MAX,
  ATTACK_SHARES_MAX,
  ATTACK_TRIALS_MAX,
  type AttackRow,
} from '../../lab/attack.ts';
import {
  COMPLEXITY_ENGINES,
  complexityCsv,
  complexityMarkdown,
  complexityPlan,
  complexitySvg,
  complexityTable,
  runComplexityItem,
  type ComplexityEngine,
  type ComplexityRow,
  type DriverChoice,
} from '../../lab/complexity.ts';
import { SYNC_NODES_MAX } from '../../lab/sync-driver.ts';
import { registerCompare } from './lab-compare.ts';
import { registerLabAll } from './lab-all.ts';
import { makeDirectory } from '../../files/directory.ts';

export type LabSubcommand = (lab: Command, ctx: CommandContext) => void;

/** One entry per `lab` subcommand (keep sorted). */
export const LAB_SUBCOMMANDS: LabSubcommand[] = [registerLabAll, registerAttack, registerCompare, registerComplexity];

/** For modules that prefer to add themselves: call before `register` runs. */
export function addLabSubcommand(sub: LabSubcommand): void {
  if (!LAB_SUBCOMMANDS.includes(sub)) LAB_SUBCOMMANDS.push(sub);
}

export function register(program: Command, ctx: CommandContext): void {
  const lab = program.command('lab').description("Reproduce the source papers' claims: communication complexity, attack probability, engine comparison");
  for (const sub of LAB_SUBCOMMANDS) sub(lab, ctx);
}

/** Write report files into `dir` (created if missing); returns the paths written. */
export function writeReport(dir: string, files: Record<string, string>): string[] {
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

/** The command line that regenerates a report (for the report's header). */
function commandLine(parts: readonly (string | null)[]): string {
  return ['node bin/medledger.js', ...parts.filter((p): p is string => p !== null)].join(' ');
}

// ---------------------------------------------------------------- lab complexity

export interface ComplexityFlags {
  engines: string;
  nodes: string;
  groups: string;
  driver: string;
  seed: string;
  sqrt?: string;
  out?: string;
  json?: boolean;
}

export interface ComplexityReport {
  readonly command: string;
  readonly rows: readonly ComplexityRow[];
  /** The report files by name (written by the caller: the command or `lab all`). */
  readonly files: Record<string, string>;
}

/** The body of `lab complexity` without I/O: shared with `lab all`, so both write the same bytes. */
export function complexityReport(flags: ComplexityFlags, onItem?: (label: string, done: number, total: number) => void): ComplexityReport {
  const engines = flags.engines
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (engines.length === 0) throw new CliError('--engines must list at least one engine', 2);
  for (const e of engines)
    if (!(COMPLEXITY_ENGINES as readonly string[]).includes(e)) throw new CliError(`--engines: "${e}" is not one of ${COMPLEXITY_ENGINES.join(', ')}`, 2);
  const nodes = parseIntList('nodes', flags.nodes, SYNC_NODES_MAX);
  for (const n of nodes) if (n < 4) throw new CliError(`--nodes: ${n} is below the 4 nodes a BFT cluster needs`, 2);
  const groups = parseIntList('groups', flags.groups, SYNC_NODES_MAX);
  if (!['auto', 'sim', 'sync'].includes(flags.driver)) throw new CliError(`--driver must be auto, sim or sync, got "${flags.driver}"`, 2);
  const seed = parsePositiveInt('seed', flags.seed, 0xffff_ffff);
  const sqrt = flags.sqrt === undefined ? [] : parseIntList('sqrt', flags.sqrt, SYNC_NODES_MAX);
  for (const n of sqrt)
    if (!Number.isInteger(Math.sqrt(n)) || n < 16)
      throw new CliError(`--sqrt: ${n} is not a perfect square of at least 16 (k = √n must be an integer with groups of at least 4)`, 2);
  const plan = complexityPlan({ engines: engines as ComplexityEngine[], nodes, groups, sqrt });
  if (plan.length === 0) throw new CliError('nothing to run: every group count exceeds every node count', 2);
  const rows: ComplexityRow[] = [];
  for (const item of plan) {
    const label = `${item.engine} n=${item.nodes}${item.groups ? ` k=${item.groups}` : ''}`;
    onItem?.(label, rows.length, plan.length);
    try {
      rows.push(runComplexityItem(item, flags.driver as DriverChoice, seed));
    } catch (err) {
      throw new CliError(`${label}: ${(err as Error).message}`);
    }
  }
  onItem?.('done', rows.length, plan.length);
  const command = commandLine([
    'lab complexity',
    `--engines ${engines.join(',')}`,
    `--nodes ${nodes.join(',')}`,
    `--groups ${groups.join(',')}`,
    sqrt.length > 0 ? `--sqrt ${sqrt.join(',')}` : null,
    flags.driver === 'auto' ? null : `--driver ${flags.driver}`,
    seed === 1 ? null : `--seed ${seed}`,
    flags.out ? `--out ${flags.out}` : null,
  ]);
  const files = { 'complexity.csv': complexityCsv(rows), 'complexity.svg': complexitySvg(rows), 'complexity.md': complexityMarkdown(rows, command) };
  return { command, rows, files };
}

export const COMPLEXITY_DEFAULTS = { engines: 'pbft,gpbft', nodes: '16,32,64,128,256', groups: '4,8', sqrt: '16,64,256', driver: 'auto', seed: '1' };

function registerComplexity(lab: Command, ctx: CommandContext): void {
  lab
    .command('complexity')
    .description('Count the messages of one consensus instance per configuration, beside the paper formulas (paper 002 Table 2)')
    .option('--engines <list>', `comma-separated: ${COMPLEXITY_ENGINES.join(',')}`, COMPLEXITY_DEFAULTS.engines)
    .option('--nodes <list>', 'cluster sizes', COMPLEXITY_DEFAULTS.nodes)
    .option('--groups <list>', 'group counts k for gpbft', COMPLEXITY_DEFAULTS.groups)
    .option('--sqrt <list>', 'cluster sizes (perfect squares) for the gpbft k = √n series', COMPLEXITY_DEFAULTS.sqrt)
    .option('--driver <d>', 'auto (simulator up to its node limit, counting driver beyond), sim, or sync', COMPLEXITY_DEFAULTS.driver)
    .option('--seed <s>', 'seed for the simulator and the signing keys', COMPLEXITY_DEFAULTS.seed)
    .option('--out <dir>', 'write complexity.csv, complexity.svg and complexity.md into this directory')
    .option('--json', 'print the rows as JSON')
    .action((flags: ComplexityFlags) => {
      const out = makeOutput(flags.json === true);
      out.info(
        "signatures: the simulator's fast keyed-hash scheme (64-byte, like ECDSA P-256) — 256 nodes with real ECDSA would be slow; message counts do not depend on it",
      );
      const bar =
        process.stderr.isTTY && !out.json
          ? new SingleBar({ format: 'lab complexity [{bar}] {value}/{total} {label}', stream: process.stderr, hideCursor: true })
          : null;
      let report: ComplexityReport;
      try {
        report = complexityReport(flags, (label, done, total) => {
          if (done === 0) bar?.start(total, 0, { label });
          bar?.update(done, { label });
        });
      } finally {
        bar?.stop();
      }
      const { command, rows } = report;
      const written = flags.out ? writeReport(flags.out, report.files) : [];
      out.result({ command, crypto: 'fast', rows, written }, () => `${complexityTable(rows)}${written.length ? `\n\nwrote ${written.join(', ')}` : ''}`);
      ctx.exitCode = rows.some((r) => r.decidedNodes < r.nodes) ? 1 : 0;
    });
}

// ---------------------------------------------------------------- lab attack

export interface AttackFlags {
  w: string;
  blocks: string;
  trials?: string;
  seed?: string;
  out?: string;
  json?: boolean;
}

/** "1..10" (inclusive range) or "1,2,5". */
export function parseBlocks(text: string): number[] {
  const range = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(text);
  if (range) {
    const a = Number(range[1]);
    const b = Number(range[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || a > b || b - a + 1 > ATTACK_BLOCKS_MAX) {
      throw new CliError(`--blocks range must be a..b with a ≤ b and at most ${ATTACK_BLOCKS_MAX} values, got "${text}"`, 2);
    }
    return Array.from({ length: b - a + 1 }, (_, i) => a + i);
  }
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.length > ATTACK_BLOCKS_MAX || parts.some((p) => !/^\d+$/.test(p))) {
    throw new CliError(`--blocks must be a range a..b or a comma-separated list of non-negative integers, got "${text}"`, 2);
  }
  return parts.map(Number);
}

export function parseShares(text: string): number[] {
  const parts = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0 || parts.length > ATTACK_SHARES_MAX) throw new CliError(`--w must list 1 to ${ATTACK_SHARES_MAX} probabilities, got "${text}"`, 2);
  return parts.map((p) => {
    const w = Number(p);
    if (!/^\d*\.?\d+$/.test(p) || !(w > 0 && w < 0.5)) throw new CliError(`--w: each attacker probability must be a number in (0, 0.5), got "${p}"`, 2);
    return w;
  });
}

export const ATTACK_DEFAULTS = { w: '0.1,0.2', blocks: '1..10', trials: '1000000', seed: '1' };

export interface AttackReport {
  readonly command: string;
  readonly rows: readonly AttackRow[];
  readonly files: Record<string, string>;
}

/** The body of `lab attack` without I/O: shared with `lab all`. */
export function attackReport(flags: AttackFlags): AttackReport {
  const ws = parseShares(flags.w);
  const blocks = parseBlocks(flags.blocks);
  const trials = parseNonNegativeInt('trials', flags.trials ?? ATTACK_DEFAULTS.trials, ATTACK_TRIALS_MAX);
  const seed = parseNonNegativeInt('seed', flags.seed ?? ATTACK_DEFAULTS.seed, 0xffff_ffff);
  const rows = attackTable(ws, blocks, trials, seed);
  const command = commandLine([
    'lab attack',
    `--w ${ws.join(',')}`,
    `--blocks ${flags.blocks.trim()}`,
    trials === Number(ATTACK_DEFAULTS.trials) ? null : `--trials ${trials}`,
    seed === 1 ? null : `--seed ${seed}`,
    flags.out ? `--out ${flags.out}` : null,
  ]);
  return { command, rows, files: { 'attack.csv': attackCsv(rows), 'attack.svg': attackSvg(rows), 'attack.md': attackMarkdown(rows, command) } };
}

function registerAttack(lab: Command): void {
  lab
    .command('attack')
    .description("The attacker's success probability w_n by Eq. 6 of paper 002, the exact race probability and a Monte-Carlo estimate (table and SVG chart)")
    .option('--w <list>', 'attacker probabilities of making the next block', ATTACK_DEFAULTS.w)
    .option('--blocks <range>', 'blocks the attacker must fill: a..b or a list', ATTACK_DEFAULTS.blocks)
    .option('--trials <n>', `Monte-Carlo races per (w, n) cell, 0 for none (n ≤ ${ATTACK_MC_BLOCKS_MAX} only)`, ATTACK_DEFAULTS.trials)
    .option('--seed <s>', 'seed of the Monte-Carlo races', ATTACK_DEFAULTS.seed)
    .option('--out <dir>', 'write attack.csv, attack.svg and attack.md into this directory')
    .option('--json', 'print the rows as JSON')
    .action((flags: AttackFlags) => {
      const out = makeOutput(flags.json === true);
      const { command, rows, files } = attackReport(flags);
      const written = flags.out ? writeReport(flags.out, files) : [];
      out.result({ command, rows, written }, () => {
        const header = `w     n      ${['Eq. 6', 'exact', 'Monte-Carlo', '95% interval'].map((h) => h.padEnd(14)).join('')}`;
        const lines = rows.map(
          (r) =>
            `${String(r.w).padEnd(6)}${String(r.blocks).padEnd(7)}${[r.probability, r.exact].map((x) => x.toExponential(6).padEnd(14)).join('')}${(r.mc ? r.mc.estimate.toExponential(4) : '-').padEnd(14)}${r.mc ? `[${r.mc.low.toExponential(3)}, ${r.mc.high.toExponential(3)}]` : '-'}`,
        );
        return [header, ...lines, ...(written.length ? ['', `wrote ${written.join(', ')}`] : [])].join('\n');
      });
    });
}
