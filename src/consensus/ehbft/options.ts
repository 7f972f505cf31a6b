// EH-BFT engine options (EngineContext.options), validated with a clear error per bad key.
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

export class EhbftOptionsError extends Error {
  override readonly name = 'EhbftOptionsError';
}

const INT_OPTIONS: Record<string, [number, number]> = {
  sliceTimeoutTicks: [1, 10_000],
  retransmitTicks: [1, 10_000],
  heartbeatTicks: [1, 1_000_000],
  viewChangeTicks: [2, 1_000_000],
  viewChangeBackoffMax: [0, 16],
  leaderTermTicks: [1, 1_000_000_000],
  termGraceTicks: [0, 1_000_000_000],
  retainBlocks: [1, 1_000_000],
  fetchBlocksMax: [1, 1024],
  recordsMax: [1, 10_000_000],
};
const FRACTION_OPTIONS = ['trustFraction', 'reputationDropFraction'];
const REPUTATION_KEYS = Object.keys(DEFAULT_REPUTATION_CONFIG);

export function parseEhbftOptions(raw: Readonly<Record<string, unknown>> | undefined): EhbftOptions {
  const out: Record<string, unknown> = { ...DEFAULT_EHBFT_OPTIONS };
  for (const [key, value] of Object.entries(raw ?? {})) {
    if (value === undefined) continue;
    if (key === 'quorum') {
      if (value !== 'paper' && value !== 'safe') throw new EhbftOptionsError(`ehbft option quorum must be 'paper' or 'safe', got ${JSON.stringify(value)}`);
      out.quorum = value;
    } else if (key in INT_OPTIONS) {
      const [min, max] = INT_OPTIONS[key]!;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new EhbftOptionsError(`ehbft option ${key} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
      }
      out[key] = value;
    } else if (FRACTION_OPTIONS.includes(key)) {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1))
        throw new EhbftOptionsError(`ehbft option ${key} must be a number in [0, 1], got ${JSON.stringify(value)}`);
      out[key] = value;
    } else if (key === 'viewJoin') {
      if (value !== 'faults' && value !== 'quorum')
        throw new EhbftOptionsError(`ehbft option viewJoin must be 'faults' or 'quorum', got ${JSON.stringify(value)}`);
      out.viewJoin = value;
    } else if (key === 'versionCheck') {
      if (typeof value !== 'boolean') throw new EhbftOptionsError(`ehbft option versionCheck must be a boolean, got ${JSON.stringify(value)}`);
      out.versionCheck = value;
    } else if (key === 'recordKey') {
      if (typeof value !== 'function') throw new EhbftOptionsError('ehbft option recordKey must be a function (data: Uint8Array) => string | null');
      out.recordKey = value as RecordKeyFn;
    } else if (key === 'reputation') {
      if (typeof value !== 'object' || value === null) throw new EhbftOptionsError('ehbft option reputation must be an object');
      const rep: Record<string, unknown> = { ...DEFAULT_REPUTATION_CONFIG };
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (!REPUTATION_KEYS.includes(k)) throw new EhbftOptionsError(`unknown ehbft reputation option "${k}" (known: ${REPUTATION_KEYS.join(', ')})`);
        if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
          throw new EhbftOptionsError(`ehbft reputation option ${k} must be a positive number, got ${JSON.stringify(v)}`);
        rep[k] = v;
      }
      const jp = rep.jumpProbability as number;
      if (jp >= 1) throw new EhbftOptionsError('ehbft reputation option jumpProbability must be below 1');
      out.reputation = rep;
    } else {
      throw new EhbftOptionsError(
        `unknown ehbft option "${key}" (known: quorum, ${[...Object.keys(INT_OPTIONS), ...FRACTION_OPTIONS, 'viewJoin', 'versionCheck', 'recordKey', 'reputation'].join(', ')})`,
      );
    }
  }
  return out as unknown as EhbftOptions;
}
