import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AnalyticsError,
  binEdges,
  cellOf,
  combine,
  disclosureProblem,
  effectiveMinCohort,
  exactAggregateOf,
  finalize,
  releasePartial,
  STATISTICS_MIN_COHORT_FLOOR,
  type BinRange,
  type HistogramSpec,
  type ReleasedPartial,
  type Statistics,
} from './aggregate.ts';

const FLOOR = STATISTICS_MIN_COHORT_FLOOR;

/** Each custodian releases its partial, the requesting node combines and finalizes: what the API answers. */
function pipeline(datasets: readonly (readonly number[])[], spec: HistogramSpec, threshold: number): { partials: ReleasedPartial[]; result: Statistics } {
  const partials = datasets.map((d) => releasePartial(exactAggregateOf(d, spec), threshold));
  return { partials, result: finalize(combine(partials, spec, threshold), spec, threshold) };
}

/** A result's cells as one vector: [under, bins…, over]. */
function cellsOf(r: Statistics): Array<number | null> {
  return [r.under, ...r.histogram.map((b) => b.count), r.over];
}

/** The index of the cell a released extreme names (under = 0, bins 1..n, over = n + 1). */
function indexOfRange(r: Statistics, bin: BinRange | null): number | null {
  if (bin === null) return null;
  if (bin.from === null) return 0;
  if (bin.to === null) return r.histogram.length + 1;
  const i = r.histogram.findIndex((b) => b.from === bin.from && b.to === bin.to);
  assert.ok(i >= 0, `extreme ${JSON.stringify(bin)} is one of the bins`);
  return i + 1;
}

/**
 * What someone holding the released figures can derive, worked out here from first principles
 * (not with the code under test): a withheld cell is known when it lies beyond a released extreme,
 * when the withheld cells hold nobody in total, or when it is the only one left to hold the
 * withheld total. Asserts that no withheld cell that holds someone can be derived, and that the
 * withheld total — itself derivable by subtraction — is not a small group.
 */
function assertNothingSmallDerivable(
  released: ReadonlyArray<number | null>,
  count: number,
  lowest: number | null,
  highest: number | null,
  truth: readonly number[],
  threshold: number,
  what: string,
): void {
  const withheldTotal = count - released.reduce<number>((a, c) => a + (c ?? 0), 0);
  assert.ok(withheldTotal === 0 || withheldTotal >= threshold, `${what}: the withheld cells hold ${withheldTotal} in total, a group under ${threshold}`);
  const unknown = released.flatMap((c, i) => (c === null && !(lowest !== null && i < lowest) && !(highest !== null && i > highest) ? [i] : []));
  released.forEach((c, i) => {
    if (c !== null) return;
    const derivable = withheldTotal === 0 || !unknown.includes(i) || unknown.length === 1;
    if (truth[i]! > 0)
      assert.ok(!derivable, `${what}: withheld cell ${i} (holding ${truth[i]}) can be derived: total ${withheldTotal} over cells ${JSON.stringify(unknown)}`);
  });
}

const spec: HistogramSpec = { min: 0, max: 200, bins: 10 };

const specArb = fc
  .record({
    min: fc.integer({ min: -20, max: 160 }),
    span: fc.oneof(fc.integer({ min: 1, max: 120 }), fc.double({ min: 0.5, max: 120, noNaN: true })),
    bins: fc.integer({ min: 1, max: 40 }),
  })
  .map(({ min, span, bins }): HistogramSpec => ({ min, max: min + span, bins }));
// Values cluster (blood-pressure like) with outliers, and repeat, so released and withheld cells both occur.
const valueArb = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: 100, max: 170 }) },
  { weight: 1, arbitrary: fc.integer({ min: -60, max: 320 }) },
  { weight: 1, arbitrary: fc.constantFrom(100, 120, 140) },
);
const datasetsArb = fc.array(fc.array(valueArb, { maxLength: 80 }), { minLength: 1, maxLength: 4 });
/** The caller's minCohort (maybe absent, maybe under the floor) and the datasets' owners' minimums. */
const thresholdArb = fc.record({
  requested: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
  owners: fc.array(fc.integer({ min: FLOOR, max: 12 }), { maxLength: 4 }),
});

describe('statistical disclosure control (decision 1163)', () => {
  it('property: for any query accepted, no released cell is under the threshold, no withheld non-empty cell is derivable, and released figures are true', () => {
    fc.assert(
      fc.property(datasetsArb, specArb, thresholdArb, (datasets, s, t) => {
        const threshold = effectiveMinCohort([t.requested, ...t.owners]);
        assert.ok(
          threshold >= FLOOR && threshold >= (t.requested ?? 0) && t.owners.every((m) => threshold >= m),
          'a caller can raise the threshold, never lower it',
        );
        const { partials, result } = pipeline(datasets, s, threshold);
        const pooled = datasets.flat();
        const truth = exactAggregateOf(pooled, s).cells;

        // What each custodian hands the requesting node obeys the rule on its own.
        partials.forEach((p, d) => {
          const own = exactAggregateOf(datasets[d]!, s);
          if (p.count === null) {
            assert.ok(own.count < threshold);
            assert.ok(p.cells.every((c) => c === null) && p.sum === null && p.lowestCell === null);
            return;
          }
          assert.ok(
            p.cells.every((c) => c === null || c >= threshold),
            `partial ${d}: a cell under ${threshold}`,
          );
          p.cells.forEach((c, i) => {
            if (c !== null) assert.equal(c, own.cells[i]);
          });
          assertNothingSmallDerivable(p.cells, p.count, p.lowestCell, p.highestCell, own.cells, threshold, `partial ${d}`);
        });

        assert.equal(disclosureProblem(result, { minCohort: threshold, spec: s }), null, "the contract's check accepts what the nodes release");
        const cells = cellsOf(result);
        for (const c of [...cells, result.count]) assert.ok(c === null || c >= threshold, `released ${c} under ${threshold}`);
        const anyDatasetSmall = datasets.some((d) => d.length < threshold);
        assert.equal(result.suppressed, pooled.length < threshold || anyDatasetSmall);
        if (result.suppressed) {
          assert.ok(cells.every((c) => c === null) && result.mean === null && result.minBin === null && result.maxBin === null);
          return;
        }
        assert.equal(result.count, pooled.length);
        cells.forEach((c, i) => {
          if (c !== null) assert.equal(c, truth[i], `cell ${i} is true`);
        });
        const mean = pooled.reduce((a, b) => a + b, 0) / pooled.length;
        assert.ok(Math.abs(result.mean! - mean) < 1e-6 * Math.max(1, Math.abs(mean)));
        const low = indexOfRange(result, result.minBin);
        const high = indexOfRange(result, result.maxBin);
        if (low !== null) assert.equal(low, cellOf(Math.min(...pooled), s), 'minBin holds the minimum');
        if (high !== null) assert.equal(high, cellOf(Math.max(...pooled), s), 'maxBin holds the maximum');
        for (const i of [low, high]) if (i !== null) assert.ok(cells[i]! >= threshold, 'an extreme is released only as a bin of at least the threshold');
        assertNothingSmallDerivable(cells, result.count!, low, high, truth, threshold, 'result');
      }),
      { numRuns: 400 },
    );
  });

  it('property: differencing two requests over overlapping dataset sets isolates no small group', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(valueArb, { maxLength: 60 }), { minLength: 3, maxLength: 3 }),
        specArb,
        fc.integer({ min: FLOOR, max: 9 }),
        ([a, b, c], s, threshold) => {
          const without = pipeline([a!, b!], s, threshold).result;
          const withC = pipeline([a!, b!, c!], s, threshold).result;
          if (without.suppressed || withC.suppressed) return;
          assert.ok(withC.count! - without.count! >= threshold, 'the added dataset is itself a cohort of at least the threshold');
          const x = cellsOf(without);
          const y = cellsOf(withC);
          x.forEach((cx, i) => {
            const cy = y[i];
            if (cx === null || cy === null || cy === undefined) return;
            const difference = cy - cx;
            assert.ok(difference === 0 || difference >= threshold, `cell ${i}: ${cy} − ${cx} = ${difference} isolates a small group of the added dataset`);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the probe of issue 16: 22 values, minCohort 1, 70 bins of width 1 — no value can be read back, no raw extreme', () => {
    const values = [108, 115, 118, 119, 119, 121, 123, 132, 134, 137, 138, 139, 140, 140, 143, 148, 151, 160, 160, 161, 162, 164];
    const probe: HistogramSpec = { min: 100, max: 170, bins: 70 };
    const threshold = effectiveMinCohort([1]);
    assert.equal(threshold, FLOOR);
    const { partials, result } = pipeline([values], probe, threshold);
    assert.ok(
      cellsOf(result).every((c) => c === null),
      'every cell of width 1 is withheld',
    );
    assert.ok(partials[0]!.cells.every((c) => c === null));
    assert.deepEqual({ n: result.count, min: result.minBin, max: result.maxBin }, { n: 22, min: null, max: null });
    // Coarse bins: released where each holds at least 5, the extremes only as such bins.
    const coarse = pipeline([values], { min: 100, max: 170, bins: 3 }, threshold).result;
    assert.deepEqual(
      coarse.histogram.map((b) => b.count),
      [7, 8, 7],
    );
    assert.deepEqual({ min: coarse.minBin, max: coarse.maxBin }, { min: { from: 100, to: 100 + 70 / 3 }, max: { from: 100 + 140 / 3, to: 170 } });
  });

  it('complementary suppression: a single small cell is not left recoverable from the total', () => {
    const s3: HistogramSpec = { min: 0, max: 30, bins: 3 };
    // bins: 5, 1, 12 — withholding only the 1 would leave it as count − released.
    const r = pipeline([[...Array<number>(5).fill(5), 15, ...Array<number>(12).fill(25)]], s3, 5).result;
    assert.deepEqual(
      r.histogram.map((b) => b.count),
      [null, null, 12],
      'the smallest released cell (5) is withheld too',
    );
    assert.deepEqual({ under: r.under, over: r.over, count: r.count }, { under: null, over: null, count: 18 });
    assert.equal(r.minBin, null, 'the lowest bin is withheld, so is the minimum');
    assert.deepEqual(r.maxBin, { from: 20, to: 30 });
    // Nothing small anywhere: the withheld cells are known to be empty, which describes no one.
    const full = pipeline([[...Array<number>(6).fill(5), ...Array<number>(7).fill(15)]], { min: 0, max: 20, bins: 2 }, 5).result;
    assert.deepEqual(
      { h: full.histogram.map((b) => b.count), u: full.under, o: full.over, min: full.minBin, max: full.maxBin },
      { h: [6, 7], u: null, o: null, min: { from: 0, to: 10 }, max: { from: 10, to: 20 } },
    );
  });

  it('a dataset under the threshold withholds everything, so the pooled result is suppressed', () => {
    const { partials, result } = pipeline([[...Array<number>(20).fill(50)], [60, 70]], spec, 5);
    assert.equal(partials[1]!.count, null);
    assert.equal(result.suppressed, true);
    assert.equal(disclosureProblem(result, { minCohort: 5, spec }), null);
  });

  it('the check refuses results that break the rule, naming why', () => {
    const edges = binEdges({ min: 80, max: 200, bins: 4 });
    const base: Statistics = {
      suppressed: false,
      minCohort: 5,
      count: 80,
      mean: 130,
      stdDev: 15,
      minBin: null,
      maxBin: null,
      under: null,
      over: null,
      histogram: edges.map((e, i) => ({ ...e, count: [10, 50, null, null][i]! })),
    };
    const s4 = { min: 80, max: 200, bins: 4 };
    assert.equal(disclosureProblem(base, { minCohort: 5, spec: s4 }), null);
    const withCell = (i: number, count: number | null): Statistics => ({ ...base, histogram: base.histogram.map((b, j) => (j === i ? { ...b, count } : b)) });
    assert.match(disclosureProblem(withCell(2, 3), { minCohort: 5 })!, /smaller than the minimum cohort 5 \(3 in bin 2\)/);
    // One withheld cell left: count − released = 3 recovers it (the old contract test's "valid" result).
    assert.match(disclosureProblem(withCell(2, 17), { minCohort: 5 })!, /could be derived/);
    assert.match(disclosureProblem({ ...base, under: 0 }, { minCohort: 5 })!, /under-range/);
    assert.match(disclosureProblem({ ...base, minCohort: 1, histogram: base.histogram.map((b) => ({ ...b, count: 1 })) })!, /below the consortium floor/);
    assert.match(disclosureProblem(base, { minCohort: 8 })!, /differs from the request's 8/);
    assert.match(disclosureProblem(base, { spec: { ...s4, bins: 5 } })!, /asked for 5/);
    assert.match(disclosureProblem(base, { spec: { ...s4, max: 201 } })!, /edges differ/);
    assert.match(disclosureProblem({ ...base, minBin: { from: edges[2]!.from, to: edges[2]!.to } })!, /minBin names a withheld cell/);
    assert.match(disclosureProblem({ ...base, minBin: { from: edges[1]!.from, to: edges[1]!.to } })!, /below minBin/);
    assert.match(disclosureProblem({ ...base, maxBin: { from: 1, to: 2 } })!, /not one of the result's cells/);
    // minBin at bin 1 makes under and bin 0 known: 20 withheld over bins 2–3 and over is fine; over bins 2 only is not.
    const pinned: Statistics = {
      ...base,
      histogram: base.histogram.map((b, j) => ({ ...b, count: [null, 50, null, 10][j]! })),
      minBin: { ...edges[1]! },
      maxBin: { ...edges[3]! },
    };
    assert.match(disclosureProblem(pinned)!, /over 1 cell/);
    assert.match(disclosureProblem({ ...base, suppressed: true })!, /must withhold every figure/);
    assert.match(disclosureProblem({ ...base, count: 4 })!, /cohort smaller/);
  });

  it("refuses thresholds under the floor and partials that break the request's threshold", () => {
    assert.equal(effectiveMinCohort([]), FLOOR);
    assert.equal(effectiveMinCohort([1, undefined, null]), FLOOR);
    assert.equal(effectiveMinCohort([7, 12, 5]), 12);
    assert.throws(() => finalize(combine([], spec, 5), spec, 4), /consortium floor/);
    assert.throws(() => releasePartial(exactAggregateOf([1, 2, 3], spec), 1), /consortium floor/);
    const p = releasePartial(exactAggregateOf(Array<number>(10).fill(50), spec), 5);
    assert.throws(() => combine([p], spec, 6), /applied the minimum cohort 5, below the request's 6/);
    assert.throws(() => combine([{ ...p, cells: p.cells.map((c, i) => (i === 1 ? 2 : c)) }], spec, 5), /under its own minimum cohort/);
    assert.throws(() => combine([{ ...p, count: 3 }], spec, 5), /more than its count/);
    assert.throws(() => combine([p], { ...spec, bins: 3 }, 5), /expected 5/);
    assert.equal(p.lowestCell, 3, 'the value 50 is in bin 2 (cell 3)');
    assert.throws(() => combine([{ ...p, lowestCell: 2 }], spec, 5), /names an extreme cell that is withheld/);
    assert.throws(
      () => combine([{ ...p, highestCell: 2, lowestCell: 2, cells: p.cells.map((c, i) => (i === 2 ? 5 : c)), count: 15 }], spec, 5),
      /released cells beyond it/,
    );
  });

  it('rejects bad specifications with a clear error', () => {
    assert.throws(() => exactAggregateOf([1], { min: 5, max: 5, bins: 3 }), AnalyticsError);
    assert.throws(() => exactAggregateOf([1], { min: -1e308, max: 1e308, bins: 3 }), /finite width/);
    assert.throws(() => exactAggregateOf([1], { min: 0, max: 5, bins: 0 }), /bins must be/);
  });
});
