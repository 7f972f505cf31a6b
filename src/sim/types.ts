// The simulator's public types (src/sim/index.ts re-exports them). Other engineers' tests and the
// lab call `runSimulation(options)`; keep these additive.
import type { CutterConfig } from '../consensus/cutter.ts';

export type FaultMode = 'none' | 'crash' | 'partition' | 'byzantine' | 'all';
export const FAULT_MODES: readonly FaultMode[] = ['none', 'crash', 'partition', 'byzantine', 'all'];

export type CryptoMode = 'ecdsa' | 'fast';

export interface WorkloadOptions {
  /** Total submission rate of all clients, in proposals per virtual second. */
  proposalsPerSecond?: number;
  clients?: number;
  payloadBytes?: number;
  /** Stop submitting after this many proposals (the faulty phase may end earlier). */
  proposalsMax?: number;
  /** A client re-submits an undecided proposal (to another node) after this long. */
  retryMs?: number;
}

export interface NetworkOptions {
  /** Each directed link draws its own latency range inside [min, max]. */
  latencyMs?: { min: number; max: number };
  /** Base probability that a message is lost (fault bursts add to it). */
  lossRate?: number;
  /** Base probability that a message is delivered twice. */
  duplicateRate?: number;
  /** false = FIFO per link (like one TCP connection); true = independent latencies. */
  reorder?: boolean;
}

export interface SimOptions {
  /** Registry name (src/consensus/registry.ts). */
  engine: string;
  nodes: number;
  seed: number;
  faults: FaultMode;
  /** Number of Byzantine nodes (BFT engines). Default f for 'byzantine', drawn in [0, f] for 'all'. */
  byzantine?: number;
  /** Virtual time of the faulty phase; then faults heal and a liveness phase runs. */
  durationMs: number;
  /** Virtual ms per engine tick (default 10). */
  tickMs?: number;
  /** Passed to EngineContext.options. */
  engineOptions?: Record<string, unknown>;
  cutter?: Partial<CutterConfig>;
  workload?: WorkloadOptions;
  network?: NetworkOptions;
  /** 'ecdsa': real P-256 keys (default). 'fast': HMAC-SHA512 keyed signatures (see docs). */
  crypto?: CryptoMode;
  /** Return the event trace even when no violation occurred. */
  trace?: boolean;
  /** After heal: every submitted proposal must be decided by every correct node within this (default 30000). */
  livenessMs?: number;
  /** Max nodes crashed at one time. Default f − byzantine (crash engines: f). */
  crashMax?: number;
  /** How many trace events to keep (default 80). */
  traceEventsMax?: number;
  /**
   * Membership changes during the faulty phase (engines with Engine.reconfigure, e.g. raft):
   * `joins` extra nodes (n<nodes+1>…) run from the start outside the membership and are added one
   * by one; `leaves` initial members are removed. Every node is asked to reconfigure toward the
   * current target on every tick, as the node runtime does with the ledger's config in force.
   * Safety checkers cover every node; liveness after the heal covers the final members only.
   */
  membership?: { joins?: number; leaves?: number };
  /**
   * Scripted crashes and restarts of chosen nodes, on top of the fault mode's schedule (which
   * they do not count against). A scripted crash is permanent: the heal does not restart that node,
   * only a later scripted restart does, and the liveness checker then covers the live correct nodes
   * only. `node` is a node id, '@leader' (the leader most live correct nodes report at that moment)
   * or '@any' (the lowest-numbered live correct node that is not the leader).
   */
  schedule?: readonly ScheduledFault[];
}

export interface ScheduledFault {
  readonly atMs: number;
  readonly action: 'crash' | 'restart';
  readonly node: string;
}

export type CheckerName = 'agreement' | 'validity' | 'integrity' | 'durability' | 'liveness';

export interface Violation {
  /**
   * The checker that failed. 'engine-error' (an addition to the five checkers) means an engine
   * threw — step() must drop bad input, never throw — or broke the Ready contract.
   */
  checker: CheckerName | 'engine-error';
  message: string;
}

export interface MessageStats {
  count: number;
  bytes: number;
}

export interface SimMetrics {
  messagesByType: Record<string, MessageStats>;
  /** Highest height decided by a correct node. */
  decidedBlocks: number;
  /** Distinct proposals decided by at least one correct node. */
  decidedProposals: number;
  /** Commit latency: first submission → decided at the first correct node (virtual ms). */
  latencyMs: { p50: number; p99: number };
  /** decidedProposals per virtual second over the whole run. */
  throughputPerSecond: number;
  virtualDurationMs: number;
  /** Additional counters: messages dropped (loss, partition, crashed target…), duplicated. */
  network: { sent: number; delivered: number; dropped: number; duplicated: number };
  /**
   * Readies whose early messages (Ready.earlyMessages: a Raft leader's appends) left before their
   * persist was written, and how many of those writes a crash cut short (the leader's own copy lost
   * after its appends were out: the case decision 1360 argues is safe).
   */
  earlyWrites: { started: number; lostInCrash: number };
  /** How often a node's driver let held notices go (Ready.noticesHeld, decision 1405). */
  noticeFlushes: number;
}

export interface SimResult {
  seed: number;
  engine: string;
  nodes: number;
  faults: FaultMode;
  violations: Violation[];
  /** Human-readable, in time order; the same seed (and options) regenerates it exactly. */
  faultSchedule: string[];
  /** Membership changes (target member sets) in time order; empty without `membership`. */
  membershipSchedule?: string[];
  /** The last events before the first violation (or of the run, when `trace` was set). */
  trace: string[];
  metrics: SimMetrics;
  /** Virtual latency samples are summarised in metrics; this is for aggregation by campaigns. */
  latencySamplesMs: number[];
  /** When each acknowledged proposal was first decided by a correct node (virtual ms, in order): progress over time. */
  ackTimesMs: number[];
  /** What the scripted faults resolved to at run time ('t=2000ms crash @leader -> n3'). */
  scheduleResolved: string[];
}

export interface CampaignOptions extends Omit<SimOptions, 'seed'> {
  seeds: number;
  seedStart?: number;
  onProgress?: (done: number) => void;
}

export interface CampaignFailure {
  seed: number;
  violations: Violation[];
  faultSchedule: string[];
  trace: string[];
}

export interface CampaignSummary {
  engine: string;
  nodes: number;
  faults: FaultMode;
  runs: number;
  seedStart: number;
  violations: { count: number; failingSeeds: number[] };
  /** Up to CAMPAIGN_FAILURES_KEPT failing runs in full (schedule + trace) for replay. */
  failures: CampaignFailure[];
  messagesByType: Record<string, MessageStats>;
  decidedBlocks: number;
  decidedProposals: number;
  latencyMs: { p50: number; p99: number };
  throughputPerSecond: number;
  virtualDurationMs: number;
  /** SimMetrics.earlyWrites summed over the runs. */
  earlyWrites: { started: number; lostInCrash: number };
}
