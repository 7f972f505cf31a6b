// Privacy-preserving statistics (DESIGN §7, PHDMF's trusted computing) with statistical disclosure
// control (decision 1163). Each custodian computes exact figures over its own rows, and only a
// *released partial* leaves it: a partial that obeys the same disclosure rule as a final result,
// because the requesting hospital's node sees every partial it is sent — a modified or buggy
// requester node must not learn more than the researcher may. The requester's node combines the
// released partials and applies the rule again to the pooled figures.
//
// The rule, with T = the request's threshold (at least the consortium floor):
//   - a cohort (the whole request, or one dataset) smaller than T releases nothing;
//   - every released cell count — histogram bins and the under/over-range cells — is ≥ T. Smaller
//     counts, empty cells included, are withheld: if empty cells were shown, a withheld cell would
//     mean "someone is here", which is what the probe of issue 16 used;
//   - complementary suppression: the withheld cells' total (count − released cells) is 0 or ≥ T
//     and, when it is not 0, is spread over at least two withheld cells that are not known to be
//     empty — so no withheld cell can be recovered by subtraction;
//   - the minimum and maximum are never released as values (each is one patient's value): only as
//     the bin that holds them, and only when that bin is itself released (it holds ≥ T values).
//     Saying so tells that the cells beyond it are empty, which describes no one; the check above
//     counts those cells as known.

import { z } from 'zod';

/** The consortium's floor for the minimum cohort: no request, dataset or node may use less. */
export const STATISTICS_MIN_COHORT_FLOOR = 5;
export const MIN_COHORT_MAX = 1000;
export const HISTOGRAM_BINS_MAX = 1000;
export const VALUES_MAX = 10_000_000;

export interface HistogramSpec {
  /** Lower edge of the first bin (inclusive). */
  readonly min: number;
  /** Upper edge of the last bin (inclusive). */
  readonly max: number;
  readonly bins: number;
}

export class AnalyticsError extends Error {
  override readonly name = 'AnalyticsError';
}

export function checkHistogramSpec(spec: HistogramSpec): void {
  if (!Number.isFinite(spec.min) || !Number.isFinite(spec.max) || spec.min >= spec.max || !Number.isFinite(spec.max - spec.min)) {
    throw new AnalyticsError(`histogram needs finite min < max (and a finite width), got [${spec.min}, ${spec.max}]`);
  }
  if (!Number.isInteger(spec.bins) || spec.bins < 1 || spec.bins > HISTOGRAM_BINS_MAX) {
    throw new AnalyticsError(`histogram bins must be an integer from 1 to ${HISTOGRAM_BINS_MAX}, got ${spec.bins}`);
  }
}

/** The threshold a request uses: the largest of the consortium floor and every minimum given (caller, dataset owners). */
export function effectiveMinCohort(minimums: ReadonlyArray<number | null | undefined>): number {
  let threshold = STATISTICS_MIN_COHORT_FLOOR;
  for (const m of minimums) if (typeof m === 'number' && Number.isFinite(m) && m > threshold) threshold = Math.ceil(m);
  return threshold;
}

// ---- cells ------------------------------------------------------------------------------------
// A vector of bins + 2 cells: index 0 = values below spec.min ("under"), 1..bins = the bins,
// bins + 1 = values above spec.max ("over").

export function cellCount(spec: HistogramSpec): number {
  return spec.bins + 2;
}

/** Index in the cell vector of a value (bins are [from, to), the last one [from, max]). */
export function cellOf(value: number, spec: HistogramSpec): number {
  if (value < spec.min) return 0;
  if (value > spec.max) return spec.bins + 1;
  if (value === spec.max) return spec.bins;
  // min() guards against a ratio that rounds up to exactly 1 just below max.
  return 1 + Math.min(spec.bins - 1, Math.floor(((value - spec.min) / (spec.max - spec.min)) * spec.bins));
}

export interface BinRange {
  /** null: unbounded below (the under-range cell). */
  readonly from: number | null;
  /** null: unbounded above (the over-range cell). */
  readonly to: number | null;
}

/** The edges of the histogram's bins, as every node (and the contract) computes them. */
export function binEdges(spec: HistogramSpec): Array<{ from: number; to: number }> {
  const width = (spec.max - spec.min) / spec.bins;
  return Array.from({ length: spec.bins }, (_, i) => ({ from: spec.min + i * width, to: i === spec.bins - 1 ? spec.max : spec.min + (i + 1) * width }));
}

function cellRange(index: number, histogram: ReadonlyArray<{ from: number; to: number }>): BinRange {
  if (index === 0) return { from: null, to: histogram[0]!.from };
  if (index === histogram.length + 1) return { from: histogram[histogram.length - 1]!.to, to: null };
  const b = histogram[index - 1]!;
  return { from: b.from, to: b.to };
}

// ---- the custodian's exact figures (never leave it) --------------------------------------------

/** Exact figures over one custodian's own values. They never leave the custodian. */
export interface ExactAggregate {
  readonly count: number;
  readonly sum: number;
  readonly sumOfSquares: number;
  /** [under, bin 0 … bin n−1, over]. */
  readonly cells: readonly number[];
}

/** A custodian's exact figures over its own values (non-finite values are ignored). */
export function exactAggregateOf(values: Iterable<number>, spec: HistogramSpec): ExactAggregate {
  checkHistogramSpec(spec);
  let count = 0;
  let sum = 0;
  let sumOfSquares = 0;
  const cells = new Array<number>(cellCount(spec)).fill(0);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (++count > VALUES_MAX) throw new AnalyticsError(`more than ${VALUES_MAX} values in one dataset`);
    sum += v;
    sumOfSquares += v * v;
    const c = cellOf(v, spec);
    cells[c] = (cells[c] ?? 0) + 1;
  }
  return { count, sum, sumOfSquares, cells };
}

// ---- the disclosure rule on a cell vector ------------------------------------------------------

interface Suppressed {
  /** Released counts (≥ threshold) or null. */
  readonly cells: Array<number | null>;
  /** Index of the lowest non-empty cell when that cell is released, else null. */
  readonly lowestCell: number | null;
  readonly highestCell: number | null;
}

/**
 * Which withheld cells are known to hold nobody, from what is released: the cells beyond a
 * released extreme. (A zero total of the withheld cells makes every one of them known; callers
 * test that total first.)
 */
function unknownWithheld(cells: ReadonlyArray<number | null>, lowestCell: number | null, highestCell: number | null): number[] {
  const unknown: number[] = [];
  cells.forEach((c, i) => {
    if (c !== null) return;
    if (lowestCell !== null && i < lowestCell) return;
    if (highestCell !== null && i > highestCell) return;
    unknown.push(i);
  });
  return unknown;
}

/**
 * Primary suppression (every count under `threshold`, empty cells too) and complementary
 * suppression: while the withheld cells' total is between 1 and threshold − 1, or is spread over
 * fewer than two cells not known to be empty, withhold the smallest released cell as well.
 *
 * `cells` holds exact counts, or null for a count this node does not know (pooled cells that
 * some custodian withheld). `lowestCell`/`highestCell` are the indexes of the lowest/highest
 * non-empty cells, when known.
 */
function suppressCells(
  cells: ReadonlyArray<number | null>,
  count: number,
  lowestCell: number | null,
  highestCell: number | null,
  threshold: number,
): Suppressed {
  const released = cells.map((c) => (c !== null && c >= threshold ? c : null));
  for (;;) {
    const low = lowestCell !== null && released[lowestCell] !== null ? lowestCell : null;
    const high = highestCell !== null && released[highestCell] !== null ? highestCell : null;
    const withheldTotal = count - released.reduce<number>((a, c) => a + (c ?? 0), 0);
    if (withheldTotal < 0) throw new AnalyticsError(`released cells hold more than the count ${count}: inconsistent figures`);
    if (withheldTotal === 0 || (withheldTotal >= threshold && unknownWithheld(released, low, high).length >= 2)) {
      return { cells: released, lowestCell: low, highestCell: high };
    }
    let smallest = -1;
    released.forEach((c, i) => {
      if (c !== null && (smallest < 0 || c < released[smallest]!)) smallest = i;
    });
    // Unreachable with consistent figures: with nothing released the withheld total is the whole
    // count (≥ threshold) over every cell (≥ 3), and neither extreme is released.
    if (smallest < 0) throw new AnalyticsError('complementary suppression found no cell to withhold: inconsistent figures');
    released[smallest] = null;
  }
}

// ---- what leaves a custodian ----------------------------------------------------------------

/** What a custodian hands the requesting node: its figures under the disclosure rule. */
export interface ReleasedPartial {
  /** The threshold this custodian applied. */
  readonly minCohort: number;
  /** null: the dataset holds fewer than minCohort values, and nothing else is released. */
  readonly count: number | null;
  readonly sum: number | null;
  readonly sumOfSquares: number | null;
  /** [under, bin 0 … bin n−1, over]: counts ≥ minCohort, or null (withheld). */
  readonly cells: ReadonlyArray<number | null>;
  /** Index of the lowest non-empty cell, when that cell is released; else null. */
  readonly lowestCell: number | null;
  readonly highestCell: number | null;
}

/** The external shape of a released partial (what a requesting node accepts from a custodian). */
export const releasedPartialSchema = z.strictObject({
  minCohort: z.number().int().min(1).max(MIN_COHORT_MAX),
  count: z.number().int().min(0).max(VALUES_MAX).nullable(),
  sum: z.number().finite().nullable(),
  sumOfSquares: z.number().finite().min(0).nullable(),
  cells: z
    .array(z.number().int().min(0).max(VALUES_MAX).nullable())
    .min(3)
    .max(HISTOGRAM_BINS_MAX + 2),
  lowestCell: z
    .number()
    .int()
    .min(0)
    .max(HISTOGRAM_BINS_MAX + 1)
    .nullable(),
  highestCell: z
    .number()
    .int()
    .min(0)
    .max(HISTOGRAM_BINS_MAX + 1)
    .nullable(),
});

function checkThreshold(threshold: number): void {
  if (!Number.isInteger(threshold) || threshold < STATISTICS_MIN_COHORT_FLOOR || threshold > MIN_COHORT_MAX) {
    throw new AnalyticsError(
      `minimum cohort must be an integer from the consortium floor ${STATISTICS_MIN_COHORT_FLOOR} to ${MIN_COHORT_MAX}, got ${threshold}`,
    );
  }
}

/** A custodian's exact figures reduced to what may leave it. */
export function releasePartial(exact: ExactAggregate, threshold: number): ReleasedPartial {
  checkThreshold(threshold);
  if (exact.count < threshold) {
    return { minCohort: threshold, count: null, sum: null, sumOfSquares: null, cells: exact.cells.map(() => null), lowestCell: null, highestCell: null };
  }
  const lowest = exact.cells.findIndex((c) => c > 0);
  let highest = -1;
  exact.cells.forEach((c, i) => {
    if (c > 0) highest = i;
  });
  const s = suppressCells(exact.cells, exact.count, lowest, highest, threshold);
  return {
    minCohort: threshold,
    count: exact.count,
    sum: exact.sum,
    sumOfSquares: exact.sumOfSquares,
    cells: s.cells,
    lowestCell: s.lowestCell,
    highestCell: s.highestCell,
  };
}

// ---- what the requesting node knows after combining ---------------------------------------------

/** The pooled figures as the requesting node knows them: exact where every custodian's part is known. */
export interface PooledAggregate {
  /** null: some dataset withheld everything (its cohort is under its threshold). */
  readonly count: number | null;
  readonly sum: number | null;
  readonly sumOfSquares: number | null;
  /** Exact pooled counts, or null where some custodian withheld its part. */
  readonly cells: ReadonlyArray<number | null>;
  readonly lowestCell: number | null;
  readonly highestCell: number | null;
}

/**
 * Combine released partials. A custodian's withheld cell is known to be empty when it lies
 * beyond the custodian's released extreme, or when its withheld cells total 0; otherwise it is
 * unknown, and so is the pooled cell.
 */
export function combine(partials: readonly ReleasedPartial[], spec: HistogramSpec, threshold: number): PooledAggregate {
  checkHistogramSpec(spec);
  checkThreshold(threshold);
  const n = cellCount(spec);
  let count = 0;
  let sum = 0;
  let sumOfSquares = 0;
  let withheld = false;
  const cells: Array<number | null> = new Array<number | null>(n).fill(0);
  let lowestCell: number | null = partials.length > 0 ? n : null;
  let highestCell: number | null = partials.length > 0 ? -1 : null;
  for (const p of partials) {
    if (p.cells.length !== n) throw new AnalyticsError(`a partial has ${p.cells.length} cells, expected ${n} (${spec.bins} bins, under and over)`);
    if (p.minCohort < threshold) throw new AnalyticsError(`a custodian applied the minimum cohort ${p.minCohort}, below the request's ${threshold}`);
    if (p.cells.some((c) => c !== null && c < p.minCohort)) throw new AnalyticsError(`a partial releases a cell under its own minimum cohort ${p.minCohort}`);
    if (p.count === null || p.sum === null || p.sumOfSquares === null) {
      withheld = true;
      continue;
    }
    const residual = p.count - p.cells.reduce<number>((a, c) => a + (c ?? 0), 0);
    if (residual < 0) throw new AnalyticsError(`a partial's released cells hold more than its count ${p.count}`);
    // Its extremes must be released cells with nothing released beyond them: the cells past them
    // are taken as empty below.
    for (const [extreme, beyond] of [
      [p.lowestCell, (i: number, e: number) => i < e],
      [p.highestCell, (i: number, e: number) => i > e],
    ] as const) {
      if (extreme === null) continue;
      if (extreme >= n || p.cells[extreme] === null || p.cells.some((c, i) => c !== null && beyond(i, extreme)))
        throw new AnalyticsError('a partial names an extreme cell that is withheld, or has released cells beyond it');
    }
    count += p.count;
    sum += p.sum;
    sumOfSquares += p.sumOfSquares;
    for (let i = 0; i < n; i++) {
      const c = p.cells[i] ?? null;
      const knownEmpty = residual === 0 || (p.lowestCell !== null && i < p.lowestCell) || (p.highestCell !== null && i > p.highestCell);
      const known = c ?? (knownEmpty ? 0 : null);
      const pooled = cells[i] ?? null;
      cells[i] = known === null || pooled === null ? null : pooled + known;
    }
    lowestCell = lowestCell === null || p.lowestCell === null ? null : Math.min(lowestCell, p.lowestCell);
    highestCell = highestCell === null || p.highestCell === null ? null : Math.max(highestCell, p.highestCell);
  }
  if (withheld) return { count: null, sum: null, sumOfSquares: null, cells: cells.map(() => null), lowestCell: null, highestCell: null };
  return { count, sum, sumOfSquares, cells, lowestCell: lowestCell === n ? null : lowestCell, highestCell: highestCell === -1 ? null : highestCell };
}

// ---- the released result ----------------------------------------------------------------------

export interface Statistics {
  /** True when the cohort (of the request or of one of its datasets) is under minCohort: every figure is withheld. */
  readonly suppressed: boolean;
  /** The threshold applied: max(consortium floor, the datasets' owners' minimums, the caller's). */
  readonly minCohort: number;
  readonly count: number | null;
  readonly mean: number | null;
  /** Sample standard deviation (n − 1). */
  readonly stdDev: number | null;
  /** The bin holding the smallest value — only when that bin is released; never the value itself. */
  readonly minBin: BinRange | null;
  /** The bin holding the largest value — only when that bin is released. */
  readonly maxBin: BinRange | null;
  /** Values below the histogram's min (null: withheld). */
  readonly under: number | null;
  /** Values above the histogram's max (null: withheld). */
  readonly over: number | null;
  /** Counts ≥ minCohort, or null: withheld (fewer than minCohort, empty, or withheld so that such a cell cannot be derived). */
  readonly histogram: ReadonlyArray<{ readonly from: number; readonly to: number; readonly count: number | null }>;
}

const nullableNumber = z.number().finite().nullable();
const nullableCount = z.number().int().min(0).nullable();
const binRangeSchema = z.strictObject({ from: nullableNumber, to: nullableNumber });

/** The external shape of released statistics (the contract's recordStatisticsResult, the CLI). disclosureProblem() checks the rule. */
export const statisticsSchema = z.strictObject({
  suppressed: z.boolean(),
  minCohort: z.number().int().min(1).max(MIN_COHORT_MAX),
  count: nullableCount,
  mean: nullableNumber,
  stdDev: nullableNumber,
  minBin: binRangeSchema.nullable(),
  maxBin: binRangeSchema.nullable(),
  under: nullableCount,
  over: nullableCount,
  histogram: z.array(z.strictObject({ from: z.number().finite(), to: z.number().finite(), count: nullableCount })).max(HISTOGRAM_BINS_MAX),
});

function suppressedResult(spec: HistogramSpec, threshold: number): Statistics {
  return {
    suppressed: true,
    minCohort: threshold,
    count: null,
    mean: null,
    stdDev: null,
    minBin: null,
    maxBin: null,
    under: null,
    over: null,
    histogram: binEdges(spec).map((e) => ({ ...e, count: null })),
  };
}

/** The released statistics from the pooled figures: the disclosure rule applied once more, then checked. */
export function finalize(pooled: PooledAggregate, spec: HistogramSpec, threshold: number): Statistics {
  checkHistogramSpec(spec);
  checkThreshold(threshold);
  if (pooled.cells.length !== cellCount(spec)) throw new AnalyticsError(`pooled figures have ${pooled.cells.length} cells, expected ${cellCount(spec)}`);
  if (pooled.count === null || pooled.sum === null || pooled.sumOfSquares === null || pooled.count < threshold) return suppressedResult(spec, threshold);
  const s = suppressCells(pooled.cells, pooled.count, pooled.lowestCell, pooled.highestCell, threshold);
  const n = pooled.count;
  const mean = pooled.sum / n;
  const variance = n > 1 ? Math.max(0, (pooled.sumOfSquares - n * mean * mean) / (n - 1)) : 0;
  const edges = binEdges(spec);
  const result: Statistics = {
    suppressed: false,
    minCohort: threshold,
    count: n,
    mean,
    stdDev: Math.sqrt(variance),
    minBin: s.lowestCell === null ? null : cellRange(s.lowestCell, edges),
    maxBin: s.highestCell === null ? null : cellRange(s.highestCell, edges),
    under: s.cells[0] ?? null,
    over: s.cells[spec.bins + 1] ?? null,
    histogram: edges.map((e, i) => ({ ...e, count: s.cells[i + 1] ?? null })),
  };
  // A bug above must not release anything: the same check the contract makes.
  const problem = disclosureProblem(result, { minCohort: threshold, spec });
  if (problem) throw new AnalyticsError(`refusing to release statistics: ${problem}`);
  return result;
}

// ---- the check (requester node, REST route, and the contract's recordStatisticsResult) -------

function sameRange(a: BinRange, b: BinRange): boolean {
  return a.from === b.from && a.to === b.to;
}

/**
 * Why a result may not be released, or null. Checks the rule on the figures as released (what
 * the researcher sees), not their truth: no node but the custodians knows the data.
 * `expected.minCohort` is the request's threshold; `expected.spec` its histogram.
 */
export function disclosureProblem(r: Statistics, expected: { readonly minCohort?: number; readonly spec?: HistogramSpec } = {}): string | null {
  const threshold = r.minCohort;
  if (!Number.isInteger(threshold) || threshold < STATISTICS_MIN_COHORT_FLOOR)
    return `minimum cohort ${threshold} is below the consortium floor ${STATISTICS_MIN_COHORT_FLOOR}`;
  if (expected.minCohort !== undefined && threshold !== expected.minCohort)
    return `result minCohort ${threshold} differs from the request's ${expected.minCohort}`;
  if (r.histogram.length === 0) return 'the result has no histogram bins';
  if (expected.spec) {
    if (r.histogram.length !== expected.spec.bins) return `result has ${r.histogram.length} bins, the request asked for ${expected.spec.bins}`;
    const edges = binEdges(expected.spec);
    if (r.histogram.some((b, i) => b.from !== edges[i]!.from || b.to !== edges[i]!.to)) return "result's bin edges differ from the request's histogram";
  }
  const cells = [r.under, ...r.histogram.map((b) => b.count), r.over];
  if (r.suppressed) {
    const any = [r.count, r.mean, r.stdDev, r.minBin, r.maxBin, ...cells].some((v) => v !== null);
    return any ? 'a suppressed result must withhold every figure' : null;
  }
  if (r.count === null || r.count < threshold) return `unsuppressed result discloses a cohort smaller than the minimum cohort ${threshold}`;
  const small = cells.findIndex((c) => c !== null && c < threshold);
  if (small >= 0)
    return `unsuppressed result discloses a group smaller than the minimum cohort ${threshold} (${cells[small]} in ${small === 0 ? 'the under-range cell' : small === cells.length - 1 ? 'the over-range cell' : `bin ${small - 1}`})`;
  const released = cells.reduce<number>((a, c) => a + (c ?? 0), 0);
  if (released > r.count) return `released cells hold ${released} values, more than the count ${r.count}`;
  const ranges = cells.map((_, i) => cellRange(i, r.histogram));
  const extreme = (bin: BinRange | null, what: string): { index: number | null; problem: string | null } => {
    if (bin === null) return { index: null, problem: null };
    const index = ranges.findIndex((range) => sameRange(range, bin));
    if (index < 0) return { index: null, problem: `${what} is not one of the result's cells` };
    if (cells[index] === null) return { index: null, problem: `${what} names a withheld cell` };
    return { index, problem: null };
  };
  const low = extreme(r.minBin, 'minBin');
  if (low.problem) return low.problem;
  const high = extreme(r.maxBin, 'maxBin');
  if (high.problem) return high.problem;
  if (low.index !== null && cells.some((c, i) => c !== null && i < low.index!)) return 'a released cell lies below minBin';
  if (high.index !== null && cells.some((c, i) => c !== null && i > high.index!)) return 'a released cell lies above maxBin';
  const withheldTotal = r.count - released;
  if (withheldTotal !== 0) {
    const unknown = unknownWithheld(cells, low.index, high.index).length;
    if (withheldTotal < threshold || unknown < 2) {
      return `the withheld cells hold ${withheldTotal} values over ${unknown} cell(s) not known to be empty: a withheld count could be derived (it must be 0, or at least ${threshold} over at least 2 cells)`;
    }
  }
  return null;
}
