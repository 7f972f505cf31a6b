// Options of the hash-generator engine (EngineContext.options), validated the way every engine's
// are (consensus/options.ts): a clear error for every bad value or unknown key.
import { z } from 'zod';
import type { NodeId } from '../engine.ts';
import { intIn, parseEngineOptions } from '../options.ts';
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
  readonly retransmitTicks: number;
  /** Max decided blocks in one catch-up reply. */
  readonly fetchBlocksMax: number;
  /** Decided blocks kept (memory and storage) to serve catch-up and re-delivery. */
  readonly blocksRetained: number;
}

/**
 * The options of a consortium with these members (camsId must be one of them; it defaults to the
 * first). The quorum default is the caller's: 'paper' for the engine, as published.
 */
function hashgenOptionsSchema(members: readonly NodeId[], quorumDefault: QuorumMode) {
  return z.strictObject({
    quorum: z.enum(['paper', 'bft']).default(quorumDefault),
    cams: z.enum(['replicated', 'node']).default('replicated'),
    camsId: z
      .string()
      .refine((id) => members.includes(id), { message: `must be one of the members (${members.join(', ')})` })
      .default(members[0] ?? ''),
    difficultyBits: intIn(0, DIFFICULTY_BITS_MAX).default(8),
    powAttemptsPerTick: intIn(1, 10_000_000).default(4096),
    heartbeatTicks: intIn(1, 1_000_000).default(3),
    timeoutTicks: intIn(2, 1_000_000).default(20),
    progressTimeoutTicks: intIn(2, 10_000_000).default(60),
    retransmitTicks: intIn(1, 1_000_000).default(5),
    fetchBlocksMax: intIn(1, 10_000).default(64),
    blocksRetained: intIn(16, 10_000_000).default(4096),
  });
}

export function parseHashgenOptions(
  raw: Readonly<Record<string, unknown>> | undefined,
  members: readonly NodeId[],
  defaults: { quorum: QuorumMode } = { quorum: 'paper' },
): HashgenOptions {
  return parseEngineOptions('hashgen', hashgenOptionsSchema(members, defaults.quorum), raw, (o) =>
    o.heartbeatTicks >= o.timeoutTicks ? `heartbeatTicks (${o.heartbeatTicks}) must be below timeoutTicks (${o.timeoutTicks})` : null,
  );
}
