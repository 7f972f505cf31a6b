// The pure rules of the hash-generator consensus (Dwivedi et al., BMRS, Algorithm 2): quorum
// thresholds, the proof-hash seal, the performance records that rank generators, the CAMS
// selection order, and the certificate check. Everything here is a function of its arguments so
// that every node computes the same answer from the same decided history.
import { bytesEqual, decode, encode, sha256, type Bytes } from '../../codec/index.ts';
import type { SignatureVerifier } from '../../crypto/index.ts';
import { hasQuorumSignatures } from '../certificate.ts';
import { blockDigest } from '../digest.ts';
import { byzantineFaults, byzantineQuorum, crashFaults } from '../quorum.ts';
import { assertInvariant, EngineAssertionError, type Certificate, type CertificateSignature, type DecidedBlock, type NodeId } from '../engine.ts';
import { parseMemberList } from '../membership.ts';
import { MEMBERSHIP_CLIENT_ID, membershipBound } from './membership.ts';

export const CERT_SCHEME = 'hashgen-seal';

/** 'paper': the published thresholds (crash faults). 'bft': 2f+1-style quorums plus a commit phase. */
export type QuorumMode = 'paper' | 'bft';

export interface Thresholds {
  /** Authentication votes needed from the OTHER generators (the candidate's own promise is implicit). */
  readonly authOthers: number;
  /** Validations needed, the generator's own included. */
  readonly validations: number;
  /** Commit votes needed to decide (bft only; 0 in paper mode, where a validation quorum decides). */
  readonly commits: number;
}

/** Byzantine nodes tolerated by the 'bft' quorums for n generators: f = ⌊(n−1)/3⌋. */
export function bftFaults(n: number): number {
  return byzantineFaults(n);
}

/** Crash faults tolerated by the paper's thresholds for n generators: ⌊(n−1)/2⌋. */
export function paperFaults(n: number): number {
  return crashFaults(n);
}

/**
 * The paper counts N = the generators other than the selected one (so n = N + 1 in all):
 * authentication needs ⌈N/2⌉ of those N; validation needs ⌊N/2⌋ + 1, "+1 for the selected hash
 * generator". In 'bft' mode every quorum is q = ⌈(n+f+1)/2⌉ (2f+1 when n = 3f+1).
 */
export function thresholds(n: number, mode: QuorumMode): Thresholds {
  assertInvariant(Number.isSafeInteger(n) && n >= 1, 'hashgen needs at least one generator');
  if (mode === 'paper') {
    const others = n - 1;
    return { authOthers: Math.ceil(others / 2), validations: Math.floor(others / 2) + 1, commits: 0 };
  }
  const q = byzantineQuorum(n);
  return { authOthers: q - 1, validations: q, commits: q };
}

// ---------------------------------------------------------------------------------------------
// Signed vote bodies. Validation and commit signatures are over a canonical tuple, not over the
// message that carries them, so the same signature can be copied into a certificate.

export type VoteKind = 'validate' | 'commit';

/** The statement a vote signs; after a membership change it is bound to the membership epoch number. */
export function voteBytes(kind: VoteKind, epoch: number, height: number, digest: Bytes, membershipNumber = 0): Bytes {
  return membershipBound(membershipNumber, encode({ k: `hashgen-${kind}`, e: epoch, h: height, d: digest }));
}

/**
 * Whether `signatures` are `needed` distinct members' valid votes over one vote tuple; a duplicate,
 * non-member or invalid signature rejects the whole set (the rule of consensus/certificate.ts).
 */
export function hasValidVotes(
  kind: VoteKind,
  epoch: number,
  height: number,
  digest: Bytes,
  signatures: readonly CertificateSignature[],
  members: readonly NodeId[],
  needed: number,
  verifier: SignatureVerifier,
  membershipNumber = 0,
): boolean {
  const statement = voteBytes(kind, epoch, height, digest, membershipNumber);
  return hasQuorumSignatures(signatures, { eligible: members, quorum: needed, statement }, verifier);
}

// ---------------------------------------------------------------------------------------------
// The proof hash (Algorithm 2, lines 36–42): change the nonce until the hash meets the target.

export const DIFFICULTY_BITS_MAX = 32;

/**
 * sha256(DAG-CBOR {d: digest, e: epoch, g: generator} ‖ nonce as 8 bytes big-endian). The nonce
 * is appended after the canonical prefix so the search hashes 8 new bytes per attempt instead of
 * re-encoding the block header.
 */
export function proofHash(digest: Bytes, epoch: number, generator: NodeId, nonce: number): Bytes {
  return proofHasher(digest, epoch, generator)(nonce);
}

function proofHasher(digest: Bytes, epoch: number, generator: NodeId): (nonce: number) => Bytes {
  const prefix = encode({ d: digest, e: epoch, g: generator });
  const input = new Uint8Array(prefix.byteLength + 8);
  input.set(prefix);
  const view = new DataView(input.buffer);
  return (nonce) => {
    view.setBigUint64(prefix.byteLength, BigInt(nonce));
    return sha256(input);
  };
}

/** True when `hash` starts with at least `bits` zero bits (the target). */
export function meetsTarget(hash: Bytes, bits: number): boolean {
  let remaining = bits;
  for (let i = 0; remaining > 0; i++) {
    const byte = hash[i];
    if (byte === undefined) return false;
    if (remaining >= 8) {
      if (byte !== 0) return false;
      remaining -= 8;
    } else {
      return byte >> (8 - remaining) === 0;
    }
  }
  return true;
}

/**
 * Try nonces start, start+1, … for at most `attemptsMax` hashes. Returns the nonce found or the
 * next nonce to try: a bounded slice of work per tick, so the engine never blocks.
 */
export function searchNonce(
  digest: Bytes,
  epoch: number,
  generator: NodeId,
  bits: number,
  start: number,
  attemptsMax: number,
): { found: true; nonce: number } | { found: false; next: number } {
  const hashOf = proofHasher(digest, epoch, generator);
  for (let i = 0; i < attemptsMax; i++) {
    const nonce = start + i;
    if (!Number.isSafeInteger(nonce)) break;
    if (meetsTarget(hashOf(nonce), bits)) return { found: true, nonce };
  }
  return { found: false, next: start + attemptsMax };
}

// ---------------------------------------------------------------------------------------------
// Performance records (Per[] of Algorithm 2). They are a pure function of the decided chain, so
// every node ranks the generators identically: a generator earns a point for each block it
// sealed and loses FAILURE_PENALTY for each epoch in which it was the selected generator and was
// replaced (timeout or misbehaviour) before the next block was sealed.

export const FAILURE_PENALTY = 4;

export interface PerformanceRecord {
  sealed: number;
  failures: number;
  /** Height of the last block it sealed (0 = never): timeliness, the tie-breaker after score. */
  lastSealedHeight: number;
}

export type Records = Map<NodeId, PerformanceRecord>;

export function emptyRecords(members: readonly NodeId[]): Records {
  return new Map(members.map((m) => [m, { sealed: 0, failures: 0, lastSealedHeight: 0 }]));
}

export function score(r: PerformanceRecord): number {
  return r.sealed - FAILURE_PENALTY * r.failures;
}

/**
 * Best first: higher score, then fewer failures, then the more recently active, then the fixed
 * membership order (Algorithm 2 lines 10–15 keep the first maximum).
 */
export function rankGenerators(records: Records, members: readonly NodeId[]): NodeId[] {
  const index = new Map(members.map((m, i) => [m, i]));
  const rec = (m: NodeId): PerformanceRecord => records.get(m) ?? { sealed: 0, failures: 0, lastSealedHeight: 0 };
  return [...members].sort((a, b) => {
    const ra = rec(a);
    const rb = rec(b);
    return score(rb) - score(ra) || ra.failures - rb.failures || rb.lastSealedHeight - ra.lastSealedHeight || (index.get(a) ?? 0) - (index.get(b) ?? 0);
  });
}

/** Where the chain stands for selection purposes: the last decided block's epoch and generator. */
export interface ChainTip {
  readonly epoch: number;
  readonly generator: NodeId | null;
}

/**
 * The generator for `epoch` (> tip.epoch): the CAMS selection. Epoch tip.epoch + k goes to the
 * k-th best generator, where the tip's own generator (which must have failed, since the epoch
 * moved on) goes last. Returns null for epochs that are already history.
 */
export function selectGenerator(epoch: number, tip: ChainTip, records: Records, members: readonly NodeId[]): NodeId | null {
  if (!Number.isSafeInteger(epoch) || epoch <= tip.epoch || members.length === 0) return null;
  const ranking = rankGenerators(records, members);
  // After a membership change the tip's generator is forgotten (null) or may have been removed.
  const order = tip.generator === null || !members.includes(tip.generator) ? ranking : [...ranking.filter((g) => g !== tip.generator), tip.generator];
  return order[(epoch - tip.epoch - 1) % order.length] ?? null;
}

/**
 * Update the records for one newly decided block sealed by `generator` in `epoch`, after a block
 * at `tip`. Every epoch skipped between them charges a failure to the generator selected for it,
 * and the tip's generator is charged for being replaced. The loop is bounded by 2n.
 */
export function applyDecided(records: Records, members: readonly NodeId[], tip: ChainTip, epoch: number, generator: NodeId, height: number): void {
  assertInvariant(epoch >= tip.epoch, 'decided epochs never decrease');
  const charge = (g: NodeId | null): void => {
    if (g === null) return;
    const r = records.get(g);
    if (r) r.failures += 1;
  };
  if (epoch > tip.epoch) {
    // Selection for the skipped epochs was computed from the records as they stood at the tip.
    const snapshot = new Map([...records].map(([k, v]) => [k, { ...v }]));
    if (tip.generator !== null && tip.generator !== generator) charge(tip.generator);
    const skipped = Math.min(epoch - tip.epoch - 1, 2 * members.length);
    for (let k = 1; k <= skipped; k++) {
      const g = selectGenerator(tip.epoch + k, tip, snapshot, members);
      if (g !== generator) charge(g);
    }
  }
  const r = records.get(generator);
  if (r) {
    r.sealed += 1;
    r.lastSealedHeight = height;
  }
}

export function recordsToJSON(records: Records): Array<[NodeId, number, number, number]> {
  return [...records].map(([m, r]) => [m, r.sealed, r.failures, r.lastSealedHeight]);
}

export function recordsFromJSON(entries: Array<[NodeId, number, number, number]>): Records {
  return new Map(entries.map(([m, sealed, failures, last]) => [m, { sealed, failures, lastSealedHeight: last }]));
}

// ---------------------------------------------------------------------------------------------
// Certificates.

export interface CertificateCheckOptions {
  readonly mode: QuorumMode;
  /** The minimum target this verifier insists on. */
  readonly difficultyBits: number;
}

/**
 * A 'hashgen-seal' certificate proves a block was decided: in 'paper' mode a validation quorum
 * (⌊N/2⌋+1 signatures over (validate, epoch, height, digest)); in 'bft' mode a commit quorum
 * (q signatures over (commit, …)); plus the proof hash (see proofHash) meets `difficultyBits`.
 *
 * Membership changes (decision 1295): `members` (DAG-CBOR list) names the generators of the
 * membership epoch that decided the block — they must be among `members` the caller knows, and
 * the quorum is counted on that list; `config` (≥ 1, absent for the genesis list) is the epoch
 * number the votes are bound to; `next` (DAG-CBOR list) marks a membership block: it is delivered
 * empty, and what was voted (and sealed) is the digest of the block holding the entry. Without
 * `members` (chains from before membership changes) the caller's list is the signers' list.
 */
export function verifyHashgenCertificate(
  block: DecidedBlock,
  members: readonly NodeId[],
  verifier: SignatureVerifier,
  options: CertificateCheckOptions,
): boolean {
  try {
    return checkCertificate(block, members, verifier, options);
  } catch (err) {
    // Bad input is "invalid"; a broken invariant of our own is a bug and must stop the node.
    if (err instanceof EngineAssertionError) throw err;
    return false;
  }
}

/** The fields of a hashgen certificate that describe its membership epoch; null when malformed. */
export function certificateMembership(cert: Certificate, members: readonly NodeId[]): { signers: NodeId[]; number: number; next: Bytes | null } | null {
  const { members: listed, config, next } = cert.fields;
  let signers = [...members];
  if (listed !== undefined) {
    if (!(listed instanceof Uint8Array)) return null;
    const list = parseMemberList(decode(listed));
    if (!list || !list.every((m) => members.includes(m))) return null;
    signers = list;
  }
  let number = 0;
  if (config !== undefined) {
    if (typeof config !== 'number' || !Number.isSafeInteger(config) || config < 1 || listed === undefined) return null;
    number = config;
  }
  if (next !== undefined && !(next instanceof Uint8Array)) return null;
  return { signers, number, next: next ?? null };
}

function checkCertificate(block: DecidedBlock, members: readonly NodeId[], verifier: SignatureVerifier, options: CertificateCheckOptions): boolean {
  const cert: Certificate | null = block.certificate;
  if (!cert || cert.scheme !== CERT_SCHEME) return false;
  const { epoch, nonce, generator, phase, difficultyBits } = cert.fields;
  const m = certificateMembership(cert, members);
  if (!m) return false;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) return false;
  if (typeof nonce !== 'number' || !Number.isSafeInteger(nonce) || nonce < 0) return false;
  if (typeof generator !== 'string' || !m.signers.includes(generator)) return false;
  if (typeof difficultyBits !== 'number' || difficultyBits < options.difficultyBits || difficultyBits > DIFFICULTY_BITS_MAX) return false;
  const expectedPhase: VoteKind = options.mode === 'paper' ? 'validate' : 'commit';
  if (phase !== expectedPhase) return false;
  if (!Number.isSafeInteger(block.height) || block.height < 1) return false;
  if (!bytesEqual(blockDigest(block.height, block.previousDigest, block.proposals), block.digest)) return false;
  let voted = block.digest;
  if (m.next !== null) {
    // A membership block: delivered empty; the votes are over the block that held the entry.
    if (block.proposals.length !== 0 || !parseMemberList(decode(m.next))) return false;
    voted = blockDigest(block.height, block.previousDigest, [{ clientId: MEMBERSHIP_CLIENT_ID, seq: m.number + 1, data: m.next }]);
  }
  if (!meetsTarget(proofHash(voted, epoch, generator, nonce), difficultyBits)) return false;
  const t = thresholds(m.signers.length, options.mode);
  const needed = options.mode === 'paper' ? t.validations : t.commits;
  return hasValidVotes(expectedPhase, epoch, block.height, voted, cert.signatures, m.signers, needed, verifier, m.number);
}
