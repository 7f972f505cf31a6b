// `medledger lab …`: reproduce the source papers' quantitative claims with one command each.
//   lab complexity  messages per consensus instance, PBFT vs grouped two-layer PBFT (paper 002 Table 2)
//   lab attack      attacker success probability w_n (paper 002 Eq. 6)
// Subcommands register through LAB_SUBCOMMANDS: another lab command (e.g. `lab compare`) adds one
// entry there (or calls addLabSubcommand) without touching the others.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { CliError, makeOutput, parseIntList, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import '../../consensus/engines.ts';
import { attackCsv, attackMarkdown, attackSvg, attackTable, ATTACK_BLOCKS_MAX, ATTACK_SHARES_MAX } from '../../lab/attack.ts';
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

export type LabSubcommand = (lab: Command, ctx: CommandContext) => void;

/** One entry per `lab` subcommand (keep sorted). */
export const LAB_SUBCOMMANDS: LabSubcommand[] = [registerAttack, registerCompare, registerComplexity];

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
    mkdirSync(dir, { recursive: true });
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

interface ComplexityFlags {
  engines: string;
  nodes: string;
  groups: string;
  driver: string;
  seed: string;
  out?: string;
  json?: boolean;
}

function registerComplexity(lab: Command, ctx: CommandContext): void {
  lab
    .command('complexity')
    .description('Count the messages of one consensus instance per configuration, beside the paper formulas (paper 002 Table 2)')
    .option('--engines <list>', `comma-separated: ${COMPLEXITY_ENGINES.join(',')}`, 'pbft,gpbft')
    .option('--nodes <list>', 'cluster sizes', '16,32,64,128,256')
    .option('--groups <list>', 'group counts k for gpbft', '4,8')
    .option('--driver <d>', 'auto (simulator up to its node limit, counting driver beyond), sim, or sync', 'auto')
    .option('--seed <s>', 'seed for the simulator and the signing keys', '1')
    .option('--out <dir>', 'write complexity.csv, complexity.svg and complexity.md into this directory')
    .option('--json', 'print the rows as JSON')
    .action((flags: ComplexityFlags) => {
      const out = makeOutput(flags.json === true);
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
      const plan = complexityPlan({ engines: engines as ComplexityEngine[], nodes, groups });
      if (plan.length === 0) throw new CliError('nothing to run: every group count exceeds every node count', 2);
      out.info(
        "signatures: the simulator's fast keyed-hash scheme (64-byte, like ECDSA P-256) — 256 nodes with real ECDSA would be slow; message counts do not depend on it",
      );
      const bar =
        process.stderr.isTTY && !out.json
          ? new SingleBar({ format: 'lab complexity [{bar}] {value}/{total} {label}', stream: process.stderr, hideCursor: true })
          : null;
      bar?.start(plan.length, 0, { label: '' });
      const rows: ComplexityRow[] = [];
      try {
        for (const item of plan) {
          bar?.update(rows.length, { label: `${item.engine} n=${item.nodes}${item.groups ? ` k=${item.groups}` : ''}` });
          try {
            rows.push(runComplexityItem(item, flags.driver as DriverChoice, seed));
          } catch (err) {
            throw new CliError(`${item.engine} n=${item.nodes}${item.groups ? ` k=${item.groups}` : ''}: ${(err as Error).message}`);
          }
        }
        bar?.update(rows.length, { label: 'done' });
      } finally {
        bar?.stop();
      }
      const command = commandLine([
        'lab complexity',
        `--engines ${engines.join(',')}`,
        `--nodes ${nodes.join(',')}`,
        `--groups ${groups.join(',')}`,
        flags.driver === 'auto' ? null : `--driver ${flags.driver}`,
        seed === 1 ? null : `--seed ${seed}`,
        flags.out ? `--out ${flags.out}` : null,
      ]);
      const written = flags.out
        ? writeReport(flags.out, {
            'complexity.csv': complexityCsv(rows),
            'complexity.svg': complexitySvg(rows),
            'complexity.md': complexityMarkdown(rows, command),
          })
        : [];
      out.result({ command, crypto: 'fast', rows, written }, () => `${complexityTable(rows)}${written.length ? `\n\nwrote ${written.join(', ')}` : ''}`);
      ctx.exitCode = rows.some((r) => r.decidedNodes < r.nodes) ? 1 : 0;
    });
}

// ---------------------------------------------------------------- lab attack

interface AttackFlags {
  w: string;
  blocks: string;
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

function registerAttack(lab: Command): void {
  lab
    .command('attack')
    .description("The attacker's success probability w_n by Eq. 6 of paper 002 (table and SVG chart)")
    .option('--w <list>', 'attacker probabilities of making the next block', '0.1,0.2')
    .option('--blocks <range>', 'blocks the attacker must fill: a..b or a list', '1..10')
    .option('--out <dir>', 'write attack.csv, attack.svg and attack.md into this directory')
    .option('--json', 'print the rows as JSON')
    .action((flags: AttackFlags) => {
      const out = makeOutput(flags.json === true);
      const ws = parseShares(flags.w);
      const blocks = parseBlocks(flags.blocks);
      const rows = attackTable(ws, blocks);
      const command = commandLine(['lab attack', `--w ${ws.join(',')}`, `--blocks ${flags.blocks.trim()}`, flags.out ? `--out ${flags.out}` : null]);
      const written = flags.out
        ? writeReport(flags.out, { 'attack.csv': attackCsv(rows), 'attack.svg': attackSvg(rows), 'attack.md': attackMarkdown(rows, command) })
        : [];
      out.result({ command, rows, written }, () => {
        const header = `n      ${ws.map((w) => `w=${w}`.padEnd(14)).join('')}`;
        const lines = blocks.map(
          (n) =>
            `${String(n).padEnd(7)}${ws
              .map((w) =>
                rows
                  .find((r) => r.w === w && r.blocks === n)!
                  .probability.toExponential(6)
                  .padEnd(14),
              )
              .join('')}`,
        );
        return [header, ...lines, ...(written.length ? ['', `wrote ${written.join(', ')}`] : [])].join('\n');
      });
    });
}
