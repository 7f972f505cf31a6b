// Quorums and continuous quorum slicing (EH-BFT / H-BFT, after FBA quorum slices).
//
// The paper: "consensus occurs from a minimum quorum of reliable nodes, ⌊(T − i)/2⌋ + 1, where T
// is the total number of individuals verified and i the individuals already selected. If
// consensus is not obtained in a round, a new execution is performed, applying the same
// criteria." Our reading (decision 0701): the leader asks the first slice of ⌊T/2⌋ + 1 trusted
// nodes (i = 0; the leader is one of them and votes for its own proposal); while the responses
// gathered so far are fewer than the quorum, each further round selects ⌊(T − i)/2⌋ + 1 more of
// the remaining trusted nodes. The quorum itself is what the i = 0 formula gives, a simple
// majority of the trusted list ('paper'), or ⌈(n+f+1)/2⌉ (2f + 1 when n = 3f + 1) of the whole
// ranked membership ('safe').
import { assertInvariant } from '../engine.ts';
import { byzantineFaults, byzantineQuorum } from '../quorum.ts';
import type { NodeId } from '../engine.ts';

export type QuorumMode = 'paper' | 'safe';

/** The paper's formula ⌊(T − i)/2⌋ + 1. */
export function sliceFormula(trusted: number, alreadySelected: number): number {
  assertInvariant(Number.isInteger(trusted) && trusted >= 1, 'T >= 1');
  assertInvariant(Number.isInteger(alreadySelected) && alreadySelected >= 0 && alreadySelected <= trusted, '0 <= i <= T');
  return Math.floor((trusted - alreadySelected) / 2) + 1;
}

/** Byzantine faults tolerated by n nodes under 'safe' quorums. */
export function faultsTolerated(nodes: number): number {
  return byzantineFaults(nodes);
}

/**
 * The Byzantine quorum ⌈(n + f + 1)/2⌉: any two share at least f + 1 nodes, so one correct node.
 * It is the familiar 2f + 1 when n = 3f + 1; for other n (5, 6, 8 …) 2f + 1 would be too small.
 */
export function safeQuorum(members: number): number {
  return byzantineQuorum(members);
}

export function quorumSize(mode: QuorumMode, trusted: number, members: number): number {
  if (mode === 'paper') return sliceFormula(trusted, 0);
  return safeQuorum(members);
}

/**
 * Sizes of the successive slices: the first is at least `firstMin` (the quorum), each later one
 * is ⌊(T − i)/2⌋ + 1 of the remaining nodes, until all T are selected.
 */
export function sliceSchedule(trusted: number, firstMin: number): number[] {
  const sizes: number[] = [];
  let selected = 0;
  while (selected < trusted) {
    let size = sliceFormula(trusted, selected);
    if (selected === 0) size = Math.max(size, firstMin);
    size = Math.min(size, trusted - selected);
    sizes.push(size);
    selected += size;
  }
  return sizes;
}

/** Who may vote at one height, in what order they are asked, and how many votes decide. */
export interface QuorumPlan {
  readonly mode: QuorumMode;
  /** Eligible voters, most reputable first (paper: the trusted list; safe: every member). */
  readonly eligible: readonly NodeId[];
  /** Votes needed (signatures of distinct eligible nodes). */
  readonly quorum: number;
}

export function makePlan(mode: QuorumMode, trustedList: readonly NodeId[], ranking: readonly NodeId[]): QuorumPlan {
  const eligible = mode === 'paper' ? trustedList : ranking;
  const quorum = quorumSize(mode, eligible.length, ranking.length);
  assertInvariant(quorum <= eligible.length, `quorum ${quorum} fits ${eligible.length} eligible nodes`);
  return { mode, eligible, quorum };
}

/** The order in which a leader selects acceptors: itself first (if eligible), then by rank. */
export function selectionOrder(plan: QuorumPlan, leader: NodeId): NodeId[] {
  const rest = plan.eligible.filter((n) => n !== leader);
  return plan.eligible.includes(leader) ? [leader, ...rest] : rest;
}

/** How many of the selection order are selected after `rounds` slicing rounds (rounds >= 1). */
export function selectedAfterRounds(plan: QuorumPlan, rounds: number): number {
  const sizes = sliceSchedule(plan.eligible.length, plan.quorum);
  let total = 0;
  for (let r = 0; r < rounds && r < sizes.length; r++) total += sizes[r]!;
  return total;
}

/**
 * Number of nodes that must report a later view before a node joins it: enough that at least one
 * of them is correct, so that faulty nodes alone cannot drag the others through view changes.
 * 'safe': n − q + 1 (f + 1 when n = 3f + 1). 'paper': the paper's small quorum would give
 * n − q + 1 = ⌈T/2⌉ — equal to the quorum at T = 7 — and then correct nodes split across two
 * adjacent views, with one Byzantine node silent, can never meet: 3 + 3 correct of 7, each side
 * below the quorum of 4 and the ahead side below the join threshold of 4 (seed 438 of the paper
 * campaign, docs/results/ehbft-seed438.md). f + 1 for the Byzantine f the cluster size allows is
 * what the rule needs (one correct reporter), so 'paper' takes the smaller of the two.
 */
export function joinThreshold(plan: QuorumPlan, rule: 'faults' | 'quorum' = 'faults'): number {
  const byQuorum = Math.max(1, plan.eligible.length - plan.quorum + 1);
  return plan.mode === 'paper' && rule === 'faults' ? Math.min(byQuorum, byzantineFaults(plan.eligible.length) + 1) : byQuorum;
}
