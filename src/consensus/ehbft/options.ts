// EH-BFT engine options (EngineContext.options), validated the way every engine's are
// (consensus/options.ts): a clear error per bad key.
import { z } from 'zod';
import { fraction, intIn, parseEngineOptions } from '../options.ts';
import { DEFAULT_REPUTATION_CONFIG, type ReputationConfig } from './reputation.ts';
import { defaultRecordKey, type RecordKeyFn } from './records.ts';
import type { QuorumMode } from './quorum.ts';

export interface EhbftOptions {
  /** 'paper': ⌊T/2⌋+1 of the trusted list (the published rule); 'safe': 2f+1 of all members. */
  readonly quorum: QuorumMode;
  /** Ticks the leader waits for a phase's quorum before selecting the next slice of acceptors. */
  readonly sliceTimeoutTicks: number;
  /** Ticks between retransmissions of the current phase (lossy links). */
  readonly retransmitTicks: number;
  /** An idle leader announces its height this often, so nodes that missed a block catch up. */
  readonly heartbeatTicks: number;
  /** Ticks without a decision, while work is pending, before a node asks for a new leader. */
  readonly viewChangeTicks: number;
  /** The view-change timeout doubles after each failed view, up to 2^this. */
  readonly viewChangeBackoffMax: number;
  /** A leader hands over after leading this many ticks (time-based role rotation). */
  readonly leaderTermTicks: number;
  /** Acceptors refuse a leader that keeps proposing this long after its term without handing over. */
  readonly termGraceTicks: number;
  /** A member is trusted (paper mode) when its reputation is at least trustFraction / n. */
  readonly trustFraction: number;
  /** The leader hands over when its reputation falls below reputationDropFraction / n. */
  readonly reputationDropFraction: number;
  /** Decided blocks kept (memory and storage) to serve lagging nodes. */
  readonly retainBlocks: number;
  /** Blocks per catch-up reply. */
  readonly fetchBlocksMax: number;
  /** Record keys remembered for the double-insert check. */
  readonly recordsMax: number;
  /**
   * How many later-view reports make a node join a view change: 'faults' (default) f + 1 for the
   * Byzantine f the cluster allows (under 'safe' the same as n − q + 1 when n = 3f + 1); 'quorum'
   * n − q + 1 from the quorum in force — the rule before seed 438, kept to replay that finding.
   */
  readonly viewJoin: 'faults' | 'quorum';
  /** Whether the leader asks the verifiers for the database version before each block. */
  readonly versionCheck: boolean;
  readonly recordKey: RecordKeyFn;
  readonly reputation: ReputationConfig;
}

export const DEFAULT_EHBFT_OPTIONS: EhbftOptions = {
  quorum: 'safe',
  sliceTimeoutTicks: 5,
  retransmitTicks: 8,
  heartbeatTicks: 50,
  viewChangeTicks: 25,
  viewChangeBackoffMax: 4,
  leaderTermTicks: 300,
  termGraceTicks: 60,
  trustFraction: 0,
  reputationDropFraction: 0.2,
  retainBlocks: 1024,
  fetchBlocksMax: 16,
  recordsMax: 10_000,
  versionCheck: true,
  viewJoin: 'faults',
  recordKey: defaultRecordKey,
  reputation: DEFAULT_REPUTATION_CONFIG,
};

const positive = (dflt: number): z.ZodDefault<z.ZodNumber> => z.number().positive().max(Number.MAX_SAFE_INTEGER).default(dflt);
const R = DEFAULT_REPUTATION_CONFIG;

const EhbftOptionsSchema = z.strictObject({
  quorum: z.enum(['paper', 'safe']).default(DEFAULT_EHBFT_OPTIONS.quorum),
  sliceTimeoutTicks: intIn(1, 10_000).default(DEFAULT_EHBFT_OPTIONS.sliceTimeoutTicks),
  retransmitTicks: intIn(1, 10_000).default(DEFAULT_EHBFT_OPTIONS.retransmitTicks),
  heartbeatTicks: intIn(1, 1_000_000).default(DEFAULT_EHBFT_OPTIONS.heartbeatTicks),
  viewChangeTicks: intIn(2, 1_000_000).default(DEFAULT_EHBFT_OPTIONS.viewChangeTicks),
  viewChangeBackoffMax: intIn(0, 16).default(DEFAULT_EHBFT_OPTIONS.viewChangeBackoffMax),
  leaderTermTicks: intIn(1, 1_000_000_000).default(DEFAULT_EHBFT_OPTIONS.leaderTermTicks),
  termGraceTicks: intIn(0, 1_000_000_000).default(DEFAULT_EHBFT_OPTIONS.termGraceTicks),
  trustFraction: fraction().default(DEFAULT_EHBFT_OPTIONS.trustFraction),
  reputationDropFraction: fraction().default(DEFAULT_EHBFT_OPTIONS.reputationDropFraction),
  retainBlocks: intIn(1, 1_000_000).default(DEFAULT_EHBFT_OPTIONS.retainBlocks),
  fetchBlocksMax: intIn(1, 1024).default(DEFAULT_EHBFT_OPTIONS.fetchBlocksMax),
  recordsMax: intIn(1, 10_000_000).default(DEFAULT_EHBFT_OPTIONS.recordsMax),
  versionCheck: z.boolean().default(DEFAULT_EHBFT_OPTIONS.versionCheck),
  viewJoin: z.enum(['faults', 'quorum']).default(DEFAULT_EHBFT_OPTIONS.viewJoin),
  // A function cannot come from a configuration file: the node and the simulator pass it in code.
  recordKey: z
    .custom<RecordKeyFn>((v) => typeof v === 'function', { message: 'must be a function (data: Uint8Array) => string | null' })
    .default(() => defaultRecordKey),
  reputation: z
    .strictObject({
      jumpProbability: z.number().positive().lt(1).default(R.jumpProbability),
      powerNodes: positive(R.powerNodes),
      iterationsMax: positive(R.iterationsMax),
      epsilon: positive(R.epsilon),
      decayBlocks: positive(R.decayBlocks),
      banBlocks: positive(R.banBlocks),
      countMax: positive(R.countMax),
    })
    .default(R),
});

export function parseEhbftOptions(raw: Readonly<Record<string, unknown>> | undefined): EhbftOptions {
  // An option given as undefined means "the default" (callers spread optional settings).
  const given = Object.fromEntries(Object.entries(raw ?? {}).filter(([, v]) => v !== undefined));
  return parseEngineOptions('ehbft', EhbftOptionsSchema, given);
}
