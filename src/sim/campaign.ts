// A campaign: many seeds of one configuration, aggregated. The CLI and scripts/sim-campaign.mjs
// use CampaignAggregator directly (to yield to the event loop between seeds for a progress bar);
// runCampaign is the synchronous library form.
import { runSimulation } from './simulator.ts';
import { SEED_MAX, SimOptionsError } from './options.ts';
import type { CampaignFailure, CampaignOptions, CampaignSummary, FaultMode, MessageStats, SimResult } from './types.ts';

/** Failing runs kept in full in a summary (the rest are listed by seed). */
export const CAMPAIGN_FAILURES_KEPT = 5;
export const CAMPAIGN_SEEDS_MAX = 10_000_000;

export class CampaignAggregator {
  private runs = 0;
  private readonly failingSeeds: number[] = [];
  private readonly failures: CampaignFailure[] = [];
  private violationCount = 0;
  private readonly messages = new Map<string, MessageStats>();
  private decidedBlocks = 0;
  private decidedProposals = 0;
  private virtualDurationMs = 0;
  private readonly earlyWrites = { started: 0, lostInCrash: 0 };
  /** Latency histogram with 1 ms buckets: bounded memory however many runs. */
  private readonly latency = new Map<number, number>();

  constructor(
    readonly engine: string,
    readonly nodes: number,
    readonly faults: FaultMode,
    readonly seedStart: number,
  ) {}

  add(r: SimResult): void {
    this.runs += 1;
    if (r.violations.length > 0) {
      this.violationCount += r.violations.length;
      this.failingSeeds.push(r.seed);
      if (this.failures.length < CAMPAIGN_FAILURES_KEPT)
        this.failures.push({ seed: r.seed, violations: r.violations, faultSchedule: r.faultSchedule, trace: r.trace });
    }
    for (const [type, s] of Object.entries(r.metrics.messagesByType)) {
      const agg = this.messages.get(type) ?? { count: 0, bytes: 0 };
      agg.count += s.count;
      agg.bytes += s.bytes;
      this.messages.set(type, agg);
    }
    this.decidedBlocks += r.metrics.decidedBlocks;
    this.decidedProposals += r.metrics.decidedProposals;
    this.virtualDurationMs += r.metrics.virtualDurationMs;
    this.earlyWrites.started += r.metrics.earlyWrites.started;
    this.earlyWrites.lostInCrash += r.metrics.earlyWrites.lostInCrash;
    for (const ms of r.latencySamplesMs) {
      const bucket = Math.round(ms);
      this.latency.set(bucket, (this.latency.get(bucket) ?? 0) + 1);
    }
  }

  summary(): CampaignSummary {
    const messagesByType: Record<string, MessageStats> = {};
    for (const type of [...this.messages.keys()].sort()) messagesByType[type] = { ...this.messages.get(type)! };
    return {
      engine: this.engine,
      nodes: this.nodes,
      faults: this.faults,
      runs: this.runs,
      seedStart: this.seedStart,
      violations: { count: this.violationCount, failingSeeds: [...this.failingSeeds] },
      failures: [...this.failures],
      messagesByType,
      decidedBlocks: this.decidedBlocks,
      decidedProposals: this.decidedProposals,
      latencyMs: { p50: this.latencyPercentile(0.5), p99: this.latencyPercentile(0.99) },
      throughputPerSecond: this.virtualDurationMs > 0 ? Math.round((this.decidedProposals * 1000 * 100) / this.virtualDurationMs) / 100 : 0,
      virtualDurationMs: Math.round(this.virtualDurationMs),
      earlyWrites: { ...this.earlyWrites },
    };
  }

  private latencyPercentile(q: number): number {
    const buckets = [...this.latency.entries()].sort((a, b) => a[0] - b[0]);
    const total = buckets.reduce((s, [, c]) => s + c, 0);
    if (total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * total));
    let seen = 0;
    for (const [ms, c] of buckets) {
      seen += c;
      if (seen >= rank) return ms;
    }
    return buckets[buckets.length - 1]![0];
  }
}

export function checkCampaignRange(seeds: number, seedStart: number): void {
  if (!Number.isSafeInteger(seeds) || seeds < 1 || seeds > CAMPAIGN_SEEDS_MAX)
    throw new SimOptionsError(`seeds must be an integer between 1 and ${CAMPAIGN_SEEDS_MAX}, got ${seeds}`);
  if (!Number.isSafeInteger(seedStart) || seedStart < 0 || seedStart + seeds - 1 > SEED_MAX) {
    throw new SimOptionsError(`seedStart must be an integer >= 0 with seedStart + seeds - 1 <= ${SEED_MAX}, got ${seedStart}`);
  }
}

export function runCampaign(o: CampaignOptions): CampaignSummary {
  const { seeds, seedStart = 0, onProgress, ...sim } = o;
  checkCampaignRange(seeds, seedStart);
  let agg: CampaignAggregator | null = null;
  for (let i = 0; i < seeds; i++) {
    const r = runSimulation({ ...sim, seed: seedStart + i });
    agg ??= new CampaignAggregator(r.engine, r.nodes, r.faults, seedStart);
    agg.add(r);
    onProgress?.(i + 1);
  }
  return agg!.summary();
}
