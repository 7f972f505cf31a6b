// The fault schedule of a run, drawn from the seed before the run starts, within the engine's
// fault model: at no time are more than `crashMax` nodes crashed, and crashed + Byzantine never
// exceeds f unless the caller asked for it explicitly. Partitions, one-way cuts, loss and
// duplication bursts, slow nodes and clock drift do not make a node faulty (they heal), so they
// are not counted against f. At `durationMs` everything heals (crashed nodes restart) and the
// liveness phase begins. The rendered schedule is what a failing run prints.
import type { NodeId, Rng } from '../consensus/engine.ts';
import type { ResolvedOptions } from './options.ts';

export type ByzantineBehaviour = 'equivocate' | 'withhold' | 'replay' | 'forge' | 'mutate' | 'twins' | 'conceal';
export const BYZANTINE_BEHAVIOURS: readonly ByzantineBehaviour[] = ['equivocate', 'withhold', 'replay', 'forge', 'mutate', 'twins', 'conceal'];

export type FaultAction =
  | { readonly kind: 'byzantine'; readonly node: NodeId; readonly behaviours: readonly ByzantineBehaviour[] }
  /** `scripted`: from SimOptions.schedule — permanent (the heal leaves it down); node may be '@leader' / '@any'. */
  | { readonly kind: 'crash'; readonly node: NodeId; readonly scripted?: boolean }
  | { readonly kind: 'restart'; readonly node: NodeId; readonly scripted?: boolean }
  | { readonly kind: 'partition'; readonly groups: readonly (readonly NodeId[])[] }
  | { readonly kind: 'heal-partition' }
  | { readonly kind: 'cut'; readonly from: NodeId; readonly to: NodeId }
  | { readonly kind: 'uncut'; readonly from: NodeId; readonly to: NodeId }
  /** Extra loss / duplication probability on every link (0 ends the burst). */
  | { readonly kind: 'loss'; readonly rate: number }
  | { readonly kind: 'duplicate'; readonly rate: number }
  /** Slow node: its ticks and its message processing take `factor` times longer (1 ends it). */
  | { readonly kind: 'slow'; readonly node: NodeId; readonly factor: number }
  /** Clock drift: its ticks come at 1/factor the nominal rate (1 ends it). */
  | { readonly kind: 'drift'; readonly node: NodeId; readonly factor: number }
  | { readonly kind: 'heal-all' };

export interface TimedFault {
  readonly atMs: number;
  readonly action: FaultAction;
}

export interface FaultPlan {
  readonly byzantine: readonly NodeId[];
  readonly crashMax: number;
  readonly actions: readonly TimedFault[];
}

type Generated = 'crash' | 'partition' | 'cut' | 'loss' | 'duplicate' | 'slow' | 'drift';

function kindsFor(mode: ResolvedOptions['faults']): Generated[] {
  switch (mode) {
    case 'none':
    case 'byzantine':
      return [];
    case 'crash':
      return ['crash', 'crash', 'slow', 'drift'];
    case 'partition':
      return ['partition', 'partition', 'cut', 'loss', 'duplicate', 'slow', 'drift'];
    case 'all':
      return ['crash', 'crash', 'partition', 'cut', 'loss', 'duplicate', 'slow', 'drift'];
  }
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[rng.nextInt(items.length)];
  if (item === undefined) throw new RangeError('pick from an empty list');
  return item;
}

function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export function planFaults(o: ResolvedOptions, ids: readonly NodeId[], rng: Rng): FaultPlan {
  const hooks = o.def.byzantine !== undefined;
  let byzantineCount = 0;
  if (o.def.faultModel === 'byzantine') {
    if (o.faults === 'byzantine') byzantineCount = o.byzantine ?? o.f;
    else if (o.faults === 'all') byzantineCount = o.byzantine ?? rng.nextInt(o.f + 1);
  }
  const byzantine = shuffled(rng, ids).slice(0, byzantineCount).sort();
  const crashMax = o.faults === 'crash' || o.faults === 'all' ? (o.crashMax ?? Math.max(0, o.f - byzantineCount)) : 0;
  const actions: TimedFault[] = [];

  for (const node of byzantine) {
    const available = BYZANTINE_BEHAVIOURS.filter((b) => b !== 'conceal' && (hooks || (b !== 'equivocate' && b !== 'mutate')));
    let behaviours = available.filter((b) => rng.nextFloat() < (b === 'twins' ? 0.25 : 0.5));
    if (behaviours.length === 0) behaviours = [pick(rng, available)];
    actions.push({ atMs: 0, action: { kind: 'byzantine', node, behaviours } });
  }

  const kinds = kindsFor(o.faults);
  const correct = ids.filter((id) => !byzantine.includes(id));
  if (kinds.length > 0) {
    const d = o.durationMs;
    const meanGapMs = Math.max(d / 8, 20);
    const period = (): number => Math.max(1, Math.round(d * (0.05 + rng.nextFloat() * 0.3)));
    // State while generating, so that generated actions are consistent (restart only a crashed
    // node, heal only an active partition…).
    const crashedUntil = new Map<NodeId, number>();
    let partitionUntil = -1;
    let lossUntil = -1;
    let duplicateUntil = -1;
    const slowUntil = new Map<NodeId, number>();
    const cutUntil = new Map<string, number>();
    let t = Math.round(rng.nextFloat() * meanGapMs);
    while (t < d) {
      for (const [node, until] of crashedUntil) if (until <= t) crashedUntil.delete(node);
      const kind = pick(rng, kinds);
      if (kind === 'crash') {
        const candidates = correct.filter((id) => !crashedUntil.has(id));
        if (crashedUntil.size < crashMax && candidates.length > 0) {
          const node = pick(rng, candidates);
          const until = t + period();
          crashedUntil.set(node, until);
          actions.push({ atMs: t, action: { kind: 'crash', node } });
          if (until < d) actions.push({ atMs: until, action: { kind: 'restart', node } });
        }
      } else if (kind === 'partition') {
        if (partitionUntil <= t && ids.length > 1) {
          const order = shuffled(rng, ids);
          const cutAt = 1 + rng.nextInt(ids.length - 1);
          const groups = [order.slice(0, cutAt).sort(), order.slice(cutAt).sort()];
          partitionUntil = t + period();
          actions.push({ atMs: t, action: { kind: 'partition', groups } });
          if (partitionUntil < d) actions.push({ atMs: partitionUntil, action: { kind: 'heal-partition' } });
        }
      } else if (kind === 'cut') {
        if (ids.length > 1) {
          const from = pick(rng, ids);
          const to = pick(
            rng,
            ids.filter((id) => id !== from),
          );
          const key = `${from}->${to}`;
          if ((cutUntil.get(key) ?? -1) <= t) {
            const until = t + period();
            cutUntil.set(key, until);
            actions.push({ atMs: t, action: { kind: 'cut', from, to } });
            if (until < d) actions.push({ atMs: until, action: { kind: 'uncut', from, to } });
          }
        }
      } else if (kind === 'loss' || kind === 'duplicate') {
        const until = kind === 'loss' ? lossUntil : duplicateUntil;
        if (until <= t) {
          const rate = round2(kind === 'loss' ? 0.05 + rng.nextFloat() * 0.35 : 0.05 + rng.nextFloat() * 0.25);
          const end = t + period();
          if (kind === 'loss') lossUntil = end;
          else duplicateUntil = end;
          actions.push({ atMs: t, action: { kind, rate } });
          if (end < d) actions.push({ atMs: end, action: { kind, rate: 0 } });
        }
      } else if (kind === 'slow') {
        const node = pick(rng, ids);
        if ((slowUntil.get(node) ?? -1) <= t) {
          const until = t + period();
          slowUntil.set(node, until);
          actions.push({ atMs: t, action: { kind: 'slow', node, factor: round2(2 + rng.nextFloat() * 8) } });
          if (until < d) actions.push({ atMs: until, action: { kind: 'slow', node, factor: 1 } });
        }
      } else {
        // Clock drift lasts until the heal: a node whose clock runs at 0.5x–2x.
        const node = pick(rng, ids);
        actions.push({ atMs: t, action: { kind: 'drift', node, factor: round2(0.5 + rng.nextFloat() * 1.5) } });
      }
      t += Math.max(1, Math.round(meanGapMs * (0.2 + rng.nextFloat() * 1.6)));
    }
  }
  for (const s of o.schedule) actions.push({ atMs: s.atMs, action: { kind: s.action, node: s.node, scripted: true } });
  actions.push({ atMs: o.durationMs, action: { kind: 'heal-all' } });
  // 'conceal' (decisions 1394, 1395) is drawn last, and only for an engine whose messages carry
  // unsigned data backing a signed statement (its hook says so): every other draw, so the rest of
  // each seed's schedule, stays what it was (the runs lab reports and tests pin by seed).
  if (o.def.byzantine?.conceal !== undefined) {
    for (const [i, a] of actions.entries()) {
      if (a.action.kind === 'byzantine' && rng.nextFloat() < 0.5)
        actions[i] = { ...a, action: { ...a.action, behaviours: [...a.action.behaviours, 'conceal'] } };
    }
  }
  // Stable sort by time: generation order breaks ties, so the same seed gives the same order.
  actions.sort((a, b) => a.atMs - b.atMs);
  return { byzantine, crashMax, actions };
}

export function describeFault(f: TimedFault): string {
  const a = f.action;
  const at = `t=${f.atMs}ms`;
  switch (a.kind) {
    case 'byzantine':
      return `${at} byzantine ${a.node} [${a.behaviours.join(', ')}]`;
    case 'crash':
    case 'restart':
      return `${at} ${a.kind} ${a.node}${a.scripted ? (a.kind === 'crash' ? ' (scripted: permanent, the heal does not restart it)' : ' (scripted)') : ''}`;
    case 'partition':
      return `${at} partition ${a.groups.map((g) => `{${g.join(',')}}`).join(' | ')}`;
    case 'heal-partition':
      return `${at} heal partition`;
    case 'cut':
      return `${at} cut ${a.from} -> ${a.to} (one-way)`;
    case 'uncut':
      return `${at} uncut ${a.from} -> ${a.to}`;
    case 'loss':
      return a.rate === 0 ? `${at} loss burst ends` : `${at} loss burst ${a.rate}`;
    case 'duplicate':
      return a.rate === 0 ? `${at} duplication burst ends` : `${at} duplication burst ${a.rate}`;
    case 'slow':
      return a.factor === 1 ? `${at} ${a.node} no longer slow` : `${at} slow ${a.node} x${a.factor}`;
    case 'drift':
      return `${at} clock drift ${a.node} x${a.factor}`;
    case 'heal-all':
      return `${at} heal all (restart crashed nodes but the scripted ones, end partitions, cuts, bursts, slowness, drift); liveness phase`;
  }
}
