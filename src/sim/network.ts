// The simulated network between node identities: per-link latency ranges, loss, duplication,
// optional reordering, symmetric partitions and one-way cuts, all healable. Pure and seeded:
// `route()` consumes the injected RNG in a fixed order, so a seed replays the same deliveries.
import type { NodeId, Rng } from '../consensus/engine.ts';

export interface NetworkConfig {
  readonly latencyMs: { readonly min: number; readonly max: number };
  readonly lossRate: number;
  readonly duplicateRate: number;
  readonly reorder: boolean;
}

export const DEFAULT_NETWORK: NetworkConfig = {
  latencyMs: { min: 1, max: 20 },
  lossRate: 0,
  duplicateRate: 0,
  reorder: true,
};

export type DropReason = 'loss' | 'partition' | 'cut';

export interface Route {
  /** Virtual delivery times (one, or two when duplicated); empty when dropped. */
  readonly deliverAtMs: readonly number[];
  readonly dropped: DropReason | null;
}

interface Link {
  readonly loMs: number;
  readonly hiMs: number;
  /** Latest scheduled delivery (FIFO mode keeps deliveries in send order). */
  lastDeliverAtMs: number;
}

/** Probabilities above this would make liveness meaningless; reject them at the edge. */
export const LOSS_RATE_MAX = 0.9;

export class SimNetwork {
  private readonly links = new Map<string, Link>();
  private partitionOf: Map<NodeId, number> | null = null;
  private readonly cuts = new Set<string>();
  private extraLossRate = 0;
  private extraDuplicateRate = 0;

  constructor(
    readonly nodes: readonly NodeId[],
    private readonly rng: Rng,
    readonly config: NetworkConfig = DEFAULT_NETWORK,
  ) {
    const { min, max } = config.latencyMs;
    if (!(min >= 0 && max >= min && Number.isFinite(max))) throw new RangeError(`network latency range must satisfy 0 <= min <= max, got ${min}..${max}`);
    checkRate('lossRate', config.lossRate);
    checkRate('duplicateRate', config.duplicateRate);
    // Each directed link gets its own range inside [min, max], drawn in a fixed order: a
    // cross-continent link and a same-rack link in one cluster.
    for (const from of nodes) {
      for (const to of nodes) {
        const a = min + rng.nextFloat() * (max - min);
        const b = min + rng.nextFloat() * (max - min);
        this.links.set(linkKey(from, to), { loMs: Math.min(a, b), hiMs: Math.max(a, b), lastDeliverAtMs: 0 });
      }
    }
  }

  /** Split the nodes into groups that cannot talk to each other (null = no partition). */
  setPartition(groups: ReadonlyArray<readonly NodeId[]> | null): void {
    if (groups === null) {
      this.partitionOf = null;
      return;
    }
    const of = new Map<NodeId, number>();
    groups.forEach((g, i) => g.forEach((n) => of.set(n, i)));
    this.partitionOf = of;
  }

  /** One-way cut: messages from → to are dropped, to → from still flow. */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(linkKey(from, to));
  }

  uncut(from: NodeId, to: NodeId): void {
    this.cuts.delete(linkKey(from, to));
  }

  setExtraLossRate(rate: number): void {
    checkRate('extra loss rate', rate);
    this.extraLossRate = rate;
  }

  setExtraDuplicateRate(rate: number): void {
    checkRate('extra duplicate rate', rate);
    this.extraDuplicateRate = rate;
  }

  /** Remove every injected network fault (the base loss/duplication rates stay). */
  healAll(): void {
    this.partitionOf = null;
    this.cuts.clear();
    this.extraLossRate = 0;
    this.extraDuplicateRate = 0;
  }

  /** Why from → to is down right now, or null when the link is up. */
  linkDown(from: NodeId, to: NodeId): 'partition' | 'cut' | null {
    if (from === to) return null;
    if (this.partitionOf) {
      const a = this.partitionOf.get(from);
      const b = this.partitionOf.get(to);
      // A node missing from every group is isolated.
      if (a === undefined || b === undefined || a !== b) return 'partition';
    }
    if (this.cuts.has(linkKey(from, to))) return 'cut';
    return null;
  }

  /** Decide the fate of one message sent at nowMs. */
  route(from: NodeId, to: NodeId, nowMs: number): Route {
    const down = this.linkDown(from, to);
    if (down) return { deliverAtMs: [], dropped: down };
    const link = this.links.get(linkKey(from, to));
    if (!link) return { deliverAtMs: [], dropped: 'partition' };
    // Always draw the same number of random values per message so that a change of one rate does
    // not shift every later draw (keeps replays and comparisons between runs stable).
    const lossDraw = this.rng.nextFloat();
    const dupDraw = this.rng.nextFloat();
    const latency1 = this.latency(link);
    const latency2 = this.latency(link);
    const lossRate = Math.min(LOSS_RATE_MAX, this.config.lossRate + this.extraLossRate);
    if (from !== to && lossDraw < lossRate) return { deliverAtMs: [], dropped: 'loss' };
    const times = [this.schedule(link, nowMs + latency1)];
    const duplicateRate = Math.min(LOSS_RATE_MAX, this.config.duplicateRate + this.extraDuplicateRate);
    if (from !== to && dupDraw < duplicateRate) times.push(this.schedule(link, nowMs + latency2));
    return { deliverAtMs: times, dropped: null };
  }

  private latency(link: Link): number {
    return link.loMs + this.rng.nextFloat() * (link.hiMs - link.loMs);
  }

  private schedule(link: Link, atMs: number): number {
    if (this.config.reorder) return atMs;
    const t = Math.max(atMs, link.lastDeliverAtMs);
    link.lastDeliverAtMs = t;
    return t;
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}

function checkRate(name: string, rate: number): void {
  if (!(rate >= 0 && rate <= LOSS_RATE_MAX)) throw new RangeError(`${name} must be in [0, ${LOSS_RATE_MAX}], got ${rate}`);
}
