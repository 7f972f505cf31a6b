// Signed requests: how an API client proves, on every request, that it holds the private key of
// a consortium certificate — no passwords, API keys or bearer tokens (nothing shared to leak).
// This module is the wire format only, shared by the server (api/auth.ts verifies) and every
// client (sdk/, and through it the web console); it runs in Node.js and in browsers.
//
//   headers   x-medledger-cert       base64 of the client certificate (PEM)
//             x-medledger-audience   <node id>@<consortium>: the node the request is addressed to and
//                                    its consortium's genesis block hash, hex (both in GET /v1/health)
//             x-medledger-timestamp  client clock, ms since the epoch (decimal)
//             x-medledger-nonce      16..64 random bytes, lowercase hex
//             x-medledger-signature  base64 of the ECDSA P-256 signature (64 bytes, P1363)
//   signed    "MEDLEDGER-REQUEST-V3\n" audience "\n" METHOD "\n" path+query "\n" timestamp "\n"
//             nonce "\n" hex(sha256(body bytes exactly as sent))
//
// The audience binds a request to one node: every node keeps its own replay cache, so without it
// a request accepted by node A could be replayed once at node B (decision 1005). It names the
// node's consortium as well (decision 1398): node ids repeat across consortia (node.Hospital1 in a
// hospital's staging and production consortia), and a hospital may enrol a user in both with one
// certificate; a request signed for one is then refused by the other.
import { randomBytes, sha256, toBase64, toHex, utf8, type Bytes } from '../codec/index.ts';
import type { AsyncSigner } from '../crypto/webcrypto.ts';

export const AUTH_HEADERS = {
  cert: 'x-medledger-cert',
  audience: 'x-medledger-audience',
  timestamp: 'x-medledger-timestamp',
  nonce: 'x-medledger-nonce',
  signature: 'x-medledger-signature',
} as const;

export const AUTH_SCHEME_VERSION = 'MEDLEDGER-REQUEST-V3';
/** How far a request's timestamp may be from the server's clock, either way. */
export const AUTH_CLOCK_WINDOW_MS = 5 * 60_000;
/** `<node id>@<genesis hash hex>`: node ids as the configuration allows them (node/config.ts), bounded. */
export const AUDIENCE_PATTERN = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})@([0-9a-f]{64})$/;

/** The audience of a request to node `nodeId` of the consortium whose genesis block hash is `consortiumHex`. */
export function requestAudience(nodeId: string, consortiumHex: string): string {
  return `${nodeId}@${consortiumHex}`;
}

/** The node id and consortium an audience names, or null when it is not an audience. */
export function parseAudience(audience: string): { nodeId: string; consortiumHex: string } | null {
  const m = AUDIENCE_PATTERN.exec(audience);
  return m ? { nodeId: m[1]!, consortiumHex: m[2]! } : null;
}

/** A user's certificate and a signer holding its private key (node:crypto or WebCrypto). */
export interface RequestSigner extends AsyncSigner {
  readonly certPem: string;
}

export function canonicalRequest(audience: string, method: string, pathAndQuery: string, timestampMs: string, nonceHex: string, body: Bytes): Bytes {
  return utf8([AUTH_SCHEME_VERSION, audience, method.toUpperCase(), pathAndQuery, timestampMs, nonceHex, toHex(sha256(body))].join('\n'));
}

/** Client side: the five headers for one request to the node `audience`. */
export async function signRequest(opts: {
  audience: string;
  method: string;
  pathAndQuery: string;
  body: Bytes;
  signer: RequestSigner;
  nowMs?: number;
}): Promise<Record<string, string>> {
  const timestamp = String(opts.nowMs ?? Date.now());
  const nonce = toHex(randomBytes(16));
  const signature = await opts.signer.sign(canonicalRequest(opts.audience, opts.method, opts.pathAndQuery, timestamp, nonce, opts.body));
  return {
    [AUTH_HEADERS.cert]: toBase64(utf8(opts.signer.certPem)),
    [AUTH_HEADERS.audience]: opts.audience,
    [AUTH_HEADERS.timestamp]: timestamp,
    [AUTH_HEADERS.nonce]: nonce,
    [AUTH_HEADERS.signature]: toBase64(signature),
  };
}
