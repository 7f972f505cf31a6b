// EH-BFT membership epochs (issue 12 item 4; decision 1290): the orderer set of an EH-BFT
// consortium changes through the ledger's config transactions, one member at a time.
//
// EH-BFT decides one block at a time (a node votes at height h + 1 only once it decided h), so
// the switch point needs no pipeline rule as PBFT's does: the leader proposes a *membership
// block* — no proposals, the next member list in its metadata (`Meta.members`, covered by the
// metadata digest every vote signs) — and the block that carries it is the last one of its
// epoch. Every correct node decides the same block at that height (agreement), so every one
// switches there: from the next height on, n, f, the quorum, the reputation book and the leader
// order are those of the new list. Signatures are bound to the epoch of the height they speak
// about, so no vote of one epoch counts in another.
import { singleStep } from '../membership.ts';
import { encode, type Bytes } from '../../codec/index.ts';
import type { NodeId } from '../engine.ts';

/** Bound on a member list (wire validation and persisted history). */
export const MEMBERS_MAX = 1024;
/** Epochs remembered (for signatures of the heights they decided, and certificate fields). */
export const EPOCH_HISTORY_MAX = 256;
const EPOCH_DOMAIN = 'medledger/ehbft/epoch/v1';

/** One membership epoch: its number, the first height it decides, its members. */
export interface EpochRecord {
  readonly number: number;
  readonly start: number;
  readonly members: readonly NodeId[];
}

/** Signing bytes bound to an epoch: epoch 0 keeps the original bytes (chains before any change). */
export function epochBound(epochNumber: number, bytes: Bytes): Bytes {
  return epochNumber === 0 ? bytes : encode([EPOCH_DOMAIN, epochNumber, bytes]);
}

// The member-list rules every engine with runtime membership shares (consensus/membership.ts),
// under the names this engine's code uses.
export { sameMemberList as sameMembers, sameMemberSet as sameSet, nextMemberStep as nextMembershipStep } from '../membership.ts';

/** Whether `next` is one step from `current`: one new member appended, or one member removed (order kept, never empty). */
export function isOneStep(current: readonly NodeId[], next: readonly NodeId[]): boolean {
  return singleStep(current, next) !== null;
}
