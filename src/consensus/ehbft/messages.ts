// EH-BFT wire messages, the statements nodes sign, and edge validation of untrusted input.
//
// Every message is a plain DAG-CBOR-encodable object. Messages that state something a node
// stands for (a vote, a pre-prepare, a version report, a view change, a query) carry the
// sender's ECDSA signature over a canonical statement; prepare / commit / block carry a quorum
// certificate instead, which authenticates itself whoever relays it.
import { encode, sha256, type Bytes } from '../../codec/index.ts';
import type { NodeId, Proposal } from '../engine.ts';

/** A proposal on the wire (short keys keep messages small). */
export interface WireProposal {
  readonly c: string;
  readonly s: number;
  readonly d: Bytes;
}

/** One signed vote inside a certificate. */
export interface Vote {
  readonly node: NodeId;
  readonly sig: Bytes;
}

/** Phase 1 = pre-prepared (acceptor ready), phase 2 = prepared (acceptor locked). */
export type Phase = 1 | 2;

/** Q signatures of distinct eligible nodes over the same vote statement. */
export interface WireCert {
  readonly phase: Phase;
  readonly view: number;
  readonly height: number;
  readonly digest: Bytes;
  readonly metaDigest: Bytes;
  readonly votes: readonly Vote[];
}

/** One signed vote statement, kept whole so it can be shown to others as evidence. */
export interface SignedVote {
  readonly phase: Phase;
  readonly view: number;
  readonly height: number;
  readonly digest: Bytes;
  readonly metaDigest: Bytes;
  readonly sig: Bytes;
}

/** Proof that `node` signed two different values for the same (phase, view, height). */
export interface Evidence {
  readonly node: NodeId;
  readonly a: SignedVote;
  readonly b: SignedVote;
}

/**
 * What a block agrees on besides its proposals: the facts reputation is computed from (so every
 * node computes the same trusted list) and the leader's hand-over flag.
 */
export interface Meta {
  /** Who proposed the block (kept when a later leader re-proposes it after a view change). */
  readonly proposer: NodeId;
  /** The leader ends its term with this block (time-based rotation). */
  readonly handover: boolean;
  /** A commit certificate of the previous block (null at height 1): who voted in time. */
  readonly prevCert: WireCert | null;
  /** Verified misbehaviour proofs; each punished node loses its reputation. */
  readonly evidence: readonly Evidence[];
  /**
   * A membership block (decision 1290): the next epoch's member list, one member added or removed.
   * Absent on every other block, so their metadata digests are what they were before.
   */
  readonly members?: readonly NodeId[];
}

/** A decided block as stored, served to lagging nodes and delivered to non-acceptors. */
export interface WireBlock {
  readonly height: number;
  readonly proposals: readonly WireProposal[];
  readonly meta: Meta;
  /** Phase-2 certificate (Q prepared votes) over (view, height, digest, metaDigest). */
  readonly cert: WireCert;
}

export interface ViewChangeVote {
  readonly view: number;
  /** The sender's next height (decided height + 1). */
  readonly height: number;
  /** The sender's highest phase-1 certificate at `height` (its lock), or null. */
  readonly lock: WireCert | null;
  readonly node: NodeId;
  readonly sig: Bytes;
}

export interface BlockBody {
  readonly proposals: readonly WireProposal[];
  readonly meta: Meta;
}

export type EhbftMessage =
  | { readonly type: 'ehbft/forward'; readonly proposals: readonly WireProposal[] }
  | { readonly type: 'ehbft/version-query'; readonly view: number; readonly height: number; readonly node: NodeId; readonly sig: Bytes }
  | {
      readonly type: 'ehbft/version';
      readonly view: number;
      /** The verifier's decided height and the digests of its database version. */
      readonly height: number;
      readonly digest: Bytes;
      readonly stateDigest: Bytes;
      readonly node: NodeId;
      readonly sig: Bytes;
    }
  | {
      readonly type: 'ehbft/pre-prepare';
      readonly view: number;
      readonly height: number;
      readonly prevDigest: Bytes;
      readonly proposals: readonly WireProposal[];
      readonly meta: Meta;
      /** The view-change votes that justify the first proposal of a view entered by view change. */
      readonly justification: readonly ViewChangeVote[] | null;
      readonly node: NodeId;
      /** The leader's own phase-1 vote signature over (view, height, digest, metaDigest). */
      readonly sig: Bytes;
    }
  | {
      readonly type: 'ehbft/vote';
      readonly phase: Phase;
      readonly view: number;
      readonly height: number;
      readonly digest: Bytes;
      readonly metaDigest: Bytes;
      readonly node: NodeId;
      readonly sig: Bytes;
    }
  | { readonly type: 'ehbft/prepare'; readonly cert: WireCert }
  | { readonly type: 'ehbft/commit'; readonly cert: WireCert }
  | { readonly type: 'ehbft/block'; readonly block: WireBlock }
  | { readonly type: 'ehbft/fetch'; readonly height: number }
  /** An idle leader's decided height, so a node that missed the last block notices. */
  | { readonly type: 'ehbft/status'; readonly height: number }
  /** Proof of equivocation, spread so that the next leader includes it and acceptors drop the culprit. */
  | { readonly type: 'ehbft/evidence'; readonly evidence: readonly Evidence[] }
  | { readonly type: 'ehbft/blocks'; readonly blocks: readonly WireBlock[] }
  | {
      readonly type: 'ehbft/view-change';
      readonly vc: ViewChangeVote;
      /** The locked block's contents (checked against the lock's digest by the receiver). */
      readonly lockBody: BlockBody | null;
      /** The sender's last decided block, so a node one block behind catches up at once. */
      readonly last: WireBlock | null;
      readonly evidence: readonly Evidence[];
    };

export type EhbftMessageType = EhbftMessage['type'];

// ---------------------------------------------------------------- signed statements

export function voteStatement(phase: Phase, view: number, height: number, digest: Bytes, metaDigest: Bytes): Bytes {
  return encode({ t: 'ehbft-vote', p: phase, v: view, h: height, d: digest, m: metaDigest });
}

export function viewChangeStatement(vc: Omit<ViewChangeVote, 'sig'>): Bytes {
  const lock = vc.lock ? { v: vc.lock.view, d: vc.lock.digest, m: vc.lock.metaDigest } : null;
  return encode({ t: 'ehbft-vc', v: vc.view, h: vc.height, l: lock, n: vc.node });
}

export function queryStatement(view: number, height: number, node: NodeId): Bytes {
  return encode({ t: 'ehbft-query', v: view, h: height, n: node });
}

export function versionStatement(view: number, height: number, digest: Bytes, stateDigest: Bytes, node: NodeId): Bytes {
  return encode({ t: 'ehbft-version', v: view, h: height, d: digest, s: stateDigest, n: node });
}

export function metaDigestOf(meta: Meta): Bytes {
  return sha256(encode(meta));
}

export function toWire(p: Proposal): WireProposal {
  return { c: p.clientId, s: p.seq, d: p.data };
}

export function fromWire(p: WireProposal): Proposal {
  return { clientId: p.c, seq: p.s, data: p.d };
}

// ---------------------------------------------------------------- validation at the edge

export interface MessageLimits {
  readonly proposalsMax: number;
  readonly proposalBytesMax: number;
  readonly membersMax: number;
  readonly evidenceMax: number;
  readonly blocksMax: number;
}

const ID_CHARS_MAX = 256;
const DIGEST_BYTES = 32;
const SIG_BYTES_MAX = 512;
const COUNTER_MAX = 2 ** 48;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}
function isCounter(v: unknown, min = 0): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= COUNTER_MAX;
}
function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length >= 1 && v.length <= ID_CHARS_MAX;
}
function isDigest(v: unknown): v is Bytes {
  return v instanceof Uint8Array && v.byteLength === DIGEST_BYTES;
}
function isSig(v: unknown): v is Bytes {
  return v instanceof Uint8Array && v.byteLength >= 1 && v.byteLength <= SIG_BYTES_MAX;
}
function isPhase(v: unknown): v is Phase {
  return v === 1 || v === 2;
}

function validProposal(v: unknown, lim: MessageLimits): boolean {
  return isObj(v) && isId(v.c) && isCounter(v.s, 1) && v.d instanceof Uint8Array && v.d.byteLength <= lim.proposalBytesMax;
}
function validProposals(v: unknown, lim: MessageLimits): boolean {
  return Array.isArray(v) && v.length <= lim.proposalsMax && v.every((p) => validProposal(p, lim));
}
function validCert(v: unknown, lim: MessageLimits): boolean {
  return (
    isObj(v) &&
    isPhase(v.phase) &&
    isCounter(v.view) &&
    isCounter(v.height, 1) &&
    isDigest(v.digest) &&
    isDigest(v.metaDigest) &&
    Array.isArray(v.votes) &&
    v.votes.length <= lim.membersMax &&
    v.votes.every((x) => isObj(x) && isId(x.node) && isSig(x.sig))
  );
}
function validSignedVote(v: unknown): boolean {
  return isObj(v) && isPhase(v.phase) && isCounter(v.view) && isCounter(v.height, 1) && isDigest(v.digest) && isDigest(v.metaDigest) && isSig(v.sig);
}
function validEvidenceList(v: unknown, lim: MessageLimits): boolean {
  return Array.isArray(v) && v.length <= lim.evidenceMax && v.every((e) => isObj(e) && isId(e.node) && validSignedVote(e.a) && validSignedVote(e.b));
}
function validMembers(v: unknown, lim: MessageLimits): boolean {
  // One more than the bound on a membership (engine.ts updateLimits): a step adds one member at most.
  return Array.isArray(v) && v.length >= 1 && v.length <= lim.membersMax + 1 && v.every(isId) && new Set(v).size === v.length;
}
function validMeta(v: unknown, lim: MessageLimits): boolean {
  return (
    isObj(v) &&
    isId(v.proposer) &&
    typeof v.handover === 'boolean' &&
    (v.prevCert === null || validCert(v.prevCert, lim)) &&
    validEvidenceList(v.evidence, lim) &&
    (v.members === undefined || validMembers(v.members, lim))
  );
}
function validBlock(v: unknown, lim: MessageLimits): boolean {
  return isObj(v) && isCounter(v.height, 1) && validProposals(v.proposals, lim) && validMeta(v.meta, lim) && validCert(v.cert, lim);
}
function validVc(v: unknown, lim: MessageLimits): boolean {
  return isObj(v) && isCounter(v.view) && isCounter(v.height, 1) && (v.lock === null || validCert(v.lock, lim)) && isId(v.node) && isSig(v.sig);
}

/** Structural check of an untrusted message; signatures and semantics are checked by the engine. */
export function isValidMessage(m: unknown, lim: MessageLimits): m is EhbftMessage {
  if (!isObj(m) || typeof m.type !== 'string') return false;
  switch (m.type) {
    case 'ehbft/forward':
      return validProposals(m.proposals, lim);
    case 'ehbft/version-query':
      return isCounter(m.view) && isCounter(m.height, 1) && isId(m.node) && isSig(m.sig);
    case 'ehbft/version':
      return isCounter(m.view) && isCounter(m.height) && isDigest(m.digest) && isDigest(m.stateDigest) && isId(m.node) && isSig(m.sig);
    case 'ehbft/pre-prepare':
      return (
        isCounter(m.view) &&
        isCounter(m.height, 1) &&
        isDigest(m.prevDigest) &&
        validProposals(m.proposals, lim) &&
        validMeta(m.meta, lim) &&
        isId(m.node) &&
        isSig(m.sig) &&
        (m.justification === null ||
          (Array.isArray(m.justification) && m.justification.length <= lim.membersMax && m.justification.every((x) => validVc(x, lim))))
      );
    case 'ehbft/vote':
      return isPhase(m.phase) && isCounter(m.view) && isCounter(m.height, 1) && isDigest(m.digest) && isDigest(m.metaDigest) && isId(m.node) && isSig(m.sig);
    case 'ehbft/prepare':
    case 'ehbft/commit':
      return validCert(m.cert, lim);
    case 'ehbft/block':
      return validBlock(m.block, lim);
    case 'ehbft/fetch':
      return isCounter(m.height, 1);
    case 'ehbft/evidence':
      return validEvidenceList(m.evidence, lim);
    case 'ehbft/status':
      return isCounter(m.height);
    case 'ehbft/blocks':
      return Array.isArray(m.blocks) && m.blocks.length <= lim.blocksMax && m.blocks.every((b) => validBlock(b, lim));
    case 'ehbft/view-change':
      return (
        validVc(m.vc, lim) &&
        (m.lockBody === null || (isObj(m.lockBody) && validProposals(m.lockBody.proposals, lim) && validMeta(m.lockBody.meta, lim))) &&
        (m.last === null || validBlock(m.last, lim)) &&
        validEvidenceList(m.evidence, lim)
      );
    default:
      return false;
  }
}
