// The node's HPKE key pair (decision 1150): an X25519 key with which custodians wrap the data
// keys they release to this node. Like the KEK (keystore.ts) it is created on first start in the
// node's data directory with mode 0600 and never leaves the node; its public half is published
// on chain (health contract `publishNodeKey`) so that a custodian wraps to the key it reads from
// its OWN copy of world state — never to a key the requester sends along with a request.
//
// The file holds the 32 raw private-key bytes; the public key is derived from them, so the two
// can never disagree. The raw encoding is exactly what @hpke/dhkem-x25519 serialises.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { sha256, toHex, type Bytes } from '../codec/index.ts';
import type { HpkeKeyPair } from '../offchain/index.ts';

export const X25519_KEY_BYTES = 32;
/** PKCS#8 DER prefix of an X25519 private key (RFC 8410): SEQUENCE { 0, { id-X25519 }, OCTET STRING { OCTET STRING(32) } }. */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export class NodeKeyError extends Error {
  override readonly name = 'NodeKeyError';
}

/** The X25519 public key of a raw private key. */
export function x25519PublicOf(privateKey: Bytes): Bytes {
  if (privateKey.byteLength !== X25519_KEY_BYTES) throw new NodeKeyError(`an X25519 private key is ${X25519_KEY_BYTES} bytes, got ${privateKey.byteLength}`);
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new NodeKeyError('X25519 public key derivation failed');
  return new Uint8Array(Buffer.from(x, 'base64url'));
}

/** A short, printable name of a public key for messages and logs. */
export function keyFingerprint(publicKey: Bytes): string {
  return toHex(sha256(publicKey)).slice(0, 16);
}

/** Read the node's HPKE key pair from `path`, creating it (mode 0600) on first use. */
export function loadOrCreateNodeKey(path: string): HpkeKeyPair {
  if (!existsSync(path)) {
    const d = generateKeyPairSync('x25519').privateKey.export({ format: 'jwk' }).d;
    if (typeof d !== 'string') throw new NodeKeyError('X25519 key generation failed');
    const tmp = `${path}.${toHex(randomBytes(4))}.tmp`;
    writeFileSync(tmp, Buffer.from(d, 'base64url'), { mode: 0o600 });
    renameSync(tmp, path);
  }
  // A private key readable by others is a leak waiting to happen: tighten it rather than refuse to start.
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  const privateKey = new Uint8Array(readFileSync(path));
  if (privateKey.byteLength !== X25519_KEY_BYTES)
    throw new NodeKeyError(`node HPKE key ${path} must be ${X25519_KEY_BYTES} bytes, found ${privateKey.byteLength}`);
  return { privateKey, publicKey: x25519PublicOf(privateKey) };
}
