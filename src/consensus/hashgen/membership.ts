// Hash-generator membership changes (issue 12 item 4; decision 1295). The orderer set of a
// hashgen consortium changes through the ledger's config transactions, one generator at a time.
//
// The driver tells every node, on every tick, the orderer set of the config in force
// (Engine.reconfigure). The generator proposes a *membership entry* — a proposal under a reserved
// client id, seq = the next membership epoch number, data = the next member list — alone in its
// block. A validator validates it only when it is a single step that moves toward its own target
// (so only an orderer set the ledgers of a validation quorum already have in force is agreed).
// Deciding that block at height s ends the membership epoch, on every node at the same point of
// the agreed chain:
//   - the block is delivered empty (the entry is not a transaction); its certificate carries the
//     entry's member list (field `next`), from which anyone rebuilds the digest that was voted;
//   - generators, thresholds (paper or bft, rules.ts) and records follow the new list;
//   - every generator and candidate steps down: a block above s may only come from a generator
//     authenticated at height ≥ s by a quorum of the new list (authentication quorums of the
//     old list need not intersect validation quorums of the new one);
//   - auth votes, validations and commits are signed bound to the membership epoch number, so no
//     vote of one membership counts in another; a removed generator's messages are dropped;
//   - a node outside the list (a joiner) fetches decided blocks, checked by their certificates,
//     follows the membership entries on the way and takes part once it decides the one adding it.
import { decode, encode, type Bytes } from '../../codec/index.ts';
import type { NodeId, Proposal } from '../engine.ts';
import { parseMemberList } from '../membership.ts';

/** The reserved client id of membership entries: clients may not use it. */
export const MEMBERSHIP_CLIENT_ID = 'hashgen/membership';
const MEMBERSHIP_DOMAIN = 'medledger/hashgen/membership/v1';

export function isMembershipEntry(p: Pick<Proposal, 'clientId'>): boolean {
  return p.clientId === MEMBERSHIP_CLIENT_ID;
}

export function membershipEntry(number: number, members: readonly NodeId[]): Proposal {
  return { clientId: MEMBERSHIP_CLIENT_ID, seq: number, data: encode([...members]) };
}

/** The member list a membership entry carries; null when malformed. */
export function entryMembers(p: Pick<Proposal, 'data'>): NodeId[] | null {
  try {
    return parseMemberList(decode(p.data));
  } catch {
    return null;
  }
}

/** Signing bytes bound to a membership epoch: epoch 0 (the genesis list) keeps the original bytes. */
export function membershipBound(number: number, bytes: Bytes): Bytes {
  return number === 0 ? bytes : encode([MEMBERSHIP_DOMAIN, number, bytes]);
}
