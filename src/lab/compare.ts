// `lab compare`: the same workload on every engine in the deterministic simulator, with the same
// seeds (so the same network, fault schedule and client submissions wherever the engine's fault
// model allows), reporting decided blocks, commit latency p50/p99, messages per decided block
// and per decided proposal, and the checkers' verdict. A fault mode outside an engine's fault
// model (byzantine for a crash-fault engine) is skipped with a note, never silently run as
// something else. Engines may be given with options: `ehbft:quorum=paper`.
import '../consensus/engines.ts';
import { engineNames, getEngine } from '../consensus/registry.ts';
import {
  CampaignAggregator,
  resolveOptions,
  runSimulation,
  SimOptionsError,
  type CheckerName,
  type CryptoMode,
  type FaultMode,
  type SimResult,
} from '../sim/index.ts';

export const COMPARE_DEFAULT_ENGINES = ['raft', 'pbft', 'gpbft', 'ehbft', 'hashgen'] as const;
export const COMPARE_ENGINES_MAX = 16;
export const COMPARE_SEEDS_MAX = 100_000;

/** An engine as the user named it, with its options (`ehbft:quorum=paper`). */
export interface EngineSpec {
  /** As given, used as the row label. */
  readonly label: string;
  readonly engine: string;
  readonly options: Readonly<Record<string, string | number | boolean>>;
}

export class CompareOptionsError extends Error {
  override readonly name = 'CompareOptionsError';
}

const OPTION_TEXT_MAX = 200;

/** Parse `name` or `name:key=value;key=value` (values: numbers, true/false, else strings). */
export function parseEngineSpec(text: string): EngineSpec {
  const label = text.trim();
  if (label.length === 0 || label.length > OPTION_TEXT_MAX)
    throw new CompareOptionsError(`engine spec must be 1 to ${OPTION_TEXT_MAX} characters, got "${text}"`);
  const colon = label.indexOf(':');
  const engine = colon < 0 ? label : label.slice(0, colon);
  if (!/^[a-z][a-z0-9-]*$/.test(engine)) throw new CompareOptionsError(`"${engine}" is not an engine name`);
  const options: Record<string, string | number | boolean> = {};
  if (colon >= 0) {
    for (const part of label.slice(colon + 1).split(';')) {
      const m = /^([A-Za-z][A-Za-z0-9]*)=([^=;]+)$/.exec(part.trim());
      if (!m) throw new CompareOptionsError(`engine option "${part}" in "${label}" must look like key=value`);
      const raw = m[2]!.trim();
      options[m[1]!] = raw === 'true' ? true : raw === 'false' ? false : /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    }
  }
  return { label, engine, options };
}

export interface CompareOptions {
  readonly engines: readonly EngineSpec[];
  readonly nodes: number;
  readonly faults: readonly FaultMode[];
  readonly seeds: number;
  readonly seedStart: number;
  readonly durationMs: number;
  readonly crypto: CryptoMode;
}

export interface ComparePlanItem {
  readonly spec: EngineSpec;
  readonly faults: FaultMode;
  /** Why this combination does not run, or null. */
  readonly skip: string | null;
  /** What the fault mode means for this engine (e.g. 'all' without Byzantine nodes for raft). */
  readonly note: string | null;
}

export interface CompareRow {
  readonly engine: string;
  readonly faultModel: 'crash' | 'byzantine' | null;
  readonly faults: FaultMode;
  readonly skipped: string | null;
  readonly note: string | null;
  readonly runs: number;
  readonly failingSeeds: readonly number[];
  readonly violationsByChecker: Readonly<Partial<Record<CheckerName | 'engine-error', number>>>;
  /** First violation message of up to 3 failing seeds, for the report. */
  readonly examples: readonly { seed: number; checker: string; message: string }[];
  /** Mean over runs of the highest height a correct node decided. */
  readonly decidedBlocksPerRun: number;
  readonly decidedProposals: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly messages: number;
  readonly messagesPerBlock: number;
  readonly messagesPerProposal: number;
  readonly bytesPerBlock: number;
  readonly throughputPerSecond: number;
}

/** Every (engine, fault mode) pair, with the skips decided up front. */
export function comparePlan(o: CompareOptions): ComparePlanItem[] {
  if (o.engines.length === 0 || o.engines.length > COMPARE_ENGINES_MAX) throw new CompareOptionsError(`1 to ${COMPARE_ENGINES_MAX} engines`);
  if (!Number.isSafeInteger(o.seeds) || o.seeds < 1 || o.seeds > COMPARE_SEEDS_MAX) throw new CompareOptionsError(`seeds must be 1..${COMPARE_SEEDS_MAX}`);
  const items: ComparePlanItem[] = [];
  for (const spec of o.engines) {
    for (const faults of o.faults) {
      let def;
      try {
        def = getEngine(spec.engine);
      } catch {
        items.push({ spec, faults, skip: `engine "${spec.engine}" is not registered (registered: ${engineNames().join(', ') || 'none'})`, note: null });
        continue;
      }
      if (def.faultModel === 'crash' && faults === 'byzantine') {
        items.push({ spec, faults, skip: `${spec.engine} is crash-fault tolerant: Byzantine faults are outside its fault model`, note: null });
        continue;
      }
      try {
        resolveOptions({
          engine: spec.engine,
          nodes: o.nodes,
          seed: o.seedStart,
          faults,
          durationMs: o.durationMs,
          crypto: o.crypto,
          engineOptions: { ...spec.options },
        });
        // Engines validate their options when created: create one to fail early and clearly.
        probeEngineOptions(spec, o.nodes);
      } catch (err) {
        if (err instanceof SimOptionsError || err instanceof CompareOptionsError) {
          items.push({ spec, faults, skip: err.message, note: null });
          continue;
        }
        throw err;
      }
      const note = def.faultModel === 'crash' && faults === 'all' ? 'all = crash + partition + network faults (no Byzantine nodes: crash-fault model)' : null;
      items.push({ spec, faults, skip: null, note });
    }
  }
  return items;
}

function probeEngineOptions(spec: EngineSpec, nodes: number): void {
  if (Object.keys(spec.options).length === 0) return;
  const r = runSimulation({
    engine: spec.engine,
    nodes,
    seed: 1,
    faults: 'none',
    durationMs: 1,
    livenessMs: 1,
    crypto: 'fast',
    engineOptions: { ...spec.options },
    workload: { proposalsMax: 0 },
  });
  const err = r.violations.find((v) => v.checker === 'engine-error');
  if (err) throw new CompareOptionsError(`${spec.label}: ${err.message}`);
}

/** Run one (engine, fault mode) over the seeds. `onSeed` is called after each run. */
export function runCompareItem(item: ComparePlanItem, o: CompareOptions, onSeed?: (done: number) => void): CompareRow {
  const faultModel = (() => {
    try {
      return getEngine(item.spec.engine).faultModel;
    } catch {
      return null;
    }
  })();
  if (item.skip !== null) return emptyRow(item, faultModel);
  const agg = new CampaignAggregator(item.spec.engine, o.nodes, item.faults, o.seedStart);
  const byChecker: Partial<Record<CheckerName | 'engine-error', number>> = {};
  const examples: { seed: number; checker: string; message: string }[] = [];
  let blocks = 0;
  for (let i = 0; i < o.seeds; i++) {
    const seed = o.seedStart + i;
    const r: SimResult = runSimulation({
      engine: item.spec.engine,
      nodes: o.nodes,
      seed,
      faults: item.faults,
      durationMs: o.durationMs,
      crypto: o.crypto,
      ...(Object.keys(item.spec.options).length > 0 ? { engineOptions: { ...item.spec.options } } : {}),
    });
    agg.add(r);
    blocks += r.metrics.decidedBlocks;
    for (const v of r.violations) byChecker[v.checker] = (byChecker[v.checker] ?? 0) + 1;
    if (r.violations.length > 0 && examples.length < 3) examples.push({ seed, checker: r.violations[0]!.checker, message: r.violations[0]!.message });
    onSeed?.(i + 1);
  }
  const s = agg.summary();
  const messages = Object.values(s.messagesByType).reduce((a, m) => a + m.count, 0);
  const bytes = Object.values(s.messagesByType).reduce((a, m) => a + m.bytes, 0);
  return {
    engine: item.spec.label,
    faultModel,
    faults: item.faults,
    skipped: null,
    note: item.note,
    runs: s.runs,
    failingSeeds: s.violations.failingSeeds,
    violationsByChecker: byChecker,
    examples,
    decidedBlocksPerRun: round2(blocks / s.runs),
    decidedProposals: s.decidedProposals,
    latencyP50Ms: s.latencyMs.p50,
    latencyP99Ms: s.latencyMs.p99,
    messages,
    messagesPerBlock: blocks > 0 ? round2(messages / blocks) : 0,
    messagesPerProposal: s.decidedProposals > 0 ? round2(messages / s.decidedProposals) : 0,
    bytesPerBlock: blocks > 0 ? Math.round(bytes / blocks) : 0,
    throughputPerSecond: s.throughputPerSecond,
  };
}

function emptyRow(item: ComparePlanItem, faultModel: CompareRow['faultModel']): CompareRow {
  return {
    engine: item.spec.label,
    faultModel,
    faults: item.faults,
    skipped: item.skip,
    note: item.note,
    runs: 0,
    failingSeeds: [],
    violationsByChecker: {},
    examples: [],
    decidedBlocksPerRun: 0,
    decidedProposals: 0,
    latencyP50Ms: 0,
    latencyP99Ms: 0,
    messages: 0,
    messagesPerBlock: 0,
    messagesPerProposal: 0,
    bytesPerBlock: 0,
    throughputPerSecond: 0,
  };
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

// ---------------------------------------------------------------- rendering

const CSV_COLUMNS = [
  'engine',
  'fault_model',
  'faults',
  'status',
  'runs',
  'failing_seeds',
  'violations',
  'decided_blocks_per_run',
  'decided_proposals',
  'latency_p50_ms',
  'latency_p99_ms',
  'messages',
  'messages_per_block',
  'messages_per_proposal',
  'bytes_per_block',
  'throughput_per_s',
  'note',
];

function csvCell(v: string | number): string {
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function compareCsv(rows: readonly CompareRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const violations = Object.values(r.violationsByChecker).reduce((a, b) => a + (b ?? 0), 0);
    lines.push(
      [
        r.engine,
        r.faultModel ?? '',
        r.faults,
        r.skipped ? 'skipped' : 'ran',
        r.runs,
        r.failingSeeds.join(' '),
        violations,
        r.decidedBlocksPerRun,
        r.decidedProposals,
        r.latencyP50Ms,
        r.latencyP99Ms,
        r.messages,
        r.messagesPerBlock,
        r.messagesPerProposal,
        r.bytesPerBlock,
        r.throughputPerSecond,
        r.skipped ?? r.note ?? '',
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function checkerSummary(r: CompareRow): string {
  if (r.skipped) return 'skipped';
  if (r.failingSeeds.length === 0) return 'all passed';
  const by = Object.entries(r.violationsByChecker)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${r.failingSeeds.length}/${r.runs} seeds fail (${by})`;
}

/** Plain-text table for the terminal. */
export function compareTable(rows: readonly CompareRow[]): string {
  const header = ['engine', 'faults', 'blocks/run', 'p50 ms', 'p99 ms', 'msgs/block', 'msgs/proposal', 'checkers'];
  const body = rows.map((r) =>
    r.skipped
      ? [r.engine, r.faults, '-', '-', '-', '-', '-', `skipped: ${r.skipped}`]
      : [
          r.engine,
          r.faults,
          String(r.decidedBlocksPerRun),
          String(r.latencyP50Ms),
          String(r.latencyP99Ms),
          String(r.messagesPerBlock),
          String(r.messagesPerProposal),
          checkerSummary(r),
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (i === header.length - 1 ? 0 : row[i]!.length))));
  const fmt = (row: readonly string[]): string => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [fmt(header), ...body.map(fmt)].join('\n');
}
