// ECDSA P-256 over SHA-256 through node:crypto. Signatures use the fixed-size IEEE P1363
// form (r‖s, 64 bytes) so that signed structures have a predictable size.
// Parsed KeyObjects are cached: parsing a PEM/DER key costs more than verifying with it.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
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

/**
 * Sign, and remember the signature as verified (issue 13): for what this process will itself
 * check again — a peer's endorsement (its node's gateway and validation), an orderer's block
 * header (its node's peer). A signature made with a private key verifies under its public key;
 * the memo keys by the public key's SPKI hash, so the certificate's key later finds the entry.
 * Clients use `sign`: they never verify what they sign, and the entry would cost a hash.
 */
export function signAndRemember(privateKey: KeyObject, message: Bytes): Bytes {
  const signature = sign(privateKey, message);
  memo.add(memo.entry(privateKey, message, signature));
  return signature;
}

/**
 * Signatures already verified in this process, so that each is verified once per process (issue
 * 13): in one node the gateway, the orderer's admission and the peer's validation all check the
 * same envelope signature, and the gateway and every peer the same endorsements. An entry is
 * SHA-256(key ‖ signature ‖ message) of a triple that verified true; ECDSA verification is
 * deterministic, so a triple that verified once verifies forever. Only successes are stored (a
 * failure is always recomputed), and a hit needs a SHA-256 collision to be wrong. Bounded: the
 * oldest entries are evicted first (FIFO), so memory stays under about entriesMax × 100 bytes.
 */
export class VerifiedSignatureMemo {
  private readonly keyIds = new WeakMap<KeyObject, Buffer>();
  private readonly entries = new Set<string>();

  constructor(readonly entriesMax: number) {
    if (!Number.isInteger(entriesMax) || entriesMax < 0) throw new RangeError('entriesMax must be a non-negative integer');
  }

  get size(): number {
    return this.entries.size;
  }

  private keyId(key: KeyObject): Buffer {
    let id = this.keyIds.get(key);
    if (id === undefined) {
      const pub = key.type === 'public' ? key : createPublicKey(key);
      id = createHash('sha256')
        .update(pub.export({ type: 'spki', format: 'der' }))
        .digest();
      this.keyIds.set(key, id);
    }
    return id;
  }

  /** The entry for a triple: key id (32 bytes) and signature (64) are fixed-size, so the concatenation is unambiguous. */
  entry(publicKey: KeyObject, message: Bytes, signature: Bytes): string {
    return createHash('sha256').update(this.keyId(publicKey)).update(signature).update(message).digest('base64');
  }

  has(entry: string): boolean {
    return this.entries.has(entry);
  }

  add(entry: string): void {
    if (this.entriesMax === 0 || this.entries.has(entry)) return;
    if (this.entries.size >= this.entriesMax) {
      const oldest = this.entries.values().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.add(entry);
  }

  /** Bumped by clear(): entries of an older generation (the by-object fast path's) are void. */
  generation = 0;

  clear(): void {
    this.entries.clear();
    this.generation += 1;
  }
}

/** About 20 blocks' worth of a busy network's signatures; ~10 MB at most. */
export const VERIFIED_SIGNATURES_MAX = 100_000;
const memo = new VerifiedSignatureMemo(VERIFIED_SIGNATURES_MAX);

/** The process-wide memo (tests: clear it, read its size). */
export function verifiedSignatureMemo(): VerifiedSignatureMemo {
  return memo;
}

/**
 * The triples verified (or signed) in this process, by the signature's bytes object: the gateway,
 * the orderer and the peer of one node check the same parsed signature, key and message objects,
 * and then need not even hash them (issue 13). Only a hit on all three identities counts; any
 * other object goes through the hashed memo. Weak: entries die with their signature objects.
 */
const verifiedObjects = new WeakMap<Bytes, { readonly publicKey: KeyObject; readonly message: Bytes; readonly generation: number }>();

/** Never throws on a malformed signature: a bad signature is simply not valid. */
export function verify(publicKey: KeyObject, message: Bytes, signature: Bytes): boolean {
  if (signature.byteLength !== SIGNATURE_SIZE_BYTES) return false;
  const known = verifiedObjects.get(signature);
  if (known !== undefined && known.publicKey === publicKey && known.message === message && known.generation === memo.generation) {
    counters.verifyCacheHits += 1;
    return true;
  }
  const entry = memo.entry(publicKey, message, signature);
  if (memo.has(entry)) {
    counters.verifyCacheHits += 1;
    verifiedObjects.set(signature, { publicKey, message, generation: memo.generation });
    return true;
  }
  const ok = verifyUncached(publicKey, message, signature);
  if (ok) {
    memo.add(entry);
    verifiedObjects.set(signature, { publicKey, message, generation: memo.generation });
  }
  return ok;
}

/** The ECDSA verification itself, every time (the benchmark's rate measurement; counted). */
export function verifyUncached(publicKey: KeyObject, message: Bytes, signature: Bytes): boolean {
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
