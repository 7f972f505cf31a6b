// Envelope encryption of health data: every record part gets a fresh 256-bit data key and is
// sealed with AES-256-GCM (nonce ‖ ciphertext ‖ tag). The data key is then wrapped — by the
// custodian node's key-encryption key (KEK) for storage, and per recipient with HPKE (X25519)
// when shared. Destroying every wrapped copy of the data key crypto-shreds the record.
//
// The chain never sees a bare hash of the plaintext (low-entropy health data could be guessed
// and confirmed): it gets a keyed commitment HMAC-SHA256(commitKey, plaintext) whose commitKey
// is derived from the part's data key (decision 1100), so it reaches exactly the readers the
// data key reaches — across hospitals, HPKE-wrapped to the requesting node (decision 1150).
import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Aes256Gcm, CipherSuite, HkdfSha256 } from '@hpke/core';
import { DhkemX25519HkdfSha256 } from '@hpke/dhkem-x25519';
import type { Bytes } from '../codec/index.ts';

export const DATA_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

export function newDataKey(): Bytes {
  return new Uint8Array(randomBytes(DATA_KEY_BYTES));
}

/** AES-256-GCM seal; `aad` binds the ciphertext to its context (record id, part, version). */
export function seal(key: Bytes, plaintext: Bytes, aad: Bytes): Bytes {
  if (key.byteLength !== DATA_KEY_BYTES) throw new RangeError(`data key must be ${DATA_KEY_BYTES} bytes`);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return new Uint8Array(Buffer.concat([nonce, body, cipher.getAuthTag()]));
}

export function open(key: Bytes, sealed: Bytes, aad: Bytes, what = 'ciphertext'): Bytes {
  if (sealed.byteLength < NONCE_BYTES + TAG_BYTES) throw new IntegrityError(`${what} is too short to be sealed data`);
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, NONCE_BYTES));
  decipher.setAAD(aad);
  decipher.setAuthTag(buf.subarray(buf.byteLength - TAG_BYTES));
  try {
    return new Uint8Array(Buffer.concat([decipher.update(buf.subarray(NONCE_BYTES, buf.byteLength - TAG_BYTES)), decipher.final()]));
  } catch {
    throw new IntegrityError(`${what} failed authentication (tampered, or the wrong key)`);
  }
}

export function commit(commitKey: Bytes, plaintext: Bytes): Bytes {
  return new Uint8Array(createHmac('sha256', commitKey).update(plaintext).digest());
}

export function checkCommitment(commitKey: Bytes, plaintext: Bytes, expected: Bytes): boolean {
  const actual = commit(commitKey, plaintext);
  return actual.byteLength === expected.byteLength && timingSafeEqual(actual, expected);
}

// --- HPKE (RFC 9180) for sharing data keys with another node or user --------------------------

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

export interface HpkeKeyPair {
  readonly publicKey: Bytes;
  readonly privateKey: Bytes;
}

export async function generateHpkeKeyPair(): Promise<HpkeKeyPair> {
  const pair = await suite.kem.generateKeyPair();
  return {
    publicKey: new Uint8Array(await suite.kem.serializePublicKey(pair.publicKey)),
    privateKey: new Uint8Array(await suite.kem.serializePrivateKey(pair.privateKey)),
  };
}

export interface WrappedKey {
  /** HPKE encapsulated key. */
  readonly enc: Bytes;
  readonly ciphertext: Bytes;
}

/** Wrap a data key for a recipient's X25519 public key; `info` binds it to the record. */
export async function wrapForRecipient(recipientPublicKey: Bytes, dataKey: Bytes, aad: Bytes): Promise<WrappedKey> {
  const recipient = await suite.kem.deserializePublicKey(recipientPublicKey);
  const sealed = await suite.seal({ recipientPublicKey: recipient }, dataKey, aad);
  return { enc: new Uint8Array(sealed.enc), ciphertext: new Uint8Array(sealed.ct) };
}

export async function unwrapAsRecipient(recipientPrivateKey: Bytes, wrapped: WrappedKey, aad: Bytes): Promise<Bytes> {
  const key = await suite.kem.deserializePrivateKey(recipientPrivateKey);
  try {
    return new Uint8Array(await suite.open({ recipientKey: key, enc: wrapped.enc }, wrapped.ciphertext, aad));
  } catch {
    throw new IntegrityError('wrapped key failed to open (not for this recipient, or tampered)');
  }
}
