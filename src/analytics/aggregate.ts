// Privacy-preserving statistics (DESIGN §7, PHDMF's trusted computing): each custodian computes a
// partial aggregate over its own rows; only partials leave the custodian (node to node, over mTLS);
// the requester's node combines them and suppresses small cells before the researcher sees
// anything. Partials are exact (count, sum, sum of squares, min, max, fixed-edge histogram), so
// the combined result equals the one computed over the pooled raw data.

export interface HistogramSpec {
  /** Lower edge of the first bin (inclusive). */
  readonly min: number;
  /** Upper edge of the last bin (inclusive). */
  readonly max: number;
  readonly bins: number;
}

export interface Partial {
  readonly count: number;
  readonly sum: number;
  readonly sumOfSquares: number;
  readonly min: number | null;
  readonly max: number | null;
  /** Counts per bin; values outside [min, max] go to `outside`. */
  readonly histogram: readonly number[];
  readonly outside: number;
}

export const HISTOGRAM_BINS_MAX = 1000;
export const VALUES_MAX = 10_000_000;

export class AnalyticsError extends Error {
  override readonly name = 'AnalyticsError';
}

export function checkHistogramSpec(spec: HistogramSpec): void {
  if (!Number.isFinite(spec.min) || !Number.isFinite(spec.max) || spec.min >= spec.max) {
    throw new AnalyticsError(`histogram needs finite min < max, got [${spec.min}, ${spec.max}]`);
  }
  if (!Number.isInteger(spec.bins) || spec.bins < 1 || spec.bins > HISTOGRAM_BINS_MAX) {
    throw new AnalyticsError(`histogram bins must be an integer from 1 to ${HISTOGRAM_BINS_MAX}, got ${spec.bins}`);
  }
}

export function binOf(value: number, spec: HistogramSpec): number | null {
  if (value < spec.min || value > spec.max) return null;
  if (value === spec.max) return spec.bins - 1;
  return Math.floor(((value - spec.min) / (spec.max - spec.min)) * spec.bins);
}

/** A custodian's partial aggregate over its own values (non-finite values are ignored). */
export function partialOf(values: Iterable<number>, spec: HistogramSpec): Partial {
  checkHistogramSpec(spec);
  let count = 0;
  let sum = 0;
  let sumOfSquares = 0;
  let min: number | null = null;
  let max: number | null = null;
  let outside = 0;
  const histogram = new Array<number>(spec.bins).fill(0);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (++count > VALUES_MAX) throw new AnalyticsError(`more than ${VALUES_MAX} values in one dataset`);
    sum += v;
    sumOfSquares += v * v;
    min = min === null ? v : Math.min(min, v);
    max = max === null ? v : Math.max(max, v);
    const bin = binOf(v, spec);
    if (bin === null) outside += 1;
    else histogram[bin] = (histogram[bin] ?? 0) + 1;
  }
  return { count, sum, sumOfSquares, min, max, histogram, outside };
}

export function combine(partials: readonly Partial[], spec: HistogramSpec): Partial {
  checkHistogramSpec(spec);
  const histogram = new Array<number>(spec.bins).fill(0);
  let count = 0;
  let sum = 0;
  let sumOfSquares = 0;
  let outside = 0;
  let min: number | null = null;
  let max: number | null = null;
  for (const p of partials) {
    if (p.histogram.length !== spec.bins) throw new AnalyticsError(`a partial has ${p.histogram.length} bins, expected ${spec.bins}`);
    count += p.count;
    sum += p.sum;
    sumOfSquares += p.sumOfSquares;
    outside += p.outside;
    if (p.min !== null) min = min === null ? p.min : Math.min(min, p.min);
    if (p.max !== null) max = max === null ? p.max : Math.max(max, p.max);
    p.histogram.forEach((c, i) => (histogram[i] = (histogram[i] ?? 0) + c));
  }
  return { count, sum, sumOfSquares, min, max, histogram, outside };
}

export interface Statistics {
  /** True when the cohort is smaller than the minimum: every figure below is withheld. */
  readonly suppressed: boolean;
  readonly minCohort: number;
  readonly count: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly mean: number | null;
  /** Sample standard deviation (n − 1). */
  readonly stdDev: number | null;
  /** Bins with fewer than minCohort members are null ("< minCohort"). */
  readonly histogram: ReadonlyArray<{ readonly from: number; readonly to: number; readonly count: number | null }>;
}

/** Final statistics from a combined partial, with small-cell suppression. */
export function finalize(total: Partial, spec: HistogramSpec, minCohort: number): Statistics {
  if (!Number.isInteger(minCohort) || minCohort < 1) throw new AnalyticsError(`minimum cohort size must be a positive integer, got ${minCohort}`);
  const width = (spec.max - spec.min) / spec.bins;
  const edges = total.histogram.map((_, i) => ({ from: spec.min + i * width, to: i === spec.bins - 1 ? spec.max : spec.min + (i + 1) * width }));
  if (total.count < minCohort) {
    return { suppressed: true, minCohort, count: null, min: null, max: null, mean: null, stdDev: null, histogram: edges.map((e) => ({ ...e, count: null })) };
  }
  const mean = total.sum / total.count;
  const variance = total.count > 1 ? Math.max(0, (total.sumOfSquares - total.count * mean * mean) / (total.count - 1)) : 0;
  return {
    suppressed: false,
    minCohort,
    count: total.count,
    min: total.min,
    max: total.max,
    mean,
    stdDev: Math.sqrt(variance),
    histogram: edges.map((e, i) => {
      const c = total.histogram[i] ?? 0;
      // Zero is not a small cell: it discloses no individual.
      return { ...e, count: c === 0 || c >= minCohort ? c : null };
    }),
  };
}
