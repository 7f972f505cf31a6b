// Byte primitives on Node.js (node:crypto and Buffer: native, fast). The browser build swaps this
// file for platform.browser.ts (same exports, pure JS / WebCrypto): scripts/build-console.mjs
// resolves every `X.ts` that has a sibling `X.browser.ts` to the latter. platform.test.ts checks
// that both give the same bytes.
import { hash, randomFillSync } from 'node:crypto';

export type Bytes = Uint8Array;

const view = (b: Bytes): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** sha2-256 of bytes, or of a string's UTF-8 encoding. */
export function sha256(bytes: Bytes | string): Bytes {
  // One-shot crypto.hash: no Hash object to create and collect (a third of a small hash's cost).
  return new Uint8Array(hash('sha256', bytes, 'buffer'));
}

export function toHex(bytes: Bytes): string {
  return view(bytes).toString('hex');
}

/** Hex (already checked to be pairs of hex digits) to bytes. */
export function hexToBytesUnchecked(hex: string): Bytes {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export function bytesEqual(a: Bytes, b: Bytes): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return view(a).equals(view(b));
}

export function concatBytes(parts: readonly Bytes[]): Bytes {
  // One copy into a buffer of its own (Buffer.concat then new Uint8Array copied twice; a view of
  // Buffer.concat's result could share Node's pool, and callers may read `.buffer`).
  let length = 0;
  for (const p of parts) length += p.byteLength;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Standard base64 with padding (RFC 4648 §4). */
export function toBase64(bytes: Bytes): string {
  return view(bytes).toString('base64');
}

/** Standard base64 to bytes; null unless the text is canonical base64 (so junk is never ignored). */
export function fromBase64(text: string): Bytes | null {
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? new Uint8Array(bytes) : null;
}

export function randomBytes(length: number): Bytes {
  return new Uint8Array(randomFillSync(Buffer.alloc(length)));
}

export function utf8ByteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
