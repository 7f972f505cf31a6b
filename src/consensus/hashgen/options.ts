// Options of the hash-generator engine (EngineContext.options), validated with a clear error for
// every bad value or unknown key.
import type { NodeId } from '../engine.ts';
import { DIFFICULTY_BITS_MAX, type QuorumMode } from './rules.ts';

/**
 * 'replicated' (default, the safe variant): every node performs CAMS's selection itself, as a
 * pure function of the decided chain, so a crashed CAMS cannot stop the chain.
 * 'node': faithful — one designated node (camsId) selects each epoch's generator and signs the
 * selection; while it is down no failed generator can be replaced (a single point of failure).
 */
export type CamsMode = 'replicated' | 'node';

export interface HashgenOptions {
  readonly quorum: QuorumMode;
  readonly cams: CamsMode;
  readonly camsId: NodeId;
  /** Leading zero bits the proof hash must have (the target). */
  readonly difficultyBits: number;
  /** Bound on proof-hash attempts per tick: the nonce search never blocks the engine. */
  readonly powAttemptsPerTick: number;
  /** The generator sends a heartbeat this often. */
  readonly heartbeatTicks: number;
  /** A generator not heard from for this long (plus jitter) is suspected and replaced. */
  readonly timeoutTicks: number;
  /** A generator that decides nothing for this long while proposals are pending is replaced. */
  readonly progressTimeoutTicks: number;
  /** Unanswered requests (auth, block, seal, forward, fetch) are re-sent this often. */
  readonly resendTicks: number;
  /** Max decided blocks in one catch-up reply. */
  readonly fetchBlocksMax: number;
  /** Decided blocks kept (memory and storage) to serve catch-up and re-delivery. */
  readonly blocksRetained: number;
}

export const HASHGEN_OPTION_KEYS = [
  'quorum',
  'cams',
  'camsId',
  'difficultyBits',
  'powAttemptsPerTick',
  'heartbeatTicks',
  'timeoutTicks',
  'progressTimeoutTicks',
  'resendTicks',
  'fetchBlocksMax',
  'blocksRetained',
] as const;

export class HashgenOptionsError extends Error {
  override readonly name = 'HashgenOptionsError';
}

function int(raw: Readonly<Record<string, unknown>>, key: string, dflt: number, min: number, max: number): number {
  const v = raw[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new HashgenOptionsError(`hashgen option ${key} must be an integer between ${min} and ${max}, got ${String(v)}`);
  }
  return v;
}

export function parseHashgenOptions(
  raw: Readonly<Record<string, unknown>> | undefined,
  members: readonly NodeId[],
  defaults: { quorum: QuorumMode } = { quorum: 'paper' },
): HashgenOptions {
  const o = raw ?? {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new HashgenOptionsError('hashgen options must be an object');
  for (const k of Object.keys(o)) {
    if (!(HASHGEN_OPTION_KEYS as readonly string[]).includes(k)) {
      throw new HashgenOptionsError(`unknown hashgen option "${k}" (known: ${HASHGEN_OPTION_KEYS.join(', ')})`);
    }
  }
  const quorum = o.quorum ?? defaults.quorum;
  if (quorum !== 'paper' && quorum !== 'bft') throw new HashgenOptionsError(`hashgen option quorum must be paper|bft, got ${String(quorum)}`);
  const cams = o.cams ?? 'replicated';
  if (cams !== 'replicated' && cams !== 'node') throw new HashgenOptionsError(`hashgen option cams must be replicated|node, got ${String(cams)}`);
  const camsId = o.camsId ?? members[0];
  if (typeof camsId !== 'string' || !members.includes(camsId)) {
    throw new HashgenOptionsError(`hashgen option camsId must be one of the members (${members.join(', ')}), got ${String(camsId)}`);
  }
  const timeoutTicks = int(o, 'timeoutTicks', 20, 2, 1_000_000);
  const heartbeatTicks = int(o, 'heartbeatTicks', 3, 1, 1_000_000);
  if (heartbeatTicks >= timeoutTicks) {
    throw new HashgenOptionsError(`hashgen option heartbeatTicks (${heartbeatTicks}) must be below timeoutTicks (${timeoutTicks})`);
  }
  return {
    quorum,
    cams,
    camsId,
    difficultyBits: int(o, 'difficultyBits', 8, 0, DIFFICULTY_BITS_MAX),
    powAttemptsPerTick: int(o, 'powAttemptsPerTick', 4096, 1, 10_000_000),
    heartbeatTicks,
    timeoutTicks,
    progressTimeoutTicks: int(o, 'progressTimeoutTicks', 60, 2, 10_000_000),
    resendTicks: int(o, 'resendTicks', 5, 1, 1_000_000),
    fetchBlocksMax: int(o, 'fetchBlocksMax', 64, 1, 10_000),
    blocksRetained: int(o, 'blocksRetained', 4096, 16, 10_000_000),
  };
}
