// The web console's assets, served by the node itself (no separate server, no CDN: hospitals run
// offline networks). The console is a static single-page app (web/, built by web/build.ts into
// web/dist) that talks to this same origin's /v1 API with requests signed in the browser.
//
//   GET /                      index.html (a fresh CSP nonce for the style tags the component
//                              library writes; no inline script is allowed at all)
//   GET /assets/<file>         hashed bundles, cached as immutable
//   GET /console/config.json   what the page needs before sign-in: node id, organisation, demo mode
//   GET /console/demo-users    demo consortia only, loopback only: this hospital's users
//   GET /<page path>           index.html again (client-side routing)
//
// Every response carries the security headers (CSP, nosniff, no framing, no referrer).
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError } from './server.ts';

export interface ConsoleOptions {
  /** The built console (web/dist): index.html and assets/. */
  readonly assetsDir: string;
  /**
   * Demo mode: the consortium's crypto directory and this node's organisation; the console then
   * lists that organisation's users (with their keys) to a browser on this machine.
   */
  readonly demoUsers?: { readonly cryptoDir: string; readonly org: string } | null;
}

export interface ConsoleInfo {
  readonly nodeId: string;
  readonly org: string;
}

const ASSET_BYTES_MAX = 16 * 1024 * 1024;
const ASSETS_TOTAL_BYTES_MAX = 64 * 1024 * 1024;
const DEMO_USERS_MAX = 200;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Content-Security-Policy of the console page: scripts and styles from this origin only (styles also by nonce). */
export function consoleCsp(nonce: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    `style-src 'self' 'nonce-${nonce}'`,
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "frame-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Headers every response of the node carries (API JSON included: they cost nothing there). */
export function setSecurityHeaders(reply: FastifyReply, secure: boolean): void {
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('x-frame-options', 'DENY');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');
  if (secure) reply.header('strict-transport-security', 'max-age=31536000');
}

interface Asset {
  readonly bytes: Buffer;
  readonly type: string;
}

/** Load the built console into memory (bounded); null when it has not been built. */
function loadAssets(dir: string): { index: string; assets: Map<string, Asset> } | null {
  const indexPath = join(dir, 'index.html');
  if (!existsSync(indexPath)) return null;
  const assets = new Map<string, Asset>();
  let total = 0;
  const assetsDir = join(dir, 'assets');
  for (const name of existsSync(assetsDir) ? readdirSync(assetsDir) : []) {
    const path = join(assetsDir, name);
    const size = statSync(path).size;
    if (!statSync(path).isFile()) continue;
    if (size > ASSET_BYTES_MAX) throw new Error(`console asset ${path} is ${size} bytes (at most ${ASSET_BYTES_MAX})`);
    total += size;
    if (total > ASSETS_TOTAL_BYTES_MAX) throw new Error(`console assets in ${assetsDir} exceed ${ASSETS_TOTAL_BYTES_MAX} bytes`);
    assets.set(name, { bytes: readFileSync(path), type: CONTENT_TYPES[extname(name)] ?? 'application/octet-stream' });
  }
  return { index: readFileSync(indexPath, 'utf8'), assets };
}

const DemoUserParams = z.object({ user: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/) });

function isLoopbackAddress(address: string | undefined): boolean {
  return address !== undefined && (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.'));
}

/** The users of `org` in the consortium crypto directory: sub-directories holding cert.pem and key.pem. */
function demoUsersOf(cryptoDir: string, org: string): { user: string; role: string }[] {
  const orgDir = join(cryptoDir, org);
  if (!existsSync(orgDir)) return [];
  const out: { user: string; role: string }[] = [];
  for (const name of readdirSync(orgDir).sort()) {
    if (out.length >= DEMO_USERS_MAX) break;
    const dir = join(orgDir, name);
    if (!statSync(dir).isDirectory() || !existsSync(join(dir, 'cert.pem')) || !existsSync(join(dir, 'key.pem'))) continue;
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    // The role travels in the certificate's OU (decision 0100); the node's own identity is not a user.
    const role = /OU\s*=\s*([a-z]+)/.exec(certSubjectText(cert))?.[1] ?? 'unknown';
    if (role === 'peer' || role === 'orderer') continue;
    out.push({ user: name, role });
  }
  return out;
}

function certSubjectText(pem: string): string {
  try {
    // node:crypto's X509Certificate reads the subject without our MSP: display only.
    return new X509Certificate(pem).subject;
  } catch {
    return '';
  }
}

export function registerConsole(app: FastifyInstance, info: ConsoleInfo, opts: ConsoleOptions): void {
  const built = loadAssets(opts.assetsDir);
  const demo = opts.demoUsers ?? null;

  const page = (_req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    if (!built) {
      return reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send('The MedLedger console has not been built on this node: run `npm run build:console` (medledger up and node start build it when it is missing).');
    }
    const nonce = randomBytes(16).toString('base64');
    reply.header('content-security-policy', consoleCsp(nonce));
    reply.header('cache-control', 'no-store');
    return reply.type('text/html; charset=utf-8').send(built.index.replaceAll('__CSP_NONCE__', nonce));
  };

  app.get('/', page);
  app.get('/assets/:file', async (req, reply) => {
    const { file } = req.params as { file: string };
    const asset = built?.assets.get(file);
    if (!asset) throw new ApiError(404, 'NOT_FOUND', `no console asset ${file.slice(0, 100)}`);
    reply.header('cache-control', file.endsWith('.map') ? 'no-cache' : 'public, max-age=31536000, immutable');
    return reply.type(asset.type).send(asset.bytes);
  });
  app.get('/console/config.json', async () => ({ nodeId: info.nodeId, org: info.org, demo: demo !== null }));
  app.get('/console/demo-users', async (req) => {
    if (!demo || !isLoopbackAddress(req.socket.localAddress)) throw new ApiError(404, 'NOT_FOUND', 'this node is not running a demo consortium');
    return { org: demo.org, users: demoUsersOf(demo.cryptoDir, demo.org) };
  });
  app.get('/console/demo-users/:user', async (req) => {
    if (!demo || !isLoopbackAddress(req.socket.localAddress)) throw new ApiError(404, 'NOT_FOUND', 'this node is not running a demo consortium');
    const parsed = DemoUserParams.safeParse(req.params);
    if (!parsed.success) throw new ApiError(400, 'BAD_REQUEST', 'user: a user name of letters, digits, . _ @ -');
    const { user } = parsed.data;
    if (!demoUsersOf(demo.cryptoDir, demo.org).some((u) => u.user === user)) throw new ApiError(404, 'NOT_FOUND', `no demo user ${demo.org}/${user}`);
    const dir = join(demo.cryptoDir, demo.org, user);
    return { org: demo.org, user, certPem: readFileSync(join(dir, 'cert.pem'), 'utf8'), keyPem: readFileSync(join(dir, 'key.pem'), 'utf8') };
  });
  // Client-side routes: any other GET for a page (not the API, not an asset) gets the app.
  app.get('/*', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (path.startsWith('/v1/') || path.startsWith('/assets/') || path.startsWith('/console/') || /\.[a-z0-9]+$/i.test(path)) {
      throw new ApiError(404, 'NOT_FOUND', `no route GET ${path.slice(0, 200)}`);
    }
    return page(req, reply);
  });
}
