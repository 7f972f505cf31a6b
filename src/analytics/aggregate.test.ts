import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AnalyticsError, combine, finalize, partialOf, type HistogramSpec } from './aggregate.ts';

const spec: HistogramSpec = { min: 0, max: 200, bins: 10 };

describe('federated aggregates', () => {
  it('combined partials equal statistics over the pooled raw data', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: -50, max: 250 }), { maxLength: 40 }), { minLength: 1, maxLength: 5 }), (datasets) => {
        const combined = finalize(combine(datasets.map((d) => partialOf(d, spec)), spec), spec, 1);
        const pooled = datasets.flat();
        const direct = finalize(partialOf(pooled, spec), spec, 1);
        assert.deepEqual(combined.histogram, direct.histogram);
        assert.equal(combined.count, pooled.length === 0 ? null : pooled.length);
        if (pooled.length > 0) {
          const mean = pooled.reduce((a, b) => a + b, 0) / pooled.length;
          assert.ok(Math.abs(combined.mean! - mean) < 1e-9);
          assert.equal(combined.min, Math.min(...pooled));
          assert.equal(combined.max, Math.max(...pooled));
          const sd = pooled.length > 1 ? Math.sqrt(pooled.reduce((a, v) => a + (v - mean) ** 2, 0) / (pooled.length - 1)) : 0;
          assert.ok(Math.abs(combined.stdDev! - sd) < 1e-6, `sd ${combined.stdDev} vs ${sd}`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('suppresses a cohort below the minimum and small histogram cells', () => {
    const small = finalize(partialOf([100, 110, 120], spec), spec, 5);
    assert.equal(small.suppressed, true);
    assert.equal(small.mean, null);
    assert.ok(small.histogram.every((b) => b.count === null));
    const values = [...Array(10).fill(15), 105, 106];
    const big = finalize(partialOf(values, spec), spec, 5);
    assert.equal(big.suppressed, false);
    assert.equal(big.count, 12);
    assert.equal(big.histogram[0]!.count, 10);
    assert.equal(big.histogram[5]!.count, null, 'two patients in a bin are not shown');
    assert.equal(big.histogram[9]!.count, 0);
  });

  it('rejects bad specifications with a clear error', () => {
    assert.throws(() => partialOf([1], { min: 5, max: 5, bins: 3 }), AnalyticsError);
    assert.throws(() => partialOf([1], { min: 0, max: 5, bins: 0 }), /bins must be/);
    assert.throws(() => combine([partialOf([1], spec)], { ...spec, bins: 3 }), /expected 3/);
    assert.throws(() => finalize(partialOf([1], spec), spec, 0), /minimum cohort/);
  });
});
