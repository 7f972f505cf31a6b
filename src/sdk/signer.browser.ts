// In a browser a user's key is imported into WebCrypto, non-extractable (crypto/webcrypto.ts
// importP256SigningKey + webCryptoSigner), and passed to the client as `signer`: the SDK never
// parses a PEM key in a page. Same exports as signer.ts.
import type { RequestSigner } from '../protocol/request-signing.ts';

export function keyObjectSigner(_certPem: string, _key: never): RequestSigner {
  throw new Error('node:crypto keys do not exist in a browser: pass a WebCrypto signer (crypto/webcrypto.ts)');
}

export function pemSigner(_certPem: string, _keyPem: string): RequestSigner {
  throw new Error('in a browser, import the key with importP256SigningKey (non-extractable) and pass `signer` to the client');
}
