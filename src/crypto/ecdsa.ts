// ECDSA P-256 over SHA-256 through node:crypto. Signatures use the fixed-size IEEE P1363
// form (r‖s, 64 bytes) so that signed structures have a predictable size.
// Parsed KeyObjects are cached: parsing a PEM/DER key costs more than verifying with it.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import type { Bytes } from '../codec/index.ts';

export const SIGNATURE_SIZE_BYTES = 64;

export interface KeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
}

export function generateKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKey };
}

/**
 * ECDSA operations this process has done (counted, not estimated): the benchmark reads them from
 * every node's /metrics before and after a run (signs and verifies per transaction, issue 13).
 * Process-wide: nodes that share a process (tests, the in-process bench) share the counts.
 */
export interface CryptoCounters {
  /** ECDSA signatures made. */
  signs: number;
  /** ECDSA verifications computed (cache hits of the verified-signature memo are not among them). */
  verifies: number;
  /** Verifications answered by the memo of signatures already verified in this process. */
  verifyCacheHits: number;
}

const counters: CryptoCounters = { signs: 0, verifies: 0, verifyCacheHits: 0 };

/** A snapshot of this process's ECDSA counters. */
export function cryptoCounters(): Readonly<CryptoCounters> {
  return { ...counters };
}

export function sign(privateKey: KeyObject, message: Bytes): Bytes {
  counters.signs += 1;
  return new Uint8Array(nodeSign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' }));
}

/** Never throws on a malformed signature: a bad signature is simply not valid. */
export function verify(publicKey: KeyObject, message: Bytes, signature: Bytes): boolean {
  if (signature.byteLength !== SIGNATURE_SIZE_BYTES) return false;
  counters.verifies += 1;
  try {
    return nodeVerify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** SPKI DER of a public key: the canonical byte form used in certificates and on the wire. */
export function publicKeyToDer(publicKey: KeyObject): Bytes {
  return new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
}

export function privateKeyToPem(privateKey: KeyObject): string {
  return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function publicKeyToPem(publicKey: KeyObject): string {
  return publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

const CACHE_ENTRIES_MAX = 4096;
const publicKeyCache = new Map<string, KeyObject>();

function remember(cacheKey: string, key: KeyObject): KeyObject {
  if (publicKeyCache.size >= CACHE_ENTRIES_MAX) {
    // Evict the oldest entry (Map keeps insertion order): a bounded cache, never a leak.
    const oldest = publicKeyCache.keys().next().value;
    if (oldest !== undefined) publicKeyCache.delete(oldest);
  }
  publicKeyCache.set(cacheKey, key);
  return key;
}

/** Parse (and cache) a P-256 public key from SPKI DER bytes or PEM text. */
export function parsePublicKey(input: Bytes | string): KeyObject {
  const cacheKey = typeof input === 'string' ? input : Buffer.from(input).toString('base64');
  const cached = publicKeyCache.get(cacheKey);
  if (cached) return cached;
  let key: KeyObject;
  try {
    key = typeof input === 'string' ? createPublicKey(input) : createPublicKey({ key: Buffer.from(input), format: 'der', type: 'spki' });
  } catch (err) {
    throw new CryptoError(`not a valid public key: ${(err as Error).message}`);
  }
  assertP256(key);
  return remember(cacheKey, key);
}

export function parsePrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new CryptoError(`not a valid private key: ${(err as Error).message}`);
  }
  assertP256(key);
  return key;
}

function assertP256(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CryptoError(`expected an ECDSA P-256 key, got ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''}`.trim());
  }
}

/** Something that signs on behalf of one identity (a node, a user). */
export interface Signer {
  readonly id: string;
  sign(message: Bytes): Bytes;
}

/** Checks a signature claimed to be by identity `id`. Unknown ids are simply not valid. */
export interface SignatureVerifier {
  verify(id: string, message: Bytes, signature: Bytes): boolean;
}

export function keyPairSigner(id: string, keyPair: KeyPair): Signer {
  return { id, sign: (message) => sign(keyPair.privateKey, message) };
}

/** A verifier over a fixed directory of public keys (e.g. the consortium's orderer nodes). */
export function directoryVerifier(publicKeys: ReadonlyMap<string, KeyObject>): SignatureVerifier {
  return {
    verify(id, message, signature) {
      const key = publicKeys.get(id);
      return key !== undefined && verify(key, message, signature);
    },
  };
}
