// PBFT's test cluster: the one in-process cluster (consensus/cluster.ts) with PBFT's test defaults
// (members n0…, keyed-hash or ECDSA identities, FIFO delivery, one seeded random source) and two
// checks of its own: every message a correct replica sends is watched for a conflicting one (two
// different digests for one (kind, view, seq) from one replica, across restarts), and a state
// transfer at the application copies a correct peer's blocks, checked against the requested digest.
import assert from 'node:assert/strict';
import { bytesEqual, toHex } from '../../codec/index.ts';
import { ecdsaIdentities, keyedHashIdentities, type Identities } from '../../crypto/index.ts';
import { Cluster as BaseCluster, type ClusterInstance, type Envelope as BaseEnvelope, type Interceptor as BaseInterceptor } from '../cluster.ts';
import { DEFAULT_CUTTER_CONFIG, type CutterConfig } from '../cutter.ts';
import type { DecidedBlock, NodeId, Proposal, RestoreRequest } from '../engine.ts';
import type { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import type { PbftEngine } from './engine.ts';
import type { PbftMessage } from './messages.ts';
import './index.ts';

export type Envelope = BaseEnvelope<PbftMessage>;
export type Interceptor = BaseInterceptor<PbftMessage>;

export interface ClusterOptions {
  readonly n?: number;
  readonly options?: Record<string, unknown>;
  readonly cutter?: Partial<CutterConfig>;
  readonly crypto?: 'fast' | 'ecdsa';
}

export class Cluster extends BaseCluster<PbftEngine, PbftMessage> {
  /** Nodes we do not check for conflicting messages (Byzantine in a test). */
  readonly byzantine = new Set<NodeId>();
  readonly keys: Identities;
  readonly cutterConfig: CutterConfig;
  private readonly votes = new Map<string, string>();

  constructor(readonly opts: ClusterOptions = {}) {
    const ids = Array.from({ length: opts.n ?? 4 }, (_, i) => `n${i}`);
    const keys = opts.crypto === 'ecdsa' ? ecdsaIdentities(ids) : keyedHashIdentities(ids);
    const cutter = { ...DEFAULT_CUTTER_CONFIG, countMax: 4, timeoutTicks: 1, pendingMax: 1000, ...opts.cutter };
    // The checks are methods of this cluster, which exists only once super() returned.
    const hooks: { send?: (env: Envelope) => void; restore?: (inst: ClusterInstance<PbftEngine>, r: RestoreRequest) => void } = {};
    super({
      engine: 'pbft',
      ids,
      identities: keys,
      cutter,
      options: opts.options ?? {},
      rng: () => new SeededRng(1),
      onSend: (env) => hooks.send?.(env as Envelope),
      onRestore: (inst, r) => hooks.restore?.(inst as ClusterInstance<PbftEngine>, r),
    });
    hooks.send = (env) => this.watch(env);
    hooks.restore = (inst, r) => this.applyRestore(inst, r);
    this.keys = keys;
    this.cutterConfig = cutter;
  }

  /** Each node's "disk". */
  get storage(): ReadonlyMap<NodeId, MemoryStorage> {
    return new Map([...this.instances.values()].map((i) => [i.name, i.storage]));
  }

  /** Each node's application: its decided blocks (set to play an application that lost some). */
  get decided(): Map<NodeId, DecidedBlock[]> & { set(id: NodeId, blocks: DecidedBlock[]): unknown } {
    const view = new Map([...this.instances.values()].map((i) => [i.name, i.decided]));
    const set = view.set.bind(view);
    view.set = (id, blocks) => {
      this.instance(id).decided = blocks;
      return set(id, blocks);
    };
    return view;
  }

  get restores(): ReadonlyMap<NodeId, readonly RestoreRequest[]> {
    return new Map([...this.instances.values()].map((i) => [i.name, i.restores]));
  }

  /** State transfer at the application: copy a peer's blocks up to height, checked against digest. */
  private applyRestore(inst: ClusterInstance<PbftEngine>, r: RestoreRequest): void {
    const source = this.ids.find((o) => o !== inst.name && !this.byzantine.has(o) && this.instance(o).decided.length >= r.height);
    assert.ok(source, `no peer holds height ${r.height} for ${inst.name}'s restore`);
    const blocks = this.instance(source).decided.slice(0, r.height);
    assert.ok(bytesEqual(blocks[r.height - 1]!.digest, r.digest), `restore digest of ${inst.name} at ${r.height} does not match ${source}`);
    inst.decided = blocks;
  }

  /** No correct replica ever sends two different digests for one (kind, view, seq). */
  private watch(env: Envelope): void {
    if (this.byzantine.has(env.from)) return;
    const m = env.message;
    if (m.type === 'pbft/pre-prepare' || m.type === 'pbft/prepare' || m.type === 'pbft/commit') {
      const key = `${m.replica}|${m.type}|${m.view}|${m.seq}`;
      const d = toHex(m.digest);
      const prev = this.votes.get(key);
      assert.ok(prev === undefined || prev === d, `${m.replica} sent conflicting ${m.type} for view ${m.view} seq ${m.seq}`);
      this.votes.set(key, d);
    }
  }

  /** Deliver queued messages (FIFO) until the network is quiet. */
  deliver(maxSteps?: number): void {
    this.deliverAll(maxSteps);
  }

  override propose(id: NodeId, p: Proposal): { accepted: true } {
    const r = super.propose(id, p);
    assert.deepEqual(r, { accepted: true });
    this.deliverAll();
    return { accepted: true };
  }

  /** Restart from storage; the application has applied what it holds. */
  override restart(id: NodeId): void {
    super.restart(id, this.instance(id).decided.length);
    this.deliverAll();
  }

  height(id: NodeId): number {
    return this.instance(id).decided.length;
  }

  /** Agreement among the given nodes: one block per height. */
  assertAgreement(ids: readonly NodeId[] = this.ids.filter((i) => !this.byzantine.has(i))): void {
    const problems = this.conflicts(ids);
    assert.equal(problems.length, 0, `disagreement: ${problems.map((p) => `height ${p.height}: ${p.a} vs ${p.b}`).join('; ')}`);
  }

  /** Every (clientId, seq) decided at most once in a node's chain; returns the decided keys. */
  decidedKeys(id: NodeId): string[] {
    const keys = this.instance(id).decided.flatMap((b) => b.proposals.map((p) => `${p.clientId}#${p.seq}`));
    assert.equal(new Set(keys).size, keys.length, `${id} decided a proposal twice`);
    return keys;
  }
}

export function proposal(clientId: string, seq: number, text = `${clientId}-${seq}`): Proposal {
  return { clientId, seq, data: new TextEncoder().encode(text) };
}
