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
import { constants as http2Constants, createSecureServer as createHttp2SecureServer, type Http2SecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import { type Identity } from '../identity/index.ts';
import { encodeConfig } from '../ledger/config.ts';
import { configUpdatePolicyText } from '../ledger/config-update.ts';
import { type Logger } from '../log/log.ts';
import type { NodeServices } from '../node/services.ts';
import type { ControlRequest } from '../node/orderer.ts';
import { fromBase64 } from '../codec/index.ts';
import { registerConsole, type ConsoleOptions } from './console.ts';
import { LabJobs } from './lab-jobs.ts';
import { registerLabRoutes } from './lab-routes.ts';
import { openApiDocument, type ConfigResponseT, type WhoAmIResponseT, type LogLevelResponseT, LogLevelRequest } from './schemas.ts';
import { GpbftOpRequest, type GpbftOpResponseT } from '../protocol/schemas.ts';
import { frameworkError, installEdge, PATH_PARAM_CHARS_MAX } from './edge.ts';
import { ApiError, parseInput } from './errors.ts';
import { registerEventRoutes } from './event-routes.ts';
import { registerGatewayRoutes } from './gateway-routes.ts';
import { DEFAULT_API_LIMITS, type ApiServerLimits } from './limits.ts';

// The edge, the routes and the limits live in their own modules; these names stay importable from here.
export { ApiError } from './errors.ts';
export { JSON_NESTING_DEPTH_MAX } from './edge.ts';
export { blockToJson } from './gateway-routes.ts';
export { DEFAULT_API_LIMITS, apiLimitsOf, type ApiServerLimits } from './limits.ts';

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

const BODY_LIMIT_BYTES_MIN = 1024;

/**
 * HTTP/2 limits of the API listener (decision 1310). Streams per session bound what one connection
 * can ask at once (the in-flight limits of edge.ts still bound each user); a session idle this long
 * is closed gracefully (GOAWAY: its open streams finish); a stream must have sent its whole request
 * within the request timeout, as HTTP/1.1's requestTimeout demands of a request.
 */
export const HTTP2_LIMITS = {
  maxConcurrentStreams: 128,
  maxHeaderListBytes: 16 * 1024,
  sessionIdleTimeoutMs: 60_000,
  requestTimeoutMs: 30_000,
} as const;

export async function startApiServer(services: NodeServices, opts: ApiServerOptions): Promise<ApiServer> {
  if (!Number.isInteger(opts.bodyLimitBytes) || opts.bodyLimitBytes < BODY_LIMIT_BYTES_MIN)
    throw new RangeError(`bodyLimitBytes must be an integer >= ${BODY_LIMIT_BYTES_MIN}`);
  const limits: ApiServerLimits = { ...DEFAULT_API_LIMITS, ...opts.limits };
  const clock = opts.clock ?? (() => Date.now());
  const log = opts.logger;

  // One request handler, two servers: the HTTPS API listener and (optionally) the plain-HTTP
  // loopback console listener, so both share routes, limits, rate buckets and the nonce cache (a
  // request accepted on one is a replay on the other).
  let consoleServer: HttpServer | null = null;
  const app = Fastify({
    // HTTP/2 with TLS, HTTP/1.1 on the same port for clients that do not speak h2 (curl --http1.1,
    // old SDKs): ALPN picks (decision 1310). Routes, hooks and signatures see the same request.
    http2: true,
    serverFactory: (h2Handler) => {
      // Fastify's one handler serves h2 compatibility requests and node:http's alike.
      const handler = h2Handler as unknown as (req: IncomingMessage, res: ServerResponse) => void;
      if (opts.console?.listen) {
        consoleServer = createHttpServer((req: IncomingMessage, res: ServerResponse) => handler(req, res));
        consoleServer.requestTimeout = 30_000;
        consoleServer.keepAliveTimeout = 10_000;
      }
      return secureServer(opts.tls, handler);
    },
    bodyLimit: opts.bodyLimitBytes,
    logger: false,
    routerOptions: { maxParamLength: PATH_PARAM_CHARS_MAX },
    // Fastify types this handler generically over every route's reply type; it only ever sends
    // the API's error body, hence the cast.
    frameworkErrors: frameworkError as unknown as FastifyServerOptions<Http2SecureServer>['frameworkErrors'],
    connectionTimeout: 0,
    forceCloseConnections: true,
    return503OnClosing: true,
    // The routes are typed against node:http's request and response; HTTP/2's compatibility
    // objects (Http2ServerRequest/Response) offer what they use (headers, url, socket, writeHead,
    // write, end, 'close'), and an HTTP/1.1 connection on this listener gets node:http's own.
  }) as unknown as FastifyInstance;

  const edge = installEdge(app, { services, limits, clock, log, bodyLimitBytes: opts.bodyLimitBytes });
  const who = edge.who;

  for (const register of opts.routes ?? []) register(app, who);
  app.get('/openapi.json', async () => openApiDocument());
  app.get('/v1/health', async () => ({ ok: true as const, nodeId: services.nodeId, org: services.org, genesisHashHex: services.genesisHashHex }));
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
    if (me.role !== 'admin' || me.org !== services.org)
      throw new ApiError(
        403,
        'FORBIDDEN',
        `only an admin of ${services.org} may change this node's log level; ${me.org}/${me.id} is a ${me.role} of ${me.org}`,
      );
    const { level } = parseInput(LogLevelRequest, req.body, 'body');
    const previous = services.logLevel;
    services.logLevel = level;
    log.warn({ by: `${me.org}/${me.id}`, from: previous, to: level }, 'log level changed at runtime');
    return { level, previous };
  });
  app.post('/v1/admin/gpbft/ops', async (req): Promise<GpbftOpResponseT> => {
    // The caller's signed request was verified against this node's MSP (who): that is the admin's signature.
    const me = who(req);
    const request = parseInput(GpbftOpRequest, req.body, 'body');
    let control: ControlRequest;
    if (request.op === 'rate') {
      const signature = fromBase64(request.signature);
      if (signature === null) throw new ApiError(400, 'BAD_REQUEST', 'signature must be base64');
      control = { ...request, signature };
    } else control = request;
    // A rating carries the admin's certificate: every member checks it, not only this node (decision 1281).
    const result = services.gpbftControl(control, { org: me.org, id: me.id, role: me.role, certPem: me.certPem });
    if (!result.accepted) {
      const status =
        result.code === 'UNKNOWN_NODE' ? 404 : result.code === 'NOT_GPBFT' || result.code === 'NOT_A_MEMBER' ? 409 : result.code === 'REFUSED' ? 503 : 403;
      throw new ApiError(status, result.code, result.reason);
    }
    log.warn({ by: `${me.org}/${me.id}`, op: request.op, nodeId: result.nodeId, clientId: result.clientId, seq: result.seq }, 'gpbft node update submitted');
    return { op: request.op, nodeId: result.nodeId, clientId: result.clientId, seq: result.seq };
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
      capabilities: [...(c.capabilities ?? [])],
    };
  });

  registerGatewayRoutes(app, who, { services, limits, clock, log, signedBodyRoute: edge.signedBodyRoute });
  const events = registerEventRoutes(app, who, { services, limits, log, edge });

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
      log.warn(
        { host: listenConsole.host, port: listenConsole.port, reason: (err as Error).message },
        'console: cannot listen; the console stays reachable on the HTTPS API listener only',
      );
    }
  }
  return {
    url,
    consoleUrl,
    async close() {
      await lab.close();
      events.close();
      if (consoleHttp?.listening) {
        consoleHttp.closeAllConnections();
        await new Promise<void>((resolve) => consoleHttp.close(() => resolve()));
      }
      await app.close();
    },
  };
}

/**
 * The API listener: HTTP/2 over TLS with HTTP/1.1 allowed, its limits set (HTTP2_LIMITS), and
 * `closeAllConnections` (which fastify calls on close with forceCloseConnections) destroying every
 * TLS connection, h2 session or HTTP/1.1 socket alike.
 */
function secureServer(tls: ApiServerOptions['tls'], handler: (req: IncomingMessage, res: ServerResponse) => void): Http2SecureServer {
  const server = createHttp2SecureServer(
    {
      cert: tls.certChainPem,
      key: tls.keyPem,
      minVersion: 'TLSv1.2',
      allowHTTP1: true,
      maxSessionMemory: 16,
      settings: { maxConcurrentStreams: HTTP2_LIMITS.maxConcurrentStreams, maxHeaderListSize: HTTP2_LIMITS.maxHeaderListBytes },
    },
    handler as unknown as Parameters<typeof createHttp2SecureServer>[1],
  );
  // The HTTP/1.1 side (allowHTTP1) reads these as an http.Server does.
  const h1 = server as unknown as { requestTimeout: number; keepAliveTimeout: number; headersTimeout: number };
  h1.requestTimeout = HTTP2_LIMITS.requestTimeoutMs;
  h1.headersTimeout = 20_000;
  h1.keepAliveTimeout = 10_000;
  server.on('session', (session) => {
    session.setTimeout(HTTP2_LIMITS.sessionIdleTimeoutMs, () => session.close());
  });
  server.on('stream', (stream, _headers, flags) => {
    // Slow-request guard: the whole request body within the request timeout; once it is in (or
    // when there is none), the answer may take as long as the route allows (a commit wait, an
    // event stream).
    if ((flags & http2Constants.NGHTTP2_FLAG_END_STREAM) !== 0) return;
    stream.setTimeout(HTTP2_LIMITS.requestTimeoutMs, () => stream.close(http2Constants.NGHTTP2_CANCEL));
    stream.once('end', () => stream.setTimeout(0));
  });
  const sockets = new Set<Socket>();
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  Object.assign(server, {
    closeAllConnections(): void {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  });
  return server;
}
