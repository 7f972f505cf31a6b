// Quorum math for majority and joint (C_old,new) configurations, after etcd's quorum package.
// A joint configuration needs a majority of BOTH halves; an empty half imposes no constraint.
import type { NodeId } from '../engine.ts';
import { majorityQuorum } from '../quorum.ts';
import type { ConfState } from './messages.ts';

export type VoteResult = 'won' | 'lost' | 'pending';

/** Smallest majority of n voters. */
export function quorumSize(n: number): number {
  return majorityQuorum(n);
}

/**
 * The largest index acknowledged by a majority of `voters` (each voter's acknowledged index
 * comes from `acked`). An empty set commits everything (Infinity), so it vanishes under `min`.
 */
export function majorityCommitted(voters: readonly NodeId[], acked: (id: NodeId) => number): number {
  const n = voters.length;
  if (n === 0) return Infinity;
  // Sorted descending into one reused array (a leader asks on every answer): no array, closure or
  // sort state per call. Not re-entrant, and need not be: `acked` only reads.
  for (let i = 0; i < n; i++) {
    const v = acked(voters[i]!);
    let j = i;
    while (j > 0 && ACKED[j - 1]! < v) {
      ACKED[j] = ACKED[j - 1]!;
      j -= 1;
    }
    ACKED[j] = v;
  }
  return ACKED[quorumSize(n) - 1]!;
}

const ACKED: number[] = [];

export function jointCommitted(conf: ConfState, acked: (id: NodeId) => number): number {
  return Math.min(majorityCommitted(conf.voters, acked), majorityCommitted(conf.outgoing, acked));
}

export function majorityVote(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let missing = 0;
  for (const v of voters) {
    const vote = votes.get(v);
    if (vote === undefined) missing += 1;
    else if (vote) granted += 1;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (granted + missing >= q) return 'pending';
  return 'lost';
}

export function jointVote(conf: ConfState, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const a = majorityVote(conf.voters, votes);
  const b = majorityVote(conf.outgoing, votes);
  if (a === b) return a;
  if (a === 'lost' || b === 'lost') return 'lost';
  return 'pending';
}

/** Check-quorum: is a quorum (of both halves) recently active? */
export function jointActive(conf: ConfState, active: (id: NodeId) => boolean): boolean {
  const votes = new Map<NodeId, boolean>();
  for (const id of [...conf.voters, ...conf.outgoing]) votes.set(id, active(id));
  return jointVote(conf, votes) === 'won';
}
