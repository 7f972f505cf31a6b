// ECDSA P-256 through WebCrypto — the same API in browsers and in Node.js (globalThis.crypto).
// This is how a user's key signs in the web console: imported once, non-extractable, so page
// scripts can use it to sign but never read it back. Signatures are IEEE P1363 (r ‖ s, 64 bytes),
// byte-compatible with crypto/ecdsa.ts (node:crypto with dsaEncoding 'ieee-p1363').
// Imports nothing from Node: the browser bundle uses this file as is.
import type { webcrypto } from 'node:crypto';
import type { Bytes } from '../codec/platform.ts';

// Type names only (erased at build time): the same WebCrypto interfaces browsers have.
type CryptoKey = webcrypto.CryptoKey;
type SubtleCrypto = webcrypto.SubtleCrypto;

/** Something that signs asynchronously on behalf of one identity (a WebCrypto key, a node key). */
export interface AsyncSigner {
  sign(message: Bytes): Promise<Bytes>;
}

export class WebCryptoKeyError extends Error {
  override readonly name = 'WebCryptoKeyError';
}

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ECDSA_SHA256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const PEM_BYTES_MAX = 16 * 1024;

function subtle(): SubtleCrypto {
  const s = (globalThis.crypto as webcrypto.Crypto | undefined)?.subtle;
  if (!s) throw new WebCryptoKeyError('WebCrypto is not available here (a browser needs a secure context: https or http://localhost)');
  return s;
}

/** The DER bytes of the one PEM block labelled `label`; WebCryptoKeyError naming the problem otherwise. */
export function pemBody(pem: string, label: string): Bytes {
  if (pem.length > PEM_BYTES_MAX) throw new WebCryptoKeyError(`the ${label} PEM is larger than ${PEM_BYTES_MAX} bytes`);
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]+)-----END ${label}-----`).exec(pem);
  if (!m) {
    const found = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
    throw new WebCryptoKeyError(found ? `expected a PEM "${label}", found "${found}"` : `not a PEM file (no "-----BEGIN ${label}-----" line)`);
  }
  const b64 = m[1]!.replace(/\s+/g, '');
  let text: string;
  try {
    text = atob(b64);
  } catch {
    throw new WebCryptoKeyError(`the ${label} PEM body is not base64`);
  }
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * Import a PKCS#8 P-256 private key (what `medledger init` writes as key.pem) for signing.
 * `extractable` defaults to false: the key can sign, never be exported again.
 */
export async function importP256SigningKey(pkcs8Pem: string, opts: { extractable?: boolean } = {}): Promise<CryptoKey> {
  const der = pemBody(pkcs8Pem, 'PRIVATE KEY');
  try {
    return await subtle().importKey('pkcs8', der, ECDSA_P256, opts.extractable ?? false, ['sign']);
  } catch (err) {
    throw new WebCryptoKeyError(`not an ECDSA P-256 private key: ${(err as Error).message}`);
  }
}

/** Import a P-256 public key from SPKI DER, for verification. */
export async function importP256VerifyingKey(spkiDer: Bytes): Promise<CryptoKey> {
  try {
    return await subtle().importKey('spki', spkiDer, ECDSA_P256, true, ['verify']);
  } catch (err) {
    throw new WebCryptoKeyError(`not an ECDSA P-256 public key: ${(err as Error).message}`);
  }
}

export function webCryptoSigner(key: CryptoKey): AsyncSigner {
  if (key.type !== 'private' || !key.usages.includes('sign')) throw new WebCryptoKeyError('a signing key must be a private key with usage "sign"');
  return {
    async sign(message) {
      return new Uint8Array(await subtle().sign(ECDSA_SHA256, key, message));
    },
  };
}

export async function webCryptoVerify(key: CryptoKey, message: Bytes, signature: Bytes): Promise<boolean> {
  if (signature.byteLength !== 64) return false;
  return subtle().verify(ECDSA_SHA256, key, signature, message);
}
