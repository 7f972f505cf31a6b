// The deterministic simulator: N engines in one process on virtual time, driven through the
// Ready contract, over a seeded network model, under a fault schedule drawn from the seed, with
// the five checkers (agreement, validity, integrity, durability, liveness) on every run.
//
// Determinism: every random choice comes from SeededRng streams forked from the seed in a fixed
// order; events run in (virtual time, insertion order); nothing reads the wall clock. The same
// options and seed therefore give the same result (with crypto 'ecdsa' the signature bytes
// differ between runs, which no engine may branch on; see crypto.ts).
import { bytesEqual, decode, encode, toHex, type Bytes } from '../codec/index.ts';
import { GENESIS_DIGEST, blockDigest, proposalKey } from '../consensus/digest.ts';
import {
  NOTICES_HOLD_MS,
  type DecidedBlock,
  type Engine,
  type EngineMessage,
  type NodeId,
  type Outbound,
  type PersistOp,
  type Proposal,
  type Ready,
  type RestoreRequest,
} from '../consensus/engine.ts';
import { MemoryStorage } from '../consensus/memory-storage.ts';
import { SeededRng } from '../consensus/rng.ts';
import { ByzantineActor } from './byzantine.ts';
import { makeIdentities, type SimIdentities } from './crypto.ts';
import { describeFault, planFaults, type FaultPlan, type TimedFault } from './faults.ts';
import { SimNetwork } from './network.ts';
import { SimOptionsError, resolveOptions, type ResolvedOptions } from './options.ts';
import { EventQueue } from './queue.ts';
import { TraceBuffer, formatMs } from './trace.ts';
import type { MessageStats, SimOptions, SimResult, Violation } from './types.ts';

/** Ready batches handled for one input before the engine is declared stuck in a loop. */
const READY_LOOPS_MAX = 10_000;
/** Scheduled events at once (messages in flight + ticks + client timers). */
const EVENT_QUEUE_CAPACITY = 500_000;
/** Events processed in one run; beyond it the run ends with a liveness violation. */
const EVENTS_PROCESSED_MAX = 20_000_000;
/** Keep the violation list readable. */
const VIOLATIONS_MAX = 20;

type SimEvent =
  | { readonly k: 'tick'; readonly inst: Instance; readonly incarnation: number }
  | { readonly k: 'deliver'; readonly from: NodeId; readonly to: NodeId; readonly type: string; readonly bytes: Bytes; readonly delayed: boolean }
  | { readonly k: 'submit' }
  | { readonly k: 'retry'; readonly key: string }
  | { readonly k: 'fault'; readonly fault: TimedFault }
  | { readonly k: 'membership'; readonly members: NodeId[]; readonly note: string }
  | { readonly k: 'written'; readonly inst: Instance; readonly incarnation: number }
  | { readonly k: 'notices'; readonly inst: Instance; readonly incarnation: number; readonly hold: number };

interface Instance {
  /** 'n3', or 'n3′' for the twin of n3. */
  readonly name: string;
  readonly identity: NodeId;
  readonly correct: boolean;
  readonly storage: MemoryStorage;
  engine: Engine<EngineMessage> | null;
  incarnation: number;
  readonly actor: ByzantineActor | null;
  /** The node's block store: durable, append-only (survives crashes, like the real ledger). */
  readonly ledger: DecidedBlock[];
  readonly ledgerKeys: Set<string>;
  /** Keys of the engine's own membership entries it decided (Engine.reconfigure steps in blocks). */
  readonly controlKeys: Set<string>;
  /**
   * A Ready whose early messages (Ready.earlyMessages) are out while its persist is still being
   * written (until a 'written' event): a crash meanwhile loses the persist and the rest of it.
   */
  writing: Ready<EngineMessage> | null;
  /**
   * The flushNotices call scheduled (Ready.noticesHeld, decision 1405), as the node's timer: its
   * number, or null when none is — a Ready that says nothing is held calls it off (decision 1416).
   */
  noticesDue: number | null;
}

/**
 * How long writing a Ready with early messages takes (virtual ms, uniform): the window in which
 * a Raft leader's appends are out but its own copy is not durable (decision 1360). Of the order
 * of a network hop (DEFAULT_NETWORK: 1–20 ms), so that responses can come back meanwhile and
 * crashes land inside it.
 */
const EARLY_WRITE_MS = { min: 1, max: 10 } as const;

interface Submitted {
  readonly proposal: Proposal;
  readonly firstAtMs: number;
  lastTarget: string | null;
  /** Set when a correct node decided it: the client got its acknowledgement. */
  ack: { atMs: number; height: number; index: number; node: string } | null;
}

class StopRun extends Error {}

export function runSimulation(options: SimOptions): SimResult {
  return new Simulation(resolveOptions(options)).run();
}

/**
 * The fault schedule a run of these options would follow, without running it (cheap: lets a
 * caller pick seeds with a given kind of fault, or show the schedule before a long run).
 */
export function planSimulation(options: SimOptions): { faultSchedule: string[]; byzantine: NodeId[] } {
  const o = resolveOptions(options);
  const ids = Array.from({ length: o.nodes + o.membership.joins }, (_, i) => `n${i + 1}`);
  const plan = planFaults(o, ids, streams(o.seed).faultRng);
  return { faultSchedule: plan.actions.map(describeFault), byzantine: [...plan.byzantine] };
}

/** Every random stream of a run, forked from the seed up front in a fixed order, so that adding a draw to one stream never shifts another. */
function streams(
  seed: number,
): Record<'netRng' | 'faultRng' | 'workloadRng' | 'byzRng' | 'engineRng' | 'cryptoRng' | 'tickRng' | 'membershipRng' | 'writeRng', SeededRng> {
  const master = new SeededRng(seed);
  const netRng = master.fork();
  const faultRng = master.fork();
  const workloadRng = master.fork();
  const byzRng = master.fork();
  const engineRng = master.fork();
  const cryptoRng = master.fork();
  const tickRng = master.fork();
  const membershipRng = master.fork();
  // Forked last: the streams above stay what they were before it existed.
  const writeRng = master.fork();
  return { netRng, faultRng, workloadRng, byzRng, engineRng, cryptoRng, tickRng, membershipRng, writeRng };
}

class Simulation {
  private readonly ids: NodeId[];
  /** The engines' initial membership (EngineContext.members): the first `nodes` ids. */
  private readonly initialMembers: NodeId[];
  /** The membership the run currently asks for (Engine.reconfigure's target). */
  private members: NodeId[];
  private readonly membershipChanges: Array<{ atMs: number; members: NodeId[]; note: string }> = [];
  private readonly queue = new EventQueue<SimEvent>(EVENT_QUEUE_CAPACITY);
  private readonly writeRng: SeededRng;
  /** Readies written after their early messages left, and how many of them a crash cut short. */
  private readonly earlyWrites = { started: 0, lostInCrash: 0 };
  private noticeFlushes = 0;
  /** Numbers the flushNotices calls scheduled (Instance.noticesDue). */
  private noticeHolds = 0;
  private readonly network: SimNetwork;
  private readonly identities: SimIdentities;
  private readonly plan: FaultPlan;
  private readonly instances: Instance[] = [];
  private readonly byIdentity = new Map<NodeId, Instance[]>();
  private readonly workloadRng: SeededRng;
  private readonly engineRng: SeededRng;
  private readonly tickRng: SeededRng;
  private readonly trace: TraceBuffer;
  private readonly slow = new Map<NodeId, number>();
  private readonly drift = new Map<NodeId, number>();
  /** Identities crashed by the scripted schedule, in crash order: the heal leaves them down. */
  private readonly scriptedDown: NodeId[] = [];
  private readonly scheduleResolved: string[] = [];

  private nowMs = 0;
  private healed = false;
  private healAtMs = 0;
  private stopped = false;
  private readonly violations: Violation[] = [];
  private traceAtViolation: string[] | null = null;

  // Workload and checker state.
  private readonly submitted = new Map<string, Submitted>();
  private submittedCount = 0;
  private readonly clientSeq: number[];
  /** The first decision by a correct node at each height (the agreement reference). */
  private readonly decidedAt = new Map<number, { digest: Bytes; previousDigest: Bytes; node: string; keys: string[] }>();
  private readonly latencySamples: number[] = [];
  private readonly ackTimes: number[] = [];
  private ackedCount = 0;

  // Metrics.
  private readonly messagesByType = new Map<string, MessageStats>();
  private readonly net = { sent: 0, delivered: 0, dropped: 0, duplicated: 0 };
  /** Encoded bytes per message object within one Ready (broadcasts encode once). */
  private encodedCache = new Map<object, Bytes>();

  constructor(private readonly o: ResolvedOptions) {
    this.ids = Array.from({ length: o.nodes + o.membership.joins }, (_, i) => `n${i + 1}`);
    this.initialMembers = this.ids.slice(0, o.nodes);
    this.members = [...this.initialMembers];
    const { netRng, faultRng, workloadRng, byzRng, engineRng, cryptoRng, tickRng, membershipRng, writeRng } = streams(o.seed);
    this.writeRng = writeRng;
    this.planMembership(membershipRng);
    this.workloadRng = workloadRng;
    this.engineRng = engineRng;
    this.tickRng = tickRng;
    this.trace = new TraceBuffer(o.traceEventsMax);
    this.network = new SimNetwork(this.ids, netRng, o.network);
    this.identities = makeIdentities(o.crypto, this.ids, cryptoRng);
    this.plan = planFaults(o, this.ids, faultRng);
    this.clientSeq = new Array<number>(o.workload.clients).fill(0);

    const byzantine = new Map(this.plan.actions.flatMap((a) => (a.action.kind === 'byzantine' ? [[a.action.node, a.action.behaviours] as const] : [])));
    for (const id of this.ids) {
      const behaviours = byzantine.get(id);
      const names = behaviours?.includes('twins') ? [id, `${id}′`] : [id];
      const list: Instance[] = [];
      for (const name of names) {
        const actor = behaviours
          ? new ByzantineActor(id, new Set(behaviours), this.o.def.byzantine, this.identities.signerOf(id), this.ids, byzRng.fork())
          : null;
        const inst: Instance = {
          name,
          identity: id,
          correct: behaviours === undefined,
          storage: new MemoryStorage(),
          engine: null,
          incarnation: 0,
          actor,
          ledger: [],
          ledgerKeys: new Set(),
          controlKeys: new Set(),
          writing: null,
          noticesDue: null,
        };
        list.push(inst);
        this.instances.push(inst);
      }
      this.byIdentity.set(id, list);
    }
  }

  /**
   * Joins and leaves at random times of the faulty phase, in a random order (joins of the extra
   * ids in order; leaves of random initial members), each a new target member set.
   */
  private planMembership(rng: SeededRng): void {
    const { joins, leaves } = this.o.membership;
    if (joins + leaves === 0) return;
    const kinds = [...Array<'join'>(joins).fill('join'), ...Array<'leave'>(leaves).fill('leave')];
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
    }
    const times = kinds.map(() => rng.nextFloat() * this.o.durationMs * 0.8).sort((a, b) => a - b);
    let target = [...this.initialMembers];
    let nextJoin = this.o.nodes;
    const leavable = [...this.initialMembers];
    kinds.forEach((kind, i) => {
      if (kind === 'join') {
        const id = this.ids[nextJoin++]!;
        target = [...target, id];
        this.membershipChanges.push({ atMs: times[i]!, members: target, note: `${id} joins` });
      } else {
        const id = leavable.splice(rng.nextInt(leavable.length), 1)[0]!;
        target = target.filter((m) => m !== id);
        this.membershipChanges.push({ atMs: times[i]!, members: target, note: `${id} leaves` });
      }
    });
  }

  run(): SimResult {
    try {
      // Members first: an engine without Engine.reconfigure is refused before its joiners boot
      // (a fixed-membership engine may refuse to start as a non-member).
      for (const inst of this.instances) if (this.initialMembers.includes(inst.identity)) this.boot(inst);
      if (this.membershipChanges.length > 0 && this.instances.some((i) => i.engine && !i.engine.reconfigure)) {
        throw new SimOptionsError(`engine "${this.o.engine}" has a fixed member set (no Engine.reconfigure): membership changes do not apply`);
      }
      for (const inst of this.instances) if (!this.initialMembers.includes(inst.identity)) this.boot(inst);
      for (const change of this.membershipChanges) this.queue.push(change.atMs, { k: 'membership', members: change.members, note: change.note });
      for (const fault of this.plan.actions) this.queue.push(fault.atMs, { k: 'fault', fault });
      if (this.o.workload.proposalsMax > 0) this.queue.push(this.nextArrivalGapMs(), { k: 'submit' });
      this.loop();
      if (!this.stopped) this.finalChecks();
    } catch (err) {
      if (!(err instanceof StopRun)) throw err;
    }
    return this.result();
  }

  private loop(): void {
    const deadlineMs = this.o.durationMs + this.o.livenessMs;
    let processed = 0;
    while (!this.stopped) {
      const next = this.queue.pop();
      if (!next) break;
      if (next.atMs > deadlineMs) {
        this.nowMs = deadlineMs;
        break;
      }
      this.nowMs = next.atMs;
      if (++processed > EVENTS_PROCESSED_MAX) {
        this.violate('liveness', `the run exceeded ${EVENTS_PROCESSED_MAX} events (message storm?) at t=${formatMs(this.nowMs)}ms`);
        return;
      }
      this.handle(next.event);
      if (this.healed && this.livenessReached()) return;
    }
  }

  private handle(ev: SimEvent): void {
    switch (ev.k) {
      case 'tick':
        return this.onTick(ev.inst, ev.incarnation);
      case 'deliver':
        return this.onDeliver(ev);
      case 'submit':
        return this.onSubmit();
      case 'retry':
        return this.onRetry(ev.key);
      case 'fault':
        return this.onFault(ev.fault);
      case 'written':
        return this.onWritten(ev.inst, ev.incarnation);
      case 'notices':
        return this.onNotices(ev.inst, ev.incarnation, ev.hold);
      case 'membership':
        this.members = ev.members;
        this.trace.add(this.nowMs, `membership: ${ev.note}; target ${ev.members.join(' ')}`);
        return;
    }
  }

  // ---- nodes -------------------------------------------------------------------------------

  private boot(inst: Instance): void {
    inst.incarnation += 1;
    inst.noticesDue = null;
    const create = (): Engine<EngineMessage> =>
      this.o.def.create({
        id: inst.identity,
        members: this.initialMembers,
        rng: this.engineRng.fork(),
        storage: inst.storage,
        signer: this.identities.signerOf(inst.identity),
        verifier: this.identities.verifier,
        cutter: this.o.cutter,
        appliedHeight: inst.ledger.length,
        // The node's chain serves catch-up beyond what the engine retains, as a node's block store does.
        archive: { decided: (height: number) => inst.ledger[height - 1] },
        ...(this.o.engineOptions !== undefined ? { options: this.o.engineOptions } : {}),
      });
    let engine: Engine<EngineMessage>;
    if (inst.incarnation === 1) {
      // A first boot (empty storage) that fails is a configuration problem — engine options the
      // engine rejects, too few nodes for its grouping… — reported as a usage error, not a run.
      try {
        engine = create();
      } catch (err) {
        throw new SimOptionsError(`engine "${this.o.engine}" refused to start with these options: ${(err as Error).message}`);
      }
    } else {
      engine = this.guard(inst, 'create', create);
    }
    inst.engine = engine;
    // First tick at a random phase so that nodes do not tick in lockstep.
    this.queue.push(this.nowMs + this.tickRng.nextFloat() * this.o.tickMs, { k: 'tick', inst, incarnation: inst.incarnation });
    this.drain(inst);
  }

  private crash(inst: Instance): void {
    inst.engine = null;
    inst.incarnation += 1;
    let lost = '';
    if (inst.writing) {
      // Its early messages are out; its persist, later messages and decided blocks are not.
      this.earlyWrites.lostInCrash += 1;
      lost = `; lost a Ready being written (${inst.writing.persist.length} ops) whose ${inst.writing.earlyMessages ?? 0} early message(s) were sent`;
      inst.writing = null;
    }
    this.trace.add(this.nowMs, `${inst.name} crashed (keeps ${inst.storage.size} persisted keys, ledger height ${inst.ledger.length}${lost})`);
  }

  private onTick(inst: Instance, incarnation: number): void {
    if (inst.incarnation !== incarnation || !inst.engine) return;
    const engine = inst.engine;
    this.guard(inst, 'tick', () => engine.tick());
    if (engine.reconfigure && this.membershipChanges.length > 0) {
      // As the node runtime does with the ledger's config in force: every tick, every node.
      const members = this.members;
      this.guard(inst, 'reconfigure', () => engine.reconfigure!(members));
    }
    this.drain(inst);
    const replay = inst.actor?.replay();
    if (replay) {
      this.encodedCache = new Map();
      this.sendOne(inst, replay.to, replay.message, replay.note);
    }
    const factor = (this.drift.get(inst.identity) ?? 1) * (this.slow.get(inst.identity) ?? 1);
    this.queue.push(this.nowMs + this.o.tickMs * factor, { k: 'tick', inst, incarnation });
  }

  private onDeliver(ev: Extract<SimEvent, { k: 'deliver' }>): void {
    const slow = this.slow.get(ev.to) ?? 1;
    if (slow > 1 && !ev.delayed) {
      // A slow node processes its input late: hold the message for the extra processing time.
      this.queue.push(this.nowMs + (slow - 1) * this.o.tickMs, { ...ev, delayed: true });
      return;
    }
    if (this.network.linkDown(ev.from, ev.to)) {
      this.drop(ev.from, ev.to, ev.type, 'partitioned in flight');
      return;
    }
    const targets = this.byIdentity.get(ev.to) ?? [];
    let delivered = false;
    for (const inst of targets) {
      const engine = inst.engine;
      if (!engine) continue;
      delivered = true;
      const message = decode<EngineMessage>(ev.bytes);
      inst.actor?.record(message);
      this.trace.add(this.nowMs, `${ev.from} -> ${inst.name} ${ev.type}`);
      this.guard(inst, `step(${ev.type})`, () => engine.step(ev.from, message));
      this.drain(inst);
      if (this.stopped) return;
    }
    if (delivered) this.net.delivered += 1;
    else this.drop(ev.from, ev.to, ev.type, 'target down');
  }

  /**
   * Handle every pending Ready of the instance: persist, send, restore, deliver, advance. A Ready
   * with early messages (a Raft leader's appends) is handled as a node writing in parallel with
   * replication does: the early messages leave now, the write takes EARLY_WRITE_MS, and only then
   * go the other messages, the decided blocks and advance(). Meanwhile the engine keeps taking
   * input (messages, ticks, proposals) but no next Ready; a crash in between loses the write.
   */
  private drain(inst: Instance): void {
    let loops = 0;
    for (;;) {
      const engine = inst.engine;
      if (!engine || this.stopped || inst.writing) return;
      if (!this.guard(inst, 'hasReady', () => engine.hasReady())) return;
      if (++loops > READY_LOOPS_MAX) this.violate('engine-error', `${inst.name}: still hasReady() after ${READY_LOOPS_MAX} Ready batches for one input`);
      const rd = this.guard(inst, 'ready', () => engine.ready());
      const early = rd.earlyMessages ?? 0;
      if (!Number.isSafeInteger(early) || early < 0 || early > rd.messages.length) {
        this.violate('engine-error', `${inst.name}: Ready.earlyMessages ${String(early)} is not within its ${rd.messages.length} messages`);
      }
      this.encodedCache = new Map();
      if (early > 0 && rd.persist.length > 0) {
        for (const out of this.tamper(inst, rd.messages.slice(0, early))) this.sendOne(inst, out.to, out.message, out.note);
        inst.writing = rd;
        this.earlyWrites.started += 1;
        const writeMs = EARLY_WRITE_MS.min + this.writeRng.nextFloat() * (EARLY_WRITE_MS.max - EARLY_WRITE_MS.min);
        this.queue.push(this.nowMs + writeMs, { k: 'written', inst, incarnation: inst.incarnation });
        return;
      }
      this.finishReady(inst, engine, rd, 0);
      if (this.stopped) return;
    }
  }

  /** The rest of a Ready once its persist may be written: persist, send, restore, deliver, advance. */
  private finishReady(inst: Instance, engine: Engine<EngineMessage>, rd: Ready<EngineMessage>, sent: number): void {
    // The contract: durable before any message of this Ready (but the early ones) leaves the node.
    inst.storage.apply(rd.persist.map(copyOp));
    this.encodedCache = new Map();
    for (const out of this.tamper(inst, rd.messages.slice(sent))) this.sendOne(inst, out.to, out.message, out.note);
    if (rd.restore) this.restore(inst, rd.restore);
    for (const block of rd.decided) this.decided(inst, block);
    if (this.stopped) return;
    this.guard(inst, 'advance', () => engine.advance(rd));
    if (rd.noticesHeld === true && engine.flushNotices && inst.noticesDue === null) {
      inst.noticesDue = ++this.noticeHolds;
      this.queue.push(this.nowMs + NOTICES_HOLD_MS, { k: 'notices', inst, incarnation: inst.incarnation, hold: inst.noticesDue });
    } else if (rd.noticesHeld === false) inst.noticesDue = null;
  }

  /** The node driver's hold of notices ran out (decision 1405): the engine tells what is still untold. */
  private onNotices(inst: Instance, incarnation: number, hold: number): void {
    const engine = inst.engine;
    if (inst.incarnation !== incarnation || inst.noticesDue !== hold || !engine) return;
    inst.noticesDue = null;
    this.noticeFlushes += 1;
    this.guard(inst, 'flushNotices', () => engine.flushNotices!());
    this.drain(inst);
  }

  private onWritten(inst: Instance, incarnation: number): void {
    const rd = inst.writing;
    const engine = inst.engine;
    if (inst.incarnation !== incarnation || !rd || !engine) return; // crashed meanwhile: the write is lost
    inst.writing = null;
    this.finishReady(inst, engine, rd, rd.earlyMessages ?? 0);
    this.drain(inst);
  }

  private tamper(inst: Instance, messages: readonly Outbound<EngineMessage>[]): Array<{ to: NodeId; message: EngineMessage; note: string | null }> {
    if (!inst.actor) return messages.map((m) => ({ to: m.to, message: m.message, note: null }));
    return this.guard(inst, 'byzantine hook', () => inst.actor!.tamper(messages));
  }

  private sendOne(inst: Instance, to: NodeId, message: EngineMessage, note: string | null): void {
    const type = typeof message === 'object' && message !== null && typeof message.type === 'string' ? message.type : null;
    if (type === null) this.violate('engine-error', `${inst.name} sent a message without a string "type"`);
    let bytes = this.encodedCache.get(message);
    if (!bytes) {
      try {
        bytes = encode(message);
      } catch (err) {
        this.violate('engine-error', `${inst.name} sent a ${type} message that is not DAG-CBOR encodable: ${(err as Error).message}`);
      }
      this.encodedCache.set(message, bytes);
    }
    const stats = this.messagesByType.get(type) ?? { count: 0, bytes: 0 };
    stats.count += 1;
    stats.bytes += bytes.byteLength;
    this.messagesByType.set(type, stats);
    this.net.sent += 1;
    const from = inst.identity;
    if (!this.byIdentity.has(to)) {
      this.drop(from, to, type, 'unknown destination');
      return;
    }
    const route = this.network.route(from, to, this.nowMs);
    if (route.dropped) {
      this.drop(from, to, type, route.dropped, note);
      return;
    }
    if (route.deliverAtMs.length > 1) this.net.duplicated += 1;
    for (const at of route.deliverAtMs) {
      if (this.queue.isFull) {
        this.drop(from, to, type, 'network congestion (event queue full)', note);
        continue;
      }
      this.queue.push(at, { k: 'deliver', from, to, type, bytes, delayed: false });
    }
    if (note) this.trace.add(this.nowMs, `${inst.name} -> ${to} ${type} [byzantine ${note}]`);
  }

  private drop(from: NodeId, to: NodeId, type: string, reason: string, note: string | null = null): void {
    this.net.dropped += 1;
    this.trace.add(this.nowMs, `${from} -> ${to} ${type} dropped (${reason})${note ? ` [byzantine ${note}]` : ''}`);
  }

  /** Run an engine call; an exception is an engine bug (engine-error) and stops the run. */
  private guard<T>(inst: Instance, what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (err instanceof StopRun) throw err;
      const e = err as Error;
      const where =
        e.stack
          ?.split('\n')
          .slice(1, 3)
          .map((l) => l.trim())
          .join(' ') ?? '';
      this.violate('engine-error', `${inst.name} threw in ${what}: ${e.name}: ${e.message}${where ? ` (${where})` : ''}`);
    }
  }

  // ---- faults ------------------------------------------------------------------------------

  private onFault(fault: TimedFault): void {
    const a = fault.action;
    this.trace.add(this.nowMs, `fault: ${describeFault(fault).replace(/^t=\d+ms /, '')}`);
    switch (a.kind) {
      case 'byzantine':
        return;
      case 'crash': {
        const node = a.scripted ? this.resolveScripted(fault, a.node, 'crash') : a.node;
        if (node === null) return;
        if (a.scripted && !this.scriptedDown.includes(node)) this.scriptedDown.push(node);
        for (const inst of this.byIdentity.get(node) ?? []) if (inst.engine) this.crash(inst);
        return;
      }
      case 'restart': {
        const node = a.scripted ? this.resolveScripted(fault, a.node, 'restart') : a.node;
        if (node === null) return;
        // A generated restart never revives a node the script keeps down.
        if (!a.scripted && this.scriptedDown.includes(node)) return;
        if (a.scripted) this.scriptedDown.splice(this.scriptedDown.indexOf(node), 1);
        for (const inst of this.byIdentity.get(node) ?? []) if (!inst.engine) this.boot(inst);
        return;
      }
      case 'partition':
        return this.network.setPartition(a.groups);
      case 'heal-partition':
        return this.network.setPartition(null);
      case 'cut':
        return this.network.cut(a.from, a.to);
      case 'uncut':
        return this.network.uncut(a.from, a.to);
      case 'loss':
        return this.network.setExtraLossRate(a.rate);
      case 'duplicate':
        return this.network.setExtraDuplicateRate(a.rate);
      case 'slow':
        if (a.factor === 1) this.slow.delete(a.node);
        else this.slow.set(a.node, a.factor);
        return;
      case 'drift':
        this.drift.set(a.node, a.factor);
        return;
      case 'heal-all':
        this.network.healAll();
        this.slow.clear();
        this.drift.clear();
        this.healed = true;
        this.healAtMs = this.nowMs;
        for (const inst of this.instances) if (!inst.engine && !this.scriptedDown.includes(inst.identity)) this.boot(inst);
        return;
    }
  }

  /**
   * The node a scripted fault names, resolved now: '@leader' = the leader most live correct
   * nodes report; '@any' = for a crash the lowest-numbered live correct non-leader, for a restart
   * the earliest scripted crash still down. null (noted) when nothing fits.
   */
  private resolveScripted(fault: TimedFault, token: NodeId, action: 'crash' | 'restart'): NodeId | null {
    const live = (id: NodeId): boolean => (this.byIdentity.get(id) ?? []).some((i) => i.engine !== null);
    let node: NodeId | null = token;
    let how = '';
    if (token === '@leader' || token === '@any') {
      const votes = new Map<NodeId, number>();
      for (const inst of this.instances) {
        if (!inst.correct || !inst.engine) continue;
        const leader = this.guard(inst, 'status', () => inst.engine!.status()).leader;
        if (leader !== null && live(leader)) votes.set(leader, (votes.get(leader) ?? 0) + 1);
      }
      const leader = [...votes].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0]?.[0] ?? null;
      if (token === '@leader') {
        node = leader;
        how = leader === null ? ' (no live leader reported: nothing crashed)' : ` (reported leader of ${votes.get(leader)} live correct node(s))`;
      } else if (action === 'crash') {
        node = this.ids.find((id) => id !== leader && live(id) && (this.byIdentity.get(id) ?? []).every((i) => i.correct)) ?? null;
      } else {
        node = this.scriptedDown[0] ?? null;
      }
    }
    this.scheduleResolved.push(`t=${formatMs(fault.atMs)}ms ${action} ${token}${token === node ? '' : ` -> ${node ?? 'nobody'}`}${how}`);
    if (node !== null && node !== token) this.trace.add(this.nowMs, `scripted ${action} ${token} resolved to ${node}`);
    return node;
  }

  // ---- workload ----------------------------------------------------------------------------

  private nextArrivalGapMs(): number {
    // Poisson arrivals at the configured total rate.
    const meanMs = 1000 / this.o.workload.proposalsPerSecond;
    return -Math.log(1 - this.workloadRng.nextFloat()) * meanMs;
  }

  private onSubmit(): void {
    if (this.healed || this.submittedCount >= this.o.workload.proposalsMax) return;
    const w = this.o.workload;
    const client = this.workloadRng.nextInt(w.clients);
    const seq = (this.clientSeq[client] ?? 0) + 1;
    this.clientSeq[client] = seq;
    const data = new Uint8Array(w.payloadBytes);
    for (let i = 0; i < data.length; i += 4) {
      const word = Math.floor(this.workloadRng.nextFloat() * 0x1_0000_0000);
      for (let j = 0; j < 4 && i + j < data.length; j++) data[i + j] = (word >>> (8 * j)) & 0xff;
    }
    const proposal: Proposal = { clientId: `c${client + 1}`, seq, data };
    const key = proposalKey(proposal);
    const s: Submitted = { proposal, firstAtMs: this.nowMs, lastTarget: null, ack: null };
    this.submitted.set(key, s);
    this.submittedCount += 1;
    this.propose(s);
    this.queue.push(this.nowMs + w.retryMs, { k: 'retry', key });
    if (this.submittedCount < w.proposalsMax) this.queue.push(this.nowMs + this.nextArrivalGapMs(), { k: 'submit' });
  }

  private onRetry(key: string): void {
    const s = this.submitted.get(key);
    if (!s || s.ack) return;
    this.propose(s);
    this.queue.push(this.nowMs + this.o.workload.retryMs, { k: 'retry', key });
  }

  /** Send the proposal to a random live node, preferring another one than last time. */
  private propose(s: Submitted): void {
    const live = this.instances.filter((i) => i.engine !== null);
    if (live.length === 0) return;
    const fresh = live.filter((i) => i.name !== s.lastTarget);
    const pool = fresh.length > 0 ? fresh : live;
    const inst = pool[this.workloadRng.nextInt(pool.length)]!;
    s.lastTarget = inst.name;
    const engine = inst.engine!;
    const result = this.guard(inst, 'propose', () => engine.propose(s.proposal));
    this.trace.add(this.nowMs, `client -> ${inst.name} propose ${proposalKey(s.proposal)}${result.accepted ? '' : ` refused (${result.reason})`}`);
    this.drain(inst);
  }

  // ---- decided blocks and the checkers -----------------------------------------------------

  private violate(checker: Violation['checker'], message: string): never {
    if (this.violations.length < VIOLATIONS_MAX) this.violations.push({ checker, message });
    this.stopRun();
  }

  /** Record a violation without stopping yet (several findings from one event). */
  private note(checker: Violation['checker'], message: string): void {
    if (this.violations.length < VIOLATIONS_MAX) this.violations.push({ checker, message });
  }

  private stopRun(): never {
    this.stopped = true;
    if (this.traceAtViolation === null) {
      this.trace.add(this.nowMs, `VIOLATION ${this.violations.map((v) => v.checker).join(', ')}`);
      this.traceAtViolation = [...this.trace.format(), ...this.statusLines()];
    }
    throw new StopRun();
  }

  private statusLines(): string[] {
    return this.instances.map((inst) => {
      const head = `${inst.name}${inst.correct ? '' : ' (byzantine)'}: ledger height ${inst.ledger.length}`;
      if (!inst.engine) return `status ${head}, crashed`;
      try {
        const s = inst.engine.status();
        return `status ${head}, ${s.role}, leader ${s.leader ?? '-'}, epoch ${s.epoch}, engine height ${s.decidedHeight}`;
      } catch (err) {
        return `status ${head}, status() threw ${(err as Error).message}`;
      }
    });
  }

  private restore(inst: Instance, r: RestoreRequest): void {
    this.trace.add(this.nowMs, `${inst.name} restore to height ${r.height}`, r.digest);
    if (!inst.correct) return;
    if (!Number.isSafeInteger(r.height) || r.height < 0 || !(r.digest instanceof Uint8Array)) {
      this.violate('engine-error', `${inst.name} asked to restore to a malformed state (height ${String(r.height)})`);
    }
    if (r.height <= inst.ledger.length) {
      const have = r.height === 0 ? GENESIS_DIGEST : inst.ledger[r.height - 1]!.digest;
      if (!bytesEqual(have, r.digest)) {
        this.violate('agreement', `${inst.name} restores height ${r.height} to digest ${short(r.digest)} but its ledger has ${short(have)} there`);
      }
      return;
    }
    const source = this.instances.find((o) => o.correct && o !== inst && o.ledger.length >= r.height && bytesEqual(o.ledger[r.height - 1]!.digest, r.digest));
    if (!source) {
      const other = this.instances.find((o) => o.correct && o.ledger.length >= r.height);
      this.violate(
        'agreement',
        other
          ? `${inst.name} restores height ${r.height} to digest ${short(r.digest)}, but correct node ${other.name} decided ${short(other.ledger[r.height - 1]!.digest)} there`
          : `${inst.name} restores height ${r.height} (digest ${short(r.digest)}) that no correct node has decided`,
      );
    }
    if (inst.ledger.length > 0) {
      const mine = inst.ledger[inst.ledger.length - 1]!;
      if (!bytesEqual(mine.digest, source.ledger[mine.height - 1]!.digest)) {
        this.violate('agreement', `${inst.name} restores from ${source.name} whose block ${mine.height} differs from its own`);
      }
    }
    for (let h = inst.ledger.length + 1; h <= r.height; h++) this.decided(inst, source.ledger[h - 1]!, `restored from ${source.name}`);
  }

  private decided(inst: Instance, block: DecidedBlock, how = 'decided'): void {
    if (!inst.correct) return;
    if (
      typeof block !== 'object' ||
      block === null ||
      !Number.isSafeInteger(block.height) ||
      block.height < 1 ||
      !Array.isArray(block.proposals) ||
      !(block.digest instanceof Uint8Array) ||
      !(block.previousDigest instanceof Uint8Array)
    ) {
      this.violate('integrity', `${inst.name} decided a malformed block`);
    }
    const h = block.height;
    const ledger = inst.ledger;
    if (h <= ledger.length) {
      // Re-delivery after a restart is allowed only if identical to what the block store holds.
      const had = ledger[h - 1]!;
      if (bytesEqual(had.digest, block.digest)) return;
      const lost = had.proposals.map(proposalKey).filter((k) => this.submitted.get(k)?.ack && !block.proposals.some((p) => proposalKey(p) === k));
      if (lost.length > 0)
        this.note(
          'durability',
          `${inst.name} re-decided height ${h} with a different block, losing acknowledged ${lost.slice(0, 5).join(', ')}${lost.length > 5 ? ` and ${lost.length - 5} more` : ''}`,
        );
      this.violate(
        'durability',
        `${inst.name} re-decided height ${h} as ${short(block.digest)} but had already decided ${short(had.digest)} there (decided state forgotten?)`,
      );
    }
    if (h > ledger.length + 1) this.violate('integrity', `${inst.name} decided height ${h} after height ${ledger.length}: a gap without a restore`);
    const prev = ledger.length === 0 ? GENESIS_DIGEST : ledger[ledger.length - 1]!.digest;
    if (!bytesEqual(block.previousDigest, prev)) {
      this.violate('integrity', `${inst.name} block ${h} links to ${short(block.previousDigest)}, but block ${h - 1} is ${short(prev)}`);
    }
    const first = this.decidedAt.get(h);
    // Hash the block once per height: a later node whose block has the first one's digest,
    // previous digest and proposal keys in order (their bytes are checked against the clients'
    // below) has the same contents, so the same digest.
    if (
      !first ||
      !bytesEqual(first.digest, block.digest) ||
      !bytesEqual(first.previousDigest, block.previousDigest) ||
      !sameKeys(first.keys, block.proposals)
    ) {
      const expected = blockDigest(h, prev, block.proposals);
      if (!bytesEqual(expected, block.digest))
        this.violate('integrity', `${inst.name} block ${h} has digest ${short(block.digest)}, but its contents hash to ${short(expected)}`);
    }
    const verify = this.o.def.verifyCertificate;
    if (verify) {
      const ok = this.guard(inst, 'verifyCertificate', () => verify(block, this.ids, this.identities.verifier));
      if (!ok) this.violate('validity', `${inst.name} block ${h}: its ${block.certificate?.scheme ?? 'missing'} certificate does not verify`);
    }
    const keys: string[] = [];
    const inBlock = new Set<string>();
    for (const p of block.proposals) {
      const key = proposalKey(p);
      const step = this.o.def.membershipStep?.(p) ?? null;
      if (step !== null) {
        // The engine's own orderer-set step: valid only toward a member set the run asked for.
        if (!this.stepAskedFor(step)) this.violate('validity', `${inst.name} block ${h} decided ${key}, a ${step.op} of ${step.id} no target asked for`);
        if (inst.controlKeys.has(key) || inBlock.has(key)) this.violate('integrity', `${inst.name} decided ${key} twice (again at height ${h})`);
        inBlock.add(key);
        keys.push(key);
        continue;
      }
      const s = this.submitted.get(key);
      if (!s) this.violate('validity', `${inst.name} block ${h} decided ${key}, which no client proposed`);
      if (!(p.data instanceof Uint8Array) || !bytesEqual(p.data, s.proposal.data)) {
        this.violate('validity', `${inst.name} block ${h} decided ${key} with bytes that differ from what the client proposed`);
      }
      if (inst.ledgerKeys.has(key) || inBlock.has(key)) this.violate('integrity', `${inst.name} decided ${key} twice (again at height ${h})`);
      inBlock.add(key);
      keys.push(key);
    }
    if (first && !bytesEqual(first.digest, block.digest)) {
      const lost = first.keys.filter((k) => !inBlock.has(k) && this.submitted.get(k)?.ack?.height === h);
      if (lost.length > 0)
        this.note(
          'durability',
          `acknowledged ${lost.slice(0, 5).join(', ')} (decided at height ${h} by ${first.node}) lost: ${inst.name} decided another block there`,
        );
      this.violate('agreement', `${inst.name} decided ${short(block.digest)} at height ${h}, but ${first.node} decided ${short(first.digest)}`);
    }
    if (!first) this.decidedAt.set(h, { digest: block.digest, previousDigest: block.previousDigest, node: inst.name, keys });
    ledger.push(block);
    for (const k of keys) (this.submitted.has(k) ? inst.ledgerKeys : inst.controlKeys).add(k);
    this.trace.add(this.nowMs, `${inst.name} ${how} height ${h} (${keys.length} proposals)`, block.digest);
    block.proposals.forEach((p, index) => {
      const s = this.submitted.get(proposalKey(p));
      if (!s || s.ack) return;
      s.ack = { atMs: this.nowMs, height: h, index, node: inst.name };
      this.ackedCount += 1;
      this.latencySamples.push(this.nowMs - s.firstAtMs);
      this.ackTimes.push(this.nowMs);
    });
  }

  /** A join of a node some target listed, or a remove of a node some target left out. */
  private stepAskedFor(step: { readonly op: 'join' | 'remove'; readonly id: NodeId }): boolean {
    const targets = this.membershipChanges.map((c) => c.members);
    return step.op === 'join' ? targets.some((t) => t.includes(step.id)) : targets.some((t) => !t.includes(step.id));
  }

  /** Nodes that must decide everything after the heal: correct ones of the final membership. */
  private livenessNodes(): Instance[] {
    // Nodes the script keeps down cannot decide: liveness is asked of the live ones.
    return this.instances.filter((i) => i.correct && this.members.includes(i.identity) && !this.scriptedDown.includes(i.identity));
  }

  private proposalsDecided(): boolean {
    for (const inst of this.livenessNodes()) if (inst.ledgerKeys.size < this.submittedCount) return false;
    return true;
  }

  private livenessReached(): boolean {
    return this.proposalsDecided() && this.membershipSettled() === null;
  }

  /** With membership changes: null once every final member's engine reports the target members, else why not. */
  private membershipSettled(): string | null {
    if (this.membershipChanges.length === 0) return null;
    const target = [...this.members].sort().join(' ');
    for (const inst of this.livenessNodes()) {
      if (!inst.engine) return `${inst.name} is down`;
      const members = [...inst.engine.status().members].sort().join(' ');
      if (members !== target) return `${inst.name} has members ${members}, the target is ${target}`;
    }
    return null;
  }

  private finalChecks(): void {
    const correct = this.instances.filter((i) => i.correct);
    // Durability: everything a client was told is committed is, at every correct node, in the
    // position where it was first decided.
    for (const [key, s] of this.submitted) {
      if (!s.ack) continue;
      for (const inst of correct) {
        const block = inst.ledger[s.ack.height - 1];
        if (!block) continue; // not caught up: a liveness matter, checked below
        const p = block.proposals[s.ack.index];
        if (!p || proposalKey(p) !== key) {
          this.note('durability', `acknowledged ${key} (height ${s.ack.height} #${s.ack.index} at ${s.ack.node}) is not there in ${inst.name}'s ledger`);
        }
      }
    }
    if (!this.proposalsDecided()) {
      const missing: string[] = [];
      let total = 0;
      for (const inst of this.livenessNodes()) {
        for (const key of this.submitted.keys()) {
          if (inst.ledgerKeys.has(key)) continue;
          total += 1;
          if (missing.length < 5) missing.push(`${inst.name} lacks ${key}`);
        }
      }
      const heights = correct.map((i) => `${i.name}:${i.ledger.length}`).join(' ');
      this.note(
        'liveness',
        `${total} (node, proposal) pairs of ${this.submittedCount} submitted proposals not decided within ${this.o.livenessMs}ms after the heal at t=${formatMs(this.healAtMs)}ms (${missing.join('; ')}); heights ${heights}`,
      );
    }
    const unsettled = this.membershipSettled();
    if (unsettled !== null) this.note('liveness', `membership did not reach its target within ${this.o.livenessMs}ms after the heal: ${unsettled}`);
    if (this.violations.length > 0 && this.traceAtViolation === null) {
      this.trace.add(this.nowMs, `VIOLATION ${this.violations.map((v) => v.checker).join(', ')}`);
      this.traceAtViolation = [...this.trace.format(), ...this.statusLines()];
    }
  }

  private result(): SimResult {
    const sorted = [...this.latencySamples].sort((a, b) => a - b);
    const virtualDurationMs = round2(this.nowMs);
    const messagesByType: Record<string, MessageStats> = {};
    for (const type of [...this.messagesByType.keys()].sort()) messagesByType[type] = { ...this.messagesByType.get(type)! };
    const trace = this.traceAtViolation ?? (this.o.trace ? [...this.trace.format(), ...this.statusLines()] : []);
    return {
      seed: this.o.seed,
      engine: this.o.engine,
      nodes: this.o.nodes,
      faults: this.o.faults,
      violations: this.violations,
      faultSchedule: this.plan.actions.map(describeFault),
      ...(this.membershipChanges.length > 0
        ? { membershipSchedule: this.membershipChanges.map((c) => `t=${formatMs(c.atMs)}ms ${c.note}: members ${c.members.join(' ')}`) }
        : {}),
      trace,
      metrics: {
        messagesByType,
        decidedBlocks: Math.max(0, ...this.instances.filter((i) => i.correct).map((i) => i.ledger.length)),
        decidedProposals: this.ackedCount,
        latencyMs: { p50: round2(percentile(sorted, 0.5)), p99: round2(percentile(sorted, 0.99)) },
        throughputPerSecond: virtualDurationMs > 0 ? round2((this.ackedCount * 1000) / virtualDurationMs) : 0,
        virtualDurationMs,
        network: { ...this.net },
        earlyWrites: { ...this.earlyWrites },
        noticeFlushes: this.noticeFlushes,
      },
      latencySamplesMs: this.latencySamples.map(round2),
      ackTimesMs: this.ackTimes.map(round2),
      scheduleResolved: [...this.scheduleResolved],
    };
  }
}

function copyOp(op: PersistOp): PersistOp {
  // The store keeps its own copy: an engine that later mutates a buffer must not change "disk".
  return op.op === 'put' ? { op: 'put', key: op.key, value: new Uint8Array(op.value) } : op;
}

export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[idx]!;
}

function sameKeys(keys: readonly string[], proposals: readonly Proposal[]): boolean {
  return keys.length === proposals.length && proposals.every((p, i) => keys[i] === proposalKey(p));
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function short(digest: Bytes): string {
  return toHex(digest).slice(0, 12);
}
