// Server side of signed requests (the wire format is src/protocol/request-signing.ts, shared
// with every client): the server checks the certificate with the MSP (chain to a consortium org
// CA, validity now, revocation), that the request is addressed to this node, the signature, that
// the timestamp is within a window of its own clock, and that the nonce was not seen inside that
// window (a bounded cache; a nonce older than the window is rejected by the timestamp check, so
// forgetting it is safe).
import type { Bytes } from '../codec/index.ts';
import { verify } from '../crypto/index.ts';
import { IdentityError, type Identity, type Msp } from '../identity/index.ts';
import { AUTH_CLOCK_WINDOW_MS, AUTH_HEADERS, AUTH_SCHEME_VERSION, canonicalRequest, parseAudience } from '../protocol/request-signing.ts';
import { verifyBatchable } from '../crypto/batch-signature.ts';

export { AUTH_CLOCK_WINDOW_MS, AUTH_HEADERS, AUTH_SCHEME_VERSION, canonicalRequest, signRequest, type RequestSigner } from '../protocol/request-signing.ts';
export const AUTH_NONCE_CACHE_MAX = 100_000;
const CERT_HEADER_BYTES_MAX = 16 * 1024;

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Nonces seen within the clock window. Bounded: when full, the oldest entries are dropped, and
 * only if they are already outside the window; otherwise new requests are refused (fail closed:
 * forgetting a live nonce would re-open replay).
 */
export class NonceCache {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly windowMs: number,
    private readonly entriesMax: number,
  ) {}

  /** Record a nonce; false if it was already seen. Throws AuthError when the cache is full of live nonces. */
  add(nonce: string, nowMs: number): boolean {
    if (this.seen.has(nonce)) return false;
    if (this.seen.size >= this.entriesMax) {
      // Map iteration is insertion order: the first entries are the oldest.
      for (const [n, atMs] of this.seen) {
        if (atMs >= nowMs - 2 * this.windowMs || this.seen.size < this.entriesMax) break;
        this.seen.delete(n);
      }
      if (this.seen.size >= this.entriesMax) throw new AuthError('BUSY', 'too many requests within the replay window; retry later');
    }
    this.seen.set(nonce, nowMs);
    return true;
  }

  get size(): number {
    return this.seen.size;
  }
}

export interface VerifyRequestInput {
  readonly method: string;
  readonly pathAndQuery: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Bytes;
  readonly msp: Msp;
  readonly nonces: NonceCache;
  readonly nowMs: number;
  /** This node's audience (requestAudience: its id and its consortium): requests signed for another are refused. */
  readonly audience: string;
  readonly windowMs?: number;
}

function header(headers: VerifyRequestInput['headers'], name: string): string {
  const v = headers[name];
  if (v === undefined)
    throw new AuthError('UNAUTHENTICATED', `missing header ${name} (requests are signed with the client's certificate key; see /openapi.json)`);
  if (Array.isArray(v)) throw new AuthError('UNAUTHENTICATED', `header ${name} is repeated`);
  return v;
}

/** Server side: the authenticated identity, or AuthError naming what is wrong. */
export function verifyRequest(input: VerifyRequestInput): Identity {
  const certB64 = header(input.headers, AUTH_HEADERS.cert);
  const audience = header(input.headers, AUTH_HEADERS.audience);
  const timestamp = header(input.headers, AUTH_HEADERS.timestamp);
  const nonce = header(input.headers, AUTH_HEADERS.nonce);
  const signatureB64 = header(input.headers, AUTH_HEADERS.signature);
  if (certB64.length > CERT_HEADER_BYTES_MAX || !/^[A-Za-z0-9+/]+={0,2}$/.test(certB64))
    throw new AuthError('UNAUTHENTICATED', `${AUTH_HEADERS.cert} must be base64 of a PEM certificate (at most ${CERT_HEADER_BYTES_MAX} characters)`);
  const signedFor = parseAudience(audience);
  if (!signedFor)
    throw new AuthError(
      'UNAUTHENTICATED',
      `${AUTH_HEADERS.audience} must be <node id>@<consortium genesis hash, hex> of the node the request is addressed to (GET /v1/health tells both; ${AUTH_SCHEME_VERSION})`,
    );
  if (audience !== input.audience) {
    const self = parseAudience(input.audience);
    throw new AuthError(
      'WRONG_AUDIENCE',
      self && signedFor.nodeId === self.nodeId
        ? `this request was signed for node ${signedFor.nodeId} of consortium ${signedFor.consortiumHex.slice(0, 16)}…, but this node is of consortium ${self.consortiumHex.slice(0, 16)}…: sign for the consortium of the node the request is sent to`
        : `this request was signed for node ${signedFor.nodeId}, but this is node ${self?.nodeId ?? input.audience}: sign each request for the node it is sent to`,
    );
  }
  if (!/^\d{1,15}$/.test(timestamp)) throw new AuthError('UNAUTHENTICATED', `${AUTH_HEADERS.timestamp} must be milliseconds since the epoch`);
  if (!/^[0-9a-f]{32,128}$/.test(nonce)) throw new AuthError('UNAUTHENTICATED', `${AUTH_HEADERS.nonce} must be 16 to 64 bytes as lowercase hex`);
  if (!/^[A-Za-z0-9+/]{86}==$/.test(signatureB64))
    throw new AuthError('UNAUTHENTICATED', `${AUTH_HEADERS.signature} must be base64 of a 64-byte P-256 signature`);
  const windowMs = input.windowMs ?? AUTH_CLOCK_WINDOW_MS;
  const skewMs = Number(timestamp) - input.nowMs;
  if (Math.abs(skewMs) > windowMs) {
    throw new AuthError(
      'STALE_REQUEST',
      `request timestamp is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs < 0 ? 'behind' : 'ahead of'} the server clock (window ±${windowMs / 1000} s)`,
    );
  }
  const certPem = Buffer.from(certB64, 'base64').toString('utf8');
  let identity: Identity;
  try {
    identity = input.msp.validate(certPem, input.nowMs);
  } catch (err) {
    if (err instanceof IdentityError) throw new AuthError(`CERT_${err.code}`, `client certificate rejected: ${err.message}`);
    throw err;
  }
  const signature = new Uint8Array(Buffer.from(signatureB64, 'base64'));
  if (!verify(identity.publicKey, canonicalRequest(audience, input.method, input.pathAndQuery, timestamp, nonce, input.body), signature)) {
    throw new AuthError(
      'BAD_SIGNATURE',
      `request signature does not verify for ${identity.org}/${identity.id} (sign the audience, method, path+query, timestamp, nonce and sha256 of the exact body)`,
    );
  }
  // Only a correctly signed request consumes a nonce: strangers cannot fill the cache.
  if (!input.nonces.add(nonce, input.nowMs)) throw new AuthError('REPLAYED', `nonce ${nonce} was already used: a replayed request`);
  return identity;
}

/**
 * Server side of a signed body (decision 1300): a request to /v1/endorse or /v1/submit whose body
 * is a proposal or transaction envelope signed by its creator needs no request signature. The
 * caller is the creator: its certificate is checked with the MSP (chain, validity now,
 * revocation) and the body's signature verified with its key. `freshMs`, when given, bounds how
 * far the body's own timestamp may be from this node's clock (a proposal: the window of request
 * timestamps); replays of a submitted envelope are answered by txId and never ordered twice.
 */
export function authenticateSignedBody(input: {
  readonly creatorPem: string;
  readonly message: Bytes;
  readonly signature: Bytes;
  readonly what: 'proposal' | 'transaction';
  readonly msp: Msp;
  readonly nowMs: number;
  readonly timestampMs?: number;
  readonly windowMs?: number;
}): Identity {
  if (input.timestampMs !== undefined) {
    const windowMs = input.windowMs ?? AUTH_CLOCK_WINDOW_MS;
    const skewMs = input.timestampMs - input.nowMs;
    if (Math.abs(skewMs) > windowMs)
      throw new AuthError(
        'STALE_REQUEST',
        `the ${input.what} timestamp is ${Math.round(Math.abs(skewMs) / 1000)} s ${skewMs < 0 ? 'behind' : 'ahead of'} the server clock (window ±${windowMs / 1000} s): build a new ${input.what}, or sign the request`,
      );
  }
  let identity: Identity;
  try {
    identity = input.msp.validate(input.creatorPem, input.nowMs);
  } catch (err) {
    if (err instanceof IdentityError) throw new AuthError(`CERT_${err.code}`, `${input.what} creator certificate rejected: ${err.message}`);
    throw err;
  }
  // A proposal or transaction the client signed in a batch carries a batch signature (decision 1384).
  if (!verifyBatchable(verify, identity.publicKey, input.message, input.signature))
    throw new AuthError(
      'BAD_SIGNATURE',
      `the ${input.what} signature does not verify with its creator's key (${identity.org}/${identity.id}); sign the exact ${input.what === 'proposal' ? 'proposal' : 'txPayload'} bytes`,
    );
  return identity;
}
