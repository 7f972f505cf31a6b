// An enrolment request (PKCS#10) made with WebCrypto alone, for the web console (decision 1210):
// the new user's ECDSA P-256 key pair is generated in their browser as NON-EXTRACTABLE — the page
// can sign with it, no script can ever read it — and the request carries only the public key and
// the name, signed by that key (proof of possession, checked by the node and by the CA admin's
// `enrolFromRequest`). The same request `createEnrolmentRequest` (identity/enrolment.ts, Node,
// @peculiar/x509) makes, without a library: the structure is fixed and small, and the bundle stays
// free of @peculiar/x509 and its polyfill. Imports nothing from Node; runs in Node too (tests).
import type { webcrypto } from 'node:crypto';
import { isValidIdentityName } from './roles.ts';

// Type names only (erased at build time): the same WebCrypto interfaces browsers have.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type SubtleCrypto = webcrypto.SubtleCrypto;
type Bytes = Uint8Array<ArrayBuffer>;

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
/** 1.2.840.10045.4.3.2 ecdsa-with-SHA256 */
const OID_ECDSA_SHA256 = Uint8Array.of(0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02);
/** 2.5.4.3 commonName */
const OID_CN = Uint8Array.of(0x06, 0x03, 0x55, 0x04, 0x03);

function concat(...parts: readonly Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function tlv(tag: number, body: Bytes): Bytes {
  const n = body.length;
  // Nothing in a request exceeds 64 KiB; the long forms for one and two length bytes suffice.
  const len = n < 0x80 ? Uint8Array.of(n) : n < 0x100 ? Uint8Array.of(0x81, n) : Uint8Array.of(0x82, n >> 8, n & 0xff);
  return concat(Uint8Array.of(tag), len, body);
}

const seq = (...parts: readonly Bytes[]): Bytes => tlv(0x30, concat(...parts));

/** A DER INTEGER of an unsigned big-endian magnitude (minimal, with a 0x00 when the top bit is set). */
function derUnsigned(magnitude: Bytes): Bytes {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.slice(i);
  return tlv(0x02, (m[0]! & 0x80) !== 0 ? concat(Uint8Array.of(0), m) : m);
}

/** WebCrypto's ECDSA signature (r ‖ s, 64 bytes) as X.509 wants it: SEQUENCE { INTEGER r, INTEGER s }. */
export function p1363ToDer(signature: Bytes): Bytes {
  if (signature.length !== 64) throw new Error(`a P-256 signature is 64 bytes, got ${signature.length}`);
  return seq(derUnsigned(signature.slice(0, 32)), derUnsigned(signature.slice(32)));
}

function base64(bytes: Bytes): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function subtle(): SubtleCrypto {
  const s = (globalThis.crypto as webcrypto.Crypto | undefined)?.subtle;
  if (!s) throw new Error('WebCrypto is not available here (a browser needs a secure context: https or http://localhost)');
  return s;
}

export interface WebCryptoEnrolmentRequest {
  /** The PKCS#10 request to submit with the enrolment secret. */
  readonly csrPem: string;
  /** Non-extractable: it signs (as the console's session key), it can never be exported. */
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

/**
 * A fresh non-extractable P-256 key pair and a PKCS#10 request for `commonName` (the registered
 * name; a patient asks with their login name and is issued a certificate to their pseudonym).
 */
export async function createWebCryptoEnrolmentRequest(commonName: string): Promise<WebCryptoEnrolmentRequest> {
  if (!isValidIdentityName(commonName))
    throw new Error(`name "${commonName.slice(0, 80)}" is not allowed: a letter or digit, then up to 63 letters, digits, '.', '_', '@', '-'`);
  const keys = (await subtle().generateKey(ECDSA_P256, false, ['sign', 'verify'])) as CryptoKeyPair;
  // A public key is always exportable, whatever the pair's `extractable`.
  const spki = new Uint8Array(await subtle().exportKey('spki', keys.publicKey));
  const subject = seq(tlv(0x31, seq(OID_CN, tlv(0x0c, new TextEncoder().encode(commonName)))));
  // version 0, subject, subjectPKInfo, attributes [0] (none)
  const info = seq(Uint8Array.of(0x02, 0x01, 0x00), subject, spki, Uint8Array.of(0xa0, 0x00));
  const signature = new Uint8Array(await subtle().sign(ECDSA_SHA256, keys.privateKey, info));
  const der = seq(info, seq(OID_ECDSA_SHA256), tlv(0x03, concat(Uint8Array.of(0), p1363ToDer(signature))));
  const csrPem = `-----BEGIN CERTIFICATE REQUEST-----\n${base64(der).replace(/.{64}/g, '$&\n').trim()}\n-----END CERTIFICATE REQUEST-----\n`;
  return { csrPem, privateKey: keys.privateKey, publicKey: keys.publicKey };
}
