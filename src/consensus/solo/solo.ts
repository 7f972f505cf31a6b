// `solo`: one orderer decides everything (Fabric's solo orderer), for development and the
// in-process demo. Other members (if any) forward proposals to the orderer (members[0]) and
// receive decided blocks from it. It tolerates no faults: if the orderer is down, nothing is
// decided. The orderer signs each block ('solo-orderer' certificate).
import { DecidedChain, plainBlock } from '../decided-chain.ts';
import { ReadyQueue } from '../ready-queue.ts';
import { encode, decode, type Bytes } from '../../codec/index.ts';
import type { Signer, SignatureVerifier } from '../../crypto/index.ts';
import { BlockCutter } from '../cutter.ts';
import { DedupWindow } from '../dedup.ts';
import { blockDigest, GENESIS_DIGEST } from '../digest.ts';
import {
  assertInvariant,
  type Certificate,
  type DecidedBlock,
  type Engine,
  type EngineStatus,
  type NodeId,
  type Proposal,
  type ProposeResult,
  type Ready,
} from '../engine.ts';
import { registerEngine, type EngineContext } from '../registry.ts';

export type SoloMessage = { readonly type: 'solo/forward'; readonly proposal: Proposal } | { readonly type: 'solo/block'; readonly block: DecidedBlock };

const HEAD_KEY = 'solo/head';
/** Decided blocks kept durably for re-delivery to followers and to the app after a restart. */
const BLOCKS_RETAINED = 1024;
const FORWARD_QUEUE_MAX = 10_000;

interface Head {
  height: number;
  digest: Bytes;
  dedup: Array<[string, number, number[]]>;
}

function signedBytes(height: number, digest: Bytes): Bytes {
  return encode({ scheme: 'solo-orderer', height, digest });
}

export function verifySoloCertificate(block: DecidedBlock, certificate: Certificate, verifier: SignatureVerifier, members: readonly NodeId[]): boolean {
  const orderer = members[0];
  const sig = certificate.signatures[0];
  return (
    certificate.scheme === 'solo-orderer' &&
    certificate.signatures.length === 1 &&
    sig !== undefined &&
    sig.nodeId === orderer &&
    verifier.verify(orderer, signedBytes(block.height, block.digest), sig.signature)
  );
}

export class SoloEngine implements Engine<SoloMessage> {
  readonly id: NodeId;
  private readonly members: readonly NodeId[];
  private readonly orderer: NodeId;
  private readonly signer: Signer;
  private readonly verifier: SignatureVerifier;
  private readonly cutter: BlockCutter;
  private dedup: DedupWindow;
  private height: number;
  private digest: Bytes;

  private readonly out = new ReadyQueue<SoloMessage>();
  private readonly blocks = new DecidedChain<DecidedBlock>('solo', BLOCKS_RETAINED, {
    encode,
    decode: (bytes) => decode<DecidedBlock>(bytes),
    fromArchive: plainBlock,
  });
  private readonly persist = this.out.persist;
  private readonly messages = this.out.messages;
  private readonly decided = this.out.decided;
  /** Follower: blocks received ahead of the next expected height (bounded). */
  private readonly early = new Map<number, DecidedBlock>();

  constructor(ctx: EngineContext) {
    assertInvariant(ctx.members.length >= 1, 'solo needs at least one member');
    assertInvariant(ctx.members.includes(ctx.id), 'solo: this node is a member');
    this.id = ctx.id;
    this.members = ctx.members;
    this.orderer = ctx.members[0]!;
    this.signer = ctx.signer;
    this.verifier = ctx.verifier;
    this.cutter = new BlockCutter(ctx.cutter);
    const headBytes = ctx.storage.get(HEAD_KEY);
    if (headBytes) {
      const head = decode<Head>(headBytes);
      this.height = head.height;
      this.digest = head.digest;
      this.dedup = DedupWindow.fromJSON(head.dedup);
    } else {
      this.height = 0;
      this.digest = GENESIS_DIGEST;
      this.dedup = new DedupWindow();
    }
    // Re-deliver what the application may not have applied before a crash.
    this.blocks.restore(ctx.storage, this.height);
    const again = this.blocks.redeliver(ctx.appliedHeight, this.height, this.digest);
    this.decided.push(...again.blocks);
    this.out.restore = again.restore;
  }

  private get isOrderer(): boolean {
    return this.id === this.orderer;
  }

  tick(): void {
    if (this.isOrderer && this.cutter.tick()) this.cutBlock();
  }

  propose(proposal: Proposal): ProposeResult {
    if (!this.isOrderer) {
      if (this.messages.length >= FORWARD_QUEUE_MAX) return { accepted: false, reason: 'queue-full' };
      this.messages.push({ to: this.orderer, message: { type: 'solo/forward', proposal } });
      return { accepted: true };
    }
    if (this.dedup.isDecided(proposal)) return { accepted: true };
    const added = this.cutter.add(proposal);
    if (added === 'too-large') return { accepted: false, reason: 'too-large' };
    if (added === 'queue-full') return { accepted: false, reason: 'queue-full' };
    while (this.cutter.hasFullBatch()) this.cutBlock();
    return { accepted: true };
  }

  step(from: NodeId, message: SoloMessage): void {
    if (!this.members.includes(from) || typeof message !== 'object' || message === null) return;
    if (message.type === 'solo/forward' && this.isOrderer) {
      const p = message.proposal;
      if (p && typeof p.clientId === 'string' && Number.isSafeInteger(p.seq) && p.seq > 0 && p.data instanceof Uint8Array) {
        this.propose({ clientId: p.clientId, seq: p.seq, data: p.data });
      }
    } else if (message.type === 'solo/block' && !this.isOrderer && from === this.orderer) {
      this.receiveBlock(message.block);
    }
  }

  private receiveBlock(block: DecidedBlock): void {
    if (!block || !Number.isSafeInteger(block.height) || block.height <= this.height) return;
    if (!block.certificate || !verifySoloCertificate(block, block.certificate, this.verifier, this.members)) return;
    if (block.height > this.height + 1) {
      if (this.early.size < BLOCKS_RETAINED) this.early.set(block.height, block);
      return;
    }
    this.acceptBlock(block);
    let next = this.early.get(this.height + 1);
    while (next) {
      this.early.delete(next.height);
      this.acceptBlock(next);
      next = this.early.get(this.height + 1);
    }
  }

  /** Follower side: check the chain link and digest, then decide. */
  private acceptBlock(block: DecidedBlock): void {
    const expected = blockDigest(block.height, this.digest, block.proposals);
    if (!Buffer.from(expected).equals(Buffer.from(block.digest))) return;
    for (const p of block.proposals) this.dedup.markDecided(p);
    this.record(block);
  }

  private cutBlock(): void {
    const batch = this.cutter.cut().filter((p) => this.dedup.markDecided(p));
    if (batch.length === 0) return;
    const height = this.height + 1;
    const digest = blockDigest(height, this.digest, batch);
    const certificate: Certificate = {
      scheme: 'solo-orderer',
      fields: {},
      signatures: [{ nodeId: this.id, signature: this.signer.sign(signedBytes(height, digest)) }],
    };
    const block: DecidedBlock = { height, proposals: batch, digest, previousDigest: this.digest, certificate };
    this.record(block);
    for (const member of this.members) {
      if (member !== this.id) this.messages.push({ to: member, message: { type: 'solo/block', block } });
    }
  }

  private record(block: DecidedBlock): void {
    assertInvariant(block.height === this.height + 1, 'solo decides gapless heights');
    this.height = block.height;
    this.digest = block.digest;
    this.persist.push(...this.blocks.append(block));
    this.persist.push({ op: 'put', key: HEAD_KEY, value: encode({ height: this.height, digest: this.digest, dedup: this.dedup.toJSON() }) });
    this.decided.push(block);
  }

  hasReady(): boolean {
    return this.out.hasReady();
  }

  ready(): Ready<SoloMessage> {
    return this.out.ready();
  }

  advance(ready: Ready<SoloMessage>): void {
    this.out.advance(ready);
  }

  status(): EngineStatus {
    return {
      id: this.id,
      role: this.isOrderer ? 'leader' : 'follower',
      leader: this.orderer,
      epoch: 0,
      decidedHeight: this.height,
      members: this.members,
    };
  }
}

registerEngine<SoloMessage>({
  name: 'solo',
  faultModel: 'crash',
  nodesMin: 1,
  faultsTolerated: () => 0,
  create: (ctx) => new SoloEngine(ctx),
});
