// PBFT wire messages, their canonical signing bytes and their validation at the edge.
//
// Every message is a plain DAG-CBOR-encodable object. A message is signed by the replica named in
// its `replica` field over `signingBytes(message)`: the canonical encoding of the message without
// its `sig` (and, for a pre-prepare, without its batch, which is bound by the signed digest). So a
// pre-prepare header inside a NEW-VIEW, a prepared certificate or a block certificate verifies with
// the very signature the replica put on the original message, and any replica can relay it.
//
// Validation is structural (types, ranges, byte lengths, array bounds): `parseMessage` returns
// null for anything malformed so that `step` drops it and counts it, never throws.
import { encode, type Bytes } from '../../codec/index.ts';
import type { NodeId, Proposal } from '../engine.ts';

export const SIGNING_DOMAIN = 'medledger/pbft/v1';
export const DIGEST_BYTES = 32;
/** Generous bound on signature length: ECDSA P1363 is 64 bytes, test signers 32–64. */
export const SIGNATURE_BYTES_MAX = 128;
export const ID_LENGTH_MAX = 256;
export const CLIENT_ID_LENGTH_MAX = 256;

export interface RequestMsg {
  readonly type: 'pbft/request';
  readonly replica: NodeId;
  readonly proposals: readonly Proposal[];
  readonly sig: Bytes;
}

/** The signed part of a pre-prepare (what a NEW-VIEW's O set and prepared certificates carry). */
export interface PrePrepareHeader {
  readonly type: 'pbft/pre-prepare';
  readonly view: number;
  readonly seq: number;
  readonly digest: Bytes;
  readonly replica: NodeId;
  readonly sig: Bytes;
}

export interface PrePrepareMsg extends PrePrepareHeader {
  /** The batch; bound to the signature through digest = batchDigest(batch). */
  readonly batch: readonly Proposal[];
}

export interface PrepareMsg {
  readonly type: 'pbft/prepare';
  readonly view: number;
  readonly seq: number;
  readonly digest: Bytes;
  readonly replica: NodeId;
  readonly sig: Bytes;
}

export interface CommitMsg {
  readonly type: 'pbft/commit';
  readonly view: number;
  readonly seq: number;
  readonly digest: Bytes;
  readonly replica: NodeId;
  readonly sig: Bytes;
}

export interface CheckpointMsg {
  readonly type: 'pbft/checkpoint';
  readonly seq: number;
  /** blockDigest of the block at height seq (chains the whole decided history). */
  readonly blockDigest: Bytes;
  /** sha256 of the engine state that must survive state transfer (the dedup window). */
  readonly stateDigest: Bytes;
  readonly replica: NodeId;
  readonly sig: Bytes;
}

/** A pre-prepare plus 2f matching prepares: proof that (view, seq, digest) prepared. */
export interface PreparedCert {
  readonly prePrepare: PrePrepareHeader;
  readonly batch: readonly Proposal[];
  readonly prepares: readonly PrepareMsg[];
}

export interface ViewChangeMsg {
  readonly type: 'pbft/view-change';
  /** The view being changed TO. */
  readonly view: number;
  readonly stableSeq: number;
  readonly stableBlockDigest: Bytes;
  readonly stableStateDigest: Bytes;
  /** C: 2f+1 checkpoint messages proving stableSeq (empty for the genesis checkpoint 0). */
  readonly checkpointProof: readonly CheckpointMsg[];
  /** P: one prepared certificate per sequence number above stableSeq. */
  readonly prepared: readonly PreparedCert[];
  readonly replica: NodeId;
  readonly sig: Bytes;
}

export interface NewViewMsg {
  readonly type: 'pbft/new-view';
  readonly view: number;
  /** V: 2f+1 view-change messages for `view`. */
  readonly viewChanges: readonly ViewChangeMsg[];
  /** O: pre-prepares for the new view, recomputed and checked by every backup. */
  readonly prePrepares: readonly PrePrepareHeader[];
  readonly replica: NodeId;
  readonly sig: Bytes;
}

/** Periodic progress report; peers answer with what the sender is missing (retransmission). */
export interface StatusMsg {
  readonly type: 'pbft/status';
  readonly view: number;
  readonly changing: boolean;
  readonly stableSeq: number;
  readonly executedSeq: number;
  readonly replica: NodeId;
  readonly sig: Bytes;
}

/** A commit certificate for one sequence number: enough for any replica to execute it. */
export interface CommitCertMsg {
  readonly type: 'pbft/commit-cert';
  readonly view: number;
  readonly seq: number;
  readonly digest: Bytes;
  readonly batch: readonly Proposal[];
  readonly commits: readonly CommitMsg[];
  readonly replica: NodeId;
  readonly sig: Bytes;
}

/** State transfer: the engine state at a stable checkpoint, with the checkpoint's proof. */
export interface StateMsg {
  readonly type: 'pbft/state';
  readonly seq: number;
  readonly blockDigest: Bytes;
  readonly stateDigest: Bytes;
  readonly proof: readonly CheckpointMsg[];
  /** encode(DedupWindow.toJSON()); sha256 of it is stateDigest. */
  readonly dedup: Bytes;
  readonly replica: NodeId;
  readonly sig: Bytes;
}

export type PbftMessage =
  RequestMsg | PrePrepareMsg | PrepareMsg | CommitMsg | CheckpointMsg | ViewChangeMsg | NewViewMsg | StatusMsg | CommitCertMsg | StateMsg;

export type PbftMessageType = PbftMessage['type'];

/** Any signed PBFT structure (top-level messages and pre-prepare headers). */
export type Signed = PbftMessage | PrePrepareHeader;

/**
 * The bytes a replica signs: the message minus `sig` (and minus a pre-prepare's batch). The
 * frequent fixed-shape messages are signed as a DAG-CBOR tuple (cheaper than a map, whose keys the
 * encoder must sort); the others as a map of their fields. Either way canonical: one value, one
 * byte string, on every replica.
 */
export function signingBytes(message: Signed): Bytes {
  const tag = signedTag(message.type);
  switch (message.type) {
    case 'pbft/pre-prepare':
    case 'pbft/prepare':
    case 'pbft/commit':
      return encode([SIGNING_DOMAIN, tag, message.view, message.seq, message.digest, message.replica]);
    case 'pbft/checkpoint':
      return encode([SIGNING_DOMAIN, tag, message.seq, message.blockDigest, message.stateDigest, message.replica]);
    case 'pbft/status':
      return encode([SIGNING_DOMAIN, tag, message.view, message.changing, message.stableSeq, message.executedSeq, message.replica]);
    default:
      break;
  }
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(message)) {
    if (k !== 'sig') body[k] = k === 'type' ? tag : v;
  }
  return encode({ domain: SIGNING_DOMAIN, body });
}

/**
 * The type a replica signs: the wire type without its `pbft/` prefix (the signing domain already
 * names the engine). Signatures are therefore the same as before the wire types were prefixed, and
 * the commit certificates in blocks decided then still verify (decision 1404).
 */
function signedTag(type: PbftMessageType): string {
  return type.slice(TYPE_PREFIX.length);
}

const TYPE_PREFIX = 'pbft/';
const BARE_TYPES: ReadonlySet<string> = new Set([
  'request',
  'pre-prepare',
  'prepare',
  'commit',
  'checkpoint',
  'view-change',
  'new-view',
  'status',
  'commit-cert',
  'state',
]);

/**
 * A value read back from durable storage with every nested message's type in the current wire
 * form: data directories written before the types were prefixed stored bare types ('prepare').
 * Their signatures cover the bare tag either way (see signedTag), so they still verify.
 */
export function withWireTypes<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => withWireTypes(v)) as T;
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === 'type' && typeof v === 'string' && BARE_TYPES.has(v) ? TYPE_PREFIX + v : withWireTypes(v);
  }
  return out as T;
}

/** Signing bytes of a commit, rebuilt from its fields (certificate verification). */
export function commitSigningBytes(view: number, seq: number, digest: Bytes, replica: NodeId): Bytes {
  return signingBytes({ type: 'pbft/commit', view, seq, digest, replica, sig: new Uint8Array(0) });
}

export function headerOf(pp: PrePrepareMsg | PrePrepareHeader): PrePrepareHeader {
  return { type: 'pbft/pre-prepare', view: pp.view, seq: pp.seq, digest: pp.digest, replica: pp.replica, sig: pp.sig };
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Limits the parser enforces (derived from the engine's options and cutter config). */
export interface MessageLimits {
  readonly membersMax: number;
  /** Max entries in a batch. */
  readonly batchCountMax: number;
  /** Max total proposal data bytes in a batch (and per proposal). */
  readonly batchBytesMax: number;
  /** Max proposals in one request message. */
  readonly requestProposalsMax: number;
  /** L: max prepared certificates in a view-change, max pre-prepares in a new-view. */
  readonly logWindow: number;
  /** Max bytes of a transferred dedup snapshot. */
  readonly stateBytesMax: number;
}

type Obj = Record<string, unknown>;

function isObj(x: unknown, keyCount: number): x is Obj {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array) && Object.keys(x).length === keyCount;
}

function isUint(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isId(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= ID_LENGTH_MAX;
}

function isDigest(x: unknown): x is Bytes {
  return x instanceof Uint8Array && x.byteLength === DIGEST_BYTES;
}

function isSig(x: unknown): x is Bytes {
  return x instanceof Uint8Array && x.byteLength > 0 && x.byteLength <= SIGNATURE_BYTES_MAX;
}

function parseProposal(x: unknown, bytesMax: number): Proposal | null {
  if (!isObj(x, 3)) return null;
  const { clientId, seq, data } = x;
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > CLIENT_ID_LENGTH_MAX) return null;
  if (!isUint(seq) || seq < 1) return null;
  if (!(data instanceof Uint8Array) || data.byteLength > bytesMax) return null;
  return { clientId, seq, data };
}

function parseProposals(x: unknown, countMax: number, bytesMax: number): Proposal[] | null {
  if (!Array.isArray(x) || x.length > countMax) return null;
  const out: Proposal[] = [];
  let bytes = 0;
  for (const item of x) {
    const p = parseProposal(item, bytesMax);
    if (!p) return null;
    bytes += p.data.byteLength;
    if (bytes > bytesMax) return null;
    out.push(p);
  }
  return out;
}

function parseHeader(x: unknown): PrePrepareHeader | null {
  if (!isObj(x, 6) || x.type !== 'pbft/pre-prepare') return null;
  const { view, seq, digest, replica, sig } = x;
  if (!isUint(view) || !isUint(seq) || seq < 1 || !isDigest(digest) || !isId(replica) || !isSig(sig)) return null;
  return { type: 'pbft/pre-prepare', view, seq, digest, replica, sig };
}

function parsePhase<T extends 'pbft/prepare' | 'pbft/commit'>(x: unknown, type: T): (T extends 'pbft/prepare' ? PrepareMsg : CommitMsg) | null {
  if (!isObj(x, 6) || x.type !== type) return null;
  const { view, seq, digest, replica, sig } = x;
  if (!isUint(view) || !isUint(seq) || seq < 1 || !isDigest(digest) || !isId(replica) || !isSig(sig)) return null;
  return { type, view, seq, digest, replica, sig } as T extends 'pbft/prepare' ? PrepareMsg : CommitMsg;
}

function parseCheckpoint(x: unknown): CheckpointMsg | null {
  if (!isObj(x, 6) || x.type !== 'pbft/checkpoint') return null;
  const { seq, blockDigest, stateDigest, replica, sig } = x;
  if (!isUint(seq) || seq < 1 || !isDigest(blockDigest) || !isDigest(stateDigest) || !isId(replica) || !isSig(sig)) return null;
  return { type: 'pbft/checkpoint', seq, blockDigest, stateDigest, replica, sig };
}

function parseList<T>(x: unknown, max: number, item: (y: unknown) => T | null): T[] | null {
  if (!Array.isArray(x) || x.length > max) return null;
  const out: T[] = [];
  for (const y of x) {
    const v = item(y);
    if (v === null) return null;
    out.push(v);
  }
  return out;
}

function parsePreparedCert(x: unknown, limits: MessageLimits): PreparedCert | null {
  if (!isObj(x, 3)) return null;
  const prePrepare = parseHeader(x.prePrepare);
  const batch = parseProposals(x.batch, limits.batchCountMax, limits.batchBytesMax);
  const prepares = parseList(x.prepares, limits.membersMax, (y) => parsePhase(y, 'pbft/prepare'));
  if (!prePrepare || !batch || !prepares) return null;
  return { prePrepare, batch, prepares };
}

function parseViewChange(x: unknown, limits: MessageLimits): ViewChangeMsg | null {
  if (!isObj(x, 9) || x.type !== 'pbft/view-change') return null;
  const { view, stableSeq, stableBlockDigest, stableStateDigest, replica, sig } = x;
  if (!isUint(view) || view < 1 || !isUint(stableSeq) || !isDigest(stableBlockDigest) || !isDigest(stableStateDigest)) return null;
  if (!isId(replica) || !isSig(sig)) return null;
  const checkpointProof = parseList(x.checkpointProof, limits.membersMax, parseCheckpoint);
  const prepared = parseList(x.prepared, limits.logWindow, (y) => parsePreparedCert(y, limits));
  if (!checkpointProof || !prepared) return null;
  return { type: 'pbft/view-change', view, stableSeq, stableBlockDigest, stableStateDigest, checkpointProof, prepared, replica, sig };
}

/** Structural validation of a message from the network; null when malformed. */
export function parseMessage(x: unknown, limits: MessageLimits): PbftMessage | null {
  if (typeof x !== 'object' || x === null) return null;
  const type = (x as Obj).type;
  switch (type) {
    case 'pbft/request': {
      if (!isObj(x, 4)) return null;
      const proposals = parseProposals(x.proposals, limits.requestProposalsMax, Number.MAX_SAFE_INTEGER);
      if (!proposals || proposals.length === 0 || !isId(x.replica) || !isSig(x.sig)) return null;
      if (proposals.some((p) => p.data.byteLength > limits.batchBytesMax)) return null;
      return { type, replica: x.replica, proposals, sig: x.sig };
    }
    case 'pbft/pre-prepare': {
      if (!isObj(x, 7)) return null;
      const { batch: rawBatch, ...rest } = x;
      const header = parseHeader(rest);
      const batch = parseProposals(rawBatch, limits.batchCountMax, limits.batchBytesMax);
      if (!header || !batch) return null;
      return { ...header, batch };
    }
    case 'pbft/prepare':
      return parsePhase(x, 'pbft/prepare');
    case 'pbft/commit':
      return parsePhase(x, 'pbft/commit');
    case 'pbft/checkpoint':
      return parseCheckpoint(x);
    case 'pbft/view-change':
      return parseViewChange(x, limits);
    case 'pbft/new-view': {
      if (!isObj(x, 6)) return null;
      const { view, replica, sig } = x;
      if (!isUint(view) || view < 1 || !isId(replica) || !isSig(sig)) return null;
      const viewChanges = parseList(x.viewChanges, limits.membersMax, (y) => parseViewChange(y, limits));
      const prePrepares = parseList(x.prePrepares, limits.logWindow, parseHeader);
      if (!viewChanges || !prePrepares) return null;
      return { type, view, viewChanges, prePrepares, replica, sig };
    }
    case 'pbft/status': {
      if (!isObj(x, 7)) return null;
      const { view, changing, stableSeq, executedSeq, replica, sig } = x;
      if (!isUint(view) || typeof changing !== 'boolean' || !isUint(stableSeq) || !isUint(executedSeq)) return null;
      if (!isId(replica) || !isSig(sig)) return null;
      return { type, view, changing, stableSeq, executedSeq, replica, sig };
    }
    case 'pbft/commit-cert': {
      if (!isObj(x, 8)) return null;
      const { view, seq, digest, replica, sig } = x;
      if (!isUint(view) || !isUint(seq) || seq < 1 || !isDigest(digest) || !isId(replica) || !isSig(sig)) return null;
      const batch = parseProposals(x.batch, limits.batchCountMax, limits.batchBytesMax);
      const commits = parseList(x.commits, limits.membersMax, (y) => parsePhase(y, 'pbft/commit'));
      if (!batch || !commits) return null;
      return { type, view, seq, digest, batch, commits, replica, sig };
    }
    case 'pbft/state': {
      if (!isObj(x, 8)) return null;
      const { seq, blockDigest, stateDigest, dedup, replica, sig } = x;
      if (!isUint(seq) || seq < 1 || !isDigest(blockDigest) || !isDigest(stateDigest) || !isId(replica) || !isSig(sig)) return null;
      if (!(dedup instanceof Uint8Array) || dedup.byteLength > limits.stateBytesMax) return null;
      const proof = parseList(x.proof, limits.membersMax, parseCheckpoint);
      if (!proof) return null;
      return { type, seq, blockDigest, stateDigest, proof, dedup, replica, sig };
    }
    default:
      return null;
  }
}
