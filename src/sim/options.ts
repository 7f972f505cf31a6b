// Validation of SimOptions at the library edge, with defaults. Every bad value is rejected with a
// message naming the option; the CLI turns SimOptionsError into a usage error (exit 2).
import { DEFAULT_CUTTER_CONFIG, type CutterConfig } from '../consensus/cutter.ts';
import { getEngine, type EngineDefinition } from '../consensus/registry.ts';
import { DEFAULT_NETWORK, LOSS_RATE_MAX, type NetworkConfig } from './network.ts';
import { FAULT_MODES, type CryptoMode, type FaultMode, type SimOptions } from './types.ts';

export class SimOptionsError extends Error {
  override readonly name = 'SimOptionsError';
}

export const NODES_MAX = 64;
export const SEED_MAX = 0xffff_ffff;
export const DURATION_MS_MAX = 600_000;
export const PROPOSALS_MAX = 100_000;
export const PAYLOAD_BYTES_MAX = 64 * 1024;

export interface ResolvedOptions {
  readonly def: EngineDefinition;
  readonly engine: string;
  readonly nodes: number;
  readonly seed: number;
  readonly faults: FaultMode;
  /** Explicit Byzantine count, or null to draw it from the seed ('all') / use f ('byzantine'). */
  readonly byzantine: number | null;
  readonly f: number;
  readonly crashMax: number | null;
  readonly durationMs: number;
  readonly tickMs: number;
  readonly livenessMs: number;
  readonly engineOptions: Readonly<Record<string, unknown>> | undefined;
  readonly cutter: CutterConfig;
  readonly workload: {
    readonly proposalsPerSecond: number;
    readonly clients: number;
    readonly payloadBytes: number;
    readonly proposalsMax: number;
    readonly retryMs: number;
  };
  readonly network: NetworkConfig;
  readonly crypto: CryptoMode;
  readonly trace: boolean;
  readonly traceEventsMax: number;
  readonly membership: { readonly joins: number; readonly leaves: number };
}

function fail(message: string): never {
  throw new SimOptionsError(message);
}

function int(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(`${name} must be an integer between ${min} and ${max}, got ${String(v)}`);
  return v;
}

function num(name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) fail(`${name} must be a number between ${min} and ${max}, got ${String(v)}`);
  return v;
}

function knownKeys(name: string, obj: object, allowed: readonly string[]): void {
  for (const k of Object.keys(obj)) if (!allowed.includes(k)) fail(`${name}: unknown option "${k}" (known: ${allowed.join(', ')})`);
}

const TOP_KEYS = [
  'engine',
  'nodes',
  'seed',
  'faults',
  'byzantine',
  'durationMs',
  'tickMs',
  'engineOptions',
  'cutter',
  'workload',
  'network',
  'crypto',
  'trace',
  'livenessMs',
  'crashMax',
  'traceEventsMax',
  'membership',
];
export const MEMBERSHIP_JOINS_MAX = 8;

export function resolveOptions(o: SimOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) fail('simulation options must be an object');
  knownKeys('simulation options', o, TOP_KEYS);
  if (typeof o.engine !== 'string' || o.engine.length === 0) fail('engine must be a registered engine name');
  let def: EngineDefinition;
  try {
    def = getEngine(o.engine);
  } catch (err) {
    fail((err as Error).message);
  }
  const nodes = int('nodes', o.nodes, 1, NODES_MAX);
  if (nodes < def.nodesMin) fail(`engine "${def.name}" needs at least ${def.nodesMin} nodes, got ${nodes}`);
  const seed = int('seed', o.seed, 0, SEED_MAX);
  if (!FAULT_MODES.includes(o.faults)) fail(`faults must be one of ${FAULT_MODES.join('|')}, got ${String(o.faults)}`);
  const f = def.faultsTolerated(nodes);
  if (!Number.isSafeInteger(f) || f < 0 || f >= nodes) fail(`engine "${def.name}" reports faultsTolerated(${nodes}) = ${f}, not in [0, ${nodes - 1}]`);

  let byzantine: number | null = null;
  if (def.faultModel === 'crash') {
    if (o.faults === 'byzantine') {
      fail(`engine "${def.name}" is crash-fault tolerant (faultModel 'crash'): --faults byzantine does not apply; use none, crash, partition or all`);
    }
    if (o.byzantine !== undefined && o.byzantine !== 0) fail(`engine "${def.name}" is crash-fault tolerant: byzantine must be 0, got ${String(o.byzantine)}`);
    byzantine = 0;
  } else if (o.byzantine !== undefined) {
    byzantine = int('byzantine', o.byzantine, 0, nodes - 1);
    if (byzantine > 0 && o.faults !== 'byzantine' && o.faults !== 'all') fail(`byzantine = ${byzantine} needs faults 'byzantine' or 'all', got '${o.faults}'`);
  }
  if (o.faults === 'byzantine' && f === 0 && (byzantine ?? 0) === 0) {
    fail(
      `engine "${def.name}" tolerates no faulty node with ${nodes} nodes (f = 0): use at least ${def.nodesMin > 3 ? def.nodesMin : 4} nodes for --faults byzantine`,
    );
  }
  const crashMax = o.crashMax === undefined ? null : int('crashMax', o.crashMax, 0, nodes);

  const durationMs = int('durationMs', o.durationMs, 1, DURATION_MS_MAX);
  const tickMs = o.tickMs === undefined ? 10 : int('tickMs', o.tickMs, 1, 10_000);
  const livenessMs = o.livenessMs === undefined ? 30_000 : int('livenessMs', o.livenessMs, 1, DURATION_MS_MAX);
  if (o.engineOptions !== undefined && (typeof o.engineOptions !== 'object' || o.engineOptions === null || Array.isArray(o.engineOptions))) {
    fail('engineOptions must be an object');
  }

  const c = o.cutter ?? {};
  knownKeys('cutter', c, ['countMax', 'sizeBytesMax', 'timeoutTicks', 'pendingMax']);
  const cutter: CutterConfig = {
    countMax: c.countMax === undefined ? DEFAULT_CUTTER_CONFIG.countMax : int('cutter.countMax', c.countMax, 1, 100_000),
    sizeBytesMax: c.sizeBytesMax === undefined ? DEFAULT_CUTTER_CONFIG.sizeBytesMax : int('cutter.sizeBytesMax', c.sizeBytesMax, 1, 64 * 1024 * 1024),
    timeoutTicks: c.timeoutTicks === undefined ? DEFAULT_CUTTER_CONFIG.timeoutTicks : int('cutter.timeoutTicks', c.timeoutTicks, 0, 100_000),
    pendingMax: c.pendingMax === undefined ? DEFAULT_CUTTER_CONFIG.pendingMax : int('cutter.pendingMax', c.pendingMax, 1, 1_000_000),
  };
  if (cutter.pendingMax < cutter.countMax) fail(`cutter.pendingMax (${cutter.pendingMax}) must be >= cutter.countMax (${cutter.countMax})`);

  const w = o.workload ?? {};
  knownKeys('workload', w, ['proposalsPerSecond', 'clients', 'payloadBytes', 'proposalsMax', 'retryMs']);
  const workload = {
    proposalsPerSecond: w.proposalsPerSecond === undefined ? 100 : num('workload.proposalsPerSecond', w.proposalsPerSecond, 0.001, 100_000),
    clients: w.clients === undefined ? 4 : int('workload.clients', w.clients, 1, 1000),
    payloadBytes: w.payloadBytes === undefined ? 64 : int('workload.payloadBytes', w.payloadBytes, 0, PAYLOAD_BYTES_MAX),
    proposalsMax: w.proposalsMax === undefined ? 2000 : int('workload.proposalsMax', w.proposalsMax, 0, PROPOSALS_MAX),
    retryMs: w.retryMs === undefined ? 1000 : int('workload.retryMs', w.retryMs, 1, DURATION_MS_MAX),
  };

  const n = o.network ?? {};
  knownKeys('network', n, ['latencyMs', 'lossRate', 'duplicateRate', 'reorder']);
  let latencyMs = DEFAULT_NETWORK.latencyMs;
  if (n.latencyMs !== undefined) {
    if (typeof n.latencyMs !== 'object' || n.latencyMs === null) fail('network.latencyMs must be {min, max}');
    const min = num('network.latencyMs.min', n.latencyMs.min, 0, 60_000);
    const max = num('network.latencyMs.max', n.latencyMs.max, 0, 60_000);
    if (max < min) fail(`network.latencyMs.max (${max}) must be >= min (${min})`);
    latencyMs = { min, max };
  }
  if (n.reorder !== undefined && typeof n.reorder !== 'boolean') fail('network.reorder must be a boolean');
  const network: NetworkConfig = {
    latencyMs,
    lossRate: n.lossRate === undefined ? DEFAULT_NETWORK.lossRate : num('network.lossRate', n.lossRate, 0, LOSS_RATE_MAX),
    duplicateRate: n.duplicateRate === undefined ? DEFAULT_NETWORK.duplicateRate : num('network.duplicateRate', n.duplicateRate, 0, LOSS_RATE_MAX),
    reorder: n.reorder ?? DEFAULT_NETWORK.reorder,
  };

  const crypto = o.crypto ?? 'ecdsa';
  if (crypto !== 'ecdsa' && crypto !== 'fast') fail(`crypto must be ecdsa or fast, got ${String(crypto)}`);
  if (o.trace !== undefined && typeof o.trace !== 'boolean') fail('trace must be a boolean');
  const traceEventsMax = o.traceEventsMax === undefined ? 80 : int('traceEventsMax', o.traceEventsMax, 1, 100_000);
  const m = o.membership ?? {};
  if (typeof m !== 'object' || m === null) fail('membership must be {joins, leaves}');
  knownKeys('membership', m, ['joins', 'leaves']);
  const membership = {
    joins: m.joins === undefined ? 0 : int('membership.joins', m.joins, 0, MEMBERSHIP_JOINS_MAX),
    leaves: m.leaves === undefined ? 0 : int('membership.leaves', m.leaves, 0, nodes - 1),
  };
  if (nodes + membership.joins > NODES_MAX) fail(`nodes + membership.joins must be at most ${NODES_MAX}`);

  return {
    def,
    engine: def.name,
    nodes,
    seed,
    faults: o.faults,
    byzantine,
    f,
    crashMax,
    durationMs,
    tickMs,
    livenessMs,
    engineOptions: o.engineOptions,
    cutter,
    workload,
    network,
    crypto,
    trace: o.trace ?? false,
    traceEventsMax,
    membership,
  };
}
