// `gpbft`: the grouped two-layer PBFT of paper 002 (Chang et al., "Medical Data Storage Model
// Based on an Alliance Chain", Electronics 2022) — Distance grouping (Algorithm 1), primary
// election by T = md·α + vi·β, two consensus layers (Algorithm 2) and node update — as a pure
// state machine under the engine contract. docs/architecture/gpbft.md explains the protocol;
// decisions 0600–0699 record how the paper was read where the text is ambiguous or unsafe.
//
// Normal case for one block (height h = H+1, view v):
//   request → group primary (forwarded by a member)                              'gpbft/request'
//   layer 1 in the group: pre-prepare1, prepare1 (all), commit1 (all, signed)   → group certificate
//   the primary hands the endorsed batch to the head (skipped when it is the head) 'gpbft/submit2'
//   layer 2 among the k primaries: pre-prepare2 (head), prepare2, commit2 (all, signed)
//   With a single group (4–7 nodes) there is no layer 1 and every member votes in layer 2: the
//   head's batch goes straight to pre-prepare2 (decision 1399).
//   every primary holding q2 commit2 signatures decides and delivers the package  'gpbft/deliver'
//   (block + signature bundle) to its group's members, who verify the bundle and decide.
// Blocks are decided one at a time, so heights are gapless and a new member joining a group
// always finds it idle. Safety rests on the second layer (PBFT among its voters — the primaries,
// or one group's members — quorum ⌈(v+f+1)/2⌉ of v); the view change carries prepared
// certificates across views.
import { CATCH_UP_BYTES_MAX, DecidedChain, plainBlock } from '../decided-chain.ts';
import { ReadyQueue } from '../ready-queue.ts';
import { decode, encode, bytesEqual, type Bytes } from '../../codec/index.ts';
import type { Signer, SignatureVerifier } from '../../crypto/index.ts';
import { viewChangeTimeoutTicks } from '../backoff.ts';
import { hasQuorumSignatures } from '../certificate.ts';
import { BlockCutter } from '../cutter.ts';
import type { CutterConfig } from '../cutter.ts';
import { DedupWindow } from '../dedup.ts';
import { batchDigest, blockDigest, GENESIS_DIGEST, proposalKey, proposalSizeBytes } from '../digest.ts';
import {
  assertInvariant,
  type Certificate,
  type CertificateSignature,
  type DecidedBlock,
  type Engine,
  type EngineStatus,
  type MemberProfile,
  type NodeId,
  type Outbound,
  type Proposal,
  type ProposeResult,
  type Ready,
  type ReconfigureResult,
  type Rng,
} from '../engine.ts';
import type { EngineContext } from '../registry.ts';
import {
  applyBlockToConfig,
  CONTROL_CLIENT_PREFIX,
  decodeControl,
  encodeControl,
  faultsOf,
  groupOf,
  headFor,
  initialConfig,
  leaveSignedBytes,
  MEMBERSHIP_CLIENT_ID,
  layer2VotersFor,
  primariesFor,
  quorum,
  ratingSignedBytesOf,
  RATING_SIGNED_FORM,
  STAND_IN_CONSORTIUM,
  ratingBound,
  rotationWindow,
  syntheticCoordinate,
  syntheticRating,
  viewChangeNeed,
  type ConsortiumConfig,
  type ControlOp,
  type RateOp,
  type RatingAuth,
} from './config.ts';
import { parseGpbftOptions, type GpbftOptions } from './options.ts';
import { groupSizeMin, groupCountFor } from './geo.ts';
import {
  commit1Bytes,
  contentDigest,
  EVIDENCE_PER_BLOCK_MAX,
  isEvidence,
  isGpbftMessage,
  isProposal,
  newViewBytes,
  statementBytes,
  viewChangeBytes,
  type Evidence,
  type GpbftMessage,
  type Prepared,
  type StatementKind,
  type ViewChange,
} from './messages.ts';

export type { GpbftMessage } from './messages.ts';

const HEAD_KEY = 'gpbft/head';
const ACCEPTED_KEY = 'gpbft/accepted';
const PREPARED_KEY = 'gpbft/prepared';
/** Decided blocks kept (durably) to serve catch-up and re-delivery after a restart. */
const PENDING_MAX = 10_000;
const LAYER1_RECORDS_MAX = 64;
const HEAD_QUEUE_MAX = 256;
const EARLY_BLOCKS_MAX = 64;
const VIEW_CHANGE_VIEWS_MAX = 16;
const STATEMENTS_MAX = 4096;
const REQUEST_CHUNK = 100;
const FUTURE_MAX = 512;
const RESEND_SLOTS_MAX = 16;
const REFORWARD_MAX = 1000;
const SYNC_BLOCKS_MAX = 16;

interface Head {
  height: number;
  digest: Bytes;
  view: number;
  /** 0 = not changing view; else the view this node asked to change to. */
  viewTarget: number;
  dedup: Array<[string, number, number[]]>;
  config: ConsortiumConfig;
  /** Membership entries (MEMBERSHIP_CLIENT_ID) decided so far; absent before decision 1280. */
  steps?: number;
}

/** The pre-prepare2 this node accepted for (view, height): it never votes for another. */
interface Accepted {
  view: number;
  height: number;
  content: Bytes;
  digest: Bytes;
  evidence: Bytes;
  proposals: Proposal[];
  ppSignature: Bytes;
}

interface Layer1 {
  view: number;
  group: number;
  seq: number;
  digest: Bytes | null;
  proposals: Proposal[] | null;
  prepares: Map<NodeId, Bytes>;
  commits: Map<NodeId, { digest: Bytes; signature: Bytes }>;
  sentCommit: boolean;
  submitted: boolean;
}

interface Endorsed {
  group: number;
  seq: number;
  proposals: Proposal[];
  cert: CertificateSignature[];
}

function sortedSigs(m: Map<NodeId, Bytes>): CertificateSignature[] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([nodeId, signature]) => ({ nodeId, signature }));
}

/** Layer-2 faults the engine tolerates with k groups: f2 = ⌊(k−1)/3⌋, and each group's f. */
export function gpbftFaultsTolerated(nodes: number, options?: Readonly<Record<string, unknown>>): number {
  if (nodes < 1) return 0;
  const opts = parseGpbftOptions(options);
  const k = groupCountFor(nodes, groupSizeMin(opts.fPerGroup), opts.groups);
  // Layer 2 is voted by the k primaries, or by a single group's members (decision 1399).
  return Math.min(faultsOf(k === 1 ? nodes : k), faultsOf(Math.floor(nodes / k)));
}

export class GpbftEngine implements Engine<GpbftMessage> {
  readonly id: NodeId;
  private readonly opts: GpbftOptions;
  private readonly signer: Signer;
  private readonly verifier: SignatureVerifier;
  private readonly rng: Rng;
  private readonly cutterConfig: CutterConfig;

  // durable
  private height = 0;
  private digest: Bytes = GENESIS_DIGEST;
  private view = 0;
  private viewTarget = 0;
  private dedup = new DedupWindow();
  private config: ConsortiumConfig;
  /** Pending requests this non-primary forwarded again in the current tick (decision 1393). */
  private readonly forwardedThisTick = new Set<string>();
  /** successorConfig's last answer (decision 1392). */
  private successorMemo: { readonly config: ConsortiumConfig; readonly forced: Prepared; readonly next: ConsortiumConfig | null } | null = null;
  /** Membership entries decided so far: the next one has seq steps + 1. */
  private steps = 0;
  private accepted: Accepted | null = null;
  private prepared: Prepared | null = null;

  // volatile
  private readonly pending = new Map<string, Proposal>();
  private cutter: BlockCutter;
  private readonly queued = new Set<string>();
  private seq1 = 0;
  private layer1Busy = false;
  private readonly layer1 = new Map<string, Layer1>();
  private headQueue: Endorsed[] = [];
  private prep2 = new Map<NodeId, { content: Bytes; signature: Bytes }>();
  private com2 = new Map<NodeId, { content: Bytes; signature: Bytes }>();
  private sentCommit2 = false;
  private askedForBlock = false;
  private readonly statements = new Map<string, { content: Bytes; signature: Bytes }>();
  private pendingEvidence: Evidence[] = [];
  private readonly viewChanges = new Map<number, Map<NodeId, ViewChange>>();
  /** After a new view: the content the head must re-propose at height+1 (null: free). */
  private forced: { view: number; prepared: Prepared | null } | null = null;
  private deferredNewView: { from: NodeId; message: Extract<GpbftMessage, { type: 'gpbft/new-view' }> } | null = null;
  private readonly early = new Map<number, DecidedBlock>();
  private readonly blocks: DecidedChain<DecidedBlock>;
  private idleTicks = 0;
  /**
   * Ticks this member has held a client request pending (not a membership entry) with none of its
   * pending requests decided: other groups' blocks reset idleTicks, not this one — a crashed or
   * censoring group primary starves only its own group's requests (decision 1408).
   */
  private starvedTicks = 0;
  private timeoutDoublings = 0;
  /** Catch-up requests sent while forming a new view: which node reporting a higher height to ask next. */
  private catchUpAsks = 0;
  private syncTicks = 0;
  /** The member set the driver last asked for (Engine.reconfigure); null: never asked. */
  private target: { members: readonly NodeId[]; profiles: Readonly<Record<NodeId, MemberProfile>> } | null = null;
  /** Evidence ids already reported (node/kind/view/height) so each is sent once. */
  private readonly reported = new Set<string>();

  /** Messages of a view this node has not entered yet (the new-view may arrive after them). */
  private future: Array<{ from: NodeId; message: GpbftMessage }> = [];
  /** What this node sent for the current layer-1 / layer-2 instances, resent when progress stalls. */
  private readonly resend = new Map<string, Outbound<GpbftMessage>[]>();

  private readonly out = new ReadyQueue<GpbftMessage>();
  private readonly persist = this.out.persist;
  private readonly messages = this.out.messages;
  private readonly decided = this.out.decided;

  constructor(ctx: EngineContext) {
    this.id = ctx.id;
    this.opts = parseGpbftOptions(ctx.options);
    this.blocks = new DecidedChain<DecidedBlock>(
      'gpbft',
      this.opts.retainBlocks,
      { encode, decode: (bytes) => decode<DecidedBlock>(bytes), fromArchive: plainBlock },
      ctx.archive,
    );
    this.signer = ctx.signer;
    this.verifier = ctx.verifier;
    this.rng = ctx.rng;
    this.cutterConfig = ctx.cutter;
    this.cutter = new BlockCutter(ctx.cutter);
    assertInvariant(ctx.members.length >= 1 && new Set(ctx.members).size === ctx.members.length, 'gpbft: distinct members');
    this.config = initialConfig(ctx.members, this.opts);
    const headBytes = ctx.storage.get(HEAD_KEY);
    if (headBytes) {
      const head = decode<Head>(headBytes);
      this.height = head.height;
      this.digest = head.digest;
      this.view = head.view;
      this.viewTarget = head.viewTarget;
      this.dedup = DedupWindow.fromJSON(head.dedup);
      this.config = head.config;
      this.steps = head.steps ?? 0;
      const acc = ctx.storage.get(ACCEPTED_KEY);
      if (acc) {
        const a = decode<Accepted>(acc);
        if (a.height === this.height + 1) this.accepted = a;
      }
      const prep = ctx.storage.get(PREPARED_KEY);
      if (prep) {
        const p = decode<Prepared>(prep);
        if (p.height === this.height + 1) this.prepared = p;
      }
      this.blocks.restore(ctx.storage, this.height);
      const again = this.blocks.redeliver(ctx.appliedHeight, this.height, this.digest);
      this.decided.push(...again.blocks);
      this.out.restore = again.restore;
    }
  }

  // ---------------------------------------------------------------- roles

  private get isMember(): boolean {
    return this.config.members.some((m) => m.id === this.id);
  }

  private memberIds(): NodeId[] {
    return this.config.members.map((m) => m.id);
  }

  private get myGroup(): number {
    return groupOf(this.config, this.id);
  }

  private primaries(view = this.view): NodeId[] {
    return primariesFor(this.config, view);
  }

  private myPrimary(): NodeId | null {
    const g = this.myGroup;
    return g < 0 ? null : (this.primaries()[g] ?? null);
  }

  private get isPrimary(): boolean {
    return this.myPrimary() === this.id;
  }

  private get isHead(): boolean {
    return this.isMember && headFor(this.config, this.view) === this.id;
  }

  /** This view's layer-2 voters (config.ts layer2VotersFor). */
  private voters2(view = this.view): readonly NodeId[] {
    return layer2VotersFor(this.config, view);
  }

  /** One group: layer 2 is voted by its members and there is no layer 1 (decision 1399). */
  private get singleGroup(): boolean {
    return this.config.groups.length === 1;
  }

  private get q2(): number {
    return quorum(this.voters2().length);
  }

  // ---------------------------------------------------------------- output helpers

  private send(to: NodeId, message: GpbftMessage): void {
    if (to !== this.id) this.messages.push({ to, message });
  }

  private sendAll(targets: readonly NodeId[], message: GpbftMessage): void {
    for (const t of targets) this.send(t, message);
  }

  /** Send and remember under `slot`, so a stalled instance can be retransmitted (lossy links). */
  private sendKept(slot: string, targets: readonly NodeId[], message: GpbftMessage): void {
    let kept = this.resend.get(slot);
    if (!kept) {
      if (this.resend.size >= RESEND_SLOTS_MAX) this.resend.delete(this.resend.keys().next().value!);
      kept = [];
      this.resend.set(slot, kept);
    }
    for (const t of targets) {
      if (t === this.id) continue;
      this.messages.push({ to: t, message });
      kept.push({ to: t, message });
    }
  }

  private retransmit(): void {
    for (const kept of this.resend.values()) for (const o of kept) this.messages.push(o);
  }

  private groupMembers(group = this.myGroup): readonly NodeId[] {
    return this.config.groups[group] ?? [];
  }

  private persistHead(): void {
    const head: Head = {
      height: this.height,
      digest: this.digest,
      view: this.view,
      viewTarget: this.viewTarget,
      dedup: this.dedup.toJSON(),
      config: this.config,
      steps: this.steps,
    };
    this.persist.push({ op: 'put', key: HEAD_KEY, value: encode(head) });
  }

  // ---------------------------------------------------------------- engine contract

  tick(): void {
    this.forwardedThisTick.clear();
    this.syncTicks += 1;
    if (this.syncTicks >= this.opts.syncTicks) {
      this.syncTicks = 0;
      const others = this.memberIds().filter((m) => m !== this.id);
      if (others.length > 0) this.send(others[this.rng.nextInt(others.length)]!, { type: 'gpbft/sync', height: this.height });
    }
    if (!this.isMember) return;
    if (this.isPrimary && this.viewTarget === 0 && this.cutter.tick()) this.startLayer1(true);
    const waiting = this.pending.size > 0 || this.viewTarget > 0 || this.accepted !== null || this.headQueue.length > 0;
    if (!waiting) {
      this.idleTicks = 0;
      return;
    }
    this.idleTicks += 1;
    this.starvedTicks = this.viewTarget === 0 && this.holdsClientRequest() ? this.starvedTicks + 1 : 0;
    const timeout = viewChangeTimeoutTicks(this.opts.viewTimeoutTicks, this.timeoutDoublings, this.opts.viewChangeBackoffMax);
    const half = Math.floor(timeout / 2);
    if (this.viewTarget === 0 && (this.idleTicks === half || this.starvedTicks === half)) {
      this.reforwardPending(true);
      this.retransmit();
    }
    if (this.idleTicks >= timeout || this.starvedTicks >= timeout) {
      this.idleTicks = 0;
      this.starvedTicks = 0;
      this.timeoutDoublings += 1;
      this.startViewChange(Math.max(this.view, this.viewTarget) + 1);
    }
  }

  /** Does this member hold a client request pending (membership entries wait for their step)? */
  private holdsClientRequest(): boolean {
    for (const p of this.pending.values()) if (p.clientId !== MEMBERSHIP_CLIENT_ID) return true;
    return false;
  }

  propose(proposal: Proposal): ProposeResult {
    if (!isProposal(proposal)) return { accepted: false, reason: 'invalid' };
    if (!this.isMember) return { accepted: false, reason: 'not-member' };
    if (proposalSizeBytes(proposal) > this.cutterConfig.sizeBytesMax) return { accepted: false, reason: 'too-large' };
    if (this.dedup.isDecided(proposal)) return { accepted: true };
    if (!this.ratingAcceptable(proposal)) return { accepted: false, reason: 'invalid' };
    const key = proposalKey(proposal);
    if (!this.pending.has(key)) {
      if (this.pending.size >= PENDING_MAX) return { accepted: false, reason: 'queue-full' };
      this.pending.set(key, proposal);
    }
    if (this.viewTarget === 0) this.route([proposal]);
    return { accepted: true };
  }

  /** Hand proposals to this node's group primary (itself: into the cutter). */
  private route(proposals: readonly Proposal[]): void {
    if (this.isPrimary) {
      for (const p of proposals) this.enqueue(p);
      this.startLayer1(false);
      return;
    }
    const primary = this.myPrimary();
    if (primary === null) return;
    for (let i = 0; i < proposals.length; i += REQUEST_CHUNK) this.send(primary, { type: 'gpbft/request', proposals: proposals.slice(i, i + REQUEST_CHUNK) });
  }

  private enqueue(p: Proposal): void {
    const key = proposalKey(p);
    if (this.queued.has(key) || this.dedup.isDecided(p)) return;
    if (this.cutter.add(p) === 'added') this.queued.add(key);
  }

  /**
   * Hand the pending requests to the group primary again. `toGroup` (a stalled member at half its
   * timeout): also to the group's other members, as a PBFT client that gets no answer sends its
   * request to every replica — each then watches it and times out too if its primary never orders
   * it, so a request only one member held is no longer a lone asker's, which with f2 ≥ 1 nobody
   * joins (decision 1408). With one group a lone asker is joined (f2 = 0): no copies needed.
   */
  private reforwardPending(toGroup = false): void {
    if (!this.isMember || this.viewTarget !== 0) return;
    const batch: Proposal[] = [];
    for (const [key, p] of this.pending) {
      // A rating no longer acceptable (its nonce went stale, its admin was revoked) is given up:
      // kept, it would hold this node's view timer forever (decision 1281).
      if (!this.ratingAcceptable(p)) {
        this.pending.delete(key);
        continue;
      }
      if (batch.length >= REFORWARD_MAX) break;
      if (!this.dedup.isDecided(p)) batch.push(p);
    }
    if (batch.length === 0) return;
    this.route(batch);
    if (!toGroup || this.singleGroup) return;
    const primary = this.myPrimary();
    const others = this.groupMembers().filter((m) => m !== this.id && m !== primary);
    for (let i = 0; i < batch.length; i += REQUEST_CHUNK) this.sendAll(others, { type: 'gpbft/request', proposals: batch.slice(i, i + REQUEST_CHUNK) });
  }

  step(from: NodeId, message: GpbftMessage): void {
    if (!isGpbftMessage(message)) return;
    const known = this.config.members.some((m) => m.id === from);
    // Catch-up traffic is also served to and accepted from non-members (a joining hospital).
    if (message.type === 'gpbft/sync') return this.onSync(from, message.height);
    if (message.type === 'gpbft/blocks') {
      const before = this.height;
      this.onBlocks(from, message.blocks);
      // A full reply — by count, or by size (replies are cut at CATCH_UP_BYTES_MAX; one whose
      // proposals alone take half of it likely was, counted without encoding again) — that took
      // us forward: the sender has more, so a joiner catching up asks again at once, not at the
      // next sync. Not after every reply of several blocks as EH-BFT and hashgen do: in gpbft's
      // 17-node membership campaign that extra sync led seed 842 into a view change that never
      // completed (decision 1390) — a view-change bug, since fixed (decision 1391); the rule the
      // campaigns were run with stays.
      if (this.height > before && (message.blocks.length >= SYNC_BLOCKS_MAX || proposalBytes(message.blocks) >= CATCH_UP_BYTES_MAX / 2))
        this.send(from, { type: 'gpbft/sync', height: this.height });
      return;
    }
    if (message.type === 'gpbft/deliver') return this.onBlocks(from, [message.block]);
    if (!known || !this.isMember) return;
    if ('view' in message && message.type !== 'gpbft/new-view' && message.view > this.view) {
      if (this.future.length < FUTURE_MAX) this.future.push({ from, message });
      return;
    }
    switch (message.type) {
      case 'gpbft/request':
        return this.onRequest(message.proposals);
      case 'gpbft/pre-prepare1':
        return this.onPrePrepare1(from, message);
      case 'gpbft/prepare1':
        return this.onPrepare1(from, message);
      case 'gpbft/commit1':
        return this.onCommit1(from, message);
      case 'gpbft/submit2':
        return this.onSubmit2(from, message);
      case 'gpbft/pre-prepare2':
        return this.onPrePrepare2(from, message);
      case 'gpbft/prepare2':
        return this.onVote2(from, 'prepare2', message.view, message.height, message.content, message.signature, message.ppSignature);
      case 'gpbft/commit2':
        return this.onVote2(from, 'commit2', message.view, message.height, message.content, message.signature, null);
      case 'gpbft/view-change':
        return this.onViewChange(from, message.vc);
      case 'gpbft/new-view':
        return this.onNewView(from, message);
      case 'gpbft/evidence':
        return this.onEvidence(message.evidence);
    }
  }

  hasReady(): boolean {
    return this.out.hasReady();
  }

  ready(): Ready<GpbftMessage> {
    return this.out.ready();
  }

  advance(ready: Ready<GpbftMessage>): void {
    this.out.advance(ready);
  }

  status(): EngineStatus {
    const role = !this.isMember ? 'observer' : this.isHead ? 'head' : this.isPrimary ? 'primary' : 'backup';
    return { id: this.id, role, leader: this.myPrimary(), epoch: this.view, decidedHeight: this.height, members: this.memberIds() };
  }

  /** The current grouping, rankings and primaries (for tests, the lab and the UI). */
  configuration(): { config: ConsortiumConfig; view: number; primaries: NodeId[]; head: NodeId } {
    return { config: this.config, view: this.view, primaries: this.primaries(), head: headFor(this.config, this.view) };
  }

  // ---------------------------------------------------------------- orderer-set changes (decision 1280)

  /**
   * Move the consortium toward `members` (the orderer set of the configuration in force) by the
   * paper's node update: a joiner joins the group with the smallest mean distance, a member the
   * configuration dropped is removed (groups that fall below 3f+1 are regrouped). One entry at a
   * time, ordered like a request under MEMBERSHIP_CLIENT_ID; every member queues the same entry,
   * so a primary that does not order it is voted out by the view-change timer.
   */
  reconfigure(members: readonly NodeId[], profiles: Readonly<Record<NodeId, MemberProfile>> = {}): ReconfigureResult {
    const unique = [...new Set(members.filter((m) => typeof m === 'string' && m.length > 0 && m.length <= 256))];
    if (unique.length === 0) return 'settled';
    this.target = { members: unique, profiles };
    const step = this.nextStep();
    if (step === null) return 'settled';
    if (!this.isMember) return 'stepping';
    const entry: Proposal = { clientId: MEMBERSHIP_CLIENT_ID, seq: this.steps + 1, data: encodeControl(step) };
    const key = proposalKey(entry);
    const queued = this.pending.get(key);
    if (!this.dedup.isDecided(entry) && (queued === undefined || !bytesEqual(queued.data, entry.data))) {
      // A target that moved while an older step was queued replaces it (same slot, new content).
      this.pending.set(key, entry);
      if (this.viewTarget === 0) this.route([entry]);
    }
    return this.isPrimary ? 'stepping' : 'not-leader';
  }

  /**
   * The next join or remove toward the target, or null when there is none: joins first (in the
   * target's order), then removals; never a joiner the paper's rules removed or rated below the
   * threshold (it would be refused at every decision), never the last member.
   */
  private nextStep(): ControlOp | null {
    if (this.target === null) return null;
    const current = new Set(this.memberIds());
    const departed = new Set(this.config.departed ?? []);
    for (const id of this.target.members) {
      if (current.has(id) || departed.has(id)) continue;
      const profile = this.target.profiles[id];
      const position =
        profile?.lat !== undefined && profile.lon !== undefined
          ? { lat: profile.lat, lon: profile.lon }
          : (this.opts.coordinates?.[id] ?? syntheticCoordinate(id));
      const rating = profile?.rating ?? this.opts.ratings?.[id] ?? syntheticRating(id);
      if (rating < this.opts.ratingThreshold) continue;
      return { op: 'join', id, lat: position.lat, lon: position.lon, rating };
    }
    const wanted = new Set(this.target.members);
    if (current.size <= 1) return null;
    for (const id of this.memberIds()) if (!wanted.has(id)) return { op: 'remove', id };
    return null;
  }

  /**
   * A member prepares a batch holding membership entries only when each is exactly its own next
   * step (so only an orderer-set change the ledgers of correct members have in force is ordered);
   * at most one per batch; and no rating it does not accept (ratingAcceptable, decision 1281).
   * Other proposals pass.
   */
  private membershipAcceptable(proposals: readonly Proposal[]): boolean {
    let seen = false;
    for (const p of proposals) {
      if (this.dedup.isDecided(p)) continue;
      if (!this.ratingAcceptable(p)) return false;
      if (p.clientId !== MEMBERSHIP_CLIENT_ID) continue;
      if (seen || p.seq !== this.steps + 1) return false;
      seen = true;
      const step = this.nextStep();
      if (step === null || !bytesEqual(encodeControl(step), p.data)) return false;
    }
    return true;
  }

  /**
   * Decision 1281, at apply (every node, deterministic): a decided rating counts only when it is
   * bound to its evidence (client and seq are the rater's and the signed nonce) and authentic. With
   * the node's authority: the certificate names an admin of the rating organisation and signed it.
   * The stand-in (simulator): the rating organisation is a member node, not the rated one, and its
   * node key signed it.
   */
  private ratingAuthentic(p: Proposal, op: RateOp): op is RateOp & { readonly by: RatingAuth } {
    if (!ratingBound(p, op)) return false;
    const authority = this.opts.ratingAuthority;
    if (authority !== undefined) return authority.authentic(op);
    const by = op.by;
    return (
      by.org !== op.id &&
      this.config.members.some((m) => m.id === by.org) &&
      this.verifier.verify(by.org, ratingSignedBytesOf(op, STAND_IN_CONSORTIUM), by.signature)
    );
  }

  /**
   * Decision 1281, before this node keeps, orders or votes for a proposal: a rating must be
   * authentic, of a member, and authorised by the driver's check of the config in force (MSP,
   * member organisation, not the admin's own hospital, fresh nonce). Other proposals pass.
   */
  private ratingAcceptable(p: Proposal): boolean {
    if (p.clientId === MEMBERSHIP_CLIENT_ID || !p.clientId.startsWith(CONTROL_CLIENT_PREFIX)) return true;
    const op = decodeControl(p.data);
    if (op === null || op.op !== 'rate') return true;
    // Only the signed form that names the consortium gets a vote (decision 1387): a rating of
    // decision 1281's form could have been signed for another consortium.
    if (op.by?.v !== RATING_SIGNED_FORM) return false;
    if (!this.ratingAuthentic(p, op) || !this.config.members.some((m) => m.id === op.id)) return false;
    return this.opts.ratingAuthority?.authorised(op) ?? true;
  }

  // ---------------------------------------------------------------- layer 1

  private onRequest(proposals: readonly Proposal[]): void {
    const fresh: Proposal[] = [];
    for (const p of proposals) {
      if (this.dedup.isDecided(p) || proposalSizeBytes(p) > this.cutterConfig.sizeBytesMax) continue;
      // A rating nobody authorised (a Byzantine member forwarded it) is not even kept pending.
      if (!this.ratingAcceptable(p)) continue;
      const key = proposalKey(p);
      if (!this.pending.has(key)) {
        if (this.pending.size >= PENDING_MAX) continue;
        this.pending.set(key, p);
      } else if (!this.isPrimary) {
        // Already pending here. Forward it again at most once per tick: two nodes that each took
        // the other for the primary passed it back and forth for ever — and with duplicated
        // messages multiplied the copies until the network's queues filled (gpbft+membership
        // campaign seed 3878, decision 1393). A copy that comes back within the tick is dropped.
        if (this.forwardedThisTick.has(key) || this.forwardedThisTick.size >= PENDING_MAX) continue;
      }
      if (!this.isPrimary) this.forwardedThisTick.add(key);
      fresh.push(p);
    }
    // A stale sender (it thinks we are still primary) or a new primary: route onward either way.
    if (this.viewTarget === 0 && fresh.length > 0) this.route(fresh);
  }

  private l1Key(view: number, group: number, seq: number): string {
    return `${view}/${group}/${seq}`;
  }

  private l1Record(view: number, group: number, seq: number): Layer1 {
    const key = this.l1Key(view, group, seq);
    let rec = this.layer1.get(key);
    if (!rec) {
      if (this.layer1.size >= LAYER1_RECORDS_MAX) this.layer1.delete(this.layer1.keys().next().value!);
      rec = { view, group, seq, digest: null, proposals: null, prepares: new Map(), commits: new Map(), sentCommit: false, submitted: false };
      this.layer1.set(key, rec);
    }
    return rec;
  }

  /**
   * Group primary: cut a batch and run the first PBFT on it (one layer-1 instance at a time). With a
   * single group the primary is the head and the group's members are layer 2's voters, who judge
   * the batch themselves (decision 1399): a layer-1 certificate would repeat that agreement among
   * the same nodes, so the batch goes straight to layer 2 — cut as soon as the head is idle,
   * whatever its size (requests accumulate into the next batch while a block is in flight).
   */
  private startLayer1(timeoutDue: boolean): void {
    if (!this.isPrimary || this.viewTarget !== 0 || this.layer1Busy) return;
    const single = this.singleGroup;
    if (single ? this.accepted !== null || this.headQueue.length > 0 : !timeoutDue && !this.cutter.hasFullBatch()) return;
    // A membership entry that is not (or no longer) this primary's next step stays out of the batch.
    const batch = this.cutter.cut().filter((p) => {
      if (this.dedup.isDecided(p)) return false;
      if (this.membershipAcceptable([p])) return true;
      this.queued.delete(proposalKey(p)); // still pending: re-routed when it becomes the next step
      // …unless it is a rating this primary no longer accepts: it would only hold the view timer.
      if (!this.ratingAcceptable(p)) this.pending.delete(proposalKey(p));
      return false;
    });
    if (batch.length === 0) return;
    this.seq1 += 1;
    if (single) {
      this.pushEndorsed({ group: this.myGroup, seq: this.seq1, proposals: batch, cert: [] });
      return;
    }
    this.layer1Busy = true;
    const group = this.myGroup;
    const rec = this.l1Record(this.view, group, this.seq1);
    rec.proposals = batch;
    rec.digest = batchDigest(batch);
    this.sendKept(`l1/${this.l1Key(this.view, group, this.seq1)}`, this.groupMembers(), {
      type: 'gpbft/pre-prepare1',
      view: this.view,
      group,
      seq: this.seq1,
      height: this.height,
      proposals: batch,
    });
    this.sendPrepare1(rec);
  }

  private sendPrepare1(rec: Layer1): void {
    const digest = rec.digest!;
    rec.prepares.set(this.id, digest);
    this.sendKept(`l1/${this.l1Key(rec.view, rec.group, rec.seq)}`, this.groupMembers(rec.group), {
      type: 'gpbft/prepare1',
      view: rec.view,
      group: rec.group,
      seq: rec.seq,
      digest,
    });
    this.checkLayer1(rec);
  }

  private onPrePrepare1(from: NodeId, m: Extract<GpbftMessage, { type: 'gpbft/pre-prepare1' }>): void {
    if (this.viewTarget !== 0 || m.view !== this.view || m.group !== this.myGroup || this.primaries()[m.group] !== from || from === this.id) return;
    if (m.proposals.length === 0 || m.proposals.length > this.cutterConfig.countMax) return;
    if (m.height > this.height) this.send(from, { type: 'gpbft/sync', height: this.height });
    const rec = this.l1Record(m.view, m.group, m.seq);
    if (rec.proposals !== null) return; // first pre-prepare wins; a second one is equivocation
    // Not (yet) this member's own next orderer-set step: no prepare; a retransmission is re-judged.
    if (!this.membershipAcceptable(m.proposals)) return;
    rec.proposals = [...m.proposals];
    rec.digest = batchDigest(m.proposals);
    this.watch(m.proposals);
    this.sendPrepare1(rec);
  }

  /** Watch these requests: if they are never decided, this member times out and changes view. */
  private watch(proposals: readonly Proposal[]): void {
    for (const p of proposals) {
      const key = proposalKey(p);
      if (!this.dedup.isDecided(p) && !this.pending.has(key) && this.pending.size < PENDING_MAX) this.pending.set(key, p);
    }
  }

  private onPrepare1(from: NodeId, m: Extract<GpbftMessage, { type: 'gpbft/prepare1' }>): void {
    if (m.view !== this.view || m.group !== this.myGroup || !this.groupMembers().includes(from)) return;
    const rec = this.l1Record(m.view, m.group, m.seq);
    if (!rec.prepares.has(from)) rec.prepares.set(from, m.digest);
    this.checkLayer1(rec);
  }

  private onCommit1(from: NodeId, m: Extract<GpbftMessage, { type: 'gpbft/commit1' }>): void {
    if (m.view !== this.view || m.group !== this.myGroup || !this.groupMembers().includes(from)) return;
    // Only the primary assembles the group certificate; members just count the message.
    if (!this.isPrimary) return;
    if (!this.verifier.verify(from, commit1Bytes(m.view, m.group, m.seq, m.digest), m.signature)) return;
    const rec = this.l1Record(m.view, m.group, m.seq);
    if (!rec.commits.has(from)) rec.commits.set(from, { digest: m.digest, signature: m.signature });
    this.checkLayer1(rec);
  }

  private checkLayer1(rec: Layer1): void {
    if (rec.digest === null || rec.proposals === null || rec.view !== this.view || this.viewTarget !== 0) return;
    const q1 = quorum(this.groupMembers(rec.group).length);
    const digest = rec.digest;
    if (!rec.sentCommit) {
      const prepared = [...rec.prepares.values()].filter((d) => bytesEqual(d, digest)).length;
      if (prepared < q1) return;
      rec.sentCommit = true;
      const signature = this.signer.sign(commit1Bytes(rec.view, rec.group, rec.seq, digest));
      rec.commits.set(this.id, { digest, signature });
      this.sendKept(`l1/${this.l1Key(rec.view, rec.group, rec.seq)}`, this.groupMembers(rec.group), {
        type: 'gpbft/commit1',
        view: rec.view,
        group: rec.group,
        seq: rec.seq,
        digest,
        signature,
      });
    }
    if (!this.isPrimary || rec.submitted) return;
    const sigs = new Map<NodeId, Bytes>();
    for (const [node, c] of rec.commits) if (bytesEqual(c.digest, digest)) sigs.set(node, c.signature);
    if (sigs.size < q1) return;
    rec.submitted = true;
    this.layer1Busy = false;
    this.resend.delete(`l1/${this.l1Key(rec.view, rec.group, rec.seq)}`);
    const endorsed: Endorsed = { group: rec.group, seq: rec.seq, proposals: rec.proposals, cert: sortedSigs(sigs) };
    if (this.isHead) {
      this.pushEndorsed(endorsed);
    } else {
      this.sendKept('submit2', [headFor(this.config, this.view)], { type: 'gpbft/submit2', view: this.view, ...endorsed });
    }
    this.startLayer1(this.cutter.size > 0);
  }

  /**
   * A group certificate: q1 distinct members of `group` signed commit1 for this batch. With a single
   * group there is none (no layer 1: startLayer1), only a batch no larger than a cut one.
   */
  private verifyGroupCert(view: number, group: number, seq: number, proposals: readonly Proposal[], cert: readonly CertificateSignature[]): boolean {
    const members = this.config.groups[group];
    if (!members || proposals.length === 0) return false;
    if (this.singleGroup) return cert.length === 0 && proposals.length <= this.cutterConfig.countMax;
    const bytes = commit1Bytes(view, group, seq, batchDigest(proposals));
    return hasQuorumSignatures(cert, { eligible: members, quorum: quorum(members.length), statement: bytes }, this.verifier);
  }

  // ---------------------------------------------------------------- layer 2

  private onSubmit2(from: NodeId, m: Extract<GpbftMessage, { type: 'gpbft/submit2' }>): void {
    if (!this.isHead || this.viewTarget !== 0 || m.view !== this.view || this.primaries()[m.group] !== from) return;
    if (!this.verifyGroupCert(m.view, m.group, m.seq, m.proposals, m.cert)) return;
    this.pushEndorsed({ group: m.group, seq: m.seq, proposals: [...m.proposals], cert: [...m.cert] });
  }

  private pushEndorsed(e: Endorsed): void {
    if (this.headQueue.length >= HEAD_QUEUE_MAX) return; // the members' timeouts recover the requests
    this.headQueue.push(e);
    this.tryPropose2();
  }

  /** Proposals of a batch not yet decided, first occurrence only (same rule on every node). */
  private fresh(proposals: readonly Proposal[]): Proposal[] {
    const seen = new Set<string>();
    return proposals.filter((p) => {
      const key = proposalKey(p);
      if (seen.has(key) || this.dedup.isDecided(p)) return false;
      seen.add(key);
      return true;
    });
  }

  private tryPropose2(): void {
    if (!this.isHead || this.viewTarget !== 0 || this.accepted !== null) return;
    const h = this.height + 1;
    if (this.forced !== null && this.forced.view === this.view && this.forced.prepared !== null) {
      const p = this.forced.prepared;
      const content = contentDigest(p.digest, p.evidence);
      const signature = this.signer.sign(statementBytes('pp2', this.view, h, content));
      const msg: GpbftMessage = {
        type: 'gpbft/pre-prepare2',
        view: this.view,
        height: h,
        previous: this.digest,
        group: -1,
        seq: 0,
        proposals: p.proposals,
        cert: [],
        reproposal: true,
        digest: p.digest,
        evidence: p.evidence,
        signature,
      };
      this.acceptPrePrepare2({
        view: this.view,
        height: h,
        content,
        digest: p.digest,
        evidence: p.evidence,
        proposals: [...p.proposals],
        ppSignature: signature,
      });
      this.sendKept('l2', this.otherVoters2(), msg);
      this.afterOwnPrePrepare2();
      return;
    }
    while (this.headQueue.length > 0) {
      const e = this.headQueue.shift()!;
      const proposals = this.fresh(e.proposals);
      // The head votes like every primary: a batch it would not prepare (a rating nobody
      // authorised, a membership entry that is not its next step) is not proposed — a group
      // certificate only says that the group agreed, and the group may be Byzantine (decision 1281).
      if (proposals.length === 0 || !this.membershipAcceptable(proposals)) continue;
      const evidenceList = this.pendingEvidence.slice(0, EVIDENCE_PER_BLOCK_MAX);
      const evidence = encode(evidenceList);
      const digest = blockDigest(h, this.digest, proposals);
      const content = contentDigest(digest, evidence);
      const signature = this.signer.sign(statementBytes('pp2', this.view, h, content));
      this.acceptPrePrepare2({ view: this.view, height: h, content, digest, evidence, proposals, ppSignature: signature });
      this.sendKept('l2', this.otherVoters2(), {
        type: 'gpbft/pre-prepare2',
        view: this.view,
        height: h,
        previous: this.digest,
        group: e.group,
        seq: e.seq,
        proposals: e.proposals,
        cert: e.cert,
        reproposal: false,
        digest,
        evidence,
        signature,
      });
      this.afterOwnPrePrepare2();
      return;
    }
  }

  private afterOwnPrePrepare2(): void {
    this.sendVote2('prepare2');
    this.checkLayer2();
  }

  private otherVoters2(): NodeId[] {
    return this.voters2().filter((p) => p !== this.id);
  }

  private acceptPrePrepare2(a: Accepted): void {
    this.accepted = a;
    this.observe(headFor(this.config, a.view), 'pp2', a.view, a.height, a.content, a.ppSignature);
    // Durable before the prepare2 it justifies leaves this node (persist-before-send).
    this.persist.push({ op: 'put', key: ACCEPTED_KEY, value: encode(a) });
  }

  private sendVote2(kind: 'prepare2' | 'commit2'): void {
    const a = this.accepted!;
    const signature = this.signer.sign(statementBytes(kind, a.view, a.height, a.content));
    const votes = kind === 'prepare2' ? this.prep2 : this.com2;
    votes.set(this.id, { content: a.content, signature });
    const msg: GpbftMessage =
      kind === 'prepare2'
        ? { type: 'gpbft/prepare2', view: a.view, height: a.height, content: a.content, signature, ppSignature: a.ppSignature }
        : { type: 'gpbft/commit2', view: a.view, height: a.height, content: a.content, signature };
    this.sendKept('l2', this.otherVoters2(), msg);
  }

  private onPrePrepare2(from: NodeId, m: Extract<GpbftMessage, { type: 'gpbft/pre-prepare2' }>): void {
    if (this.viewTarget !== 0 || m.view !== this.view || from !== headFor(this.config, this.view) || !this.voters2().includes(this.id)) return;
    if (m.height > this.height + 1) {
      this.send(from, { type: 'gpbft/sync', height: this.height });
      return;
    }
    if (m.height !== this.height + 1 || this.accepted !== null || !bytesEqual(m.previous, this.digest)) return;
    let proposals: Proposal[];
    const forcedPrepared = this.forced !== null && this.forced.view === this.view ? this.forced.prepared : null;
    if (m.reproposal) {
      if (forcedPrepared === null) return;
      proposals = [...m.proposals];
      if (!bytesEqual(forcedPrepared.digest, m.digest) || !bytesEqual(forcedPrepared.evidence, m.evidence)) return;
      if (this.fresh(proposals).length !== proposals.length) return;
    } else {
      if (forcedPrepared !== null) return; // the new view obliges the head to re-propose
      if (!this.verifyGroupCert(m.view, m.group, m.seq, m.proposals, m.cert)) return;
      proposals = this.fresh(m.proposals);
      if (proposals.length === 0 || !this.membershipAcceptable(proposals)) return;
      if (this.verifiedEvidence(m.evidence) === null) return;
    }
    const digest = blockDigest(m.height, this.digest, proposals);
    if (!bytesEqual(digest, m.digest)) return;
    const content = contentDigest(digest, m.evidence);
    if (!this.verifier.verify(from, statementBytes('pp2', m.view, m.height, content), m.signature)) return;
    // With one group this is the first a member sees of these requests (there is no layer 1):
    // watch them, so that a view change re-forwards them if the head never decides them.
    if (this.singleGroup && !m.reproposal) this.watch(proposals);
    this.acceptPrePrepare2({ view: m.view, height: m.height, content, digest, evidence: m.evidence, proposals, ppSignature: m.signature });
    this.sendVote2('prepare2');
    this.checkLayer2();
  }

  private onVote2(from: NodeId, kind: 'prepare2' | 'commit2', view: number, height: number, content: Bytes, signature: Bytes, ppSignature: Bytes | null): void {
    if (view !== this.view) return;
    const voters = this.voters2();
    if (!voters.includes(from) || !voters.includes(this.id)) return;
    if (height !== this.height + 1) {
      if (height > this.height + 1) this.send(from, { type: 'gpbft/sync', height: this.height });
      return;
    }
    if (!this.verifier.verify(from, statementBytes(kind, view, height, content), signature)) return;
    this.observe(from, kind, view, height, content, signature);
    if (ppSignature !== null) {
      const head = headFor(this.config, view);
      if (this.verifier.verify(head, statementBytes('pp2', view, height, content), ppSignature)) this.observe(head, 'pp2', view, height, content, ppSignature);
    }
    if (this.viewTarget !== 0) return;
    const votes = kind === 'prepare2' ? this.prep2 : this.com2;
    if (!votes.has(from)) votes.set(from, { content, signature });
    this.checkLayer2();
  }

  private matching(votes: Map<NodeId, { content: Bytes; signature: Bytes }>, content: Bytes): Map<NodeId, Bytes> {
    const out = new Map<NodeId, Bytes>();
    for (const [node, v] of votes) if (bytesEqual(v.content, content)) out.set(node, v.signature);
    return out;
  }

  private checkLayer2(): void {
    if (this.viewTarget !== 0) return;
    const a = this.accepted;
    if (a === null || a.view !== this.view || a.height !== this.height + 1) {
      // Missing the pre-prepare2 but q2 primaries committed: fetch the block instead.
      if (!this.askedForBlock) {
        const counts = new Map<string, NodeId[]>();
        for (const [node, v] of this.com2) {
          const key = Buffer.from(v.content).toString('hex');
          counts.set(key, [...(counts.get(key) ?? []), node]);
        }
        for (const nodes of counts.values()) {
          if (nodes.length >= this.q2) {
            this.askedForBlock = true;
            this.send(nodes[0]!, { type: 'gpbft/sync', height: this.height });
            break;
          }
        }
      }
      return;
    }
    if (!this.sentCommit2) {
      const prepares = this.matching(this.prep2, a.content);
      if (prepares.size < this.q2) return;
      this.prepared = { view: a.view, height: a.height, digest: a.digest, evidence: a.evidence, proposals: a.proposals, signatures: sortedSigs(prepares) };
      this.persist.push({ op: 'put', key: PREPARED_KEY, value: encode(this.prepared) });
      this.sentCommit2 = true;
      this.sendVote2('commit2');
    }
    const commits = this.matching(this.com2, a.content);
    if (commits.size < this.q2) return;
    const certificate: Certificate = { scheme: 'gpbft-bundle', fields: { view: a.view, evidence: a.evidence }, signatures: sortedSigs(commits) };
    const block: DecidedBlock = { height: a.height, proposals: a.proposals, digest: a.digest, previousDigest: this.digest, certificate };
    // With a single group every member is a voter and decides from the commit2 it receives; one
    // that missed them fetches the block (above, or by sync), so the head sends no package.
    const deliverTo = this.isPrimary && !this.singleGroup ? this.groupMembers() : [];
    this.decide(block);
    // Algorithm 2 lines 8–11: each primary sends the package to its group's members.
    this.sendAll(deliverTo, { type: 'gpbft/deliver', block });
  }

  // ---------------------------------------------------------------- blocks: verify, decide, catch up

  /** Null when the encoded evidence list is malformed or any item does not prove equivocation. */
  private verifiedEvidence(bytes: Bytes): Evidence[] | null {
    let list: unknown;
    try {
      list = decode(bytes);
    } catch {
      return null;
    }
    if (!Array.isArray(list) || list.length > EVIDENCE_PER_BLOCK_MAX) return null;
    for (const e of list) if (!isEvidence(e) || !this.verifyEvidence(e)) return null;
    return list as Evidence[];
  }

  private verifyEvidence(e: Evidence): boolean {
    return (
      !bytesEqual(e.content1, e.content2) &&
      this.verifier.verify(e.node, statementBytes(e.kind, e.view, e.height, e.content1), e.signature1) &&
      this.verifier.verify(e.node, statementBytes(e.kind, e.view, e.height, e.content2), e.signature2)
    );
  }

  /** A delivered block: next height, chained, and a bundle of q2 commit2 signatures of its view's primaries. */
  private verifyBlock(block: DecidedBlock): boolean {
    const cert = block.certificate;
    if (cert === null || cert.scheme !== 'gpbft-bundle' || block.height !== this.height + 1 || !bytesEqual(block.previousDigest, this.digest)) return false;
    const view = cert.fields.view;
    const evidence = cert.fields.evidence;
    if (typeof view !== 'number' || !Number.isSafeInteger(view) || view < 0 || !(evidence instanceof Uint8Array)) return false;
    if (block.proposals.length === 0 || this.fresh(block.proposals).length !== block.proposals.length) return false;
    if (!bytesEqual(blockDigest(block.height, this.digest, block.proposals), block.digest)) return false;
    if (this.verifiedEvidence(evidence) === null) return false;
    const voters = this.voters2(view);
    const bytes = statementBytes('commit2', view, block.height, contentDigest(block.digest, evidence));
    return hasQuorumSignatures(cert.signatures, { eligible: voters, quorum: quorum(voters.length), statement: bytes }, this.verifier);
  }

  private onBlocks(from: NodeId, blocks: readonly DecidedBlock[]): void {
    for (const block of blocks) {
      if (block.height <= this.height) continue;
      if (block.height > this.height + 1) {
        if (this.early.size < EARLY_BLOCKS_MAX) this.early.set(block.height, block);
        continue;
      }
      if (this.verifyBlock(block)) this.decide(block);
    }
    let next = this.early.get(this.height + 1);
    while (next) {
      this.early.delete(next.height);
      if (!this.verifyBlock(next)) break;
      this.decide(next);
      next = this.early.get(this.height + 1);
    }
    for (const h of [...this.early.keys()]) if (h <= this.height) this.early.delete(h);
    if (this.early.size > 0) this.send(from, { type: 'gpbft/sync', height: this.height });
  }

  private onSync(from: NodeId, theirHeight: number): void {
    if (theirHeight < this.height) {
      const blocks = this.blocks.range(theirHeight + 1, this.height, SYNC_BLOCKS_MAX, CATCH_UP_BYTES_MAX);
      if (blocks.length > 0) this.send(from, { type: 'gpbft/blocks', blocks });
    } else if (theirHeight > this.height) {
      this.send(from, { type: 'gpbft/sync', height: this.height });
    }
  }

  private decide(block: DecidedBlock): void {
    assertInvariant(block.height === this.height + 1, 'gpbft decides gapless heights');
    assertInvariant(bytesEqual(block.previousDigest, this.digest), 'gpbft blocks chain to the previous digest');
    for (const p of block.proposals) {
      const marked = this.dedup.markDecided(p);
      assertInvariant(marked, 'a decided block holds no already-decided proposal');
      const key = proposalKey(p);
      // One of this member's own requests decided: its group primary (or a retry elsewhere) serves it.
      if (this.pending.delete(key) && p.clientId !== MEMBERSHIP_CLIENT_ID) this.starvedTicks = 0;
      this.queued.delete(key);
    }
    this.height = block.height;
    this.digest = block.digest;
    const before = this.config;
    const evidence = block.certificate
      ? ((): Evidence[] => {
          const e = block.certificate.fields.evidence;
          return e instanceof Uint8Array ? (decode<Evidence[]>(e) ?? []) : [];
        })()
      : [];
    for (const p of block.proposals) if (p.clientId === MEMBERSHIP_CLIENT_ID) this.steps += 1;
    this.config = this.configAfter(block.height, block.proposals, evidence);
    this.pendingEvidence = this.pendingEvidence.filter((e) => !this.config.barred.includes(e.node) && this.config.members.some((m) => m.id === e.node));
    this.persist.push(...this.blocks.append(block));
    this.persist.push({ op: 'delete', key: ACCEPTED_KEY }, { op: 'delete', key: PREPARED_KEY });
    this.persistHead();
    this.decided.push(block);
    this.accepted = null;
    this.prepared = null;
    this.forced = null;
    this.resend.delete('l2');
    this.resend.delete('submit2');
    // First-layer instances whose requests are all decided are finished: stop retransmitting them.
    for (const [key, rec] of this.layer1) {
      if (rec.proposals !== null && rec.proposals.every((p) => this.dedup.isDecided(p))) {
        this.layer1.delete(key);
        this.resend.delete(`l1/${key}`);
      }
    }
    this.prep2.clear();
    this.com2.clear();
    this.sentCommit2 = false;
    this.askedForBlock = false;
    this.statements.clear();
    this.idleTicks = 0;
    this.timeoutDoublings = 0;
    // Groups, rankings or membership changed (join, leave, rating, barring, new period): the
    // primaries may have changed, so in-flight first-layer work restarts under the new roles.
    if (before !== this.config) this.resetRoles();
    if (this.deferredNewView !== null && this.deferredNewView.message.height <= this.height) {
      const d = this.deferredNewView;
      this.deferredNewView = null;
      this.onNewView(d.from, d.message);
    }
    if (this.viewTarget !== 0 && headFor(this.config, this.viewTarget) === this.id) this.tryNewView(this.viewTarget);
    this.tryPropose2();
    this.startLayer1(false);
    this.followDecidedView(block);
  }

  /**
   * A block decided in a later view than ours (fetched by sync: we missed that view's NEW-VIEW, e.g.
   * while we were down) proves that view started — its commit2 signatures name it. Enter it, or a
   * restarted old head would go on leading a view nobody is in, holding its clients' requests until
   * its own timer forces everyone through another view change. Safe without the NEW-VIEW: its only
   * constraint, the block to re-propose at the next height, ends with any block decided in it, and
   * the members that decided this block dropped it too (`forced` is cleared in decide).
   */
  private followDecidedView(block: DecidedBlock): void {
    const view = block.certificate?.fields.view;
    if (typeof view !== 'number' || view <= this.view || (this.viewTarget !== 0 && view < this.viewTarget)) return;
    this.enterView(view, null);
  }

  /**
   * The configuration after a block at `height` with these proposals and evidence is applied to the
   * one in force: what `decide` sets, and what a new view counts the re-proposed block's successors
   * under (decision 1392). Pure given the configuration in force.
   */
  private configAfter(height: number, proposals: readonly Proposal[], evidence: readonly Evidence[]): ConsortiumConfig {
    const ops: ControlOp[] = [];
    for (const p of proposals) {
      if (!p.clientId.startsWith(CONTROL_CLIENT_PREFIX)) continue;
      const op = decodeControl(p.data);
      if (op === null) continue;
      // Decision 1281: an unauthenticated rating (or one from before it) is ignored, alike everywhere.
      if (op.op === 'rate' && !this.ratingAuthentic(p, op)) continue;
      ops.push(op);
    }
    return applyBlockToConfig(
      this.config,
      height,
      ops,
      evidence.map((e) => e.node),
      this.opts.periodBlocks,
      this.opts,
      {
        leaveVerified: (op) => this.verifier.verify(op.id, leaveSignedBytes(op.id), op.signature),
      },
    );
  }

  /** Groups or primaries changed: drop in-flight first-layer work; requests go to the new primaries. */
  private resetRoles(): void {
    this.resend.clear();
    this.layer1.clear();
    this.layer1Busy = false;
    this.headQueue = [];
    this.cutter.drain();
    this.queued.clear();
    if (this.viewTarget === 0) this.reforwardPending();
  }

  // ---------------------------------------------------------------- equivocation evidence

  /** Remember each signed layer-2 statement; a conflicting twin is evidence that bars its signer. */
  private observe(node: NodeId, kind: StatementKind, view: number, height: number, content: Bytes, signature: Bytes): void {
    const key = `${node}/${kind}/${view}/${height}`;
    const seen = this.statements.get(key);
    if (!seen) {
      if (this.statements.size < STATEMENTS_MAX) this.statements.set(key, { content, signature });
      return;
    }
    if (bytesEqual(seen.content, content) || this.reported.has(key) || this.config.barred.includes(node)) return;
    if (this.reported.size >= STATEMENTS_MAX) this.reported.clear();
    this.reported.add(key);
    const evidence: Evidence = { node, kind, view, height, content1: seen.content, signature1: seen.signature, content2: content, signature2: signature };
    const head = headFor(this.config, this.view);
    // Evidence against the head goes to everyone (the next head must hold it); else to the head.
    if (node === head) this.sendAll(this.memberIds(), { type: 'gpbft/evidence', evidence });
    else if (head !== this.id) this.send(head, { type: 'gpbft/evidence', evidence });
    this.onEvidence(evidence);
  }

  private onEvidence(e: Evidence): void {
    if (this.config.barred.includes(e.node) || this.pendingEvidence.some((x) => x.node === e.node)) return;
    if (this.pendingEvidence.length >= EVIDENCE_PER_BLOCK_MAX || !this.verifyEvidence(e)) return;
    this.pendingEvidence.push(e);
    // A head proven to equivocate will not put the proof in a block itself: replace it now.
    if (e.node === headFor(this.config, this.view) && e.node !== this.id) this.startViewChange(Math.max(this.view, this.viewTarget) + 1);
  }

  // ---------------------------------------------------------------- view change

  private startViewChange(target: number): void {
    if (!this.isMember || target <= this.view || target <= this.viewTarget) return;
    this.viewTarget = target;
    this.persistHead();
    const unsigned = { view: target, node: this.id, height: this.height, digest: this.digest, prepared: this.prepared };
    const vc: ViewChange = { ...unsigned, signature: this.signer.sign(viewChangeBytes(unsigned)) };
    this.recordViewChange(vc);
    this.sendAll(this.memberIds(), { type: 'gpbft/view-change', vc });
    if (headFor(this.config, target) === this.id) this.tryNewView(target);
  }

  private recordViewChange(vc: ViewChange): void {
    let set = this.viewChanges.get(vc.view);
    if (!set) {
      if (this.viewChanges.size >= VIEW_CHANGE_VIEWS_MAX) {
        // Make room (decision 1411). Views below the one this member asks for are of no use to it
        // (it will not enter them, decision 1407): a report for one is not kept, a kept one goes
        // first. Else the views nearest the current one stay — those a view change forms next —
        // and the farthest goes, so that reports for far-ahead views (one Byzantine member can
        // sign any number) cannot push them out. This member's own report always stays.
        const own = vc.node === this.id;
        if (!own && vc.view < this.viewTarget) return;
        const views = [...this.viewChanges.keys()];
        const lowest = Math.min(...views);
        const highest = Math.max(...views);
        if (lowest < this.viewTarget) this.viewChanges.delete(lowest);
        else if (vc.view > highest && !own) return;
        else this.viewChanges.delete(highest);
      }
      set = new Map();
      this.viewChanges.set(vc.view, set);
    }
    if (!set.has(vc.node)) set.set(vc.node, vc);
  }

  private onViewChange(from: NodeId, vc: ViewChange): void {
    if (vc.node !== from || vc.view <= this.view || vc.view > this.view + 1_000_000) return;
    if (!this.verifier.verify(from, viewChangeBytes(vc), vc.signature)) return;
    this.recordViewChange(vc);
    const head = headFor(this.config, vc.view);
    if (vc.height < this.height && head === this.id) this.onSync(from, vc.height);
    // Join a view change that more than f2 others asked for (a lone faulty node cannot force it).
    const askers = this.viewChanges.get(vc.view)?.size ?? 0;
    if (askers > faultsOf(this.config.groups.length) && vc.view > this.viewTarget) this.startViewChange(vc.view);
    if (head === this.id && this.viewTarget === vc.view) this.tryNewView(vc.view);
  }

  /**
   * Does this set of view-change messages (all for `target`) meet every commit quorum of every view
   * that might have committed a block under `config`? For each view w in the rotation window below
   * target, at least voters − q2 + f2 + 1 of its layer-2 voters (P(w), or the single group's
   * members: decision 1399) must be among the senders (decision 0604).
   */
  private coversViews(config: ConsortiumConfig, target: number, senders: ReadonlySet<NodeId>): boolean {
    const window = rotationWindow(config);
    for (let w = Math.max(0, target - window); w < target; w++) {
      const voters = layer2VotersFor(config, w);
      let have = 0;
      for (const p of voters) if (senders.has(p)) have += 1;
      if (have < viewChangeNeed(voters.length)) return false;
    }
    return true;
  }

  /** The prepared certificate a new view must re-propose: the valid one of the highest view. */
  private chooseForced(vcs: readonly ViewChange[]): Prepared | null {
    let best: Prepared | null = null;
    for (const vc of vcs) {
      const p = vc.prepared;
      if (p === null || p.height !== this.height + 1) continue;
      if (best !== null && p.view <= best.view) continue;
      if (this.validPrepared(p)) best = p;
    }
    return best;
  }

  private validPrepared(p: Prepared): boolean {
    if (p.height !== this.height + 1 || p.proposals.length === 0) return false;
    if (!bytesEqual(blockDigest(p.height, this.digest, p.proposals), p.digest)) return false;
    const voters = this.voters2(p.view);
    const bytes = statementBytes('prepare2', p.view, p.height, contentDigest(p.digest, p.evidence));
    return hasQuorumSignatures(p.signatures, { eligible: voters, quorum: quorum(voters.length), statement: bytes }, this.verifier);
  }

  /**
   * The configuration the blocks after the re-proposed one (`forced`) are decided under: the one in
   * force if there is none, else the one that applying it gives — a control entry, evidence or a
   * period boundary may change the primaries (decision 1392). Null when its evidence cannot be read
   * (no correct primary prepares such a block; assume the worst).
   */
  private successorConfig(forced: Prepared | null): ConsortiumConfig | null {
    if (forced === null) return this.config;
    // A head re-evaluates its set on every view change it receives: regrouping and checking the
    // evidence's signatures once per (configuration, block) is enough.
    const memo = this.successorMemo;
    if (memo !== null && memo.config === this.config && memo.forced === forced) return memo.next;
    const evidence = this.verifiedEvidence(forced.evidence);
    const next = evidence === null ? null : this.configAfter(forced.height, forced.proposals, evidence);
    this.successorMemo = { config: this.config, forced, next };
    return next;
  }

  /**
   * Does a view change report a decided block a new view at our height could contradict? Any height
   * above ours does — except height+1 with the digest of the block the new view re-proposes
   * (`forced`) and nothing prepared beyond it: deciding it again decides the same block. (One that
   * reports a prepared certificate for height+2 may have helped decide it: the view must start from
   * height+1 to re-propose it.) Decisions 1391, 1392.
   */
  private mustCatchUpTo(vc: ViewChange, forced: Prepared | null): boolean {
    if (vc.height <= this.height) return false;
    const sameBlock = forced !== null && vc.height === this.height + 1 && bytesEqual(vc.digest, forced.digest);
    return !(sameBlock && vc.prepared === null);
  }

  /**
   * Can a new view at our height be built on these view changes (all for `target`, from members)?
   * On those among them that report no block it could contradict (`usable`), provided they alone meet
   * every commit quorum under the configuration in force — the views that may have decided our
   * height+1 — and under the one the re-proposed block brings — the views that may have decided the
   * block after it (decisions 1391, 1392). Then every block decided above our height had a correct
   * committer among the usable reports, and that committer's report would need catch-up: so nothing
   * above our height was decided except the re-proposed block. So a node that alone decided the next
   * block and withholds it (gpbft+membership campaign seed 842), or one that reports a height it
   * never decided, cannot hold every head at "catch up first" for ever. Otherwise the head catches up
   * from the nodes `ahead` first.
   */
  private newViewSet(target: number, vcs: readonly ViewChange[]): { usable: ViewChange[] | null; ahead: ViewChange[]; forced: Prepared | null } {
    const forced = this.chooseForced(vcs);
    const ahead = vcs.filter((vc) => this.mustCatchUpTo(vc, forced));
    const usable = vcs.filter((vc) => !ahead.includes(vc));
    const senders = new Set(usable.map((vc) => vc.node));
    const successor = this.successorConfig(forced);
    // Unreadable evidence (successor null): the old rule, every report and none ahead.
    const coversSuccessor = successor === this.config || (successor === null ? ahead.length === 0 : this.coversViews(successor, target, senders));
    const covers = coversSuccessor && this.coversViews(this.config, target, senders);
    return { usable: covers ? usable : null, ahead, forced };
  }

  private tryNewView(target: number): void {
    if (headFor(this.config, target) !== this.id || this.viewTarget !== target) return;
    const set = this.viewChanges.get(target);
    if (!set) return;
    const members = new Set(this.memberIds());
    const vcs = [...set.values()].filter((vc) => members.has(vc.node)).sort((a, b) => (a.node < b.node ? -1 : 1));
    const { usable, ahead, forced } = this.newViewSet(target, vcs);
    if (usable === null) {
      // Catch up first, asking the nodes ahead in turn (highest first): one that does not answer
      // cannot hold the head while another could serve the blocks.
      if (ahead.length > 0) {
        ahead.sort((a, b) => b.height - a.height || (a.node < b.node ? -1 : 1));
        this.send(ahead[this.catchUpAsks++ % ahead.length]!.node, { type: 'gpbft/sync', height: this.height });
      }
      return;
    }
    const signature = this.signer.sign(newViewBytes(target, this.height, usable));
    const message: Extract<GpbftMessage, { type: 'gpbft/new-view' }> = {
      type: 'gpbft/new-view',
      view: target,
      height: this.height,
      viewChanges: usable,
      signature,
    };
    this.sendAll(this.memberIds(), message);
    this.enterView(target, forced);
  }

  private onNewView(from: NodeId, m: Extract<GpbftMessage, { type: 'gpbft/new-view' }>): void {
    if (m.view <= this.view || headFor(this.config, m.view) !== from) return;
    // Never a view below one this node asked for: its VIEW-CHANGE for that view reported what it had
    // prepared then, and a new view may be formed from that report — voting in an earlier view now
    // could commit a block the report does not show, and a later view re-propose another at its
    // height (gpbft+regroup campaign seed 242, decision 1407). PBFT's rule: after VIEW-CHANGE(v), no
    // message of a view below v.
    if (this.viewTarget !== 0 && m.view < this.viewTarget) return;
    if (!this.verifier.verify(from, newViewBytes(m.view, m.height, m.viewChanges), m.signature)) return;
    if (m.height > this.height) {
      this.deferredNewView = { from, message: m };
      this.send(from, { type: 'gpbft/sync', height: this.height });
      return;
    }
    if (m.height < this.height) {
      // The head is behind us; it re-proposes what we decided (safety), help it catch up.
      this.onSync(from, m.height);
      this.enterView(m.view, null);
      return;
    }
    const members = new Set(this.memberIds());
    const senders = new Set<NodeId>();
    for (const vc of m.viewChanges) {
      if (vc.view !== m.view || !members.has(vc.node) || senders.has(vc.node)) return;
      if (!this.verifier.verify(vc.node, viewChangeBytes(vc), vc.signature)) return;
      senders.add(vc.node);
    }
    // The head's rule (newViewSet): no report of a block this view could contradict, and the
    // reports meet the commit quorums under both configurations.
    const { usable, ahead, forced } = this.newViewSet(m.view, m.viewChanges);
    if (usable === null || ahead.length > 0) return;
    this.enterView(m.view, forced);
  }

  private enterView(view: number, forced: Prepared | null): void {
    this.view = view;
    this.viewTarget = 0;
    for (const v of [...this.viewChanges.keys()]) if (v <= view) this.viewChanges.delete(v);
    this.forced = { view, prepared: forced };
    // Keep reporting the highest prepared certificate this node knows in later view changes.
    if (forced !== null && (this.prepared === null || this.prepared.view < forced.view)) {
      this.prepared = forced;
      this.persist.push({ op: 'put', key: PREPARED_KEY, value: encode(forced) });
    }
    this.accepted = null;
    this.persist.push({ op: 'delete', key: ACCEPTED_KEY });
    this.persistHead();
    this.prep2.clear();
    this.com2.clear();
    this.sentCommit2 = false;
    this.askedForBlock = false;
    this.idleTicks = 0;
    this.starvedTicks = 0; // the new view's primaries get a whole timeout
    this.resetRoles();
    this.tryPropose2();
    const replay = this.future.filter((f) => 'view' in f.message && f.message.view === view);
    this.future = this.future.filter((f) => 'view' in f.message && f.message.view > view);
    for (const f of replay) this.step(f.from, f.message);
  }
}

/** The proposals' bytes in some blocks (proposalSizeBytes): a lower bound of their encoding. */
function proposalBytes(blocks: readonly DecidedBlock[]): number {
  let bytes = 0;
  for (const b of blocks) for (const p of b.proposals) bytes += proposalSizeBytes(p);
  return bytes;
}
