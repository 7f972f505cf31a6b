// A Byzantine node runs the real engine with its own valid key and tampers with what it sends.
// Engine-specific tampering goes through the engine's ByzantineSupport hooks (equivocate, mutate,
// conceal: every lock it reports goes without the data that backs it, decisions 1394–1395);
// the rest is generic and needs no knowledge of the message format:
//   withhold  — drops every outgoing message of some types (chosen per type at first sight),
//   replay    — records messages it sent or received and later re-sends old ones to random nodes,
//   forge     — flips a byte of a signature-like field, or claims another sender in a sender-like
//               field, without re-signing (a correct engine must reject the result),
//   twins     — handled by the simulator: a second engine instance with the same identity and key.
import { decode, encode } from '../codec/index.ts';
import type { ByzantineSupport, EngineMessage, NodeId, Outbound, Rng } from '../consensus/engine.ts';
import type { Signer } from '../crypto/index.ts';
import type { ByzantineBehaviour } from './faults.ts';

const REPLAY_BUFFER_MAX = 256;
const MUTATE_PROBABILITY = 0.3;
const FORGE_PROBABILITY = 0.2;
const REPLAY_PER_TICK_PROBABILITY = 0.1;
const WITHHOLD_TYPE_PROBABILITY = 0.5;
const WALK_DEPTH_MAX = 6;
const SENDER_KEYS = /^(from|sender|replica|replicaid|node|nodeid|id|leader|primary|source|origin)$/i;
const SIGNATURE_KEYS = /sig/i;

export interface Tampered {
  readonly to: NodeId;
  readonly message: EngineMessage;
  /** What was done, for the trace ('equivocate', 'mutate:prepare' …), or null. */
  readonly note: string | null;
}

export class ByzantineActor {
  private readonly withheld = new Map<string, boolean>();
  private readonly recorded: Array<{ message: EngineMessage }> = [];
  private recordedNext = 0;
  /** Recipients that get the conflicting variant when equivocating (a fixed half of the others). */
  private readonly variantGroup: Set<NodeId>;

  constructor(
    readonly node: NodeId,
    readonly behaviours: ReadonlySet<ByzantineBehaviour>,
    private readonly hooks: ByzantineSupport<EngineMessage> | undefined,
    private readonly signer: Signer,
    private readonly members: readonly NodeId[],
    private readonly rng: Rng,
  ) {
    const others = members.filter((m) => m !== node);
    this.variantGroup = new Set(others.filter((_, i) => i % 2 === 1));
  }

  /** Remember a message (received or sent) for later replay. */
  record(message: EngineMessage): void {
    if (!this.behaviours.has('replay')) return;
    if (this.recorded.length < REPLAY_BUFFER_MAX) this.recorded.push({ message });
    else this.recorded[this.recordedNext] = { message };
    this.recordedNext = (this.recordedNext + 1) % REPLAY_BUFFER_MAX;
  }

  /** Transform one Ready's outgoing messages. */
  tamper(outbound: readonly Outbound<EngineMessage>[]): Tampered[] {
    const out: Tampered[] = [];
    const variants = new Map<EngineMessage, EngineMessage | null>();
    for (const o of outbound) {
      this.record(o.message);
      if (this.behaviours.has('withhold') && this.isWithheld(o.message.type)) continue;
      let message = o.message;
      let note: string | null = null;
      if (this.behaviours.has('equivocate') && this.hooks && this.variantGroup.has(o.to)) {
        let variant = variants.get(o.message);
        if (variant === undefined) {
          variant = this.hooks.equivocate(o.message, this.rng, this.signer);
          variants.set(o.message, variant);
        }
        if (variant) {
          message = variant;
          note = `equivocate:${message.type}`;
        }
      }
      if (this.behaviours.has('conceal') && this.hooks?.conceal) {
        const concealed = this.hooks.conceal(message);
        if (concealed) {
          message = concealed;
          note = `conceal:${message.type}`;
        }
      }
      if (this.behaviours.has('mutate') && this.hooks && this.rng.nextFloat() < MUTATE_PROBABILITY) {
        const mutated = this.hooks.mutate(message, this.rng, this.signer);
        if (mutated) {
          message = mutated;
          note = `mutate:${message.type}`;
        }
      }
      if (this.behaviours.has('forge') && this.rng.nextFloat() < FORGE_PROBABILITY) {
        const forged = forge(message, this.node, this.members, this.rng);
        if (forged) {
          message = forged.message;
          note = `forge:${forged.what}`;
        }
      }
      out.push({ to: o.to, message, note });
    }
    return out;
  }

  /** Called on each of the node's ticks: maybe re-send an old message to a random node. */
  replay(): Tampered | null {
    if (!this.behaviours.has('replay') || this.recorded.length === 0) return null;
    if (this.rng.nextFloat() >= REPLAY_PER_TICK_PROBABILITY) return null;
    const entry = this.recorded[this.rng.nextInt(this.recorded.length)]!;
    const others = this.members.filter((m) => m !== this.node);
    if (others.length === 0) return null;
    const to = others[this.rng.nextInt(others.length)]!;
    return { to, message: entry.message, note: `replay:${entry.message.type}` };
  }

  private isWithheld(type: string): boolean {
    let w = this.withheld.get(type);
    if (w === undefined) {
      w = this.rng.nextFloat() < WITHHOLD_TYPE_PROBABILITY;
      this.withheld.set(type, w);
    }
    return w;
  }
}

type Path = Array<string | number>;

/**
 * Copy the message and either flip one byte of a signature-like byte field or replace a
 * sender-like field naming this node by another member. Null when the message has neither.
 */
export function forge(message: EngineMessage, self: NodeId, members: readonly NodeId[], rng: Rng): { message: EngineMessage; what: string } | null {
  const copy = decode<Record<string, unknown>>(encode(message));
  const sigPaths: Path[] = [];
  const senderPaths: Path[] = [];
  walk(copy, [], 0, (path, key, value) => {
    if (value instanceof Uint8Array && value.byteLength > 0 && SIGNATURE_KEYS.test(key)) sigPaths.push(path);
    else if (typeof value === 'string' && value === self && SENDER_KEYS.test(key)) senderPaths.push(path);
  });
  const others = members.filter((m) => m !== self);
  const options: Array<'sig' | 'sender'> = [];
  if (sigPaths.length > 0) options.push('sig');
  if (senderPaths.length > 0 && others.length > 0) options.push('sender');
  if (options.length === 0) return null;
  const choice = options[rng.nextInt(options.length)]!;
  if (choice === 'sig') {
    const path = sigPaths[rng.nextInt(sigPaths.length)]!;
    const bytes = get(copy, path) as Uint8Array;
    const flipped = new Uint8Array(bytes);
    const i = rng.nextInt(flipped.length);
    flipped[i] = flipped[i]! ^ (1 + rng.nextInt(255));
    set(copy, path, flipped);
    return { message: copy as unknown as EngineMessage, what: `signature ${path.join('.')}` };
  }
  const path = senderPaths[rng.nextInt(senderPaths.length)]!;
  const claimed = others[rng.nextInt(others.length)]!;
  set(copy, path, claimed);
  return { message: copy as unknown as EngineMessage, what: `sender ${path.join('.')}=${claimed}` };
}

function walk(value: unknown, path: Path, depth: number, visit: (path: Path, key: string, value: unknown) => void): void {
  if (depth > WALK_DEPTH_MAX || value === null || typeof value !== 'object' || value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      visit([...path, i], String(path[path.length - 1] ?? ''), v);
      walk(v, [...path, i], depth + 1, visit);
    });
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    visit([...path, k], k, v);
    walk(v, [...path, k], depth + 1, visit);
  }
}

function get(root: unknown, path: Path): unknown {
  let v: unknown = root;
  for (const p of path) v = (v as Record<string | number, unknown>)[p];
  return v;
}

function set(root: unknown, path: Path, value: unknown): void {
  let v: unknown = root;
  for (const p of path.slice(0, -1)) v = (v as Record<string | number, unknown>)[p];
  (v as Record<string | number, unknown>)[path[path.length - 1]!] = value;
}
