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

/**
 * The exact probability of the race Eq. 6 approximates (Rosenfeld 2014; Grunspan & Pérez-Marco
 * 2017): while the honest nodes make their n blocks the attacker makes m blocks, m negative
 * binomial — not Poisson with the mean n·w/r, which is Nakamoto's simplification — and from
 * n − m behind catches up with probability (w/r)^{n−m}, surely if m > n:
 *   P = Σ_{m=0..n} C(m+n−1, m) r^n w^m (w/r)^{n−m} + P(m > n)
 *     = w^n Σ_{m=0..n} C(m+n−1, m) r^m + Σ_{j=0..n−1} C(2n, j) r^j w^{2n−j}
 * (m > n ⇔ fewer than n honest blocks among the first 2n). Both sums have positive terms only, so
 * no cancellation (1 − Σ… loses every digit below 1e−16); terms in logs, so no overflow at n = 1000.
 * Poisson's thinner tail is why Eq. 6 underestimates the attacker (6.3× at w = 0.1, n = 10).
 */
export function exactAttackProbability(w: number, n: number): number {
  if (!(w >= 0 && w < 1)) throw new RangeError(`w must be in [0, 1), got ${w}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  const r = 1 - w;
  if (w >= r || n === 0) return 1;
  if (w === 0) return 0;
  const lw = Math.log(w);
  const lr = Math.log(r);
  let sum = 0;
  let logC = 0; // log C(m+n−1, m), m = 0
  for (let m = 0; m <= n; m++) {
    if (m > 0) logC += Math.log((m + n - 1) / m);
    sum += Math.exp(logC + n * lw + m * lr);
  }
  let logB = 0; // log C(2n, j), j = 0
  for (let j = 0; j < n; j++) {
    if (j > 0) logB += Math.log((2 * n - j + 1) / j);
    sum += Math.exp(logB + j * lr + (2 * n - j) * lw);
  }
  return Math.min(1, sum);
}

/** Wilson score interval for a binomial proportion (95% for z = 1.96): defined for 0 successes too. */
export function wilsonInterval(successes: number, trials: number, z = 1.959964): { low: number; high: number } {
  if (!Number.isSafeInteger(trials) || trials < 1 || successes < 0 || successes > trials) throw new RangeError('need 0 ≤ successes ≤ trials, trials ≥ 1');
  const p = successes / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  // At 0 (or all) successes the bound is exactly 0 (1); the subtraction leaves a 1e−19 residue.
  return { low: successes === 0 ? 0 : Math.max(0, centre - half), high: successes === trials ? 1 : Math.min(1, centre + half) };
}
