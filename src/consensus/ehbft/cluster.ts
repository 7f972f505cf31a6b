// A small deterministic driver for EH-BFT scenario tests and the quorum demonstration: nodes
// as engine *instances* (a Byzantine identity may run as two "twins" with one key, each in a
// different part of the network, as in the Twins method), an in-memory durable store per
// instance, seeded delivery order, partitions, crash and restart. It follows the engine
// contract exactly (persist, then send, then deliver decided blocks, then advance).
import { bytesEqual, toHex } from '../../codec/index.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner, type KeyPair, type Signer } from '../../crypto/index.ts';
import { DEFAULT_CUTTER_CONFIG, type CutterConfig } from '../cutter.ts';
import type { DecidedBlock, DurableState, NodeId, PersistOp, Proposal } from '../engine.ts';
import { SeededRng } from '../rng.ts';
import { EhbftEngine } from './engine.ts';
import type { EhbftMessage } from './messages.ts';

export class MemoryStore implements DurableState {
  readonly data = new Map<string, Uint8Array>();

  get(key: string): Uint8Array | undefined {
    return this.data.get(key);
  }

  keysWithPrefix(prefix: string): readonly string[] {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  apply(ops: readonly PersistOp[]): void {
    for (const op of ops) {
      if (op.op === 'put') this.data.set(op.key, op.value);
      else if (op.op === 'delete') this.data.delete(op.key);
      else for (const k of this.keysWithPrefix(op.prefix)) this.data.delete(k);
    }
  }
}

export interface Instance {
  readonly name: string;
  readonly identity: NodeId;
  engine: EhbftEngine;
  readonly store: MemoryStore;
  readonly decided: DecidedBlock[];
  crashed: boolean;
}

interface InFlight {
  readonly fromInstance: string;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: EhbftMessage;
}

export interface ClusterConfig {
  readonly nodes: number;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly cutter?: CutterConfig;
  readonly seed?: number;
  /** Identities that run as two twin instances (`<id>` and `<id>'`). */
  readonly twins?: readonly NodeId[];
  /** Shared key pairs (generating ECDSA keys is the slow part of setting up a cluster). */
  readonly keys?: ReadonlyMap<NodeId, KeyPair>;
  /** Options for single identities, merged over `options` (e.g. a leader that skips a check). */
  readonly nodeOptions?: Readonly<Record<NodeId, Readonly<Record<string, unknown>>>>;
}

const keyCache = new Map<NodeId, KeyPair>();

export function nodeIds(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => `n${i}`);
}

export class Cluster {
  readonly members: NodeId[];
  readonly instances = new Map<string, Instance>();
  readonly rng: SeededRng;
  private queue: InFlight[] = [];
  private readonly signers = new Map<NodeId, Signer>();
  private readonly publicKeys = new Map<NodeId, KeyPair['publicKey']>();
  private readonly verifier;
  /** Instance name → group number; messages only flow within a group. Empty: fully connected. */
  private groups = new Map<string, number>();
  /** Extra filter: return false to drop a message. */
  dropFilter: ((m: InFlight) => boolean) | null = null;
  delivered = 0;

  constructor(readonly config: ClusterConfig) {
    this.members = nodeIds(config.nodes);
    this.rng = new SeededRng(config.seed ?? 1);
    const publicKeys = new Map();
    for (const id of this.members) {
      let kp = config.keys?.get(id) ?? keyCache.get(id);
      if (!kp) {
        kp = generateKeyPair();
        keyCache.set(id, kp);
      }
      publicKeys.set(id, kp.publicKey);
      this.publicKeys.set(id, kp.publicKey);
      this.signers.set(id, keyPairSigner(id, kp));
    }
    this.verifier = directoryVerifier(publicKeys);
    for (const id of this.members) {
      this.addInstance(id, id);
      if (config.twins?.includes(id)) this.addInstance(`${id}'`, id);
    }
  }

  private addInstance(name: string, identity: NodeId): void {
    const store = new MemoryStore();
    this.instances.set(name, { name, identity, engine: this.createEngine(identity, store), store, decided: [], crashed: false });
  }

  private createEngine(identity: NodeId, store: MemoryStore): EhbftEngine {
    return new EhbftEngine({
      id: identity,
      members: this.members,
      rng: this.rng.fork(),
      storage: store,
      signer: this.signers.get(identity)!,
      verifier: this.verifier,
      cutter: this.config.cutter ?? { ...DEFAULT_CUTTER_CONFIG, timeoutTicks: 1 },
      options: { ...this.config.options, ...this.config.nodeOptions?.[identity] },
    });
  }

  keyOf(id: NodeId): KeyPair['publicKey'] {
    const k = this.publicKeys.get(id);
    if (!k) throw new Error(`no key for ${id}`);
    return k;
  }

  instance(name: string): Instance {
    const i = this.instances.get(name);
    if (!i) throw new Error(`no instance ${name}`);
    return i;
  }

  /** Partition the instances into groups (instances not listed are isolated). */
  partition(groups: readonly (readonly string[])[]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((name) => this.groups.set(name, i)));
  }

  heal(): void {
    this.groups = new Map();
  }

  private connected(a: string, b: string): boolean {
    if (this.groups.size === 0) return true;
    const ga = this.groups.get(a);
    return ga !== undefined && ga === this.groups.get(b);
  }

  propose(name: string, p: Proposal): ReturnType<EhbftEngine['propose']> {
    const inst = this.instance(name);
    const r = inst.engine.propose(p);
    this.collect(inst);
    return r;
  }

  crash(name: string): void {
    this.instance(name).crashed = true;
  }

  restart(name: string): void {
    const inst = this.instance(name);
    inst.engine = this.createEngine(inst.identity, inst.store);
    inst.crashed = false;
  }

  private collect(inst: Instance): void {
    while (inst.engine.hasReady()) {
      const rd = inst.engine.ready();
      inst.store.apply(rd.persist);
      for (const out of rd.messages) this.queue.push({ fromInstance: inst.name, from: inst.identity, to: out.to, message: out.message });
      inst.decided.push(...rd.decided);
      inst.engine.advance(rd);
    }
  }

  /** Deliver queued messages in a seeded order until none is left (bounded). */
  deliverAll(stepsMax = 200_000): void {
    let steps = 0;
    while (this.queue.length > 0) {
      if (++steps > stepsMax) throw new Error('message storm: delivery did not quiesce');
      const idx = this.rng.nextInt(this.queue.length);
      const m = this.queue.splice(idx, 1)[0]!;
      if (this.dropFilter && !this.dropFilter(m)) continue;
      for (const inst of this.instances.values()) {
        if (inst.identity !== m.to || inst.crashed || !this.connected(m.fromInstance, inst.name)) continue;
        this.delivered += 1;
        inst.engine.step(m.from, m.message);
        this.collect(inst);
      }
    }
  }

  tick(): void {
    for (const inst of this.instances.values()) {
      if (inst.crashed) continue;
      inst.engine.tick();
      this.collect(inst);
    }
    this.deliverAll();
  }

  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.tick();
  }

  /** Agreement among the given instances: no two decided different digests at one height. */
  conflicts(names: readonly string[] = [...this.instances.keys()]): Array<{ height: number; a: string; b: string }> {
    const byHeight = new Map<number, { name: string; digest: Uint8Array }>();
    const out: Array<{ height: number; a: string; b: string }> = [];
    for (const name of names) {
      for (const b of this.instance(name).decided) {
        const seen = byHeight.get(b.height);
        if (!seen) byHeight.set(b.height, { name, digest: b.digest });
        else if (!bytesEqual(seen.digest, b.digest))
          out.push({ height: b.height, a: `${seen.name}:${toHex(seen.digest).slice(0, 12)}`, b: `${name}:${toHex(b.digest).slice(0, 12)}` });
      }
    }
    return out;
  }
}

export function payload(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
