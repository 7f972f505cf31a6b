// Canonical digests shared by all engines, so a decided block is identified the same way
// whichever engine decided it (and the ledger can check a certificate against its block).
import { encode, sha256, type Bytes } from '../codec/index.ts';
import { assertInvariant, type Proposal } from './engine.ts';

/** The digest "before height 1". */
export const GENESIS_DIGEST: Bytes = new Uint8Array(32);

export function proposalKey(p: Pick<Proposal, 'clientId' | 'seq'>): string {
  return `${p.clientId}#${p.seq}`;
}

/** Digest of a batch of proposals (what a PBFT pre-prepare carries as the request digest). */
export function batchDigest(proposals: readonly Proposal[]): Bytes {
  let digest = batchDigests.get(proposals);
  if (digest === undefined) {
    const bytes = encodeBatchForDigest(proposals);
    digest = sha256(bytes ?? encode(proposals.map((p) => ({ c: p.clientId, s: p.seq, d: p.data }))));
    batchDigests.set(proposals, digest);
  }
  return digest;
}

// A leader digests the batch it cuts (to sign the block it becomes) and again when the entry is
// applied; both see the same array. Batches are never changed once cut (readonly everywhere).
const batchDigests = new WeakMap<readonly Proposal[], Bytes>();

// The batch's DAG-CBOR encoding — [{c: clientId, d: data, s: seq}, …], keys in canonical order
// (length first, then bytewise: c < d < s) — written straight into one reused buffer: the
// general encoder sorts each map's keys and builds tokens per value, which for a block of a
// hundred transactions cost more than hashing it (decision 1381). Byte-for-byte the same as
// encode() (property-tested); a batch it does not handle (a non-ASCII client id, a seq that is
// not a non-negative safe integer) goes through encode() instead.
const SCRATCH_KEEP_BYTES_MAX = 4 * 1024 * 1024;
let scratch = new Uint8Array(64 * 1024);

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function headerBytes(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

function writeHeader(out: Uint8Array, at: number, major: number, n: number): number {
  const m = major << 5;
  if (n < 24) {
    out[at] = m | n;
    return at + 1;
  }
  if (n < 0x100) {
    out[at] = m | 24;
    out[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    out[at] = m | 25;
    out[at + 1] = n >>> 8;
    out[at + 2] = n & 0xff;
    return at + 3;
  }
  if (n < 0x100000000) {
    out[at] = m | 26;
    writeU32(out, at + 1, n);
    return at + 5;
  }
  out[at] = m | 27;
  writeU32(out, at + 1, Math.floor(n / 0x100000000));
  writeU32(out, at + 5, n >>> 0);
  return at + 9;
}

function writeU32(out: Uint8Array, at: number, n: number): void {
  out[at] = (n >>> 24) & 0xff;
  out[at + 1] = (n >>> 16) & 0xff;
  out[at + 2] = (n >>> 8) & 0xff;
  out[at + 3] = n & 0xff;
}

/** The batch's canonical encoding (a view of the reused buffer, valid until the next call), or null. */
export function encodeBatchForDigest(proposals: readonly Proposal[]): Uint8Array | null {
  let size = headerBytes(proposals.length);
  for (const p of proposals) {
    if (!Number.isSafeInteger(p.seq) || p.seq < 0 || !isAscii(p.clientId)) return null;
    // map(3) + three 1-character keys (2 bytes each) + the three values
    size += 1 + 6 + headerBytes(p.clientId.length) + p.clientId.length + headerBytes(p.data.byteLength) + p.data.byteLength + headerBytes(p.seq);
  }
  const out = size <= scratch.byteLength ? scratch : new Uint8Array(size);
  if (out !== scratch && size <= SCRATCH_KEEP_BYTES_MAX) scratch = out;
  let at = writeHeader(out, 0, 4, proposals.length);
  for (const p of proposals) {
    out[at++] = 0xa3; // map of 3
    out[at++] = 0x61; // text(1) "c"
    out[at++] = 0x63;
    at = writeHeader(out, at, 3, p.clientId.length);
    for (let i = 0; i < p.clientId.length; i++) out[at++] = p.clientId.charCodeAt(i);
    out[at++] = 0x61; // text(1) "d"
    out[at++] = 0x64;
    at = writeHeader(out, at, 2, p.data.byteLength);
    out.set(p.data, at);
    at += p.data.byteLength;
    out[at++] = 0x61; // text(1) "s"
    out[at++] = 0x73;
    at = writeHeader(out, at, 0, p.seq);
  }
  assertInvariant(at === size, `batch encoding wrote ${at} bytes, sized ${size}`);
  return out.subarray(0, size);
}

/** Chains decided blocks: digest_h = sha256(DAG-CBOR {h, prev, batch}). */
export function blockDigest(height: number, previousDigest: Bytes, proposals: readonly Proposal[]): Bytes {
  return sha256(encode({ h: height, p: previousDigest, b: batchDigest(proposals) }));
}

export function proposalSizeBytes(p: Proposal): number {
  return p.data.byteLength + p.clientId.length + 16;
}
