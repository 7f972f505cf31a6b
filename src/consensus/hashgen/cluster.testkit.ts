// The hashgen tests' cluster: the one in-process cluster (consensus/cluster.ts) with hashgen's test
// defaults — generators g1…gN, keyed-hash identities (cheap, as the simulator's 'fast' crypto),
// FIFO delivery, a seeded random source per generator — and a few hashgen-flavoured helpers.
// `quorum` picks the registered engine: 'hashgen' (the paper's thresholds) or 'hashgen-bft'.
import { utf8 } from '../../codec/index.ts';
import { keyedHashIdentities, type Identities } from '../../crypto/index.ts';
import { Cluster as BaseCluster, type Envelope as BaseEnvelope } from '../cluster.ts';
import type { CutterConfig } from '../cutter.ts';
import type { DecidedBlock, NodeId, Proposal } from '../engine.ts';
import type { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import type { HashgenEngine } from './engine.ts';
import type { HgMessage } from './messages.ts';
import type { QuorumMode } from './rules.ts';
import './index.ts';

export const TEST_CUTTER: CutterConfig = { countMax: 4, sizeBytesMax: 1 << 16, timeoutTicks: 1, pendingMax: 1000 };

export type Envelope = BaseEnvelope<HgMessage>;

export function generatorIds(n: number): NodeId[] {
  return Array.from({ length: n }, (_, i) => `g${i + 1}`);
}

export class Cluster extends BaseCluster<HashgenEngine, HgMessage> {
  readonly ident: Identities;

  constructor(
    n: number,
    readonly options: Record<string, unknown> = {},
    readonly quorum: QuorumMode = 'paper',
    readonly cutter: CutterConfig = TEST_CUTTER,
  ) {
    const ids = generatorIds(n);
    const ident = keyedHashIdentities(ids);
    super({
      engine: quorum === 'bft' ? 'hashgen-bft' : 'hashgen',
      ids,
      identities: ident,
      cutter,
      options,
      rng: (inst) => new SeededRng(ids.indexOf(inst.identity) + 1),
    });
    this.ident = ident;
  }

  /** Replace a message in flight by these messages to the same addressee ([] drops it). */
  set intercept(f: ((e: Envelope) => HgMessage[]) | null) {
    this.interceptor = f === null ? null : (e) => f(e).map((message) => ({ ...e, message }));
  }

  /** The running generators' engines. */
  get nodes(): ReadonlyMap<NodeId, HashgenEngine> {
    return new Map([...this.instances.values()].filter((i) => i.engine !== null).map((i) => [i.name, i.engine!]));
  }

  get storages(): ReadonlyMap<NodeId, MemoryStorage> {
    return new Map([...this.instances.values()].map((i) => [i.name, i.storage]));
  }

  get decided(): ReadonlyMap<NodeId, DecidedBlock[]> {
    return new Map([...this.instances.values()].map((i) => [i.name, i.decided]));
  }

  node(id: NodeId): HashgenEngine {
    return this.engine(id);
  }

  override restart(id: NodeId, appliedHeight?: number): void {
    super.restart(id, appliedHeight);
    this.deliverAll();
  }

  override propose(id: NodeId, p: Proposal): ReturnType<HashgenEngine['propose']> {
    const r = super.propose(id, p);
    this.deliverAll();
    return r;
  }

  /** Drain every Ready and deliver until quiet. */
  override flush(): void {
    this.deliverAll();
  }

  /** Tick until `pred` holds (at most `ticksMax`); returns the ticks taken. */
  tickUntil(pred: () => boolean, ticksMax: number): number {
    for (let i = 0; i < ticksMax; i++) {
      if (pred()) return i;
      this.tick();
    }
    if (pred()) return ticksMax;
    throw new Error(`condition not reached within ${ticksMax} ticks`);
  }

  proposal(clientSeq: number, client = 'c1'): Proposal {
    return { clientId: client, seq: clientSeq, data: utf8(`${client}-tx-${clientSeq}`) };
  }

  generatorOf(id: NodeId): NodeId | null {
    return this.node(id).status().leader;
  }

  heights(): number[] {
    return [...this.nodes.values()].map((n) => n.status().decidedHeight);
  }

  /** Every pair of nodes agrees on each height both decided. */
  assertAgreement(): void {
    const c = this.conflicts();
    if (c.length > 0) throw new Error(`agreement violated at height ${c[0]!.height} (${c[0]!.a} vs ${c[0]!.b})`);
  }
}
