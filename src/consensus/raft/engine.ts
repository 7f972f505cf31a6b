// Raft as a pure state machine (after etcd's raft library), under the engine contract of
// ../engine.ts. See docs/architecture/raft.md for the design; the main points:
//   - election with randomized timeouts (jitter from ctx.rng), pre-vote and check-quorum;
//   - replication with per-follower flow control (probe / replicate / snapshot, bounded inflight
//     appends) and fast backtracking on reject;
//   - commit only by counting replicas of current-term entries (§5.4.2), unless the deliberately
//     unsafe option `unsafeCommitPreviousTerm` is set;
//   - term, vote, commit, applied and the log are persisted through Ready.persist before any
//     message that depends on them is sent (they are in the same Ready); the exception is a
//     leader's own new entries, which it replicates while writing them (thesis §10.2.1, decision
//     1360): its appends are Ready.earlyMessages, and it counts itself toward a commit quorum only
//     for entries a Ready it advanced made durable (stableIndex);
//   - normal entries carry a batch cut by the leader's BlockCutter; every node turns committed
//     entries into DecidedBlocks filtered through a DedupWindow (an entry whose batch is empty
//     after de-duplication yields no block, on every node alike, so heights stay gapless);
//   - the leader signs the block an entry becomes after the entry left (in advance(), decision
//     1414) and sends the signature with the commit index; a node that applies an entry whose
//     leader's signature never reached it certifies the block itself;
//   - snapshots + log compaction, snapshot install (-> Ready.restore);
//   - membership change by joint consensus (C_old,new then automatically C_new), learners,
//     leadership transfer (TimeoutNow); configurations take effect when applied (as in etcd).
import { bytesEqual, decode, encode, type Bytes } from '../../codec/index.ts';
import type { Signer, SignatureVerifier } from '../../crypto/index.ts';
import { BlockCutter } from '../cutter.ts';
import { DedupWindow } from '../dedup.ts';
import { blockDigest, GENESIS_DIGEST, proposalKey, proposalSizeBytes } from '../digest.ts';
import {
  assertInvariant,
  type Certificate,
  type DecidedBlock,
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
  type Rng,
} from '../engine.ts';
import type { EngineContext } from '../registry.ts';
import { RaftLog } from './log.ts';
import { parseRaftOptions, type RaftOptions } from './options.ts';
import { Progress, type ProgressState } from './progress.ts';
import { jointActive, jointCommitted, jointVote } from './quorum.ts';
import {
  confNodes,
  isNodeId,
  isVoter,
  MESSAGE_SIGS_MAX,
  validEntry,
  validHardState,
  validMessage,
  validProposal,
  validSnapshot,
  type ConfState,
  type Entry,
  type EntryCert,
  type EntryKind,
  type EntrySig,
  type HardState,
  type RaftMessage,
  type Snapshot,
  type VoteType,
} from './messages.ts';

export const HARD_KEY = 'raft/hard';
export const SNAP_KEY = 'raft/snap';
export const LOG_PREFIX = 'raft/log/';
export const CERT_SCHEME = 'raft-leader';

export function logKey(index: number): string {
  return `${LOG_PREFIX}${String(index).padStart(16, '0')}`;
}

/** An entry's cert.signature since decision 1414: the signature follows apart (EntrySig). */
const NO_SIGNATURE: Bytes = new Uint8Array(0);
const NO_SIGS: readonly EntrySig[] = [];
/** Block signatures a node holds for entries it has not applied or a follower not yet been sent (beyond: dropped, oldest first). */
const SIGS_KEPT_MAX = 4096;

/** Block signatures for entries (from, upTo] sent in one message. */
interface SigRange {
  readonly from: number;
  readonly upTo: number;
  readonly sigs: readonly EntrySig[];
}

/** The bytes a leader signs for the block an entry becomes: (term, height, digest). */
export function certificateBytes(term: number, height: number, digest: Bytes): Bytes {
  return encode({ scheme: CERT_SCHEME, term, height, digest });
}

/** Check a 'raft-leader' certificate: the leader of `term` signed (term, height, digest). */
export function verifyRaftCertificate(block: DecidedBlock, verifier: SignatureVerifier): boolean {
  const c = block.certificate;
  if (!c || c.scheme !== CERT_SCHEME || c.signatures.length !== 1) return false;
  const term = c.fields.term;
  const sig = c.signatures[0]!;
  if (typeof term !== 'number' || !Number.isSafeInteger(term) || term < 1) return false;
  return verifier.verify(sig.nodeId, certificateBytes(term, block.height, block.digest), sig.signature);
}

export type RaftRole = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export interface ConfChangeRequest {
  readonly add?: readonly NodeId[];
  readonly remove?: readonly NodeId[];
  readonly addLearners?: readonly NodeId[];
}

export type ConfChangeResult =
  | { readonly accepted: true; readonly index: number }
  | { readonly accepted: false; readonly reason: 'not-leader' | 'change-pending' | 'invalid' | 'transfer-in-progress' };

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly inflight: number;
  readonly paused: boolean;
  readonly recentActive: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly role: RaftRole;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly lead: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly height: number;
  readonly digest: Bytes;
  readonly conf: ConfState;
  readonly snapshotIndex: number;
  readonly leadTransferee: NodeId | null;
  readonly submitted: number;
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

type CampaignKind = 'pre' | 'election' | 'transfer';
type AppendMessage = Extract<RaftMessage, { type: 'raft/append' }>;

interface Projection {
  height: number;
  digest: Bytes;
  dedup: DedupWindow;
}

interface Submitted {
  readonly proposal: Proposal;
  waitTicks: number;
}

export class RaftEngine implements Engine<RaftMessage> {
  readonly id: NodeId;
  readonly options: RaftOptions;
  private readonly rng: Rng;
  private readonly signer: Signer;
  private readonly cutter: BlockCutter;

  // Durable (raft/hard + the log + raft/snap).
  private term = 0;
  private vote: NodeId | null = null;
  private commit = 0;
  private readonly log: RaftLog;
  private snapshot: Snapshot | null;

  // Applied state: a pure function of the committed prefix.
  private applied: number;
  private conf: ConfState;
  private height: number;
  private digest: Bytes;
  private dedup: DedupWindow;

  // Volatile.
  private role: RaftRole = 'follower';
  private lead: NodeId | null = null;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout: number;
  private votes = new Map<NodeId, boolean>();
  private prs = new Map<NodeId, Progress>();
  private leadTransferee: NodeId | null = null;
  /** Leader: proposals in the last normal entry it cut (the eager-cut rule, decision 1385). */
  private lastCutProposals = 0;
  private pendingConfIndex = 0;
  /** Leader only: the applied state its whole log would produce (to sign blocks at append time). */
  private proj: Projection | null = null;
  /**
   * Leader: the digest each entry it cut this term was chained on (index → previous block digest).
   * Applying such an entry on the same previous digest with every proposal kept gives the digest it
   * computed when it cut it, so that digest is taken instead of hashing the batch again.
   */
  private readonly cutOn = new Map<number, Bytes>();
  /** A follower's acknowledged index, for the commit rule (one function, not one per answer). */
  private readonly matchOf = (id: NodeId): number => this.prs.get(id)?.match ?? 0;
  /** status().members, kept until the configuration changes. */
  private statusMembers: { readonly conf: ConfState; readonly members: readonly NodeId[] } | null = null;
  /** Proposals submitted to this node and not yet decided (re-routed until they are). */
  private readonly submitted = new Map<string, Submitted>();
  private forwardBuf: Proposal[] = [];

  // Output, drained by ready()/advance().
  private outMsgs: Outbound<RaftMessage>[] = [];
  private outPersist: PersistOp[] = [];
  private outDecided: DecidedBlock[] = [];
  private outRestore: RestoreRequest | null = null;
  private hardDirty = false;
  /** Term and vote as last handed to the driver to persist (syncCommitIndex false). */
  private durableTerm = 0;
  private durableVote: NodeId | null = null;
  /** The application's height at start (ctx.appliedHeight): never re-emitted. */
  private appliedFloor = 0;
  private cachedReady: Ready<RaftMessage> | null = null;
  /**
   * Follower: committed entries wait to be applied until advance() — after the driver wrote this
   * Ready's entries and sent its answer — so that applying (digests, certificates, the decided
   * blocks) is not between the leader's append and this node's answer (decision 1417).
   */
  private applyAfterAdvance = false;
  /**
   * Log entries up to here are durable: written by a Ready the driver advanced (or loaded at
   * start). The leader's own replica counts toward a commit quorum only up to here, because the
   * driver may send its appends before the entries are on its own disk (Ready.earlyMessages).
   */
  private stableIndex = 0;
  /** For each Ready handed out: the last log entry (index, term) its persist makes durable. */
  private readonly readyLogEnd = new WeakMap<Ready<RaftMessage>, { index: number; term: number }>();
  /** How many messages at the head of outMsgs may leave before the pending persist is durable. */
  private outEarly = 0;
  /** Leader: the commit index advanced and not every follower was sent it yet (flushCommit). */
  private commitFlushDue = false;
  /** Leader: the commit index last sent to each follower in an append or raft/commit. */
  private readonly commitSent = new Map<NodeId, number>();
  /** Leader: commit notices held back for flushNotices (decision 1405), and whether a Ready said so. */
  private noticesHeld = false;
  private noticesReported = false;
  /**
   * Leader: the followers whose notice is held. An append that carries the commit index to one
   * takes it off; once none is left, nothing is held (decision 1416) — the driver's pending flush
   * is then called off, and the next commit's notice waits its own NOTICES_HOLD_MS.
   */
  private readonly noticesHeldFor = new Set<NodeId>();
  /** The last append built (appendMessage). */
  private lastAppend: AppendMessage | null = null;
  /** The range (from, upTo] of block signatures lastAppend carries. */
  private lastAppendSigs: SigRange = { from: 0, upTo: 0, sigs: NO_SIGS };
  /**
   * Block signatures by log index (decision 1414): a leader's own, made in advance() once the
   * Ready carrying the entries was handed out; a follower's, received with a commit index.
   */
  private readonly sigs = new Map<number, { readonly term: number; readonly nodeId: NodeId; readonly signature: Bytes }>();
  /** Leader: its entries cut but not signed yet. */
  private unsignedIndexes: number[] = [];
  /** Leader: per follower, the highest index up to which block signatures were sent. */
  private readonly sigSent = new Map<NodeId, number>();

  constructor(ctx: EngineContext) {
    assertInvariant(isNodeId(ctx.id), 'raft: node id is a non-empty string');
    assertInvariant(ctx.members.length >= 1, 'raft: at least one initial member');
    this.id = ctx.id;
    this.options = parseRaftOptions(ctx.options);
    this.rng = ctx.rng;
    this.signer = ctx.signer;
    this.cutter = new BlockCutter(ctx.cutter);
    this.randomizedElectionTimeout = this.options.electionTicks;

    // --- Restore what was persisted (only that). ---
    const snapBytes = ctx.storage.get(SNAP_KEY);
    const snap = snapBytes ? validSnapshot(decode(snapBytes)) : null;
    if (snapBytes && !snap) throw new Error(`raft ${ctx.id}: stored snapshot is malformed`);
    this.snapshot = snap;
    const hardBytes = ctx.storage.get(HARD_KEY);
    const hard: HardState | null = hardBytes ? validHardState(decode(hardBytes)) : null;
    if (hardBytes && !hard) throw new Error(`raft ${ctx.id}: stored hard state is malformed`);
    const snapIndex = snap?.index ?? 0;
    const entries: Entry[] = [];
    for (const key of ctx.storage.keysWithPrefix(LOG_PREFIX)) {
      const bytes = ctx.storage.get(key);
      const e = bytes ? validEntry(decode(bytes)) : null;
      if (!e || key !== logKey(e.index)) throw new Error(`raft ${ctx.id}: stored log entry ${key} is malformed`);
      if (e.index <= snapIndex) continue;
      if (e.index !== snapIndex + entries.length + 1) throw new Error(`raft ${ctx.id}: stored log has a gap before ${e.index}`);
      entries.push(e);
    }
    this.log = new RaftLog(snapIndex, snap?.term ?? 0, entries);
    this.stableIndex = this.log.lastIndex();
    this.term = hard?.term ?? 0;
    this.vote = hard?.vote ?? null;
    this.durableTerm = this.term;
    this.durableVote = this.vote;
    this.commit = Math.min(Math.max(hard?.commit ?? 0, snapIndex), this.log.lastIndex());
    this.conf = snap?.conf ?? { voters: [...new Set(ctx.members)], outgoing: [], learners: [] };
    this.height = snap?.height ?? 0;
    this.digest = snap?.digest ?? GENESIS_DIGEST;
    this.dedup = snap ? DedupWindow.fromJSON(snap.dedup) : new DedupWindow();
    this.applied = snapIndex;
    // Rebuild the applied state by replaying what was applied before the crash. Blocks the
    // application may not have stored (above ctx.appliedHeight) are handed out again.
    const appHeight = ctx.appliedHeight;
    this.appliedFloor = appHeight ?? 0;
    if (appHeight !== undefined && appHeight < this.height) this.outRestore = { height: this.height, digest: this.digest };
    const replayTo = Math.min(Math.max(hard?.applied ?? 0, snapIndex), this.commit);
    while (this.applied < replayTo) {
      const e = this.log.entry(this.applied + 1);
      assertInvariant(e !== undefined, 'replayed entries are in the log');
      this.applyEntry(e, (h) => appHeight !== undefined && h > appHeight);
      this.applied += 1;
    }
    this.resetElectionTimer();
    this.applyCommitted();
  }

  // ------------------------------------------------------------------ engine contract

  tick(): void {
    this.cachedReady = null;
    // A driver that never calls flushNotices still gets them out within a tick — before this
    // tick's heartbeats, so that the block signatures they carry (decision 1414) arrive before a
    // heartbeat's commit index makes a follower apply without them.
    this.tellHeldNotices();
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
    for (const s of this.submitted.values()) {
      s.waitTicks += 1;
      if (s.waitTicks >= this.options.proposalRetryTicks) {
        s.waitTicks = 0;
        this.route(s.proposal);
      }
    }
    this.afterInput();
  }

  step(from: NodeId, raw: RaftMessage): void {
    this.cachedReady = null;
    if (!isNodeId(from) || from === this.id) return;
    const m = validMessage(raw);
    if (!m) return;
    if (m.type === 'raft/forward') {
      // Forwarded proposals are term-independent: whoever leads now orders them.
      if (this.role === 'leader') for (const p of m.proposals) this.cutter.add(p);
      this.afterInput();
      return;
    }
    if (m.term > this.term) {
      if (m.type === 'raft/prevote' || m.type === 'raft/vote') {
        // Check-quorum lease: a node that heard from a live leader within the election timeout
        // ignores campaigns (unless the leader itself handed over via TimeoutNow).
        const inLease = this.options.checkQuorum && this.lead !== null && this.electionElapsed < this.options.electionTicks;
        if (!m.transfer && inLease) return;
      }
      if (m.type === 'raft/prevote' || (m.type === 'raft/prevote-resp' && !m.reject)) {
        // Pre-vote never changes terms (that is its point); a granted pre-vote carries term + 1.
      } else if (m.type === 'raft/append' || m.type === 'raft/heartbeat' || m.type === 'raft/commit' || m.type === 'raft/snapshot') {
        this.becomeFollower(m.term, from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.options.checkQuorum || this.options.preVote) && (m.type === 'raft/append' || m.type === 'raft/heartbeat' || m.type === 'raft/commit')) {
        // A stale leader (e.g. back from a partition) learns the new term from this and steps down.
        this.send(from, { type: 'raft/append-resp', term: this.term, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'raft/prevote') {
        this.send(from, { type: 'raft/prevote-resp', term: this.term, reject: true });
      }
      this.afterInput();
      return;
    }

    switch (m.type) {
      case 'raft/prevote':
      case 'raft/vote':
        this.handleVoteRequest(from, m);
        break;
      case 'raft/prevote-resp':
      case 'raft/vote-resp':
        this.handleVoteResponse(from, m.type, m.reject);
        break;
      case 'raft/append':
      case 'raft/heartbeat':
      case 'raft/commit':
      case 'raft/snapshot':
        if (this.role === 'leader') break; // one leader per term: cannot come from a correct peer
        if (this.role !== 'follower') this.becomeFollower(this.term, from);
        this.electionElapsed = 0;
        this.setLead(from);
        if (m.type === 'raft/append') this.handleAppend(from, m);
        else if (m.type === 'raft/heartbeat') this.handleHeartbeat(from, m.commit);
        else if (m.type === 'raft/commit') this.handleCommit(from, m);
        else this.handleSnapshot(from, m.snapshot);
        break;
      case 'raft/append-resp':
        if (this.role === 'leader') this.handleAppendResponse(from, m);
        break;
      case 'raft/heartbeat-resp':
        if (this.role === 'leader') this.handleHeartbeatResponse(from);
        break;
      case 'raft/timeout-now':
        if (this.role === 'follower' && from === this.lead) this.campaign('transfer');
        break;
    }
    this.afterInput();
  }

  propose(proposal: Proposal): ProposeResult {
    this.cachedReady = null;
    const p = validProposal(proposal);
    if (!p) return { accepted: false, reason: 'invalid' };
    if (proposalSizeBytes(p) > this.cutter.config.sizeBytesMax || proposalSizeBytes(p) > this.options.maxAppendBytes) {
      return { accepted: false, reason: 'too-large' };
    }
    const key = proposalKey(p);
    if (this.dedup.isDecided(p) || this.submitted.has(key)) return { accepted: true };
    if (this.submitted.size >= this.options.pendingProposalsMax) return { accepted: false, reason: 'queue-full' };
    if (this.role === 'leader') {
      const added = this.cutter.add(p);
      if (added !== 'added') return { accepted: false, reason: added };
    }
    this.submitted.set(key, { proposal: p, waitTicks: 0 });
    if (this.role !== 'leader') this.route(p);
    this.afterInput(false);
    return { accepted: true };
  }

  /** Whether the hard state must be written now (not only when something else is). */
  private hardDue(): boolean {
    return this.hardDirty && (this.options.syncCommitIndex || this.term !== this.durableTerm || this.vote !== this.durableVote);
  }

  hasReady(): boolean {
    return (
      this.eagerCutDue() ||
      (this.noticesHeld && !this.noticesReported) ||
      this.hardDue() ||
      this.outPersist.length > 0 ||
      this.outMsgs.length > 0 ||
      this.outRestore !== null ||
      (this.outDecided.length > 0 && this.outRestore === null) ||
      this.applyAfterAdvance
    );
  }

  ready(): Ready<RaftMessage> {
    if (this.cachedReady) return this.cachedReady;
    if (this.eagerCutDue()) this.cutBlocks(false);
    if (this.hardDue() || (this.hardDirty && this.outPersist.length > 0)) {
      const hard: HardState = { term: this.term, vote: this.vote, commit: this.commit, applied: this.applied };
      this.outPersist.push({ op: 'put', key: HARD_KEY, value: encode(hard) });
      this.hardDirty = false;
      this.durableTerm = this.term;
      this.durableVote = this.vote;
    }
    // While a restore is pending, decided blocks wait: the application must first replace its
    // state by the snapshot's, then continue at height + 1.
    const rd: Ready<RaftMessage> = {
      persist: [...this.outPersist],
      messages: [...this.outMsgs],
      earlyMessages: Math.min(this.outEarly, this.outMsgs.length),
      noticesHeld: this.noticesHeld,
      decided: this.outRestore ? [] : [...this.outDecided],
      restore: this.outRestore,
    };
    // Every log change is queued in outPersist as it is made, so this Ready's persist (with the
    // ones before it) holds the whole log as it is now.
    this.readyLogEnd.set(rd, { index: this.log.lastIndex(), term: this.log.lastTerm() });
    this.noticesReported = this.noticesHeld;
    this.cachedReady = rd;
    return rd;
  }

  advance(rd: Ready<RaftMessage>): void {
    this.cachedReady = null;
    this.outPersist.splice(0, rd.persist.length);
    this.outMsgs.splice(0, rd.messages.length);
    // Messages queued after ready() (a driver that steps the engine while it writes) stay early
    // only if the whole head was early; otherwise they wait for the next persist (always safe).
    this.outEarly = this.outEarly >= rd.messages.length ? this.outEarly - rd.messages.length : 0;
    this.outDecided.splice(0, rd.decided.length);
    const end = this.readyLogEnd.get(rd);
    // The entries are durable now, unless the log was since cut back below them (a follower
    // overwriting a conflicting suffix: then stableIndex was lowered and the term differs).
    if (end && end.index > this.stableIndex && (this.log.term(end.index) === end.term || end.index <= this.log.offset)) {
      this.stableIndex = Math.min(end.index, this.log.lastIndex());
      if (this.role === 'leader') this.selfDurable();
    }
    if (rd.restore !== null && rd.restore === this.outRestore) {
      this.outRestore = null;
      this.applyCommitted();
      this.maybeSnapshot();
    }
    if (this.applyAfterAdvance) {
      this.applyAfterAdvance = false;
      this.applyCommitted();
      this.maybeSnapshot();
    }
    if (this.unsignedIndexes.length > 0) this.signCut();
  }

  /** Leader: sign the blocks of the entries cut since the last advance — their appends have left (decision 1414). */
  private signCut(): void {
    for (const index of this.unsignedIndexes) {
      const e = this.log.entry(index);
      if (this.role !== 'leader' || !e?.cert || e.term !== this.term || e.cert.leader !== this.id || this.sigs.has(index)) continue;
      this.sigs.set(index, { term: e.term, nodeId: this.id, signature: this.signer.sign(certificateBytes(e.term, e.cert.height, e.cert.digest)) });
    }
    this.unsignedIndexes = [];
    this.pruneSigs();
  }

  /**
   * The block signatures this leader holds for entries (what `to` was last sent, upTo], for a
   * message that lets `to` commit up to `upTo`; remembers them as sent.
   */
  private sigsFor(to: NodeId, upTo: number): SigRange {
    const from = this.sigSent.get(to) ?? 0;
    if (upTo <= from) return { from, upTo: from, sigs: NO_SIGS };
    this.sigSent.set(to, upTo);
    if (this.sigs.size === 0) return { from, upTo, sigs: NO_SIGS };
    const sigs: EntrySig[] = [];
    for (let i = Math.max(from + 1, upTo - MESSAGE_SIGS_MAX + 1); i <= upTo; i++) {
      const held = this.sigs.get(i);
      if (held) sigs.push({ index: i, term: held.term, signature: held.signature });
    }
    return { from, upTo, sigs };
  }

  /** Follower: keep the leader's block signatures for entries it holds and has not applied. */
  private takeSigs(sigs: readonly EntrySig[] | undefined): void {
    if (!sigs) return;
    for (const s of sigs) {
      if (s.index <= this.applied) continue;
      const e = this.log.entry(s.index);
      if (!e?.cert || e.term !== s.term) continue;
      this.sigs.set(s.index, { term: s.term, nodeId: e.cert.leader, signature: s.signature });
    }
    this.pruneSigs();
  }

  /**
   * Drop signatures no longer needed: applied here and (leader) sent to every follower. At most
   * SIGS_KEPT_MAX stay; a follower that missed one certifies that block itself.
   */
  private pruneSigs(): void {
    let floor = this.applied;
    if (this.role === 'leader') for (const id of this.prs.keys()) if (id !== this.id) floor = Math.min(floor, this.sigSent.get(id) ?? 0);
    for (const index of this.sigs.keys()) {
      if (index > floor && this.sigs.size <= SIGS_KEPT_MAX) break;
      this.sigs.delete(index);
    }
  }

  /**
   * The signature of the block entry `e` becomes: the one it carries (cut before decision 1414),
   * else its leader's that reached us, else this node's own — its leader failed before sending
   * it, or the message carrying it was lost. Any member's signature certifies a raft-leader block.
   */
  private blockSignature(e: Entry, cert: EntryCert): { nodeId: NodeId; signature: Bytes } {
    if (cert.signature.byteLength > 0) return { nodeId: cert.leader, signature: cert.signature };
    const held = this.sigs.get(e.index);
    if (held && held.term === e.term) return { nodeId: held.nodeId, signature: held.signature };
    return { nodeId: this.id, signature: this.signer.sign(certificateBytes(e.term, cert.height, cert.digest)) };
  }

  flushNotices(): void {
    this.cachedReady = null;
    this.tellHeldNotices();
  }

  /** Leader: send the commit notices flushCommit held back (those no entry has carried since). */
  private tellHeldNotices(): void {
    if (!this.noticesHeld) return;
    this.noticesHeld = false;
    this.noticesReported = false;
    this.noticesHeldFor.clear();
    this.commitFlushDue = true;
    this.flushCommit(false);
  }

  /** Leader: its own entries up to stableIndex are on disk; count them, commit what that allows. */
  private selfDurable(): void {
    const pr = this.prs.get(this.id);
    if (!pr || !pr.maybeUpdate(Math.min(this.stableIndex, this.log.lastIndex()))) return;
    this.maybeCommit();
    this.afterInput();
  }

  status(): EngineStatus {
    return {
      id: this.id,
      role: this.role,
      leader: this.lead,
      epoch: this.term,
      decidedHeight: this.height,
      members: this.membersOf(this.conf),
    };
  }

  private membersOf(conf: ConfState): readonly NodeId[] {
    if (this.statusMembers?.conf !== conf) this.statusMembers = { conf, members: [...new Set([...conf.voters, ...conf.outgoing])] };
    return this.statusMembers.members;
  }

  // ------------------------------------------------------------------ extra API

  /** Start an election now, as if the election timeout had elapsed (pre-vote first if enabled). */
  campaignNow(): void {
    this.cachedReady = null;
    if (this.role !== 'leader') this.campaign(this.options.preVote ? 'pre' : 'election');
    this.afterInput();
  }

  /** Leader: hand leadership to `to` (a voter) once it is caught up (TimeoutNow). */
  transferLeadership(to: NodeId): boolean {
    this.cachedReady = null;
    if (this.role !== 'leader' || to === this.id || !this.conf.voters.includes(to)) return false;
    if (this.leadTransferee === to) return true;
    this.leadTransferee = to;
    // The transfer must finish within an election timeout (tickLeader aborts it otherwise).
    this.electionElapsed = 0;
    const pr = this.prs.get(to)!;
    if (pr.match === this.log.lastIndex()) this.send(to, { type: 'raft/timeout-now', term: this.term });
    else this.sendAppend(to);
    this.afterInput();
    return true;
  }

  /**
   * Leader: change the membership by joint consensus. Voter changes go through C_old,new (which
   * needs majorities of both) and then, automatically once that is applied, C_new. Learner-only
   * changes are a single step (learners do not count for any quorum).
   */
  proposeConfChange(change: ConfChangeRequest): ConfChangeResult {
    this.cachedReady = null;
    if (this.role !== 'leader') return { accepted: false, reason: 'not-leader' };
    if (this.leadTransferee !== null) return { accepted: false, reason: 'transfer-in-progress' };
    if (this.pendingConfIndex > this.applied || this.conf.outgoing.length > 0) return { accepted: false, reason: 'change-pending' };
    const add = change.add ?? [];
    const remove = change.remove ?? [];
    const addLearners = change.addLearners ?? [];
    if (![...add, ...remove, ...addLearners].every(isNodeId)) return { accepted: false, reason: 'invalid' };
    if (add.some((id) => remove.includes(id)) || addLearners.some((id) => add.includes(id) || remove.includes(id))) {
      return { accepted: false, reason: 'invalid' };
    }
    const voters = [...new Set([...this.conf.voters, ...add])].filter((id) => !remove.includes(id));
    const learners = [...new Set([...this.conf.learners, ...addLearners])].filter((id) => !voters.includes(id) && !remove.includes(id));
    if (voters.length === 0) return { accepted: false, reason: 'invalid' };
    const sameVoters = voters.length === this.conf.voters.length && voters.every((v) => this.conf.voters.includes(v));
    const conf: ConfState = sameVoters
      ? { voters, outgoing: [], learners }
      : { voters, outgoing: [...this.conf.voters], learners: learners.filter((l) => !this.conf.voters.includes(l)) };
    const index = this.appendEntry('conf', [], conf);
    this.pendingConfIndex = index;
    this.bcastAppend();
    this.afterInput();
    return { accepted: true, index };
  }

  /**
   * Leader: one safe step toward the voter set `members` (Engine.reconfigure). A newcomer joins
   * as a learner and is promoted to voter only once its log has caught up with the leader's
   * commit index, so adding a hospital never makes the cluster wait on an empty log (etcd's
   * learner-first advice). Members no longer wanted are removed after promotions, one joint
   * consensus change at a time; removing the leader itself makes it step down when C_new applies.
   */
  reconfigure(members: readonly NodeId[]): ReconfigureResult {
    const target = [...new Set(members)].filter(isNodeId);
    if (target.length === 0) return 'stepping'; // never empty the cluster; the config forbids it anyway
    const isSettled = (): boolean =>
      this.conf.outgoing.length === 0 &&
      this.conf.learners.length === 0 &&
      this.conf.voters.length === target.length &&
      target.every((id) => this.conf.voters.includes(id));
    if (this.role !== 'leader') return isSettled() ? 'settled' : 'not-leader';
    if (isSettled()) return 'settled';
    if (this.pendingConfIndex > this.applied || this.conf.outgoing.length > 0 || this.leadTransferee !== null) return 'stepping';
    const known = new Set([...this.conf.voters, ...this.conf.learners]);
    const newcomers = target.filter((id) => !known.has(id));
    if (newcomers.length > 0) {
      this.proposeConfChange({ addLearners: newcomers });
      return 'stepping';
    }
    const caughtUp = this.conf.learners.filter((id) => target.includes(id) && (this.prs.get(id)?.match ?? 0) >= this.commit);
    if (caughtUp.length > 0) {
      this.proposeConfChange({ add: caughtUp });
      return 'stepping';
    }
    const unwanted = [...this.conf.voters, ...this.conf.learners].filter((id) => !target.includes(id));
    if (unwanted.length > 0 && this.conf.learners.every((id) => !target.includes(id))) {
      this.proposeConfChange({ remove: unwanted });
    }
    return 'stepping';
  }

  raftStatus(): RaftStatus {
    const progress = new Map<NodeId, ProgressStatus>();
    for (const [id, pr] of [...this.prs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        inflight: pr.inflights.count,
        paused: pr.isPaused(),
        recentActive: pr.recentActive,
      });
    }
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      lead: this.lead,
      commit: this.commit,
      applied: this.applied,
      firstIndex: this.log.firstIndex(),
      lastIndex: this.log.lastIndex(),
      height: this.height,
      digest: this.digest,
      conf: this.conf,
      snapshotIndex: this.snapshot?.index ?? 0,
      leadTransferee: this.leadTransferee,
      submitted: this.submitted.size,
      progress,
    };
  }

  /** Entries [lo, hi] still in the log (for tests and scenario output). */
  entries(lo: number, hi: number): Entry[] {
    const out: Entry[] = [];
    for (let i = Math.max(lo, this.log.firstIndex()); i <= Math.min(hi, this.log.lastIndex()); i++) out.push(this.log.entry(i)!);
    return out;
  }

  // ------------------------------------------------------------------ roles

  private promotable(): boolean {
    return isVoter(this.conf, this.id);
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.options.electionTicks + this.rng.nextInt(this.options.electionTicks);
  }

  private setLead(lead: NodeId | null): void {
    if (lead === this.lead) return;
    this.lead = lead;
    // A new leader is known: hand it everything still undecided, now rather than at retry time.
    if (lead !== null && lead !== this.id) {
      for (const s of this.submitted.values()) {
        s.waitTicks = 0;
        this.forwardBuf.push(s.proposal);
      }
    }
  }

  private becomeFollower(term: number, lead: NodeId | null): void {
    assertInvariant(term >= this.term, 'terms never go back');
    const wasLeader = this.role === 'leader';
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
      this.hardDirty = true;
    }
    this.role = 'follower';
    this.resetElectionTimer();
    this.prs.clear();
    this.votes.clear();
    this.proj = null;
    this.cutOn.clear();
    this.leadTransferee = null;
    this.noticesHeld = false;
    this.noticesReported = false;
    this.noticesHeldFor.clear();
    this.unsignedIndexes = [];
    // Proposals queued at a deposed leader are dropped here; their submitters re-route them.
    if (wasLeader) this.cutter.drain();
    this.setLead(lead);
  }

  private campaign(kind: CampaignKind): void {
    if (!this.promotable()) return;
    let voteTerm: number;
    let type: VoteType;
    if (kind === 'pre') {
      this.role = 'pre-candidate';
      voteTerm = this.term + 1;
      type = 'raft/prevote';
    } else {
      this.role = 'candidate';
      this.term += 1;
      this.vote = this.id;
      this.hardDirty = true;
      voteTerm = this.term;
      type = 'raft/vote';
    }
    this.lead = null;
    this.resetElectionTimer();
    this.prs.clear();
    this.proj = null;
    this.votes = new Map([[this.id, true]]);
    if (jointVote(this.conf, this.votes) === 'won') {
      if (kind === 'pre') this.campaign('election');
      else this.becomeLeader();
      return;
    }
    const lastIndex = this.log.lastIndex();
    const lastTerm = this.log.lastTerm();
    for (const id of new Set([...this.conf.voters, ...this.conf.outgoing])) {
      if (id !== this.id) this.send(id, { type, term: voteTerm, lastIndex, lastTerm, transfer: kind === 'transfer' });
    }
  }

  private becomeLeader(): void {
    assertInvariant(this.role === 'candidate', 'only a candidate becomes leader');
    this.role = 'leader';
    this.lastCutProposals = 0;
    this.setLead(this.id);
    this.leadTransferee = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const last = this.log.lastIndex();
    this.prs = new Map();
    this.commitSent.clear();
    this.sigSent.clear();
    this.noticesHeld = false;
    this.noticesReported = false;
    this.noticesHeldFor.clear();
    for (const id of confNodes(this.conf)) {
      const pr = new Progress(last + 1, this.options.maxInflight);
      if (id === this.id) {
        // Only what is on our own disk counts for us (entries of this Ready may not be yet).
        pr.match = Math.min(this.stableIndex, last);
        pr.becomeReplicate();
        pr.recentActive = true;
      }
      this.prs.set(id, pr);
    }
    // Any conf entry in the log may be uncommitted: no new change until everything is applied.
    this.pendingConfIndex = last;
    // Project the applied state over the whole log, so blocks can be signed at append time.
    const proj: Projection = { height: this.height, digest: this.digest, dedup: DedupWindow.fromJSON(this.dedup.toJSON()) };
    for (let i = this.applied + 1; i <= last; i++) {
      const e = this.log.entry(i)!;
      if (e.kind !== 'normal') continue;
      const kept = e.proposals.filter((p) => proj.dedup.markDecided(p));
      if (kept.length === 0) continue;
      proj.height += 1;
      proj.digest = blockDigest(proj.height, proj.digest, kept);
    }
    this.proj = proj;
    // A no-op of the new term lets earlier-term entries commit (§5.4.2, §8).
    this.appendEntry('noop', [], null);
    this.bcastAppend();
    for (const s of this.submitted.values()) this.cutter.add(s.proposal);
  }

  private handleVoteRequest(from: NodeId, m: Extract<RaftMessage, { type: VoteType }>): void {
    const pre = m.type === 'raft/prevote';
    const canVote = this.vote === from || (this.vote === null && this.lead === null) || (pre && m.term > this.term);
    const respType = pre ? 'raft/prevote-resp' : 'raft/vote-resp';
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      this.send(from, { type: respType, term: m.term, reject: false });
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = from;
        this.hardDirty = true;
      }
    } else {
      this.send(from, { type: respType, term: this.term, reject: true });
    }
  }

  private handleVoteResponse(from: NodeId, type: 'raft/prevote-resp' | 'raft/vote-resp', reject: boolean): void {
    const expected = this.role === 'pre-candidate' ? 'raft/prevote-resp' : this.role === 'candidate' ? 'raft/vote-resp' : null;
    if (type !== expected || this.votes.has(from)) return;
    this.votes.set(from, !reject);
    const result = jointVote(this.conf, this.votes);
    if (result === 'won') {
      if (this.role === 'pre-candidate') this.campaign('election');
      else this.becomeLeader();
    } else if (result === 'lost') {
      this.becomeFollower(this.term, null);
    }
  }

  // ------------------------------------------------------------------ follower side

  private handleAppend(from: NodeId, m: Extract<RaftMessage, { type: 'raft/append' }>): void {
    if (m.prevIndex < this.commit) {
      this.send(from, { type: 'raft/append-resp', term: this.term, index: this.commit, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      const lastNew = m.prevIndex + m.entries.length;
      const conflict = this.log.findConflict(m.entries);
      if (conflict !== 0) {
        // Log Matching makes this impossible for committed entries, unless commitment itself was
        // unsafe (the deliberately broken option): then the overwrite is the demonstrated bug.
        assertInvariant(conflict > this.commit || this.options.unsafeCommitPreviousTerm, `entry ${conflict} conflicts with a committed entry`);
        this.persistAppend(m.entries.slice(conflict - m.prevIndex - 1));
      }
      this.commitTo(Math.min(m.commit, lastNew));
      this.takeSigs(m.sigs);
      this.send(from, { type: 'raft/append-resp', term: this.term, index: lastNew, reject: false, hintIndex: 0, hintTerm: 0 });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send(from, { type: 'raft/append-resp', term: this.term, index: m.prevIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term });
  }

  /** An append without entries whose success is not answered (decision 1370). */
  private handleCommit(from: NodeId, m: Extract<RaftMessage, { type: 'raft/commit' }>): void {
    if (m.prevIndex < this.commit) return; // nothing new to learn; the leader knows our log already
    if (this.log.matchTerm(m.prevIndex, m.prevTerm)) {
      this.commitTo(Math.min(m.commit, m.prevIndex));
      this.takeSigs(m.sigs);
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send(from, { type: 'raft/append-resp', term: this.term, index: m.prevIndex, reject: true, hintIndex: hint.index, hintTerm: hint.term });
  }

  private handleHeartbeat(from: NodeId, commit: number): void {
    // The leader sends min(match, commit), so this never commits beyond what matches its log.
    this.commitTo(Math.min(commit, this.log.lastIndex()));
    this.send(from, { type: 'raft/heartbeat-resp', term: this.term });
  }

  private handleSnapshot(from: NodeId, s: Snapshot): void {
    const installed = this.restoreSnapshot(s);
    const index = installed ? this.log.lastIndex() : this.commit;
    this.send(from, { type: 'raft/append-resp', term: this.term, index, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  private restoreSnapshot(s: Snapshot): boolean {
    if (s.index <= this.commit) return false;
    if (this.log.matchTerm(s.index, s.term)) {
      // We already have the entries: just learn that they are committed.
      this.commitTo(s.index);
      return false;
    }
    this.log.reset(s.index, s.term);
    this.stableIndex = Math.min(this.stableIndex, s.index - 1);
    this.snapshot = s;
    this.outPersist.push({ op: 'deletePrefix', prefix: LOG_PREFIX }, { op: 'put', key: SNAP_KEY, value: encode(s) });
    this.commit = s.index;
    this.applied = s.index;
    this.hardDirty = true;
    this.conf = s.conf;
    this.height = s.height;
    this.digest = s.digest;
    this.dedup = DedupWindow.fromJSON(s.dedup);
    for (const [key, sub] of this.submitted) if (this.dedup.isDecided(sub.proposal)) this.submitted.delete(key);
    // Blocks not yet handed out are covered by the restore.
    this.outDecided = [];
    this.outRestore = { height: s.height, digest: s.digest };
    return true;
  }

  // ------------------------------------------------------------------ leader side

  private tickElection(): void {
    this.electionElapsed += 1;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.campaign(this.options.preVote ? 'pre' : 'election');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed += 1;
    this.electionElapsed += 1;
    if (this.electionElapsed >= this.options.electionTicks) {
      this.electionElapsed = 0;
      if (this.options.checkQuorum) {
        const active = jointActive(this.conf, (id) => id === this.id || (this.prs.get(id)?.recentActive ?? false));
        if (!active) {
          this.becomeFollower(this.term, null);
          return;
        }
        for (const [id, pr] of this.prs) if (id !== this.id) pr.recentActive = false;
      }
      this.leadTransferee = null; // a transfer that did not finish within an election timeout is abandoned
    }
    for (const [id, pr] of this.prs) {
      if (id !== this.id && pr.state === 'snapshot' && ++pr.snapshotTicks >= this.options.electionTicks) {
        // The snapshot (or its answer) was lost: probe again, which resends it if still needed.
        pr.pendingSnapshot = 0;
        pr.becomeProbe();
      }
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      for (const [id, pr] of this.prs) {
        if (id !== this.id) this.send(id, { type: 'raft/heartbeat', term: this.term, commit: Math.min(pr.match, this.commit) });
      }
    }
    if (this.cutter.tick()) this.cutBlocks(true);
  }

  private handleAppendResponse(from: NodeId, m: Extract<RaftMessage, { type: 'raft/append-resp' }>): void {
    const pr = this.prs.get(from);
    if (!pr) return;
    pr.recentActive = true;
    if (m.reject) {
      let next = m.hintIndex;
      if (m.hintTerm > 0) next = this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index;
      if (pr.maybeDecrTo(m.index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (pr.maybeUpdate(m.index)) {
      if (pr.state === 'probe') pr.becomeReplicate();
      else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
        pr.becomeProbe();
        pr.becomeReplicate();
      } else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);
      // A new commit index goes out at the end of this input (flushCommit), with the entries cut
      // meanwhile when there are any.
      if (!this.maybeCommit() && wasPaused) this.sendAppend(from);
      while (this.sendAppend(from, false)) {
        // keep the pipe full, bounded by the inflight window (probe sends one)
      }
      if (from === this.leadTransferee && pr.match === this.log.lastIndex()) this.send(from, { type: 'raft/timeout-now', term: this.term });
    } else if (pr.state === 'snapshot' && m.index >= pr.pendingSnapshot) {
      // The follower did not need the snapshot (it had the entries already): probe from its match.
      // (An older, stale response has a lower index and changes nothing.)
      pr.pendingSnapshot = 0;
      pr.becomeProbe();
      this.sendAppend(from);
    }
  }

  private handleHeartbeatResponse(from: NodeId): void {
    const pr = this.prs.get(from);
    if (!pr) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // Appends may have been lost: free one slot so that replication resumes (the follower then
    // rejects the gap and we fall back to probing).
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
    if (pr.match < this.log.lastIndex()) this.sendAppend(from);
  }

  /** Send an append (or a snapshot) to `to` if flow control allows. Returns whether anything was sent. */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.prs.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.slice(pr.next, this.log.lastIndex(), this.options.maxEntriesPerAppend, this.options.maxAppendBytes);
    if (prevTerm === undefined || entries === undefined) return this.sendSnapshot(to, pr);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(to, this.appendMessage(to, prevIndex, prevTerm, entries));
    if (pr.state === 'replicate' && entries.length > 0) {
      const last = entries[entries.length - 1]!.index;
      pr.optimisticUpdate(last);
      pr.inflights.add(last);
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  /**
   * The append to send: the last one built when it says exactly the same (term, commit, previous
   * entry, the same entry objects) — followers at the same point get one object, which drivers
   * encode and frame once (decision 1406). Messages are never mutated once built.
   */
  private appendMessage(to: NodeId, prevIndex: number, prevTerm: number, entries: readonly Entry[]): AppendMessage {
    // The follower commits up to min(commit, its last new entry): the signatures up to there go along.
    const range = this.sigsFor(to, Math.min(this.commit, prevIndex + entries.length));
    const last = this.lastAppend;
    const lastRange = this.lastAppendSigs;
    if (
      last !== null &&
      last.term === this.term &&
      last.commit === this.commit &&
      last.prevIndex === prevIndex &&
      last.prevTerm === prevTerm &&
      last.entries.length === entries.length &&
      last.entries.every((e, i) => e === entries[i]) &&
      // The same signatures: none for either, or the same range of them.
      ((range.sigs.length === 0 && lastRange.sigs.length === 0) || (range.from === lastRange.from && range.upTo === lastRange.upTo))
    ) {
      return last;
    }
    const message: AppendMessage = { type: 'raft/append', term: this.term, prevIndex, prevTerm, entries, commit: this.commit, sigs: range.sigs };
    this.lastAppend = message;
    this.lastAppendSigs = range;
    return message;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    // Only to a follower we have heard from recently: a snapshot to a dead node is wasted bytes.
    if (!pr.recentActive) return false;
    const s = this.snapshot;
    assertInvariant(s !== null, 'a compacted log has a snapshot');
    this.send(to, { type: 'raft/snapshot', term: this.term, snapshot: s });
    pr.becomeSnapshot(s.index);
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.prs.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /** Commit the highest index acknowledged by a quorum — if it is of the current term (§5.4.2). */
  private maybeCommit(): boolean {
    const mci = jointCommitted(this.conf, this.matchOf);
    if (!Number.isFinite(mci) || mci <= this.commit) return false;
    if (!this.options.unsafeCommitPreviousTerm && this.log.term(mci) !== this.term) return false;
    this.commitTo(mci);
    this.commitFlushDue = true;
    return true;
  }

  private appendEntry(kind: EntryKind, proposals: readonly Proposal[], conf: ConfState | null, cert: Entry['cert'] = null): number {
    const index = this.log.lastIndex() + 1;
    // Not counted for ourselves yet: the leader's replica counts once a Ready made it durable
    // (advance -> selfDurable), since its appends may leave before the write (earlyMessages).
    this.persistAppend([{ term: this.term, index, kind, proposals, conf, cert }]);
    return index;
  }

  /** Leader: cut batches from the cutter into entries, signing the block each will become. */
  private cutBlocks(due: boolean, eager = true): void {
    if (this.role !== 'leader' || this.leadTransferee !== null || !this.proj) return;
    let appended = false;
    while (this.cutter.size > 0 && (due || this.cutter.hasFullBatch() || (eager && this.eagerCutAllowed()))) {
      if (this.log.lastIndex() - this.commit >= this.options.uncommittedEntriesMax) break;
      const batch = this.cutter.cut();
      const kept = batch.filter((p) => this.proj!.dedup.markDecided(p));
      if (kept.length === 0) continue;
      const height = this.proj.height + 1;
      const digest = blockDigest(height, this.proj.digest, kept);
      // Signed in advance(), once this entry has left: not on the round's critical path (decision 1414).
      const index = this.appendEntry('normal', kept, null, { leader: this.id, height, digest, signature: NO_SIGNATURE });
      this.unsignedIndexes.push(index);
      this.cutOn.set(index, this.proj.digest);
      this.lastCutProposals = kept.length;
      this.proj.height = height;
      this.proj.digest = digest;
      appended = true;
    }
    if (appended) this.bcastAppend();
  }

  private maybeAutoLeave(): void {
    if (this.role !== 'leader' || this.conf.outgoing.length === 0 || this.pendingConfIndex > this.applied) return;
    const conf: ConfState = { voters: this.conf.voters, outgoing: [], learners: this.conf.learners };
    this.pendingConfIndex = this.appendEntry('conf', [], conf);
    this.bcastAppend();
  }

  // ------------------------------------------------------------------ apply

  private commitTo(index: number): void {
    if (index <= this.commit) return;
    assertInvariant(index <= this.log.lastIndex(), 'commit within the log');
    this.commit = index;
    this.hardDirty = true;
  }

  private applyCommitted(): void {
    if (this.outRestore !== null) return;
    while (this.applied < this.commit) {
      const e = this.log.entry(this.applied + 1);
      assertInvariant(e !== undefined, 'committed entries are in the log');
      // Heights the application already stored before a restart are not handed out again (with
      // syncCommitIndex false the persisted `applied` can lag what was delivered).
      this.applyEntry(e, (h) => h > this.appliedFloor);
      this.applied += 1;
      this.hardDirty = true;
    }
  }

  private applyEntry(e: Entry, emit: (height: number) => boolean): void {
    if (e.kind === 'conf') {
      this.applyConf(e.conf!);
      return;
    }
    if (e.kind !== 'normal') return;
    const cutOn = this.cutOn.get(e.index);
    if (cutOn !== undefined) this.cutOn.delete(e.index);
    const kept: Proposal[] = [];
    for (const p of e.proposals) {
      if (this.dedup.markDecided(p)) kept.push(p);
      this.submitted.delete(proposalKey(p));
    }
    if (kept.length === 0) return; // every node skips it alike: heights stay gapless
    const previousDigest = this.digest;
    this.height += 1;
    // An entry this leader cut, applied at the height and on the digest it was cut on, with every
    // proposal kept: its digest is the one computed at the cut (same inputs), not hashed again.
    // Anything else is hashed, and the check below holds the leader to its signed projection (decision 1419).
    const asCut =
      cutOn !== undefined &&
      kept.length === e.proposals.length &&
      e.cert?.leader === this.id &&
      e.cert.height === this.height &&
      bytesEqual(cutOn, previousDigest);
    this.digest = asCut ? e.cert!.digest : blockDigest(this.height, previousDigest, kept);
    let certificate: Certificate | null = null;
    if (e.cert && e.cert.height === this.height && bytesEqual(e.cert.digest, this.digest)) {
      certificate = { scheme: CERT_SCHEME, fields: { term: e.term }, signatures: [this.blockSignature(e, e.cert)] };
    } else {
      // The leader projected exactly this (same log prefix => same applied state); only the
      // deliberately unsafe commit rule can make applied histories diverge.
      assertInvariant(this.options.unsafeCommitPreviousTerm, `block ${this.height} matches the leader's signed projection`);
    }
    if (emit(this.height)) {
      this.outDecided.push({ height: this.height, proposals: kept, digest: this.digest, previousDigest, certificate });
    }
  }

  private applyConf(conf: ConfState): void {
    this.conf = conf;
    if (this.role !== 'leader') return;
    const nodes = confNodes(conf);
    const added: NodeId[] = [];
    for (const id of nodes) {
      if (this.prs.has(id)) continue;
      this.prs.set(id, new Progress(this.log.lastIndex() + 1, this.options.maxInflight));
      added.push(id);
    }
    for (const id of [...this.prs.keys()]) if (!nodes.includes(id)) this.prs.delete(id);
    if (this.leadTransferee !== null && !conf.voters.includes(this.leadTransferee)) this.leadTransferee = null;
    if (!isVoter(conf, this.id)) {
      // Removed from the configuration: tell everyone the commit index, then step down.
      this.bcastAppend();
      this.becomeFollower(this.term, null);
      return;
    }
    this.maybeCommit();
    // Start probing new members now rather than at the next heartbeat response.
    for (const id of added) this.sendAppend(id);
  }

  private maybeSnapshot(): void {
    const every = this.options.snapshotEntries;
    if (every === 0 || this.outRestore !== null) return;
    const snapIndex = this.snapshot?.index ?? 0;
    if (this.applied - snapIndex < every || this.applied > this.log.lastIndex()) return;
    const term = this.log.term(this.applied);
    if (term === undefined) return;
    const s: Snapshot = { index: this.applied, term, conf: this.conf, height: this.height, digest: this.digest, dedup: this.dedup.toJSON() };
    this.snapshot = s;
    this.outPersist.push({ op: 'put', key: SNAP_KEY, value: encode(s) });
    for (let i = this.log.offset + 1; i <= s.index; i++) this.outPersist.push({ op: 'delete', key: logKey(i) });
    this.log.compact(s.index);
  }

  // ------------------------------------------------------------------ plumbing

  /**
   * Leader: a partial batch would be cut at once (eagerCutUncommittedMax). A proposal does not cut
   * it itself: the cut waits for the driver's next ready(), so proposals handed to the engine
   * before the driver collects its Ready (a driver that drives once per event-loop turn) go out as
   * one entry instead of the first alone and the rest after its commit (decision 1372).
   */
  private eagerCutDue(): boolean {
    if (this.role !== 'leader' || this.leadTransferee !== null || !this.proj || this.cutter.size === 0) return false;
    return this.eagerCutAllowed() && this.log.lastIndex() - this.commit < this.options.uncommittedEntriesMax;
  }

  /** The eager-cut rule: few enough entries uncommitted, and the last entry cut was small (decision 1385). */
  private eagerCutAllowed(): boolean {
    if (this.log.lastIndex() - this.commit >= this.options.eagerCutUncommittedMax) return false;
    const entryMax = this.options.eagerCutEntryProposalsMax;
    return entryMax === 0 || this.lastCutProposals <= entryMax;
  }

  private afterInput(eagerCut = true): void {
    if (this.role === 'leader') this.cutBlocks(false, eagerCut);
    // Before applying: a configuration that removes members prunes their progress, and they
    // should still learn the commit index that removes them (as they did when the leader sent it
    // the moment it advanced).
    this.flushCommit(this.options.holdCommitNotices);
    // A follower with entries to write or an answer to send applies after advance() (decision
    // 1417); a leader applies now — what it applies is what its clients wait for.
    if (this.role !== 'leader' && this.applied < this.commit && (this.outPersist.length > 0 || this.outMsgs.length > 0)) this.applyAfterAdvance = true;
    else this.applyCommitted();
    this.maybeAutoLeave();
    this.maybeSnapshot();
    this.flushForward();
    this.flushCommit(this.options.holdCommitNotices);
  }

  /**
   * Leader: tell every follower the commit index it was not yet sent (decision 1370). Done once
   * per input, after the cutter ran, so that when new entries went out they carried it (no
   * separate message). A follower that has been sent every entry gets a raft/commit, which it
   * does not answer when it matches; others get an append as before (entries, or a probe).
   * With `hold`, that raft/commit waits for flushNotices (decision 1405): the next entry usually
   * carries the index first, and then the notice is not sent at all — unless the commit takes a
   * configuration change, whose removed members must learn it before their progress is pruned.
   */
  private flushCommit(hold: boolean): void {
    if (!this.commitFlushDue) return;
    this.commitFlushDue = false;
    if (this.role !== 'leader') return;
    for (const [id, pr] of this.prs) {
      const sent = this.commitSent.get(id) ?? -1;
      if (id === this.id || sent >= this.commit || pr.isPaused()) continue;
      if (pr.state === 'replicate' && pr.next > this.log.lastIndex()) {
        const prevIndex = pr.next - 1;
        const prevTerm = this.log.term(prevIndex);
        if (prevTerm !== undefined) {
          // pendingConfIndex is the last configuration entry (or, after an election, the log's end).
          if (hold && !(this.pendingConfIndex > sent && this.pendingConfIndex <= this.commit)) {
            this.noticesHeld = true;
            this.noticesHeldFor.add(id);
            continue;
          }
          const { sigs } = this.sigsFor(id, Math.min(this.commit, prevIndex));
          this.send(id, { type: 'raft/commit', term: this.term, prevIndex, prevTerm, commit: this.commit, sigs });
          continue;
        }
      }
      this.sendAppend(id);
    }
  }

  private route(p: Proposal): void {
    if (this.role === 'leader') this.cutter.add(p);
    else if (this.lead !== null) this.forwardBuf.push(p);
    // No leader known: it stays in `submitted` and goes out when one is (setLead).
  }

  private flushForward(): void {
    if (this.forwardBuf.length === 0) return;
    const buf = this.forwardBuf;
    this.forwardBuf = [];
    if (this.role === 'leader') {
      for (const p of buf) this.cutter.add(p);
      return;
    }
    if (this.lead === null) return;
    const countMax = this.cutter.config.countMax;
    let chunk: Proposal[] = [];
    let bytes = 0;
    for (const p of buf) {
      const size = proposalSizeBytes(p);
      if (chunk.length > 0 && (chunk.length >= countMax || bytes + size > this.options.maxAppendBytes)) {
        this.send(this.lead, { type: 'raft/forward', term: this.term, proposals: chunk });
        chunk = [];
        bytes = 0;
      }
      chunk.push(p);
      bytes += size;
    }
    if (chunk.length > 0) this.send(this.lead, { type: 'raft/forward', term: this.term, proposals: chunk });
  }

  private persistAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    // From the first appended index on, the log is new (possibly replacing a conflicting suffix).
    this.stableIndex = Math.min(this.stableIndex, entries[0]!.index - 1);
    const removed = this.log.append(entries);
    for (const e of entries) this.outPersist.push({ op: 'put', key: logKey(e.index), value: encode(e) });
    if (removed) for (let i = removed.removedFrom; i <= removed.removedTo; i++) this.outPersist.push({ op: 'delete', key: logKey(i) });
  }

  private send(to: NodeId, message: RaftMessage): void {
    // A leader's appends and heartbeats depend only on its term and vote (already handed to the
    // driver in an earlier Ready, which is durable before this one is written) and on its log,
    // which it may replicate before its own copy is durable (decision 1360). Everything else waits
    // for the persist — a snapshot too: it carries applied state the leader has not yet delivered
    // (nor written). Kept as a prefix so that no message overtakes an earlier one.
    const early =
      (message.type === 'raft/append' || message.type === 'raft/heartbeat' || message.type === 'raft/commit') &&
      this.role === 'leader' &&
      this.term === this.durableTerm &&
      this.vote === this.durableVote;
    if (early && this.outEarly === this.outMsgs.length) this.outEarly += 1;
    if (message.type === 'raft/append' || message.type === 'raft/commit') {
      this.commitSent.set(to, message.commit);
      if (message.commit >= this.commit && this.noticesHeldFor.delete(to) && this.noticesHeldFor.size === 0) {
        // Every held notice was carried by an entry (decision 1416): the Ready says nothing is held.
        this.noticesHeld = false;
        this.noticesReported = false;
      }
    }
    this.outMsgs.push({ to, message });
  }
}
