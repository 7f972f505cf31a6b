// The paper's closed forms (paper 002, Chang et al. 2022): the message counts of Table 2 and the
// attacker's success probability of Eq. 6. Pure functions, checked against hand-computed values.

export interface PbftFormula {
  readonly prePrepare: number;
  readonly prepare: number;
  readonly commit: number;
  readonly total: number;
}

/** Table 2, PBFT row: pre-prepare n−1, prepare n(n−1), commit n(n−1), total 2n²−n−1. */
export function pbftFormula(n: number): PbftFormula {
  return { prePrepare: n - 1, prepare: n * (n - 1), commit: n * (n - 1), total: 2 * n * n - n - 1 };
}

export interface TwoLayerFormula {
  /** First consensus, inside one group of n/k nodes: (1 + 2n/k)(n/k − 1). */
  readonly first: number;
  /** Second consensus, among the k primaries: (k − 1)(2k + 1). */
  readonly second: number;
  readonly total: number;
}

/** Table 2, "this article" row (the paper assumes n/k is an integer). */
export function twoLayerFormula(n: number, k: number): TwoLayerFormula {
  const g = n / k;
  const first = (1 + 2 * g) * (g - 1);
  const second = (k - 1) * (2 * k + 1);
  return { first, second, total: first + second };
}

/** Table 2, SG-PBFT row (reference [22]; shown in the figure, not implemented): (n/2 − 1)(n/2 + 1). */
export function sgPbftFormula(n: number): number {
  return (n / 2 - 1) * (n / 2 + 1);
}

/**
 * Eq. 6: the probability that an attacker who makes the next block with probability w (the honest
 * nodes with r = 1 − w) ever catches up from n blocks behind:
 *   w_n = 1 − Σ_{k=0..n} (λ^k e^{−λ} / k!) · (1 − (w/r)^{n−k}),  λ = n·w/r.
 * This is Nakamoto's formula (Bitcoin paper §11) with z = n. For w ≥ r the attacker always wins.
 */
export function attackSuccessProbability(w: number, n: number): number {
  if (!(w >= 0 && w < 1)) throw new RangeError(`w must be in [0, 1), got ${w}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  const r = 1 - w;
  if (w >= r) return 1;
  const lambda = (n * w) / r;
  let poisson = Math.exp(-lambda); // k = 0 term of the Poisson distribution
  let sum = 0;
  for (let k = 0; k <= n; k++) {
    if (k > 0) poisson *= lambda / k;
    sum += poisson * (1 - (w / r) ** (n - k));
  }
  return Math.min(1, Math.max(0, 1 - sum));
}
