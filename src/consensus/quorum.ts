// Where every engine's quorum is computed (issue 14 §2): one module, with the intersection
// property each kind of quorum exists for asserted, not assumed.
//
//   crash faults (Raft, the hash generators' paper thresholds): a majority ⌊n/2⌋ + 1 — any two
//     majorities share a node, so two leaders cannot both win, two commits cannot both be chosen;
//   Byzantine faults (PBFT, grouped PBFT, EH-BFT's safe mode, hash generators' bft mode): with
//     f = ⌊(n − 1)/3⌋, the quorum ⌈(n + f + 1)/2⌉ — any two share at least f + 1 nodes, hence one
//     correct node. It is the familiar 2f + 1 when n = 3f + 1; for n = 5, 6, 8 … 2f + 1 would be too
//     small (n = 5, f = 1: two quorums of 3 may share a single, faulty node).
import { assertInvariant } from './engine.ts';

/** Byzantine nodes that n nodes tolerate: f = ⌊(n − 1)/3⌋ (0 below 4 nodes). */
export function byzantineFaults(n: number): number {
  assertInvariant(Number.isSafeInteger(n) && n >= 0, `a member count is a non-negative integer (got ${n})`);
  return Math.max(0, Math.floor((n - 1) / 3));
}

/** Crash faults that n nodes tolerate with majority quorums: ⌊(n − 1)/2⌋. */
export function crashFaults(n: number): number {
  assertInvariant(Number.isSafeInteger(n) && n >= 0, `a member count is a non-negative integer (got ${n})`);
  return Math.max(0, Math.floor((n - 1) / 2));
}

/** The smallest majority of n: any two intersect. */
export function majorityQuorum(n: number): number {
  assertInvariant(Number.isSafeInteger(n) && n >= 1, `a quorum needs at least one member (got ${n})`);
  const q = Math.floor(n / 2) + 1;
  assertInvariant(quorumsIntersect(n, q, 1), `majority ${q} of ${n} must intersect`);
  return q;
}

/** The Byzantine quorum ⌈(n + f + 1)/2⌉ of n members with f = byzantineFaults(n). */
export function byzantineQuorum(n: number): number {
  assertInvariant(Number.isSafeInteger(n) && n >= 1, `a quorum needs at least one member (got ${n})`);
  const f = byzantineFaults(n);
  const q = Math.ceil((n + f + 1) / 2);
  // The property the protocols rely on: two quorums share f + 1 members, so a correct one; and a
  // quorum can still form with f members silent.
  assertInvariant(quorumsIntersect(n, q, f + 1), `Byzantine quorum ${q} of ${n} must share ${f + 1} members`);
  assertInvariant(q <= n - f, `Byzantine quorum ${q} of ${n} must be reachable with ${f} silent`);
  return q;
}

/** Whether any two sets of q out of n members share at least `overlap` members (2q − n ≥ overlap). */
export function quorumsIntersect(n: number, q: number, overlap: number): boolean {
  return 2 * q - n >= overlap;
}
