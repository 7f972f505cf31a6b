// Node identities for a simulation run.
//
// 'ecdsa': every node gets a fresh P-256 key pair (src/crypto) — what a real node uses, and the
// default of `medledger sim`. ECDSA signatures are randomized (OpenSSL draws the nonce), so the
// signature bytes differ between two runs of one seed; their size (64 bytes) does not, and no
// engine may branch on signature bytes, so a replay decides the same blocks.
//
// 'fast': a keyed-hash signer: signature = HMAC-SHA512(secret_node, message), 64 bytes like a
// P1363 ECDSA signature so that message sizes and byte metrics are the same. The per-node secrets
// live only inside this module's closures: an engine (honest or Byzantine) holds its own signer
// and a verifier, never another node's secret, so it cannot produce another node's signature —
// the property the protocols rely on — at a fraction of ECDSA's cost. Secrets are derived from
// the seed, so 'fast' runs are bit-for-bit reproducible. Use it for large campaigns.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Bytes } from '../codec/index.ts';
import type { NodeId, Rng } from '../consensus/engine.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner, type Signer, type SignatureVerifier } from '../crypto/index.ts';
import type { KeyObject } from 'node:crypto';
import type { CryptoMode } from './types.ts';

export interface SimIdentities {
  signerOf(id: NodeId): Signer;
  readonly verifier: SignatureVerifier;
}

export function makeIdentities(mode: CryptoMode, ids: readonly NodeId[], rng: Rng): SimIdentities {
  return mode === 'ecdsa' ? ecdsaIdentities(ids) : fastIdentities(ids, rng);
}

function ecdsaIdentities(ids: readonly NodeId[]): SimIdentities {
  const publicKeys = new Map<string, KeyObject>();
  const signers = new Map<NodeId, Signer>();
  for (const id of ids) {
    const kp = generateKeyPair();
    publicKeys.set(id, kp.publicKey);
    signers.set(id, keyPairSigner(id, kp));
  }
  return { signerOf: (id) => lookup(signers, id), verifier: directoryVerifier(publicKeys) };
}

export const FAST_SIGNATURE_BYTES = 64;

function fastIdentities(ids: readonly NodeId[], rng: Rng): SimIdentities {
  const secrets = new Map<NodeId, Buffer>();
  for (const id of ids) {
    const secret = Buffer.alloc(32);
    for (let i = 0; i < secret.length; i++) secret[i] = rng.nextInt(256);
    secrets.set(id, secret);
  }
  const mac = (secret: Buffer, message: Bytes): Buffer => createHmac('sha512', secret).update(message).digest();
  const signers = new Map<NodeId, Signer>();
  for (const [id, secret] of secrets) signers.set(id, { id, sign: (message) => new Uint8Array(mac(secret, message)) });
  return {
    signerOf: (id) => lookup(signers, id),
    verifier: {
      verify(id, message, signature) {
        const secret = secrets.get(id);
        if (!secret || !(signature instanceof Uint8Array) || signature.byteLength !== FAST_SIGNATURE_BYTES) return false;
        return timingSafeEqual(mac(secret, message), signature);
      },
    },
  };
}

function lookup(signers: ReadonlyMap<NodeId, Signer>, id: NodeId): Signer {
  const s = signers.get(id);
  if (!s) throw new Error(`no simulated identity for node "${id}"`);
  return s;
}
