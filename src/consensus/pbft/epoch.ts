// PBFT membership epochs (issue 12 item 4; decision 1270): the orderer set of a PBFT consortium
// changes through the ledger's config transactions, the engine moving one member at a time.
//
// The driver tells every replica, on every tick, the orderer set of the config in force
// (Engine.reconfigure). The primary orders a *membership entry* — a proposal under a reserved
// client id, seq = the next epoch number, data = the next member list — alone in its batch. A
// backup prepares it only when it is exactly the one-member step from the current members toward
// its own target (so a Byzantine primary can order nothing but a configuration the ledgers of f + 1
// correct replicas already have in force). Executing it at sequence number s ends the epoch:
//   - the entry is delivered as a dropped proposal (the block at s is empty of it, its certificate
//     lists it, like a de-duplicated request), so the ledger never sees it;
//   - every replica of the new member list installs s as the epoch's start checkpoint and changes
//     view into the new membership (new n, f, quorum from consensus/quorum.ts);
//   - nothing of the old epoch above s can have committed (the in-order commit rule in engine.ts),
//     so everything above s is discarded and re-proposed in the new epoch;
//   - signatures on the agreement messages (request, pre-prepare, prepare, commit, view change,
//     new view) are bound to the epoch number, so no vote of one epoch counts in another, and a
//     removed replica's messages are refused as a non-member's.
// A replica outside the member list (a joiner) sends STATUS to its target and installs the state
// a checkpoint proof of its target or f + 1 matching members vouch for; the state carries the
// epoch, so it knows the members it joins.
import { decode, encode, type Bytes } from '../../codec/index.ts';
import type { NodeId, Proposal } from '../engine.ts';

/** The reserved client id of membership entries: clients may not use it. */
export const MEMBERSHIP_CLIENT_ID = 'pbft/membership';
/** Bound on a member list (DAG-CBOR decoding of an entry or a state). */
export const MEMBERS_MAX = 1024;
const EPOCH_DOMAIN = 'medledger/pbft/epoch/v1';

export interface EpochInfo {
  /** 0 for the genesis membership; +1 at each executed membership entry. */
  readonly number: number;
  readonly members: readonly NodeId[];
  /** The first sequence number ordered by this membership. */
  readonly startSeq: number;
  /** Block digest at startSeq − 1 (the epoch's start checkpoint). */
  readonly startBlockDigest: Bytes;
  /** State digest at startSeq − 1; null inside the start state itself (it cannot hash itself). */
  readonly startStateDigest: Bytes | null;
}

// The member-list rules every engine with runtime membership shares (consensus/membership.ts),
// under the names this engine's code uses.
export {
  parseMemberList as parseMembers,
  sameMemberList as sameMembers,
  sameMemberSet as sameSet,
  nextMemberStep as nextMembershipStep,
} from '../membership.ts';
import { parseMemberList as parseMembers } from '../membership.ts';

export function isMembershipEntry(p: Pick<Proposal, 'clientId'>): boolean {
  return p.clientId === MEMBERSHIP_CLIENT_ID;
}

export function membershipEntry(epochNumber: number, members: readonly NodeId[]): Proposal {
  return { clientId: MEMBERSHIP_CLIENT_ID, seq: epochNumber, data: encode([...members]) };
}

/** The member list a membership entry carries; null when malformed. */
export function entryMembers(p: Proposal): NodeId[] | null {
  try {
    return parseMembers(decode(p.data));
  } catch {
    return null;
  }
}

/** Signing bytes bound to an epoch: an epoch-0 message keeps its original bytes. */
export function epochBound(epochNumber: number, bytes: Bytes): Bytes {
  return epochNumber === 0 ? bytes : encode([EPOCH_DOMAIN, epochNumber, bytes]);
}

type DedupJson = Array<[string, number, number[]]>;
interface EpochJson {
  n: number;
  m: NodeId[];
  s: number;
  b: Bytes;
  d: Bytes | null;
}

/** The transferred engine state: the dedup window, and the epoch once it is not the genesis one. */
export function encodeState(dedup: DedupJson, epoch: EpochInfo): Bytes {
  if (epoch.number === 0) return encode(dedup);
  const e: EpochJson = { n: epoch.number, m: [...epoch.members], s: epoch.startSeq, b: epoch.startBlockDigest, d: epoch.startStateDigest };
  return encode({ dedup, epoch: e });
}

/** Split transferred state bytes into the raw dedup JSON and the epoch (null: genesis epoch). */
export function splitState(bytes: Bytes): { dedup: unknown; epoch: EpochInfo | null } | null {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    return null;
  }
  if (Array.isArray(raw)) return { dedup: raw, epoch: null };
  if (typeof raw !== 'object' || raw === null) return null;
  const { dedup, epoch } = raw as { dedup?: unknown; epoch?: Partial<EpochJson> };
  if (!epoch || typeof epoch !== 'object') return null;
  const members = parseMembers(epoch.m);
  const { n, s, b, d } = epoch;
  if (!members || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) return null;
  if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < 1) return null;
  if (!(b instanceof Uint8Array) || !(d === null || d instanceof Uint8Array)) return null;
  return { dedup, epoch: { number: n, members, startSeq: s, startBlockDigest: b, startStateDigest: d } };
}
