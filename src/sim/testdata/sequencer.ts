// Test engines for the simulator's own tests (not registered by src/consensus/engines.ts).
//
// `test-sequencer` is a small but correct crash-tolerant engine: members[0] sequences, the
// others forward proposals to it, accept its signed blocks in order and ask it for missing
// blocks ('sync') when they fall behind, so it survives loss, duplication, reordering,
// partitions and crash/restart. A follower more than SNAPSHOT_GAP blocks behind gets a snapshot
// (height, digest, dedup state) instead and asks the driver to restore (Ready.restore). With the option `bug` it becomes deliberately broken, one bug per
// checker, so that the tests can show each checker catches its kind of failure:
//   agreement  — n2 decides each multi-proposal block with its proposals reversed;
//   validity   — the sequencer adds a proposal no client sent;
//   integrity  — the sequencer decides the first proposal of each block again in the next one;
//   durability — the sequencer forgets its persisted state on restart (and decides anew);
//   liveness   — the sequencer never cuts a block;
//   restore    — a follower installing a snapshot restores to a wrong digest.
// `test-sequencer-bft` is the same engine declared Byzantine-tolerant, with ByzantineSupport
// hooks: it does NOT tolerate an equivocating sequencer, which the simulator must expose.
import { decode, encode, bytesEqual, type Bytes } from '../../codec/index.ts';
import type { Signer, SignatureVerifier } from '../../crypto/index.ts';
import { BlockCutter } from '../../consensus/cutter.ts';
import { DedupWindow } from '../../consensus/dedup.ts';
import { GENESIS_DIGEST, blockDigest } from '../../consensus/digest.ts';
import type { ByzantineSupport, DecidedBlock, DurableState, Engine, EngineStatus, NodeId, Outbound, PersistOp, Proposal, ProposeResult, Ready, RestoreRequest, Rng } from '../../consensus/engine.ts';
import { registerEngine, type EngineContext, type EngineDefinition } from '../../consensus/registry.ts';

export type SequencerBug = 'agreement' | 'validity' | 'integrity' | 'durability' | 'liveness' | 'restore';
const BUGS: readonly SequencerBug[] = ['agreement', 'validity', 'integrity', 'durability', 'liveness', 'restore'];

interface WireBlock {
  readonly height: number;
  readonly proposals: readonly Proposal[];
  readonly previousDigest: Bytes;
  readonly digest: Bytes;
  readonly signature: Bytes;
}

export type SequencerMessage =
  | { readonly type: 'fwd'; readonly p: Proposal }
  | { readonly type: 'blk'; readonly b: WireBlock }
  | { readonly type: 'sync'; readonly fromHeight: number }
  | { readonly type: 'snap'; readonly height: number; readonly digest: Bytes; readonly dedup: Array<[string, number, number[]]>; readonly signature: Bytes };

const HEAD = 'seq/head';
const BLOCK = 'seq/block/';
const SYNC_EVERY_TICKS = 5;
const SYNC_BATCH_MAX = 32;
const EARLY_MAX = 256;
/** A follower further behind than this is sent a snapshot rather than blocks. */
export const SNAPSHOT_GAP = 8;

const blockKey = (h: number): string => `${BLOCK}${String(h).padStart(12, '0')}`;
const signed = (h: number, digest: Bytes): Bytes => encode({ s: 'test-seq', h, d: digest });

function validProposal(p: unknown): p is Proposal {
  const q = p as Proposal;
  return typeof q === 'object' && q !== null && typeof q.clientId === 'string' && Number.isSafeInteger(q.seq) && q.seq > 0 && q.data instanceof Uint8Array;
}

class SequencerEngine implements Engine<SequencerMessage> {
  readonly id: NodeId;
  private readonly members: readonly NodeId[];
  private readonly sequencer: NodeId;
  private readonly signer: Signer;
  private readonly verifier: SignatureVerifier;
  private readonly storage: DurableState;
  private readonly cutter: BlockCutter;
  private readonly bug: SequencerBug | null;
  private dedup = new DedupWindow();
  private height = 0;
  private digest: Bytes = GENESIS_DIGEST;
  private ticks = 0;
  private repeat: Proposal | null = null;
  private readonly early = new Map<number, WireBlock>();
  private persist: PersistOp[] = [];
  private messages: Outbound<SequencerMessage>[] = [];
  private decided: DecidedBlock[] = [];
  private restore: RestoreRequest | null = null;

  constructor(ctx: EngineContext) {
    this.id = ctx.id;
    this.members = ctx.members;
    this.sequencer = ctx.members[0]!;
    this.signer = ctx.signer;
    this.verifier = ctx.verifier;
    this.storage = ctx.storage;
    this.cutter = new BlockCutter(ctx.cutter);
    const bug = ctx.options?.['bug'];
    for (const key of Object.keys(ctx.options ?? {})) if (key !== 'bug') throw new Error(`test-sequencer: unknown option ${key}`);
    if (bug !== undefined && !BUGS.includes(bug as SequencerBug)) throw new Error(`test-sequencer: unknown bug ${String(bug)}`);
    this.bug = (bug as SequencerBug | undefined) ?? null;
    const forget = this.bug === 'durability' && this.isSequencer;
    const head = forget ? undefined : ctx.storage.get(HEAD);
    if (head) {
      const h = decode<{ height: number; digest: Bytes; dedup: Array<[string, number, number[]]> }>(head);
      this.height = h.height;
      this.digest = h.digest;
      this.dedup = DedupWindow.fromJSON(h.dedup);
      const applied = ctx.appliedHeight ?? this.height;
      for (let k = applied + 1; k <= this.height; k++) {
        const b = ctx.storage.get(blockKey(k));
        if (b) this.decided.push(toDecided(decode<WireBlock>(b)));
      }
    }
  }

  private get isSequencer(): boolean {
    return this.id === this.sequencer;
  }

  tick(): void {
    this.ticks += 1;
    if (this.isSequencer) {
      if (this.bug !== 'liveness' && this.cutter.tick()) this.cut();
    } else if (this.ticks % SYNC_EVERY_TICKS === 0) {
      // Ask for what we may have missed; the sequencer answers with up to SYNC_BATCH_MAX blocks.
      this.messages.push({ to: this.sequencer, message: { type: 'sync', fromHeight: this.height + 1 } });
    }
  }

  propose(p: Proposal): ProposeResult {
    if (!this.isSequencer) {
      this.messages.push({ to: this.sequencer, message: { type: 'fwd', p } });
      return { accepted: true };
    }
    if (this.dedup.isDecided(p)) return { accepted: true };
    const r = this.cutter.add(p);
    return r === 'added' ? { accepted: true } : { accepted: false, reason: r };
  }

  step(from: NodeId, m: SequencerMessage): void {
    if (!this.members.includes(from) || typeof m !== 'object' || m === null) return;
    if (m.type === 'fwd' && this.isSequencer && validProposal(m.p)) this.propose({ clientId: m.p.clientId, seq: m.p.seq, data: m.p.data });
    else if (m.type === 'sync' && this.isSequencer && Number.isSafeInteger(m.fromHeight)) this.serveSync(from, m.fromHeight);
    else if (m.type === 'blk' && !this.isSequencer && from === this.sequencer) this.receive(m.b);
    else if (m.type === 'snap' && !this.isSequencer && from === this.sequencer) this.installSnapshot(m);
  }

  private serveSync(to: NodeId, fromHeight: number): void {
    if (this.height - fromHeight >= SNAPSHOT_GAP) {
      const dedup = this.dedup.toJSON();
      const signature = this.signer.sign(encode({ s: 'test-seq-snap', h: this.height, d: this.digest, x: dedup }));
      this.messages.push({ to, message: { type: 'snap', height: this.height, digest: this.digest, dedup, signature } });
      return;
    }
    for (let h = Math.max(1, fromHeight); h <= this.height && h < fromHeight + SYNC_BATCH_MAX; h++) {
      const stored = this.storage.get(blockKey(h));
      const b = this.blocks.get(h) ?? (stored ? decode<WireBlock>(stored) : undefined);
      if (b) this.messages.push({ to, message: { type: 'blk', b } });
    }
  }

  /** Blocks decided in this incarnation (older ones are read back from storage). */
  private readonly blocks = new Map<number, WireBlock>();

  private receive(b: WireBlock): void {
    if (typeof b !== 'object' || b === null || !Number.isSafeInteger(b.height) || b.height <= this.height) return;
    if (!(b.signature instanceof Uint8Array) || !(b.digest instanceof Uint8Array) || !Array.isArray(b.proposals) || !b.proposals.every(validProposal)) return;
    if (!this.verifier.verify(this.sequencer, signed(b.height, b.digest), b.signature)) return;
    if (b.height > this.height + 1) {
      if (this.early.size < EARLY_MAX) this.early.set(b.height, b);
      return;
    }
    this.accept(b);
    for (let next = this.early.get(this.height + 1); next; next = this.early.get(this.height + 1)) {
      this.early.delete(next.height);
      this.accept(next);
    }
  }

  private installSnapshot(m: Extract<SequencerMessage, { type: 'snap' }>): void {
    if (!Number.isSafeInteger(m.height) || m.height <= this.height || !(m.digest instanceof Uint8Array) || !Array.isArray(m.dedup) || !(m.signature instanceof Uint8Array)) return;
    if (!this.verifier.verify(this.sequencer, encode({ s: 'test-seq-snap', h: m.height, d: m.digest, x: m.dedup }), m.signature)) return;
    this.height = m.height;
    this.digest = m.digest;
    this.dedup = DedupWindow.fromJSON(m.dedup);
    this.early.clear();
    this.persist.push({ op: 'put', key: HEAD, value: encode({ height: this.height, digest: this.digest, dedup: m.dedup }) });
    const digest = this.bug === 'restore' ? new Uint8Array(m.digest).map((b, i) => (i === 0 ? b ^ 1 : b)) : m.digest;
    this.restore = { height: m.height, digest };
  }

  private accept(b: WireBlock): void {
    if (!bytesEqual(b.previousDigest, this.digest) || !bytesEqual(blockDigest(b.height, this.digest, b.proposals), b.digest)) return;
    let block = b;
    if (this.bug === 'agreement' && this.id === this.members[1] && b.proposals.length > 1) {
      // The deliberate bug: this node decides the same proposals in another order.
      const proposals = [...b.proposals].reverse();
      block = { ...b, proposals, digest: blockDigest(b.height, this.digest, proposals) };
    }
    for (const p of block.proposals) this.dedup.markDecided(p);
    this.record(block);
  }

  private cut(): void {
    let batch = this.cutter.cut().filter((p) => this.dedup.markDecided(p));
    if (this.bug === 'integrity') {
      if (this.repeat) batch = [this.repeat, ...batch];
      this.repeat = batch.find((p) => p !== this.repeat) ?? null;
    }
    if (this.bug === 'validity') batch = [...batch, { clientId: 'ghost', seq: this.height + 1, data: new Uint8Array([0xde, 0xad]) }];
    if (batch.length === 0) return;
    const height = this.height + 1;
    const digest = blockDigest(height, this.digest, batch);
    const b: WireBlock = { height, proposals: batch, previousDigest: this.digest, digest, signature: this.signer.sign(signed(height, digest)) };
    this.record(b);
    for (const m of this.members) if (m !== this.id) this.messages.push({ to: m, message: { type: 'blk', b } });
  }

  private record(b: WireBlock): void {
    this.height = b.height;
    this.digest = b.digest;
    this.blocks.set(b.height, b);
    this.persist.push({ op: 'put', key: blockKey(b.height), value: encode(b) });
    this.persist.push({ op: 'put', key: HEAD, value: encode({ height: this.height, digest: this.digest, dedup: this.dedup.toJSON() }) });
    this.decided.push(toDecided(b));
  }

  hasReady(): boolean {
    return this.persist.length + this.messages.length + this.decided.length > 0 || this.restore !== null;
  }

  ready(): Ready<SequencerMessage> {
    return { persist: [...this.persist], messages: [...this.messages], decided: [...this.decided], restore: this.restore };
  }

  advance(rd: Ready<SequencerMessage>): void {
    this.persist.splice(0, rd.persist.length);
    this.messages.splice(0, rd.messages.length);
    this.decided.splice(0, rd.decided.length);
    if (rd.restore === this.restore) this.restore = null;
  }

  status(): EngineStatus {
    return {
      id: this.id,
      role: this.isSequencer ? 'leader' : 'follower',
      leader: this.sequencer,
      epoch: 0,
      decidedHeight: this.height,
      members: this.members,
    };
  }
}

function toDecided(b: WireBlock): DecidedBlock {
  return { height: b.height, proposals: b.proposals, digest: b.digest, previousDigest: b.previousDigest, certificate: null };
}

/** Equivocation for the BFT-labelled variant: the same height, another (reversed) batch. */
const hooks: ByzantineSupport<SequencerMessage> = {
  resign(m: SequencerMessage, signer: Signer): SequencerMessage {
    return m.type === 'blk' ? { type: 'blk', b: { ...m.b, signature: signer.sign(signed(m.b.height, m.b.digest)) } } : m;
  },
  equivocate(m: SequencerMessage, _rng: Rng, signer: Signer): SequencerMessage | null {
    if (m.type !== 'blk' || m.b.proposals.length < 2) return null;
    const proposals = [...m.b.proposals].reverse();
    const digest = blockDigest(m.b.height, m.b.previousDigest, proposals);
    return { type: 'blk', b: { ...m.b, proposals, digest, signature: signer.sign(signed(m.b.height, digest)) } };
  },
  mutate(m: SequencerMessage, rng: Rng): SequencerMessage | null {
    if (m.type !== 'sync') return null;
    return { type: 'sync', fromHeight: m.fromHeight + (rng.nextInt(2) === 0 ? -1 : 1) };
  },
};

export const SEQUENCER: EngineDefinition<SequencerMessage> = {
  name: 'test-sequencer',
  faultModel: 'crash',
  nodesMin: 1,
  // Only the sequencer matters for availability; crashes of others are harmless. Tests pass
  // crashMax explicitly to crash whatever they like.
  faultsTolerated: () => 0,
  create: (ctx) => new SequencerEngine(ctx),
};

export const SEQUENCER_BFT: EngineDefinition<SequencerMessage> = {
  ...SEQUENCER,
  name: 'test-sequencer-bft',
  faultModel: 'byzantine',
  nodesMin: 4,
  faultsTolerated: (n) => Math.floor((n - 1) / 3),
  byzantine: hooks,
};

let registered = false;
/** Register both test engines (idempotent within one process). */
export function registerTestEngines(): void {
  if (registered) return;
  registered = true;
  registerEngine(SEQUENCER);
  registerEngine(SEQUENCER_BFT);
}
