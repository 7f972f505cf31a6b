// What a node's API accepts at most: bodies, requests in flight (per node, organisation and user),
// request rates, event streams, and the endorsement back-off and hedge (decisions 1004, 1006).
import type { NodeConfig } from '../node/config.ts';

export interface ApiServerLimits {
  /**
   * Requests not yet authenticated (body being received, signature being checked), node-wide;
   * beyond it: 429. /v1/health and /openapi.json count here for their whole life.
   */
  readonly unauthenticatedInFlightMax: number;
  /** Authenticated requests being handled at once, node-wide (event streams excluded); beyond it: 429. */
  readonly inFlightMax: number;
  /** ... of the users of one organisation together; beyond it: 429 (decision 1004). */
  readonly inFlightPerOrgMax: number;
  /** ... of one user (organisation + id, whatever certificate); beyond it: 429 (decision 1004). */
  readonly inFlightPerUserMax: number;
  /** Per client certificate: sustained requests per second and burst (token bucket); beyond it: 429. */
  readonly ratePerSecond: number;
  readonly rateBurst: number;
  /** Open Server-Sent Events streams; beyond it: 503. */
  readonly eventStreamsMax: number;
  /** ... of one organisation's users together, and of one user; beyond either: 429. */
  readonly eventStreamsPerOrgMax: number;
  readonly eventStreamsPerUserMax: number;
  /** A stream whose client does not read is closed once this much is buffered for it. */
  readonly eventStreamBufferBytesMax: number;
  readonly eventStreamHeartbeatMs: number;
  /** Orgs whose peer was unreachable are skipped for endorsement this long. */
  readonly endorserBackoffMs: number;
  /** An endorser still silent after this long gets a spare asked beside it (hedging). */
  readonly endorseHedgeAfterMs: number;
}

export const DEFAULT_API_LIMITS: ApiServerLimits = {
  unauthenticatedInFlightMax: 512,
  inFlightMax: 512,
  inFlightPerOrgMax: 256,
  // The SDK keeps up to 64 connections to a node: one client at full stretch is not refused.
  inFlightPerUserMax: 64,
  ratePerSecond: 2000,
  rateBurst: 4000,
  eventStreamsMax: 64,
  eventStreamsPerOrgMax: 32,
  eventStreamsPerUserMax: 8,
  eventStreamBufferBytesMax: 8 * 1024 * 1024,
  eventStreamHeartbeatMs: 15_000,
  endorserBackoffMs: 5_000,
  // Above the p99 of a loaded consortium on this machine (~0.7 s), so hedging adds work only
  // when an endorser is really stuck (a partition that has not closed the connection yet).
  endorseHedgeAfterMs: 1_000,
};

/** The limits a node's configuration sets (node.yaml `limits.api*`); the rest keep their defaults. */
export function apiLimitsOf(config: Pick<NodeConfig, 'limits'>): Partial<ApiServerLimits> {
  const l = config.limits;
  return {
    ...(l.apiInFlightMax !== undefined ? { inFlightMax: l.apiInFlightMax } : {}),
    ...(l.apiInFlightPerOrgMax !== undefined ? { inFlightPerOrgMax: l.apiInFlightPerOrgMax } : {}),
    ...(l.apiInFlightPerUserMax !== undefined ? { inFlightPerUserMax: l.apiInFlightPerUserMax } : {}),
  };
}
