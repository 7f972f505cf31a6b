// The node's client gateway as a REST/JSON API over HTTPS (DESIGN §4, after Fabric's Gateway):
// evaluate, endorse (the server collects the endorsements the contract's policy needs, this
// node's peer first), submit, commit status, blocks and a Server-Sent Events stream.
//
// Edge discipline: every request is bounded (body size, header size, in-flight requests, per
// client rate, open event streams, wait times); every input is parsed with a zod schema
// (schemas.ts) before use; every client except on /v1/health and /openapi.json authenticates
// with a signed request (auth.ts); every error is JSON {error: {code, message}} with an HTTP
// status that says whose problem it is. The server holds no keys but the node's TLS key: the
// client signs its proposal and its transaction itself (the server cannot forge either).
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { encode, jsonNestingDepth, toHex, type Bytes } from '../codec/index.ts';
import { verify } from '../crypto/index.ts';
import { evaluatePolicy, type Identity } from '../identity/index.ts';
import { blockHash, encodeBlock, type StoredBlock } from '../ledger/block.ts';
import type { BlockCommitEvent } from '../ledger/ledger.ts';
import { encodeConfig } from '../ledger/config.ts';
import { configUpdatePolicyText } from '../ledger/config-update.ts';
import { decodeProposal, decodeSignedProposal, parseAll, parseTx, TxFormatError, type ParsedTx, type SignedProposal, type TxPayload, type TxProposal } from '../ledger/tx.ts';
import { collectEndorsements, GatewayError, type EndorserClient } from '../node/gateway.ts';
import type { NodeConfig } from '../node/config.ts';
import { RateLimitedLog, type Logger } from '../log/log.ts';
import type { BroadcastResult, KnownTx } from '../node/orderer.ts';
import type { NodeServices } from '../node/services.ts';
import { AuthError, AUTH_CLOCK_WINDOW_MS, AUTH_NONCE_CACHE_MAX, NonceCache, verifyRequest } from './auth.ts';
import { registerConsole, setSecurityHeaders, type ConsoleOptions } from './console.ts';
import { LabJobs } from './lab-jobs.ts';
import { registerLabRoutes } from './lab-routes.ts';
import {
  BlockParams,
  EventsQuery,
  openApiDocument,
  SignedProposalRequest,
  SubmitRequest,
  TxStatusParams,
  WaitQuery,
  type BlockEventT,
  type BlockResponseT,
  type ConfigResponseT,
  type ContractEventT,
  type EndorseResponseT,
  type TxStatusT,
  type WhoAmIResponseT,
  type LogLevelResponseT,
  LogLevelRequest,
  type RawBlockResponseT,
} from './schemas.ts';

export interface ApiServerLimits {
  /**
   * Requests not yet authenticated (body being received, signature being checked), node-wide;
   * beyond it: 429. /v1/health and /openapi.json count here for their whole life.
   */
  readonly unauthenticatedInFlightMax: number;
  /** Authenticated requests being handled at once, node-wide (event streams excluded); beyond it: 429. */
  readonly inFlightMax: number;
  /** ... of the users of one organisation together; beyond it: 429 (decision 1004). */
  readonly inFlightPerOrgMax: number;
  /** ... of one user (organisation + id, whatever certificate); beyond it: 429 (decision 1004). */
  readonly inFlightPerUserMax: number;
  /** Per client certificate: sustained requests per second and burst (token bucket); beyond it: 429. */
  readonly ratePerSecond: number;
  readonly rateBurst: number;
  /** Open Server-Sent Events streams; beyond it: 503. */
  readonly eventStreamsMax: number;
  /** ... of one organisation's users together, and of one user; beyond either: 429. */
  readonly eventStreamsPerOrgMax: number;
  readonly eventStreamsPerUserMax: number;
  /** A stream whose client does not read is closed once this much is buffered for it. */
  readonly eventStreamBufferBytesMax: number;
  readonly eventStreamHeartbeatMs: number;
  /** Orgs whose peer was unreachable are skipped for endorsement this long. */
  readonly endorserBackoffMs: number;
  /** An endorser still silent after this long gets a spare asked beside it (hedging). */
  readonly endorseHedgeAfterMs: number;
}

export const DEFAULT_API_LIMITS: ApiServerLimits = {
  unauthenticatedInFlightMax: 512,
  inFlightMax: 512,
  inFlightPerOrgMax: 256,
  // The SDK keeps up to 64 connections to a node: one client at full stretch is not refused.
  inFlightPerUserMax: 64,
  ratePerSecond: 2000,
  rateBurst: 4000,
  eventStreamsMax: 64,
  eventStreamsPerOrgMax: 32,
  eventStreamsPerUserMax: 8,
  eventStreamBufferBytesMax: 8 * 1024 * 1024,
  eventStreamHeartbeatMs: 15_000,
  endorserBackoffMs: 5_000,
  // Above the p99 of a loaded consortium on this machine (~0.7 s), so hedging adds work only
  // when an endorser is really stuck (a partition that has not closed the connection yet).
  endorseHedgeAfterMs: 1_000,
};

/** The limits a node's configuration sets (node.yaml `limits.api*`); the rest keep their defaults. */
export function apiLimitsOf(config: Pick<NodeConfig, 'limits'>): Partial<ApiServerLimits> {
  const l = config.limits;
  return {
    ...(l.apiInFlightMax !== undefined ? { inFlightMax: l.apiInFlightMax } : {}),
    ...(l.apiInFlightPerOrgMax !== undefined ? { inFlightPerOrgMax: l.apiInFlightPerOrgMax } : {}),
    ...(l.apiInFlightPerUserMax !== undefined ? { inFlightPerUserMax: l.apiInFlightPerUserMax } : {}),
  };
}

export interface ApiServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** The node's certificate chain (node cert + org CA) and key; clients trust the consortium root. */
  readonly tls: { readonly certChainPem: string; readonly keyPem: string };
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
  readonly limits?: Partial<ApiServerLimits>;
  /** Injectable clock for the request-signature window (tests). */
  readonly clock?: () => number;
  /** Extra authenticated routes (e.g. api/health-routes.ts); `who` gives a request's caller. */
  readonly routes?: ReadonlyArray<(app: FastifyInstance, who: (req: FastifyRequest) => Identity) => void>;
  /**
   * The web console (api/console.ts), served at / on the API listener and, when `listen` is set,
   * on a second, plain-HTTP loopback listener sharing every route, limit and replay cache
   * (decision 1200). A console port that is taken is logged and skipped: the node still runs.
   */
  readonly console?: ConsoleOptions & { readonly listen?: { readonly host: string; readonly port: number } };
  /** Serve GET /metrics (Prometheus text, no signed request; no health data, no identities). Default true. */
  readonly metrics?: boolean;
}

export interface ApiServer {
  readonly url: string;
  /** http://127.0.0.1:<port> of the console listener; null when there is none. */
  readonly consoleUrl: string | null;
  close(): Promise<void>;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** `txId`: the transaction concerned (an unknown outcome names the id to check). */
  constructor(readonly status: number, readonly code: string, message: string, readonly txId?: string) {
    super(message);
  }
}

const RATE_BUCKETS_MAX = 10_000;
/**
 * How deeply a request body may nest objects and arrays. Checked on the raw bytes before
 * JSON.parse, for every route: the parse itself survives any depth, but what handlers do next
 * (zod, the FHIR validator, JSON.stringify) recurses and overflowed the stack at a few thousand
 * levels (issue 16, item 8). A FHIR resource inside the deepest body (records/prepare) keeps 62
 * levels; real resources nest about ten (a Bundle entry's Observation component's coding: 9).
 */
export const JSON_NESTING_DEPTH_MAX = 64;
const BODY_LIMIT_BYTES_MIN = 1024;

/** Peer status (src/node/peer.ts, contracts/runtime.ts) → API error. */
function peerError(status: number, message: string): ApiError {
  switch (status) {
    case 400: return new ApiError(422, 'CONTRACT_REJECTED', message);
    case 403: return new ApiError(403, 'FORBIDDEN', message);
    case 404: return new ApiError(404, 'NOT_FOUND', message);
    case 409: return new ApiError(409, 'CONFLICT', message);
    case 503: return new ApiError(503, 'ENDORSER_UNAVAILABLE', message);
    case 500: return new ApiError(500, 'CONTRACT_FAILED', message);
    default: return new ApiError(502, 'PEER_ERROR', `${message} (peer status ${status})`);
  }
}

function gatewayError(err: GatewayError): ApiError {
  switch (err.kind) {
    case 'ENDORSEMENT_REFUSED':
      if (err.status === 400 || err.status === undefined) return new ApiError(422, 'ENDORSEMENT_REFUSED', err.message);
      return peerError(err.status, err.message);
    case 'ENDORSEMENT_MISMATCH': return new ApiError(422, 'ENDORSEMENT_MISMATCH', `${err.message}; retry`);
    case 'POLICY_NOT_SATISFIED': return new ApiError(422, 'POLICY_NOT_SATISFIED', err.message);
    case 'UNKNOWN_CONTRACT': return new ApiError(404, 'UNKNOWN_CONTRACT', err.message);
    case 'ORDERER_REJECTED': return new ApiError(503, 'ORDERING_UNAVAILABLE', err.message);
    case 'COMMIT_TIMEOUT': return new ApiError(504, 'COMMIT_TIMEOUT', err.message);
  }
}

function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new ApiError(400, 'BAD_REQUEST', `${what}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
}

function fromBase64(text: string, what: string): Bytes {
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  // Buffer.from ignores junk; a round trip proves the text was canonical base64.
  if (Buffer.from(bytes).toString('base64') !== text) throw new ApiError(400, 'BAD_REQUEST', `${what} is not canonical base64`);
  return bytes;
}

const b64 = (bytes: Bytes): string => Buffer.from(bytes).toString('base64');

/** Fabric's rule, enforced at the edge: a client may only send its own proposals and transactions. */
function checkCreator(creatorPem: string, who: Identity, what: string): void {
  if (creatorPem.trim() !== who.certPem.trim()) {
    throw new ApiError(403, 'CREATOR_MISMATCH', `the ${what} was created by another certificate than the one that signed this request`);
  }
}

function decodeSignedProposalInput(body: unknown): { signed: SignedProposal; proposal: TxProposal } {
  const { signedProposal } = parseInput(SignedProposalRequest, body, 'body');
  try {
    const signed = decodeSignedProposal(fromBase64(signedProposal, 'signedProposal'));
    return { signed, proposal: decodeProposal(signed.proposal) };
  } catch (err) {
    if (err instanceof TxFormatError) throw new ApiError(400, 'MALFORMED_PROPOSAL', err.message);
    throw err;
  }
}

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
class CountsByKey {
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
  constructor(private readonly ratePerSecond: number, private readonly burst: number) {}
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

function certificateToJson(proof: StoredBlock['block']['metadata']['consensus']): BlockResponseT['certificate'] {
  const cert = proof?.certificate;
  if (!proof || !cert) return null;
  const fields: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(cert.fields)) fields[k] = typeof v === 'number' || typeof v === 'string' ? v : toHex(v);
  return { scheme: cert.scheme, signers: cert.signatures.map((s) => s.nodeId), fields, digestHex: toHex(proof.digest) };
}

/** A block as the API shows it: hashes hex, per transaction its id, call, creator and code. */
export function blockToJson(stored: StoredBlock, services: Pick<NodeServices, 'msp'>): BlockResponseT {
  const { block, validation } = stored;
  const isTxBlock = block.header.number > 0 && validation.length === block.data.length;
  const parsed = isTxBlock ? parseAll(block.data) : [];
  return {
    number: block.header.number,
    hashHex: toHex(blockHash(block.header)),
    previousHashHex: toHex(block.header.previousHash),
    dataHashHex: toHex(block.header.dataHash),
    timestampMs: block.header.timestampMs,
    orderers: block.metadata.signatures.map((s) => s.ordererId),
    engine: block.metadata.consensus?.engine ?? null,
    certificate: certificateToJson(block.metadata.consensus),
    txs: parsed.map((p, i) => {
      const code = validation[i]!;
      if (p instanceof TxFormatError) return { position: i, txId: null, contract: null, fn: null, creatorOrg: null, creatorId: null, code };
      let creator: Identity | null = null;
      try {
        creator = services.msp.identify(p.proposal.creator);
      } catch {
        creator = null; // a foreign or malformed creator: the validator already marked the tx
      }
      return { position: i, txId: p.proposal.txId, contract: p.proposal.contract, fn: p.proposal.fn, creatorOrg: creator?.org ?? null, creatorId: creator?.id ?? null, code };
    }),
  };
}

function storedToCommitEvent(stored: StoredBlock): BlockCommitEvent {
  const parsed = parseAll(stored.block.data);
  return {
    number: stored.block.header.number,
    blockHash: blockHash(stored.block.header),
    timestampMs: stored.block.header.timestampMs,
    stateHash: new Uint8Array(0),
    txs: stored.block.header.number === 0 ? [] : stored.validation.map((code, position) => {
      const p = parsed[position];
      const tx = p && !(p instanceof TxFormatError) ? (p as ParsedTx) : null;
      return { txId: tx?.proposal.txId ?? null, position, code, reason: '', event: tx?.response.event ?? null };
    }),
  };
}

export async function startApiServer(services: NodeServices, opts: ApiServerOptions): Promise<ApiServer> {
  if (!Number.isInteger(opts.bodyLimitBytes) || opts.bodyLimitBytes < BODY_LIMIT_BYTES_MIN) throw new RangeError(`bodyLimitBytes must be an integer >= ${BODY_LIMIT_BYTES_MIN}`);
  const limits: ApiServerLimits = { ...DEFAULT_API_LIMITS, ...opts.limits };
  const clock = opts.clock ?? (() => Date.now());
  const log = opts.logger;
  // Operator-visible, but bounded: a dead peer fails every endorsement sent its way.
  const opsLog = new RateLimitedLog(log, 3, 60_000);
  const nonces = new NonceCache(AUTH_CLOCK_WINDOW_MS, AUTH_NONCE_CACHE_MAX);
  const rates = new TokenBuckets(limits.ratePerSecond, limits.rateBurst);
  const rawBodies = new WeakMap<FastifyRequest, Bytes>();
  const identities = new WeakMap<FastifyRequest, Identity>();
  const slots = new WeakMap<FastifyRequest, InFlightSlot>();
  const streams = new Set<ServerResponse>();
  const streamsByUser = new CountsByKey();
  const streamsByOrg = new CountsByKey();
  const endorserDownUntil = new Map<string, number>();
  // Requests in flight (decision 1004): first counted as unauthenticated (anyone can send bytes),
  // then, once the signature names a user, against the node, the user's organisation and the user.
  let unauthenticated = 0;
  let handling = 0;
  const handlingByUser = new CountsByKey();
  const handlingByOrg = new CountsByKey();
  let rotation = 0;

  // One request handler, two servers: the HTTPS API listener and (optionally) the plain-HTTP
  // loopback console listener, so both share routes, limits, rate buckets and the nonce cache (a
  // request accepted on one is a replay on the other).
  let consoleServer: HttpServer | null = null;
  const app = Fastify({
    serverFactory: (handler) => {
      if (opts.console?.listen) {
        consoleServer = createHttpServer((req: IncomingMessage, res: ServerResponse) => handler(req, res));
        consoleServer.requestTimeout = 30_000;
        consoleServer.keepAliveTimeout = 10_000;
      }
      return createHttpsServer({ cert: opts.tls.certChainPem, key: opts.tls.keyPem, minVersion: 'TLSv1.2' }, handler);
    },
    bodyLimit: opts.bodyLimitBytes,
    logger: false,
    routerOptions: { maxParamLength: 128 },
    connectionTimeout: 0,
    requestTimeout: 30_000,
    keepAliveTimeout: 10_000,
    forceCloseConnections: true,
    return503OnClosing: true,
  });

  // JSON only, parsed from the raw bytes so that the request signature covers exactly them.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = new Uint8Array(body as Buffer);
    rawBodies.set(req, bytes);
    if (jsonNestingDepth(bytes, JSON_NESTING_DEPTH_MAX) > JSON_NESTING_DEPTH_MAX) {
      done(new ApiError(400, 'TOO_DEEP', `request body nests objects and arrays deeper than ${JSON_NESTING_DEPTH_MAX} levels (at most ${JSON_NESTING_DEPTH_MAX} are accepted)`), undefined);
      return;
    }
    try {
      done(null, bytes.byteLength === 0 ? undefined : JSON.parse(Buffer.from(bytes).toString('utf8')));
    } catch (err) {
      done(new ApiError(400, 'MALFORMED_JSON', `request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  const sendError = (reply: FastifyReply, e: ApiError): FastifyReply => reply.code(e.status).send({ error: { code: e.code, message: e.message, ...(e.txId !== undefined ? { txId: e.txId } : {}) } });

  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof ApiError) return sendError(reply, err);
    if (err instanceof AuthError) return sendError(reply, new ApiError(err.code === 'BUSY' ? 429 : 401, err.code, err.message));
    if (err instanceof GatewayError) return sendError(reply, gatewayError(err));
    const fe = err as { code?: string; statusCode?: number; message?: string };
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, new ApiError(413, 'BODY_TOO_LARGE', `request body exceeds ${opts.bodyLimitBytes} bytes`));
    if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendError(reply, new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send bodies as application/json'));
    if (fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || fe.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH') return sendError(reply, new ApiError(400, 'BAD_REQUEST', fe.message ?? 'bad body'));
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return sendError(reply, new ApiError(fe.statusCode, 'BAD_REQUEST', fe.message ?? 'bad request'));
    log.error({ url: req.url.slice(0, 200), reason: fe.message }, 'api: internal error');
    return sendError(reply, new ApiError(500, 'INTERNAL', 'internal error (logged on the node)'));
  });
  app.setNotFoundHandler((req, reply) => sendError(reply, new ApiError(404, 'NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`)));

  // Only the API under /v1 is authenticated (but its liveness probe); the console's static page and
  // assets are public — they hold no data, and a user must sign in before the page can ask for any.
  // Probes (liveness, readiness) and /metrics are open too: schedulers and scrapers hold no keys.
  const isOpen = (path: string): boolean => path === '/v1/health' || path === '/v1/ready' || !path.startsWith('/v1/');
  app.addHook('onRequest', async (req, reply) => {
    setSecurityHeaders(reply, (req.socket as TLSSocket).encrypted === true);
    if (unauthenticated >= limits.unauthenticatedInFlightMax) throw new ApiError(429, 'TOO_MANY_REQUESTS', `the node is receiving ${limits.unauthenticatedInFlightMax} requests; retry shortly`);
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
    if (isOpen(path)) return;
    const nowMs = clock();
    const identity = verifyRequest({
      method: req.method,
      pathAndQuery: req.url,
      headers: req.headers,
      body: rawBodies.get(req) ?? new Uint8Array(0),
      msp: services.msp,
      nonces,
      nowMs,
      audience: services.nodeId,
    });
    if (!rates.take(identity.serialHex, nowMs)) throw new ApiError(429, 'RATE_LIMITED', `${identity.org}/${identity.id} exceeds ${limits.ratePerSecond} requests per second`);
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
    if (handlingByUser.get(user) >= limits.inFlightPerUserMax) throw new ApiError(429, 'TOO_MANY_REQUESTS', `${user} already has ${limits.inFlightPerUserMax} requests in flight on this node (at most ${limits.inFlightPerUserMax} per user); wait for them to finish`);
    if (handlingByOrg.get(id.org) >= limits.inFlightPerOrgMax) throw new ApiError(429, 'TOO_MANY_REQUESTS', `the users of ${id.org} already have ${limits.inFlightPerOrgMax} requests in flight on this node (at most ${limits.inFlightPerOrgMax} per organisation); retry shortly`);
    if (handling >= limits.inFlightMax) throw new ApiError(429, 'TOO_MANY_REQUESTS', `the node is handling ${limits.inFlightMax} requests; retry shortly`);
    slots.get(req)?.promote(user, id.org);
  });

  for (const register of opts.routes ?? []) register(app, who);
  app.get('/openapi.json', async () => openApiDocument());
  app.get('/v1/health', async () => ({ ok: true as const, nodeId: services.nodeId, org: services.org }));
  app.get('/v1/ready', async (_req, reply) => {
    const r = services.readiness();
    return reply.code(r.ready ? 200 : 503).send({ ready: r.ready, reasons: r.reasons, nodeId: services.nodeId });
  });
  if (opts.metrics !== false) {
    app.get('/metrics', async (_req, reply) => {
      if (!services.metrics) throw new ApiError(404, 'NOT_FOUND', 'this node keeps no metrics');
      const { contentType, body } = await services.metrics.text();
      return reply.type(contentType).header('cache-control', 'no-store').send(body);
    });
  }
  app.post('/v1/admin/log-level', async (req): Promise<LogLevelResponseT> => {
    const me = who(req);
    // The node's own operators only: an admin of another hospital has no say over this node.
    if (me.role !== 'admin' || me.org !== services.org) throw new ApiError(403, 'FORBIDDEN', `only an admin of ${services.org} may change this node's log level; ${me.org}/${me.id} is a ${me.role} of ${me.org}`);
    const { level } = parseInput(LogLevelRequest, req.body, 'body');
    const previous = services.logLevel;
    services.logLevel = level;
    log.warn({ by: `${me.org}/${me.id}`, from: previous, to: level }, 'log level changed at runtime');
    return { level, previous };
  });
  app.get('/v1/whoami', async (req): Promise<WhoAmIResponseT> => {
    const me = who(req);
    return { org: me.org, id: me.id, role: me.role, serialHex: me.serialHex, node: { id: services.nodeId, org: services.org } };
  });
  app.get('/v1/network', async () => ({ nodes: await services.networkStatus() }));
  const lab = new LabJobs();
  registerLabRoutes(app, who, lab);
  if (opts.console) registerConsole(app, { nodeId: services.nodeId, org: services.org }, opts.console);
  app.get('/v1/status', async () => services.status());
  app.get('/v1/config', async (): Promise<ConfigResponseT> => {
    const { record, version } = services.configState();
    const c = record.config;
    return {
      sequence: record.sequence,
      version,
      configBase64: Buffer.from(encodeConfig(c)).toString('base64'),
      engine: c.ordering.engine,
      orgs: c.orgs.map((o) => o.org),
      orderers: c.orderers.map((o) => o.id),
      nodes: (c.nodes ?? []).map((n) => ({ id: n.id, org: n.org, roles: [...n.roles], p2pUrl: n.p2pUrl, apiUrl: n.apiUrl })),
      contracts: c.contracts.map((x) => ({ name: x.name, version: x.version, endorsementPolicy: x.endorsementPolicy })),
      updatePolicy: configUpdatePolicyText(c),
    };
  });

  app.post('/v1/evaluate', async (req) => {
    const { signed, proposal } = decodeSignedProposalInput(req.body);
    checkCreator(proposal.creator, who(req), 'proposal');
    if (!services.policies().has(proposal.contract)) throw new ApiError(404, 'UNKNOWN_CONTRACT', `contract "${proposal.contract}" is not defined in the consortium configuration`);
    const res = await services.evaluate(signed);
    if (res.status !== 200) throw peerError(res.status, res.message);
    return { payload: b64(res.payload) };
  });

  /**
   * This node's peer first, then the others in rotation; the shortest prefix that can satisfy the
   * policy, and the rest as spares. Peers known to be down (transport link down, or unreachable
   * within endorserBackoffMs) are not chosen: they come last among the spares.
   */
  const chooseEndorsers = (policy: Parameters<typeof evaluatePolicy>[0], nowMs: number): { chosen: EndorserClient[]; spares: EndorserClient[] } => {
    const all = services.endorsers();
    const [local, ...others] = all;
    const isUp = (e: EndorserClient): boolean => e.available?.() !== false && (endorserDownUntil.get(e.org) ?? 0) <= nowMs;
    const up = others.filter(isUp);
    const down = others.filter((e) => !isUp(e));
    const start = up.length > 0 ? rotation++ % up.length : 0;
    const order = [...(local ? [local] : []), ...up.slice(start), ...up.slice(0, start)];
    for (let k = 1; k <= order.length; k++) {
      const prefix = order.slice(0, k);
      if (evaluatePolicy(policy, prefix.map((e) => ({ org: e.org, role: 'peer' as const })))) return { chosen: prefix, spares: [...order.slice(k), ...down] };
    }
    return { chosen: [...order, ...down], spares: [] };
  };
  /** Remember endorsers that could not be reached, so the retry and the next requests avoid them. */
  const tracked = (e: EndorserClient, failed: Set<string>): EndorserClient => ({
    org: e.org,
    ...(e.available ? { available: () => e.available!() } : {}),
    evaluate: (sp) => e.evaluate(sp),
    endorse: (sp) =>
      e.endorse(sp).catch((err: unknown) => {
        failed.add(e.org);
        endorserDownUntil.set(e.org, clock() + limits.endorserBackoffMs);
        opsLog.write('warn', `endorser:${e.org}`, { endorser: e.org, reason: err instanceof Error ? err.message.slice(0, 200) : 'unknown', skippedForMs: limits.endorserBackoffMs }, 'endorser unreachable; routing endorsements around it');
        throw err;
      }),
  });

  app.post('/v1/endorse', async (req): Promise<EndorseResponseT> => {
    const { signed, proposal } = decodeSignedProposalInput(req.body);
    checkCreator(proposal.creator, who(req), 'proposal');
    const policy = services.policies().get(proposal.contract);
    if (!policy) throw new ApiError(404, 'UNKNOWN_CONTRACT', `contract "${proposal.contract}" is not defined in the consortium configuration`);
    const label = `${proposal.contract}.${proposal.fn}`;
    // Two attempts: the second without the organisations whose peer did not answer the first.
    for (let attempt = 1; ; attempt++) {
      const failed = new Set<string>();
      const choice = chooseEndorsers(policy, clock());
      const chosen = choice.chosen.map((e) => tracked(e, failed));
      const spares = choice.spares.map((e) => tracked(e, failed));
      try {
        const stopTimer = services.metrics?.endorsementSeconds.startTimer();
        const { response, payload, endorsements, signers } = await collectEndorsements({ signed, label, policy, endorsers: chosen, spares, hedgeAfterMs: limits.endorseHedgeAfterMs, msp: services.msp, atMs: clock() });
        stopTimer?.();
        const txPayload: TxPayload = { proposal: signed.proposal, response, endorsements };
        return { txId: proposal.txId, payload: b64(payload), txPayload: b64(encode(txPayload)), endorsers: signers.map((s) => s.org) };
      } catch (err) {
        if (attempt < 2 && failed.size > 0 && err instanceof GatewayError) continue;
        throw err;
      }
    }
  });

  /** Broadcasts under way through this gateway, by txId (at most one entry per request in flight). */
  const broadcasting = new Map<string, Promise<BroadcastResult>>();
  const alreadyPending = (txId: string): TxStatusT => ({ txId, status: 'SUBMITTED', code: null, blockNumber: null, reason: 'already pending: not broadcast again', duplicate: true });

  const waitStatus = async (txId: string, waitMs: number): Promise<TxStatusT> => {
    try {
      const ev = await services.waitForTx(txId, waitMs);
      return { txId, status: 'COMMITTED', code: ev.code, blockNumber: ev.blockNumber, reason: ev.reason };
    } catch (err) {
      const message = (err as Error).message;
      if (/not committed within/.test(message)) {
        if (waitMs === 0) throw new ApiError(404, 'TX_NOT_FOUND', `transaction ${txId} is not committed on ${services.nodeId}`, txId);
        throw new ApiError(504, 'COMMIT_TIMEOUT', `${message}: outcome not known yet — check GET /v1/tx/${txId} on any node`, txId);
      }
      throw new ApiError(503, 'UNAVAILABLE', message, txId);
    }
  };

  app.post('/v1/submit', async (req): Promise<TxStatusT> => {
    const body = parseInput(SubmitRequest, req.body, 'body');
    const envelope = fromBase64(body.envelope, 'envelope');
    let tx: ParsedTx;
    try {
      tx = parseTx(envelope);
    } catch (err) {
      if (err instanceof TxFormatError) throw new ApiError(400, 'MALFORMED_TRANSACTION', err.message);
      throw err;
    }
    const me = who(req);
    checkCreator(tx.proposal.creator, me, 'transaction');
    if (!verify(me.publicKey, tx.envelope.payload, tx.envelope.signature)) throw new ApiError(400, 'BAD_TX_SIGNATURE', 'the envelope signature does not verify with the creator key (sign the exact txPayload bytes /v1/endorse returned)');
    const txId = tx.proposal.txId;
    const waitMs = body.waitMs ?? 0;
    // A txId this node knows is answered with its status and not broadcast again (decision
    // 1003): resubmitting after a lost answer is safe and tells the truth; a replay cannot make
    // every hospital's ledger carry another DUPLICATE_TXID copy.
    const known = services.knownTx(txId);
    if (known?.state === 'committed') return { txId, status: 'COMMITTED', code: known.code, blockNumber: known.blockNumber, reason: '', duplicate: true };
    // Listen before broadcasting: the commit can be faster than the broadcast's answer.
    const status = waitMs > 0 ? waitStatus(txId, waitMs) : null;
    status?.catch(() => undefined);
    if (known) return status ? { ...(await status), duplicate: true } : alreadyPending(txId);
    // The same envelope already on its way through this gateway (two submits at once): share
    // that broadcast instead of racing it, possibly to another orderer.
    let broadcast = broadcasting.get(txId);
    const joined = broadcast !== undefined;
    if (!broadcast) {
      broadcast = services.broadcast(envelope);
      broadcasting.set(txId, broadcast);
      const forget = (): void => {
        broadcasting.delete(txId);
      };
      broadcast.then(forget, forget);
    }
    let accepted: BroadcastResult;
    try {
      accepted = await broadcast;
    } catch (err) {
      // The orderer was asked and did not answer: it may have ordered the transaction.
      throw new ApiError(503, 'OUTCOME_UNKNOWN', `the ordering service did not answer for ${txId} (${(err as Error).message}); it may have been ordered — check GET /v1/tx/${txId} on any node, or resubmit the same envelope (it is never ordered twice)`, txId);
    }
    if (!accepted.accepted && !accepted.duplicate) throw new ApiError(503, 'ORDERING_UNAVAILABLE', `the ordering service did not accept ${txId}: ${accepted.reason} (not ordered; safe to submit again)`, txId);
    const duplicate: KnownTx | undefined = accepted.accepted ? (joined ? { state: 'pending' } : undefined) : accepted.duplicate;
    if (duplicate) {
      if (status) return { ...(await status), duplicate: true };
      if (duplicate.state === 'committed') return { txId, status: 'COMMITTED', code: duplicate.code, blockNumber: duplicate.blockNumber, reason: '', duplicate: true };
      return alreadyPending(txId);
    }
    if (!status) return { txId, status: 'SUBMITTED', code: null, blockNumber: null, reason: '' };
    return status;
  });

  app.get('/v1/tx/:txId', async (req): Promise<TxStatusT> => {
    const { txId } = parseInput(TxStatusParams, req.params, 'path');
    const { waitMs } = parseInput(WaitQuery, req.query, 'query');
    return waitStatus(txId, waitMs ?? 0);
  });

  app.get('/v1/blocks/:n', async (req): Promise<BlockResponseT> => {
    const { n } = parseInput(BlockParams, req.params, 'path');
    const stored = n <= services.height() ? services.getBlock(n) : null;
    if (!stored) throw new ApiError(404, 'BLOCK_NOT_FOUND', `block ${n} does not exist on ${services.nodeId} (height ${services.height()})`);
    return blockToJson(stored, services);
  });

  app.get('/v1/blocks/:n/raw', async (req): Promise<RawBlockResponseT> => {
    const me = who(req);
    // Raw blocks carry every transaction's arguments and write sets (pseudonyms, consents, audit
    // entries): the consortium's auditors may read them, patients and clinicians see summaries.
    if (me.role !== 'admin' && me.role !== 'supervisor') throw new ApiError(403, 'FORBIDDEN', `raw blocks are for admins and supervisors (auditors); ${me.org}/${me.id} is a ${me.role}`);
    const { n } = parseInput(BlockParams, req.params, 'path');
    const stored = n <= services.height() ? services.getBlock(n) : null;
    if (!stored) throw new ApiError(404, 'BLOCK_NOT_FOUND', `block ${n} does not exist on ${services.nodeId} (height ${services.height()})`);
    return { number: n, blockBase64: b64(encodeBlock(stored.block)), validation: [...stored.validation] };
  });

  app.get('/v1/events', async (req, reply) => {
    const { from: fromQuery } = parseInput(EventsQuery, req.query, 'query');
    const me = who(req);
    const streamUser = `${me.org}/${me.id}`;
    if (streamsByUser.get(streamUser) >= limits.eventStreamsPerUserMax) throw new ApiError(429, 'TOO_MANY_STREAMS', `${streamUser} already has ${limits.eventStreamsPerUserMax} event streams open on this node (at most ${limits.eventStreamsPerUserMax} per user); close one first`);
    if (streamsByOrg.get(me.org) >= limits.eventStreamsPerOrgMax) throw new ApiError(429, 'TOO_MANY_STREAMS', `the users of ${me.org} already have ${limits.eventStreamsPerOrgMax} event streams open on this node (at most ${limits.eventStreamsPerOrgMax} per organisation)`);
    if (streams.size >= limits.eventStreamsMax) throw new ApiError(503, 'TOO_MANY_STREAMS', `${limits.eventStreamsMax} event streams are open on this node; retry later`);
    const from = fromQuery ?? services.height() + 1;
    const raw = reply.raw;
    let next = from;
    let replaying = true;
    let closed = false;
    const pending: BlockCommitEvent[] = [];
    const write = (event: string, data: unknown): void => {
      if (closed) return;
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (raw.writableLength > limits.eventStreamBufferBytesMax) {
        // A client that does not read must not make the node buffer without limit.
        log.warn({ client: identities.get(req)?.id }, 'api: closing an event stream whose client does not read');
        raw.end(`event: error\ndata: ${JSON.stringify({ code: 'SLOW_CONSUMER', message: 'the client did not keep up; reconnect with from=<next block>' })}\n\n`);
        close();
      }
    };
    const emit = (ev: BlockCommitEvent): void => {
      const blockEvent: BlockEventT = { number: ev.number, hashHex: toHex(ev.blockHash), timestampMs: ev.timestampMs, txs: ev.txs.map((t) => ({ txId: t.txId, position: t.position, code: t.code })) };
      write('block', blockEvent);
      for (const t of ev.txs) {
        if (t.code !== 'VALID' || !t.event) continue;
        const ce: ContractEventT = { blockNumber: ev.number, txId: t.txId, position: t.position, name: t.event.name, payload: b64(t.event.payload) };
        write('contract', ce);
      }
      next = ev.number + 1;
    };
    /** Stored blocks up to `upTo` that this stream has not sent yet. */
    const fill = (upTo: number): void => {
      while (!closed && next <= upTo) {
        const stored = services.getBlock(next);
        if (!stored) break;
        emit(storedToCommitEvent(stored));
      }
    };
    const onBlock = (ev: BlockCommitEvent): void => {
      if (closed) return;
      if (replaying) {
        if (pending.length < 10_000) pending.push(ev);
        return;
      }
      if (ev.number < next) return;
      fill(ev.number - 1);
      if (ev.number === next) emit(ev);
    };
    let unsubscribe: () => void;
    try {
      // Subscribed before the stored blocks are replayed (events meanwhile wait in `pending`).
      unsubscribe = services.subscribeBlocks(from, onBlock);
    } catch (err) {
      throw new ApiError(503, 'NO_PEER', `this node cannot stream blocks: ${(err as Error).message}`);
    }
    reply.hijack();
    slots.get(req)?.release();
    raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    streams.add(raw);
    streamsByUser.add(streamUser);
    streamsByOrg.add(me.org);
    const heartbeat = setInterval(() => {
      if (!closed) raw.write(': keep-alive\n\n');
    }, limits.eventStreamHeartbeatMs);
    heartbeat.unref();
    function close(): void {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(raw);
      streamsByUser.remove(streamUser);
      streamsByOrg.remove(me.org);
    }
    raw.on('close', close);
    raw.on('error', close);
    raw.write(': medledger events\n\n');
    fill(services.height());
    replaying = false;
    for (const ev of pending.splice(0)) onBlock(ev);
  });

  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address() as AddressInfo;
  const hostForUrl = (host: string): string => (host.includes(':') ? `[${host}]` : host);
  const url = `https://${hostForUrl(opts.host)}:${address.port}`;
  log.info({ url }, 'api: listening');
  let consoleUrl: string | null = null;
  const listenConsole = opts.console?.listen;
  const consoleHttp = consoleServer as HttpServer | null;
  if (listenConsole && consoleHttp) {
    try {
      await new Promise<void>((resolve, reject) => {
        consoleHttp.once('error', reject);
        consoleHttp.listen(listenConsole.port, listenConsole.host, () => {
          consoleHttp.off('error', reject);
          resolve();
        });
      });
      consoleUrl = `http://${hostForUrl(listenConsole.host)}:${(consoleHttp.address() as AddressInfo).port}`;
      log.info({ url: consoleUrl }, 'console: listening (plain HTTP, loopback only)');
    } catch (err) {
      log.warn({ host: listenConsole.host, port: listenConsole.port, reason: (err as Error).message }, 'console: cannot listen; the console stays reachable on the HTTPS API listener only');
    }
  }
  return {
    url,
    consoleUrl,
    async close() {
      await lab.close();
      for (const s of streams) s.end();
      streams.clear();
      if (consoleHttp?.listening) {
        consoleHttp.closeAllConnections();
        await new Promise<void>((resolve) => consoleHttp.close(() => resolve()));
      }
      await app.close();
    },
  };
}
