import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SeededRng } from '../rng.ts';
import type { Rng } from '../engine.ts';
import {
  distanceGrouping,
  distanceMetres,
  distanceStdDev,
  groupCountFor,
  groupForNewcomer,
  groupSizeMin,
  meanDistance,
  rankGroup,
  type GeoNode,
} from './geo.ts';

/** An Rng that returns scripted indices (for hand-checked examples). */
function scripted(indices: number[]): Rng {
  return {
    nextInt(max) {
      const i = indices.shift();
      assert.ok(i !== undefined && i < max, `scripted index ${String(i)} < ${max}`);
      return i;
    },
    nextFloat: () => 0,
  };
}

const node = (id: string, lat: number, lon: number): GeoNode => ({ id, lat, lon });

describe('great-circle distance', () => {
  it('matches known distances (haversine, whole metres)', () => {
    // One degree of latitude ≈ 111.2 km on a 6371 km sphere.
    assert.equal(distanceMetres({ lat: 0, lon: 0 }, { lat: 1, lon: 0 }), 111_195);
    // Haikou → Sanya (Hainan), about 200 km.
    const d = distanceMetres({ lat: 20.044, lon: 110.199 }, { lat: 18.253, lon: 109.512 });
    assert.ok(d > 200_000 && d < 215_000, `got ${d}`);
    assert.equal(distanceMetres({ lat: 10, lon: 20 }, { lat: 10, lon: 20 }), 0);
  });

  it('md and sd exclude the node itself (Eqs. 2 and 3)', () => {
    const g = [node('a', 0, 0), node('b', 1, 0), node('c', 3, 0)];
    const a = g[0]!;
    assert.equal(meanDistance(a, g), (111_195 + distanceMetres(a, g[2]!)) / 2);
    const d1 = 111_195;
    const d2 = distanceMetres(a, g[2]!);
    assert.ok(Math.abs(distanceStdDev(a, g) - Math.abs(d2 - d1) / 2) < 1e-6);
  });
});

describe('Distance grouping (Algorithm 1)', () => {
  it('hand-checked: two clusters, centres drawn first from the west cluster', () => {
    // West cluster around lon 0, east cluster around lon 10; 8 nodes, m = 2 groups of 4.
    const nodes = [
      node('w1', 0, 0),
      node('e1', 0, 10),
      node('w2', 0.1, 0),
      node('e2', 0.1, 10),
      node('w3', 0.2, 0),
      node('e3', 0.2, 10),
      node('w4', 0.3, 0),
      node('e4', 0.3, 10),
    ];
    // Round 1: centre = U[0] = w1. R = mean distance to the other 7 (≈ 4.5°); the west nodes are
    // closer than R and are added in U's order until enough (4). Round 2: U = e1..e4; centre U[2] = e3,
    // R = mean of its distances to e1, e2, e4: e2 and e4 are closer than R, e1 is not.
    // The leftover e1 joins the group with the smallest md: the east group.
    const groups = distanceGrouping(nodes, 2, scripted([0, 2]));
    assert.deepEqual(
      groups.map((g) => g.map((n) => n.id)),
      [
        ['w1', 'w2', 'w3', 'w4'],
        ['e3', 'e2', 'e4', 'e1'],
      ],
    );
  });

  it('hand-checked: a leftover node joins the group with the smallest md; an md tie goes to the smaller sd', () => {
    // Groups after phase 1 (forced with m = 2 and 5 nodes, base 2): the tie case is built so that
    // x is at equal mean distance from both groups but one group is tighter around it.
    // Along the equator d(L°) = 111 195·L m exactly for L = 1, 2, 3 after rounding.
    const a = [node('a1', 0, -2), node('a2', 0, 2)]; // distances from x: 2°, 2° → md 2°, sd 0
    const b = [node('b1', 0, 1), node('b2', 0, 3)]; // distances from x: 1°, 3° → md 2°, sd 1°
    const x = { lat: 0, lon: 0 };
    assert.equal(meanDistance(x, a), meanDistance(x, b));
    assert.equal(groupForNewcomer(x, [b, a]), 1, 'tie on md, smaller sd wins');
    assert.equal(groupForNewcomer({ lat: 0, lon: 2.5 }, [a, b]), 1, 'smaller md wins');
  });

  it('properties over random geographies: partition, sizes n > 3f, deterministic per seed', () => {
    const geo = fc.array(fc.record({ lat: fc.double({ min: -60, max: 60, noNaN: true }), lon: fc.double({ min: -179, max: 179, noNaN: true }) }), {
      minLength: 1,
      maxLength: 80,
    });
    fc.assert(
      fc.property(
        geo,
        fc.integer({ min: 0, max: 2 }),
        fc.nat(),
        fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
        (points, fPerGroup, seed, requested) => {
          const nodes = points.map((p, i) => node(`n${i}`, p.lat, p.lon));
          const sizeMin = groupSizeMin(fPerGroup);
          const m = groupCountFor(nodes.length, sizeMin, requested);
          const groups = distanceGrouping(nodes, m, new SeededRng(seed));
          assert.equal(groups.length, m);
          const all = groups
            .flat()
            .map((n) => n.id)
            .sort();
          assert.deepEqual(all, nodes.map((n) => n.id).sort(), 'every node in exactly one group');
          if (nodes.length >= sizeMin) {
            for (const g of groups) {
              const f = Math.floor((g.length - 1) / 3);
              assert.ok(g.length > 3 * f && f >= fPerGroup, `group of ${g.length} tolerates f=${fPerGroup}`);
            }
          }
          const sizes = groups.map((g) => g.length);
          assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, 'balanced by enough()');
          const again = distanceGrouping(nodes, m, new SeededRng(seed));
          assert.deepEqual(again, groups, 'same seed, same groups');
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('primary election (Eqs. 4–5)', () => {
  const group = [node('a', 0, 0), node('b', 0, 1), node('c', 0, 2), node('d', 0, 3)];
  it('with β = 0 the most central hospital (smallest md) ranks first; ties by sd, then id', () => {
    const ranked = rankGroup(group, new Map(), 1, 0).map((r) => r.id);
    // b and c share the smallest md (4/3°) and the same sd; the id breaks the tie.
    assert.deepEqual(ranked, ['b', 'c', 'a', 'd']);
  });
  it('with α = 0 the best-rated hospital ranks first', () => {
    const ratings = new Map([
      ['a', 70],
      ['b', 60],
      ['c', 65],
      ['d', 99],
    ]);
    assert.deepEqual(
      rankGroup(group, ratings, 0, 1).map((r) => r.id),
      ['d', 'a', 'c', 'b'],
    );
  });
  it('mixes both: T = α·md/md_max + β·(1 − vi/100)', () => {
    const ratings = new Map([
      ['a', 100],
      ['b', 50],
      ['c', 50],
      ['d', 50],
    ]);
    const ranked = rankGroup(group, ratings, 0.5, 0.5);
    // a: md 2° (max), rating 100 → T = .5; b: md 4/3° → .5·(2/3) + .5·.5 = .583
    assert.equal(ranked[0]!.id, 'a');
    assert.ok(Math.abs(ranked[0]!.t - 0.5) < 1e-9);
    assert.ok(Math.abs(ranked[1]!.t - (0.5 * (2 / 3) + 0.25)) < 1e-4);
  });
});
