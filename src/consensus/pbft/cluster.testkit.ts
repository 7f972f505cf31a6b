// A hand-driven PBFT cluster for tests: engines, their "disks" (MemoryStorage), a FIFO message
// queue delivered deterministically, silent / crashed nodes, message filters and rewrites, and an
// application per node (decided blocks, restore by copying a correct peer's verified blocks).
// It also watches every message a correct node sends and fails on a conflicting one (two
// different digests for one (kind, view, seq) from one replica), across restarts.
import { createHmac, timingSafeEqual } from 'node:crypto';
import assert from 'node:assert/strict';
import { bytesEqual, toHex, type Bytes } from '../../codec/index.ts';
import { generateKeyPair, keyPairSigner, directoryVerifier, type Signer, type SignatureVerifier } from '../../crypto/index.ts';
import type { KeyObject } from 'node:crypto';
import { DEFAULT_CUTTER_CONFIG, type CutterConfig } from '../cutter.ts';
import type { DecidedBlock, NodeId, Proposal, RestoreRequest } from '../engine.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { PbftEngine } from './engine.ts';
import type { PbftMessage } from './messages.ts';

/** A fast keyed-hash signer/verifier: HMAC-SHA256 with a per-node secret only its signer holds. */
export function fastKeys(ids: readonly NodeId[]): { signerOf(id: NodeId): Signer; verifier: SignatureVerifier } {
  const secrets = new Map(ids.map((id) => [id, Buffer.from(`secret-of-${id}`)]));
  const mac = (id: NodeId, m: Bytes): Buffer => createHmac('sha256', secrets.get(id)!).update(m).digest();
  return {
    signerOf: (id) => ({ id, sign: (m) => new Uint8Array(mac(id, m)) }),
    verifier: {
      verify(id, m, sig) {
        if (!secrets.has(id) || sig.byteLength !== 32) return false;
        return timingSafeEqual(mac(id, m), sig);
      },
    },
  };
}

export function ecdsaKeys(ids: readonly NodeId[]): { signerOf(id: NodeId): Signer; verifier: SignatureVerifier } {
  const pubs = new Map<string, KeyObject>();
  const signers = new Map<NodeId, Signer>();
  for (const id of ids) {
    const kp = generateKeyPair();
    pubs.set(id, kp.publicKey);
    signers.set(id, keyPairSigner(id, kp));
  }
  return { signerOf: (id) => signers.get(id)!, verifier: directoryVerifier(pubs) };
}

export interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly message: PbftMessage;
}

/** Return false to drop, an array to replace the message (possibly by several). */
export type Interceptor = (env: Envelope) => boolean | Envelope[];

export interface ClusterOptions {
  readonly n?: number;
  readonly options?: Record<string, unknown>;
  readonly cutter?: Partial<CutterConfig>;
  readonly crypto?: 'fast' | 'ecdsa';
}

export class Cluster {
  readonly ids: NodeId[];
  readonly engines = new Map<NodeId, PbftEngine>();
  readonly storage = new Map<NodeId, MemoryStorage>();
  readonly decided = new Map<NodeId, DecidedBlock[]>();
  readonly restores = new Map<NodeId, RestoreRequest[]>();
  /** Nodes whose messages are neither delivered nor sent (crashed, or silent). */
  readonly down = new Set<NodeId>();
  /** Nodes we do not check for conflicting messages (Byzantine in a test). */
  readonly byzantine = new Set<NodeId>();
  readonly keys: { signerOf(id: NodeId): Signer; verifier: SignatureVerifier };
  interceptor: Interceptor | null = null;
  queue: Envelope[] = [];
  /** Every message sent, for assertions. */
  readonly sent: Envelope[] = [];
  private readonly votes = new Map<string, string>();
  readonly cutterConfig: CutterConfig;

  constructor(readonly opts: ClusterOptions = {}) {
    const n = opts.n ?? 4;
    this.ids = Array.from({ length: n }, (_, i) => `n${i}`);
    this.keys = opts.crypto === 'ecdsa' ? ecdsaKeys(this.ids) : fastKeys(this.ids);
    this.cutterConfig = { ...DEFAULT_CUTTER_CONFIG, countMax: 4, timeoutTicks: 1, pendingMax: 1000, ...opts.cutter };
    for (const id of this.ids) {
      this.storage.set(id, new MemoryStorage());
      this.decided.set(id, []);
      this.restores.set(id, []);
      this.engines.set(id, this.create(id));
    }
  }

  private create(id: NodeId, appliedHeight?: number): PbftEngine {
    return new PbftEngine({
      id,
      members: this.ids,
      rng: new SeededRng(1),
      storage: this.storage.get(id)!,
      signer: this.keys.signerOf(id),
      verifier: this.keys.verifier,
      cutter: this.cutterConfig,
      options: this.opts.options ?? {},
      ...(appliedHeight === undefined ? {} : { appliedHeight }),
    });
  }

  engine(id: NodeId): PbftEngine {
    return this.engines.get(id)!;
  }

  /** Persist, send (into the queue) and apply every pending Ready, in contract order. */
  flush(): void {
    let progress = true;
    while (progress) {
      progress = false;
      for (const id of this.ids) {
        const e = this.engines.get(id)!;
        while (e.hasReady()) {
          progress = true;
          const rd = e.ready();
          this.storage.get(id)!.apply(rd.persist);
          if (!this.down.has(id)) {
            for (const m of rd.messages) {
              const env = { from: id, to: m.to, message: m.message };
              this.watch(env);
              this.sent.push(env);
              this.queue.push(env);
            }
          }
          const app = this.decided.get(id)!;
          for (const b of rd.decided) {
            assert.equal(b.height, app.length + 1, `${id} decided height ${b.height} after ${app.length}`);
            app.push(b);
          }
          if (rd.restore) this.applyRestore(id, rd.restore);
          e.advance(rd);
        }
      }
    }
  }

  /** State transfer at the application: copy a peer's blocks up to height, checked against digest. */
  private applyRestore(id: NodeId, r: RestoreRequest): void {
    this.restores.get(id)!.push(r);
    const source = this.ids.find((o) => o !== id && !this.byzantine.has(o) && this.decided.get(o)!.length >= r.height);
    assert.ok(source, `no peer holds height ${r.height} for ${id}'s restore`);
    const blocks = this.decided.get(source)!.slice(0, r.height);
    assert.ok(bytesEqual(blocks[r.height - 1]!.digest, r.digest), `restore digest of ${id} at ${r.height} does not match ${source}`);
    this.decided.set(id, blocks);
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

  /** Deliver queued messages (FIFO) until the network is quiet or maxSteps pass. */
  deliver(maxSteps = 1_000_000): void {
    this.flush();
    let steps = 0;
    while (this.queue.length > 0 && steps++ < maxSteps) {
      const env = this.queue.shift()!;
      if (this.down.has(env.to) || this.down.has(env.from)) continue;
      let envs: Envelope[] = [env];
      if (this.interceptor) {
        const r = this.interceptor(env);
        if (r === false) continue;
        if (Array.isArray(r)) envs = r;
      }
      for (const e of envs) {
        if (this.down.has(e.to)) continue;
        this.engines.get(e.to)!.step(e.from, e.message);
      }
      this.flush();
    }
  }

  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.ids) if (!this.down.has(id)) this.engines.get(id)!.tick();
      this.deliver();
    }
  }

  propose(id: NodeId, p: Proposal): void {
    const r = this.engines.get(id)!.propose(p);
    assert.deepEqual(r, { accepted: true });
    this.deliver();
  }

  /** Crash: the node loses everything but its storage (and the app keeps its blocks). */
  crash(id: NodeId): void {
    this.down.add(id);
    this.queue = this.queue.filter((e) => e.to !== id && e.from !== id);
  }

  restart(id: NodeId): void {
    this.down.delete(id);
    this.engines.set(id, this.create(id, this.decided.get(id)!.length));
    this.deliver();
  }

  height(id: NodeId): number {
    return this.decided.get(id)!.length;
  }

  /** Agreement among the given nodes: one block per height. */
  assertAgreement(ids: readonly NodeId[] = this.ids.filter((i) => !this.byzantine.has(i))): void {
    const longest = Math.max(...ids.map((i) => this.height(i)));
    for (let h = 1; h <= longest; h++) {
      let digest: string | null = null;
      for (const id of ids) {
        const b = this.decided.get(id)![h - 1];
        if (!b) continue;
        const d = toHex(b.digest);
        assert.ok(digest === null || digest === d, `disagreement at height ${h}`);
        digest = d;
      }
    }
  }

  /** Every (clientId, seq) decided at most once in a node's chain; returns the decided keys. */
  decidedKeys(id: NodeId): string[] {
    const keys = this.decided.get(id)!.flatMap((b) => b.proposals.map((p) => `${p.clientId}#${p.seq}`));
    assert.equal(new Set(keys).size, keys.length, `${id} decided a proposal twice`);
    return keys;
  }
}

export function proposal(clientId: string, seq: number, text = `${clientId}-${seq}`): Proposal {
  return { clientId, seq, data: new TextEncoder().encode(text) };
}
