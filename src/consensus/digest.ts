// Canonical digests shared by all engines, so a decided block is identified the same way
// whichever engine decided it (and the ledger can check a certificate against its block).
import { encode, sha256, type Bytes } from '../codec/index.ts';
import type { Proposal } from './engine.ts';

/** The digest "before height 1". */
export const GENESIS_DIGEST: Bytes = new Uint8Array(32);

export function proposalKey(p: Pick<Proposal, 'clientId' | 'seq'>): string {
  return `${p.clientId}#${p.seq}`;
}

/** Digest of a batch of proposals (what a PBFT pre-prepare carries as the request digest). */
export function batchDigest(proposals: readonly Proposal[]): Bytes {
  return sha256(encode(proposals.map((p) => ({ c: p.clientId, s: p.seq, d: p.data }))));
}

/** Chains decided blocks: digest_h = sha256(DAG-CBOR {h, prev, batch}). */
export function blockDigest(height: number, previousDigest: Bytes, proposals: readonly Proposal[]): Bytes {
  return sha256(encode({ h: height, p: previousDigest, b: batchDigest(proposals) }));
}

export function proposalSizeBytes(p: Proposal): number {
  return p.data.byteLength + p.clientId.length + 16;
}
