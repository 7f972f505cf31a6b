// Wire messages of the hash-generator engine and their validation at the edge. Every message a
// peer sends is checked structurally (types, integer ranges, lengths) before the engine looks at
// it; anything malformed is dropped, never thrown on.
import { encode, type Bytes } from '../../codec/index.ts';
import type { CertificateSignature, DecidedBlock, NodeId, Proposal } from '../engine.ts';

/** What a generator candidate learns from a voter: the last block it validated (or locked, in bft). */
export interface LockReport {
  readonly e: number;
  readonly h: number;
  readonly prev: Bytes;
  readonly d: Bytes;
  /** bft: the validation quorum that made it a lock; paper: empty (crash faults, reports are trusted). */
  readonly cert: readonly CertificateSignature[];
}

/** CAMS (faithful mode) names the generator of an epoch. */
export interface HgSelect {
  readonly type: 'hashgen/select';
  readonly epoch: number;
  readonly generator: NodeId;
  readonly cams: NodeId;
  readonly sig: Bytes;
}

/** "The generator of my epoch failed; epoch `epoch` should start" — to the next candidate, or to CAMS. */
export interface HgSuspect {
  readonly type: 'hashgen/suspect';
  readonly epoch: number;
  readonly voter: NodeId;
  readonly sig: Bytes;
}

export interface HgAuthReq {
  readonly type: 'hashgen/auth-req';
  readonly epoch: number;
  readonly candidate: NodeId;
  /** The candidate's decided height. */
  readonly height: number;
  readonly select: HgSelect | null;
  readonly sig: Bytes;
}

export interface HgAuthVote {
  readonly type: 'hashgen/auth-vote';
  readonly epoch: number;
  readonly candidate: NodeId;
  readonly voter: NodeId;
  /** The voter's decided height when it voted. */
  readonly height: number;
  readonly report: LockReport | null;
  /** The reported block's proposals: NOT signed (checked against report.d), stripped in justifications. */
  readonly proposals: readonly Proposal[];
  readonly sig: Bytes;
}

export interface HgBlock {
  readonly type: 'hashgen/block';
  readonly epoch: number;
  readonly height: number;
  readonly prev: Bytes;
  readonly proposals: readonly Proposal[];
  readonly generator: NodeId;
  /** bft: the authentication votes that made `generator` the generator of `epoch`; paper: empty. */
  readonly justification: readonly HgAuthVote[];
  readonly sig: Bytes;
}

export interface HgValidate {
  readonly type: 'hashgen/validate';
  readonly epoch: number;
  readonly height: number;
  readonly digest: Bytes;
  readonly voter: NodeId;
  /** Over voteBytes('validate', epoch, height, digest). */
  readonly sig: Bytes;
}

export interface HgSeal {
  readonly type: 'hashgen/seal';
  readonly epoch: number;
  readonly height: number;
  readonly prev: Bytes;
  readonly proposals: readonly Proposal[];
  readonly generator: NodeId;
  readonly nonce: number;
  readonly difficultyBits: number;
  readonly validations: readonly CertificateSignature[];
  readonly sig: Bytes;
}

export interface HgCommit {
  readonly type: 'hashgen/commit';
  readonly epoch: number;
  readonly height: number;
  readonly digest: Bytes;
  readonly voter: NodeId;
  /** Over voteBytes('commit', epoch, height, digest). */
  readonly sig: Bytes;
}

export interface HgHeartbeat {
  readonly type: 'hashgen/heartbeat';
  readonly epoch: number;
  readonly generator: NodeId;
  readonly height: number;
  readonly sig: Bytes;
}

/** Followers hand their data-lake pool to the generator. Client data: not signed by the node. */
export interface HgForward {
  readonly type: 'hashgen/forward';
  readonly proposals: readonly Proposal[];
}

/** Ask for decided blocks from `height` on. */
export interface HgFetch {
  readonly type: 'hashgen/fetch';
  readonly height: number;
}

/** Decided blocks, each with its certificate (self-verifying). */
export interface HgBlocks {
  readonly type: 'hashgen/blocks';
  readonly blocks: readonly DecidedBlock[];
}

export type HgMessage = HgSelect | HgSuspect | HgAuthReq | HgAuthVote | HgBlock | HgValidate | HgSeal | HgCommit | HgHeartbeat | HgForward | HgFetch | HgBlocks;

/** The bytes a message's `sig` covers: the message without `sig` (and without an auth vote's proposals). */
export function signedBody(message: HgSelect | HgSuspect | HgAuthReq | HgAuthVote | HgBlock | HgSeal | HgHeartbeat): Bytes {
  if (message.type === 'hashgen/auth-vote') {
    const { sig: _sig, proposals: _p, ...body } = message;
    return encode(body);
  }
  const { sig: _sig, ...body } = message;
  return encode(body);
}

// ---------------------------------------------------------------------------------------------
// Structural validation.

export interface MessageLimits {
  readonly members: readonly NodeId[];
  /** Max proposals in one block (cutter.countMax). */
  readonly blockProposalsMax: number;
  /** Max proposals in one forward message. */
  readonly forwardProposalsMax: number;
  /** Max bytes of one proposal's data. */
  readonly proposalBytesMax: number;
  /** Max blocks in one hg-blocks message. */
  readonly fetchBlocksMax: number;
}

export const CLIENT_ID_CHARS_MAX = 256;
const DIGEST_BYTES = 32;
const SIGNATURE_BYTES_MAX = 256;
/** A certificate field's bytes: the member lists (`members`, `next`) of up to 1024 generators. */
const CERT_FIELD_BYTES_MAX = 1 << 18;

type Rec = Record<string, unknown>;

function isRec(v: unknown): v is Rec {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function isInt(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
}

function isBytes(v: unknown, lenMin: number, lenMax: number): v is Bytes {
  return v instanceof Uint8Array && v.byteLength >= lenMin && v.byteLength <= lenMax;
}

function isDigest(v: unknown): v is Bytes {
  return isBytes(v, DIGEST_BYTES, DIGEST_BYTES);
}

function isSig(v: unknown): v is Bytes {
  return isBytes(v, 1, SIGNATURE_BYTES_MAX);
}

function isMember(v: unknown, l: MessageLimits): v is NodeId {
  return typeof v === 'string' && l.members.includes(v);
}

export function isProposal(v: unknown, l: MessageLimits): v is Proposal {
  return (
    isRec(v) &&
    typeof v.clientId === 'string' &&
    v.clientId.length > 0 &&
    v.clientId.length <= CLIENT_ID_CHARS_MAX &&
    isInt(v.seq, 1) &&
    isBytes(v.data, 0, l.proposalBytesMax)
  );
}

function isProposals(v: unknown, max: number, l: MessageLimits): v is Proposal[] {
  return Array.isArray(v) && v.length <= max && v.every((p) => isProposal(p, l));
}

function isSignatures(v: unknown, l: MessageLimits): v is CertificateSignature[] {
  return Array.isArray(v) && v.length <= l.members.length && v.every((s) => isRec(s) && isMember(s.nodeId, l) && isSig(s.signature));
}

function isReport(v: unknown, l: MessageLimits): v is LockReport {
  return isRec(v) && isInt(v.e, 1) && isInt(v.h, 1) && isDigest(v.prev) && isDigest(v.d) && isSignatures(v.cert, l);
}

function isSelect(v: unknown, l: MessageLimits): v is HgSelect {
  return isRec(v) && v.type === 'hashgen/select' && isInt(v.epoch, 1) && isMember(v.generator, l) && isMember(v.cams, l) && isSig(v.sig);
}

function isAuthVote(v: unknown, l: MessageLimits): v is HgAuthVote {
  return (
    isRec(v) &&
    v.type === 'hashgen/auth-vote' &&
    isInt(v.epoch, 1) &&
    isMember(v.candidate, l) &&
    isMember(v.voter, l) &&
    isInt(v.height, 0) &&
    (v.report === null || isReport(v.report, l)) &&
    isProposals(v.proposals, l.blockProposalsMax, l) &&
    isSig(v.sig)
  );
}

function isDecidedBlock(v: unknown, l: MessageLimits): v is DecidedBlock {
  if (!isRec(v) || !isInt(v.height, 1) || !isDigest(v.digest) || !isDigest(v.previousDigest)) return false;
  if (!isProposals(v.proposals, l.blockProposalsMax, l)) return false;
  const c = v.certificate;
  if (!isRec(c) || typeof c.scheme !== 'string' || !isRec(c.fields) || !isSignatures(c.signatures, l)) return false;
  return Object.values(c.fields).every((f) => typeof f === 'string' || isInt(f, 0) || isBytes(f, 0, CERT_FIELD_BYTES_MAX));
}

/** The message if it is well-formed for these limits, else null. */
export function parseMessage(v: unknown, l: MessageLimits): HgMessage | null {
  if (!isRec(v) || typeof v.type !== 'string') return null;
  switch (v.type) {
    case 'hashgen/select':
      return isSelect(v, l) ? v : null;
    case 'hashgen/suspect':
      return isInt(v.epoch, 1) && isMember(v.voter, l) && isSig(v.sig) ? (v as unknown as HgSuspect) : null;
    case 'hashgen/auth-req':
      return isInt(v.epoch, 1) && isMember(v.candidate, l) && isInt(v.height, 0) && (v.select === null || isSelect(v.select, l)) && isSig(v.sig)
        ? (v as unknown as HgAuthReq)
        : null;
    case 'hashgen/auth-vote':
      return isAuthVote(v, l) ? v : null;
    case 'hashgen/block':
      return isInt(v.epoch, 1) &&
        isInt(v.height, 1) &&
        isDigest(v.prev) &&
        isProposals(v.proposals, l.blockProposalsMax, l) &&
        isMember(v.generator, l) &&
        Array.isArray(v.justification) &&
        v.justification.length <= l.members.length &&
        v.justification.every((j) => isAuthVote(j, l)) &&
        isSig(v.sig)
        ? (v as unknown as HgBlock)
        : null;
    case 'hashgen/validate':
    case 'hashgen/commit':
      return isInt(v.epoch, 1) && isInt(v.height, 1) && isDigest(v.digest) && isMember(v.voter, l) && isSig(v.sig)
        ? (v as unknown as HgValidate | HgCommit)
        : null;
    case 'hashgen/seal':
      return isInt(v.epoch, 1) &&
        isInt(v.height, 1) &&
        isDigest(v.prev) &&
        isProposals(v.proposals, l.blockProposalsMax, l) &&
        isMember(v.generator, l) &&
        isInt(v.nonce, 0) &&
        isInt(v.difficultyBits, 0, 32) &&
        isSignatures(v.validations, l) &&
        isSig(v.sig)
        ? (v as unknown as HgSeal)
        : null;
    case 'hashgen/heartbeat':
      return isInt(v.epoch, 1) && isMember(v.generator, l) && isInt(v.height, 0) && isSig(v.sig) ? (v as unknown as HgHeartbeat) : null;
    case 'hashgen/forward':
      return isProposals(v.proposals, l.forwardProposalsMax, l) ? (v as unknown as HgForward) : null;
    case 'hashgen/fetch':
      return isInt(v.height, 1) ? (v as unknown as HgFetch) : null;
    case 'hashgen/blocks':
      return Array.isArray(v.blocks) && v.blocks.length <= l.fetchBlocksMax && v.blocks.every((b) => isDecidedBlock(b, l)) ? (v as unknown as HgBlocks) : null;
    default:
      return null;
  }
}
