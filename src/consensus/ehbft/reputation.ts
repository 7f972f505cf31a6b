// EH-BFT's verifiers rank nodes with a simplified PowerTrust (Zhou & Hwang 2007, the paper's
// reference [37]): local trust comes from observed behaviour, global reputation from a power
// iteration over the normalised local-trust matrix, with a look-ahead jump toward the current
// most reputable "power nodes".
//
// Determinism is the whole point: every correct node must compute the same list, so the inputs
// are only facts fixed by decided blocks (the commit certificate each block carries for its
// predecessor, and verified misbehaviour evidence), the counts are integers, and the floating
// point iteration runs in one fixed order and is rounded before anyone compares it.
import { assertInvariant } from '../engine.ts';
import type { NodeId } from '../engine.ts';

export interface ReputationConfig {
  /** Probability of the look-ahead jump to the power nodes (PowerTrust's alpha). */
  readonly jumpProbability: number;
  /** How many of the most reputable nodes act as power nodes. */
  readonly powerNodes: number;
  readonly iterationsMax: number;
  /** Stop when the L1 change of the reputation vector falls below this. */
  readonly epsilon: number;
  /** Every this many observed blocks, all counts are halved (old behaviour fades). */
  readonly decayBlocks: number;
  /** A node caught misbehaving is distrusted (and barred from leading) for this many blocks. */
  readonly banBlocks: number;
  /** Upper bound on a single count, so integers stay small whatever the run length. */
  readonly countMax: number;
}

export const DEFAULT_REPUTATION_CONFIG: ReputationConfig = {
  jumpProbability: 0.15,
  powerNodes: 3,
  iterationsMax: 64,
  epsilon: 1e-9,
  decayBlocks: 64,
  banBlocks: 256,
  countMax: 1_000_000,
};

/** Reputations are rounded to this many units per 1.0 before ranking, so ties are exact. */
const REPUTATION_SCALE = 1e9;

export interface ReputationSnapshot {
  /** counts[i][j]: how often member i observed member j behave well (row-major, members order). */
  readonly counts: number[][];
  /** Block height until which a member stays banned (0 = not banned). */
  readonly bannedUntil: number[];
  readonly observedBlocks: number;
}

/**
 * Local trust bookkeeping over a fixed membership. Members are addressed by their index in the
 * membership order every node agrees on.
 */
export class ReputationBook {
  private readonly index: ReadonlyMap<NodeId, number>;
  private counts: number[][];
  private bannedUntil: number[];
  private observedBlocks = 0;
  private cached: number[] | null = null;
  private cachedHeight = -1;
  private cachedRanking: { height: number; ranking: NodeId[] } | null = null;

  constructor(
    readonly members: readonly NodeId[],
    readonly config: ReputationConfig = DEFAULT_REPUTATION_CONFIG,
  ) {
    assertInvariant(members.length >= 1, 'reputation needs members');
    assertInvariant(new Set(members).size === members.length, 'members are distinct');
    assertInvariant(config.jumpProbability > 0 && config.jumpProbability < 1, 'jumpProbability in (0,1)');
    assertInvariant(config.powerNodes >= 1, 'powerNodes >= 1');
    this.index = new Map(members.map((m, i) => [m, i]));
    this.counts = members.map(() => members.map(() => 0));
    this.bannedUntil = members.map(() => 0);
  }

  indexOf(id: NodeId): number | undefined {
    return this.index.get(id);
  }

  /** `rater` saw `ratee` behave well once (a timely, correct, consistent vote or a completed round). */
  observe(rater: NodeId, ratee: NodeId): void {
    const i = this.index.get(rater);
    const j = this.index.get(ratee);
    if (i === undefined || j === undefined || i === j) return;
    const row = this.counts[i]!;
    row[j] = Math.min(this.config.countMax, row[j]! + 1);
    this.cached = null;
  }

  /** Proven misbehaviour (two conflicting signed statements): forget all good words about it. */
  punish(node: NodeId, height: number): void {
    const j = this.index.get(node);
    if (j === undefined) return;
    for (const row of this.counts) row[j] = 0;
    this.bannedUntil[j] = Math.max(this.bannedUntil[j]!, height + this.config.banBlocks);
    this.cached = null;
  }

  isBanned(node: NodeId, height: number): boolean {
    const j = this.index.get(node);
    return j !== undefined && this.bannedUntil[j]! > height;
  }

  /** Called once per decided block, after its observations. */
  endBlock(): void {
    this.observedBlocks += 1;
    if (this.observedBlocks % this.config.decayBlocks === 0) {
      for (const row of this.counts) for (let j = 0; j < row.length; j++) row[j] = Math.floor(row[j]! / 2);
      this.cached = null;
    }
  }

  /**
   * Global reputation by power iteration: v ← (1−α)·Rᵀv + α·p, R the row-normalised local trust
   * matrix (a row with no observations trusts everyone equally), p uniform over the power nodes
   * (the top `powerNodes` of the previous iterate). Banned members get zero in R's columns.
   */
  reputations(height: number): number[] {
    if (this.cached && this.cachedHeight === height) return this.cached;
    const n = this.members.length;
    const alpha = this.config.jumpProbability;
    const banned = this.members.map((m) => this.isBanned(m, height));
    const allowed = banned.filter((b) => !b).length;
    // Row-normalised trust matrix.
    const r: number[][] = this.counts.map((row) => {
      const masked = row.map((c, j) => (banned[j] ? 0 : c));
      const sum = masked.reduce((a, b) => a + b, 0);
      if (sum === 0) return masked.map((_, j) => (banned[j] || allowed === 0 ? 0 : 1 / allowed));
      return masked.map((c) => c / sum);
    });
    let v = this.members.map((_, j) => (banned[j] || allowed === 0 ? 0 : 1 / Math.max(1, allowed)));
    // Nothing observed yet: no basis to prefer anyone (power nodes would only echo the tie-break).
    const observed = this.counts.some((row) => row.some((c, j) => c > 0 && !banned[j]));
    if (!observed) {
      this.cached = v.map((x) => Math.round(x * REPUTATION_SCALE) / REPUTATION_SCALE);
      this.cachedHeight = height;
      return this.cached;
    }
    for (let iter = 0; iter < this.config.iterationsMax; iter++) {
      const power = topIndices(v, Math.min(this.config.powerNodes, Math.max(1, allowed)), banned);
      const next = new Array<number>(n).fill(0);
      for (let i = 0; i < n; i++) {
        const vi = v[i]!;
        if (vi === 0) continue;
        const row = r[i]!;
        for (let j = 0; j < n; j++) next[j]! += (1 - alpha) * vi * row[j]!;
      }
      for (const p of power) next[p]! += alpha / power.length;
      // Mass lost to banned rows' zero entries is redistributed so the vector stays a distribution.
      const total = next.reduce((a, b) => a + b, 0);
      if (total > 0) for (let j = 0; j < n; j++) next[j] = next[j]! / total;
      let delta = 0;
      for (let j = 0; j < n; j++) delta += Math.abs(next[j]! - v[j]!);
      v = next;
      if (delta < this.config.epsilon) break;
    }
    this.cached = v.map((x) => Math.round(x * REPUTATION_SCALE) / REPUTATION_SCALE);
    this.cachedHeight = height;
    return this.cached;
  }

  /** Members ordered by reputation (highest first), ties by membership order; banned last. */
  ranking(height: number): NodeId[] {
    const v = this.reputations(height);
    if (this.cachedRanking && this.cachedRanking.height === height && this.cached === v) return [...this.cachedRanking.ranking];
    const order = this.members.map((_, i) => i);
    order.sort((a, b) => {
      const ba = this.isBanned(this.members[a]!, height) ? 1 : 0;
      const bb = this.isBanned(this.members[b]!, height) ? 1 : 0;
      if (ba !== bb) return ba - bb;
      const d = v[b]! - v[a]!;
      return d !== 0 ? d : a - b;
    });
    const ranking = order.map((i) => this.members[i]!);
    this.cachedRanking = { height, ranking };
    return [...ranking];
  }

  reputationOf(node: NodeId, height: number): number {
    const j = this.index.get(node);
    return j === undefined ? 0 : this.reputations(height)[j]!;
  }

  snapshot(): ReputationSnapshot {
    return { counts: this.counts.map((row) => [...row]), bannedUntil: [...this.bannedUntil], observedBlocks: this.observedBlocks };
  }

  /**
   * The book for a new membership (decision 1290): what remaining members observed of one another
   * and their bans carry over, a new member starts unobserved, a removed one is forgotten. A pure
   * function of this book, so every node that decided the membership block gets the same one.
   */
  rebased(members: readonly NodeId[]): ReputationBook {
    const next = new ReputationBook(members, this.config);
    const counts = members.map((a) => {
      const i = this.index.get(a);
      return members.map((b) => {
        const j = this.index.get(b);
        return i === undefined || j === undefined ? 0 : this.counts[i]![j]!;
      });
    });
    const bannedUntil = members.map((m) => {
      const i = this.index.get(m);
      return i === undefined ? 0 : this.bannedUntil[i]!;
    });
    next.restore({ counts, bannedUntil, observedBlocks: this.observedBlocks });
    return next;
  }

  restore(s: ReputationSnapshot): void {
    const n = this.members.length;
    assertInvariant(s.counts.length === n && s.counts.every((row) => row.length === n), 'reputation snapshot matches membership');
    assertInvariant(s.bannedUntil.length === n, 'reputation snapshot bans match membership');
    this.counts = s.counts.map((row) => [...row]);
    this.bannedUntil = [...s.bannedUntil];
    this.observedBlocks = s.observedBlocks;
    this.cached = null;
  }
}

function topIndices(v: readonly number[], k: number, banned: readonly boolean[]): number[] {
  const order = v.map((_, i) => i).filter((i) => !banned[i]);
  order.sort((a, b) => v[b]! - v[a]! || a - b);
  return order.slice(0, k);
}
