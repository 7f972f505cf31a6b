// EH-BFT (Freire, Giozza & Rodrigues 2023; DESIGN.md §1 row 2) as a pure state machine.
//
// Roles. Every node is a *verifier*: it computes the reputation-ranked trusted list (PowerTrust
// over facts fixed by decided blocks) and holds the latest database version (height, block
// digest, state digest). The *leader* of a view runs each block; the *acceptors* are the trusted
// nodes it selects by continuous quorum slicing.
//
// One block at a time, at height h = decided + 1:
//   1. version   leader → verifiers: version-query; f+1 verifiers answer with their signed
//                database version, which must equal the leader's (else it catches up first).
//   2. records   the leader cuts pending proposals, dropping any whose record key was already
//                inserted by a decided block or twice in this batch (double insert / spend).
//   3. pre-prepare leader → slice 1 (⌊T/2⌋+1 trusted nodes, itself first); acceptors check the
//                block against their own database and answer with a signed phase-1 vote. While
//                the votes are fewer than the quorum, every sliceTimeoutTicks the next slice of
//                ⌊(T−i)/2⌋+1 remaining trusted nodes is selected.
//   4. prepare   leader → acceptors that answered: the quorum of phase-1 votes (a certificate);
//                each acceptor locks it (durably) and answers with a phase-2 vote.
//   5. commit    leader → acceptors that answered: the quorum of phase-2 votes, the block's
//                'ehbft-commit' certificate; everyone else (verifiers) gets the block with it.
//
// Leader replacement. Views are numbered per height (0, 1, 2 … at each height, as Tendermint's
// rounds): leader(h, v) = order[(start + v) mod n], where the rotation order and its start are
// fixed by the decided blocks. The proposer of block h leads view 0 of h + 1 again unless it
// hands over: after leaderTermTicks (its block carries handover=true), or automatically when a
// decided block leaves its reputation below the drop threshold or proves it misbehaved; the
// next reputable node in reputation order (round-robin) then leads, the rest of the ranking
// following for view changes. A leader that stops
// progressing is replaced by a view change: a node with pending work and no decision for
// viewChangeTicks (doubling per failed view) broadcasts a signed view-change carrying its lock;
// the next leader in the order gathers a quorum of them and re-proposes the highest-view locked
// block (or a fresh one), with the view-change votes as justification. Safety under 'safe' quorums (2f+1 of n) is the usual quorum-intersection
// argument (docs/architecture/ehbft.md); under 'paper' quorums it does not hold with Byzantine
// acceptors, which is what the lab demonstrates.
import { CATCH_UP_BYTES_MAX, DecidedChain } from '../decided-chain.ts';
import { ReadyQueue } from '../ready-queue.ts';
import { bytesEqual, decode as decodeValue, encode, sha256, type Bytes } from '../../codec/index.ts';
import type { SignatureVerifier, Signer } from '../../crypto/index.ts';
import type { CutterConfig } from '../cutter.ts';
import { viewChangeTimeoutTicks } from '../backoff.ts';
import { hasQuorumSignatures } from '../certificate.ts';
import { DedupWindow } from '../dedup.ts';
import { GENESIS_DIGEST, blockDigest, proposalKey, proposalSizeBytes } from '../digest.ts';
import {
  assertInvariant,
  type DecidedBlock,
  type DurableState,
  type Engine,
  type EngineStatus,
  type NodeId,
  type Proposal,
  type ProposeResult,
  type Ready,
  type ReconfigureResult,
} from '../engine.ts';
import type { EngineContext } from '../registry.ts';
import {
  fromWire,
  isValidMessage,
  metaDigestOf,
  queryStatement,
  toWire,
  versionStatement,
  viewChangeStatement,
  voteStatement,
  type BlockBody,
  type EhbftMessage,
  type Evidence,
  type MessageLimits,
  type Meta,
  type Phase,
  type SignedVote,
  type ViewChangeVote,
  type Vote,
  type WireBlock,
  type WireCert,
} from './messages.ts';
import { parseEhbftOptions, type EhbftOptions } from './options.ts';
import { EPOCH_HISTORY_MAX, MEMBERS_MAX, epochBound, isOneStep, nextMembershipStep, sameMembers, sameSet, type EpochRecord } from './epoch.ts';
import { faultsTolerated, joinThreshold, safeQuorum, makePlan, selectedAfterRounds, selectionOrder, sliceSchedule, type QuorumPlan } from './quorum.ts';
import { RecordSet } from './records.ts';
import { ReputationBook, type ReputationSnapshot } from './reputation.ts';

export const CERT_SCHEME = 'ehbft-commit';

/** What a node outside the membership may exchange: catch-up only, never votes. */
const CATCH_UP_TYPES: ReadonlySet<EhbftMessage['type']> = new Set(['ehbft/fetch', 'ehbft/blocks', 'ehbft/block', 'ehbft/status']);

const KEY_STATE = 'ehbft/state';
const KEY_VIEW = 'ehbft/view';
const KEY_VOTES = 'ehbft/votes';
const EVIDENCE_PER_BLOCK_MAX = 4;
const PENDING_EVIDENCE_MAX = 16;
const SEEN_VOTES_MAX = 4096;
const VC_VIEWS_AHEAD_MAX = 64;

interface VoteRecord {
  readonly view: number;
  readonly height: number;
  readonly digest: Bytes;
  readonly metaDigest: Bytes;
}

interface Lock {
  readonly cert: WireCert;
  readonly body: BlockBody;
}

/** The block this node accepted (phase-1 voted) at its next height. */
interface Accepted extends VoteRecord {
  readonly body: BlockBody;
}

interface Round {
  readonly view: number;
  readonly height: number;
  stage: 'version' | 'voting' | 'done';
  stageTicks: number;
  sinceRetransmit: number;
  /** Verifiers asked so far (prefix of the ranking without the leader) and matching answers. */
  verifiersAsked: number;
  readonly versionsOk: Set<NodeId>;
  readonly reproposal: BlockBody | null;
  body: BlockBody | null;
  digest: Bytes;
  metaDigest: Bytes;
  prePrepare: Extract<EhbftMessage, { type: 'ehbft/pre-prepare' }> | null;
  sliceRounds: number;
  readonly votes1: Map<NodeId, Bytes>;
  readonly votes2: Map<NodeId, Bytes>;
  pqc: WireCert | null;
  readonly keys: string[];
}

interface VcEntry {
  readonly vc: ViewChangeVote;
  readonly body: BlockBody | null;
}

interface DurableSnapshot {
  readonly height: number;
  readonly tip: Bytes;
  readonly stateDigest: Bytes;
  readonly leaderStart: number;
  readonly leaderOrder: NodeId[];
  readonly prevPlan: QuorumPlan | null;
  readonly records: string[];
  readonly dedup: Array<[string, number, number[]]>;
  readonly rep: ReputationSnapshot;
  /** Membership epochs (decision 1290); absent in snapshots of chains without a change. */
  readonly epochs?: EpochRecord[];
}

interface DurableVotes {
  readonly v1: VoteRecord | null;
  readonly v2: VoteRecord | null;
  readonly lock: Lock | null;
}

/** Counters for tests, the lab and status displays. */
export interface EhbftStats {
  rejectedDuplicateInserts: number;
  viewChanges: number;
  handovers: number;
  sliceExtensions: number;
  evidenceCollected: number;
  /** Membership epochs entered (decided membership blocks). */
  epochChanges: number;
}

export class EhbftEngine implements Engine<EhbftMessage> {
  readonly id: NodeId;
  readonly options: EhbftOptions;
  readonly stats: EhbftStats = { rejectedDuplicateInserts: 0, viewChanges: 0, handovers: 0, sliceExtensions: 0, evidenceCollected: 0, epochChanges: 0 };
  private members: readonly NodeId[];
  private memberSet: ReadonlySet<NodeId>;
  /** Membership epochs, oldest first; the last is the one in force (decision 1290; epoch.ts). */
  private epochs: EpochRecord[];
  /** The orderer set of the config in force, as the driver last said (Engine.reconfigure). */
  private target: readonly NodeId[] | null = null;
  private targetSet: ReadonlySet<NodeId> = new Set();
  /** Ticks since an outsider last asked a member for the blocks it lacks. */
  private outsiderTicks = 0;
  private outsiderPolls = 0;
  private readonly signer: Signer;
  private readonly verifier: SignatureVerifier;
  private readonly cutter: CutterConfig;
  private limits: MessageLimits;

  // Ready output not yet taken by advance().
  private readonly out = new ReadyQueue<EhbftMessage>();
  private readonly outPersist = this.out.persist;
  private readonly outMessages = this.out.messages;
  private readonly outDecided = this.out.decided;

  // Decided state: a pure function of the decided blocks, identical on every correct node.
  private height = 0;
  private tip: Bytes = GENESIS_DIGEST;
  private stateDigest: Bytes = GENESIS_DIGEST;
  private lastBlock: WireBlock | null = null;
  private records: RecordSet;
  private dedup = new DedupWindow();
  private rep: ReputationBook;
  private leaderOrder: NodeId[];
  private leaderStart = 0;
  private plan: QuorumPlan;
  private prevPlan: QuorumPlan | null = null;
  private readonly retained: DecidedChain<WireBlock>;

  // View state (the view at height + 1).
  private view = 0;
  private normal = true;
  /** How long the current leader has led without handing over, as this node saw it. */
  private leaderTicks = 0;
  private trackedLeader: NodeId | null = null;
  private progressTicks = 0;
  private backoff = 0;
  private readonly vcs = new Map<number, Map<NodeId, VcEntry>>();
  /** The highest view each node asked for at our next height (join rule). */
  private readonly latestVcView = new Map<NodeId, number>();
  private myVc: Extract<EhbftMessage, { type: 'ehbft/view-change' }> | null = null;
  private nvJustification: { view: number; height: number; votes: ViewChangeVote[] } | null = null;

  // Acceptor state.
  private voted1: VoteRecord | null = null;
  private voted2: VoteRecord | null = null;
  private lock: Lock | null = null;
  private accepted: Accepted | null = null;
  private readonly seenVotes = new Map<string, SignedVote>();
  private pendingEvidence: Evidence[] = [];

  // Proposals waiting to be decided (every node keeps them and forwards them to the leader).
  private readonly pending = new Map<string, Proposal>();
  /** Tick at which each pending proposal was last forwarded (re-forward only stale ones). */
  private readonly forwardedAt = new Map<string, number>();
  private nowTicks = 0;
  private readonly inflight = new Set<string>();
  private cutWaitTicks = 0;
  private sinceRetransmit = 0;
  private sinceHeartbeat = 0;
  private fetchCooldown = 0;

  private round: Round | null = null;

  constructor(ctx: EngineContext) {
    this.id = ctx.id;
    this.options = parseEhbftOptions(ctx.options);
    assertInvariant(ctx.members.length >= 1, 'ehbft needs at least one member');
    assertInvariant(new Set(ctx.members).size === ctx.members.length, 'ehbft members are distinct');
    this.members = [...ctx.members];
    this.memberSet = new Set(ctx.members);
    this.epochs = [{ number: 0, start: 1, members: this.members }];
    this.signer = ctx.signer;
    this.verifier = ctx.verifier;
    this.cutter = ctx.cutter;
    this.limits = {
      proposalsMax: ctx.cutter.countMax,
      proposalBytesMax: ctx.cutter.sizeBytesMax,
      membersMax: ctx.members.length,
      evidenceMax: PENDING_EVIDENCE_MAX,
      blocksMax: this.options.fetchBlocksMax,
    };
    this.records = new RecordSet(this.options.recordsMax);
    this.retained = new DecidedChain<WireBlock>(
      'ehbft',
      this.options.retainBlocks,
      { encode, decode: (bytes, key) => decodeOrThrow<WireBlock>(bytes, key), fromArchive: wireBlockOfArchived },
      ctx.archive,
    );
    this.rep = new ReputationBook(this.members, this.options.reputation);
    this.leaderOrder = [...this.members];
    this.plan = this.computePlan();
    this.restoreFrom(ctx.storage);
    this.updateLimits();
    // Crashed while changing views: the vote was never persisted, only the view; say it again.
    if (!this.normal) this.announceViewChange();
    if (ctx.appliedHeight !== undefined && ctx.appliedHeight < this.height) this.redeliverFrom(ctx.appliedHeight);
  }

  /**
   * The application lost blocks we had decided (crash between our persist and its append):
   * hand them over again from the retained blocks, or ask for a restore when they are gone.
   */
  private redeliverFrom(appliedHeight: number): void {
    const again = this.retained.redeliver(appliedHeight, this.height, this.tip);
    // A WireBlock does not carry its predecessor's digest: take it from the block below.
    let prev = appliedHeight === 0 ? GENESIS_DIGEST : this.retained.get(appliedHeight)?.cert.digest;
    if (again.restore !== null || prev === undefined) {
      this.out.restore = { height: this.height, digest: this.tip };
      return;
    }
    for (const b of again.blocks) {
      this.outDecided.push(toDecidedBlock(b, prev, this.options.quorum, b.cert.votes.length, this.epochOf(b.height)));
      prev = b.cert.digest;
    }
  }

  // ------------------------------------------------------------------ Engine contract

  tick(): void {
    if (!this.isMember()) {
      this.tickOutsider();
      return;
    }
    const leader = this.normal ? this.leaderOf(this.view) : null;
    if (leader !== null && leader === this.trackedLeader) this.leaderTicks += 1;
    else if (leader !== null) {
      this.trackedLeader = leader;
      this.leaderTicks = 0;
    }
    if (this.fetchCooldown > 0) this.fetchCooldown -= 1;
    this.nowTicks += 1;
    if (this.behind) {
      if (this.behind.height !== this.height) this.behind = null;
      else if (++this.behind.ticks >= this.options.retransmitTicks) {
        this.requestFetch(this.behind.from);
        this.behind = null;
      }
    }
    if (this.hasWork()) this.progressTicks += 1;
    else this.progressTicks = 0;
    const timeout = viewChangeTimeoutTicks(this.options.viewChangeTicks, this.backoff, this.options.viewChangeBackoffMax);
    if (this.progressTicks >= timeout) {
      this.progressTicks = 0;
      // As in PBFT, a node already changing views moves further only once a quorum has joined
      // its current view (so that new view's leader really failed); otherwise it keeps
      // re-broadcasting and waits for the others, who join by timeout or by the f+1 rule.
      // Escalating alone lets correct nodes drift into different views and never meet.
      if (this.normal || this.vcQuorumSeen()) {
        this.backoff = Math.min(this.backoff + 1, this.options.viewChangeBackoffMax);
        this.startViewChange(this.view + 1);
      }
    }
    this.sinceRetransmit += 1;
    if (this.sinceRetransmit >= this.options.retransmitTicks) {
      this.sinceRetransmit = 0;
      this.retransmit();
    }
    if (this.pending.size > this.inflight.size) this.cutWaitTicks += 1;
    if (this.round) this.tickRound(this.round);
    this.sinceHeartbeat += 1;
    if (this.isLeader() && !this.round && this.sinceHeartbeat >= this.options.heartbeatTicks) {
      // A block delivery can be lost with no later traffic to reveal the gap: say where we are.
      this.sinceHeartbeat = 0;
      for (const m of this.members) if (m !== this.id) this.send(m, { type: 'ehbft/status', height: this.height });
    }
    this.afterInput();
  }

  step(from: NodeId, message: EhbftMessage): void {
    if (from === this.id) return;
    // Members vote; a node of the target set that is not a member yet (a joiner) may only catch
    // up: ask for blocks and receive them. A removed node's messages are dropped as any stranger's.
    if (!this.memberSet.has(from) && !(this.targetSet.has(from) && CATCH_UP_TYPES.has(message.type))) return;
    if (!isValidMessage(message, this.limits)) return;
    if (!this.isMember() && !CATCH_UP_TYPES.has(message.type)) return;
    switch (message.type) {
      case 'ehbft/forward':
        this.onForward(message.proposals.map(fromWire));
        break;
      case 'ehbft/version-query':
        this.onVersionQuery(from, message);
        break;
      case 'ehbft/version':
        this.onVersion(from, message);
        break;
      case 'ehbft/pre-prepare':
        this.onPrePrepare(from, message);
        break;
      case 'ehbft/vote':
        this.onVote(from, message);
        break;
      case 'ehbft/prepare':
        this.onPrepare(from, message.cert);
        break;
      case 'ehbft/commit':
        this.onCommit(from, message.cert);
        break;
      case 'ehbft/block':
        this.onBlocks(from, [message.block]);
        break;
      case 'ehbft/blocks':
        this.onBlocks(from, message.blocks);
        break;
      case 'ehbft/fetch':
        this.onFetch(from, message.height);
        break;
      case 'ehbft/view-change':
        this.onViewChange(from, message);
        break;
      case 'ehbft/evidence':
        for (const e of message.evidence) this.absorbEvidence(e, false);
        break;
      case 'ehbft/status':
        this.senderDecided(from, message.height);
        break;
    }
    this.afterInput();
  }

  propose(proposal: Proposal): ProposeResult {
    if (!this.isMember()) return { accepted: false, reason: 'not-member' };
    if (proposalSizeBytes(proposal) > this.cutter.sizeBytesMax) return { accepted: false, reason: 'too-large' };
    if (!(typeof proposal.clientId === 'string' && proposal.clientId.length >= 1 && Number.isSafeInteger(proposal.seq) && proposal.seq >= 1)) {
      return { accepted: false, reason: 'invalid' };
    }
    const key = this.options.recordKey(proposal.data);
    if (key !== null && this.records.has(key)) {
      this.stats.rejectedDuplicateInserts += 1;
      return { accepted: false, reason: 'invalid' };
    }
    if (this.dedup.isDecided(proposal)) return { accepted: true };
    const added = this.addPending(proposal);
    if (added === 'queue-full') return { accepted: false, reason: 'queue-full' };
    const leader = this.leaderOf(this.view);
    if (added === 'added' && this.normal && leader !== this.id) this.send(leader, { type: 'ehbft/forward', proposals: [toWire(proposal)] });
    this.afterInput();
    return { accepted: true };
  }

  hasReady(): boolean {
    return this.out.hasReady();
  }

  ready(): Ready<EhbftMessage> {
    return this.out.ready();
  }

  advance(ready: Ready<EhbftMessage>): void {
    this.out.advance(ready);
  }

  status(): EngineStatus {
    const leader = this.normal ? this.leaderOf(this.view) : null;
    const role = !this.isMember() ? 'outsider' : leader === this.id ? 'leader' : this.plan.eligible.includes(this.id) ? 'acceptor' : 'verifier';
    return { id: this.id, role, leader, epoch: this.view, decidedHeight: this.height, members: this.members };
  }

  // ------------------------------------------------------------------ introspection (tests, lab)

  /** The reputation-ranked trusted list and quorum for the next height. */
  quorumPlan(): QuorumPlan {
    return this.plan;
  }

  reputations(): ReadonlyMap<NodeId, number> {
    const v = this.rep.reputations(this.height);
    return new Map(this.members.map((m, i) => [m, v[i]!]));
  }

  /** The database version the verifiers hold: decided height, last block digest, state digest. */
  databaseVersion(): { height: number; digest: Bytes; stateDigest: Bytes } {
    return { height: this.height, digest: this.tip, stateDigest: this.stateDigest };
  }

  /** The leader of `view` at the next height. */
  leaderOf(view: number): NodeId {
    const n = this.leaderOrder.length;
    return this.leaderOrder[(this.leaderStart + view) % n]!;
  }

  hasRecord(key: string): boolean {
    return this.records.has(key);
  }

  /** The membership epoch in force: its number, first height and members (decision 1290). */
  epoch(): EpochRecord {
    return this.epochs.at(-1)!;
  }

  // ------------------------------------------------------------------ membership (decision 1290)

  /**
   * The orderer set of the config in force (the driver calls this on every tick). The leader
   * moves toward it one member at a time, each step a membership block (epoch.ts); the others
   * accept a membership block only when it is exactly that step toward their own target.
   */
  reconfigure(members: readonly NodeId[]): ReconfigureResult {
    if (members.length === 0 || new Set(members).size !== members.length) return 'settled';
    if (!this.target || !sameMembers(this.target, members)) {
      this.target = [...members];
      this.targetSet = new Set(members);
      this.updateLimits();
    }
    if (sameSet(this.members, members)) return 'settled';
    if (!this.isMember()) return 'stepping';
    this.afterInput();
    return this.isLeader() ? 'stepping' : 'not-leader';
  }

  private isMember(): boolean {
    return this.memberSet.has(this.id);
  }

  /** The next one-member step toward this node's target, or null (no target, or reached). */
  private membershipStep(): NodeId[] | null {
    return this.target && this.isMember() ? nextMembershipStep(this.members, this.target) : null;
  }

  private updateLimits(): void {
    // With a fixed membership, lists and certificates are bounded by it. Once membership changes
    // are in play (the driver named a target) the chain may hold larger epochs than this node has
    // seen — a joiner replaying from genesis meets the 7-member epoch of a 5 → 7 → 5 change — so
    // the structural bound is MEMBERS_MAX; the signature checks refuse a certificate with more
    // signatures than its epoch's members before verifying any (consensus/certificate.ts).
    // (Simulator seed 79, 5 nodes, 2 joins and 2 leaves: the joiner dropped every fetched batch.)
    let largest = Math.max(this.members.length, this.target?.length ?? 0);
    for (const e of this.epochs) largest = Math.max(largest, e.members.length);
    if (this.target !== null) largest = Math.max(largest, MEMBERS_MAX);
    this.limits = {
      proposalsMax: this.cutter.countMax,
      proposalBytesMax: this.cutter.sizeBytesMax,
      membersMax: largest,
      evidenceMax: PENDING_EVIDENCE_MAX,
      blocksMax: this.options.fetchBlocksMax,
    };
  }

  /** The epoch that decides (or decided) `height`; null below the remembered history. */
  private epochOf(height: number): EpochRecord | null {
    for (let i = this.epochs.length - 1; i >= 0; i--) if (this.epochs[i]!.start <= height) return this.epochs[i]!;
    return null;
  }

  /**
   * What a signature about `height` covers: bound to the epoch of that height, so no vote of one
   * epoch counts in another (a height below the remembered history gets bytes nobody signed).
   */
  private bound(height: number, bytes: Bytes): Bytes {
    const e = this.epochOf(height);
    return e === null ? encode(['ehbft/unknown-epoch', bytes]) : epochBound(e.number, bytes);
  }

  /**
   * A node outside the membership (a joiner of the target, or a removed node) takes no part in
   * agreement. A joiner asks the members in turn for the blocks after its height (the engine's
   * catch-up), replaying every decided block — and so every membership block — until the one
   * that admits it; from the next height on it votes.
   */
  private tickOutsider(): void {
    this.nowTicks += 1;
    if (!this.targetSet.has(this.id) || this.members.length === 0) return;
    if (++this.outsiderTicks < this.options.retransmitTicks) return;
    this.outsiderTicks = 0;
    const peers = this.members.filter((m) => m !== this.id);
    if (peers.length === 0) return;
    const to = peers[this.outsiderPolls++ % peers.length]!;
    this.send(to, { type: 'ehbft/fetch', height: this.height + 1 });
  }

  /**
   * A membership block was decided at `height`: the epoch ends there. From height + 1 the new
   * list is in force — n, f, the quorum plan, the reputation book (rebased), the leader order.
   * Every correct node decides the same block, so every one switches at the same height.
   */
  private enterEpoch(members: readonly NodeId[], height: number, proposer: NodeId, handover: boolean): void {
    assertInvariant(isOneStep(this.members, members), `a membership block changes one member (${this.members.join(',')} → ${members.join(',')})`);
    const current = this.epoch();
    this.members = [...members];
    this.memberSet = new Set(members);
    this.epochs.push({ number: current.number + 1, start: height + 1, members: this.members });
    if (this.epochs.length > EPOCH_HISTORY_MAX) this.epochs.shift();
    this.rep = this.rep.rebased(this.members);
    this.plan = this.computePlan();
    // The proposer keeps leading if it is still a member and did not hand over; else the ranking.
    const ranking = this.rep.ranking(height);
    const keep = !handover && this.memberSet.has(proposer) ? proposer : null;
    this.leaderOrder = keep ? [keep, ...ranking.filter((m) => m !== keep)] : ranking;
    this.leaderStart = 0;
    // Evidence against a node no longer a member cannot go into a block of this epoch.
    this.pendingEvidence = this.pendingEvidence.filter((e) => this.memberSet.has(e.node));
    this.outsiderTicks = 0;
    this.stats.epochChanges += 1;
    this.updateLimits();
    assertInvariant(this.plan.quorum <= this.members.length, 'the new quorum fits the new membership');
  }

  // ------------------------------------------------------------------ proposals

  private addPending(p: Proposal): 'added' | 'known' | 'queue-full' {
    const key = proposalKey(p);
    if (this.pending.has(key)) return 'known';
    if (this.pending.size >= this.cutter.pendingMax) return 'queue-full';
    this.pending.set(key, p);
    this.forwardedAt.set(key, this.nowTicks);
    return 'added';
  }

  private onForward(proposals: Proposal[]): void {
    for (const p of proposals) {
      if (proposalSizeBytes(p) > this.cutter.sizeBytesMax || this.dedup.isDecided(p)) continue;
      this.addPending(p);
    }
  }

  private hasWork(): boolean {
    // A membership step toward the target is work like a pending proposal: a leader that does not
    // order it is voted out by the view-change timer.
    return this.pending.size > 0 || this.accepted !== null || this.membershipStep() !== null;
  }

  // ------------------------------------------------------------------ leader

  private isLeader(): boolean {
    return this.normal && this.leaderOf(this.view) === this.id;
  }

  private afterInput(): void {
    this.maybeNewView();
    this.maybeStartRound();
  }

  private maybeStartRound(): void {
    if (this.round || !this.isLeader()) return;
    const h = this.height + 1;
    const nv = this.nvJustification && this.nvJustification.view === this.view && this.nvJustification.height === h ? this.nvJustification : null;
    let reproposal: BlockBody | null = null;
    if (nv) reproposal = this.nvReproposal;
    // After a restart this node may already have voted at (view, h): it must not propose anew.
    if (this.voted1 && this.voted1.view === this.view && this.voted1.height === h) {
      const same = this.lock && this.lock.cert.view === this.view && this.lock.cert.height === h ? this.lock.body : null;
      if (!same) return;
      reproposal = same;
    }
    if (!reproposal && !this.membershipStep()) {
      const available = this.pending.size - this.inflight.size;
      if (available <= 0) return;
      if (available < this.cutter.countMax && this.cutWaitTicks < this.cutter.timeoutTicks) return;
    }
    const round: Round = {
      view: this.view,
      height: h,
      stage: 'version',
      stageTicks: 0,
      sinceRetransmit: 0,
      verifiersAsked: 0,
      versionsOk: new Set(),
      reproposal,
      body: null,
      digest: GENESIS_DIGEST,
      metaDigest: GENESIS_DIGEST,
      prePrepare: null,
      sliceRounds: 0,
      votes1: new Map(),
      votes2: new Map(),
      pqc: null,
      keys: [],
    };
    this.round = round;
    this.cutWaitTicks = 0;
    if (this.options.versionCheck && this.verifierOrder().length > 0) this.queryVerifiers(round);
    else this.buildAndSend(round);
  }

  private nvReproposal: BlockBody | null = null;

  private verifierOrder(): NodeId[] {
    return this.rep.ranking(this.height).filter((m) => m !== this.id);
  }

  private versionQuorum(): number {
    return Math.min(faultsTolerated(this.members.length) + 1, this.verifierOrder().length);
  }

  private queryVerifiers(round: Round): void {
    const order = this.verifierOrder();
    const want = Math.min(order.length, round.verifiersAsked + this.versionQuorum());
    const sig = this.signer.sign(this.bound(round.height, queryStatement(round.view, round.height, this.id)));
    const msg: EhbftMessage = { type: 'ehbft/version-query', view: round.view, height: round.height, node: this.id, sig };
    for (let i = round.verifiersAsked; i < want; i++) this.send(order[i]!, msg);
    round.verifiersAsked = want;
  }

  private onVersionQuery(from: NodeId, m: Extract<EhbftMessage, { type: 'ehbft/version-query' }>): void {
    if (m.node !== from || !this.verifier.verify(from, this.bound(m.height, queryStatement(m.view, m.height, m.node)), m.sig)) return;
    this.senderDecided(from, m.height - 1);
    const sig = this.signer.sign(this.bound(m.height, versionStatement(m.view, this.height, this.tip, this.stateDigest, this.id)));
    this.send(from, { type: 'ehbft/version', view: m.view, height: this.height, digest: this.tip, stateDigest: this.stateDigest, node: this.id, sig });
  }

  private onVersion(from: NodeId, m: Extract<EhbftMessage, { type: 'ehbft/version' }>): void {
    const round = this.round;
    if (!round || round.stage !== 'version' || m.view !== round.view || m.node !== from) return;
    if (!this.verifier.verify(from, this.bound(round.height, versionStatement(m.view, m.height, m.digest, m.stateDigest, m.node)), m.sig)) return;
    if (m.height > this.height) {
      // The verifiers hold a newer database version: catch up before proposing.
      this.senderDecided(from, m.height, true);
      return;
    }
    if (m.height === this.height && bytesEqual(m.digest, this.tip) && bytesEqual(m.stateDigest, this.stateDigest)) {
      round.versionsOk.add(from);
      if (round.versionsOk.size >= this.versionQuorum()) this.buildAndSend(round);
    }
  }

  /** Step 2-3: check the proposals against the records, then pre-prepare to the first slice. */
  private buildAndSend(round: Round): void {
    let body = round.reproposal;
    const step = body ? null : this.membershipStep();
    if (step) {
      // A membership block: no proposals (they wait for the next epoch), the next member list in
      // its metadata. It ends the epoch at this height (decision 1290).
      body = {
        proposals: [],
        meta: {
          proposer: this.id,
          handover: false,
          prevCert: this.lastBlock ? this.lastBlock.cert : null,
          evidence: this.pendingEvidence.slice(0, EVIDENCE_PER_BLOCK_MAX),
          members: step,
        },
      };
    }
    if (!body) {
      const proposals = this.cutBatch(round);
      if (proposals.length === 0) {
        this.round = null;
        return;
      }
      const handover = this.trackedLeader === this.id && this.leaderTicks >= this.options.leaderTermTicks;
      body = {
        proposals: proposals.map(toWire),
        meta: {
          proposer: this.id,
          handover,
          prevCert: this.lastBlock ? this.lastBlock.cert : null,
          evidence: this.pendingEvidence.slice(0, EVIDENCE_PER_BLOCK_MAX),
        },
      };
    }
    const proposals = body.proposals.map(fromWire);
    round.body = body;
    round.digest = blockDigest(round.height, this.tip, proposals);
    round.metaDigest = metaDigestOf(body.meta);
    round.stage = 'voting';
    round.stageTicks = 0;
    const sig = this.signer.sign(this.bound(round.height, voteStatement(1, round.view, round.height, round.digest, round.metaDigest)));
    const justification =
      this.nvJustification && this.nvJustification.view === round.view && this.nvJustification.height === round.height ? this.nvJustification.votes : null;
    round.prePrepare = {
      type: 'ehbft/pre-prepare',
      view: round.view,
      height: round.height,
      prevDigest: this.tip,
      proposals: body.proposals,
      meta: body.meta,
      justification,
      node: this.id,
      sig,
    };
    // The leader is an acceptor of its own proposal: record (durably) and count its vote.
    this.recordVote1({ view: round.view, height: round.height, digest: round.digest, metaDigest: round.metaDigest }, body);
    round.sliceRounds = 1;
    this.sendPrePrepares(round, 0);
    if (this.plan.eligible.includes(this.id)) this.leaderCountVote(round, 1, this.id, sig);
  }

  /** Take the next batch: skip decided or in-flight proposals, reject double inserts. */
  private cutBatch(round: Round): Proposal[] {
    const batch: Proposal[] = [];
    const keysInBatch = new Set<string>();
    let bytes = 0;
    for (const [key, p] of [...this.pending]) {
      if (batch.length >= this.cutter.countMax) break;
      if (this.inflight.has(key)) continue;
      if (this.dedup.isDecided(p)) {
        this.pending.delete(key);
        this.forwardedAt.delete(key);
        continue;
      }
      const recordKey = this.options.recordKey(p.data);
      if (recordKey !== null && (this.records.has(recordKey) || keysInBatch.has(recordKey))) {
        // EH-BFT's second modification: a proposal conflicting with the current records is
        // rejected before consensus (the paper's double-spending check).
        this.pending.delete(key);
        this.forwardedAt.delete(key);
        this.stats.rejectedDuplicateInserts += 1;
        continue;
      }
      const size = proposalSizeBytes(p);
      if (batch.length > 0 && bytes + size > this.cutter.sizeBytesMax) break;
      if (recordKey !== null) keysInBatch.add(recordKey);
      batch.push(p);
      bytes += size;
      this.inflight.add(key);
      round.keys.push(key);
    }
    return batch;
  }

  private sendPrePrepares(round: Round, fromIndex: number): void {
    const order = selectionOrder(this.plan, this.id);
    const upto = selectedAfterRounds(this.plan, round.sliceRounds);
    for (let i = fromIndex; i < upto && i < order.length; i++) {
      const node = order[i]!;
      if (node !== this.id && round.prePrepare) this.send(node, round.prePrepare);
    }
  }

  private tickRound(round: Round): void {
    round.stageTicks += 1;
    round.sinceRetransmit += 1;
    if (round.stage === 'version' && round.stageTicks % this.options.sliceTimeoutTicks === 0) {
      // Not enough matching versions yet: ask further verifiers.
      this.queryVerifiers(round);
      return;
    }
    if (round.stage !== 'voting') return;
    const phaseDone = round.pqc ? round.votes2.size >= this.plan.quorum : round.votes1.size >= this.plan.quorum;
    if (!phaseDone && round.stageTicks % this.options.sliceTimeoutTicks === 0) {
      const schedule = sliceSchedule(this.plan.eligible.length, this.plan.quorum);
      if (round.sliceRounds < schedule.length) {
        // Continuous quorum slicing: the quorum was not reached, run again with the next
        // ⌊(T − i)/2⌋ + 1 of the remaining trusted nodes.
        const before = selectedAfterRounds(this.plan, round.sliceRounds);
        round.sliceRounds += 1;
        this.stats.sliceExtensions += 1;
        this.sendPrePrepares(round, before);
      }
    }
  }

  private retransmit(): void {
    const round = this.round && this.round.stageTicks >= this.options.retransmitTicks ? this.round : null;
    if (round && round.stage === 'version') {
      const order = this.verifierOrder();
      const sig = this.signer.sign(this.bound(round.height, queryStatement(round.view, round.height, this.id)));
      for (let i = 0; i < round.verifiersAsked && i < order.length; i++) {
        const node = order[i]!;
        if (!round.versionsOk.has(node)) this.send(node, { type: 'ehbft/version-query', view: round.view, height: round.height, node: this.id, sig });
      }
    } else if (round && round.stage === 'voting' && round.prePrepare) {
      const order = selectionOrder(this.plan, this.id).slice(0, selectedAfterRounds(this.plan, round.sliceRounds));
      for (const node of order) {
        if (node === this.id) continue;
        if (!round.votes1.has(node)) this.send(node, round.prePrepare);
        else if (round.pqc && !round.votes2.has(node)) this.send(node, { type: 'ehbft/prepare', cert: round.pqc });
      }
    }
    if (!this.normal && this.myVc) {
      for (const m of this.members) if (m !== this.id) this.send(m, this.myVc);
    } else if (!this.isLeader() && this.normal) {
      // Proposals survive a lost forward or a change of leader: re-forward what is still pending.
      const leader = this.leaderOf(this.view);
      const staleTicks = 2 * this.options.retransmitTicks;
      const batch: Proposal[] = [];
      for (const [key, p] of this.pending) {
        if (batch.length >= this.cutter.countMax) break;
        if (this.nowTicks - (this.forwardedAt.get(key) ?? 0) < staleTicks) continue;
        this.forwardedAt.set(key, this.nowTicks);
        batch.push(p);
      }
      if (batch.length > 0) this.send(leader, { type: 'ehbft/forward', proposals: batch.map(toWire) });
    }
  }

  private onVote(from: NodeId, m: Extract<EhbftMessage, { type: 'ehbft/vote' }>): void {
    if (m.node !== from) return;
    if (!this.verifier.verify(from, this.bound(m.height, voteStatement(m.phase, m.view, m.height, m.digest, m.metaDigest)), m.sig)) return;
    this.noteSignedVote(from, { phase: m.phase, view: m.view, height: m.height, digest: m.digest, metaDigest: m.metaDigest, sig: m.sig });
    const round = this.round;
    if (!round || round.stage !== 'voting' || m.view !== round.view || m.height !== round.height) return;
    if (!bytesEqual(m.digest, round.digest) || !bytesEqual(m.metaDigest, round.metaDigest)) return;
    if (!this.plan.eligible.includes(from)) return;
    this.leaderCountVote(round, m.phase, from, m.sig);
  }

  private leaderCountVote(round: Round, phase: Phase, node: NodeId, sig: Bytes): void {
    if (phase === 1) {
      round.votes1.set(node, sig);
      if (round.pqc) {
        if (node !== this.id) this.send(node, { type: 'ehbft/prepare', cert: round.pqc });
        return;
      }
      if (round.votes1.size < this.plan.quorum) return;
      round.pqc = this.makeCert(1, round, round.votes1);
      round.stageTicks = 0;
      for (const voter of round.votes1.keys()) if (voter !== this.id) this.send(voter, { type: 'ehbft/prepare', cert: round.pqc });
      if (this.plan.eligible.includes(this.id) && round.body) {
        const sig2 = this.lockAndVote2(round.pqc, round.body);
        if (sig2) this.leaderCountVote(round, 2, this.id, sig2);
      } else if (round.votes2.size >= this.plan.quorum) {
        this.finishRound(round);
      }
      return;
    }
    if (!round.pqc) return;
    round.votes2.set(node, sig);
    if (round.votes2.size >= this.plan.quorum) this.finishRound(round);
  }

  private finishRound(round: Round): void {
    if (round.stage === 'done' || !round.body) return;
    round.stage = 'done';
    const cqc = this.makeCert(2, round, round.votes2);
    const block: WireBlock = { height: round.height, proposals: round.body.proposals, meta: round.body.meta, cert: cqc };
    for (const m of this.members) {
      if (m === this.id) continue;
      if (round.votes2.has(m)) this.send(m, { type: 'ehbft/commit', cert: cqc });
      else this.send(m, { type: 'ehbft/block', block });
    }
    this.round = null;
    this.decide(block);
  }

  private makeCert(phase: Phase, round: Round, votes: ReadonlyMap<NodeId, Bytes>): WireCert {
    // The first Q votes in eligibility order: any Q would do, a fixed choice keeps runs replayable.
    const chosen: Vote[] = [];
    for (const node of this.plan.eligible) {
      const sig = votes.get(node);
      if (sig && chosen.length < this.plan.quorum) chosen.push({ node, sig });
    }
    return { phase, view: round.view, height: round.height, digest: round.digest, metaDigest: round.metaDigest, votes: chosen };
  }

  // ------------------------------------------------------------------ acceptor

  private onPrePrepare(from: NodeId, m: Extract<EhbftMessage, { type: 'ehbft/pre-prepare' }>): void {
    if (m.node !== from) return;
    // A pre-prepare for the height just decided is still worth checking for equivocation.
    if (m.height !== this.height + 1 && m.height !== this.height) {
      this.senderDecided(from, m.height - 1);
      return;
    }
    const proposals = m.proposals.map(fromWire);
    const digest = blockDigest(m.height, m.prevDigest, proposals);
    const metaDigest = metaDigestOf(m.meta);
    if (!this.verifier.verify(from, this.bound(m.height, voteStatement(1, m.view, m.height, digest, metaDigest)), m.sig)) return;
    this.noteSignedVote(from, { phase: 1, view: m.view, height: m.height, digest, metaDigest, sig: m.sig });
    if (m.height === this.height) return;
    if (m.view < this.view || this.leaderOf(m.view) !== from || this.provenFaulty(from)) return;
    if (!bytesEqual(m.prevDigest, this.tip)) return;
    // A view entered by view change needs the quorum of view-change votes that fixes its first
    // block (the highest lock); without one only the current, normally running view is accepted.
    let relocked = false;
    if (m.justification) {
      const check = this.checkJustification(m.view, m.height, m.justification, digest, metaDigest);
      if (check === null) return;
      relocked = check;
    } else if (m.view !== this.view || !this.normal) {
      return;
    }
    const body: BlockBody = { proposals: m.proposals, meta: m.meta };
    // A fresh block names its leader as proposer; a re-proposed locked block keeps its own.
    if (!this.checkBody(body, m.height, relocked ? null : from)) return;
    if (m.view > this.view || !this.normal) this.enterView(m.view, true);
    const rec: VoteRecord = { view: m.view, height: m.height, digest, metaDigest };
    if (this.voted1 && this.voted1.height === m.height && (this.voted1.view > m.view || (this.voted1.view === m.view && !sameValue(this.voted1, rec)))) return;
    this.recordVote1(rec, body);
    const sig = this.signer.sign(this.bound(m.height, voteStatement(1, m.view, m.height, digest, metaDigest)));
    this.send(from, { type: 'ehbft/vote', phase: 1, view: m.view, height: m.height, digest, metaDigest, node: this.id, sig });
  }

  private recordVote1(rec: VoteRecord, body: BlockBody): void {
    this.accepted = { ...rec, body };
    if (!(this.voted1 && sameValue(this.voted1, rec) && this.voted1.view === rec.view && this.voted1.height === rec.height)) {
      this.voted1 = rec;
      this.persistVotes();
    }
  }

  /** The acceptor's integrity check of a block against its own database. */
  private checkBody(body: BlockBody, height: number, expectedProposer: NodeId | null): boolean {
    if (body.proposals.length > this.cutter.countMax) return false;
    const keys = new Set<string>();
    const ids = new Set<string>();
    for (const wp of body.proposals) {
      const p = fromWire(wp);
      const id = proposalKey(p);
      if (ids.has(id) || this.dedup.isDecided(p)) return false;
      ids.add(id);
      const key = this.options.recordKey(p.data);
      if (key !== null) {
        if (this.records.has(key) || keys.has(key)) return false;
        keys.add(key);
      }
    }
    const meta = body.meta;
    if (height > 1) {
      if (!meta.prevCert || meta.prevCert.height !== height - 1 || !bytesEqual(meta.prevCert.digest, this.tip)) return false;
      if (!this.prevPlan || !this.verifyCert(meta.prevCert, 2, this.prevPlan)) return false;
    } else if (meta.prevCert !== null) {
      return false;
    }
    if (meta.evidence.length > EVIDENCE_PER_BLOCK_MAX || !meta.evidence.every((e) => this.verifyEvidence(e))) return false;
    if (!this.memberSet.has(meta.proposer)) return false;
    if (meta.members !== undefined) {
      // A membership block carries nothing else. A fresh one must be exactly the next step toward
      // this node's own target (the config its ledger has in force), so a Byzantine leader can
      // order no membership the ledgers of correct nodes do not hold. A re-proposed locked one
      // was accepted so by a quorum already: it only has to be one step from the members.
      if (body.proposals.length !== 0) return false;
      if (expectedProposer !== null) {
        const want = this.membershipStep();
        if (!want || !sameMembers(want, meta.members)) return false;
      } else if (!isOneStep(this.members, meta.members)) {
        return false;
      }
    }
    if (expectedProposer !== null) {
      if (meta.proposer !== expectedProposer) return false;
      // A leader past its term that keeps proposing without handing over is refused.
      if (!meta.handover && this.trackedLeader === expectedProposer && this.leaderTicks > this.options.leaderTermTicks + this.options.termGraceTicks)
        return false;
    }
    return true;
  }

  private onPrepare(from: NodeId, cert: WireCert): void {
    if (cert.phase !== 1) return;
    if (cert.height > this.height + 1) {
      this.senderDecided(from, cert.height - 1);
      return;
    }
    if (cert.height !== this.height + 1 || !this.normal || cert.view !== this.view) return;
    // The leader forms its own prepare; one relayed back to it (a replay) is not for it.
    if (this.leaderOf(cert.view) === this.id) return;
    const body = this.bodyFor(cert);
    if (!body || !this.verifyCert(cert, 1, this.plan)) return;
    const sig = this.lockAndVote2(cert, body);
    if (sig) {
      this.send(this.leaderOf(cert.view), {
        type: 'ehbft/vote',
        phase: 2,
        view: cert.view,
        height: cert.height,
        digest: cert.digest,
        metaDigest: cert.metaDigest,
        node: this.id,
        sig,
      });
    }
  }

  /** Lock the phase-1 certificate durably, then sign the phase-2 vote (null when refused). */
  private lockAndVote2(cert: WireCert, body: BlockBody): Bytes | null {
    const rec: VoteRecord = { view: cert.view, height: cert.height, digest: cert.digest, metaDigest: cert.metaDigest };
    if (this.voted2 && this.voted2.height === cert.height && (this.voted2.view > cert.view || (this.voted2.view === cert.view && !sameValue(this.voted2, rec))))
      return null;
    if (!this.lock || this.lock.cert.height !== cert.height || this.lock.cert.view <= cert.view) this.lock = { cert, body };
    this.voted2 = rec;
    this.persistVotes();
    return this.signer.sign(this.bound(cert.height, voteStatement(2, cert.view, cert.height, cert.digest, cert.metaDigest)));
  }

  private bodyFor(cert: WireCert): BlockBody | null {
    const a = this.accepted;
    if (a && a.height === cert.height && bytesEqual(a.digest, cert.digest) && bytesEqual(a.metaDigest, cert.metaDigest)) return a.body;
    const l = this.lock;
    if (l && l.cert.height === cert.height && bytesEqual(l.cert.digest, cert.digest) && bytesEqual(l.cert.metaDigest, cert.metaDigest)) return l.body;
    return null;
  }

  private onCommit(from: NodeId, cert: WireCert): void {
    if (cert.phase !== 2) return;
    if (cert.height !== this.height + 1) {
      this.senderDecided(from, cert.height);
      return;
    }
    const body = this.bodyFor(cert);
    if (!body) {
      this.senderDecided(from, cert.height);
      return;
    }
    this.tryDecide({ height: cert.height, proposals: body.proposals, meta: body.meta, cert });
  }

  // ------------------------------------------------------------------ catch-up

  private onBlocks(from: NodeId, blocks: readonly WireBlock[]): void {
    const sorted = [...blocks].sort((a, b) => a.height - b.height);
    const before = this.height;
    for (const b of sorted) {
      if (b.height <= this.height) continue;
      if (b.height > this.height + 1) {
        this.senderDecided(from, b.height, true);
        return;
      }
      if (!this.tryDecide(b)) return;
    }
    // A catch-up batch (more than the one block a non-acceptor is sent per decision) that took us
    // forward: the sender may have more (a joiner replaying a long chain, decision 1390; replies
    // are cut by count and by bytes), so ask at once instead of after the retransmission period.
    // Each such request follows valid new blocks, so their number is bounded by the chain's length.
    if (sorted.length > 1 && this.height > before) this.requestFetch(from, true);
  }

  private onFetch(from: NodeId, height: number): void {
    this.serveBlocks(from, height);
  }

  private serveBlocks(to: NodeId, fromHeight: number): void {
    const blocks = this.retained.range(fromHeight, this.height, this.options.fetchBlocksMax, CATCH_UP_BYTES_MAX);
    if (blocks.length > 0) this.send(to, { type: 'ehbft/blocks', blocks });
  }

  /**
   * `from` has decided up to `decided`. Far behind, or told so by a verifier: fetch at once. One
   * block behind is normal under reordering (the commit is usually in flight): fetch only if
   * it is still missing after a retransmission period.
   */
  private senderDecided(from: NodeId, decided: number, now = false): void {
    if (decided <= this.height) return;
    if (now || decided >= this.height + 2) {
      this.requestFetch(from);
      return;
    }
    if (this.behind === null || this.behind.height !== this.height) this.behind = { from, height: this.height, ticks: 0 };
  }

  private behind: { from: NodeId; height: number; ticks: number } | null = null;

  /** Ask `from` for the blocks after ours, at most once per retransmission period unless `now`. */
  private requestFetch(from: NodeId, now = false): void {
    if (this.fetchCooldown > 0 && !now) return;
    this.fetchCooldown = this.options.retransmitTicks;
    this.send(from, { type: 'ehbft/fetch', height: this.height + 1 });
  }

  /** Verify a certified block at the next height and decide it. */
  private tryDecide(b: WireBlock): boolean {
    if (b.height !== this.height + 1 || b.cert.phase !== 2 || b.cert.height !== b.height) return false;
    const digest = blockDigest(b.height, this.tip, b.proposals.map(fromWire));
    if (!bytesEqual(digest, b.cert.digest) || !bytesEqual(metaDigestOf(b.meta), b.cert.metaDigest)) return false;
    if (!this.verifyCert(b.cert, 2, this.plan)) return false;
    this.decide(b);
    return true;
  }

  // ------------------------------------------------------------------ decision

  private decide(b: WireBlock): void {
    assertInvariant(b.height === this.height + 1, `decided heights are gapless (${b.height} after ${this.height})`);
    const decidingEpoch = this.epoch();
    assertInvariant(decidingEpoch.start <= b.height, `block ${b.height} is decided by the epoch in force (from ${decidingEpoch.start})`);
    assertInvariant(b.meta.members === undefined || b.proposals.length === 0, 'a membership block carries no proposals');
    const proposals = b.proposals.map(fromWire);
    const previousDigest = this.tip;
    const digest = blockDigest(b.height, previousDigest, proposals);
    assertInvariant(bytesEqual(digest, b.cert.digest), 'decided block matches its certificate');

    // Verifiers' view of behaviour: everyone who signed the previous block's commit certificate
    // voted in time and consistently; the co-signers vouch for one another (local trust).
    const prev = b.meta.prevCert;
    if (prev) {
      const signers = [...new Set(prev.votes.map((v) => v.node))].filter((s) => this.memberSet.has(s));
      for (const i of signers) for (const j of signers) if (i !== j) this.rep.observe(i, j);
    }
    for (const e of b.meta.evidence) {
      if (this.verifyEvidence(e)) this.rep.punish(e.node, b.height);
    }
    this.rep.endBlock();

    for (const p of proposals) {
      this.dedup.markDecided(p);
      const key = proposalKey(p);
      this.pending.delete(key);
      this.forwardedAt.delete(key);
      this.inflight.delete(key);
      const rk = this.options.recordKey(p.data);
      if (rk !== null) this.records.add(rk);
    }
    const punished = new Set(b.meta.evidence.map((e) => e.node));
    this.pendingEvidence = this.pendingEvidence.filter((e) => !punished.has(e.node) && !this.rep.isBanned(e.node, b.height));

    this.stateDigest = sha256(encode({ p: this.stateDigest, d: digest, m: b.cert.metaDigest }));
    this.height = b.height;
    this.tip = digest;
    this.lastBlock = b;
    this.outPersist.push(...this.retained.append(b));

    const decidedPlan = this.plan;
    this.prevPlan = decidedPlan;
    this.plan = this.computePlan();

    // Leader rotation, decided by the block's own content so every node agrees: the proposer
    // leads the next height again, unless its term is over (handover flag) or the decided facts
    // show its reputation dropped or that it misbehaved; then the order is re-ranked by
    // reputation with the outgoing leader last.
    const n = this.members.length;
    const proposer = b.meta.proposer;
    const handover =
      b.meta.handover || this.rep.isBanned(proposer, b.height) || this.rep.reputationOf(proposer, b.height) < this.options.reputationDropFraction / n;
    if (handover && n > 1) {
      // Round-robin over the reputable nodes in reputation order: the next one after the
      // outgoing leader leads; view changes then walk down the rest of the ranking.
      const ranking = this.rep.ranking(b.height);
      const reputable = ranking.filter((m) => !this.rep.isBanned(m, b.height) && this.rep.reputationOf(m, b.height) >= this.options.reputationDropFraction / n);
      const cycle = reputable.length > 0 ? reputable : ranking;
      const at = cycle.indexOf(proposer);
      let next = cycle[(at + 1) % cycle.length]!;
      if (next === proposer) next = ranking.find((m) => m !== proposer)!;
      this.leaderOrder = [next, ...ranking.filter((m) => m !== next)];
      this.leaderStart = 0;
      this.stats.handovers += 1;
    } else {
      const idx = this.leaderOrder.indexOf(proposer);
      this.leaderStart = idx >= 0 ? idx : this.leaderStart;
    }
    // A membership block ends its epoch here; the next height belongs to the new member list.
    if (b.meta.members !== undefined) this.enterEpoch(b.meta.members, b.height, proposer, handover);
    this.enterView(0, true);
    this.latestVcView.clear();
    this.vcs.clear();
    this.myVc = null;
    if (this.round && this.round.height <= b.height) {
      for (const k of this.round.keys) this.inflight.delete(k);
      this.round = null;
    }
    this.accepted = null;
    this.lock = null;
    // Blocks without the pending membership step do not reset the timer: it runs from the last
    // view change, so a leader that keeps ordering other blocks instead is replaced.
    if (b.meta.members !== undefined || this.membershipStep() === null) this.progressTicks = 0;
    this.backoff = 0;
    if (this.nvJustification && this.nvJustification.height <= b.height) {
      this.nvJustification = null;
      this.nvReproposal = null;
    }
    for (const key of [...this.seenVotes.keys()]) {
      const v = this.seenVotes.get(key)!;
      if (v.height < b.height) this.seenVotes.delete(key);
    }
    this.persistSnapshot();
    this.persistVotes();
    this.outDecided.push(toDecidedBlock(b, previousDigest, this.options.quorum, decidedPlan.quorum, decidingEpoch));
  }

  private computePlan(): QuorumPlan {
    const n = this.members.length;
    const ranking = this.rep.ranking(this.height);
    const reps = this.rep.reputations(this.height);
    const threshold = this.options.trustFraction / n;
    let trusted = ranking.filter((m) => {
      const i = this.rep.indexOf(m)!;
      return !this.rep.isBanned(m, this.height) && reps[i]! >= threshold;
    });
    const trustedMin = Math.floor(n / 2) + 1;
    if (trusted.length < trustedMin) trusted = ranking.slice(0, trustedMin);
    return makePlan(this.options.quorum, trusted, ranking);
  }

  // ------------------------------------------------------------------ view change

  private enterView(view: number, normal: boolean): void {
    this.view = view;
    this.normal = normal;
    if (this.round && (this.round.view !== view || !normal)) {
      for (const k of this.round.keys) this.inflight.delete(k);
      this.round = null;
    }
    this.outPersist.push({ op: 'put', key: KEY_VIEW, value: encode({ height: this.height + 1, view, normal }) });
  }

  private startViewChange(target: number): void {
    if (target <= this.view && !this.normal) return;
    if (target < this.view) return;
    this.stats.viewChanges += 1;
    // The timer of the new view starts now. Carrying the old count over made a node that joined
    // late in its period (join rule) give up on the new view a few ticks later, and from then on
    // it led every view change by that offset, leaving each view before its leader could gather
    // its vote: a livelock with 4 nodes and one silent Byzantine (simulator seeds 549, 683, 1149 …).
    this.progressTicks = 0;
    this.enterView(target, false);
    this.accepted = null;
    this.announceViewChange();
    // Hand the stalled work to everyone (PBFT's client re-broadcast): nodes that never saw it
    // start their own timers, so enough of them time out for the view change to complete.
    const stalled = [...this.pending.values()].slice(0, this.cutter.countMax).map(toWire);
    if (stalled.length > 0) for (const m of this.members) if (m !== this.id) this.send(m, { type: 'ehbft/forward', proposals: stalled });
  }

  /** Sign and broadcast our view-change vote for the current view (also after a restart). */
  private announceViewChange(): void {
    const target = this.view;
    const h = this.height + 1;
    const lock = this.lock && this.lock.cert.height === h ? this.lock : null;
    const unsigned = { view: target, height: h, lock: lock ? lock.cert : null, node: this.id };
    const vc: ViewChangeVote = { ...unsigned, sig: this.signer.sign(this.bound(unsigned.height, viewChangeStatement(unsigned))) };
    this.myVc = {
      type: 'ehbft/view-change',
      vc,
      lockBody: lock ? lock.body : null,
      last: this.lastBlock,
      evidence: this.pendingEvidence.slice(0, PENDING_EVIDENCE_MAX),
    };
    this.storeVc(vc, lock ? lock.body : null);
    this.latestVcView.set(this.id, target);
    for (const m of this.members) if (m !== this.id) this.send(m, this.myVc);
  }

  private vcQuorumSeen(): boolean {
    const h = this.height + 1;
    const entries = this.vcs.get(this.view);
    if (!entries) return false;
    let count = 0;
    for (const e of entries.values()) if (e.vc.height === h && this.plan.eligible.includes(e.vc.node)) count += 1;
    return count >= this.plan.quorum;
  }

  private storeVc(vc: ViewChangeVote, body: BlockBody | null): void {
    if (vc.view < this.view || vc.view > this.view + VC_VIEWS_AHEAD_MAX) return;
    let entries = this.vcs.get(vc.view);
    if (!entries) {
      entries = new Map();
      this.vcs.set(vc.view, entries);
    }
    entries.set(vc.node, { vc, body });
    for (const v of [...this.vcs.keys()]) if (v < this.view) this.vcs.delete(v);
  }

  private onViewChange(from: NodeId, m: Extract<EhbftMessage, { type: 'ehbft/view-change' }>): void {
    const vc = m.vc;
    if (vc.node !== from || !this.verifier.verify(from, this.bound(vc.height, viewChangeStatement(vc)), vc.sig)) return;
    if (m.last && m.last.height === this.height + 1) this.tryDecide(m.last);
    for (const e of m.evidence) this.absorbEvidence(e, false);
    if (vc.height > this.height + 1) this.senderDecided(from, vc.height - 1);
    else if (vc.height < this.height + 1) this.serveBlocks(from, vc.height);
    else {
      const prevLatest = this.latestVcView.get(from) ?? -1;
      if (vc.view > prevLatest) this.latestVcView.set(from, vc.view);
      let body: BlockBody | null = null;
      if (vc.lock) {
        if (vc.lock.height !== vc.height || !this.verifyCert(vc.lock, 1, this.plan)) return;
        if (m.lockBody && this.bodyMatches(m.lockBody, vc.lock)) body = m.lockBody;
      }
      this.storeVc(vc, body);
    }
    // Join rule: enough nodes want a later view that at least one correct node timed out.
    const later = [...this.latestVcView.entries()].filter(([node, v]) => node !== this.id && v > this.view && this.plan.eligible.includes(node));
    if (later.length >= joinThreshold(this.plan, this.options.viewJoin)) {
      const target = Math.min(...later.map(([, v]) => v));
      this.startViewChange(target);
    }
  }

  private bodyMatches(body: BlockBody, cert: WireCert): boolean {
    const digest = blockDigest(cert.height, this.tip, body.proposals.map(fromWire));
    return bytesEqual(digest, cert.digest) && bytesEqual(metaDigestOf(body.meta), cert.metaDigest);
  }

  /** As the next leader: once a quorum of view-change votes at our height is in, start the view. */
  private maybeNewView(): void {
    if (this.normal || this.leaderOf(this.view) !== this.id) return;
    const h = this.height + 1;
    // A vote whose lock comes without a body we hold is left out (decision 1394): the body is not
    // signed, so a Byzantine node that alone holds a lock could report it bare and, its lock being
    // the highest, have every leader wait for a body nobody has. Leaving it out is safe: a decided
    // block is locked by a quorum, so any quorum of votes holds a correct one reporting that lock —
    // with its body, as a correct node always sends it — and the members accept any quorum.
    const entries = [...(this.vcs.get(this.view)?.values() ?? [])]
      .filter((e) => e.vc.height === h && this.plan.eligible.includes(e.vc.node))
      .map((e) => ({ vc: e.vc, body: e.vc.lock ? (e.body ?? this.bodyFor(e.vc.lock)) : null }))
      .filter((e) => e.vc.lock === null || e.body !== null);
    if (entries.length < this.plan.quorum) return; // wait for more votes (or a retransmission with the body)
    entries.sort((a, b) => (b.vc.lock?.view ?? -1) - (a.vc.lock?.view ?? -1) || (a.vc.node < b.vc.node ? -1 : a.vc.node > b.vc.node ? 1 : 0));
    const chosen = entries.slice(0, this.plan.quorum);
    // Re-propose the highest locked block: it may have been decided somewhere.
    const body = chosen[0]!.body;
    this.nvJustification = { view: this.view, height: h, votes: chosen.map((e) => e.vc) };
    this.nvReproposal = body;
    this.enterView(this.view, true);
    this.myVc = null;
  }

  /** null: invalid; true: valid and it re-proposes a locked block; false: valid, fresh block. */
  private checkJustification(view: number, height: number, votes: readonly ViewChangeVote[], digest: Bytes, metaDigest: Bytes): boolean | null {
    if (height !== this.height + 1) return null;
    if (votes.some((vc) => vc.view !== view || vc.height !== height)) return null;
    const signatures = votes.map((vc) => ({ nodeId: vc.node, signature: vc.sig }));
    const statement = (_: NodeId, i: number): Bytes => this.bound(votes[i]!.height, viewChangeStatement(votes[i]!));
    if (!hasQuorumSignatures(signatures, { eligible: this.plan.eligible, quorum: this.plan.quorum, statement }, this.verifier)) return null;
    let best: WireCert | null = null;
    for (const vc of votes) {
      if (vc.lock) {
        if (vc.lock.height !== height || vc.lock.view >= view || !this.verifyCert(vc.lock, 1, this.plan)) return null;
        if (!best || vc.lock.view > best.view) best = vc.lock;
      }
    }
    if (!best) return false;
    return bytesEqual(best.digest, digest) && bytesEqual(best.metaDigest, metaDigest) ? true : null;
  }

  // ------------------------------------------------------------------ certificates, evidence

  private verifyCert(cert: WireCert, phase: Phase, plan: QuorumPlan): boolean {
    if (cert.phase !== phase) return false;
    const statement = this.bound(cert.height, voteStatement(phase, cert.view, cert.height, cert.digest, cert.metaDigest));
    const signatures = cert.votes.map((v) => ({ nodeId: v.node, signature: v.sig }));
    return hasQuorumSignatures(signatures, { eligible: plan.eligible, quorum: plan.quorum, statement }, this.verifier);
  }

  private verifyEvidence(e: Evidence): boolean {
    const { a, b } = e;
    // The culprit was a member of the epoch of that height, and its votes are bound to that epoch.
    const epoch = this.epochOf(a.height);
    if (epoch === null || !epoch.members.includes(e.node) || !this.memberSet.has(e.node)) return false;
    if (a.phase !== b.phase || a.view !== b.view || a.height !== b.height) return false;
    if (bytesEqual(a.digest, b.digest) && bytesEqual(a.metaDigest, b.metaDigest)) return false;
    return (
      this.verifier.verify(e.node, epochBound(epoch.number, voteStatement(a.phase, a.view, a.height, a.digest, a.metaDigest)), a.sig) &&
      this.verifier.verify(e.node, epochBound(epoch.number, voteStatement(b.phase, b.view, b.height, b.digest, b.metaDigest)), b.sig)
    );
  }

  /** Remember a signed vote; a second, different one for the same slot is proof of equivocation. */
  private noteSignedVote(node: NodeId, v: SignedVote): void {
    if (v.height < this.height) return;
    const key = `${node}|${v.phase}|${v.view}|${v.height}`;
    const first = this.seenVotes.get(key);
    if (!first) {
      if (this.seenVotes.size < SEEN_VOTES_MAX) this.seenVotes.set(key, v);
      return;
    }
    if (bytesEqual(first.digest, v.digest) && bytesEqual(first.metaDigest, v.metaDigest)) return;
    this.absorbEvidence({ node, a: first, b: v });
  }

  /**
   * Keep a verified proof of equivocation for the next block. A node that found it itself tells
   * everyone; a node holding proof against the current leader stops following it at once.
   */
  private absorbEvidence(e: Evidence, foundHere = true): void {
    if (this.pendingEvidence.length >= PENDING_EVIDENCE_MAX) return;
    if (this.pendingEvidence.some((x) => x.node === e.node) || this.rep.isBanned(e.node, this.height)) return;
    if (!this.verifyEvidence(e)) return;
    this.pendingEvidence.push(e);
    this.stats.evidenceCollected += 1;
    if (foundHere) for (const m of this.members) if (m !== this.id) this.send(m, { type: 'ehbft/evidence', evidence: [e] });
    if (this.normal && this.leaderOf(this.view) === e.node && e.node !== this.id) this.startViewChange(this.view + 1);
  }

  private provenFaulty(node: NodeId): boolean {
    return this.rep.isBanned(node, this.height) || this.pendingEvidence.some((e) => e.node === node);
  }

  // ------------------------------------------------------------------ persistence

  private send(to: NodeId, message: EhbftMessage): void {
    assertInvariant(to !== this.id, 'never send to self');
    this.outMessages.push({ to, message });
  }

  private persistVotes(): void {
    const v: DurableVotes = { v1: this.voted1, v2: this.voted2, lock: this.lock };
    this.outPersist.push({ op: 'put', key: KEY_VOTES, value: encode(v) });
  }

  private persistSnapshot(): void {
    const s: DurableSnapshot = {
      height: this.height,
      tip: this.tip,
      stateDigest: this.stateDigest,
      leaderStart: this.leaderStart,
      leaderOrder: this.leaderOrder,
      prevPlan: this.prevPlan,
      records: this.records.toArray(),
      dedup: this.dedup.toJSON(),
      rep: this.rep.snapshot(),
      ...(this.epochs.length > 1 || this.epochs[0]!.number > 0 ? { epochs: this.epochs } : {}),
    };
    this.outPersist.push({ op: 'put', key: KEY_STATE, value: encode(s) });
  }

  private restoreFrom(storage: DurableState): void {
    const raw = storage.get(KEY_STATE);
    if (raw) {
      const s = decodeOrThrow<DurableSnapshot>(raw, KEY_STATE);
      this.height = s.height;
      this.tip = s.tip;
      this.stateDigest = s.stateDigest;
      this.leaderStart = s.leaderStart;
      if (s.epochs && s.epochs.length > 0) {
        // Restart into the epoch the node had entered (a joiner, or after a membership block).
        this.epochs = s.epochs.map((e) => ({ number: e.number, start: e.start, members: [...e.members] }));
        this.members = [...this.epoch().members];
        this.memberSet = new Set(this.members);
        this.rep = new ReputationBook(this.members, this.options.reputation);
      }
      this.leaderOrder = [...s.leaderOrder];
      this.records = RecordSet.from(s.records, this.options.recordsMax);
      this.dedup = DedupWindow.fromJSON(s.dedup);
      this.rep.restore(s.rep);
      this.retained.restore(storage, this.height);
      this.lastBlock = this.retained.get(this.height) ?? null;
      this.plan = this.computePlan();
      this.prevPlan = s.prevPlan;
    }
    const rawView = storage.get(KEY_VIEW);
    if (rawView) {
      const v = decodeOrThrow<{ height: number; view: number; normal: boolean }>(rawView, KEY_VIEW);
      if (v.height === this.height + 1) {
        this.view = v.view;
        this.normal = v.normal;
      }
    }
    const rawVotes = storage.get(KEY_VOTES);
    if (rawVotes) {
      const v = decodeOrThrow<DurableVotes>(rawVotes, KEY_VOTES);
      this.voted1 = v.v1;
      this.voted2 = v.v2;
      this.lock = v.lock && v.lock.cert.height === this.height + 1 ? v.lock : null;
    }
  }
}

function sameValue(a: VoteRecord, b: VoteRecord): boolean {
  return bytesEqual(a.digest, b.digest) && bytesEqual(a.metaDigest, b.metaDigest);
}

function decodeOrThrow<T>(bytes: Bytes, key: string): T {
  try {
    return decodeValue<T>(bytes);
  } catch (err) {
    throw new Error(`ehbft: cannot read persisted ${key}: ${(err as Error).message}`);
  }
}

function toDecidedBlock(b: WireBlock, previousDigest: Bytes, mode: QuorumPlan['mode'], votesNeeded: number, epoch: EpochRecord | null): DecidedBlock {
  // The members of the epoch that decided the block (decision 1290), and after a membership change
  // the epoch its votes are bound to: a verifier that knows every orderer of every config checks
  // the quorum of that epoch, not of its own, longer, list.
  const membership: Record<string, number | Bytes> = epoch ? { members: encode([...epoch.members]) } : {};
  if (epoch && epoch.number > 0) membership.epoch = epoch.number;
  return {
    height: b.height,
    proposals: b.proposals.map(fromWire),
    digest: b.cert.digest,
    previousDigest,
    certificate: {
      scheme: CERT_SCHEME,
      fields: { view: b.cert.view, height: b.height, phase: 2, metaDigest: b.cert.metaDigest, quorum: mode, votesNeeded, ...membership },
      signatures: b.cert.votes.map((v) => ({ nodeId: v.node, signature: v.sig })),
    },
    // The block's metadata (proposer, the previous block's certificate, evidence, membership): the
    // certificate signs only its digest, and a node catching up from the archive needs it whole.
    extra: encode(b.meta),
  };
}

/**
 * The WireBlock a decided block was (toDecidedBlock's inverse), for catch-up from the node's chain;
 * undefined when the archive lacks the metadata or it does not match the certificate's digest.
 * The node that receives it checks the certificate and digests as for any fetched block.
 */
function wireBlockOfArchived(block: DecidedBlock): WireBlock | undefined {
  const c = block.certificate;
  if (block.extra === undefined || c === null || c.scheme !== CERT_SCHEME) return undefined;
  const { view, metaDigest } = c.fields;
  if (typeof view !== 'number' || !(metaDigest instanceof Uint8Array) || !bytesEqual(sha256(block.extra), metaDigest)) return undefined;
  let meta: Meta;
  try {
    meta = decodeValue<Meta>(block.extra);
  } catch {
    return undefined;
  }
  return {
    height: block.height,
    proposals: block.proposals.map(toWire),
    meta,
    cert: { phase: 2, view, height: block.height, digest: block.digest, metaDigest, votes: c.signatures.map((s) => ({ node: s.nodeId, sig: s.signature })) },
  };
}

/**
 * Check a decided block's 'ehbft-commit' certificate from the block alone: distinct members'
 * phase-2 signatures over (view, height, digest, metaDigest), at least the quorum the certificate
 * claims and never fewer than its quorum rule allows for this membership (the exact trusted list
 * of that height depends on the reputation history, which a block alone does not carry).
 *
 * `members` are the orderers the caller knows (every orderer of every config). A certificate that
 * lists its epoch's members (decision 1290) is checked against that list, which must be among
 * them, with signatures bound to its epoch; one without (older chains) against `members`. That
 * each epoch's list is the one the previous epoch's membership block named is a property of the
 * chain, not of one block.
 */
export function verifyEhbftCertificate(block: DecidedBlock, members: readonly NodeId[], verifier: SignatureVerifier): boolean {
  const c = block.certificate;
  if (!c || c.scheme !== CERT_SCHEME) return false;
  const { view, height, phase, metaDigest, quorum, votesNeeded } = c.fields;
  if (typeof view !== 'number' || height !== block.height || phase !== 2 || !(metaDigest instanceof Uint8Array)) return false;
  if ((quorum !== 'safe' && quorum !== 'paper') || typeof votesNeeded !== 'number') return false;
  let signers: readonly NodeId[] = members;
  let epoch = 0;
  const listed = c.fields.members;
  if (listed !== undefined) {
    if (!(listed instanceof Uint8Array)) return false;
    let raw: unknown;
    try {
      raw = decodeValue<unknown>(listed);
    } catch {
      return false;
    }
    if (!Array.isArray(raw) || raw.length === 0 || raw.length > MEMBERS_MAX || new Set(raw).size !== raw.length) return false;
    if (!raw.every((m): m is NodeId => typeof m === 'string' && members.includes(m))) return false;
    signers = raw;
  }
  const epochField = c.fields.epoch;
  if (epochField !== undefined) {
    if (listed === undefined || typeof epochField !== 'number' || !Number.isSafeInteger(epochField) || epochField < 1) return false;
    epoch = epochField;
  }
  const n = signers.length;
  const floor = quorum === 'safe' ? safeQuorum(n) : Math.floor((Math.floor(n / 2) + 1) / 2) + 1;
  const needed = Math.max(votesNeeded, floor);
  // votesNeeded comes from the block: bad values are an invalid certificate, not an assertion.
  if (!Number.isSafeInteger(needed) || needed > n) return false;
  const statement = epochBound(epoch, voteStatement(2, view, height, block.digest, metaDigest));
  return hasQuorumSignatures(c.signatures, { eligible: signers, quorum: needed, statement }, verifier);
}
