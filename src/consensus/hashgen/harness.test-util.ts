// A hand-driven cluster for the hashgen tests: synchronous FIFO delivery, crashes that keep only
// what was persisted, restarts, link cuts and message interception (to play a Byzantine node).
// Node identities use HMAC keyed signatures (as the simulator's 'fast' crypto does) so the tests
// stay cheap; the engine only sees the Signer / SignatureVerifier interfaces.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Signer, SignatureVerifier } from '../../crypto/index.ts';
import { utf8 } from '../../codec/index.ts';
import type { CutterConfig } from '../cutter.ts';
import type { DecidedBlock, NodeId, Proposal } from '../engine.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { HashgenEngine } from './engine.ts';
import type { HgMessage } from './messages.ts';
import type { QuorumMode } from './rules.ts';

export const TEST_CUTTER: CutterConfig = { countMax: 4, sizeBytesMax: 1 << 16, timeoutTicks: 1, pendingMax: 1000 };

export function identities(ids: readonly NodeId[]): { signerOf: (id: NodeId) => Signer; verifier: SignatureVerifier } {
  const secrets = new Map(ids.map((id) => [id, Buffer.from(`secret-${id}`)]));
  const mac = (id: NodeId, m: Uint8Array): Uint8Array => new Uint8Array(createHmac('sha512', secrets.get(id)!).update(m).digest());
  return {
    signerOf: (id) => ({ id, sign: (m) => mac(id, m) }),
    verifier: {
      verify(id, message, signature) {
        if (!secrets.has(id) || signature.byteLength !== 64) return false;
        return timingSafeEqual(mac(id, message), signature);
      },
    },
  };
}

export interface Envelope {
  from: NodeId;
  to: NodeId;
  message: HgMessage;
}

export class Cluster {
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, HashgenEngine>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  readonly decided = new Map<NodeId, DecidedBlock[]>();
  readonly down = new Set<NodeId>();
  readonly ident: ReturnType<typeof identities>;
  /** Drop a message when this returns true (partitions, one-way cuts). */
  cut: (from: NodeId, to: NodeId) => boolean = () => false;
  /** Replace a message in flight (return [] to drop it, [m] to keep it). */
  intercept: ((e: Envelope) => HgMessage[]) | null = null;
  readonly sent = new Map<string, number>();
  private queue: Envelope[] = [];
  private seq = 0;

  constructor(
    n: number,
    readonly options: Record<string, unknown> = {},
    readonly quorum: QuorumMode = 'paper',
    readonly cutter: CutterConfig = TEST_CUTTER,
  ) {
    this.ids = Array.from({ length: n }, (_, i) => `g${i + 1}`);
    this.ident = identities(this.ids);
    for (const id of this.ids) {
      this.storages.set(id, new MemoryStorage());
      this.decided.set(id, []);
      this.start(id);
    }
  }

  private start(id: NodeId, appliedHeight?: number): void {
    this.nodes.set(
      id,
      new HashgenEngine(
        {
          id,
          members: this.ids,
          rng: new SeededRng(this.ids.indexOf(id) + 1),
          storage: this.storages.get(id)!,
          signer: this.ident.signerOf(id),
          verifier: this.ident.verifier,
          cutter: this.cutter,
          options: this.options,
          ...(appliedHeight === undefined ? {} : { appliedHeight }),
        },
        { quorum: this.quorum },
      ),
    );
  }

  node(id: NodeId): HashgenEngine {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`node ${id} is down`);
    return n;
  }

  /** Crash: the engine and everything not persisted are gone. */
  crash(id: NodeId): void {
    this.nodes.delete(id);
    this.down.add(id);
  }

  /** Restart from storage; the application had applied `appliedHeight` blocks. */
  restart(id: NodeId, appliedHeight?: number): void {
    this.down.delete(id);
    this.start(id, appliedHeight);
    this.flush();
  }

  propose(id: NodeId, p: Proposal): void {
    this.node(id).propose(p);
    this.flush();
  }

  /** Drain every node's Ready (persist, then send) and deliver until quiet. */
  flush(): void {
    for (let round = 0; round < 100_000; round++) {
      let moved = false;
      for (const [id, node] of this.nodes) {
        while (node.hasReady()) {
          const rd = node.ready();
          this.storages.get(id)!.apply(rd.persist);
          for (const m of rd.messages) this.queue.push({ from: id, to: m.to, message: m.message });
          this.decided.get(id)!.push(...rd.decided);
          node.advance(rd);
          moved = true;
        }
      }
      const env = this.queue.shift();
      if (env) {
        moved = true;
        this.deliver(env);
      }
      if (!moved) return;
    }
    throw new Error('cluster did not quiesce');
  }

  private deliver(env: Envelope): void {
    this.sent.set(env.message.type, (this.sent.get(env.message.type) ?? 0) + 1);
    if (this.down.has(env.to) || this.down.has(env.from) || this.cut(env.from, env.to)) return;
    const msgs = this.intercept ? this.intercept(env) : [env.message];
    for (const m of msgs) this.nodes.get(env.to)?.step(env.from, m);
  }

  tick(count = 1): void {
    for (let i = 0; i < count; i++) {
      for (const node of this.nodes.values()) node.tick();
      this.flush();
    }
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
    this.seq = Math.max(this.seq, clientSeq);
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
    const byHeight = new Map<number, string>();
    for (const [id, blocks] of this.decided) {
      let prev = 0;
      for (const b of blocks) {
        if (b.height !== prev + 1 && prev !== 0 && b.height <= prev) continue;
        prev = b.height;
        const hex = Buffer.from(b.digest).toString('hex');
        const seen = byHeight.get(b.height);
        if (seen !== undefined && seen !== hex) throw new Error(`agreement violated at height ${b.height} (node ${id})`);
        byHeight.set(b.height, hex);
      }
    }
  }
}
