// `lab complexity`: one consensus instance (a single proposal, no faults) per configuration,
// its messages counted by phase and printed beside the paper's formulas (paper 002, Table 2 and
// Figure 6). Messages the formulas do not count — the client request forwarded to the primary,
// the endorsed batch handed to the head, the package delivered to group members, PBFT's request
// relay — are a separate column, and periodic background traffic (sync/status) another; nothing
// is hidden. Runs in the deterministic simulator (fast keyed-hash signatures) up to the
// simulator's node limit, and in the synchronous counting driver beyond it (src/lab/sync-driver.ts).
import { runSimulation } from '../sim/index.ts';
import { NODES_MAX as SIM_NODES_MAX } from '../sim/options.ts';
import { pbftFormula, sgPbftFormula, twoLayerFormula } from './formulas.ts';
import { lineChart, type Series } from './svg.ts';
import { runOneInstance } from './sync-driver.ts';

export type Driver = 'sim' | 'sync';
export type DriverChoice = Driver | 'auto';
export const COMPLEXITY_ENGINES = ['pbft', 'gpbft'] as const;
export type ComplexityEngine = (typeof COMPLEXITY_ENGINES)[number];

/** Which message types are which phase, per engine. Types not listed are background traffic. */
const PHASES: Record<ComplexityEngine, { phases: Record<string, readonly string[]>; notInFormula: readonly string[] }> = {
  pbft: {
    phases: { 'pre-prepare': ['pre-prepare'], prepare: ['prepare'], commit: ['commit'] },
    notInFormula: ['request', 'reply'],
  },
  gpbft: {
    phases: { first: ['pre-prepare1', 'prepare1', 'commit1'], second: ['pre-prepare2', 'prepare2', 'commit2'] },
    notInFormula: ['request', 'submit2', 'deliver'],
  },
};

export interface ComplexityRow {
  readonly engine: ComplexityEngine;
  readonly nodes: number;
  /** k for gpbft, null for pbft. */
  readonly groups: number | null;
  readonly driver: Driver;
  /** Per formula phase: measured messages and the paper's formula. */
  readonly phases: readonly { readonly name: string; readonly measured: number; readonly formula: number }[];
  readonly measuredTotal: number;
  readonly formulaTotal: number;
  /** Messages of the instance the formula does not count, by type. */
  readonly notInFormula: Record<string, number>;
  /** Periodic traffic during the run (sync, status, …), by type. */
  readonly background: Record<string, number>;
  readonly decidedNodes: number;
  readonly notes: string;
}

export interface ComplexityOptions {
  readonly engines: readonly ComplexityEngine[];
  readonly nodes: readonly number[];
  readonly groups: readonly number[];
  readonly driver?: DriverChoice;
  readonly seed?: number;
  readonly onProgress?: (done: number, total: number, label: string) => void;
}

export interface ComplexityPlanItem {
  readonly engine: ComplexityEngine;
  readonly nodes: number;
  readonly groups: number | null;
}

export function complexityPlan(o: Pick<ComplexityOptions, 'engines' | 'nodes' | 'groups'>): ComplexityPlanItem[] {
  const plan: ComplexityPlanItem[] = [];
  for (const engine of o.engines) {
    for (const n of o.nodes) {
      if (engine === 'pbft') plan.push({ engine, nodes: n, groups: null });
      else for (const k of o.groups) if (k <= n) plan.push({ engine, nodes: n, groups: k });
    }
  }
  return plan;
}

/**
 * Timers long enough that no retransmission or view change fires while one instance runs under
 * the simulator's link latencies: the lab counts the protocol's messages, not its timeouts.
 */
export const LAB_VIEW_TIMEOUT_TICKS = 10_000;

function gpbftOptions(n: number, k: number): { groups: number; fPerGroup: number; viewTimeoutTicks: number } {
  // Groups smaller than 4 cannot tolerate a Byzantine member (n > 3f); the paper's table still
  // counts them, so they run with fPerGroup 0 and the row says so.
  return { groups: k, fPerGroup: Math.floor(n / k) >= 4 ? 1 : 0, viewTimeoutTicks: LAB_VIEW_TIMEOUT_TICKS };
}

export function runComplexityItem(item: ComplexityPlanItem, choice: DriverChoice, seed: number): ComplexityRow {
  const n = item.nodes;
  const driver: Driver = choice === 'auto' ? (n <= SIM_NODES_MAX ? 'sim' : 'sync') : choice;
  if (driver === 'sim' && n > SIM_NODES_MAX) throw new RangeError(`the simulator runs at most ${SIM_NODES_MAX} nodes; use --driver sync or auto for ${n}`);
  const engineOptions = item.engine === 'gpbft' ? gpbftOptions(n, item.groups!) : undefined;
  let byType: Record<string, number>;
  let decidedNodes: number;
  const notes: string[] = [];
  if (driver === 'sim') {
    const r = runSimulation({
      engine: item.engine,
      nodes: n,
      seed,
      faults: 'none',
      durationMs: 100,
      livenessMs: 30_000,
      crypto: 'fast',
      cutter: { countMax: 1 },
      ...(engineOptions ? { engineOptions } : {}),
      workload: { proposalsMax: 1, proposalsPerSecond: 1000, clients: 1 },
    });
    if (r.violations.length > 0)
      throw new Error(`${item.engine} n=${n}: simulator checker failed: ${r.violations.map((v) => `${v.checker}: ${v.message}`).join('; ')}`);
    byType = Object.fromEntries(Object.entries(r.metrics.messagesByType).map(([t, s]) => [t, s.count]));
    decidedNodes = n;
  } else {
    const r = runOneInstance({ engine: item.engine, nodes: n, seed, cutter: { countMax: 1 }, ...(engineOptions ? { engineOptions } : {}) });
    byType = Object.fromEntries(Object.entries(r.messagesByType).map(([t, s]) => [t, s.count]));
    decidedNodes = r.decidedNodes;
    if (decidedNodes < n) notes.push(`only ${decidedNodes}/${n} nodes decided`);
  }
  const spec = PHASES[item.engine];
  const formula: Record<string, number> =
    item.engine === 'pbft'
      ? (() => {
          const f = pbftFormula(n);
          return { 'pre-prepare': f.prePrepare, prepare: f.prepare, commit: f.commit };
        })()
      : (() => {
          const f = twoLayerFormula(n, item.groups!);
          return { first: f.first, second: f.second };
        })();
  const phases = Object.entries(spec.phases).map(([name, types]) => ({
    name,
    measured: types.reduce((s, t) => s + (byType[t] ?? 0), 0),
    formula: formula[name]!,
  }));
  const inPhase = new Set(Object.values(spec.phases).flat());
  const notInFormula: Record<string, number> = {};
  const background: Record<string, number> = {};
  for (const [t, c] of Object.entries(byType).sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (inPhase.has(t)) continue;
    if (spec.notInFormula.includes(t)) notInFormula[t] = c;
    else background[t] = c;
  }
  if (item.engine === 'gpbft') {
    if (n % item.groups! !== 0)
      notes.push(`n/k not an integer: groups of ${Math.floor(n / item.groups!)}–${Math.ceil(n / item.groups!)}; the formula assumes n/k`);
    if (engineOptions!.fPerGroup === 0) notes.push(`groups of ${Math.floor(n / item.groups!)} tolerate no Byzantine member (n > 3f needs 4)`);
  }
  return {
    engine: item.engine,
    nodes: n,
    groups: item.groups,
    driver,
    phases,
    measuredTotal: phases.reduce((s, p) => s + p.measured, 0),
    formulaTotal: phases.reduce((s, p) => s + p.formula, 0),
    notInFormula,
    background,
    decidedNodes,
    notes: notes.join('; '),
  };
}

export function runComplexity(o: ComplexityOptions): ComplexityRow[] {
  const plan = complexityPlan(o);
  const rows: ComplexityRow[] = [];
  plan.forEach((item, i) => {
    o.onProgress?.(i, plan.length, `${item.engine} n=${item.nodes}${item.groups ? ` k=${item.groups}` : ''}`);
    rows.push(runComplexityItem(item, o.driver ?? 'auto', o.seed ?? 1));
  });
  o.onProgress?.(plan.length, plan.length, 'done');
  return rows;
}

const sum = (r: Record<string, number>): number => Object.values(r).reduce((s, c) => s + c, 0);
const detail = (r: Record<string, number>): string =>
  Object.entries(r)
    .map(([t, c]) => `${t}=${c}`)
    .join(' ');

export function complexityCsv(rows: readonly ComplexityRow[]): string {
  const header =
    'engine,nodes,groups,driver,phase_a,measured_a,formula_a,phase_b,measured_b,formula_b,phase_c,measured_c,formula_c,measured_total,formula_total,not_in_formula,not_in_formula_detail,background,background_detail,notes';
  const lines = rows.map((r) => {
    const p = [0, 1, 2].map((i) => r.phases[i]);
    const cells = [
      r.engine,
      r.nodes,
      r.groups ?? '',
      r.driver,
      ...p.flatMap((x) => (x ? [x.name, x.measured, x.formula] : ['', '', ''])),
      r.measuredTotal,
      r.formulaTotal,
      sum(r.notInFormula),
      detail(r.notInFormula),
      sum(r.background),
      detail(r.background),
      r.notes,
    ];
    return cells.map((c) => (typeof c === 'string' && /[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : String(c))).join(',');
  });
  return `${header}\n${lines.join('\n')}\n`;
}

export function complexityTable(rows: readonly ComplexityRow[]): string {
  const head = ['engine', 'n', 'k', 'driver', 'phases measured (formula)', 'total', 'formula', 'not in formula', 'background', 'notes'];
  const body = rows.map((r) => [
    r.engine,
    String(r.nodes),
    r.groups === null ? '-' : String(r.groups),
    r.driver,
    r.phases.map((p) => `${p.name} ${p.measured} (${p.formula})`).join(', '),
    String(r.measuredTotal),
    String(r.formulaTotal),
    `${sum(r.notInFormula)}${sum(r.notInFormula) ? ` [${detail(r.notInFormula)}]` : ''}`,
    `${sum(r.background)}${sum(r.background) ? ` [${detail(r.background)}]` : ''}`,
    r.notes,
  ]);
  const line = (cols: readonly string[]): string => `| ${cols.join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...body.map(line)].join('\n');
}

export function complexitySvg(rows: readonly ComplexityRow[]): string {
  const series: Series[] = [];
  const nodes = [...new Set(rows.map((r) => r.nodes))].sort((a, b) => a - b);
  const pbft = rows.filter((r) => r.engine === 'pbft');
  if (pbft.length > 0) {
    series.push({ name: 'PBFT (formula 2n²−n−1)', dashed: true, points: pbft.map((r) => ({ x: r.nodes, y: r.formulaTotal })) });
    series.push({ name: 'PBFT (measured)', points: pbft.map((r) => ({ x: r.nodes, y: r.measuredTotal })) });
  }
  series.push({ name: 'SG-PBFT (formula only)', dashed: true, points: nodes.map((n) => ({ x: n, y: sgPbftFormula(n) })) });
  for (const k of [...new Set(rows.filter((r) => r.engine === 'gpbft').map((r) => r.groups!))].sort((a, b) => a - b)) {
    const g = rows.filter((r) => r.engine === 'gpbft' && r.groups === k);
    series.push({ name: `two-layer k=${k} (formula)`, dashed: true, points: g.map((r) => ({ x: r.nodes, y: r.formulaTotal })) });
    series.push({ name: `gpbft k=${k} (measured)`, points: g.map((r) => ({ x: r.nodes, y: r.measuredTotal })) });
    series.push({ name: `gpbft k=${k} (+ not in formula)`, points: g.map((r) => ({ x: r.nodes, y: r.measuredTotal + sum(r.notInFormula) })) });
  }
  return lineChart(series, {
    title: 'Messages for one consensus instance (Table 2 / Figure 6)',
    xLabel: 'nodes n (log)',
    yLabel: 'messages (log)',
    logX: true,
    logY: true,
    widthPx: 900,
  });
}

export function complexityMarkdown(rows: readonly ComplexityRow[], command: string): string {
  return [
    '# Communication complexity: PBFT vs grouped two-layer PBFT (paper 002, Table 2 / Figure 6)',
    '',
    `Regenerate: \`${command}\``,
    '',
    'One consensus instance per configuration: a single proposal, no faults, every node decides it.',
    "Signatures use the simulator's fast keyed-hash scheme (same message sizes as ECDSA P-256, a",
    'fraction of the CPU), because 256 nodes with real ECDSA would take long; counts do not depend on it.',
    `Driver \`sim\` = the deterministic simulator (up to ${SIM_NODES_MAX} nodes); \`sync\` = the synchronous`,
    'counting driver (real engines, FIFO delivery of every message, no faults) beyond that.',
    '',
    'Phases: PBFT = pre-prepare / prepare / commit; gpbft = first consensus (pre-prepare1 + prepare1 + commit1',
    'inside the proposing group) / second consensus (pre-prepare2 + prepare2 + commit2 among the k primaries).',
    '"not in formula" = messages of the same instance that Table 2 does not count: the client request',
    'forwarded to its group primary, the endorsed batch handed to the head primary (`submit2`), the',
    'package delivered by each primary to its members (`deliver`, n − k); for PBFT, the request relay.',
    '"background" = periodic traffic during the run (catch-up sync, status), unrelated to the instance.',
    `gpbft runs with viewTimeoutTicks ${LAB_VIEW_TIMEOUT_TICKS} so that no retransmission timer fires during the`,
    'instance (with the default 20 ticks, links slower than 100 ms trigger resends that are not protocol cost).',
    'PBFT runs with its defaults.',
    '',
    complexityTable(rows),
    '',
    '![messages vs nodes](complexity.svg)',
    '',
  ].join('\n');
}
