// The consortium configuration the grouped two-layer PBFT runs on (paper 002 §2.2): who the
// hospitals are, where they are, how they are rated, how they are grouped, who is barred from the
// primary role, and the period T. It is a pure function of the engine options and of the decided
// history (control proposals and equivocation evidence in decided blocks), so every correct node
// holds the same configuration at the same height. Stored as plain data (it goes into the head
// record and is DAG-CBOR encoded), recomputed by `applyBlockToConfig`.
import { z } from 'zod';
import { decode, hashValue, sha256, encode, type Bytes } from '../../codec/index.ts';
import { assertInvariant, type NodeId } from '../engine.ts';
import { byzantineFaults, byzantineQuorum } from '../quorum.ts';
import { SeededRng } from '../rng.ts';
import type { GpbftOptions } from './options.ts';
import { distanceGrouping, groupCountFor, groupForNewcomer, groupSizeMin, rankGroup, type GeoNode } from './geo.ts';

/** Proposals whose clientId starts with this are configuration changes (join, leave, rate). */
export const CONTROL_CLIENT_PREFIX = 'gpbft:';
/**
 * The reserved client of the orderer-set steps the engine orders itself when the driver moves it
 * toward a new member set (Engine.reconfigure, decision 1280): one join or remove per entry, seq =
 * the number of such entries decided so far + 1, so every member queues the same entry.
 */
export const MEMBERSHIP_CLIENT_ID = `${CONTROL_CLIENT_PREFIX}membership`;
export const MEMBERS_MAX = 1024;

/**
 * A deterministic position for a node without configured coordinates: spread over Hainan island
 * (lat 18.2–20.1, lon 108.6–111.0), where the paper's hospitals are. Simulated clusters use this.
 */
export function syntheticCoordinate(id: NodeId): { lat: number; lon: number } {
  const h = sha256(`gpbft-position:${id}`);
  const u = (i: number): number => ((h[i]! << 8) | h[i + 1]!) / 65536;
  return { lat: 18.2 + 1.9 * u(0), lon: 108.6 + 2.4 * u(2) };
}

/** A deterministic rating 60–100 for a node without a configured one. */
export function syntheticRating(id: NodeId): number {
  return 60 + (sha256(`gpbft-rating:${id}`)[0]! % 41);
}

export interface MemberInfo {
  readonly id: NodeId;
  readonly lat: number;
  readonly lon: number;
  readonly rating: number;
}

export interface ConsortiumConfig {
  /** Period number (Algorithm 1 reruns at every period boundary). */
  readonly period: number;
  readonly members: readonly MemberInfo[];
  /** Nodes caught equivocating: never primary again. */
  readonly barred: readonly NodeId[];
  /** Group membership (ids), from Algorithm 1 plus joins and leaves since. */
  readonly groups: readonly (readonly NodeId[])[];
  /** Per group: the primary ranking (Eqs. 4–5), barred nodes excluded (unless all are barred). */
  readonly rankings: readonly (readonly NodeId[])[];
  /**
   * Hospitals removed by the paper's own rules (their signed leave, a rating below the threshold):
   * the driver's target may still list them, but reconfigure does not join them again (decision
   * 1280). Absent in heads persisted before it existed.
   */
  readonly departed?: readonly NodeId[];
}

export interface ConfigParams {
  readonly alpha: number;
  readonly beta: number;
  readonly groups?: number;
  readonly fPerGroup: number;
  readonly ratingThreshold: number;
  readonly groupingSeed: number;
}

function geoNodes(members: readonly MemberInfo[]): GeoNode[] {
  return members.map((m) => ({ id: m.id, lat: m.lat, lon: m.lon }));
}

function rank(groups: readonly (readonly NodeId[])[], members: readonly MemberInfo[], barred: readonly NodeId[], p: ConfigParams): NodeId[][] {
  const byId = new Map(members.map((m) => [m.id, m]));
  const ratings = new Map(members.map((m) => [m.id, m.rating]));
  const barredSet = new Set(barred);
  return groups.map((g) => {
    const ranked = rankGroup(geoNodes(g.map((id) => byId.get(id)!)), ratings, p.alpha, p.beta).map((r) => r.id);
    const eligible = ranked.filter((id) => !barredSet.has(id));
    // A group whose members are all barred still needs someone to propose; liveness over purity.
    return eligible.length > 0 ? eligible : ranked;
  });
}

/** Run Algorithm 1 for `period` (its random centres are seeded by groupingSeed, period and salt). */
export function regroup(
  members: readonly MemberInfo[],
  barred: readonly NodeId[],
  period: number,
  p: ConfigParams,
  salt = 0,
  departed: readonly NodeId[] = [],
): ConsortiumConfig {
  assertInvariant(members.length >= 1, 'a consortium has at least one member');
  const sizeMin = groupSizeMin(p.fPerGroup);
  const count = groupCountFor(members.length, sizeMin, p.groups);
  const seedBytes = hashValue({ s: p.groupingSeed, p: period, x: salt });
  const seed = ((seedBytes[0]! << 24) | (seedBytes[1]! << 16) | (seedBytes[2]! << 8) | seedBytes[3]!) >>> 0;
  const groups = distanceGrouping(geoNodes(members), count, new SeededRng(seed)).map((g) => g.map((n) => n.id));
  return { period, members, barred, groups, rankings: rank(groups, members, barred, p), ...(departed.length > 0 ? { departed } : {}) };
}

/**
 * Every node of a cluster computes the same initial configuration; Algorithm 1 and the rankings
 * cost O(n²) distances, so the (immutable) result is memoised per (members, options).
 */
const initialConfigMemo = new Map<string, ConsortiumConfig>();
const INITIAL_CONFIG_MEMO_MAX = 16;

export function initialConfig(memberIds: readonly NodeId[], opts: GpbftOptions): ConsortiumConfig {
  const key = JSON.stringify([memberIds, opts]);
  const hit = initialConfigMemo.get(key);
  if (hit) return hit;
  const config = computeInitialConfig(memberIds, opts);
  if (initialConfigMemo.size >= INITIAL_CONFIG_MEMO_MAX) initialConfigMemo.delete(initialConfigMemo.keys().next().value!);
  initialConfigMemo.set(key, config);
  return config;
}

function computeInitialConfig(memberIds: readonly NodeId[], opts: GpbftOptions): ConsortiumConfig {
  const members = memberIds.map((id) => {
    const c = opts.coordinates?.[id] ?? syntheticCoordinate(id);
    return { id, lat: c.lat, lon: c.lon, rating: opts.ratings?.[id] ?? syntheticRating(id) };
  });
  return regroup(members, [], 0, opts);
}

/** ⌈(n + f + 1)/2⌉ with f = ⌊(n−1)/3⌋ (consensus/quorum.ts): any two share a correct node. */
export function quorum(n: number): number {
  return byzantineQuorum(n);
}

export function faultsOf(n: number): number {
  return byzantineFaults(n);
}

export function groupOf(config: ConsortiumConfig, id: NodeId): number {
  return config.groups.findIndex((g) => g.includes(id));
}

/** The primary of every group in `view`: each group's ranking, rotated down by the view number. */
export function primariesFor(config: ConsortiumConfig, view: number): NodeId[] {
  return config.rankings.map((r) => r[view % r.length]!);
}

/**
 * Who votes in layer 2 of `view` — sends prepare2 and commit2, and signs the bundle certificate of
 * the block it decides: the primary of every group; when the consortium is a single group, every
 * member of it (decision 1399). With one group the paper's layer 2 has one voter, the head: it
 * decides alone, so a view change cannot start without its own report (decision 0604's rule) and
 * a crashed head stalls ordering until it returns. With the group voting, layer 2 is PBFT among
 * the group, which tolerates f = ⌊(n − 1)/3⌋ of it.
 */
export function layer2VotersFor(config: ConsortiumConfig, view: number): readonly NodeId[] {
  return config.groups.length === 1 ? config.groups[0]! : primariesFor(config, view);
}

/** The primary that sequences the second layer in `view` (round-robin over the groups). */
export function headFor(config: ConsortiumConfig, view: number): NodeId {
  const primaries = primariesFor(config, view);
  return primaries[view % primaries.length]!;
}

/** Views after which the primary set repeats (lcm of the ranking lengths), capped. */
export const ROTATION_WINDOW_MAX = 4096;
export function rotationWindow(config: ConsortiumConfig): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let l = 1;
  for (const r of config.rankings) {
    l = (l * r.length) / gcd(l, r.length);
    if (l >= ROTATION_WINDOW_MAX) return ROTATION_WINDOW_MAX;
  }
  return l;
}

/**
 * How many of a view's layer-2 voters (`voters` of them: the k primaries P(w), or a single group's
 * members) a view change must hear from so that it meets, in a correct node, every commit quorum
 * (q2 of them) of that view: voters − q2 + f2 + 1.
 */
export function viewChangeNeed(voters: number): number {
  return voters - quorum(voters) + faultsOf(voters) + 1;
}

// ---- Node update (paper §2.2.2 step 4): control operations decided in blocks ----

export type ControlOp =
  | { readonly op: 'join'; readonly id: NodeId; readonly lat: number; readonly lon: number; readonly rating: number }
  | { readonly op: 'leave'; readonly id: NodeId; readonly signature: Bytes }
  | RateOp
  /** The consortium's configuration no longer lists the orderer (a config update): Engine.reconfigure's step. */
  | { readonly op: 'remove'; readonly id: NodeId };

/**
 * Who rated, and the proof (decision 1281): an admin of organisation `org` with common name
 * `admin` signed rateSignedBytes(consortium, id, rating, nonce) with the key of `cert` (PEM, UTF-8).
 * The entry is ordered as (rateClientId(org, admin), seq = nonce), so the engine's decided-request
 * window (a pure function of the chain, bounded) refuses a replay of the same signed rating.
 */
export interface RatingAuth {
  readonly org: string;
  readonly admin: string;
  readonly nonce: number;
  readonly cert: Bytes;
  readonly signature: Bytes;
  /**
   * The signed form (decision 1387). 2: the signature names the consortium (its genesis block
   * hash), so it cannot be replayed in another consortium; the consortium is not carried, each
   * node verifies against its own. Absent: decision 1281's form (no consortium), kept only so that
   * ratings decided before 1387 apply alike on replay; no member votes for a new one.
   */
  readonly v?: typeof RATING_SIGNED_FORM;
}

/** The signed form of a rating members vote for (RatingAuth.v, decision 1387). */
export const RATING_SIGNED_FORM = 2 as const;

/**
 * The consortium the simulator's stand-in authority (no genesis block, no X.509) signs and checks
 * ratings for: the empty byte string. A node uses its genesis block hash (node/gpbft-rating.ts).
 */
export const STAND_IN_CONSORTIUM: Bytes = new Uint8Array(0);

/** A rating of orderer `id` (0–100). `by` is absent only in entries ordered before decision 1281: ignored when applied. */
export interface RateOp {
  readonly op: 'rate';
  readonly id: NodeId;
  readonly rating: number;
  readonly by?: RatingAuth;
}

/** The reserved client a rating by `org`/`admin` is ordered under (the chain names who rated). */
export function rateClientId(org: string, admin: string): string {
  return `${CONTROL_CLIENT_PREFIX}rate/${org}/${admin}`;
}

/**
 * What the rating admin signs (decision 1387): the operation, the consortium (its genesis block
 * hash), the rated orderer, the rating and the nonce (its seq; the SDK uses its clock in ms). Who
 * signed is the key's owner: the certificate names the organisation and admin, and members check
 * that they are the entry's client. Naming the consortium keeps an admin whose certificate is
 * valid in two consortia from having a rating replayed in the other one.
 */
export function rateSignedBytes(r: { readonly consortium: Bytes; readonly id: NodeId; readonly rating: number; readonly nonce: number }): Bytes {
  return encode({ s: 'gpbft-rate/2', consortium: r.consortium, id: r.id, rating: r.rating, nonce: r.nonce });
}

/** Decision 1281's signed bytes (no consortium): only to apply, on replay, ratings decided before decision 1387. */
export function legacyRateSignedBytes(r: { readonly id: NodeId; readonly rating: number; readonly nonce: number }): Bytes {
  return encode({ s: 'gpbft-rate', id: r.id, rating: r.rating, nonce: r.nonce });
}

/** The bytes a rating's signature covers, by its signed form: `consortium` is the verifying node's own. */
export function ratingSignedBytesOf(op: RateOp & { readonly by: RatingAuth }, consortium: Bytes): Bytes {
  const r = { id: op.id, rating: op.rating, nonce: op.by.nonce };
  return op.by.v === RATING_SIGNED_FORM ? rateSignedBytes({ consortium, ...r }) : legacyRateSignedBytes(r);
}

/**
 * How members authenticate a rating (decision 1281), injected by the driver (engine option
 * `ratingAuthority`): the node checks X.509 certificates against its MSP, which an engine — a pure
 * state machine — does not do. Without it the engine uses its deterministic stand-in (the
 * simulator's): the rating organisation is a member node id whose node key signed the rating.
 */
export interface RatingAuthority {
  /**
   * At apply, on every node: a pure function of the operation's bytes and the consortium (no
   * clock, no MSP state), so every correct node applies or ignores a decided rating alike: `cert`
   * names `org`, `admin` and the admin role, and `signature` verifies under its key over
   * ratingSignedBytesOf(op, this consortium) — either signed form, so that a chain holding
   * ratings decided before decision 1387 replays alike.
   */
  authentic(op: RateOp & { readonly by: RatingAuth }): boolean;
  /**
   * Before voting for a batch holding it: the certificate is valid now in the MSP of the config in
   * force (chain to `org`'s CA, validity, revocation), `org` is a member organisation, the rated
   * orderer belongs to another organisation, the nonce is fresh, and it is of the signed form
   * that names the consortium (v 2, decision 1387; the engine checks that too). May differ between
   * nodes (config in force, clock): it only decides whether this node votes.
   */
  authorised(op: RateOp & { readonly by: RatingAuth }): boolean;
}

const ratingAuthSchema = z
  .object({
    org: z.string().min(1).max(256),
    admin: z.string().min(1).max(256),
    nonce: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    cert: z.instanceof(Uint8Array).refine((b) => b.byteLength <= 16_384, 'certificate too large'),
    signature: z.instanceof(Uint8Array).refine((b) => b.byteLength <= 512, 'signature too large'),
    v: z.literal(RATING_SIGNED_FORM).optional(),
  })
  .strict();

const controlSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('join'),
      id: z.string().min(1).max(256),
      lat: z.number().min(-90).max(90),
      lon: z.number().min(-180).max(180),
      rating: z.number().min(0).max(100),
    })
    .strict(),
  z.object({ op: z.literal('leave'), id: z.string().min(1).max(256), signature: z.instanceof(Uint8Array) }).strict(),
  z.object({ op: z.literal('rate'), id: z.string().min(1).max(256), rating: z.number().min(0).max(100), by: ratingAuthSchema.optional() }).strict(),
  z.object({ op: z.literal('remove'), id: z.string().min(1).max(256) }).strict(),
]);

/**
 * Whether a proposal holding a rating is bound to its evidence: it carries `by`, and is ordered
 * under the rater's client with seq = the signed nonce (so the decided-request window refuses the
 * same signed rating twice, and a proposer cannot re-wrap it under a fresh seq).
 */
export function ratingBound(p: { readonly clientId: string; readonly seq: number }, op: RateOp): op is RateOp & { readonly by: RatingAuth } {
  return op.by !== undefined && p.clientId === rateClientId(op.by.org, op.by.admin) && p.seq === op.by.nonce;
}

export function encodeControl(op: ControlOp): Bytes {
  return encode(op);
}

/** Parse a control proposal's data; null when it is not a valid control operation. */
export function decodeControl(data: Bytes): ControlOp | null {
  try {
    const parsed = controlSchema.safeParse(decode(data));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The orderer-set step a proposal is (an entry of MEMBERSHIP_CLIENT_ID), or null. */
export function membershipStepOf(p: { readonly clientId: string; readonly data: Bytes }): { op: 'join' | 'remove'; id: NodeId } | null {
  if (p.clientId !== MEMBERSHIP_CLIENT_ID) return null;
  const op = decodeControl(p.data);
  return op !== null && (op.op === 'join' || op.op === 'remove') ? { op: op.op, id: op.id } : null;
}

/** What a leaving hospital signs: its quit request to its primary (verified before it is decided). */
export function leaveSignedBytes(id: NodeId): Bytes {
  return encode({ s: 'gpbft-leave', id });
}

export interface ConfigEffects {
  /** Ids verified to have signed their quit request (the caller checks signatures). */
  readonly leaveVerified: (op: Extract<ControlOp, { op: 'leave' }>) => boolean;
}

/**
 * The configuration after a decided block at `height`: control operations in order, barred
 * nodes from verified evidence, regrouping when a group became too small, and a full regroup at
 * every period boundary. Deterministic: same inputs, same output on every node.
 */
export function applyBlockToConfig(
  config: ConsortiumConfig,
  height: number,
  ops: readonly ControlOp[],
  newlyBarred: readonly NodeId[],
  periodBlocks: number,
  p: ConfigParams,
  effects: ConfigEffects,
): ConsortiumConfig {
  let members = [...config.members];
  let groups = config.groups.map((g) => [...g]);
  let barred = [...config.barred];
  let departed = [...(config.departed ?? [])];
  let changed = false;
  let shrunk = false;
  const remove = (id: NodeId, byOwnRules: boolean): void => {
    if (members.length <= 1 || !members.some((m) => m.id === id)) return;
    members = members.filter((m) => m.id !== id);
    groups = groups.map((g) => g.filter((x) => x !== id)).filter((g) => g.length > 0);
    if (byOwnRules && !departed.includes(id)) departed.push(id);
    changed = true;
    shrunk = true;
  };
  for (const op of ops) {
    if (op.op === 'join') {
      if (members.some((m) => m.id === op.id) || members.length >= MEMBERS_MAX || op.rating < p.ratingThreshold) continue;
      if (departed.includes(op.id)) {
        // Admitted again (a control client's join): no longer departed.
        departed = departed.filter((id) => id !== op.id);
      }
      members.push({ id: op.id, lat: op.lat, lon: op.lon, rating: op.rating });
      // The newcomer joins the group with the smallest md; blocks are decided one at a time, so
      // that group has no request in flight when the block that admits it is applied ("idle").
      const byId = new Map(members.map((m) => [m.id, m]));
      const k = groupForNewcomer(
        op,
        groups.map((g) => geoNodes(g.map((id) => byId.get(id)!))),
      );
      groups[k]!.push(op.id);
      changed = true;
    } else if (op.op === 'leave') {
      if (effects.leaveVerified(op)) remove(op.id, true);
    } else if (op.op === 'remove') {
      remove(op.id, false);
    } else {
      const i = members.findIndex((m) => m.id === op.id);
      if (i < 0) continue;
      members[i] = { ...members[i]!, rating: op.rating };
      changed = true;
      if (op.rating < p.ratingThreshold) remove(op.id, true);
    }
  }
  for (const id of newlyBarred) {
    if (!barred.includes(id) && members.some((m) => m.id === id)) {
      barred.push(id);
      changed = true;
    }
  }
  barred = barred.filter((id) => members.some((m) => m.id === id));
  if (height % periodBlocks === 0) return regroup(members, barred, config.period + 1, p, 0, departed);
  const sizeMin = groupSizeMin(p.fPerGroup);
  if (shrunk && groups.length > 1 && groups.some((g) => g.length < sizeMin)) return regroup(members, barred, config.period, p, height, departed);
  if (!changed) return config;
  return {
    period: config.period,
    members,
    barred,
    groups,
    rankings: rank(groups, members, barred, p),
    ...(departed.length > 0 ? { departed } : {}),
  };
}
