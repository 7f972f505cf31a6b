// The 'pbft-commit' block certificate: the 2f+1 (quorum) COMMIT signatures that decided a block.
//
// A commit signs (view, seq, digest) where digest = batchDigest(batch as pre-prepared). Execution
// drops proposals already decided earlier (de-duplication), so a block's proposals can be a
// subsequence of the committed batch; the certificate then lists the dropped proposals (field
// `dropped`: DAG-CBOR of [index, clientId, seq, data] tuples), which lets anyone rebuild the
// committed batch and check it against the signed digest. Nothing the verifier needs is trusted
// from the block producer.
import { bytesEqual, decode, encode, type Bytes } from '../../codec/index.ts';
import type { SignatureVerifier } from '../../crypto/index.ts';
import { EngineAssertionError, type Certificate, type DecidedBlock, type NodeId, type Proposal } from '../engine.ts';
import { hasQuorumSignatures } from '../certificate.ts';
import { batchDigest, blockDigest } from '../digest.ts';
import { byzantineFaults, byzantineQuorum } from '../quorum.ts';
import { epochBound, parseMembers } from './epoch.ts';
import { commitSigningBytes, DIGEST_BYTES } from './messages.ts';

export const PBFT_CERT_SCHEME = 'pbft-commit';

/** f for n replicas: n ≥ 3f + 1 (consensus/quorum.ts). */
export function faultsTolerated(n: number): number {
  return byzantineFaults(n);
}

/**
 * Quorum size ⌈(n + f + 1) / 2⌉: any two quorums intersect in at least f + 1 replicas, hence in
 * a correct one. Equals 2f + 1 when n = 3f + 1 (the paper's setting); for other n it is what keeps
 * PBFT safe (2f + 1 alone would not intersect in a correct replica for, e.g., n = 5).
 */
export function quorumSize(n: number): number {
  return byzantineQuorum(n);
}

type DroppedTuple = [number, string, number, Bytes];

export function encodeDropped(dropped: ReadonlyArray<{ index: number; proposal: Proposal }>): Bytes {
  return encode(dropped.map(({ index, proposal: p }): DroppedTuple => [index, p.clientId, p.seq, p.data]));
}

/** Rebuild the committed batch from a block's proposals and the dropped list; null if malformed. */
function rebuildBatch(proposals: readonly Proposal[], droppedBytes: Bytes | undefined, countMax: number): Proposal[] | null {
  if (droppedBytes === undefined) return [...proposals];
  let raw: unknown;
  try {
    raw = decode(droppedBytes);
  } catch {
    return null;
  }
  if (!Array.isArray(raw) || raw.length === 0 || raw.length + proposals.length > countMax) return null;
  const total = raw.length + proposals.length;
  const slots: Array<Proposal | undefined> = new Array<Proposal | undefined>(total).fill(undefined);
  let lastIndex = -1;
  for (const t of raw) {
    if (!Array.isArray(t) || t.length !== 4) return null;
    const [index, clientId, seq, data] = t as unknown[];
    if (typeof index !== 'number' || !Number.isInteger(index) || index <= lastIndex || index >= total) return null;
    if (typeof clientId !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq) || !(data instanceof Uint8Array)) return null;
    slots[index] = { clientId, seq, data };
    lastIndex = index;
  }
  let next = 0;
  for (let i = 0; i < total; i++) {
    if (slots[i] === undefined) slots[i] = proposals[next++];
  }
  return next === proposals.length ? (slots as Proposal[]) : null;
}

export interface CertificateCheckOptions {
  /** Bound on the rebuilt batch (defaults to a generous 100 000). */
  readonly batchCountMax?: number;
}

/**
 * Check a PBFT block certificate: scheme, height = seq, block digest chaining, a quorum of valid
 * COMMIT signatures from distinct members over (view, seq, batch digest), and the batch digest
 * matching the block's proposals plus the dropped duplicates. Never throws on bad input.
 */
export function verifyPbftCertificate(
  block: DecidedBlock,
  cert: Certificate,
  verifier: SignatureVerifier,
  members: readonly NodeId[],
  options: CertificateCheckOptions = {},
): boolean {
  try {
    if (cert.scheme !== PBFT_CERT_SCHEME) return false;
    const { view, seq, batch } = cert.fields;
    const dropped = cert.fields.dropped;
    // The members of the epoch that decided the block (decision 1270), which must be among the
    // orderers the caller knows (every orderer of every config); after a membership change the
    // commits are bound to the epoch. A certificate without the list (older chains) is checked
    // against the caller's members. That each epoch's list is the one the previous epoch's
    // membership entry named is a property of the chain, not of one block.
    const epochField = cert.fields.epoch;
    const membersField = cert.fields.members;
    let epoch = 0;
    let signers: readonly NodeId[] = members;
    if (epochField !== undefined) {
      if (typeof epochField !== 'number' || !Number.isSafeInteger(epochField) || epochField < 1 || membersField === undefined) return false;
      epoch = epochField;
    }
    if (membersField !== undefined) {
      if (!(membersField instanceof Uint8Array)) return false;
      const listed = parseMembers(decode(membersField));
      if (!listed || !listed.every((m) => members.includes(m))) return false;
      signers = listed;
    }
    if (typeof view !== 'number' || !Number.isSafeInteger(view) || view < 0) return false;
    if (typeof seq !== 'number' || seq !== block.height) return false;
    if (!(batch instanceof Uint8Array) || batch.byteLength !== DIGEST_BYTES) return false;
    if (dropped !== undefined && !(dropped instanceof Uint8Array)) return false;
    const expectedFields = (dropped === undefined ? 3 : 4) + (membersField === undefined ? 0 : 1) + (epoch > 0 ? 1 : 0);
    if (Object.keys(cert.fields).length !== expectedFields) return false;
    if (!bytesEqual(block.digest, blockDigest(block.height, block.previousDigest, block.proposals))) return false;
    const full = rebuildBatch(block.proposals, dropped, options.batchCountMax ?? 100_000);
    if (!full || !bytesEqual(batchDigest(full), batch)) return false;
    return hasQuorumSignatures(
      cert.signatures,
      { eligible: signers, quorum: quorumSize(signers.length), statement: (signer) => epochBound(epoch, commitSigningBytes(view, seq, batch, signer)) },
      verifier,
    );
  } catch (err) {
    // Bad input is "invalid"; a broken invariant of our own is a bug and must stop the node.
    if (err instanceof EngineAssertionError) throw err;
    return false;
  }
}
