// What a scenario command is, and the helpers every command file shares. Each command lives in its
// own file under commands/ (as etcd's raft interaction handlers do), so adding one is adding a file.
import type { EngineMessage, NodeId } from '../engine.ts';
import type { InFlight, ScenarioCluster, ScenarioNode } from './cluster.testkit.ts';

export interface Args {
  readonly command: string;
  readonly positional: readonly string[];
  readonly kv: ReadonlyMap<string, string>;
}

/** How scripts see one engine: its message printer, its state line and its own commands. */
export interface EngineScenario {
  readonly engine: string;
  /** One message as printed after "from->to ". Never prints signatures (they are randomised). */
  printMessage(message: EngineMessage): string;
  /** One node's state on one line. */
  state(cluster: ScenarioCluster, node: ScenarioNode): string;
  /** Commands only this engine has (Raft: campaign, conf changes, log …). */
  readonly commands?: readonly Command[];
  /** Whether a node's decided blocks must carry a valid certificate (default: yes). */
  certificateRequired?(node: ScenarioNode): boolean;
}

export interface ScenarioEnv {
  readonly cluster: ScenarioCluster;
  readonly scenario: EngineScenario;
}

export interface Command {
  readonly name: string;
  /** One line: arguments and what it prints. */
  readonly usage: string;
  run(env: ScenarioEnv, args: Args): string[];
}

export const TICKS_MAX = 100_000;

export function need(args: Args, value: string | undefined, what: string): string {
  if (value === undefined) throw new Error(`${args.command}: missing ${what}`);
  return value;
}

/** A node id, or every live node for `all`. */
export function nodeIds(env: ScenarioEnv, args: Args, value: string | undefined): NodeId[] {
  return value === 'all' ? env.cluster.liveIds() : [need(args, value, 'node id')];
}

/** `xN` repetitions (default `dflt`). */
export function repetitions(arg: string | undefined, dflt: number): number {
  if (arg === undefined) return dflt;
  const m = /^x(\d+)$/.exec(arg);
  if (!m) throw new Error(`expected xN, got "${arg}"`);
  const n = Number.parseInt(m[1]!, 10);
  if (n > TICKS_MAX) throw new Error(`at most x${TICKS_MAX}`);
  return n;
}

export function parseValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (/^-?\d+$/.test(v)) return Number.parseInt(v, 10);
  return v;
}

/** `from=X` and `type=T` filters; T matches the message type with or without the engine prefix. */
export function messageFilter(env: ScenarioEnv, kv: ReadonlyMap<string, string>): (m: InFlight) => boolean {
  const from = kv.get('from');
  const type = kv.get('type');
  const engine = env.scenario.engine;
  return (m) => (from === undefined || m.from === from) && (type === undefined || m.message.type === type || m.message.type === `${engine}/${type}`);
}

export function formatMessage(env: ScenarioEnv, m: InFlight): string {
  return `${m.from}->${m.to} ${env.scenario.printMessage(m.message)}`;
}
