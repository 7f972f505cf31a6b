// Wire messages of the grouped two-layer PBFT and the exact bytes each signature covers.
// Every message is a plain DAG-CBOR-encodable object; `isGpbftMessage` checks shape and bounds
// at the edge (step() drops anything that fails).
import { encode, sha256, type Bytes } from '../../codec/index.ts';
import type { CertificateSignature, DecidedBlock, NodeId, Proposal } from '../engine.ts';

export const PROPOSALS_PER_MESSAGE_MAX = 10_000;
export const SIGNATURES_MAX = 1024;
export const VIEW_CHANGES_MAX = 1024;
export const BLOCKS_PER_MESSAGE_MAX = 64;
export const EVIDENCE_PER_BLOCK_MAX = 8;
export const ID_LENGTH_MAX = 256;

/** A signed statement whose conflicting twin is proof of equivocation. */
export type StatementKind = 'pp2' | 'prepare2' | 'commit2';

export interface Evidence {
  readonly node: NodeId;
  readonly kind: StatementKind;
  readonly view: number;
  readonly height: number;
  readonly content1: Bytes;
  readonly signature1: Bytes;
  readonly content2: Bytes;
  readonly signature2: Bytes;
}

/** A prepared certificate of the second layer: q2 PREPARE2 signatures over (view, height, content). */
export interface Prepared {
  readonly view: number;
  readonly height: number;
  readonly digest: Bytes;
  /** encode(Evidence[]) carried by the block. */
  readonly evidence: Bytes;
  readonly proposals: readonly Proposal[];
  readonly signatures: readonly CertificateSignature[];
}

export interface ViewChange {
  /** The view being changed to. */
  readonly view: number;
  readonly node: NodeId;
  /** The sender's decided height and digest. */
  readonly height: number;
  readonly digest: Bytes;
  /** Its highest prepared certificate for height + 1, if any. */
  readonly prepared: Prepared | null;
  readonly signature: Bytes;
}

export type GpbftMessage =
  /** Client request forwarding: a member hands requests to its group primary. */
  | { readonly type: 'gpbft/request'; readonly proposals: readonly Proposal[] }
  // ---- first layer: PBFT inside a group ----
  | {
      readonly type: 'gpbft/pre-prepare1';
      readonly view: number;
      readonly group: number;
      readonly seq: number;
      readonly height: number;
      readonly proposals: readonly Proposal[];
    }
  | { readonly type: 'gpbft/prepare1'; readonly view: number; readonly group: number; readonly seq: number; readonly digest: Bytes }
  | { readonly type: 'gpbft/commit1'; readonly view: number; readonly group: number; readonly seq: number; readonly digest: Bytes; readonly signature: Bytes }
  /** A group primary hands its endorsed batch (with the group's commit signatures) to the head. */
  | {
      readonly type: 'gpbft/submit2';
      readonly view: number;
      readonly group: number;
      readonly seq: number;
      readonly proposals: readonly Proposal[];
      readonly cert: readonly CertificateSignature[];
    }
  // ---- second layer: PBFT among the primaries ----
  | {
      readonly type: 'gpbft/pre-prepare2';
      readonly view: number;
      readonly height: number;
      readonly previous: Bytes;
      /** The endorsing group and its layer-1 sequence (−1 / 0 for a re-proposal after a view change). */
      readonly group: number;
      readonly seq: number;
      /** The endorsed batch as endorsed (receivers drop already-decided proposals the same way). */
      readonly proposals: readonly Proposal[];
      readonly cert: readonly CertificateSignature[];
      readonly reproposal: boolean;
      readonly digest: Bytes;
      readonly evidence: Bytes;
      readonly signature: Bytes;
    }
  | {
      readonly type: 'gpbft/prepare2';
      readonly view: number;
      readonly height: number;
      readonly content: Bytes;
      readonly signature: Bytes;
      readonly ppSignature: Bytes;
    }
  | { readonly type: 'gpbft/commit2'; readonly view: number; readonly height: number; readonly content: Bytes; readonly signature: Bytes }
  /** A primary delivers the package (block + signature bundle) to its group's members. */
  | { readonly type: 'gpbft/deliver'; readonly block: DecidedBlock }
  // ---- view change, evidence, catch-up ----
  | { readonly type: 'gpbft/view-change'; readonly vc: ViewChange }
  | { readonly type: 'gpbft/new-view'; readonly view: number; readonly height: number; readonly viewChanges: readonly ViewChange[]; readonly signature: Bytes }
  | { readonly type: 'gpbft/evidence'; readonly evidence: Evidence }
  | { readonly type: 'gpbft/sync'; readonly height: number }
  | { readonly type: 'gpbft/blocks'; readonly blocks: readonly DecidedBlock[] };

export type GpbftMessageType = GpbftMessage['type'];

// ---- signed bytes ----

export function commit1Bytes(view: number, group: number, seq: number, digest: Bytes): Bytes {
  return encode({ s: 'gpbft-commit1', v: view, g: group, q: seq, d: digest });
}

export function statementBytes(kind: StatementKind, view: number, height: number, content: Bytes): Bytes {
  return encode({ s: `gpbft-${kind}`, v: view, h: height, c: content });
}

/** What the second layer votes on: the block digest and the evidence the block carries. */
export function contentDigest(digest: Bytes, evidence: Bytes): Bytes {
  return sha256(encode({ d: digest, e: evidence }));
}

export function viewChangeBytes(vc: Omit<ViewChange, 'signature'>): Bytes {
  return encode({ s: 'gpbft-vc', v: vc.view, n: vc.node, h: vc.height, d: vc.digest, p: vc.prepared === null ? null : sha256(encode(vc.prepared)) });
}

export function newViewBytes(view: number, height: number, viewChanges: readonly ViewChange[]): Bytes {
  return encode({ s: 'gpbft-nv', v: view, h: height, c: viewChanges.map((vc) => vc.signature) });
}

// ---- shape checks ----

export const isNat = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
export const isBytes = (x: unknown, max = 1 << 20): x is Bytes => x instanceof Uint8Array && x.byteLength <= max;
const isId = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= ID_LENGTH_MAX;
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export function isProposal(x: unknown): x is Proposal {
  return isObj(x) && isId(x.clientId) && isNat(x.seq) && x.seq >= 1 && isBytes(x.data, 16 << 20);
}

export function isProposalList(x: unknown, max = PROPOSALS_PER_MESSAGE_MAX): x is Proposal[] {
  return Array.isArray(x) && x.length <= max && x.every(isProposal);
}

export function isSigList(x: unknown): x is CertificateSignature[] {
  return Array.isArray(x) && x.length <= SIGNATURES_MAX && x.every((s) => isObj(s) && isId(s.nodeId) && isBytes(s.signature, 512));
}

export function isEvidence(x: unknown): x is Evidence {
  return (
    isObj(x) &&
    isId(x.node) &&
    (x.kind === 'pp2' || x.kind === 'prepare2' || x.kind === 'commit2') &&
    isNat(x.view) &&
    isNat(x.height) &&
    isBytes(x.content1, 64) &&
    isBytes(x.content2, 64) &&
    isBytes(x.signature1, 512) &&
    isBytes(x.signature2, 512)
  );
}

export function isPrepared(x: unknown): x is Prepared {
  return (
    isObj(x) &&
    isNat(x.view) &&
    isNat(x.height) &&
    isBytes(x.digest, 64) &&
    isBytes(x.evidence, 1 << 16) &&
    isProposalList(x.proposals) &&
    isSigList(x.signatures)
  );
}

export function isViewChange(x: unknown): x is ViewChange {
  return (
    isObj(x) &&
    isNat(x.view) &&
    isId(x.node) &&
    isNat(x.height) &&
    isBytes(x.digest, 64) &&
    (x.prepared === null || isPrepared(x.prepared)) &&
    isBytes(x.signature, 512)
  );
}

export function isBlock(x: unknown): x is DecidedBlock {
  if (!isObj(x) || !isNat(x.height) || !isBytes(x.digest, 64) || !isBytes(x.previousDigest, 64) || !isProposalList(x.proposals)) return false;
  const c = x.certificate;
  return isObj(c) && c.scheme === 'gpbft-bundle' && isObj(c.fields) && isNat(c.fields.view) && isBytes(c.fields.evidence, 1 << 16) && isSigList(c.signatures);
}

export function isGpbftMessage(m: unknown): m is GpbftMessage {
  if (!isObj(m)) return false;
  switch (m.type) {
    case 'gpbft/request':
      return isProposalList(m.proposals, 1000);
    case 'gpbft/pre-prepare1':
      return isNat(m.view) && isNat(m.group) && isNat(m.seq) && isNat(m.height) && isProposalList(m.proposals);
    case 'gpbft/prepare1':
      return isNat(m.view) && isNat(m.group) && isNat(m.seq) && isBytes(m.digest, 64);
    case 'gpbft/commit1':
      return isNat(m.view) && isNat(m.group) && isNat(m.seq) && isBytes(m.digest, 64) && isBytes(m.signature, 512);
    case 'gpbft/submit2':
      return isNat(m.view) && isNat(m.group) && isNat(m.seq) && isProposalList(m.proposals) && isSigList(m.cert);
    case 'gpbft/pre-prepare2':
      return (
        isNat(m.view) &&
        isNat(m.height) &&
        isBytes(m.previous, 64) &&
        typeof m.group === 'number' &&
        Number.isSafeInteger(m.group) &&
        m.group >= -1 &&
        isNat(m.seq) &&
        isProposalList(m.proposals) &&
        isSigList(m.cert) &&
        typeof m.reproposal === 'boolean' &&
        isBytes(m.digest, 64) &&
        isBytes(m.evidence, 1 << 16) &&
        isBytes(m.signature, 512)
      );
    case 'gpbft/prepare2':
      return isNat(m.view) && isNat(m.height) && isBytes(m.content, 64) && isBytes(m.signature, 512) && isBytes(m.ppSignature, 512);
    case 'gpbft/commit2':
      return isNat(m.view) && isNat(m.height) && isBytes(m.content, 64) && isBytes(m.signature, 512);
    case 'gpbft/deliver':
      return isBlock(m.block);
    case 'gpbft/view-change':
      return isViewChange(m.vc);
    case 'gpbft/new-view':
      return (
        isNat(m.view) &&
        isNat(m.height) &&
        Array.isArray(m.viewChanges) &&
        m.viewChanges.length <= VIEW_CHANGES_MAX &&
        m.viewChanges.every(isViewChange) &&
        isBytes(m.signature, 512)
      );
    case 'gpbft/evidence':
      return isEvidence(m.evidence);
    case 'gpbft/sync':
      return isNat(m.height);
    case 'gpbft/blocks':
      return Array.isArray(m.blocks) && m.blocks.length <= BLOCKS_PER_MESSAGE_MAX && m.blocks.every(isBlock);
    default:
      return false;
  }
}
