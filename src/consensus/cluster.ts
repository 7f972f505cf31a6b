// The one in-process cluster (issue 14 §2): any registered engine, created through the registry
// from an EngineContext as the node runtime and the simulator create it, driven by hand. The engine
// tests and the lab's examples use it; the scenario interpreter (consensus/scenario/) and the
// simulator (sim/) are the other two drivers, with their own delivery models.
//
// - Instances: one per identity, or two for a "twin" (`<id>` and `<id>'`: one key, two engines in
//   different parts of the network, as in the Twins method).
// - Each instance has its own durable store (MemoryStorage). The engine contract is followed exactly:
//   persist, send, hand decided blocks to the application, then advance.
// - Messages wait in one queue and move one at a time, first-in first-out or in a seeded random
//   order; after each step the receiver's Ready is drained.
// - Faults: `down` instances neither send nor receive (crashed, or silent when the engine is kept),
//   partitions by instance, a `cut` between identities, an interceptor that drops or rewrites.
//
// No timers, no I/O: a run is a function of its configuration and its calls.
import { bytesEqual, toHex } from '../codec/index.ts';
import type { Identities } from '../crypto/index.ts';
import type { CutterConfig } from './cutter.ts';
import type { DecidedBlock, Engine, EngineMessage, NodeId, Proposal, ProposeResult, RestoreRequest, Rng } from './engine.ts';
import { archivedBlock } from './decided-chain.ts';
import { MemoryStorage } from './memory-storage.ts';
import { getEngine, type EngineDefinition } from './registry.ts';

export interface ClusterInstance<E extends Engine = Engine> {
  /** `<id>`, or `<id>'` for a twin. */
  readonly name: string;
  readonly identity: NodeId;
  /** Null while crashed. */
  engine: E | null;
  readonly storage: MemoryStorage;
  /** The application: blocks in decided order (a restore replaces them, see onRestore). */
  decided: DecidedBlock[];
  readonly restores: RestoreRequest[];
  /** Engines created for this instance so far, minus one (0 before the first restart). */
  restarts: number;
}

export interface Envelope<M extends EngineMessage = EngineMessage> {
  readonly from: NodeId;
  /** The sending instance (differs from `from` for a twin). */
  readonly fromInstance: string;
  readonly to: NodeId;
  readonly message: M;
}

/** false drops the message; an array replaces it (by none, one or several). */
export type Interceptor<M extends EngineMessage = EngineMessage> = (env: Envelope<M>) => boolean | readonly Envelope<M>[];

export interface ClusterConfig {
  /** A registered engine name ('pbft', 'ehbft', 'hashgen', 'hashgen-bft', …). */
  readonly engine: string;
  /** The members, in order. */
  readonly ids: readonly NodeId[];
  readonly identities: Identities;
  readonly cutter: CutterConfig;
  readonly options?: Readonly<Record<string, unknown>>;
  /** Options for single identities, merged over `options`. */
  readonly nodeOptions?: Readonly<Record<NodeId, Readonly<Record<string, unknown>>>>;
  /** Identities that run as two twin instances. */
  readonly twins?: readonly NodeId[];
  /** The random source of each engine created (at start and at every restart). */
  readonly rng: (instance: ClusterInstance) => Rng;
  /** Delivery order: first-in first-out (default), or a seeded random pick from the queue. */
  readonly order?: 'fifo' | Rng;
  /** The application's answer to a state-transfer request (default: keep the blocks, record the request). */
  readonly onRestore?: (instance: ClusterInstance, request: RestoreRequest) => void;
  /** Called for every message an up instance sends, before it is queued (assertions on what correct nodes send). */
  readonly onSend?: (env: Envelope) => void;
  /**
   * Give each engine its instance's decided blocks as EngineContext.archive, as a node gives its
   * chain (default true); false: catch-up is limited to the blocks engines retain.
   */
  readonly archive?: boolean;
}

const DELIVERY_STEPS_MAX = 1_000_000;

export class Cluster<E extends Engine = Engine, M extends EngineMessage = EngineMessage> {
  readonly definition: EngineDefinition;
  readonly ids: readonly NodeId[];
  readonly instances = new Map<string, ClusterInstance<E>>();
  /** Instances that neither send nor receive (crashed ones, and silent ones whose engine is kept). */
  readonly down = new Set<string>();
  /** Every message an up instance sent, in order. */
  readonly sent: Envelope<M>[] = [];
  /** Messages taken off the queue, by type (whether or not they reached anyone). */
  readonly dequeuedByType = new Map<string, number>();
  /** Messages stepped into an engine. */
  delivered = 0;
  interceptor: Interceptor<M> | null = null;
  /** Drop every message between these two identities (partitions, one-way cuts). */
  cut: (from: NodeId, to: NodeId) => boolean = () => false;
  queue: Envelope<M>[] = [];
  /** Instance name → group; messages flow only within a group. Null: fully connected. */
  private groups: Map<string, number> | null = null;

  constructor(readonly config: ClusterConfig) {
    this.definition = getEngine(config.engine);
    this.ids = [...config.ids];
    for (const id of this.ids) {
      this.addInstance(id, id);
      if (config.twins?.includes(id)) this.addInstance(`${id}'`, id);
    }
  }

  private addInstance(name: string, identity: NodeId): void {
    const inst: ClusterInstance<E> = { name, identity, engine: null, storage: new MemoryStorage(), decided: [], restores: [], restarts: 0 };
    this.instances.set(name, inst);
    inst.engine = this.create(inst, undefined);
  }

  private create(inst: ClusterInstance<E>, appliedHeight: number | undefined): E {
    return this.definition.create({
      id: inst.identity,
      members: this.ids,
      rng: this.config.rng(inst),
      storage: inst.storage,
      signer: this.config.identities.signerOf(inst.identity),
      verifier: this.config.identities.verifier,
      cutter: this.config.cutter,
      options: { ...this.config.options, ...this.config.nodeOptions?.[inst.identity] },
      ...(appliedHeight === undefined ? {} : { appliedHeight }),
      ...(this.config.archive === false ? {} : { archive: { decided: (height: number) => archivedBlock(inst.decided, height) } }),
    }) as unknown as E;
  }

  instance(name: string): ClusterInstance<E> {
    const i = this.instances.get(name);
    if (!i) throw new Error(`no instance ${name}`);
    return i;
  }

  /** The running engine of an instance (throws while it is crashed). */
  engine(name: string): E {
    const e = this.instance(name).engine;
    if (!e) throw new Error(`${name} is crashed`);
    return e;
  }

  /** Drain the instance's Ready: persist, send, decide, restore, advance. */
  collect(inst: ClusterInstance<E>): void {
    const engine = inst.engine;
    if (!engine) return;
    while (engine.hasReady()) {
      const rd = engine.ready();
      inst.storage.apply(rd.persist);
      if (!this.down.has(inst.name)) {
        for (const out of rd.messages) {
          const env: Envelope<M> = { from: inst.identity, fromInstance: inst.name, to: out.to, message: out.message as M };
          this.config.onSend?.(env);
          this.sent.push(env);
          this.queue.push(env);
        }
      }
      inst.decided.push(...rd.decided);
      if (rd.restore) {
        inst.restores.push(rd.restore);
        this.config.onRestore?.(inst, rd.restore);
      }
      engine.advance(rd);
    }
  }

  /** Drain every instance's Ready, in instance order. */
  flush(): void {
    this.drainAll();
  }

  private drainAll(): void {
    for (const inst of this.instances.values()) this.collect(inst);
  }

  private connected(fromInstance: string, toInstance: string): boolean {
    if (this.groups === null) return true;
    const g = this.groups.get(fromInstance);
    return g !== undefined && g === this.groups.get(toInstance);
  }

  /** Take one message off the queue and step it into every up, reachable instance of its addressee. */
  deliverOne(): boolean {
    if (this.queue.length === 0) return false;
    const order = this.config.order ?? 'fifo';
    const env = order === 'fifo' ? this.queue.shift()! : this.queue.splice(order.nextInt(this.queue.length), 1)[0]!;
    this.dequeuedByType.set(env.message.type, (this.dequeuedByType.get(env.message.type) ?? 0) + 1);
    if (this.down.has(env.fromInstance) || this.cut(env.from, env.to)) return true;
    if (![...this.instances.values()].some((i) => i.identity === env.to && !this.down.has(i.name))) return true;
    let envs: readonly Envelope<M>[] = [env];
    if (this.interceptor) {
      const r = this.interceptor(env);
      if (r === false) return true;
      if (Array.isArray(r)) envs = r as readonly Envelope<M>[];
    }
    for (const e of envs) {
      for (const inst of this.instances.values()) {
        if (inst.identity !== e.to || !inst.engine || this.down.has(inst.name) || !this.connected(e.fromInstance, inst.name)) continue;
        this.delivered += 1;
        inst.engine.step(e.from, e.message);
        this.collect(inst);
      }
    }
    return true;
  }

  /** Drain every Ready and deliver until the queue is empty (bounded: a message storm throws). */
  deliverAll(stepsMax = DELIVERY_STEPS_MAX): void {
    this.drainAll();
    let steps = 0;
    for (;;) {
      while (this.deliverOne()) {
        if (++steps > stepsMax) throw new Error(`message storm: delivery did not quiesce within ${stepsMax} steps`);
      }
      // Quiet: the drivers' short hold (Ready.noticesHeld, decision 1405) runs out.
      this.flushNotices();
      if (this.queue.length === 0) return;
    }
  }

  /** Every up instance's driver lets the notices its engine held back go (Ready.noticesHeld). */
  flushNotices(): void {
    for (const inst of this.instances.values()) {
      if (!inst.engine?.flushNotices || this.down.has(inst.name)) continue;
      inst.engine.flushNotices();
      this.collect(inst);
    }
  }

  /** Tick every up instance (in order), then deliver until quiet; `times` rounds. */
  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const inst of this.instances.values()) {
        if (!inst.engine || this.down.has(inst.name)) continue;
        inst.engine.tick();
        this.collect(inst);
      }
      this.deliverAll();
    }
  }

  /** Hand a proposal to an instance's engine and drain its Ready (nothing is delivered yet). */
  propose(name: string, p: Proposal): ProposeResult {
    const inst = this.instance(name);
    const r = this.engine(name).propose(p);
    this.collect(inst);
    return r;
  }

  /** Crash: the engine and everything it had not persisted are gone; the application keeps its blocks. */
  crash(name: string): void {
    this.instance(name).engine = null;
    this.down.add(name);
  }

  /** Restart from the instance's store; the application had applied `appliedHeight` blocks. */
  restart(name: string, appliedHeight?: number): void {
    const inst = this.instance(name);
    inst.restarts += 1;
    this.down.delete(name);
    inst.engine = this.create(inst, appliedHeight);
    this.collect(inst);
  }

  partition(groups: readonly (readonly string[])[]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((name) => this.groups!.set(name, i)));
  }

  heal(): void {
    this.groups = null;
  }

  /** Pairs of instances that decided different blocks at one height (agreement), first seen first. */
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
