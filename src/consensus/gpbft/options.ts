// gpbft engine options (EngineContext.options), validated the way every engine's are
// (consensus/options.ts). Defaults follow paper 002 where it gives one (α = β = 0.5).
import { z } from 'zod';
import { DECIDED_BLOCKS_RETAINED_DEFAULT } from '../decided-chain.ts';
import { parseEngineOptions } from '../options.ts';
import { MEMBERS_MAX, type RatingAuthority } from './config.ts';

const coordinate = z.object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) }).strict();

export const gpbftOptionsSchema = z
  .object({
    /** Latitude/longitude per node id; nodes without one get a deterministic synthetic position. */
    coordinates: z.record(z.string(), coordinate).optional(),
    /** Comprehensive rating vi per node id, 0–100 (higher is better). */
    ratings: z.record(z.string(), z.number().min(0).max(100)).optional(),
    alpha: z.number().min(0).max(1).default(0.5),
    beta: z.number().min(0).max(1).default(0.5),
    /** Number of groups m (k); default ≈ √n, capped so that every group has ≥ 3·fPerGroup+1 nodes. */
    groups: z.number().int().min(1).max(MEMBERS_MAX).optional(),
    /** Byzantine members each group must tolerate (n > 3f): sets the smallest group size. */
    fPerGroup: z.number().int().min(0).max(100).default(1),
    /** The period T, in decided blocks: regroup and re-rank every periodBlocks blocks. */
    periodBlocks: z.number().int().min(1).max(1_000_000).default(100),
    /** A hospital whose rating falls below this is removed from the consortium. */
    ratingThreshold: z.number().min(0).max(100).default(0),
    /** Ticks without progress (while work is pending) before a view change. */
    viewTimeoutTicks: z.number().int().min(2).max(100_000).default(20),
    /** The view timeout doubles after each failed view, up to 2^this (the same rule as every BFT engine: consensus/backoff.ts). */
    viewChangeBackoffMax: z.number().int().min(0).max(16).default(5),
    /** Every syncTicks a node compares heights with one random peer (catch-up). */
    syncTicks: z.number().int().min(1).max(100_000).default(40),
    /**
     * Decided blocks the engine keeps to serve catch-up (older ones come from the node's chain,
     * EngineContext.archive).
     */
    retainBlocks: z.number().int().min(1).max(1_000_000).default(DECIDED_BLOCKS_RETAINED_DEFAULT),
    /** Seeds the random centres of Algorithm 1 (mixed with the period number). */
    groupingSeed: z.number().int().min(0).max(0xffff_ffff).default(1),
    /**
     * How ratings are authenticated (decision 1281): given by the node (X.509 against its MSP),
     * never by a configuration file. Absent: the deterministic stand-in (the rater's node key).
     */
    ratingAuthority: z
      .custom<RatingAuthority>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          typeof (v as RatingAuthority).authentic === 'function' &&
          typeof (v as RatingAuthority).authorised === 'function',
        { message: 'must be an object with authentic(op) and authorised(op) functions' },
      )
      .optional(),
  })
  .strict();

export type GpbftOptions = z.output<typeof gpbftOptionsSchema>;

export function parseGpbftOptions(raw: unknown): GpbftOptions {
  return parseEngineOptions('gpbft', gpbftOptionsSchema, raw, (o) =>
    Math.abs(o.alpha + o.beta - 1) < 1e-9 ? null : `alpha + beta must equal 1 (alpha ${o.alpha}, beta ${o.beta})`,
  );
}
