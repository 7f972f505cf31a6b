// The edge every API request passes (issue 16, decisions 1000–1005): JSON bodies parsed from the
// raw bytes the request signature covers (with a nesting bound), one error handler, security
// headers, requests in flight counted per node, organisation and user, the signed-request check
// with its nonce cache, and a rate per user. Routes get `who(req)`: the authenticated caller.
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CodecError, decode, jsonNestingDepth, type Bytes } from '../codec/index.ts';
import { type Identity } from '../identity/index.ts';
import { GatewayError } from '../node/gateway.ts';
import { type Logger } from '../log/log.ts';
import type { NodeServices } from '../node/services.ts';
import { AuthError, AUTH_CLOCK_WINDOW_MS, AUTH_HEADERS, AUTH_NONCE_CACHE_MAX, NonceCache, verifyRequest } from './auth.ts';
import { CBOR_BODY_PATHS, CborBody } from './bodies.ts';
import { requestAudience } from '../protocol/request-signing.ts';
import { setSecurityHeaders } from './console.ts';
import { ApiError, gatewayError } from './errors.ts';
import type { ApiServerLimits } from './limits.ts';
import { CBOR_MEDIA_TYPE } from './schemas.ts';

const RATE_BUCKETS_MAX = 10_000;
/**
 * How deeply a request body may nest objects and arrays. Checked on the raw bytes before
 * JSON.parse, for every route: the parse itself survives any depth, but what handlers do next
 * (zod, the FHIR validator, JSON.stringify) recurses and overflowed the stack at a few thousand
 * levels (issue 16, item 8). A FHIR resource inside the deepest body (records/prepare) keeps 62
 * levels; real resources nest about ten (a Bundle entry's Observation component's coding: 9).
 */
export const JSON_NESTING_DEPTH_MAX = 64;

/** A request's place in the in-flight counts, from onRequest until its response closes. */
interface InFlightSlot {
  /** Authenticated as `user` of `org`: move from the unauthenticated count to theirs. */
  promote(user: string, org: string): void;
  /** Idempotent: the response is finished, or a stream took over. */
  release(): void;
}

/**
 * Counts per key (a user, an organisation). A key is forgotten when its count returns to zero,
 * so the map never holds more keys than there are requests (or streams) in flight.
 */
export class CountsByKey {
  private readonly counts = new Map<string, number>();
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  add(key: string): void {
    this.counts.set(key, this.get(key) + 1);
  }
  remove(key: string): void {
    const n = this.get(key) - 1;
    if (n > 0) this.counts.set(key, n);
    else this.counts.delete(key);
  }
}

class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {}
  take(key: string, nowMs: number): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= RATE_BUCKETS_MAX) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.burst, atMs: nowMs };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.atMs) * this.ratePerSecond) / 1000);
    b.atMs = nowMs;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

/** The longest path parameter the router matches (a transaction id is 64, a job id less). */
export const PATH_PARAM_CHARS_MAX = 128;

/**
 * Fastify's `frameworkErrors`: what the router refuses before any route, hook or error handler
 * runs (a path that is not a valid URL component, a path parameter over PATH_PARAM_CHARS_MAX).
 * Without it Fastify answers in its own shape; with it the caller gets the API's error body.
 */
export function frameworkError(
  err: { code?: string; message?: string },
  _req: unknown,
  reply: { code(status: number): { send(body: unknown): unknown } },
): void {
  const e =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? new ApiError(414, 'PATH_PARAM_TOO_LONG', `a path parameter is longer than ${PATH_PARAM_CHARS_MAX} characters`)
      : err.code === 'FST_ERR_BAD_URL'
        ? new ApiError(400, 'BAD_URL', 'the request path is not a valid URL (a malformed percent-encoding)')
        : new ApiError(400, 'BAD_REQUEST', (err.message ?? 'bad request').slice(0, 200));
  reply.code(e.status).send({ error: { code: e.code, message: e.message } });
}

export interface EdgeContext {
  readonly services: NodeServices;
  readonly limits: ApiServerLimits;
  readonly clock: () => number;
  readonly log: Logger;
  readonly bodyLimitBytes: number;
}

export interface Edge {
  /** The authenticated caller (401 on an open route). */
  who(req: FastifyRequest): Identity;
  identityOf(req: FastifyRequest): Identity | undefined;
  /** Give back a request's in-flight slot early (a stream that took over its response). */
  releaseSlot(req: FastifyRequest): void;
  /**
   * A POST route whose body is itself signed by its author (a signed proposal, a signed
   * transaction envelope): without a request signature, `authenticate` names the caller from the
   * body (certificate checked with the MSP, body signature verified) — decision 1300.
   */
  signedBodyRoute(path: string, authenticate: (body: unknown, nowMs: number) => Identity): void;
}

export function installEdge(app: FastifyInstance, ctx: EdgeContext): Edge {
  const { services, limits, clock, log } = ctx;
  const nonces = new NonceCache(AUTH_CLOCK_WINDOW_MS, AUTH_NONCE_CACHE_MAX);
  const rates = new TokenBuckets(limits.ratePerSecond, limits.rateBurst);
  const rawBodies = new WeakMap<FastifyRequest, Bytes>();
  const identities = new WeakMap<FastifyRequest, Identity>();
  const slots = new WeakMap<FastifyRequest, InFlightSlot>();
  const signedBodyRoutes = new Map<string, (body: unknown, nowMs: number) => Identity>();
  // Requests in flight (decision 1004): first counted as unauthenticated (anyone can send bytes),
  // then, once the signature names a user, against the node, the user's organisation and the user.
  let unauthenticated = 0;
  let handling = 0;
  const handlingByUser = new CountsByKey();
  const handlingByOrg = new CountsByKey();

  // JSON, parsed from the raw bytes so that the request signature covers exactly them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = new Uint8Array(body as Buffer);
    rawBodies.set(req, bytes);
    if (jsonNestingDepth(bytes, JSON_NESTING_DEPTH_MAX) > JSON_NESTING_DEPTH_MAX) {
      done(
        new ApiError(
          400,
          'TOO_DEEP',
          `request body nests objects and arrays deeper than ${JSON_NESTING_DEPTH_MAX} levels (at most ${JSON_NESTING_DEPTH_MAX} are accepted)`,
        ),
        undefined,
      );
      return;
    }
    try {
      done(null, bytes.byteLength === 0 ? undefined : JSON.parse(Buffer.from(bytes).toString('utf8')));
    } catch (err) {
      done(new ApiError(400, 'MALFORMED_JSON', `request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  // DAG-CBOR for the batch routes (decision 1320): byte strings instead of base64 in JSON. Also
  // parsed from the raw bytes (a request signature covers them), strictly (canonical DAG-CBOR
  // only) and with the decoder's nesting bound; the route checks the decoded shape exactly.
  app.addContentTypeParser(CBOR_MEDIA_TYPE, { parseAs: 'buffer' }, (req, body, done) => {
    const path = req.routeOptions.url;
    if (path === undefined || !CBOR_BODY_PATHS.has(path)) {
      done(
        new ApiError(
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          `${CBOR_MEDIA_TYPE} bodies are accepted by ${[...CBOR_BODY_PATHS].join(' and ')} only; send application/json`,
        ),
        undefined,
      );
      return;
    }
    const bytes = new Uint8Array(body as Buffer);
    rawBodies.set(req, bytes);
    try {
      done(null, new CborBody(decode(bytes)));
    } catch (err) {
      if (err instanceof CodecError) done(new ApiError(400, 'MALFORMED_CBOR', `request body is not canonical DAG-CBOR: ${err.message}`), undefined);
      else done(err as Error, undefined);
    }
  });

  const sendError = (reply: FastifyReply, e: ApiError): FastifyReply =>
    reply.code(e.status).send({ error: { code: e.code, message: e.message, ...(e.txId !== undefined ? { txId: e.txId } : {}) } });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof ApiError) return sendError(reply, err);
    if (err instanceof AuthError) return sendError(reply, new ApiError(err.code === 'BUSY' ? 429 : 401, err.code, err.message));
    if (err instanceof GatewayError) return sendError(reply, gatewayError(err));
    const fe = err as { code?: string; statusCode?: number; message?: string };
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return sendError(reply, new ApiError(413, 'BODY_TOO_LARGE', `request body exceeds ${ctx.bodyLimitBytes} bytes`));
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return sendError(
        reply,
        new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `send bodies as application/json (or ${CBOR_MEDIA_TYPE} to ${[...CBOR_BODY_PATHS].join(' and ')})`),
      );
    if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
      return sendError(reply, new ApiError(400, 'BAD_REQUEST', fe.message ?? 'bad body'));
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500)
      return sendError(reply, new ApiError(fe.statusCode, 'BAD_REQUEST', fe.message ?? 'bad request'));
    log.error({ url: req.url.slice(0, 200), reason: fe.message }, 'api: internal error');
    return sendError(reply, new ApiError(500, 'INTERNAL', 'internal error (logged on the node)'));
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, new ApiError(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`)));

  // Only the API under /v1 is authenticated (but its liveness probe); the console's static page and
  // assets are public — they hold no data, and a user must sign in before the page can ask for any.
  // Probes (liveness, readiness) and /metrics are open too: schedulers and scrapers hold no keys.
  // What a request to this node must be signed for: its id and its consortium (decisions 1005, 1398).
  const audience = requestAudience(services.nodeId, services.genesisHashHex);
  const isOpen = (path: string): boolean => path === '/v1/health' || path === '/v1/ready' || !path.startsWith('/v1/');
  app.addHook('onRequest', async (req, reply) => {
    setSecurityHeaders(reply, (req.socket as TLSSocket).encrypted === true);
    if (unauthenticated >= limits.unauthenticatedInFlightMax)
      throw new ApiError(429, 'TOO_MANY_REQUESTS', `the node is receiving ${limits.unauthenticatedInFlightMax} requests; retry shortly`);
    unauthenticated += 1;
    let holder: { user: string; org: string } | 'unauthenticated' | 'released' = 'unauthenticated';
    const slot: InFlightSlot = {
      promote(user, org) {
        if (holder !== 'unauthenticated') return;
        unauthenticated -= 1;
        handling += 1;
        handlingByUser.add(user);
        handlingByOrg.add(org);
        holder = { user, org };
      },
      // 'close' fires once per response however it ends (sent, hijacked stream closed, aborted).
      release() {
        if (holder === 'released') return;
        if (holder === 'unauthenticated') unauthenticated -= 1;
        else {
          handling -= 1;
          handlingByUser.remove(holder.user);
          handlingByOrg.remove(holder.org);
        }
        holder = 'released';
      },
    };
    reply.raw.once('close', () => slot.release());
    slots.set(req, slot);
  });
  app.addHook('onResponse', async (req, reply) => {
    slots.get(req)?.release();
    // The route pattern (/v1/tx/:txId), never the URL: no ids in metric labels, and bounded cardinality.
    const route = req.routeOptions.url ?? 'unmatched';
    services.metrics?.apiRequests.inc({ route, status: String(reply.statusCode) });
    services.metrics?.apiRequestSeconds.observe({ route }, reply.elapsedTime / 1000);
  });
  app.addHook('preHandler', async (req) => {
    const path = req.url.split('?')[0]!;
    // A route may declare itself open (`config: { unauthenticated: true }`): enrolment, whose
    // caller has no certificate yet and is gated by a secret and its own limits instead.
    if (isOpen(path) || (req.routeOptions.config as { unauthenticated?: boolean } | undefined)?.unauthenticated === true) return;
    const nowMs = clock();
    const byBody = req.method === 'POST' && req.headers[AUTH_HEADERS.signature] === undefined ? signedBodyRoutes.get(path) : undefined;
    const identity = byBody
      ? byBody(req.body, nowMs)
      : verifyRequest({
          method: req.method,
          pathAndQuery: req.url,
          headers: req.headers,
          body: rawBodies.get(req) ?? new Uint8Array(0),
          msp: services.msp,
          nonces,
          nowMs,
          audience,
        });
    if (!rates.take(identity.serialHex, nowMs))
      throw new ApiError(429, 'RATE_LIMITED', `${identity.org}/${identity.id} exceeds ${limits.ratePerSecond} requests per second`);
    identities.set(req, identity);
  });
  const who = (req: FastifyRequest): Identity => {
    const id = identities.get(req);
    if (!id) throw new ApiError(401, 'UNAUTHENTICATED', 'request is not authenticated');
    return id;
  };
  // After authentication (the hook above): one user, or one organisation's users, cannot take
  // every slot of the node and starve the others (issue 16, item 7; decision 1004).
  app.addHook('preHandler', async (req) => {
    const id = identities.get(req);
    if (!id) return; // an open route: it stays counted as unauthenticated
    const user = `${id.org}/${id.id}`;
    if (handlingByUser.get(user) >= limits.inFlightPerUserMax)
      throw new ApiError(
        429,
        'TOO_MANY_REQUESTS',
        `${user} already has ${limits.inFlightPerUserMax} requests in flight on this node (at most ${limits.inFlightPerUserMax} per user); wait for them to finish`,
      );
    if (handlingByOrg.get(id.org) >= limits.inFlightPerOrgMax)
      throw new ApiError(
        429,
        'TOO_MANY_REQUESTS',
        `the users of ${id.org} already have ${limits.inFlightPerOrgMax} requests in flight on this node (at most ${limits.inFlightPerOrgMax} per organisation); retry shortly`,
      );
    if (handling >= limits.inFlightMax) throw new ApiError(429, 'TOO_MANY_REQUESTS', `the node is handling ${limits.inFlightMax} requests; retry shortly`);
    slots.get(req)?.promote(user, id.org);
  });

  return {
    who,
    identityOf: (req) => identities.get(req),
    releaseSlot: (req) => slots.get(req)?.release(),
    signedBodyRoute: (path, authenticate) => {
      signedBodyRoutes.set(path, authenticate);
    },
  };
}
