// A deterministic in-process cluster of any registered engine, for scenario scripts (issue 14 §3):
// messages move only when a command moves them, so a script stages exactly the interleaving it
// describes. The engine is created through the registry from an EngineContext, as the node runtime
// and the simulator do, so the scripts exercise the same code.
import type { KeyObject } from 'node:crypto';
import { toHex, utf8 } from '../../codec/index.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner, type KeyPair, type SignatureVerifier } from '../../crypto/index.ts';
import { DEFAULT_CUTTER_CONFIG } from '../cutter.ts';
import type { DecidedBlock, Engine, EngineMessage, NodeId, Proposal, Rng } from '../engine.ts';
import { archivedBlock } from '../decided-chain.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { getEngine, type EngineDefinition } from '../registry.ts';
import { SeededRng } from '../rng.ts';

export interface ScenarioNode {
  readonly id: NodeId;
  engine: Engine | null;
  readonly storage: MemoryStorage;
  readonly keyPair: KeyPair;
  readonly options: Record<string, unknown>;
  readonly batch: number;
  readonly seed: number;
  restarts: number;
  /** The application's view: digest per decided height (restores set only their height). */
  readonly chain: Map<number, string>;
  readonly blocks: DecidedBlock[];
  appHeight: number;
  /** A Byzantine behaviour applied to what this node sends, if any. */
  byzantine: ByzantineMode | null;
}

/** What a Byzantine node does to its own outgoing messages (through the engine's own hooks). */
export type ByzantineMode = 'equivocate' | 'mutate' | 'silent';

export interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: EngineMessage;
}

const STABILIZE_ROUNDS_MAX = 10_000;

export interface ClusterOptions {
  /** Whether a decided block of this node must carry a valid certificate (default: yes). */
  readonly certificateRequired?: (node: ScenarioNode) => boolean;
  /**
   * Give each engine its node's decided blocks as EngineContext.archive, as a node gives its chain
   * (default true); false: catch-up is limited to the blocks engines retain.
   */
  readonly archive?: boolean;
}

export class ScenarioCluster {
  readonly nodes = new Map<NodeId, ScenarioNode>();
  readonly definition: EngineDefinition;
  private initialMembers: NodeId[] | null = null;
  private queue: InFlight[] = [];
  private groups: Map<NodeId, number> | null = null;
  private readonly seqs = new Map<string, number>();
  private readonly keys = new Map<string, KeyObject>();
  readonly verifier: SignatureVerifier = directoryVerifier(this.keys);
  private readonly byzantineRng: Rng = new SeededRng(4_242);

  constructor(
    readonly engineName: string,
    private readonly options: ClusterOptions = {},
  ) {
    this.definition = getEngine(engineName);
  }

  get members(): readonly NodeId[] {
    return this.initialMembers ?? [];
  }

  addNodes(count: number, options: Record<string, unknown>, batch: number, seed: number): NodeId[] {
    const ids: NodeId[] = [];
    for (let i = 0; i < count; i++) ids.push(String(this.nodes.size + i + 1));
    if (this.initialMembers === null) this.initialMembers = ids;
    for (const id of ids) {
      const keyPair = generateKeyPair();
      this.keys.set(id, keyPair.publicKey);
      const node: ScenarioNode = {
        id,
        engine: null,
        storage: new MemoryStorage(),
        keyPair,
        options,
        batch,
        seed,
        restarts: 0,
        chain: new Map(),
        blocks: [],
        appHeight: 0,
        byzantine: null,
      };
      this.nodes.set(id, node);
      this.start(node);
    }
    return ids;
  }

  private start(node: ScenarioNode): void {
    node.engine = this.definition.create({
      id: node.id,
      members: this.initialMembers!,
      // A fresh stream per (re)start: a restarted node does not replay its old jitter.
      rng: new SeededRng(node.seed * 7919 + Number.parseInt(node.id, 10) * 104_729 + node.restarts * 15_485_863),
      storage: node.storage,
      signer: keyPairSigner(node.id, node.keyPair),
      verifier: this.verifier,
      cutter: { ...DEFAULT_CUTTER_CONFIG, countMax: node.batch, timeoutTicks: 1 },
      options: node.options,
      appliedHeight: node.appHeight,
      ...(this.options.archive === false ? {} : { archive: { decided: (height: number) => archivedBlock(node.blocks, height) } }),
    });
  }

  node(id: NodeId): ScenarioNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  engine(id: NodeId): Engine {
    const e = this.node(id).engine;
    if (!e) throw new Error(`node ${id} is crashed`);
    return e;
  }

  liveIds(): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.engine !== null).map((n) => n.id);
  }

  private connected(a: NodeId, b: NodeId): boolean {
    if (!this.groups) return true;
    return this.groups.get(a) === this.groups.get(b);
  }

  /** Persist and queue the node's Ready; returns the messages it sent. */
  processReady(id: NodeId): InFlight[] {
    const node = this.node(id);
    const engine = node.engine;
    if (!engine) return [];
    const sent: InFlight[] = [];
    while (engine.hasReady()) {
      const rd = engine.ready();
      node.storage.apply(rd.persist);
      for (const out of rd.messages) {
        for (const m of this.tamper(node, { from: id, to: out.to, message: out.message })) {
          sent.push(m);
          this.queue.push(m);
        }
      }
      for (const b of rd.decided) {
        if (b.height !== node.appHeight + 1) throw new Error(`node ${id}: decided height ${b.height} after ${node.appHeight}`);
        const required = this.options.certificateRequired?.(node) ?? true;
        const verify = this.definition.verifyCertificate;
        // Nodes added after the initial membership are orderers the caller knows too (a PBFT
        // certificate of a later membership epoch lists them; decision 1270).
        const known = this.nodes.size > this.members.length ? [...this.nodes.keys()] : this.members;
        if (required && node.byzantine === null && verify && !verify(b, known, this.verifier)) {
          throw new Error(`node ${id}: block ${b.height} has no valid certificate`);
        }
        node.chain.set(b.height, toHex(b.digest));
        node.blocks.push(b);
        node.appHeight = b.height;
      }
      if (rd.restore) {
        node.chain.set(rd.restore.height, toHex(rd.restore.digest));
        node.appHeight = rd.restore.height;
      }
      engine.advance(rd);
    }
    return sent;
  }

  /**
   * A Byzantine node's outgoing message after its behaviour: silent sends nothing; equivocate
   * sends the engine's conflicting variant to the members at odd positions (a fixed half) and the
   * original to the rest; mutate sends the engine's re-signed, off-by-one variant.
   */
  private tamper(node: ScenarioNode, m: InFlight): InFlight[] {
    const hooks = this.definition.byzantine;
    if (node.byzantine === null) return [m];
    if (node.byzantine === 'silent') return [];
    if (!hooks) throw new Error(`engine ${this.engineName} has no Byzantine hooks`);
    const signer = keyPairSigner(node.id, node.keyPair);
    if (node.byzantine === 'mutate') {
      const variant = hooks.mutate(m.message, this.byzantineRng, signer);
      return [variant === null ? m : { ...m, message: variant }];
    }
    const position = this.members.indexOf(m.to);
    if (position % 2 === 0) return [m];
    const variant = hooks.equivocate(m.message, this.byzantineRng, signer);
    return [variant === null ? m : { ...m, message: variant }];
  }

  /** Step every queued message addressed to `to` matching the filter; returns them. */
  deliver(to: NodeId, filter: (m: InFlight) => boolean = () => true): InFlight[] {
    const picked = this.queue.filter((m) => m.to === to && filter(m));
    this.queue = this.queue.filter((m) => !picked.includes(m));
    const engine = this.node(to).engine;
    const delivered: InFlight[] = [];
    for (const m of picked) {
      if (!engine || !this.connected(m.from, m.to)) continue;
      engine.step(m.from, m.message);
      delivered.push(m);
    }
    this.processReady(to);
    return delivered;
  }

  drop(to: NodeId, filter: (m: InFlight) => boolean = () => true): InFlight[] {
    const picked = this.queue.filter((m) => m.to === to && filter(m));
    this.queue = this.queue.filter((m) => !picked.includes(m));
    return picked;
  }

  /** Messages waiting, in send order. */
  pending(): readonly InFlight[] {
    return this.queue;
  }

  stabilize(): InFlight[] {
    const log: InFlight[] = [];
    for (let round = 0; round < STABILIZE_ROUNDS_MAX; round++) {
      for (const id of this.liveIds()) this.processReady(id);
      // Quiet: the drivers' short hold (Ready.noticesHeld, decision 1405) runs out; what the
      // engines held back goes out now.
      if (this.queue.length === 0) for (const id of this.liveIds()) this.flushNotices(id);
      if (this.queue.length === 0) return log;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        const engine = this.nodes.get(m.to)?.engine;
        if (!engine || !this.connected(m.from, m.to)) continue;
        engine.step(m.from, m.message);
        log.push(m);
      }
    }
    throw new Error(`stabilize: still moving after ${STABILIZE_ROUNDS_MAX} rounds`);
  }

  tick(id: NodeId): void {
    this.engine(id).tick();
    this.processReady(id);
  }

  /** The node's driver lets the notices its engine held back go (Ready.noticesHeld). */
  flushNotices(id: NodeId): void {
    const engine = this.node(id).engine;
    if (!engine?.flushNotices) return;
    engine.flushNotices();
    this.processReady(id);
  }

  partition(groups: NodeId[][]): void {
    this.groups = new Map();
    groups.forEach((g, i) => g.forEach((id) => this.groups!.set(id, i)));
    for (const id of this.nodes.keys()) if (!this.groups.has(id)) this.groups.set(id, groups.length);
  }

  heal(): void {
    this.groups = null;
  }

  crash(id: NodeId): void {
    const node = this.node(id);
    node.engine = null; // its unprocessed Ready (not persisted, not sent) is lost
    this.queue = this.queue.filter((m) => m.to !== id);
  }

  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.engine) throw new Error(`node ${id} is running`);
    node.restarts += 1;
    this.start(node);
    this.processReady(id);
  }

  propose(id: NodeId, data: string, client = 'c', seq?: number): string {
    const s = seq ?? (this.seqs.get(client) ?? 0) + 1;
    this.seqs.set(client, Math.max(s, this.seqs.get(client) ?? 0));
    const p: Proposal = { clientId: client, seq: s, data: utf8(data) };
    const r = this.engine(id).propose(p);
    return r.accepted ? `${client}#${s} accepted` : `${client}#${s} rejected: ${r.reason}`;
  }

  /** Agreement across the correct nodes' applications: one digest per height. */
  checkAgreement(): string[] {
    const byHeight = new Map<number, Map<string, NodeId[]>>();
    for (const n of this.nodes.values()) {
      if (n.byzantine !== null) continue;
      for (const [h, d] of n.chain) {
        const m = byHeight.get(h) ?? new Map<string, NodeId[]>();
        m.set(d, [...(m.get(d) ?? []), n.id]);
        byHeight.set(h, m);
      }
    }
    const problems: string[] = [];
    for (const [h, m] of [...byHeight].sort((a, b) => a[0] - b[0])) {
      if (m.size > 1) {
        problems.push(`height ${h}: ` + [...m].map(([d, ids]) => `${d.slice(0, 8)} on (${ids.join(' ')})`).join(' vs '));
      }
    }
    return problems;
  }
}
