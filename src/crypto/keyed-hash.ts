// Keyed-hash identities (HMAC-SHA512, 64-byte "signatures") for in-process clusters and tests where
// generating and checking P-256 keys would be the slow part. Each node's secret is derived from its
// id, so the identities are for test and lab clusters only, never for a node: anyone who knows an
// id can sign as it. The engines only see the Signer / SignatureVerifier interfaces.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Bytes } from '../codec/index.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner, type KeyPair, type SignatureVerifier, type Signer } from './ecdsa.ts';

export const KEYED_HASH_SIGNATURE_BYTES = 64;

/** A signer per identity and one verifier that knows them all. */
export interface Identities {
  signerOf(id: string): Signer;
  readonly verifier: SignatureVerifier;
}

export function keyedHashIdentities(ids: readonly string[]): Identities {
  const secrets = new Map(ids.map((id) => [id, Buffer.from(`secret-${id}`)]));
  const mac = (id: string, m: Bytes): Uint8Array => new Uint8Array(createHmac('sha512', secrets.get(id)!).update(m).digest());
  return {
    signerOf: (id) => {
      if (!secrets.has(id)) throw new Error(`no identity ${id}`);
      return { id, sign: (m) => mac(id, m) };
    },
    verifier: {
      verify(id, message, signature) {
        if (!secrets.has(id) || signature.byteLength !== KEYED_HASH_SIGNATURE_BYTES) return false;
        return timingSafeEqual(mac(id, message), signature);
      },
    },
  };
}

/** Real P-256 identities; `keys` reuses key pairs (generating them is the slow part). */
export function ecdsaIdentities(ids: readonly string[], keys?: Map<string, KeyPair>): Identities {
  const publicKeys = new Map<string, KeyPair['publicKey']>();
  const signers = new Map<string, Signer>();
  for (const id of ids) {
    let kp = keys?.get(id);
    if (!kp) {
      kp = generateKeyPair();
      keys?.set(id, kp);
    }
    publicKeys.set(id, kp.publicKey);
    signers.set(id, keyPairSigner(id, kp));
  }
  return {
    signerOf: (id) => {
      const s = signers.get(id);
      if (!s) throw new Error(`no identity ${id}`);
      return s;
    },
    verifier: directoryVerifier(publicKeys),
  };
}
