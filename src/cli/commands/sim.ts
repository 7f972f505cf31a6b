// `medledger sim`: run the deterministic simulator over a range of seeds and report the checkers'
// verdict and the metrics. Exits 1 when any checker failed (and prints, for each failing seed,
// its violations, fault schedule, trace and the command that replays it), 2 on bad options.
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { CliError, makeOutput, parseNonNegativeInt, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import {
  CampaignAggregator,
  FAULT_MODES,
  SimOptionsError,
  checkCampaignRange,
  resolveOptions,
  runSimulation,
  type CampaignSummary,
  type CryptoMode,
  type FaultMode,
  type SimOptions,
} from '../../sim/index.ts';
import { engineNames } from '../../consensus/registry.ts';

export interface SimFlags {
  engine?: string;
  nodes: string;
  seeds: string;
  seedStart: string;
  faults: string;
  byzantine?: string;
  durationMs: string;
  livenessMs?: string;
  tickMs?: string;
  crypto: string;
  rate?: string;
  proposals?: string;
  loss?: string;
  duplicate?: string;
  engineOptions?: string;
  joins?: string;
  leaves?: string;
  trace?: boolean;
  json?: boolean;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('sim')
    .description('Run consensus engines in the deterministic simulator with fault injection and safety/liveness checkers')
    .option('--engine <name>', 'registered engine (solo, raft, pbft, …)')
    .option('--nodes <n>', 'number of nodes', '4')
    .option('--seeds <s>', 'number of seeds to run', '1')
    .option('--seed-start <k>', 'first seed', '1')
    .option('--faults <mode>', `fault mode: ${FAULT_MODES.join('|')}`, 'none')
    .option('--byzantine <f>', 'Byzantine nodes (BFT engines; default f for byzantine, drawn in [0,f] for all)')
    .option('--duration-ms <d>', 'virtual ms of the faulty phase (then heal + liveness phase)', '5000')
    .option('--liveness-ms <ms>', 'bound for deciding everything after the heal (default 30000)')
    .option('--tick-ms <ms>', 'virtual ms per engine tick (default 10)')
    .option('--crypto <mode>', 'ecdsa (real P-256 keys) or fast (keyed hash, for large campaigns)', 'ecdsa')
    .option('--rate <n>', 'client proposals per virtual second (default 100)')
    .option('--proposals <n>', 'max proposals per run (default 2000)')
    .option('--loss <p>', 'base message loss probability (default 0)')
    .option('--duplicate <p>', 'base message duplication probability (default 0)')
    .option('--engine-options <json>', 'engine options as a JSON object')
    .option('--joins <n>', 'membership change: nodes added during the faulty phase (engines with runtime membership, e.g. raft)')
    .option('--leaves <n>', 'membership change: initial members removed during the faulty phase')
    .option('--trace', 'print the event trace of every run (not only failing ones)')
    .option('--json', 'print the summary as JSON')
    .action(async (flags: SimFlags) => {
      ctx.exitCode = await runSimCommand(flags);
    });
}

function parseRate(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 0.9) throw new CliError(`--${name} must be a probability between 0 and 0.9, got "${text}"`, 2);
  return n;
}

export function buildOptions(flags: SimFlags): { sim: Omit<SimOptions, 'seed'>; seeds: number; seedStart: number } {
  if (!flags.engine) throw new CliError(`--engine is required (registered: ${engineNames().join(', ') || 'none'})`, 2);
  if (!(FAULT_MODES as readonly string[]).includes(flags.faults))
    throw new CliError(`--faults must be one of ${FAULT_MODES.join('|')}, got "${flags.faults}"`, 2);
  if (flags.crypto !== 'ecdsa' && flags.crypto !== 'fast') throw new CliError(`--crypto must be ecdsa or fast, got "${flags.crypto}"`, 2);
  let engineOptions: Record<string, unknown> | undefined;
  if (flags.engineOptions !== undefined) {
    try {
      engineOptions = JSON.parse(flags.engineOptions) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`--engine-options must be a JSON object: ${(err as Error).message}`, 2);
    }
    if (typeof engineOptions !== 'object' || engineOptions === null || Array.isArray(engineOptions))
      throw new CliError('--engine-options must be a JSON object', 2);
  }
  const loss = parseRate('loss', flags.loss);
  const duplicate = parseRate('duplicate', flags.duplicate);
  const sim: Omit<SimOptions, 'seed'> = {
    engine: flags.engine,
    nodes: parsePositiveInt('nodes', flags.nodes, 64),
    faults: flags.faults as FaultMode,
    durationMs: parsePositiveInt('duration-ms', flags.durationMs, 600_000),
    crypto: flags.crypto as CryptoMode,
    ...(flags.byzantine !== undefined ? { byzantine: parseNonNegativeInt('byzantine', flags.byzantine, 63) } : {}),
    ...(flags.livenessMs !== undefined ? { livenessMs: parsePositiveInt('liveness-ms', flags.livenessMs, 600_000) } : {}),
    ...(flags.tickMs !== undefined ? { tickMs: parsePositiveInt('tick-ms', flags.tickMs, 10_000) } : {}),
    ...(engineOptions !== undefined ? { engineOptions } : {}),
    ...(flags.trace ? { trace: true } : {}),
    ...(flags.joins !== undefined || flags.leaves !== undefined
      ? { membership: { joins: parseNonNegativeInt('joins', flags.joins ?? '0', 8), leaves: parseNonNegativeInt('leaves', flags.leaves ?? '0', 63) } }
      : {}),
    workload: {
      ...(flags.rate !== undefined ? { proposalsPerSecond: parsePositiveInt('rate', flags.rate, 100_000) } : {}),
      ...(flags.proposals !== undefined ? { proposalsMax: parseNonNegativeInt('proposals', flags.proposals, 100_000) } : {}),
    },
    network: { ...(loss !== undefined ? { lossRate: loss } : {}), ...(duplicate !== undefined ? { duplicateRate: duplicate } : {}) },
  };
  const seeds = parsePositiveInt('seeds', flags.seeds, 10_000_000);
  const seedStart = parseNonNegativeInt('seed-start', flags.seedStart, 0xffff_ffff);
  try {
    checkCampaignRange(seeds, seedStart);
    // Validate everything (engine name, node count, fault model…) before the first run.
    resolveOptions({ ...sim, seed: seedStart });
  } catch (err) {
    if (err instanceof SimOptionsError) throw new CliError(err.message, 2);
    throw err;
  }
  return { sim, seeds, seedStart };
}

/** The command line that replays one seed of this configuration. */
export function replayCommand(flags: SimFlags, seed: number): string {
  const parts = [
    'medledger sim',
    `--engine ${flags.engine}`,
    `--nodes ${flags.nodes}`,
    '--seeds 1',
    `--seed-start ${seed}`,
    `--faults ${flags.faults}`,
    `--duration-ms ${flags.durationMs}`,
    `--crypto ${flags.crypto}`,
  ];
  if (flags.byzantine !== undefined) parts.push(`--byzantine ${flags.byzantine}`);
  if (flags.livenessMs !== undefined) parts.push(`--liveness-ms ${flags.livenessMs}`);
  if (flags.tickMs !== undefined) parts.push(`--tick-ms ${flags.tickMs}`);
  if (flags.rate !== undefined) parts.push(`--rate ${flags.rate}`);
  if (flags.proposals !== undefined) parts.push(`--proposals ${flags.proposals}`);
  if (flags.loss !== undefined) parts.push(`--loss ${flags.loss}`);
  if (flags.duplicate !== undefined) parts.push(`--duplicate ${flags.duplicate}`);
  if (flags.engineOptions !== undefined) parts.push(`--engine-options '${flags.engineOptions}'`);
  if (flags.joins !== undefined) parts.push(`--joins ${flags.joins}`);
  if (flags.leaves !== undefined) parts.push(`--leaves ${flags.leaves}`);
  return `${parts.join(' ')} --trace`;
}

/** The command body; `write`/`writeErr` are injectable for in-process tests. Returns the exit code. */
export async function runSimCommand(flags: SimFlags, write?: (s: string) => void, writeErr?: (s: string) => void): Promise<number> {
  const out = makeOutput(flags.json === true, write, writeErr);
  const { sim, seeds, seedStart } = buildOptions(flags);
  const bar =
    process.stderr.isTTY && seeds > 1
      ? new SingleBar({ format: 'sim [{bar}] {value}/{total} seeds | failing: {failing} | {duration_formatted}', stream: process.stderr, hideCursor: true })
      : null;
  bar?.start(seeds, 0, { failing: 0 });
  let agg: CampaignAggregator | null = null;
  let failingCount = 0;
  const traces: Array<{ seed: number; trace: string[] }> = [];
  try {
    for (let i = 0; i < seeds; i++) {
      const seed = seedStart + i;
      let r;
      try {
        r = runSimulation({ ...sim, seed });
      } catch (err) {
        if (err instanceof SimOptionsError) throw new CliError(err.message, 2);
        throw err;
      }
      agg ??= new CampaignAggregator(r.engine, r.nodes, r.faults, seedStart);
      agg.add(r);
      if (r.violations.length > 0) failingCount += 1;
      if (flags.trace && r.violations.length === 0 && traces.length < 10)
        traces.push({ seed, trace: [...r.faultSchedule.map((l) => `schedule ${l}`), ...r.trace] });
      bar?.update(i + 1, { failing: failingCount });
      // Let the progress bar draw and Ctrl-C through between seeds.
      if (bar) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } finally {
    bar?.stop();
  }
  const summary = agg!.summary();
  const failing = summary.violations.failingSeeds.length;
  out.result({ ...summary, replay: summary.failures.map((f) => ({ seed: f.seed, command: replayCommand(flags, f.seed) })) }, () =>
    render(summary, flags, traces),
  );
  return failing > 0 ? 1 : 0;
}

function render(s: CampaignSummary, flags: SimFlags, traces: Array<{ seed: number; trace: string[] }>): string {
  const lines: string[] = [];
  const failing = s.violations.failingSeeds;
  lines.push(`engine ${s.engine}, ${s.nodes} nodes, faults ${s.faults}, ${s.runs} seed${s.runs === 1 ? '' : 's'} from ${s.seedStart}`);
  lines.push(
    failing.length === 0
      ? 'checkers: all passed (agreement, validity, integrity, durability, liveness)'
      : `checkers: ${failing.length} failing seed(s), ${s.violations.count} violation(s): ${failing.slice(0, 20).join(', ')}${failing.length > 20 ? ' …' : ''}`,
  );
  lines.push(
    `decided: ${s.decidedBlocks} blocks, ${s.decidedProposals} proposals; commit latency p50 ${s.latencyMs.p50} ms, p99 ${s.latencyMs.p99} ms (virtual); throughput ${s.throughputPerSecond}/s`,
  );
  lines.push('messages by type:');
  const types = Object.entries(s.messagesByType);
  const width = Math.max(4, ...types.map(([t]) => t.length));
  for (const [type, m] of types) lines.push(`  ${type.padEnd(width)}  ${String(m.count).padStart(10)} msgs  ${String(m.bytes).padStart(12)} bytes`);
  for (const f of s.failures) {
    lines.push('', `FAILING SEED ${f.seed}`);
    for (const v of f.violations) lines.push(`  [${v.checker}] ${v.message}`);
    lines.push('  fault schedule:', ...f.faultSchedule.map((l) => `    ${l}`));
    lines.push('  trace (last events):', ...f.trace.map((l) => `    ${l}`));
    lines.push(`  replay: ${replayCommand(flags, f.seed)}`);
  }
  for (const t of traces) lines.push('', `TRACE seed ${t.seed}`, ...t.trace.map((l) => `  ${l}`));
  return lines.join('\n');
}
