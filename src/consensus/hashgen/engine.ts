// `hashgen`: the hash-generator consensus of BMRS (Dwivedi et al., Algorithm 2) as a pure state
// machine. See docs/architecture/hashgen.md for the protocol and its safety argument.
//
//   select    CAMS picks the generator with the best performance record for an epoch
//   authenticate  the others authenticate it: ≥ ⌈N/2⌉ signed votes (N = the others). A vote is
//             also a promise (Paxos phase 1): the voter ignores older epochs from then on and
//             reports the last block it validated, which the new generator must re-propose.
//   build     the generator cuts a block from its data-lake pool
//   validate  every generator validates it; ≥ ⌊N/2⌋+1 signed validations (the generator's own
//             included) — Paxos phase 2. A node validates at most one block per (epoch, height),
//             and persists that validation before sending it.
//   seal      the generator searches a nonce whose proof hash meets the target (bounded work per
//             tick), broadcasts the sealed block with the validation certificate, and every node
//             decides it. In 'bft' mode the seal is a lock and a commit quorum decides.
//
// Replacement: a generator that is not heard from (timeout), makes no progress while proposals
// wait, or is caught misbehaving (invalid block, bad seal, equivocation) is replaced by the next
// best generator in the next epoch.
//
// Membership (decision 1295, membership.ts): the generator set follows the config in force one
// generator at a time, through membership entries decided like blocks; every node switches at
// the decided membership block, and a new generator is authenticated by the new list.
import { CATCH_UP_BYTES_MAX, DecidedChain, plainBlock } from '../decided-chain.ts';
import { ReadyQueue } from '../ready-queue.ts';
import { bytesEqual, decode, encode, toHex, type Bytes } from '../../codec/index.ts';
import type { Signer, SignatureVerifier } from '../../crypto/index.ts';
import { DedupWindow } from '../dedup.ts';
import { blockDigest, GENESIS_DIGEST, proposalKey, proposalSizeBytes } from '../digest.ts';
import {
  assertInvariant,
  type CertificateSignature,
  type DecidedBlock,
  type Engine,
  type EngineStatus,
  type NodeId,
  type Proposal,
  type ProposeResult,
  type Ready,
  type ReconfigureResult,
  type Rng,
} from '../engine.ts';
import { nextMemberStep, parseMemberList, sameMemberList, sameMemberSet, singleStep } from '../membership.ts';
import { entryMembers, isMembershipEntry, membershipBound, membershipEntry, MEMBERSHIP_CLIENT_ID } from './membership.ts';
import type { CutterConfig } from '../cutter.ts';
import type { EngineContext } from '../registry.ts';
import {
  parseMessage,
  signedBody,
  type HgAuthReq,
  type HgAuthVote,
  type HgBlock,
  type HgCommit,
  type HgFetch,
  type HgHeartbeat,
  type HgMessage,
  type HgSeal,
  type HgSelect,
  type HgSuspect,
  type HgValidate,
  type LockReport,
  type MessageLimits,
} from './messages.ts';
import { parseHashgenOptions, type HashgenOptions } from './options.ts';
import { DataLakePool } from './pool.ts';
import {
  applyDecided,
  CERT_SCHEME,
  certificateMembership,
  hasValidVotes,
  emptyRecords,
  meetsTarget,
  proofHash,
  rankGenerators,
  recordsFromJSON,
  recordsToJSON,
  searchNonce,
  selectGenerator,
  thresholds,
  verifyHashgenCertificate,
  voteBytes,
  type ChainTip,
  type QuorumMode,
  type Records,
  type Thresholds,
} from './rules.ts';

// Durable keys.
const HEAD_KEY = 'hashgen/head';
const PROMISE_KEY = 'hashgen/promise';
const VAL_KEY = 'hashgen/val';
const LOCK_KEY = 'hashgen/lock';
const BARRED_KEY = 'hashgen/barred';
const CAMS_KEY = 'hashgen/cams';

const FORWARD_PROPOSALS_MAX = 1000;
const BACKOFF_MAX = 8;
const MISBEHAVIOUR_LOG_MAX = 64;

interface Head {
  height: number;
  digest: Bytes;
  tipEpoch: number;
  tipGenerator: NodeId | null;
  dedup: Array<[string, number, number[]]>;
  records: Array<[NodeId, number, number, number]>;
  /** The membership epoch, once it is not the genesis one: [number, members, start height]. */
  membership?: [number, NodeId[], number];
}

/** The membership epoch in force: its number (0 = genesis list) and the height that started it. */
interface MembershipEpoch {
  readonly number: number;
  /** The membership block that started this epoch (0 for the genesis list). */
  readonly startHeight: number;
}

interface Promise_ {
  epoch: number;
  candidate: NodeId | null;
}

/** The last block this node validated. */
interface Validation {
  e: number;
  h: number;
  prev: Bytes;
  d: Bytes;
  proposals: Proposal[];
}

/** bft: the last sealed block this node locked on (a validation quorum exists for it). */
interface Lock extends Validation {
  cert: CertificateSignature[];
  nonce: number;
  generator: NodeId;
  difficultyBits: number;
}

interface Campaign {
  epoch: number;
  /** The membership epoch the campaign counts votes in. */
  membership: number;
  votes: Map<NodeId, HgAuthVote>;
  select: HgSelect | null;
  resendIn: number;
}

interface Inflight {
  epoch: number;
  height: number;
  prev: Bytes;
  proposals: Proposal[];
  digest: Bytes;
  validations: Map<NodeId, Bytes>;
  nonceNext: number;
  seal: HgSeal | null;
  resendIn: number;
}

interface GeneratorState {
  epoch: number;
  /** The membership epoch it was authenticated in: it proposes nothing in a later one. */
  membership: number;
  /** bft: the authentication votes (proposals stripped) carried by every block of the epoch. */
  justification: HgAuthVote[];
  inflight: Inflight | null;
  heartbeatIn: number;
}

export interface Misbehaviour {
  readonly generator: NodeId;
  readonly epoch: number;
  readonly reason: 'invalid-block' | 'bad-seal' | 'equivocation' | 'lock-violation';
}

/** Engine internals exposed for tests and diagnostics (read-only copies). */
export interface HashgenDiagnostics {
  readonly ranking: NodeId[];
  readonly records: Array<[NodeId, number, number, number]>;
  readonly barred: NodeId[];
  readonly misbehaviours: Misbehaviour[];
  readonly promiseEpoch: number;
  readonly poolSize: number;
  readonly thresholds: Thresholds;
  readonly membershipNumber: number;
  readonly membershipStartHeight: number;
  readonly target: NodeId[] | null;
}

export class HashgenEngine implements Engine<HgMessage> {
  readonly id: NodeId;
  private members: readonly NodeId[];
  private others: readonly NodeId[];
  private readonly signer: Signer;
  private readonly verifier: SignatureVerifier;
  private readonly rng: Rng;
  private readonly cutter: CutterConfig;
  readonly opts: HashgenOptions;
  private readonly mode: QuorumMode;
  private t: Thresholds;
  private limits: MessageLimits;
  private membership: MembershipEpoch = { number: 0, startHeight: 0 };
  /** The orderer set of the config in force, as the driver last said (Engine.reconfigure). */
  private target: readonly NodeId[] | null = null;
  /** Every node of every member list and target seen: they may ask for (and send) decided blocks. */
  private readonly known = new Set<NodeId>();
  /** Outsiders (joiners) fetch decided blocks from these, in turn. */
  private outsiderFetchIn = 0;
  private outsiderFetchNext = 0;

  // Durable state (mirrored in storage).
  private height = 0;
  private digest: Bytes = GENESIS_DIGEST;
  private tip: ChainTip = { epoch: 0, generator: null };
  private dedup = new DedupWindow();
  private records: Records;
  private promise: Promise_ = { epoch: 0, candidate: null };
  private val: Validation | null = null;
  private lock: Lock | null = null;
  private readonly barred = new Set<NodeId>();
  private camsEpoch = 0;
  private readonly blocks: DecidedChain<DecidedBlock>;

  // Volatile state.
  private role: 'follower' | 'candidate' | 'generator' = 'follower';
  /** The generator of promise.epoch once it has shown itself (heartbeat, block, seal). */
  private generator: NodeId | null = null;
  private heardTicks = 0;
  private backoff = 1;
  private timeoutCurrent: number;
  private targetEpoch = 0;
  private progressTicks = 0;
  private campaign: Campaign | null = null;
  private gen: GeneratorState | null = null;
  private readonly commits = new Map<string, { e: number; h: number; d: Bytes; sigs: Map<NodeId, Bytes> }>();
  private readonly pool: DataLakePool;
  private fetchCooldown = 0;
  private forwardIn = 0;
  private powBudget = 0;
  private started = false;
  /** bft: authentication votes already verified per `${epoch}/${generator}`. */
  private readonly justified = new Map<string, HgAuthVote[]>();
  private readonly misbehaviours: Misbehaviour[] = [];

  // The Ready under construction.
  private readonly out = new ReadyQueue<HgMessage>();
  private readonly persistOut = this.out.persist;
  private readonly messagesOut = this.out.messages;
  private readonly decidedOut = this.out.decided;

  constructor(ctx: EngineContext, defaults: { quorum: QuorumMode } = { quorum: 'paper' }) {
    assertInvariant(ctx.members.length >= 1, 'hashgen needs at least one member');
    assertInvariant(new Set(ctx.members).size === ctx.members.length, 'hashgen members are distinct');
    // A node outside the genesis list is a joiner (decision 1295): it catches up, then takes part
    // once the chain's membership entries include it.
    this.id = ctx.id;
    this.members = [...ctx.members];
    this.others = this.members.filter((m) => m !== ctx.id);
    for (const m of this.members) this.known.add(m);
    this.signer = ctx.signer;
    this.verifier = ctx.verifier;
    this.rng = ctx.rng;
    this.cutter = ctx.cutter;
    this.opts = parseHashgenOptions(ctx.options, ctx.members, defaults);
    this.blocks = new DecidedChain<DecidedBlock>(
      'hashgen',
      this.opts.blocksRetained,
      { encode, decode: (bytes) => decode<DecidedBlock>(bytes), fromArchive: plainBlock },
      ctx.archive,
    );
    this.mode = this.opts.quorum;
    this.t = thresholds(this.members.length, this.mode);
    this.limits = {
      members: this.members,
      blockProposalsMax: ctx.cutter.countMax,
      forwardProposalsMax: FORWARD_PROPOSALS_MAX,
      proposalBytesMax: ctx.cutter.sizeBytesMax,
      fetchBlocksMax: this.opts.fetchBlocksMax,
    };
    this.records = emptyRecords(this.members);
    this.pool = new DataLakePool(ctx.cutter.pendingMax);
    this.restore(ctx);
    this.checkMembershipInvariants();
    this.timeoutCurrent = this.nextTimeout();
  }

  // -------------------------------------------------------------------------------------------
  // Restart.

  private restore(ctx: EngineContext): void {
    const s = ctx.storage;
    const head = s.get(HEAD_KEY);
    if (head) {
      const h = decode<Head>(head);
      assertInvariant(Number.isSafeInteger(h.height) && h.height >= 0, 'hashgen head height');
      this.height = h.height;
      this.digest = h.digest;
      this.tip = { epoch: h.tipEpoch, generator: h.tipGenerator };
      this.dedup = DedupWindow.fromJSON(h.dedup);
      this.records = recordsFromJSON(h.records);
      if (h.membership) {
        const [number, members, startHeight] = h.membership;
        const list = parseMemberList(members);
        assertInvariant(list !== null && number >= 1 && startHeight >= 1 && startHeight <= h.height, 'hashgen: the stored membership epoch is sound');
        this.membership = { number, startHeight };
        this.setMembers(list);
      }
    }
    const promise = s.get(PROMISE_KEY);
    if (promise) this.promise = decode<Promise_>(promise);
    const val = s.get(VAL_KEY);
    if (val) this.val = decode<Validation>(val);
    const lock = s.get(LOCK_KEY);
    if (lock) this.lock = decode<Lock>(lock);
    const barred = s.get(BARRED_KEY);
    if (barred) for (const b of decode<NodeId[]>(barred)) this.barred.add(b);
    const cams = s.get(CAMS_KEY);
    if (cams) this.camsEpoch = decode<number>(cams);
    this.blocks.restore(s, this.height);
    // hashgen decides only by appending (it never restores to a height), so its head block is held.
    if (this.height > 0) assertInvariant(this.blocks.get(this.height) !== undefined, 'hashgen: the head block is stored');
    // Re-deliver what the application may not have applied before the crash.
    const again = this.blocks.redeliver(ctx.appliedHeight, this.height, this.digest);
    this.decidedOut.push(...again.blocks);
    this.out.restore = again.restore;
  }

  // -------------------------------------------------------------------------------------------
  // Engine contract.

  tick(): void {
    this.powBudget = this.opts.powAttemptsPerTick;
    if (this.fetchCooldown > 0) this.fetchCooldown -= 1;
    if (!this.started) {
      this.started = true;
      this.bootstrap();
    }
    if (!this.isMember()) {
      this.tickOutsider();
      return;
    }
    if (this.role === 'generator') {
      this.tickGenerator();
    } else {
      this.heardTicks += 1;
      if (this.pool.size > 0) this.progressTicks += 1;
      if (this.role === 'candidate' && this.campaign) {
        this.campaign.resendIn -= 1;
        if (this.campaign.resendIn <= 0) this.sendAuthRequest();
      }
      if (this.heardTicks >= this.timeoutCurrent || (this.generator !== null && this.progressTicks >= this.opts.progressTimeoutTicks)) {
        this.suspect();
      }
      this.forwardIn -= 1;
      if (this.forwardIn <= 0) {
        // New proposals are forwarded at once; this re-sends the pool in case a forward was lost.
        this.forwardIn = 4 * this.opts.retransmitTicks;
        this.forwardPool();
      }
    }
  }

  propose(proposal: Proposal): ProposeResult {
    if (!this.isWellFormedProposal(proposal) || isMembershipEntry(proposal)) return { accepted: false, reason: 'invalid' };
    if (!this.isMember()) return { accepted: false, reason: 'not-member' };
    if (proposalSizeBytes(proposal) > this.cutter.sizeBytesMax) return { accepted: false, reason: 'too-large' };
    if (this.dedup.isDecided(proposal)) return { accepted: true };
    const p: Proposal = { clientId: proposal.clientId, seq: proposal.seq, data: proposal.data };
    const added = this.pool.add(p);
    if (added === 'queue-full') return { accepted: false, reason: 'queue-full' };
    if (added === 'added') {
      if (this.role === 'generator') this.maybeCut();
      else if (this.generator !== null && this.generator !== this.id) this.send(this.generator, { type: 'hashgen/forward', proposals: [p] });
    }
    return { accepted: true };
  }

  step(from: NodeId, raw: HgMessage): void {
    if (from === this.id) return;
    const fromMember = this.members.includes(from);
    if (!fromMember && !this.known.has(from)) return;
    const m = parseMessage(raw, this.limits);
    if (m === null) return;
    if (!fromMember || !this.isMember()) {
      // A joiner, a removed generator, or a member of a list this node has not reached yet (or
      // this node is outside the list): decided blocks only, each checked by its certificate.
      // Their votes, blocks and seals count nowhere.
      if (m.type === 'hashgen/fetch') this.onFetch(from, m);
      else if (m.type === 'hashgen/blocks') this.onBlocks(from, m.blocks);
      else if (m.type === 'hashgen/heartbeat' && m.generator === from && m.height > this.height && this.verifySigned(from, m)) this.requestFetch(from);
      return;
    }
    switch (m.type) {
      case 'hashgen/select':
        return this.onSelect(from, m);
      case 'hashgen/suspect':
        return this.onSuspect(from, m);
      case 'hashgen/auth-req':
        return this.onAuthRequest(from, m);
      case 'hashgen/auth-vote':
        return this.onAuthVote(from, m);
      case 'hashgen/block':
        return this.onBlock(from, m);
      case 'hashgen/validate':
        return this.onValidate(from, m);
      case 'hashgen/seal':
        return this.onSeal(from, m);
      case 'hashgen/commit':
        return this.onCommit(from, m);
      case 'hashgen/heartbeat':
        return this.onHeartbeat(from, m);
      case 'hashgen/forward':
        for (const p of m.proposals) if (!this.dedup.isDecided(p) && !isMembershipEntry(p)) this.pool.add(p);
        if (this.role === 'generator') this.maybeCut();
        return;
      case 'hashgen/fetch':
        return this.onFetch(from, m);
      case 'hashgen/blocks':
        return this.onBlocks(from, m.blocks);
    }
  }

  hasReady(): boolean {
    return this.out.hasReady();
  }

  ready(): Ready<HgMessage> {
    return this.out.ready();
  }

  advance(ready: Ready<HgMessage>): void {
    this.out.advance(ready);
  }

  status(): EngineStatus {
    return {
      id: this.id,
      role: !this.isMember() ? 'outsider' : this.role === 'generator' ? 'generator' : this.role === 'candidate' ? 'candidate' : 'validator',
      leader: this.role === 'generator' ? this.id : this.generator,
      epoch: this.promise.epoch,
      decidedHeight: this.height,
      members: this.members,
    };
  }

  diagnostics(): HashgenDiagnostics {
    return {
      ranking: rankGenerators(this.records, this.members),
      records: recordsToJSON(this.records),
      barred: [...this.barred].sort(),
      misbehaviours: [...this.misbehaviours],
      promiseEpoch: this.promise.epoch,
      poolSize: this.pool.size,
      thresholds: this.t,
      membershipNumber: this.membership.number,
      membershipStartHeight: this.membership.startHeight,
      target: this.target ? [...this.target] : null,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Membership (decision 1295, membership.ts).

  /**
   * The orderer set of the config in force (the driver calls this on every tick). The generator
   * moves toward it one member at a time, each step a membership entry decided like a block.
   * A malformed list (empty, duplicates) is ignored. Under faithful CAMS (`cams: 'node'`) the
   * CAMS node is never removed (no one else could select generators).
   */
  reconfigure(members: readonly NodeId[]): ReconfigureResult {
    const target = parseMemberList(members);
    if (target && (!this.target || !sameMemberList(this.target, target))) {
      this.target = target;
      for (const m of target) this.known.add(m);
      this.updateLimits();
    }
    if (!this.target || sameMemberSet(this.members, this.target)) return 'settled';
    if (!this.isMember()) return 'stepping';
    if (this.nextStep() === null) return 'settled';
    if (this.role !== 'generator') return 'not-leader';
    this.maybeCut();
    return 'stepping';
  }

  private isMember(): boolean {
    return this.members.includes(this.id);
  }

  /** The next one-member step toward the target, or null (none, or only forbidden ones left). */
  private nextStep(): NodeId[] | null {
    if (!this.target) return null;
    const keep = new Set<NodeId>(this.opts.cams === 'node' ? [this.opts.camsId] : []);
    return nextMemberStep(this.members, this.target, keep);
  }

  /**
   * A membership entry as every node checks it in a block, a seal or a decided block: the next
   * membership epoch number, a single step from the current list, not yet decided, and never
   * dropping a faithful CAMS.
   */
  private isValidEntry(p: Proposal): boolean {
    if (p.seq !== this.membership.number + 1 || this.dedup.isDecided(p)) return false;
    const next = entryMembers(p);
    if (next === null) return false;
    const step = singleStep(this.members, next);
    if (step === null) return false;
    return this.opts.cams !== 'node' || next.includes(this.opts.camsId);
  }

  /** Whether this validator's own target (its config in force) asks for this step. */
  private entryMovesTowardTarget(p: Proposal): boolean {
    const next = entryMembers(p);
    if (!next || !this.target) return false;
    const step = singleStep(this.members, next);
    if (step === null) return false;
    return 'added' in step ? this.target.includes(step.added) : !this.target.includes(step.removed);
  }

  /** Install a member list: the others, thresholds and message limits follow it. */
  private setMembers(members: readonly NodeId[]): void {
    this.members = [...members];
    this.others = this.members.filter((m) => m !== this.id);
    for (const m of members) this.known.add(m);
    this.t = thresholds(this.members.length, this.mode);
    this.updateLimits();
  }

  private updateLimits(): void {
    this.limits = { ...this.limits, members: [...this.known] };
  }

  /**
   * The membership block at `height` was decided: from the next height on, `next` generates,
   * validates and authenticates. Every generator and candidate steps down (its authentication
   * was counted on the old list).
   */
  private switchMembership(next: NodeId[], height: number): void {
    this.membership = { number: this.membership.number + 1, startHeight: height };
    this.setMembers(next);
    for (const m of next) if (!this.records.has(m)) this.records.set(m, { sealed: 0, failures: 0, lastSealedHeight: 0 });
    for (const m of [...this.records.keys()]) if (!next.includes(m)) this.records.delete(m);
    // Selection starts afresh from the records: nobody failed, the epoch moves on by agreement.
    this.tip = { epoch: this.tip.epoch, generator: null };
    if (this.role !== 'follower') this.stepDown();
    this.generator = null;
    this.commits.clear();
    this.justified.clear();
    this.progressTicks = 0;
    this.resetTimer();
    this.checkMembershipInvariants();
  }

  private checkMembershipInvariants(): void {
    assertInvariant(this.membership.startHeight <= this.height, 'hashgen: a membership epoch starts at a decided height');
    assertInvariant(this.t.validations === thresholds(this.members.length, this.mode).validations, 'hashgen: thresholds follow the member list');
    assertInvariant(this.records.size === this.members.length && this.members.every((m) => this.records.has(m)), 'hashgen: one record per member');
    assertInvariant(this.role === 'follower' || this.isMember(), 'hashgen: only members generate or campaign');
    assertInvariant(!this.gen || this.gen.membership === this.membership.number, 'hashgen: a generator is authenticated in the membership in force');
  }

  /** Outside the list (a joiner, or removed): fetch decided blocks while the target includes us. */
  private tickOutsider(): void {
    if (!this.target || !this.target.includes(this.id)) return;
    this.outsiderFetchIn -= 1;
    if (this.outsiderFetchIn > 0) return;
    this.outsiderFetchIn = this.opts.retransmitTicks;
    const peers = [...new Set([...this.members, ...this.target])].filter((m) => m !== this.id);
    if (peers.length === 0) return;
    const peer = peers[this.outsiderFetchNext++ % peers.length]!;
    this.send(peer, { type: 'hashgen/fetch', height: this.height + 1 });
  }

  // -------------------------------------------------------------------------------------------
  // Selection (CAMS) and authentication.

  /** First tick after boot: the first epoch starts without waiting for a timeout. */
  private bootstrap(): void {
    if (this.promise.epoch > 0 || this.tip.epoch > 0 || !this.isMember()) return;
    if (this.opts.cams === 'node') {
      if (this.id === this.opts.camsId && this.camsEpoch === 0) this.camsSelect(1);
    } else if (this.candidateFor(1) === this.id) {
      this.startCampaign(1, null);
    }
  }

  /** CAMS's choice for an epoch, computed from this node's decided chain. */
  private candidateFor(epoch: number): NodeId | null {
    return selectGenerator(epoch, this.tip, this.records, this.members);
  }

  private nextTimeout(): number {
    return this.opts.timeoutTicks * this.backoff + this.rng.nextInt(this.opts.timeoutTicks);
  }

  private resetTimer(): void {
    this.heardTicks = 0;
    this.timeoutCurrent = this.nextTimeout();
  }

  /**
   * The current generator failed (timeout, no progress, misbehaviour), or a membership change
   * ended its authentication (`failed` false: no backoff): move to the next epoch.
   */
  private suspect(failed = true): void {
    if (failed) this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX);
    this.resetTimer();
    this.progressTicks = 0;
    if (this.role === 'generator') this.stepDown();
    let target = Math.max(this.targetEpoch + 1, this.promise.epoch + 1, this.tip.epoch + 1);
    if (this.opts.cams === 'node') {
      this.targetEpoch = target;
      if (this.id === this.opts.camsId) this.camsSelect(target);
      else this.send(this.opts.camsId, this.signed<HgSuspect>({ type: 'hashgen/suspect', epoch: target, voter: this.id }));
      return;
    }
    // Skip generators this node has caught misbehaving (bounded: at most n tries).
    for (let i = 0; i < this.members.length; i++) {
      const c = this.candidateFor(target);
      if (c !== null && !this.barred.has(c)) break;
      target += 1;
    }
    this.targetEpoch = target;
    const candidate = this.candidateFor(target);
    if (candidate === this.id) this.startCampaign(target, null);
    else if (candidate !== null) this.send(candidate, this.signed<HgSuspect>({ type: 'hashgen/suspect', epoch: target, voter: this.id }));
  }

  /** Faithful CAMS: select the generator of an epoch and announce it (signed). */
  private camsSelect(epochWanted: number): void {
    assertInvariant(this.id === this.opts.camsId, 'only CAMS selects');
    let epoch = Math.max(epochWanted, this.camsEpoch + 1, this.tip.epoch + 1);
    for (let i = 0; i < this.members.length; i++) {
      const c = this.candidateFor(epoch);
      if (c !== null && !this.barred.has(c)) break;
      epoch += 1;
    }
    const generator = this.candidateFor(epoch);
    if (generator === null) return;
    this.camsEpoch = epoch;
    this.persistOut.push({ op: 'put', key: CAMS_KEY, value: encode(epoch) });
    const select = this.signed<HgSelect>({ type: 'hashgen/select', epoch, generator, cams: this.id });
    for (const m of this.others) this.send(m, select);
    if (generator === this.id && epoch > this.promise.epoch) this.startCampaign(epoch, select);
  }

  private onSelect(from: NodeId, m: HgSelect): void {
    if (this.opts.cams !== 'node' || from !== this.opts.camsId || m.cams !== from || !this.verifySigned(from, m)) return;
    this.targetEpoch = Math.max(this.targetEpoch, m.epoch);
    if (m.generator === this.id && m.epoch > this.promise.epoch) this.startCampaign(m.epoch, m);
  }

  private onSuspect(from: NodeId, m: HgSuspect): void {
    if (m.voter !== from || !this.verifySigned(from, m)) return;
    if (this.opts.cams === 'node') {
      if (this.id === this.opts.camsId && m.epoch > this.camsEpoch) this.camsSelect(m.epoch);
      return;
    }
    if (m.epoch > this.promise.epoch && this.candidateFor(m.epoch) === this.id) this.startCampaign(m.epoch, null);
  }

  private startCampaign(epoch: number, select: HgSelect | null): void {
    assertInvariant(epoch > this.promise.epoch, 'a campaign is for a new epoch');
    if (this.role === 'generator') this.stepDown();
    this.setPromise(epoch, this.id);
    this.role = 'candidate';
    this.generator = null;
    this.targetEpoch = Math.max(this.targetEpoch, epoch);
    this.campaign = { epoch, membership: this.membership.number, votes: new Map(), select, resendIn: 0 };
    this.resetTimer();
    if (this.t.authOthers === 0) this.becomeGenerator();
    else this.sendAuthRequest();
  }

  private sendAuthRequest(): void {
    const c = this.campaign;
    if (!c) return;
    c.resendIn = this.opts.retransmitTicks;
    const req = this.signed<HgAuthReq>({ type: 'hashgen/auth-req', epoch: c.epoch, candidate: this.id, height: this.height, select: c.select });
    for (const m of this.others) if (!c.votes.has(m)) this.send(m, req);
  }

  private onAuthRequest(from: NodeId, m: HgAuthReq): void {
    if (m.candidate !== from || !this.verifySigned(from, m)) return;
    if (m.epoch < this.promise.epoch) return;
    if (m.epoch === this.promise.epoch && this.promise.candidate !== from) return;
    if (m.height < this.height) {
      // The candidate is behind: help it catch up; it asks again.
      this.sendBlocks(from, m.height + 1);
      return;
    }
    if (m.height > this.height) {
      this.requestFetch(from);
      return;
    }
    if (this.barred.has(from)) return;
    if (this.opts.cams === 'node') {
      const s = m.select;
      if (!s || s.cams !== this.opts.camsId || s.epoch !== m.epoch || s.generator !== from || !this.verifySigned(s.cams, s)) return;
    } else if (this.candidateFor(m.epoch) !== from) {
      return;
    }
    if (m.epoch > this.promise.epoch) {
      if (this.role !== 'follower') this.stepDown();
      this.setPromise(m.epoch, from);
      this.generator = null;
      this.targetEpoch = Math.max(this.targetEpoch, m.epoch);
      this.resetTimer();
    }
    const held = this.mode === 'bft' ? this.lock : this.val;
    const report: LockReport | null =
      held && held.h === this.height + 1
        ? { e: held.e, h: held.h, prev: held.prev, d: held.d, cert: this.mode === 'bft' && this.lock ? this.lock.cert : [] }
        : null;
    this.send(
      from,
      this.signed<HgAuthVote>({
        type: 'hashgen/auth-vote',
        epoch: m.epoch,
        candidate: from,
        voter: this.id,
        height: this.height,
        report,
        proposals: report && held ? held.proposals : [],
      }),
    );
  }

  private onAuthVote(from: NodeId, v: HgAuthVote): void {
    const c = this.campaign;
    if (!c || this.role !== 'candidate' || v.epoch !== c.epoch || v.candidate !== this.id || v.voter !== from) return;
    // Only votes cast under the list in force count (they are also signed bound to its number).
    if (v.height > this.height || v.height < this.membership.startHeight || !this.verifySigned(from, v)) return;
    // A report must come with its block (decision 1395): the proposals are not under the vote's
    // signature, and a lock counted without them makes this candidate cut a fresh block that every
    // validator then refuses as violating that lock. A correct voter always sends them (no block is
    // empty), so a bare report is a Byzantine one, and leaving it out loses nothing.
    if (v.report && (v.proposals.length === 0 || !this.reportIsSound(v.report, v.proposals))) return;
    c.votes.set(from, v);
    if (c.votes.size >= this.t.authOthers) this.becomeGenerator();
  }

  /** A reported block matches its digest; in bft mode its validation quorum is real. */
  private reportIsSound(r: LockReport, proposals: readonly Proposal[]): boolean {
    if (proposals.length > 0 && !bytesEqual(blockDigest(r.h, r.prev, proposals), r.d)) return false;
    if (this.mode === 'bft') return hasValidVotes('validate', r.e, r.h, r.d, r.cert, this.members, this.t.validations, this.verifier, this.membership.number);
    return proposals.length > 0;
  }

  private becomeGenerator(): void {
    const c = this.campaign;
    assertInvariant(c !== null && c.epoch === this.promise.epoch && this.promise.candidate === this.id, 'authenticated for my own epoch');
    assertInvariant(c.membership === this.membership.number && this.isMember(), 'authenticated by the member list in force');
    this.role = 'generator';
    this.generator = this.id;
    this.campaign = null;
    this.backoff = 1;
    this.progressTicks = 0;
    const justification = this.mode === 'bft' ? [...c.votes.values()].map((v) => ({ ...v, proposals: [] })) : [];
    this.gen = { epoch: c.epoch, membership: c.membership, justification, inflight: null, heartbeatIn: 0 };
    this.sendHeartbeat();
    // Paxos phase-1 outcome: the highest-epoch block validated (bft: locked) at the next height
    // by anyone in the quorum must be re-proposed; it may already be decided somewhere.
    const next = this.height + 1;
    let best: { e: number; prev: Bytes; proposals: readonly Proposal[] } | null = null;
    for (const v of c.votes.values()) {
      if (v.report && v.height === this.height && v.report.h === next && (!best || v.report.e > best.e)) {
        best = { e: v.report.e, prev: v.report.prev, proposals: v.proposals };
      }
    }
    const own = this.mode === 'bft' ? this.lock : this.val;
    if (own && own.h === next && (!best || own.e > best.e)) best = { e: own.e, prev: own.prev, proposals: own.proposals };
    if (best && bytesEqual(best.prev, this.digest) && best.proposals.length > 0) {
      this.proposeBlock([...best.proposals]);
    } else {
      this.maybeCut();
    }
  }

  private stepDown(): void {
    this.role = 'follower';
    this.gen = null;
    this.campaign = null;
    this.generator = null;
  }

  private setPromise(epoch: number, candidate: NodeId): void {
    assertInvariant(epoch >= this.promise.epoch, 'promises never go back');
    this.promise = { epoch, candidate };
    this.persistOut.push({ op: 'put', key: PROMISE_KEY, value: encode(this.promise) });
  }

  // -------------------------------------------------------------------------------------------
  // The generator: build, collect validations, seal.

  private tickGenerator(): void {
    const g = this.gen;
    assertInvariant(g !== null, 'a generator has generator state');
    g.heartbeatIn -= 1;
    if (g.heartbeatIn <= 0) this.sendHeartbeat();
    const f = g.inflight;
    if (!f) {
      if (this.pool.size > 0) this.pool.waitingTicks += 1;
      this.maybeCut();
      return;
    }
    if (f.validations.size >= this.t.validations && !f.seal) this.trySeal();
    f.resendIn -= 1;
    if (f.resendIn <= 0) {
      f.resendIn = this.opts.retransmitTicks;
      if (f.seal) {
        for (const m of this.others) this.send(m, f.seal);
      } else {
        const block = this.blockMessage(f);
        for (const m of this.others) if (!f.validations.has(m)) this.send(m, block);
      }
    }
  }

  private sendHeartbeat(): void {
    const g = this.gen;
    if (!g) return;
    g.heartbeatIn = this.opts.heartbeatTicks;
    const hb = this.signed<HgHeartbeat>({ type: 'hashgen/heartbeat', epoch: g.epoch, generator: this.id, height: this.height });
    for (const m of this.others) this.send(m, hb);
  }

  private maybeCut(): void {
    const g = this.gen;
    if (this.role !== 'generator' || !g || g.inflight) return;
    // A membership step goes first, alone in its block: what follows it belongs to the next list.
    const step = this.nextStep();
    if (step !== null) {
      const entry = membershipEntry(this.membership.number + 1, step);
      if (this.isValidEntry(entry)) return this.proposeBlock([entry]);
    }
    if (this.pool.size === 0) return;
    if (!this.pool.hasFullBatch(this.cutter.countMax, this.cutter.sizeBytesMax) && this.pool.waitingTicks < this.cutter.timeoutTicks) return;
    const batch = this.pool.batch(this.cutter.countMax, this.cutter.sizeBytesMax).filter((p) => !this.dedup.isDecided(p));
    this.pool.waitingTicks = 0;
    if (batch.length > 0) this.proposeBlock(batch);
  }

  private proposeBlock(proposals: Proposal[]): void {
    const g = this.gen;
    assertInvariant(g !== null && !g.inflight, 'one block in flight');
    assertInvariant(g.membership === this.membership.number, 'a generator proposes only in the membership it was authenticated in');
    const height = this.height + 1;
    const digest = blockDigest(height, this.digest, proposals);
    // The generator is also a validator: its own validation counts and is persisted first.
    this.recordValidation({ e: g.epoch, h: height, prev: this.digest, d: digest, proposals });
    const f: Inflight = {
      epoch: g.epoch,
      height,
      prev: this.digest,
      proposals,
      digest,
      validations: new Map([[this.id, this.signer.sign(this.vote('validate', g.epoch, height, digest))]]),
      nonceNext: 0,
      seal: null,
      resendIn: this.opts.retransmitTicks,
    };
    g.inflight = f;
    const block = this.blockMessage(f);
    for (const m of this.others) this.send(m, block);
    if (f.validations.size >= this.t.validations) this.trySeal();
  }

  private blockMessage(f: Inflight): HgBlock {
    const g = this.gen;
    assertInvariant(g !== null, 'generator state');
    return this.signed<HgBlock>({
      type: 'hashgen/block',
      epoch: f.epoch,
      height: f.height,
      prev: f.prev,
      proposals: f.proposals,
      generator: this.id,
      justification: g.justification,
    });
  }

  private onValidate(from: NodeId, m: HgValidate): void {
    const f = this.gen?.inflight;
    if (this.role !== 'generator' || !f || m.voter !== from || f.seal) return;
    if (m.epoch !== f.epoch || m.height !== f.height || !bytesEqual(m.digest, f.digest)) return;
    if (!this.verifier.verify(from, this.vote('validate', m.epoch, m.height, m.digest), m.sig)) return;
    f.validations.set(from, m.sig);
    if (f.validations.size >= this.t.validations) this.trySeal();
  }

  /** Algorithm 2 lines 36–42, a bounded slice per tick. */
  private trySeal(): void {
    const g = this.gen;
    const f = g?.inflight;
    if (!g || !f || f.seal || this.powBudget <= 0) return;
    const attempts = this.powBudget;
    const r = searchNonce(f.digest, f.epoch, this.id, this.opts.difficultyBits, f.nonceNext, attempts);
    if (!r.found) {
      this.powBudget = 0;
      f.nonceNext = r.next;
      return;
    }
    this.powBudget -= r.nonce - f.nonceNext + 1;
    const validations = [...f.validations].map(([nodeId, signature]) => ({ nodeId, signature })).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
    f.seal = this.signed<HgSeal>({
      type: 'hashgen/seal',
      epoch: f.epoch,
      height: f.height,
      prev: f.prev,
      proposals: f.proposals,
      generator: this.id,
      nonce: r.nonce,
      difficultyBits: this.opts.difficultyBits,
      validations,
    });
    f.resendIn = this.opts.retransmitTicks;
    for (const m of this.others) this.send(m, f.seal);
    this.acceptSeal(f.seal, f.digest);
  }

  // -------------------------------------------------------------------------------------------
  // Validators.

  private onBlock(from: NodeId, m: HgBlock): void {
    if (m.generator !== from || !this.verifySigned(from, m)) return;
    if (m.epoch < this.promise.epoch) return;
    if (m.epoch === this.promise.epoch && this.promise.candidate !== from) return;
    if (this.mode === 'bft') {
      const verdict = this.checkJustification(m);
      if (verdict === 'unjustified') return;
      if (verdict === 'violates-lock') return this.misbehaved(from, m.epoch, 'lock-violation');
    }
    this.follow(m.epoch, from);
    if (m.height <= this.height) return;
    if (m.height > this.height + 1) return this.requestFetch(from);
    if (!bytesEqual(m.prev, this.digest)) return;
    for (const p of m.proposals) if (!this.dedup.isDecided(p) && !isMembershipEntry(p)) this.pool.add(p);
    if (!this.isValidBatch(m.proposals)) return this.misbehaved(from, m.epoch, 'invalid-block');
    // A membership step this node's config in force does not (yet) ask for: no validation, and
    // no blame either (its ledger may simply be behind).
    if (m.proposals.length === 1 && isMembershipEntry(m.proposals[0]!) && !this.entryMovesTowardTarget(m.proposals[0]!)) return;
    const digest = blockDigest(m.height, m.prev, m.proposals);
    if (this.val && this.val.e === m.epoch && this.val.h === m.height) {
      if (!bytesEqual(this.val.d, digest)) return this.misbehaved(from, m.epoch, 'equivocation');
    } else {
      this.recordValidation({ e: m.epoch, h: m.height, prev: m.prev, d: digest, proposals: [...m.proposals] });
    }
    this.send(from, {
      type: 'hashgen/validate',
      epoch: m.epoch,
      height: m.height,
      digest,
      voter: this.id,
      sig: this.signer.sign(this.vote('validate', m.epoch, m.height, digest)),
    });
  }

  /** Persist the validation before its message goes out (same Ready, persist first). */
  private recordValidation(v: Validation): void {
    assertInvariant(v.e >= this.promise.epoch, 'validate only in the promised epoch or later');
    assertInvariant(!this.val || this.val.e !== v.e || this.val.h !== v.h || bytesEqual(this.val.d, v.d), 'one validation per (epoch, height)');
    this.val = v;
    this.persistOut.push({ op: 'put', key: VAL_KEY, value: encode(v) });
  }

  /**
   * bft: a block must carry q−1 authentication votes for (epoch, generator) from voters whose
   * decided height is below the block's; if any of them reports a lock at the block's height,
   * the block must be the highest-epoch locked one.
   */
  private checkJustification(m: HgBlock): 'ok' | 'unjustified' | 'violates-lock' {
    const key = `${m.epoch}/${m.generator}`;
    let votes = this.justified.get(key);
    if (!votes) {
      const good = new Map<NodeId, HgAuthVote>();
      for (const v of m.justification) {
        if (v.epoch !== m.epoch || v.candidate !== m.generator || v.voter === m.generator || good.has(v.voter)) continue;
        if (!this.verifySigned(v.voter, v)) continue;
        if (v.report && !this.reportIsSound(v.report, [])) continue;
        good.set(v.voter, v);
      }
      if (good.size < this.t.authOthers) return 'unjustified';
      votes = [...good.values()];
      if (this.justified.size >= 4 * this.members.length) this.justified.clear();
      this.justified.set(key, votes);
    }
    // Votes cast before the membership in force began were counted on another list.
    if (votes.some((v) => v.height > m.height - 1 || v.height < this.membership.startHeight)) return 'unjustified';
    let best: LockReport | null = null;
    for (const v of votes) {
      if (v.height === m.height - 1 && v.report && v.report.h === m.height && (!best || v.report.e > best.e)) best = v.report;
    }
    if (best && !bytesEqual(best.d, blockDigest(m.height, m.prev, m.proposals))) return 'violates-lock';
    return 'ok';
  }

  private onSeal(from: NodeId, m: HgSeal): void {
    if (m.generator !== from || !this.verifySigned(from, m)) return;
    const digest = blockDigest(m.height, m.prev, m.proposals);
    const sealOk =
      m.difficultyBits >= this.opts.difficultyBits &&
      meetsTarget(proofHash(digest, m.epoch, m.generator, m.nonce), m.difficultyBits) &&
      hasValidVotes('validate', m.epoch, m.height, digest, m.validations, this.members, this.t.validations, this.verifier, this.membership.number);
    if (!sealOk) return this.misbehaved(from, m.epoch, 'bad-seal');
    if (m.epoch >= this.promise.epoch) this.follow(m.epoch, from);
    if (m.height <= this.height) return;
    if (m.height > this.height + 1) return this.requestFetch(from);
    if (!bytesEqual(m.prev, this.digest)) return;
    // A quorum-signed seal of a malformed batch is only possible with Byzantine validators
    // (paper quorum); never let it reach decide()'s invariants.
    if (!this.isValidBatch(m.proposals)) return this.misbehaved(from, m.epoch, 'invalid-block');
    this.acceptSeal(m, digest);
  }

  /**
   * paper: a validation quorum means the block is chosen — decide it.
   * bft: lock on it and broadcast a commit vote; a commit quorum decides.
   */
  private acceptSeal(m: HgSeal, digest: Bytes): void {
    if (this.mode === 'paper') {
      this.decide(m.height, m.prev, [...m.proposals], digest, {
        epoch: m.epoch,
        nonce: m.nonce,
        generator: m.generator,
        difficultyBits: m.difficultyBits,
        phase: 'validate',
        signatures: [...m.validations],
      });
      return;
    }
    // Commit only in an epoch this node has not promised away (as for validations), and never
    // move a lock back to an older epoch at the same height.
    if (m.epoch < this.promise.epoch) return;
    const l = this.lock;
    const same = l !== null && l.h === m.height && l.e === m.epoch && bytesEqual(l.d, digest);
    if (!same) {
      if (l && l.h === m.height && l.e >= m.epoch) return;
      this.lock = {
        e: m.epoch,
        h: m.height,
        prev: m.prev,
        d: digest,
        proposals: [...m.proposals],
        cert: [...m.validations],
        nonce: m.nonce,
        generator: m.generator,
        difficultyBits: m.difficultyBits,
      };
      this.persistOut.push({ op: 'put', key: LOCK_KEY, value: encode(this.lock) });
    }
    const sig = this.signer.sign(this.vote('commit', m.epoch, m.height, digest));
    const commit: HgCommit = { type: 'hashgen/commit', epoch: m.epoch, height: m.height, digest, voter: this.id, sig };
    for (const o of this.others) this.send(o, commit);
    this.addCommit(this.id, commit);
  }

  private onCommit(from: NodeId, m: HgCommit): void {
    if (this.mode !== 'bft' || m.voter !== from) return;
    if (m.height !== this.height + 1) {
      if (m.height > this.height + 1) this.requestFetch(from);
      return;
    }
    if (!this.verifier.verify(from, this.vote('commit', m.epoch, m.height, m.digest), m.sig)) return;
    this.addCommit(from, m);
  }

  private addCommit(voter: NodeId, m: HgCommit): void {
    if (m.height !== this.height + 1) return;
    const key = `${m.epoch}/${m.height}/${toHex(m.digest)}`;
    let entry = this.commits.get(key);
    if (!entry) {
      if (this.commits.size >= 2 * this.members.length) return; // bounded; honest traffic needs few
      entry = { e: m.epoch, h: m.height, d: m.digest, sigs: new Map() };
      this.commits.set(key, entry);
    }
    entry.sigs.set(voter, m.sig);
    if (entry.sigs.size < this.t.commits) return;
    const l = this.lock;
    if (!l || l.h !== m.height || l.e !== m.epoch || !bytesEqual(l.d, m.digest)) {
      // A commit quorum for a block this node has not seen sealed: get it from a committer.
      this.requestFetch(voter === this.id ? (this.generator ?? voter) : voter);
      return;
    }
    const signatures = [...entry.sigs].map(([nodeId, signature]) => ({ nodeId, signature })).sort((a, b) => (a.nodeId < b.nodeId ? -1 : 1));
    this.decide(l.h, l.prev, l.proposals, l.d, {
      epoch: l.e,
      nonce: l.nonce,
      generator: l.generator,
      difficultyBits: l.difficultyBits,
      phase: 'commit',
      signatures,
    });
  }

  // -------------------------------------------------------------------------------------------
  // Deciding, catch-up.

  private decide(
    height: number,
    prev: Bytes,
    proposals: Proposal[],
    digest: Bytes,
    c: { epoch: number; nonce: number; generator: NodeId; difficultyBits: number; phase: 'validate' | 'commit'; signatures: CertificateSignature[] },
    live = true,
  ): void {
    assertInvariant(height === this.height + 1, 'decided heights are gapless');
    assertInvariant(bytesEqual(prev, this.digest), 'a decided block extends the chain');
    assertInvariant(this.members.includes(c.generator), 'a decided block was generated by a member of the list in force');
    // (Every caller has computed `digest` from these proposals or checked it with the certificate.)
    // A membership block is delivered empty: the entry is no transaction. Its certificate carries
    // the entry's list (`next`), from which the voted digest is rebuilt (rules.ts).
    const entry = proposals.length === 1 && isMembershipEntry(proposals[0]!) ? proposals[0]! : null;
    const next = entry ? entryMembers(entry) : null;
    assertInvariant(entry === null || (next !== null && entry.seq === this.membership.number + 1), 'a decided membership entry is the next one');
    const chainDigest = entry ? blockDigest(height, prev, []) : digest;
    const fields: Record<string, number | string | Bytes> = {
      epoch: c.epoch,
      nonce: c.nonce,
      generator: c.generator,
      difficultyBits: c.difficultyBits,
      phase: c.phase,
      members: encode([...this.members]),
    };
    if (this.membership.number > 0) fields.config = this.membership.number;
    if (entry) fields.next = entry.data;
    const block: DecidedBlock = {
      height,
      proposals: entry ? [] : proposals,
      digest: chainDigest,
      previousDigest: prev,
      certificate: { scheme: CERT_SCHEME, fields, signatures: c.signatures },
    };
    for (const p of proposals) {
      const fresh = this.dedup.markDecided(p);
      assertInvariant(fresh, `proposal ${proposalKey(p)} decided once`);
      this.pool.remove(p);
    }
    if (c.epoch >= this.tip.epoch) applyDecided(this.records, this.members, this.tip, c.epoch, c.generator, height);
    this.tip = { epoch: Math.max(this.tip.epoch, c.epoch), generator: c.epoch >= this.tip.epoch ? c.generator : this.tip.generator };
    this.height = height;
    this.digest = chainDigest;
    if (next) this.switchMembership(next, height);
    this.persistOut.push(...this.blocks.append(block));
    const head: Head = {
      height,
      digest: chainDigest,
      tipEpoch: this.tip.epoch,
      tipGenerator: this.tip.generator,
      dedup: this.dedup.toJSON(),
      records: recordsToJSON(this.records),
    };
    if (this.membership.number > 0) head.membership = [this.membership.number, [...this.members], this.membership.startHeight];
    this.persistOut.push({ op: 'put', key: HEAD_KEY, value: encode(head) });
    this.decidedOut.push(block);
    this.commits.clear();
    this.progressTicks = 0;
    this.backoff = 1;
    if (this.gen?.inflight && this.gen.inflight.height <= height) this.gen.inflight = null;
    if (this.role === 'generator') this.maybeCut();
    // A new list needs a generator it authenticated itself: start the next epoch now rather
    // than after a timeout. (A node catching up learns the new generator from its messages.)
    if (next && this.isMember() && live) this.suspect(false);
  }

  /** A decided block from catch-up: checked by its certificate, then decided in order. */
  private onDecidedBlock(b: DecidedBlock): void {
    if (b.height !== this.height + 1 || !bytesEqual(b.previousDigest, this.digest)) return;
    if (!verifyHashgenCertificate(b, this.members, this.verifier, { mode: this.mode, difficultyBits: this.opts.difficultyBits })) return;
    const cert = b.certificate;
    assertInvariant(cert !== null, 'verified certificate');
    // Signed by the list in force at this height, exactly (a sub-list would lower the quorum).
    const m = certificateMembership(cert, this.members);
    if (!m || m.number !== this.membership.number || !sameMemberList(m.signers, this.members)) return;
    const f = cert.fields;
    const proposals: Proposal[] = m.next === null ? [...b.proposals] : [{ clientId: MEMBERSHIP_CLIENT_ID, seq: this.membership.number + 1, data: m.next }];
    if (!this.isValidBatch(proposals)) return;
    const voted = m.next === null ? b.digest : blockDigest(b.height, b.previousDigest, proposals);
    this.decide(
      b.height,
      b.previousDigest,
      proposals,
      voted,
      {
        epoch: f.epoch as number,
        nonce: f.nonce as number,
        generator: f.generator as string,
        difficultyBits: f.difficultyBits as number,
        phase: f.phase as 'validate' | 'commit',
        signatures: [...cert.signatures],
      },
      false,
    );
  }

  private onFetch(from: NodeId, m: HgFetch): void {
    this.sendBlocks(from, m.height);
  }

  private onBlocks(from: NodeId, blocks: readonly DecidedBlock[]): void {
    const before = this.height;
    for (const b of blocks) this.onDecidedBlock(b);
    // A catch-up batch (more than one block) that took us forward: the sender may have more (a
    // joiner replaying a long chain, decision 1390; replies are cut by count and by bytes), so ask
    // at once instead of after the retransmission period. Each such request follows valid new
    // blocks, so their number is bounded by the chain's length.
    if (blocks.length > 1 && this.height > before) this.requestFetch(from, true);
  }

  private sendBlocks(to: NodeId, fromHeight: number): void {
    const blocks = this.blocks.range(fromHeight, this.height, this.opts.fetchBlocksMax, CATCH_UP_BYTES_MAX);
    if (blocks.length > 0) this.send(to, { type: 'hashgen/blocks', blocks });
  }

  /** Ask `from` for the blocks after ours, at most once per retransmission period unless `now`. */
  private requestFetch(from: NodeId, now = false): void {
    if ((this.fetchCooldown > 0 && !now) || from === this.id) return;
    this.fetchCooldown = this.opts.retransmitTicks;
    this.send(from, { type: 'hashgen/fetch', height: this.height + 1 });
  }

  private onHeartbeat(from: NodeId, m: HgHeartbeat): void {
    if (m.generator !== from || !this.verifySigned(from, m)) return;
    const current = m.epoch === this.promise.epoch && this.promise.candidate === from;
    // paper (crash faults): a heartbeat from a later epoch comes from an authenticated generator.
    if (current || (this.mode === 'paper' && m.epoch > this.promise.epoch)) this.follow(m.epoch, from);
    if (m.height > this.height) this.requestFetch(from);
    else if (m.height < this.height) this.sendBlocks(from, m.height + 1);
  }

  /** Recognise `generator` as the working generator of `epoch` (>= the promised epoch). */
  private follow(epoch: number, generator: NodeId): void {
    if (epoch < this.promise.epoch) return;
    // One generator per epoch: a promise is never re-pointed within its epoch.
    if (epoch === this.promise.epoch && this.promise.candidate !== generator) return;
    if (epoch > this.promise.epoch) {
      if (this.role !== 'follower') this.stepDown();
      this.setPromise(epoch, generator);
    }
    if (generator === this.id) return;
    const fresh = this.generator !== generator;
    this.generator = generator;
    this.targetEpoch = Math.max(this.targetEpoch, epoch);
    this.resetTimer();
    if (fresh) {
      this.backoff = 1;
      this.forwardPool();
    }
  }

  private forwardPool(): void {
    if (this.generator === null || this.generator === this.id || this.pool.size === 0) return;
    this.send(this.generator, { type: 'hashgen/forward', proposals: this.pool.oldest(FORWARD_PROPOSALS_MAX) });
  }

  // -------------------------------------------------------------------------------------------
  // Misbehaviour and helpers.

  private misbehaved(generator: NodeId, epoch: number, reason: Misbehaviour['reason']): void {
    if (this.misbehaviours.length < MISBEHAVIOUR_LOG_MAX) this.misbehaviours.push({ generator, epoch, reason });
    if (!this.barred.has(generator)) {
      this.barred.add(generator);
      this.persistOut.push({ op: 'put', key: BARRED_KEY, value: encode([...this.barred].sort()) });
    }
    if (this.generator === generator || this.promise.candidate === generator) this.suspect();
  }

  private isWellFormedProposal(p: Proposal): boolean {
    return (
      typeof p === 'object' &&
      p !== null &&
      typeof p.clientId === 'string' &&
      p.clientId.length > 0 &&
      p.clientId.length <= 256 &&
      Number.isSafeInteger(p.seq) &&
      p.seq >= 1 &&
      p.data instanceof Uint8Array
    );
  }

  /** A block's batch: non-empty, within the cutter's limits, no repeats, nothing already decided. */
  private isValidBatch(proposals: readonly Proposal[]): boolean {
    if (proposals.length === 0 || proposals.length > this.cutter.countMax) return false;
    if (proposals.some(isMembershipEntry)) return proposals.length === 1 && this.isValidEntry(proposals[0]!);
    const keys = new Set<string>();
    let bytes = 0;
    for (const p of proposals) {
      const k = proposalKey(p);
      if (keys.has(k) || this.dedup.isDecided(p)) return false;
      keys.add(k);
      bytes += proposalSizeBytes(p);
    }
    return proposals.length === 1 || bytes <= this.cutter.sizeBytesMax;
  }

  private signed<T extends HgSelect | HgSuspect | HgAuthReq | HgAuthVote | HgBlock | HgSeal | HgHeartbeat>(body: Omit<T, 'sig'>): T {
    const unsigned = { ...body, sig: new Uint8Array(0) } as T;
    return { ...unsigned, sig: this.signer.sign(this.signedBytes(unsigned)) };
  }

  /**
   * What a signature covers: an auth vote is bound to the membership epoch it is cast in (so it
   * counts in no other list); requests, heartbeats, blocks and seals are not — a node of another
   * membership epoch must still read them to learn that it is behind.
   */
  private signedBytes(m: HgSelect | HgSuspect | HgAuthReq | HgAuthVote | HgBlock | HgSeal | HgHeartbeat): Bytes {
    const bytes = signedBody(m);
    return m.type === 'hashgen/auth-vote' ? membershipBound(this.membership.number, bytes) : bytes;
  }

  /** A validation or commit statement, bound to the membership epoch in force. */
  private vote(kind: 'validate' | 'commit', epoch: number, height: number, digest: Bytes): Bytes {
    return voteBytes(kind, epoch, height, digest, this.membership.number);
  }

  private verifySigned(signer: NodeId, m: HgSelect | HgSuspect | HgAuthReq | HgAuthVote | HgBlock | HgSeal | HgHeartbeat): boolean {
    return this.verifier.verify(signer, this.signedBytes(m), m.sig);
  }

  private send(to: NodeId, message: HgMessage): void {
    this.messagesOut.push({ to, message });
  }
}
