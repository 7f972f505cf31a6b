// Geography for the grouped two-layer PBFT (paper 002, Chang et al. 2022, §2.1–2.2):
// great-circle distances, the Distance grouping (Algorithm 1), the mean distance md (Eq. 2),
// the standard deviation sd (Eq. 3) and the primary ranking T = md·α + vi·β (Eqs. 4–5).
// Everything here is a pure function of its inputs (and of the seeded Rng for the random
// centres), so every node computes the same groups and rankings from the same configuration.
// Distances are integer metres: a float computed by Math.sin/cos can differ in its last bit
// between platforms, a rounded metre count does not in practice, and ties (which the paper
// breaks by sd) become meaningful.
import { assertInvariant, type NodeId, type Rng } from '../engine.ts';

export interface GeoPoint {
  /** Degrees, −90…90. */
  readonly lat: number;
  /** Degrees, −180…180. */
  readonly lon: number;
}

export interface GeoNode extends GeoPoint {
  readonly id: NodeId;
}

const EARTH_RADIUS_M = 6_371_008.8;

/** Great-circle (haversine) distance in whole metres. */
export function distanceMetres(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return Math.round(2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h))));
}

/** md(j, G) (Eq. 2): mean distance from `node` to the members of `group` other than itself. */
export function meanDistance(node: GeoPoint & { id?: NodeId }, group: readonly GeoNode[]): number {
  const others = group.filter((g) => g.id !== node.id);
  if (others.length === 0) return 0;
  let sum = 0;
  for (const o of others) sum += distanceMetres(node, o);
  return sum / others.length;
}

/**
 * sd(j, G) (Eq. 3): population standard deviation of the distances from `node` to the members
 * of `group` (other than itself). The extracted Eq. 3 divides by |U|; we divide by the number
 * of distances averaged, which is what a standard deviation around md(j, G) means (decision 0601).
 */
export function distanceStdDev(node: GeoPoint & { id?: NodeId }, group: readonly GeoNode[]): number {
  const others = group.filter((g) => g.id !== node.id);
  if (others.length === 0) return 0;
  const md = meanDistance(node, others);
  let sum = 0;
  for (const o of others) sum += (distanceMetres(node, o) - md) ** 2;
  return Math.sqrt(sum / others.length);
}

/** The smallest group that tolerates `fPerGroup` Byzantine members: n > 3f. */
export function groupSizeMin(fPerGroup: number): number {
  return 3 * fPerGroup + 1;
}

/** How many groups `requested` (or the default) can be with every group of at least sizeMin nodes. */
export function groupCountFor(nodeCount: number, sizeMin: number, requested?: number): number {
  const most = Math.max(1, Math.floor(nodeCount / Math.max(1, sizeMin)));
  // Default: about √n groups, which minimises (1+2n/k)(n/k−1) + (k−1)(2k+1) (Table 2).
  const wanted = requested ?? Math.max(1, Math.round(Math.sqrt(nodeCount)));
  return Math.max(1, Math.min(wanted, most));
}

/**
 * The paper gives two radii: Eq. 1 divides the centre's distances by |U| (the centre counted, at
 * distance 0), Algorithm 1 line 5 by |U| − 1. The engine follows line 5 (decision 0601); 'eq1'
 * exists so the lab can show what the other reading groups.
 */
export type RadiusRule = 'line5' | 'eq1';

export function radiusOf(sumOfDistances: number, others: number, rule: RadiusRule): number {
  if (others === 0) return 0;
  return sumOfDistances / (rule === 'eq1' ? others + 1 : others);
}

/**
 * Algorithm 1 (Distance). For i = 1..m: pick a random centre c from the ungrouped set U, set the
 * threshold radius R to the mean distance from c to the rest of U (line 5), and add to G_i, in
 * U's order, every node closer than R while !enough(i) (lines 6–9). Then each remaining node,
 * in U's order, joins the not-yet-enough group with the smallest md, ties by the smallest sd
 * (lines 11–14), then by group index.
 *
 * enough(i) (left open by the paper, which only requires n > 3f for every group): a group has
 * "enough" at ⌊N/m⌋ nodes while any group is below ⌊N/m⌋, and at ⌊N/m⌋+1 after that. Every
 * group therefore ends with ⌊N/m⌋ or ⌈N/m⌉ nodes, which is ≥ 3f+1 whenever m ≤ ⌊N/(3f+1)⌋
 * (decision 0601).
 */
export function distanceGrouping(nodes: readonly GeoNode[], groupCount: number, rng: Rng, radiusRule: RadiusRule = 'line5'): GeoNode[][] {
  const total = nodes.length;
  assertInvariant(total >= 1, 'grouping needs at least one node');
  assertInvariant(Number.isSafeInteger(groupCount) && groupCount >= 1 && groupCount <= total, 'group count in 1..nodes');
  assertInvariant(new Set(nodes.map((n) => n.id)).size === total, 'node ids are distinct');
  const base = Math.floor(total / groupCount);
  let ungrouped = [...nodes];
  const groups: GeoNode[][] = [];
  for (let i = 0; i < groupCount; i++) {
    const centre = ungrouped[rng.nextInt(ungrouped.length)]!;
    const group: GeoNode[] = [centre];
    const rest = ungrouped.filter((n) => n.id !== centre.id);
    let sum = 0;
    for (const j of rest) sum += distanceMetres(centre, j);
    const radius = radiusOf(sum, rest.length, radiusRule);
    for (const j of rest) {
      if (group.length >= base) break; // enough(i)
      if (distanceMetres(centre, j) < radius) group.push(j);
    }
    const taken = new Set(group.map((g) => g.id));
    ungrouped = ungrouped.filter((n) => !taken.has(n.id));
    groups.push(group);
  }
  for (const node of ungrouped) {
    const target = groups.some((g) => g.length < base) ? base : base + 1;
    let best = -1;
    let bestMd = Infinity;
    let bestSd = Infinity;
    for (let k = 0; k < groups.length; k++) {
      const g = groups[k]!;
      if (g.length >= target) continue; // enough(k)
      const md = meanDistance(node, g);
      const sd = distanceStdDev(node, g);
      if (md < bestMd || (md === bestMd && sd < bestSd)) {
        best = k;
        bestMd = md;
        bestSd = sd;
      }
    }
    assertInvariant(best >= 0, 'some group still has room');
    groups[best]!.push(node);
  }
  assertInvariant(groups.reduce((s, g) => s + g.length, 0) === total, 'every node is in exactly one group');
  return groups;
}

export interface RankedNode {
  readonly id: NodeId;
  /** T by Eq. 4 (lower ranks first). */
  readonly t: number;
  /** T by Eq. 5 (sd instead of md), the tie-break. */
  readonly tSd: number;
  readonly md: number;
  readonly sd: number;
}

/**
 * Primary election inside a group (Eqs. 4–5): T = α·md + β·vi, α + β = 1. md and vi have
 * different units, so both are normalised to [0, 1] and oriented so that lower is better:
 * md / (largest md in the group), and 1 − rating/100 for the comprehensive rating vi ∈ [0, 100]
 * (a better-rated hospital ranks first). Ties on T use Eq. 5 (sd for md), then the node id.
 * Returns the group's members from first to last in the primary ranking (decision 0602).
 */
export function rankGroup(group: readonly GeoNode[], ratings: ReadonlyMap<NodeId, number>, alpha: number, beta: number): RankedNode[] {
  const rows = group.map((n) => ({ id: n.id, md: meanDistance(n, group), sd: distanceStdDev(n, group), vi: ratings.get(n.id) ?? 0 }));
  const mdMax = Math.max(1, ...rows.map((r) => r.md));
  const sdMax = Math.max(1, ...rows.map((r) => r.sd));
  const ranked = rows.map((r) => {
    const penalty = 1 - Math.min(100, Math.max(0, r.vi)) / 100;
    return { id: r.id, md: r.md, sd: r.sd, t: alpha * (r.md / mdMax) + beta * penalty, tSd: alpha * (r.sd / sdMax) + beta * penalty };
  });
  ranked.sort((a, b) => a.t - b.t || a.tSd - b.tSd || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return ranked;
}

/** Node update, join: the group (index) with the smallest md to the newcomer, ties by sd, then index. */
export function groupForNewcomer(node: GeoPoint, groups: readonly (readonly GeoNode[])[]): number {
  let best = 0;
  let bestMd = Infinity;
  let bestSd = Infinity;
  groups.forEach((g, k) => {
    const md = meanDistance(node, g);
    const sd = distanceStdDev(node, g);
    if (md < bestMd || (md === bestMd && sd < bestSd)) {
      best = k;
      bestMd = md;
      bestSd = sd;
    }
  });
  return best;
}
