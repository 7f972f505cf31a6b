// A user's RequestSigner on Node.js: the PEM key parsed with node:crypto (the fast path for the
// CLI, the bench and tests). The browser build swaps this file for signer.browser.ts.
import type { KeyObject } from 'node:crypto';
import { parsePrivateKey, sign } from '../crypto/ecdsa.ts';
import type { RequestSigner } from '../protocol/request-signing.ts';

export function keyObjectSigner(certPem: string, key: KeyObject): RequestSigner {
  return { certPem, sign: async (message) => sign(key, message) };
}

/** Throws CryptoError naming the problem when `keyPem` is not a P-256 private key. */
export function pemSigner(certPem: string, keyPem: string): RequestSigner {
  return keyObjectSigner(certPem, parsePrivateKey(keyPem));
}
