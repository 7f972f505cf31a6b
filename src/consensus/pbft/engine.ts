// Castro–Liskov PBFT (OSDI '99, signature variant) as a pure state machine behind the Engine
// contract. See docs/architecture/pbft.md for the protocol walk-through; the comments here say why
// each rule exists.
//
// Normal case: request → PRE-PREPARE (primary of view v = members[v mod n]) → PREPARE (2f matching
// from distinct backups: "prepared") → COMMIT (2f+1 matching: "committed") → execute in sequence
// order. Quorums are q = ⌈(n+f+1)/2⌉, which is 2f+1 for n = 3f+1.
//
// Sequence numbers are heights: the batch executed at sequence number s is the block at height s.
// A null request (a gap filled by a NEW-VIEW) is executed as an empty block, so heights stay gapless
// and identical on every correct replica (decision 0501).
import { bytesEqual, decode, encode, sha256, toHex, type Bytes } from '../../codec/index.ts';
import type { Signer, SignatureVerifier } from '../../crypto/index.ts';
import { viewChangeTimeoutTicks } from '../backoff.ts';
import { hasQuorumSignatures } from '../certificate.ts';
import { BlockCutter } from '../cutter.ts';
import { DedupWindow } from '../dedup.ts';
import { batchDigest, blockDigest, GENESIS_DIGEST, proposalKey, proposalSizeBytes } from '../digest.ts';
import {
  assertInvariant,
  type DecidedBlock,
  type DurableState,
  type Engine,
  type EngineStatus,
  type NodeId,
  type Outbound,
  type PersistOp,
  type Proposal,
  type ProposeResult,
  type Ready,
  type ReconfigureResult,
  type RestoreRequest,
} from '../engine.ts';
import type { EngineContext } from '../registry.ts';
import { encodeDropped, faultsTolerated, PBFT_CERT_SCHEME, quorumSize } from './certificate.ts';
import {
  encodeState,
  entryMembers,
  epochBound,
  isMembershipEntry,
  membershipEntry,
  nextMembershipStep,
  parseMembers,
  sameMembers,
  sameSet,
  splitState,
  type EpochInfo,
} from './epoch.ts';
import {
  CLIENT_ID_LENGTH_MAX,
  headerOf,
  parseMessage,
  signingBytes,
  withWireTypes,
  type CheckpointMsg,
  type CommitCertMsg,
  type CommitMsg,
  type MessageLimits,
  type NewViewMsg,
  type PbftMessage,
  type PrepareMsg,
  type PreparedCert,
  type PrePrepareHeader,
  type PrePrepareMsg,
  type PbftMessageType,
  type RequestMsg,
  type Signed,
  type StateMsg,
  type StatusMsg,
  type ViewChangeMsg,
} from './messages.ts';
import { parsePbftOptions, type PbftOptions } from './options.ts';

const EMPTY_DEDUP: Bytes = encode([]);
/** stateDigest of the genesis checkpoint (sequence number 0): an empty dedup window. */
export const GENESIS_STATE_DIGEST: Bytes = sha256(EMPTY_DEDUP);
/** Digest of the null request (an empty batch). */
export const NULL_DIGEST: Bytes = batchDigest([]);

// Durable keys. Sequence numbers are zero-padded so that keysWithPrefix lists them in order.
const K_VIEW = 'pbft/view';
const K_EXEC = 'pbft/exec';
const K_STABLE = 'pbft/stable';
const K_BASE = 'pbft/base';
const K_NEWVIEW = 'pbft/nv';
const P_EXECUTED = 'pbft/x/';
const P_SLOT = 'pbft/s/';
const P_PREPARED = 'pbft/p/';
const seqKey = (prefix: string, seq: number): string => prefix + seq.toString().padStart(16, '0');
/** Messages whose signatures are not bound to the membership epoch: facts about the agreed chain
 *  (checkpoints, transferred state, relayed certificates) and progress reports that let a replica
 *  of another epoch catch up. Everything else votes, and a vote counts in its own epoch only. */
const EPOCH_FREE: ReadonlySet<PbftMessageType> = new Set<PbftMessageType>(['pbft/checkpoint', 'pbft/status', 'pbft/state', 'pbft/commit-cert']);

export type DropReason =
  | 'malformed'
  | 'nonMember'
  | 'self'
  | 'badSignature'
  | 'wrongView'
  | 'wrongPrimary'
  | 'outOfWindow'
  | 'badDigest'
  | 'badBatch'
  | 'conflict'
  | 'badProof'
  | 'badNewView'
  | 'stale'
  | 'limit';

export interface PbftStats {
  received: number;
  dropped: Record<DropReason, number>;
  viewChangesStarted: number;
  /** View changes started because the primary fell silent with no request pending. */
  silentPrimaryViewChanges: number;
  newViewsInstalled: number;
  checkpointsStable: number;
  stateTransfers: number;
  executed: number;
  /** Membership epochs entered (executed membership entries and transferred epochs). */
  epochChanges: number;
}

function newStats(): PbftStats {
  return {
    received: 0,
    dropped: {
      malformed: 0,
      nonMember: 0,
      self: 0,
      badSignature: 0,
      wrongView: 0,
      wrongPrimary: 0,
      outOfWindow: 0,
      badDigest: 0,
      badBatch: 0,
      conflict: 0,
      badProof: 0,
      badNewView: 0,
      stale: 0,
      limit: 0,
    },
    viewChangesStarted: 0,
    silentPrimaryViewChanges: 0,
    newViewsInstalled: 0,
    checkpointsStable: 0,
    stateTransfers: 0,
    executed: 0,
    epochChanges: 0,
  };
}

/** One sequence number's messages in the current view. */
interface Slot {
  readonly seq: number;
  prePrepare: PrePrepareHeader | null;
  batch: readonly Proposal[] | null;
  readonly prepares: Map<NodeId, PrepareMsg>;
  readonly commits: Map<NodeId, CommitMsg>;
  myPrepare: PrepareMsg | null;
  myCommit: CommitMsg | null;
  committed: boolean;
  /** Tick the slot was created: only slots older than a status interval are retransmitted. */
  readonly createdTick: number;
}

/** Proof that (view, seq, digest) committed: enough to execute seq anywhere, in any view. */
interface CommitCert {
  readonly view: number;
  readonly seq: number;
  readonly digest: Bytes;
  readonly batch: readonly Proposal[];
  readonly commits: readonly CommitMsg[];
}

interface StableCheckpoint {
  readonly seq: number;
  readonly blockDigest: Bytes;
  readonly stateDigest: Bytes;
  readonly proof: readonly CheckpointMsg[];
}

interface CheckpointState {
  readonly blockDigest: Bytes;
  readonly stateDigest: Bytes;
  /** encode(DedupWindow.toJSON()) at this checkpoint: what state transfer ships. */
  readonly dedup: Bytes;
}

interface OEntry {
  readonly seq: number;
  readonly digest: Bytes;
  readonly batch: readonly Proposal[];
}

interface ComputedO {
  readonly minS: number;
  readonly maxS: number;
  readonly checkpointFrom: ViewChangeMsg;
  readonly entries: readonly OEntry[];
}

/** What tests and the lab may look at (read-only copies). */
export interface PbftInspection {
  readonly view: number;
  readonly changing: boolean;
  readonly lowWatermark: number;
  readonly highWatermark: number;
  readonly executedSeq: number;
  readonly executedDigest: Bytes;
  readonly stableSeq: number;
  readonly slotSeqs: readonly number[];
  readonly preparedSeqs: readonly number[];
  readonly pendingRequests: number;
  readonly viewChangeStreak: number;
  readonly timerTicks: number;
  readonly timeoutTicks: number;
  readonly nextSeq: number;
  readonly epoch: number;
  readonly epochStartSeq: number;
  readonly members: readonly NodeId[];
}

function compareBytes(a: Bytes, b: Bytes): number {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function hasDuplicates(batch: readonly Proposal[]): boolean {
  const keys = new Set<string>();
  for (const p of batch) keys.add(proposalKey(p));
  return keys.size !== batch.length;
}

export class PbftEngine implements Engine<PbftMessage> {
  readonly id: NodeId;
  readonly stats: PbftStats = newStats();
  private members: readonly NodeId[] = [];
  private memberSet: ReadonlySet<NodeId> = new Set();
  private n = 0;
  private f = 0;
  private q = 0;
  private readonly opts: PbftOptions;
  private limits!: MessageLimits;
  private readonly cutterCountMax: number;
  private readonly cutterBytesMax: number;
  /** The membership epoch in force (decision 1270; epoch.ts). */
  private epoch: EpochInfo;
  /** The orderer set of the config in force, as the driver last said (Engine.reconfigure). */
  private target: readonly NodeId[] | null = null;
  private targetSet: ReadonlySet<NodeId> = new Set();
  /** At the primary: the sequence number of the membership entry pre-prepared in this view. */
  private membershipSeq: number | null = null;
  /** Matching STATE offers by (seq, digests): f + 1 members vouch for a state without a proof. */
  private readonly stateOffers = new Map<string, Set<NodeId>>();
  private readonly signer: Signer;
  private readonly verifier: SignatureVerifier;
  private readonly cutter: BlockCutter;

  // --- protocol state
  private view = 0;
  /** True between sending VIEW-CHANGE for `view` and installing its NEW-VIEW. */
  private changing = false;
  /** Consecutive view changes without executing a new request (exponential timeouts). */
  private streak = 0;
  private exec: { seq: number; digest: Bytes } = { seq: 0, digest: GENESIS_DIGEST };
  private dedup = new DedupWindow();
  private stable: StableCheckpoint = { seq: 0, blockDigest: GENESIS_DIGEST, stateDigest: GENESIS_STATE_DIGEST, proof: [] };
  /** The checkpoint whose state is persisted; executed batches above it are replayed on restart. */
  private baseSeq = 0;
  private readonly ckptStates = new Map<number, CheckpointState>();
  private readonly ownCheckpoints = new Map<number, CheckpointMsg>();
  private readonly checkpoints = new Map<number, Map<NodeId, CheckpointMsg>>();
  private readonly slots = new Map<number, Slot>();
  /** P: the highest-view prepared certificate per sequence number above h. */
  private readonly preparedCerts = new Map<number, PreparedCert>();
  /** Committed, not yet executed (waiting for lower sequence numbers). */
  private readonly certified = new Map<number, CommitCert>();
  /** Executed above h: served to lagging replicas as COMMIT-CERTs. */
  private readonly executedCerts = new Map<number, CommitCert>();
  /** Known, unexecuted client requests (the view-change timer waits on these). */
  private readonly pending = new Map<string, Proposal>();
  /** At the primary: keys in the cutter or in a pre-prepare of this view. */
  private readonly queued = new Set<string>();
  private nextSeq = 1;
  /** Latest valid VIEW-CHANGE per replica (for views ≥ the current one). */
  private readonly latestVc = new Map<NodeId, ViewChangeMsg>();
  private myVc: ViewChangeMsg | null = null;
  private newView: NewViewMsg | null = null;
  private timerTicks = 0;
  /** When the current view began here: a new primary gets a full silent-primary timeout. */
  private viewStartTick = 0;
  private rebroadcastDone = false;
  private ticks = 0;
  /** replica → the tick we last accepted a signed message from it (liveness evidence only). */
  private readonly heardTick = new Map<NodeId, number>();
  private readonly lastAnswered = new Map<NodeId, number>();
  private readonly verifiedVcs = new Set<string>();

  // --- Ready under construction
  private persistOps: PersistOp[] = [];
  private outbox: Outbound<PbftMessage>[] = [];
  private decidedOut: DecidedBlock[] = [];
  private restoreOut: RestoreRequest | null = null;
  /** Blocks to deliver once the pending restore has been advanced (restart re-delivery). */
  private heldAfterRestore: DecidedBlock[] = [];

  constructor(ctx: EngineContext) {
    assertInvariant(ctx.members.length >= 1, 'pbft needs at least one member');
    assertInvariant(new Set(ctx.members).size === ctx.members.length, 'pbft members must be distinct');
    // A node outside the initial members is a joiner: it waits, outside the protocol, for the
    // epoch that includes it (its target) and catches up by state transfer (decision 1270).
    this.id = ctx.id;
    this.opts = parsePbftOptions(ctx.options);
    this.signer = ctx.signer;
    this.verifier = ctx.verifier;
    this.cutter = new BlockCutter(ctx.cutter);
    this.cutterCountMax = ctx.cutter.countMax;
    this.cutterBytesMax = ctx.cutter.sizeBytesMax;
    this.epoch = { number: 0, members: [...ctx.members], startSeq: 1, startBlockDigest: GENESIS_DIGEST, startStateDigest: GENESIS_STATE_DIGEST };
    this.setMembers(ctx.members);
    this.restoreDurable(ctx.storage, ctx.appliedHeight);
  }

  // =============================================================================================
  // Engine contract

  tick(): void {
    this.ticks += 1;
    if (!this.isMember()) {
      // A joiner (or a removed replica): ask the members of its target for the state that takes it in.
      if (this.ticks % this.opts.retransmitTicks === 0) {
        const status = this.makeStatus();
        for (const m of new Set([...this.targetSet, ...this.members])) if (m !== this.id) this.outbox.push({ to: m, message: status });
      }
      return;
    }
    this.maybeProposeMembership();
    if (!this.changing && this.isPrimary() && this.cutter.tick()) this.maybeCut(true);
    this.tickTimer();
    if (this.ticks % this.opts.retransmitTicks === 0) this.broadcast(this.makeStatus());
  }

  step(from: NodeId, message: PbftMessage): void {
    this.stats.received += 1;
    // Members vote; nodes of the target (joiners) may only ask (STATUS) and be answered (STATE).
    const known = (id: NodeId): boolean => this.memberSet.has(id) || this.targetSet.has(id);
    if (!known(from)) return this.drop('nonMember');
    const msg = parseMessage(message, this.limits);
    if (!msg) return this.drop('malformed');
    if (!known(msg.replica)) return this.drop('nonMember');
    // Our own identity from the network: a replay of our messages or a twin. Never trust it.
    if (msg.replica === this.id) return this.drop('self');
    if (!this.isMember()) {
      if (msg.type !== 'pbft/state' || !this.verifier.verify(msg.replica, this.sigBytes(msg), msg.sig)) return this.drop('nonMember');
      return this.onState(msg);
    }
    if (!this.memberSet.has(msg.replica)) {
      // A removed replica, or a joiner not yet in: it votes nowhere; a joiner's STATUS is answered.
      if (msg.type !== 'pbft/status' || !this.verifier.verify(msg.replica, this.sigBytes(msg), msg.sig)) return this.drop('nonMember');
      return this.onStatus(msg, from);
    }
    if (!this.verifySig(msg)) return this.drop('badSignature');
    this.heardTick.set(msg.replica, this.ticks);
    switch (msg.type) {
      case 'pbft/request':
        return this.onRequest(msg);
      case 'pbft/pre-prepare':
        return this.onPrePrepare(msg);
      case 'pbft/prepare':
        return this.onPrepare(msg);
      case 'pbft/commit':
        return this.onCommit(msg);
      case 'pbft/checkpoint':
        return this.onCheckpoint(msg);
      case 'pbft/view-change':
        return this.onViewChange(msg, from);
      case 'pbft/new-view':
        return this.onNewView(msg);
      case 'pbft/status':
        return this.onStatus(msg, from);
      case 'pbft/commit-cert':
        return this.onCommitCert(msg);
      case 'pbft/state':
        return this.onState(msg);
    }
  }

  propose(proposal: Proposal): ProposeResult {
    const { clientId, seq, data } = proposal;
    if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > CLIENT_ID_LENGTH_MAX) {
      return { accepted: false, reason: 'invalid' };
    }
    if (!Number.isSafeInteger(seq) || seq < 1 || !(data instanceof Uint8Array)) return { accepted: false, reason: 'invalid' };
    if (isMembershipEntry(proposal)) return { accepted: false, reason: 'invalid' };
    if (!this.isMember()) return { accepted: false, reason: 'not-member' };
    const p: Proposal = { clientId, seq, data };
    if (proposalSizeBytes(p) > this.cutter.config.sizeBytesMax) return { accepted: false, reason: 'too-large' };
    if (this.dedup.isDecided(p) || this.pending.has(proposalKey(p))) return { accepted: true };
    if (this.pending.size >= this.opts.pendingRequestsMax) return { accepted: false, reason: 'queue-full' };
    this.addRequest(p);
    // Like a PBFT client multicasting its request: every replica learns it and runs its timer,
    // so a primary that ignores it is voted out.
    this.broadcast(this.sign<RequestMsg>({ type: 'pbft/request', replica: this.id, proposals: [p] }));
    return { accepted: true };
  }

  hasReady(): boolean {
    return this.persistOps.length > 0 || this.outbox.length > 0 || this.decidedOut.length > 0 || this.restoreOut !== null;
  }

  ready(): Ready<PbftMessage> {
    return {
      persist: [...this.persistOps],
      messages: [...this.outbox],
      decided: [...this.decidedOut],
      restore: this.restoreOut,
    };
  }

  advance(rd: Ready<PbftMessage>): void {
    this.persistOps.splice(0, rd.persist.length);
    this.outbox.splice(0, rd.messages.length);
    this.decidedOut.splice(0, rd.decided.length);
    if (rd.restore !== null && rd.restore === this.restoreOut) {
      this.restoreOut = null;
      this.decidedOut.push(...this.heldAfterRestore);
      this.heldAfterRestore = [];
      // Execution waited for the application to restore; resume it.
      this.tryExecute();
    }
  }

  status(): EngineStatus {
    const primary = this.primaryOf(this.view);
    return {
      id: this.id,
      role: !this.isMember() ? 'outsider' : this.changing ? 'view-change' : primary === this.id ? 'primary' : 'backup',
      leader: this.changing ? null : primary,
      epoch: this.view,
      decidedHeight: this.exec.seq,
      members: this.members,
    };
  }

  inspect(): PbftInspection {
    return {
      view: this.view,
      changing: this.changing,
      lowWatermark: this.stable.seq,
      highWatermark: this.highWatermark(),
      executedSeq: this.exec.seq,
      executedDigest: this.exec.digest,
      stableSeq: this.stable.seq,
      slotSeqs: [...this.slots.keys()].sort((a, b) => a - b),
      preparedSeqs: [...this.preparedCerts.keys()].sort((a, b) => a - b),
      pendingRequests: this.pending.size,
      viewChangeStreak: this.streak,
      timerTicks: this.timerTicks,
      timeoutTicks: this.timeoutTicks(),
      nextSeq: this.nextSeq,
      epoch: this.epoch.number,
      epochStartSeq: this.epoch.startSeq,
      members: this.members,
    };
  }

  /**
   * The orderer set of the config in force (the driver calls this on every tick). The engine moves
   * toward it one member at a time, each step a membership entry the primary orders (epoch.ts).
   */
  reconfigure(members: readonly NodeId[]): ReconfigureResult {
    const target = parseMembers(members);
    if (!target) return 'settled';
    if (!this.target || !sameMembers(this.target, target)) {
      this.target = target;
      this.targetSet = new Set(target);
      this.updateLimits();
    }
    if (sameSet(this.members, target)) return 'settled';
    if (!this.isMember()) return 'stepping';
    const step = nextMembershipStep(this.members, target);
    if (step) {
      // Every member waits for the step like for a client request: a primary that does not order
      // it is voted out by the view-change timer.
      const entry = membershipEntry(this.epoch.number + 1, step);
      if (!this.dedup.isDecided(entry) && !this.pending.has(proposalKey(entry))) this.addRequest(entry);
    }
    this.maybeProposeMembership();
    return this.isPrimary() ? 'stepping' : 'not-leader';
  }

  // =============================================================================================
  // Helpers

  private primaryOf(view: number): NodeId {
    return this.members[view % this.n]!;
  }

  private isMember(): boolean {
    return this.memberSet.has(this.id);
  }

  /** Install a member list: n, f and the quorum follow it (consensus/quorum.ts). */
  private setMembers(members: readonly NodeId[]): void {
    this.members = [...members];
    this.memberSet = new Set(this.members);
    this.n = this.members.length;
    this.f = faultsTolerated(this.n);
    this.q = quorumSize(this.n);
    this.updateLimits();
  }

  private updateLimits(): void {
    this.limits = {
      membersMax: Math.max(this.n, this.target?.length ?? 0),
      batchCountMax: this.cutterCountMax,
      batchBytesMax: this.cutterBytesMax,
      requestProposalsMax: Math.max(this.opts.rebroadcastMax, 1),
      logWindow: this.opts.logWindow,
      stateBytesMax: this.opts.stateBytesMax,
    };
  }

  /** What a signature covers: votes are bound to the epoch they are cast in (epoch.ts). */
  private sigBytes(msg: Signed): Bytes {
    const bytes = signingBytes(msg);
    return EPOCH_FREE.has(msg.type) ? bytes : epochBound(this.epoch.number, bytes);
  }

  /**
   * The primary orders the next membership step alone in its batch and cuts nothing after it in
   * this view: what follows it belongs to the next epoch.
   */
  private maybeProposeMembership(): void {
    if (!this.target || this.changing || !this.isPrimary() || this.membershipSeq !== null) return;
    if (this.nextSeq > this.highWatermark()) return;
    const step = nextMembershipStep(this.members, this.target);
    if (!step) return;
    const entry = membershipEntry(this.epoch.number + 1, step);
    if (this.dedup.isDecided(entry)) return;
    this.membershipSeq = this.nextSeq;
    this.sendPrePrepare([entry]);
  }

  /** A membership entry may be prepared only as the exact next step toward this replica's target. */
  private validMembershipBatch(batch: readonly Proposal[]): boolean {
    if (!batch.some(isMembershipEntry)) return true;
    if (batch.length !== 1 || !this.target) return false;
    const entry = batch[0]!;
    const members = entryMembers(entry);
    const step = nextMembershipStep(this.members, this.target);
    return members !== null && step !== null && entry.seq === this.epoch.number + 1 && sameMembers(members, step);
  }

  private isPrimary(): boolean {
    return this.primaryOf(this.view) === this.id;
  }

  private highWatermark(): number {
    return this.stable.seq + this.opts.logWindow;
  }

  private timeoutTicks(): number {
    return viewChangeTimeoutTicks(this.opts.viewChangeTimeoutTicks, this.streak - 1, this.opts.viewChangeBackoffMax);
  }

  private drop(reason: DropReason): void {
    this.stats.dropped[reason] += 1;
  }

  private sign<T extends Signed>(unsigned: Omit<T, 'sig'>): T {
    const withEmpty = { ...unsigned, sig: new Uint8Array(0) } as unknown as T;
    return { ...unsigned, sig: this.signer.sign(this.sigBytes(withEmpty)) } as unknown as T;
  }

  /** A quorum of distinct eligible replicas signed these messages (consensus/certificate.ts). */
  private signedByQuorum(messages: readonly Signed[], eligible: ReadonlySet<NodeId>, quorum: number): boolean {
    const signatures = messages.map((m) => ({ nodeId: m.replica, signature: m.sig }));
    return hasQuorumSignatures(signatures, { eligible, quorum, statement: (_, i) => this.sigBytes(messages[i]!) }, this.verifier);
  }

  private verifySig(msg: Signed): boolean {
    return this.memberSet.has(msg.replica) && this.verifier.verify(msg.replica, this.sigBytes(msg), msg.sig);
  }

  private send(to: NodeId, message: PbftMessage): void {
    if (to !== this.id) this.outbox.push({ to, message });
  }

  private broadcast(message: PbftMessage): void {
    if (!this.isMember()) return;
    for (const m of this.members) if (m !== this.id) this.outbox.push({ to: m, message });
  }

  private put(key: string, value: unknown): void {
    this.persistOps.push({ op: 'put', key, value: encode(value) });
  }

  private del(key: string): void {
    this.persistOps.push({ op: 'delete', key });
  }

  private persistView(): void {
    this.put(K_VIEW, { view: this.view, changing: this.changing, streak: this.streak });
  }

  private persistSlot(slot: Slot): void {
    this.put(seqKey(P_SLOT, slot.seq), {
      view: this.view,
      prePrepare: slot.prePrepare,
      batch: slot.batch,
      myPrepare: slot.myPrepare,
      myCommit: slot.myCommit,
    });
  }

  private getSlot(seq: number): Slot {
    let slot = this.slots.get(seq);
    if (!slot) {
      slot = {
        seq,
        prePrepare: null,
        batch: null,
        prepares: new Map(),
        commits: new Map(),
        myPrepare: null,
        myCommit: null,
        committed: false,
        createdTick: this.ticks,
      };
      this.slots.set(seq, slot);
    }
    return slot;
  }

  private inWindow(seq: number): boolean {
    return seq > this.stable.seq && seq <= this.highWatermark();
  }

  // =============================================================================================
  // Requests and the primary's batching

  private addRequest(p: Proposal): void {
    const key = proposalKey(p);
    if (this.dedup.isDecided(p) || this.pending.has(key)) return;
    if (this.pending.size >= this.opts.pendingRequestsMax) return this.drop('limit');
    this.pending.set(key, p);
    if (!this.changing && this.isPrimary()) this.enqueue(p);
  }

  private enqueue(p: Proposal): void {
    const key = proposalKey(p);
    // Membership entries are ordered alone (maybeProposeMembership), never in a client batch.
    if (this.queued.has(key) || isMembershipEntry(p)) return;
    if (this.cutter.add(p) === 'added') {
      this.queued.add(key);
      this.maybeCut(false);
    }
  }

  private onRequest(msg: RequestMsg): void {
    for (const p of msg.proposals) {
      if (proposalSizeBytes(p) > this.cutter.config.sizeBytesMax || isMembershipEntry(p)) {
        this.drop('badBatch');
        continue;
      }
      this.addRequest(p);
    }
  }

  /** Cut and pre-prepare batches while the window allows (a due timeout cuts one partial batch). */
  private maybeCut(timeoutDue: boolean): void {
    let due = timeoutDue;
    while (!this.changing && this.isPrimary() && this.membershipSeq === null && this.nextSeq <= this.highWatermark() && this.cutter.size > 0) {
      if (!due && !this.cutter.hasFullBatch()) break;
      due = false;
      const batch = this.cutter.cut().filter((p) => {
        const fresh = !this.dedup.isDecided(p);
        if (!fresh) this.queued.delete(proposalKey(p));
        return fresh;
      });
      if (batch.length > 0) this.sendPrePrepare(batch);
    }
  }

  private sendPrePrepare(batch: readonly Proposal[]): void {
    const seq = this.nextSeq++;
    const header = this.sign<PrePrepareHeader>({ type: 'pbft/pre-prepare', view: this.view, seq, digest: batchDigest(batch), replica: this.id });
    const slot = this.getSlot(seq);
    assertInvariant(slot.prePrepare === null, `primary reuses sequence number ${seq} in view ${this.view}`);
    slot.prePrepare = header;
    slot.batch = batch;
    this.persistSlot(slot);
    this.broadcast({ ...header, batch });
    this.checkPrepared(slot);
  }

  // =============================================================================================
  // Normal case

  private onPrePrepare(msg: PrePrepareMsg): void {
    if (this.changing || msg.view !== this.view) return this.drop('wrongView');
    if (msg.replica !== this.primaryOf(this.view)) return this.drop('wrongPrimary');
    if (!this.inWindow(msg.seq)) return this.drop('outOfWindow');
    if (!bytesEqual(batchDigest(msg.batch), msg.digest)) return this.drop('badDigest');
    if (hasDuplicates(msg.batch) || !this.validMembershipBatch(msg.batch)) return this.drop('badBatch');
    const slot = this.getSlot(msg.seq);
    if (slot.prePrepare) {
      // A second, different pre-prepare for (v, n) is equivocation: keep the first.
      if (!bytesEqual(slot.prePrepare.digest, msg.digest)) this.drop('conflict');
      return;
    }
    this.acceptPrePrepare(slot, headerOf(msg), msg.batch);
  }

  private acceptPrePrepare(slot: Slot, header: PrePrepareHeader, batch: readonly Proposal[]): void {
    slot.prePrepare = header;
    slot.batch = batch;
    for (const p of batch) {
      const key = proposalKey(p);
      if (!this.dedup.isDecided(p) && !this.pending.has(key) && this.pending.size < this.opts.pendingRequestsMax) this.pending.set(key, p);
    }
    if (this.isPrimary()) {
      this.persistSlot(slot);
    } else {
      const prepare = this.sign<PrepareMsg>({ type: 'pbft/prepare', view: this.view, seq: slot.seq, digest: header.digest, replica: this.id });
      slot.myPrepare = prepare;
      slot.prepares.set(this.id, prepare);
      this.persistSlot(slot);
      this.broadcast(prepare);
    }
    this.checkPrepared(slot);
  }

  private onPrepare(msg: PrepareMsg): void {
    if (this.changing || msg.view !== this.view) return this.drop('wrongView');
    if (msg.replica === this.primaryOf(this.view)) return this.drop('wrongPrimary');
    if (!this.inWindow(msg.seq)) return this.drop('outOfWindow');
    const slot = this.getSlot(msg.seq);
    if (!this.storeVote(slot.prepares, msg, slot)) return;
    this.checkPrepared(slot);
  }

  private onCommit(msg: CommitMsg): void {
    if (this.changing || msg.view !== this.view) return this.drop('wrongView');
    if (!this.inWindow(msg.seq)) return this.drop('outOfWindow');
    const slot = this.getSlot(msg.seq);
    if (!this.storeVote(slot.commits, msg, slot)) return;
    this.checkCommitted(slot);
  }

  /**
   * One vote per replica per slot. A correct replica votes once; a Byzantine one may vote for two
   * digests, and we prefer the vote that matches the accepted pre-prepare (either way it is one vote).
   */
  private storeVote<T extends PrepareMsg | CommitMsg>(votes: Map<NodeId, T>, msg: T, slot: Slot): boolean {
    const existing = votes.get(msg.replica);
    if (existing) {
      if (bytesEqual(existing.digest, msg.digest)) return false;
      if (!slot.prePrepare || !bytesEqual(slot.prePrepare.digest, msg.digest)) {
        this.drop('conflict');
        return false;
      }
    }
    votes.set(msg.replica, msg);
    return true;
  }

  private matching<T extends PrepareMsg | CommitMsg>(votes: Map<NodeId, T>, digest: Bytes, exclude: NodeId | null): T[] {
    const out: T[] = [];
    for (const v of votes.values()) if (v.replica !== exclude && bytesEqual(v.digest, digest)) out.push(v);
    return out.sort((a, b) => (a.replica < b.replica ? -1 : a.replica > b.replica ? 1 : 0));
  }

  private checkPrepared(slot: Slot): void {
    const pp = slot.prePrepare;
    if (!pp || !slot.batch) return;
    if (!slot.myCommit) {
      const prepares = this.matching(slot.prepares, pp.digest, pp.replica);
      if (prepares.length < this.q - 1) return;
      // In-order commit (decision 1270): COMMIT for n only once every sequence number below it
      // (above what is executed) prepared here in this view and none is a membership entry. So
      // nothing above a membership entry commits in the epoch it ends: any commit quorum holds a
      // correct replica that prepared the entry's slot as something else, which sticks.
      if (!this.lowerSlotsPrepared(slot.seq)) return;
      // Prepared: remember the certificate (it goes into VIEW-CHANGEs) and commit.
      const cert: PreparedCert = { prePrepare: pp, batch: slot.batch, prepares: prepares.slice(0, this.q - 1) };
      this.preparedCerts.set(slot.seq, cert);
      this.put(seqKey(P_PREPARED, slot.seq), cert);
      const commit = this.sign<CommitMsg>({ type: 'pbft/commit', view: this.view, seq: slot.seq, digest: pp.digest, replica: this.id });
      slot.myCommit = commit;
      slot.commits.set(this.id, commit);
      this.persistSlot(slot);
      this.broadcast(commit);
      this.checkCommitted(slot);
      // The next slot may have waited for this one.
      const next = this.slots.get(slot.seq + 1);
      if (next && !next.myCommit) this.checkPrepared(next);
      return;
    }
    this.checkCommitted(slot);
  }

  private lowerSlotsPrepared(seq: number): boolean {
    for (let s = Math.max(this.exec.seq, this.stable.seq) + 1; s < seq; s++) {
      const slot = this.slots.get(s);
      if (!slot || !slot.myCommit || !slot.batch || slot.batch.some(isMembershipEntry)) return false;
    }
    return true;
  }

  private checkCommitted(slot: Slot): void {
    const pp = slot.prePrepare;
    if (slot.committed || !pp || !slot.batch) return;
    // q matching commits prove the request committed (≥ f+1 correct replicas prepared it), which
    // is all execution needs, even where this replica's own prepare quorum was lost.
    const commits = this.matching(slot.commits, pp.digest, null);
    if (commits.length < this.q) return;
    slot.committed = true;
    this.certify({ view: this.view, seq: slot.seq, digest: pp.digest, batch: slot.batch, commits: commits.slice(0, this.q) });
  }

  private certify(cert: CommitCert): void {
    if (cert.seq <= this.exec.seq || this.certified.has(cert.seq)) return;
    if (this.certified.size >= 2 * this.opts.logWindow) return this.drop('limit');
    this.certified.set(cert.seq, cert);
    this.tryExecute();
  }

  private onCommitCert(msg: CommitCertMsg): void {
    if (msg.seq <= this.exec.seq || this.certified.has(msg.seq)) return this.drop('stale');
    if (msg.seq > Math.max(this.highWatermark(), this.exec.seq + this.opts.logWindow)) return this.drop('outOfWindow');
    if (!bytesEqual(batchDigest(msg.batch), msg.digest)) return this.drop('badDigest');
    for (const c of msg.commits) {
      if (c.view !== msg.view || c.seq !== msg.seq || !bytesEqual(c.digest, msg.digest)) return this.drop('badProof');
    }
    if (!this.signedByQuorum(msg.commits, this.memberSet, this.q)) return this.drop('badProof');
    this.certify({ view: msg.view, seq: msg.seq, digest: msg.digest, batch: msg.batch, commits: msg.commits });
  }

  // =============================================================================================
  // Execution and checkpoints

  private tryExecute(): void {
    // While the application restores (state transfer), later blocks must wait for it.
    let progressed = false;
    while (this.restoreOut === null) {
      const cert = this.certified.get(this.exec.seq + 1);
      if (!cert) break;
      this.certified.delete(cert.seq);
      this.execute(cert);
      progressed = true;
    }
    if (progressed) this.recheckNextSlot();
  }

  /** Execution or a stable checkpoint moved past slots a later slot's COMMIT waited on. */
  private recheckNextSlot(): void {
    const next = this.slots.get(Math.max(this.exec.seq, this.stable.seq) + 1);
    if (next && !next.myCommit) this.checkPrepared(next);
  }

  /**
   * Filter the batch through the dedup window; returns the block and what was dropped. A
   * membership entry is never part of a block: it is listed as dropped (the certificate still
   * proves the batch), and when it is the next epoch's it is returned as `membership`.
   */
  private applyBatch(
    seq: number,
    batch: readonly Proposal[],
  ): { proposals: Proposal[]; dropped: Array<{ index: number; proposal: Proposal }>; digest: Bytes; membership: NodeId[] | null } {
    const proposals: Proposal[] = [];
    const dropped: Array<{ index: number; proposal: Proposal }> = [];
    let membership: NodeId[] | null = null;
    batch.forEach((p, index) => {
      const fresh = this.dedup.markDecided(p);
      if (fresh && !isMembershipEntry(p)) return proposals.push(p);
      dropped.push({ index, proposal: p });
      if (fresh && p.seq === this.epoch.number + 1 && membership === null) membership = entryMembers(p);
    });
    return { proposals, dropped, digest: blockDigest(seq, this.exec.digest, proposals), membership };
  }

  private execute(cert: CommitCert): void {
    assertInvariant(cert.seq === this.exec.seq + 1, `execute out of order: ${cert.seq} after ${this.exec.seq}`);
    const previousDigest = this.exec.digest;
    const { proposals, dropped, digest, membership } = this.applyBatch(cert.seq, cert.batch);
    let progress = proposals.length > 0;
    for (const p of cert.batch) {
      const key = proposalKey(p);
      if (this.pending.delete(key)) progress = true;
      this.queued.delete(key);
    }
    this.decidedOut.push(makeBlock(cert, proposals, dropped, digest, previousDigest, this.epoch));
    this.exec = { seq: cert.seq, digest };
    this.executedCerts.set(cert.seq, cert);
    this.put(seqKey(P_EXECUTED, cert.seq), { view: cert.view, seq: cert.seq, digest: cert.digest, batch: cert.batch, commits: cert.commits });
    this.put(K_EXEC, this.exec);
    this.stats.executed += 1;
    if (progress) {
      this.timerTicks = 0;
      this.rebroadcastDone = false;
      if (!this.changing && this.streak > 0) {
        this.streak = 0;
        this.persistView();
      }
    }
    if (membership) return this.enterEpoch(membership);
    if (cert.seq % this.opts.checkpointInterval === 0) this.takeCheckpoint(cert.seq);
  }

  /**
   * The membership entry at exec.seq executed: the epoch ends here. Its state becomes the new
   * epoch's start checkpoint (stable, and the restart base); everything of the old epoch above it
   * is discarded (none of it committed); the members of the new list change view into it.
   */
  private enterEpoch(members: readonly NodeId[]): void {
    const s = this.exec.seq;
    const wasMember = this.isMember();
    this.epoch = { number: this.epoch.number + 1, members: [...members], startSeq: s + 1, startBlockDigest: this.exec.digest, startStateDigest: null };
    this.setMembers(members);
    const state = this.snapshotState();
    this.epoch = { ...this.epoch, startStateDigest: state.stateDigest };
    this.ckptStates.set(s, state);
    this.stats.epochChanges += 1;
    this.discardEpochWork(s);
    this.stable = { seq: s, blockDigest: state.blockDigest, stateDigest: state.stateDigest, proof: [] };
    this.put(K_STABLE, this.stable);
    this.setBase(s);
    for (const seq of [...this.ckptStates.keys()]) if (seq < s) this.ckptStates.delete(seq);
    if (!this.isMember()) return;
    // The start checkpoint gets its proof from the new members (joiners are served with it).
    const msg = this.sign<CheckpointMsg>({ type: 'pbft/checkpoint', seq: s, blockDigest: state.blockDigest, stateDigest: state.stateDigest, replica: this.id });
    this.ownCheckpoints.set(s, msg);
    this.broadcast(msg);
    this.recordCheckpoint(msg);
    if (wasMember) this.startEpochViews();
  }

  /**
   * Views start over in a new epoch (no signature of the old one counts in it), every member
   * changing into view 1 of the new membership — those that executed the entry and those that
   * got the epoch by state transfer alike, so their view changes meet.
   */
  private startEpochViews(): void {
    this.view = 0;
    this.changing = false;
    this.streak = 0;
    this.startViewChange(1);
  }

  /** Drop every protocol message of the epoch that ended (their signatures no longer verify). */
  private discardEpochWork(s: number): void {
    this.slots.clear();
    this.persistOps.push({ op: 'deletePrefix', prefix: P_SLOT });
    this.preparedCerts.clear();
    this.persistOps.push({ op: 'deletePrefix', prefix: P_PREPARED });
    this.certified.clear();
    // Commit certificates up to s stay (until the next stable checkpoint): a member still in the
    // ended epoch executes the entry from one and switches, where the epoch's start state may
    // not yet have a proof it can check (campaign seed 378).
    for (const seq of [...this.executedCerts.keys()]) if (seq > s) this.executedCerts.delete(seq);
    this.checkpoints.clear();
    this.ownCheckpoints.clear();
    this.latestVc.clear();
    this.verifiedVcs.clear();
    this.myVc = null;
    if (this.newView) {
      this.newView = null;
      this.del(K_NEWVIEW);
    }
    for (const p of this.cutter.drain()) this.queued.delete(proposalKey(p));
    this.queued.clear();
    this.membershipSeq = null;
    this.stateOffers.clear();
    for (const [key, p] of this.pending) if (isMembershipEntry(p) || this.dedup.isDecided(p)) this.pending.delete(key);
    this.nextSeq = Math.max(this.nextSeq, s + 1);
  }

  private snapshotState(): CheckpointState {
    const dedup = encodeState(this.dedup.toJSON(), this.epoch);
    return { blockDigest: this.exec.digest, stateDigest: sha256(dedup), dedup };
  }

  private takeCheckpoint(seq: number): void {
    const state = this.snapshotState();
    this.ckptStates.set(seq, state);
    if (seq <= this.stable.seq) {
      if (seq === this.stable.seq) {
        this.assertMatchesStable(state);
        this.setBase(seq);
      }
      return;
    }
    const msg = this.sign<CheckpointMsg>({ type: 'pbft/checkpoint', seq, blockDigest: state.blockDigest, stateDigest: state.stateDigest, replica: this.id });
    this.ownCheckpoints.set(seq, msg);
    this.broadcast(msg);
    this.recordCheckpoint(msg);
  }

  private assertMatchesStable(state: CheckpointState): void {
    assertInvariant(
      bytesEqual(state.blockDigest, this.stable.blockDigest) && bytesEqual(state.stateDigest, this.stable.stateDigest),
      `replica ${this.id} diverged from the stable checkpoint at ${this.stable.seq}`,
    );
  }

  private onCheckpoint(msg: CheckpointMsg): void {
    // The epoch's start checkpoint is installed without a proof; the members' CHECKPOINTs give it one.
    const startProof = msg.seq === this.stable.seq && msg.seq === this.epoch.startSeq - 1 && this.stable.proof.length === 0 && msg.seq > 0;
    if (msg.seq <= this.stable.seq && !startProof) return this.drop('stale');
    if (msg.seq % this.opts.checkpointInterval !== 0 && msg.seq !== this.epoch.startSeq - 1) return this.drop('malformed');
    if (msg.seq > this.highWatermark()) return this.drop('outOfWindow');
    this.recordCheckpoint(msg);
    // A stable checkpoint above what executed here releases the COMMITs waiting on those slots.
    this.recheckNextSlot();
  }

  private recordCheckpoint(msg: CheckpointMsg): void {
    let bySender = this.checkpoints.get(msg.seq);
    if (!bySender) {
      bySender = new Map();
      this.checkpoints.set(msg.seq, bySender);
    }
    if (bySender.has(msg.replica)) return;
    bySender.set(msg.replica, msg);
    const same = [...bySender.values()].filter((c) => bytesEqual(c.blockDigest, msg.blockDigest) && bytesEqual(c.stateDigest, msg.stateDigest));
    if (same.length >= this.q && msg.seq === this.stable.seq && this.stable.proof.length === 0) {
      if (bytesEqual(msg.blockDigest, this.stable.blockDigest) && bytesEqual(msg.stateDigest, this.stable.stateDigest)) {
        this.stable = { ...this.stable, proof: same.slice(0, this.q) };
        this.put(K_STABLE, this.stable);
      }
      return;
    }
    if (same.length >= this.q) {
      this.makeStable({ seq: msg.seq, blockDigest: msg.blockDigest, stateDigest: msg.stateDigest, proof: same.slice(0, this.q) });
    }
  }

  /** A checkpoint proven by q signatures becomes stable: move h, garbage-collect below it. */
  private makeStable(cp: StableCheckpoint): void {
    if (cp.seq <= this.stable.seq) return;
    this.stable = cp;
    this.put(K_STABLE, cp);
    this.stats.checkpointsStable += 1;
    for (const seq of [...this.slots.keys()]) {
      if (seq <= cp.seq) {
        this.slots.delete(seq);
        this.del(seqKey(P_SLOT, seq));
      }
    }
    for (const seq of [...this.preparedCerts.keys()]) {
      if (seq <= cp.seq) {
        this.preparedCerts.delete(seq);
        this.del(seqKey(P_PREPARED, seq));
      }
    }
    for (const seq of [...this.checkpoints.keys()]) if (seq <= cp.seq) this.checkpoints.delete(seq);
    for (const seq of [...this.ownCheckpoints.keys()]) if (seq < cp.seq) this.ownCheckpoints.delete(seq);
    for (const seq of [...this.ckptStates.keys()]) if (seq < cp.seq) this.ckptStates.delete(seq);
    for (const seq of [...this.executedCerts.keys()]) if (seq <= cp.seq) this.executedCerts.delete(seq);
    if (this.exec.seq >= cp.seq) {
      const state = this.ckptStates.get(cp.seq);
      assertInvariant(state !== undefined, `no local state for checkpoint ${cp.seq} at ${this.id}`);
      this.assertMatchesStable(state);
      this.setBase(cp.seq);
    } else {
      // Behind a proven checkpoint: ask peers for its state now (they answer a STATUS with STATE).
      this.broadcast(this.makeStatus());
    }
    this.maybeCut(false);
  }

  /**
   * Persist the state at checkpoint `seq` as the restart base; drop executed batches below it.
   * `wipeLog`: after a state transfer every executed batch on disk is below the new base.
   */
  private setBase(seq: number, wipeLog = false): void {
    if (seq <= this.baseSeq) return;
    const state = this.ckptStates.get(seq);
    assertInvariant(state !== undefined, `no checkpoint state at ${seq}`);
    this.put(K_BASE, { seq, blockDigest: state.blockDigest, dedup: state.dedup });
    if (wipeLog) this.persistOps.push({ op: 'deletePrefix', prefix: P_EXECUTED });
    else for (let s = this.baseSeq + 1; s <= seq; s++) this.del(seqKey(P_EXECUTED, s));
    this.baseSeq = seq;
  }

  private setBaseAfterTransfer(msg: StateMsg): void {
    this.ckptStates.set(msg.seq, { blockDigest: msg.blockDigest, stateDigest: msg.stateDigest, dedup: msg.dedup });
    this.setBase(msg.seq, true);
  }

  private validCheckpointProof(seq: number, blockDigestValue: Bytes, stateDigest: Bytes, proof: readonly CheckpointMsg[]): boolean {
    // The epoch's start checkpoint (genesis for epoch 0) stands without a proof; none below it counts.
    const start = this.epoch.startSeq - 1;
    if (seq < start) return false;
    if (seq === start && proof.length === 0) {
      const sd = this.epoch.startStateDigest;
      return bytesEqual(blockDigestValue, this.epoch.startBlockDigest) && (sd === null || bytesEqual(stateDigest, sd));
    }
    if (seq === 0) return false;
    if (seq % this.opts.checkpointInterval !== 0 && seq !== start) return false;
    for (const c of proof) {
      if (c.seq !== seq || !bytesEqual(c.blockDigest, blockDigestValue) || !bytesEqual(c.stateDigest, stateDigest)) return false;
    }
    return this.signedByQuorum(proof, this.memberSet, this.q);
  }

  // =============================================================================================
  // Retransmission, catch-up and state transfer

  private makeStatus(): StatusMsg {
    return this.sign<StatusMsg>({
      type: 'pbft/status',
      view: this.view,
      changing: this.changing,
      stableSeq: this.stable.seq,
      executedSeq: this.exec.seq,
      replica: this.id,
    });
  }

  private onStatus(msg: StatusMsg, from: NodeId): void {
    // Answer each peer at most every half status interval, whatever it sends.
    const last = this.lastAnswered.get(from);
    if (last !== undefined && this.ticks - last < Math.max(1, Math.floor(this.opts.retransmitTicks / 2))) return;
    this.lastAnswered.set(from, this.ticks);

    // 1. Execution catch-up: state at our stable checkpoint, or commit certificates (also below
    // the stable checkpoint when we still hold them: the start of a membership epoch).
    // At the start of a membership epoch we may still hold the certificates below the stable
    // checkpoint: a member left in the ended epoch executes the entry from them (its start state
    // may have no proof it can check yet — campaign seed 378); a joiner takes the state.
    const certsBelowStable = this.memberSet.has(msg.replica) && this.executedCerts.has(msg.executedSeq + 1);
    if (msg.executedSeq < this.stable.seq) {
      const state = this.ckptStates.get(this.stable.seq);
      if (state) {
        this.send(
          from,
          this.sign<StateMsg>({
            type: 'pbft/state',
            seq: this.stable.seq,
            blockDigest: state.blockDigest,
            stateDigest: state.stateDigest,
            proof: this.stable.proof,
            dedup: state.dedup,
            replica: this.id,
          }),
        );
      }
    }
    if (msg.executedSeq < this.exec.seq && (msg.executedSeq >= this.stable.seq || certsBelowStable)) {
      const upTo = Math.min(this.exec.seq, msg.executedSeq + this.opts.catchUpBatchMax);
      for (let s = msg.executedSeq + 1; s <= upTo; s++) {
        const c = this.executedCerts.get(s);
        if (c) this.send(from, this.sign<CommitCertMsg>({ type: 'pbft/commit-cert', ...c, replica: this.id }));
      }
    }
    // A joiner (or a removed replica) is only ever served state.
    if (!this.memberSet.has(msg.replica)) return;
    // 2. Checkpoint messages the peer may have missed (so its checkpoint can become stable too).
    for (const [seq, c] of this.ownCheckpoints) if (seq > msg.stableSeq) this.send(from, c);

    // 3. Views: help a peer that is behind, or that waits in the same view change.
    if (msg.view < this.view || (msg.view === this.view && msg.changing)) {
      if (!this.changing && this.newView && this.newView.view === this.view) this.send(from, this.newView);
      else if (this.changing && this.myVc) this.send(from, this.myVc);
    }
    // 4. Same view, both active: our messages for slots we have not executed yet (lost messages).
    if (msg.view === this.view && !msg.changing && !this.changing) {
      for (const seq of [...this.slots.keys()].sort((a, b) => a - b)) {
        if (seq <= msg.executedSeq || seq <= this.exec.seq) continue;
        const slot = this.slots.get(seq)!;
        // Young slots are still in flight, not lost: resending them would only double traffic.
        if (this.ticks - slot.createdTick < this.opts.retransmitTicks) continue;
        if (slot.prePrepare && slot.batch && slot.prePrepare.replica === this.id) this.send(from, { ...slot.prePrepare, batch: slot.batch });
        if (slot.myPrepare) this.send(from, slot.myPrepare);
        if (slot.myCommit) this.send(from, slot.myCommit);
      }
    }
  }

  private onState(msg: StateMsg): void {
    if (msg.seq <= this.exec.seq) return this.drop('stale');
    if (!bytesEqual(sha256(msg.dedup), msg.stateDigest)) return this.drop('badDigest');
    const parsed = parseState(msg.dedup);
    if (!parsed) return this.drop('malformed');
    const epoch = parsed.epoch;
    if ((epoch?.number ?? 0) < this.epoch.number) return this.drop('stale');
    if (!this.stateVouched(msg)) return this.drop('badProof');
    const { dedup } = parsed;
    // Install the state the checkpoint certificate proves; the application restores its blocks.
    // Every executed batch on disk is below msg.seq now: the new base replaces them all.
    this.setBaseAfterTransfer(msg);
    const newEpoch = epoch !== null && epoch.number > this.epoch.number;
    if (newEpoch) {
      // The state is of a later membership epoch: join it (a joiner, or a replica left behind).
      const startStateDigest = epoch.startStateDigest ?? (epoch.startSeq - 1 === msg.seq ? msg.stateDigest : null);
      this.epoch = { ...epoch, startStateDigest };
      this.setMembers(epoch.members);
      this.discardEpochWork(msg.seq);
      this.stats.epochChanges += 1;
    }
    this.dedup = dedup;
    this.exec = { seq: msg.seq, digest: msg.blockDigest };
    this.put(K_EXEC, this.exec);
    for (const seq of [...this.certified.keys()]) if (seq <= msg.seq) this.certified.delete(seq);
    for (const seq of [...this.executedCerts.keys()]) if (seq <= msg.seq) this.executedCerts.delete(seq);
    for (const [key, p] of this.pending) {
      if (this.dedup.isDecided(p)) {
        this.pending.delete(key);
        this.queued.delete(key);
      }
    }
    if (msg.seq > this.stable.seq) {
      this.makeStable({ seq: msg.seq, blockDigest: msg.blockDigest, stateDigest: msg.stateDigest, proof: msg.proof });
    }
    this.restoreOut = { height: msg.seq, digest: msg.blockDigest };
    this.stats.stateTransfers += 1;
    this.timerTicks = 0;
    if (newEpoch) {
      // Change into the epoch's view 1 like its other members (from the installed checkpoint);
      // members already past it answer with their NEW-VIEW.
      if (this.isMember()) this.startEpochViews();
      else {
        this.view = 0;
        this.changing = false;
        this.persistView();
      }
    }
  }

  /**
   * Whether a STATE may be installed: its checkpoint proof holds in this epoch or in the target's
   * membership (a joiner's), or f + 1 distinct members of either offered the same state (at least
   * one correct; how a joiner gets the epoch's start state before it has a proof).
   */
  private stateVouched(msg: StateMsg): boolean {
    if (this.isMember() && this.validCheckpointProof(msg.seq, msg.blockDigest, msg.stateDigest, msg.proof)) return true;
    const target = this.target;
    if (target && msg.proof.length > 0) {
      const matches = msg.proof.every((c) => c.seq === msg.seq && bytesEqual(c.blockDigest, msg.blockDigest) && bytesEqual(c.stateDigest, msg.stateDigest));
      if (matches && this.signedByQuorum(msg.proof, this.targetSet, quorumSize(target.length))) return true;
    }
    const key = `${msg.seq}/${toHex(msg.blockDigest)}/${toHex(msg.stateDigest)}`;
    let offers = this.stateOffers.get(key);
    if (!offers) {
      if (this.stateOffers.size >= 4 * Math.max(this.n, target?.length ?? 0)) this.stateOffers.clear();
      offers = new Set();
      this.stateOffers.set(key, offers);
    }
    offers.add(msg.replica);
    const count = (set: ReadonlySet<NodeId>): number => [...offers].filter((r) => set.has(r)).length;
    if (count(this.memberSet) >= this.f + 1) return true;
    if (target && count(this.targetSet) >= faultsTolerated(target.length) + 1) return true;
    return false;
  }

  // =============================================================================================
  // Timers and view change

  private tickTimer(): void {
    if (!this.changing) {
      if (this.pending.size === 0) {
        this.timerTicks = 0;
        this.rebroadcastDone = false;
        if (this.primaryIsSilent()) {
          this.stats.silentPrimaryViewChanges += 1;
          this.startViewChange(this.view + 1);
        }
        return;
      }
      this.timerTicks += 1;
      if (!this.rebroadcastDone && this.timerTicks >= Math.ceil(this.timeoutTicks() / 2)) {
        // Half the timeout passed: re-multicast what we wait for (the primary may have missed it;
        // the other backups start their timers), as a PBFT client would on its retransmission.
        this.rebroadcastDone = true;
        const proposals: Proposal[] = [];
        let bytes = 0;
        for (const p of this.pending.values()) {
          if (isMembershipEntry(p)) continue;
          if (proposals.length >= this.opts.rebroadcastMax || bytes + proposalSizeBytes(p) > this.cutter.config.sizeBytesMax) break;
          proposals.push(p);
          bytes += proposalSizeBytes(p);
        }
        if (proposals.length > 0) this.broadcast(this.sign<RequestMsg>({ type: 'pbft/request', replica: this.id, proposals }));
        if (this.isPrimary()) for (const p of proposals) this.enqueue(p);
      }
      if (this.timerTicks >= this.timeoutTicks()) this.startViewChange(this.view + 1);
      return;
    }
    // In a view change the timer runs only once q replicas want this view or a later one
    // (Castro–Liskov: q VIEW-CHANGEs): a lone replica must not race ahead through views on its own.
    // Later views count too, or a replica that already moved on would stop everybody's timer.
    let count = 0;
    for (const vc of this.latestVc.values()) if (vc.view >= this.view) count += 1;
    if (count < this.q) return;
    this.timerTicks += 1;
    if (this.timerTicks >= this.timeoutTicks()) this.startViewChange(this.view + 1);
  }

  /**
   * The primary has said nothing (not even its periodic STATUS) for the silent-primary timeout,
   * while this backup hears enough of the others that it is not the one cut off: at least q − 1
   * replicas besides the primary spoke within two status intervals (with itself, a quorum that
   * can complete the view change). An isolated backup therefore never wanders into a view change
   * alone; a dead primary is replaced without waiting for a client request.
   */
  private primaryIsSilent(): boolean {
    const timeout = this.opts.silentPrimaryTimeoutTicks;
    if (timeout === 0 || this.isPrimary()) return false;
    const scaled = timeout * (this.timeoutTicks() / this.opts.viewChangeTimeoutTicks);
    const primary = this.primaryOf(this.view);
    if (this.ticks - Math.max(this.heardTick.get(primary) ?? 0, this.viewStartTick) < scaled) return false;
    const recent = 2 * this.opts.retransmitTicks;
    let others = 0;
    for (const m of this.members) if (m !== primary && m !== this.id && this.ticks - (this.heardTick.get(m) ?? -Infinity) <= recent) others += 1;
    return others >= this.q - 1;
  }

  private startViewChange(target: number): void {
    assertInvariant(target > this.view, `view change must move forward (${this.view} → ${target})`);
    this.view = target;
    this.changing = true;
    this.streak = Math.min(this.streak + 1, 1_000);
    this.timerTicks = 0;
    this.viewStartTick = this.ticks;
    this.stats.viewChangesStarted += 1;
    // Messages of the old view are no longer accepted or sent; what prepared survives in P.
    this.slots.clear();
    this.persistOps.push({ op: 'deletePrefix', prefix: P_SLOT });
    if (this.newView) {
      this.newView = null;
      this.del(K_NEWVIEW);
    }
    for (const p of this.cutter.drain()) this.queued.delete(proposalKey(p));
    this.queued.clear();
    this.membershipSeq = null;
    for (const [r, vc] of this.latestVc) if (vc.view < target) this.latestVc.delete(r);
    this.persistView();
    const vc = this.sign<ViewChangeMsg>({
      type: 'pbft/view-change',
      view: target,
      stableSeq: this.stable.seq,
      stableBlockDigest: this.stable.blockDigest,
      stableStateDigest: this.stable.stateDigest,
      checkpointProof: this.stable.proof,
      prepared: [...this.preparedCerts.values()]
        .filter((c) => c.prePrepare.seq > this.stable.seq && c.prePrepare.seq <= this.highWatermark())
        .sort((a, b) => a.prePrepare.seq - b.prePrepare.seq),
      replica: this.id,
    });
    this.myVc = vc;
    this.latestVc.set(this.id, vc);
    this.broadcast(vc);
    this.tryNewView();
  }

  private vcCacheKey(vc: ViewChangeMsg): string {
    return toHex(sha256(signingBytes(vc))) + toHex(vc.sig);
  }

  /** Full validity of a VIEW-CHANGE: signature, checkpoint proof C, and every prepared certificate in P. */
  private validViewChange(vc: ViewChangeMsg): boolean {
    const key = this.vcCacheKey(vc);
    if (this.verifiedVcs.has(key)) return true;
    if (!this.verifySig(vc)) return false;
    if (!this.validCheckpointProof(vc.stableSeq, vc.stableBlockDigest, vc.stableStateDigest, vc.checkpointProof)) return false;
    let lastSeq = vc.stableSeq;
    for (const cert of vc.prepared) {
      const pp = cert.prePrepare;
      if (pp.seq <= lastSeq || pp.seq > vc.stableSeq + this.opts.logWindow) return false;
      lastSeq = pp.seq;
      if (pp.view >= vc.view || pp.replica !== this.primaryOf(pp.view)) return false;
      if (!bytesEqual(batchDigest(cert.batch), pp.digest) || hasDuplicates(cert.batch)) return false;
      if (cert.batch.length > 1 && cert.batch.some(isMembershipEntry)) return false;
      if (!this.verifySig(pp)) return false;
      for (const p of cert.prepares) {
        if (p.view !== pp.view || p.seq !== pp.seq || !bytesEqual(p.digest, pp.digest)) return false;
      }
      // 2f PREPAREs from backups: the primary's PRE-PREPARE stands for its own vote.
      const backups = new Set(this.members.filter((m) => m !== pp.replica));
      if (!this.signedByQuorum(cert.prepares, backups, this.q - 1)) return false;
    }
    if (this.verifiedVcs.size >= 4 * this.n) this.verifiedVcs.clear();
    this.verifiedVcs.add(key);
    return true;
  }

  private onViewChange(msg: ViewChangeMsg, from: NodeId): void {
    if (msg.view < this.view || (msg.view === this.view && !this.changing)) {
      // The sender is behind: a NEW-VIEW for our view brings it over.
      if (!this.changing && this.newView && this.newView.view === this.view) this.send(from, this.newView);
      return this.drop('stale');
    }
    const prev = this.latestVc.get(msg.replica);
    if (prev && prev.view >= msg.view) return;
    if (!this.validViewChange(msg)) return this.drop('badProof');
    this.latestVc.set(msg.replica, msg);
    // Liveness rule: f+1 replicas (so at least one correct) want a higher view — join the
    // smallest such view that f+1 of them support.
    const ahead = [...this.latestVc.values()].filter((vc) => vc.replica !== this.id && vc.view > this.view).map((vc) => vc.view);
    if (ahead.length >= this.f + 1) {
      ahead.sort((a, b) => b - a);
      this.startViewChange(ahead[this.f]!);
      return;
    }
    this.tryNewView();
  }

  /** Deterministic O from V: every backup recomputes it and compares with the NEW-VIEW's. */
  private computeO(viewChanges: readonly ViewChangeMsg[]): ComputedO {
    let checkpointFrom = viewChanges[0]!;
    for (const vc of viewChanges) if (vc.stableSeq > checkpointFrom.stableSeq) checkpointFrom = vc;
    const minS = checkpointFrom.stableSeq;
    let maxS = minS;
    const best = new Map<number, { view: number; digest: Bytes; batch: readonly Proposal[] }>();
    for (const vc of viewChanges) {
      for (const cert of vc.prepared) {
        const { seq, view, digest } = cert.prePrepare;
        if (seq <= minS) continue;
        maxS = Math.max(maxS, seq);
        const cur = best.get(seq);
        if (!cur || view > cur.view || (view === cur.view && compareBytes(digest, cur.digest) < 0)) {
          best.set(seq, { view, digest, batch: cert.batch });
        }
      }
    }
    const entries: OEntry[] = [];
    for (let seq = minS + 1; seq <= maxS; seq++) {
      const b = best.get(seq);
      entries.push(b ? { seq, digest: b.digest, batch: b.batch } : { seq, digest: NULL_DIGEST, batch: [] });
    }
    return { minS, maxS, checkpointFrom, entries };
  }

  private tryNewView(): void {
    if (!this.changing || !this.isPrimary() || !this.myVc) return;
    const others = [...this.latestVc.values()].filter((vc) => vc.view === this.view && vc.replica !== this.id).sort((a, b) => (a.replica < b.replica ? -1 : 1));
    if (others.length + 1 < this.q) return;
    const viewChanges = [this.myVc, ...others.slice(0, this.q - 1)];
    const o = this.computeO(viewChanges);
    const prePrepares = o.entries.map((e) =>
      this.sign<PrePrepareHeader>({ type: 'pbft/pre-prepare', view: this.view, seq: e.seq, digest: e.digest, replica: this.id }),
    );
    const nv = this.sign<NewViewMsg>({ type: 'pbft/new-view', view: this.view, viewChanges, prePrepares, replica: this.id });
    // NEW-VIEW goes out before the pre-prepares installNewView cuts for pending requests: links
    // are FIFO, and a backup still changing views drops a pre-prepare of the view it has not
    // entered — the request would wait for another view change (found by view_change.txt).
    this.broadcast(nv);
    this.installNewView(nv, o);
  }

  private onNewView(msg: NewViewMsg): void {
    if (msg.view < this.view || (msg.view === this.view && !this.changing)) return this.drop('stale');
    if (msg.replica !== this.primaryOf(msg.view)) return this.drop('wrongPrimary');
    const senders = new Set<NodeId>();
    for (const vc of msg.viewChanges) {
      if (vc.view !== msg.view || senders.has(vc.replica) || !this.memberSet.has(vc.replica)) return this.drop('badNewView');
      senders.add(vc.replica);
    }
    if (senders.size < this.q) return this.drop('badNewView');
    for (const vc of msg.viewChanges) if (!this.validViewChange(vc)) return this.drop('badNewView');
    // Recompute O from V and require the primary's O to be exactly it.
    const o = this.computeO(msg.viewChanges);
    if (o.entries.length !== msg.prePrepares.length) return this.drop('badNewView');
    for (let i = 0; i < o.entries.length; i++) {
      const want = o.entries[i]!;
      const got = msg.prePrepares[i]!;
      if (got.view !== msg.view || got.seq !== want.seq || got.replica !== msg.replica || !bytesEqual(got.digest, want.digest)) {
        return this.drop('badNewView');
      }
      if (!this.verifySig(got)) return this.drop('badNewView');
    }
    this.installNewView(msg, o);
  }

  private installNewView(nv: NewViewMsg, o: ComputedO): void {
    this.view = nv.view;
    this.changing = false;
    this.timerTicks = 0;
    this.viewStartTick = this.ticks;
    this.rebroadcastDone = false;
    this.slots.clear();
    this.persistOps.push({ op: 'deletePrefix', prefix: P_SLOT });
    for (const p of this.cutter.drain()) this.queued.delete(proposalKey(p));
    this.queued.clear();
    this.membershipSeq = null;
    this.newView = nv;
    this.myVc = null;
    for (const [r, vc] of this.latestVc) if (vc.view <= nv.view) this.latestVc.delete(r);
    this.put(K_NEWVIEW, nv);
    this.persistView();
    this.stats.newViewsInstalled += 1;
    if (o.minS > this.stable.seq) {
      const src = o.checkpointFrom;
      this.makeStable({ seq: src.stableSeq, blockDigest: src.stableBlockDigest, stateDigest: src.stableStateDigest, proof: src.checkpointProof });
    }
    const headers = new Map<number, PrePrepareHeader>();
    for (const h of nv.prePrepares) headers.set(h.seq, h);
    for (const e of o.entries) {
      if (e.seq <= this.stable.seq) continue;
      const executed = this.executedCerts.get(e.seq);
      assertInvariant(executed === undefined || bytesEqual(executed.digest, e.digest), `new view ${nv.view} reassigns executed sequence number ${e.seq}`);
      for (const p of e.batch) this.queued.add(proposalKey(p));
      // A membership entry carried into this view: the primary cuts nothing after it.
      if (e.batch.some(isMembershipEntry)) this.membershipSeq = e.seq;
      this.acceptPrePrepare(this.getSlot(e.seq), headers.get(e.seq)!, e.batch);
    }
    if (this.isPrimary()) {
      this.nextSeq = Math.max(o.maxS, this.stable.seq) + 1;
      for (const p of this.pending.values()) if (!this.queued.has(proposalKey(p))) this.enqueue(p);
      this.maybeCut(false);
    }
  }

  // =============================================================================================
  // Restart

  private restoreDurable(storage: DurableState, appliedHeight: number | undefined): void {
    const read = <T>(key: string): T | undefined => {
      const bytes = storage.get(key);
      if (bytes === undefined) return undefined;
      try {
        return withWireTypes(decode<T>(bytes));
      } catch (err) {
        throw new Error(`pbft ${this.id}: corrupt durable key ${key}: ${(err as Error).message}`);
      }
    };
    const v = read<{ view: number; changing: boolean; streak: number }>(K_VIEW);
    if (v) {
      this.view = v.view;
      this.changing = v.changing;
      this.streak = v.streak;
    }
    const stable = read<StableCheckpoint>(K_STABLE);
    if (stable) this.stable = stable;
    const base = read<{ seq: number; blockDigest: Bytes; dedup: Bytes }>(K_BASE);
    if (base) {
      const parsed = parseState(base.dedup);
      assertInvariant(parsed !== null, `pbft ${this.id}: corrupt base state`);
      const { dedup, epoch } = parsed;
      if (epoch) {
        const startStateDigest = epoch.startStateDigest ?? (epoch.startSeq - 1 === base.seq ? sha256(base.dedup) : null);
        this.epoch = { ...epoch, startStateDigest };
        this.setMembers(epoch.members);
      }
      this.dedup = dedup;
      this.baseSeq = base.seq;
      this.exec = { seq: base.seq, digest: base.blockDigest };
      this.ckptStates.set(base.seq, { blockDigest: base.blockDigest, stateDigest: sha256(base.dedup), dedup: base.dedup });
    }
    // Replay executed batches above the base to rebuild the dedup window and the digest chain;
    // blocks above the application's applied height are delivered again.
    const redeliver: DecidedBlock[] = [];
    for (const key of storage.keysWithPrefix(P_EXECUTED)) {
      const rec = read<CommitCert>(key)!;
      if (rec.seq <= this.baseSeq) continue;
      assertInvariant(rec.seq === this.exec.seq + 1, `pbft ${this.id}: gap in executed log at ${rec.seq}`);
      const previousDigest = this.exec.digest;
      const { proposals, dropped, digest, membership } = this.applyBatch(rec.seq, rec.batch);
      // A membership entry moves the base to itself in the Ready that executes it.
      assertInvariant(membership === null, `pbft ${this.id}: membership entry ${rec.seq} above the restart base`);
      if (appliedHeight !== undefined && rec.seq > appliedHeight) redeliver.push(makeBlock(rec, proposals, dropped, digest, previousDigest, this.epoch));
      this.exec = { seq: rec.seq, digest };
      this.executedCerts.set(rec.seq, rec);
      if (rec.seq % this.opts.checkpointInterval === 0) this.ckptStates.set(rec.seq, this.snapshotState());
    }
    const execRec = read<{ seq: number; digest: Bytes }>(K_EXEC);
    if (execRec) {
      assertInvariant(
        execRec.seq === this.exec.seq && bytesEqual(execRec.digest, this.exec.digest),
        `pbft ${this.id}: executed state ${execRec.seq} does not match the replayed log (${this.exec.seq})`,
      );
    }
    for (const [seq, state] of this.ckptStates) {
      if (seq <= this.stable.seq) continue;
      const msg = this.sign<CheckpointMsg>({ type: 'pbft/checkpoint', seq, blockDigest: state.blockDigest, stateDigest: state.stateDigest, replica: this.id });
      this.ownCheckpoints.set(seq, msg);
      this.recordCheckpoint(msg);
    }
    for (const key of storage.keysWithPrefix(P_PREPARED)) {
      const cert = read<PreparedCert>(key)!;
      if (cert.prePrepare.seq > this.stable.seq) this.preparedCerts.set(cert.prePrepare.seq, cert);
    }
    let maxSeq = Math.max(this.stable.seq, this.exec.seq);
    const nv = read<NewViewMsg>(K_NEWVIEW);
    if (nv && nv.view === this.view && !this.changing) {
      this.newView = nv;
      for (const h of nv.prePrepares) maxSeq = Math.max(maxSeq, h.seq);
    }
    if (!this.changing) {
      for (const key of storage.keysWithPrefix(P_SLOT)) {
        const rec = read<{
          view: number;
          prePrepare: PrePrepareHeader | null;
          batch: Proposal[] | null;
          myPrepare: PrepareMsg | null;
          myCommit: CommitMsg | null;
        }>(key)!;
        if (rec.view !== this.view || !rec.prePrepare || rec.prePrepare.seq <= this.stable.seq) continue;
        const slot = this.getSlot(rec.prePrepare.seq);
        slot.prePrepare = rec.prePrepare;
        slot.batch = rec.batch;
        slot.myPrepare = rec.myPrepare;
        slot.myCommit = rec.myCommit;
        if (rec.myPrepare) slot.prepares.set(this.id, rec.myPrepare);
        if (rec.myCommit) slot.commits.set(this.id, rec.myCommit);
        maxSeq = Math.max(maxSeq, slot.seq);
      }
    } else {
      // Re-sign the same VIEW-CHANGE content (P and C are persisted); peers get it on their STATUS.
      this.myVc = this.sign<ViewChangeMsg>({
        type: 'pbft/view-change',
        view: this.view,
        stableSeq: this.stable.seq,
        stableBlockDigest: this.stable.blockDigest,
        stableStateDigest: this.stable.stateDigest,
        checkpointProof: this.stable.proof,
        prepared: [...this.preparedCerts.values()].sort((a, b) => a.prePrepare.seq - b.prePrepare.seq),
        replica: this.id,
      });
      this.latestVc.set(this.id, this.myVc);
    }
    this.nextSeq = maxSeq + 1;
    // Restoring must not itself produce persist ops or messages: nothing changed on disk.
    this.persistOps = [];
    this.outbox = [];
    if (appliedHeight !== undefined && appliedHeight < this.baseSeq) {
      // The application lost blocks we only hold as checkpoint state: it restores up to the base,
      // then receives the replayed blocks (held until that restore is advanced).
      this.restoreOut = { height: this.baseSeq, digest: this.ckptStates.get(this.baseSeq)!.blockDigest };
      this.heldAfterRestore = redeliver;
    } else {
      this.decidedOut = redeliver;
    }
  }
}

function makeBlock(
  cert: CommitCert,
  proposals: readonly Proposal[],
  dropped: ReadonlyArray<{ index: number; proposal: Proposal }>,
  digest: Bytes,
  previousDigest: Bytes,
  epoch: EpochInfo,
): DecidedBlock {
  const fields: Record<string, number | Bytes> = { view: cert.view, seq: cert.seq, batch: cert.digest };
  if (dropped.length > 0) fields.dropped = encodeDropped(dropped);
  // The members whose quorum signed (the orderer set changes, decision 1270); after a membership
  // change the commits are also bound to the epoch.
  fields.members = encode([...epoch.members]);
  if (epoch.number > 0) fields.epoch = epoch.number;
  const signatures = [...cert.commits].sort((a, b) => (a.replica < b.replica ? -1 : 1)).map((c) => ({ nodeId: c.replica, signature: c.sig }));
  return { height: cert.seq, proposals, digest, previousDigest, certificate: { scheme: PBFT_CERT_SCHEME, fields, signatures } };
}

/** Decode and validate a transferred state (dedup window and, after genesis, the epoch); null when malformed. */
function parseState(bytes: Bytes): { dedup: DedupWindow; epoch: EpochInfo | null } | null {
  const split = splitState(bytes);
  if (!split) return null;
  const dedup = parseDedup(split.dedup);
  return dedup ? { dedup, epoch: split.epoch } : null;
}

function parseDedup(raw: unknown): DedupWindow | null {
  if (!Array.isArray(raw)) return null;
  const entries: Array<[string, number, number[]]> = [];
  for (const e of raw) {
    if (!Array.isArray(e) || e.length !== 3) return null;
    const [clientId, low, above] = e as unknown[];
    if (typeof clientId !== 'string' || typeof low !== 'number' || !Number.isSafeInteger(low) || !Array.isArray(above)) return null;
    if (!above.every((s) => typeof s === 'number' && Number.isSafeInteger(s))) return null;
    entries.push([clientId, low, above as number[]]);
  }
  return DedupWindow.fromJSON(entries);
}
