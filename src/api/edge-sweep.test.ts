// Bad input at the API edge, every route (the product's bar: a clear error naming the problem, never
// a crash, hang or 5xx). Against a real 3-hospital consortium with its record services and the
// enrolment routes, every route of the API's route table (schemas.ts ROUTES, the list the OpenAPI
// document is built from, so a new route is swept without being added here) is called by a signed
// caller with hostile path parameters, query strings, bodies and content types, fixed and generated
// (fast-check, fixed seed, so a failure replays). Each answer must be a 2xx or a 4xx whose JSON body
// has an error code and message; afterwards every node is alive and still commits a transaction.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import fc from 'fast-check';
import { z } from 'zod';
import { parsePrivateKey } from '../crypto/index.ts';
import { nodeIdOf } from '../node/init.ts';
import { keyObjectSigner } from '../sdk/signer.ts';
import { patientPseudonym, startRecordsNetwork, type RecordsNetwork } from '../testing/records-network.ts';
import { signRequest } from './auth.ts';
import { requestAudience } from '../protocol/request-signing.ts';
import { consortiumIdOf } from '../sdk/consortium.ts';
import { ROUTES, type RouteSpec } from './schemas.ts';

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

const H1 = 'Hospital1';
/** Generated bodies per route, on top of the fixed ones. */
const GENERATED_BODIES_PER_ROUTE = 12;
/** An answer slower than this is a hang. */
const ANSWER_TIMEOUT_MS = 30_000;

let net: RecordsNetwork;
let caPem: string;
let agent: Agent;

interface Answer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

const signers = new Map<string, ReturnType<typeof keyObjectSigner>>();
/** A user's request signer, read from its credentials once (the sweep signs thousands of requests). */
function signerOf(as: { org: string; user: string }): ReturnType<typeof keyObjectSigner> {
  const id = `${as.org}/${as.user}`;
  let signer = signers.get(id);
  if (!signer) {
    const dir = join(net.dir, 'crypto', as.org, as.user);
    signer = keyObjectSigner(readFileSync(join(dir, 'cert.pem'), 'utf8'), parsePrivateKey(readFileSync(join(dir, 'key.pem'), 'utf8')));
    signers.set(id, signer);
  }
  return signer;
}

/** A request signed as `org/user` (or unsigned), bytes as given; streams are read only up to their headers. */
async function call(o: {
  method: string;
  pathAndQuery: string;
  body?: Uint8Array;
  contentType?: string;
  as: { org: string; user: string } | null;
  stream?: boolean;
  /** Whose node to call (default Hospital1's). */
  node?: string;
}): Promise<Answer> {
  const nodeOrg = o.node ?? H1;
  const headers: Record<string, string> = {};
  if (o.body) {
    headers['content-type'] = o.contentType ?? 'application/json';
    headers['content-length'] = String(o.body.byteLength);
  }
  if (o.as) {
    Object.assign(
      headers,
      await signRequest({
        audience: requestAudience(nodeIdOf(nodeOrg), consortiumIdOf(net.dir)),
        method: o.method,
        pathAndQuery: o.pathAndQuery,
        body: o.body ?? new Uint8Array(0),
        signer: signerOf(o.as),
      }),
    );
  }
  const url = new URL(net.apis.get(nodeOrg)!.url);
  return new Promise<Answer>((resolve, reject) => {
    const req = httpsRequest(
      { host: url.hostname, port: url.port, path: o.pathAndQuery, method: o.method, ca: caPem, headers, agent, timeout: ANSWER_TIMEOUT_MS },
      (res) => {
        const status = res.statusCode ?? 0;
        const contentType = String(res.headers['content-type'] ?? '');
        if (o.stream && status === 200) {
          // An event or ndjson stream that opened: its status is the answer; do not wait for its end.
          res.destroy();
          resolve({ status, contentType, text: '' });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status, contentType, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${o.method} ${o.pathAndQuery.slice(0, 120)}: no answer in ${ANSWER_TIMEOUT_MS} ms (a hang)`)));
    // The server may answer 413 and close before it has read an oversized body.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(o.body);
  });
}

/** What the bar demands of every answer to bad input. */
function assertClearAnswer(what: string, a: Answer): void {
  assert.ok(a.status >= 200 && a.status < 500, `${what}: HTTP ${a.status} ${a.text.slice(0, 300)}`);
  if (a.status < 400) return;
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    assert.fail(`${what}: HTTP ${a.status} with a body that is not JSON: ${a.text.slice(0, 200)}`);
  }
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  assert.equal(typeof error?.code, 'string', `${what}: HTTP ${a.status} without an error code: ${a.text.slice(0, 200)}`);
  assert.equal(typeof error?.message, 'string', `${what}: HTTP ${a.status} without an error message: ${a.text.slice(0, 200)}`);
  assert.ok((error!.message as string).length > 0, `${what}: an empty error message`);
}

const HOSTILE_PARAMS = [
  '0',
  '-1',
  '1.5',
  '99999999999999999999999',
  'x',
  'A'.repeat(3000),
  '%00',
  '..%2F..%2Fetc%2Fpasswd',
  '%F0%28%8C%28',
  '%E2%80%AE',
  encodeURIComponent("'; DROP TABLE tx; --"),
  encodeURIComponent('😀'),
  'constructor',
  '__proto__',
];

const HOSTILE_QUERIES = [
  'pageSize=-1',
  'pageSize=abc',
  'pageSize=1e309',
  'bookmark=%FF%FE',
  `q=${'B'.repeat(5000)}`,
  'a[b]=1&a[c]=2',
  'from=x&to=y',
  '__proto__[x]=1',
  'limit=0&limit=1',
];

const DEEP_ARRAY = `${'['.repeat(50_000)}${']'.repeat(50_000)}`;
const DEEP_OBJECT = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
const FIXED_BODIES: ReadonlyArray<{ name: string; text: string; contentType?: string }> = [
  { name: 'empty', text: '' },
  { name: 'null', text: 'null' },
  { name: 'array', text: '[]' },
  { name: 'string', text: '"x"' },
  { name: 'number out of range', text: '1e309' },
  { name: 'truncated JSON', text: '{"a":' },
  { name: 'unknown field only', text: '{"zzz":1}' },
  { name: 'prototype pollution', text: '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}' },
  { name: 'deeply nested array', text: DEEP_ARRAY },
  { name: 'deeply nested object', text: DEEP_OBJECT },
  { name: 'long string field', text: JSON.stringify({ a: 'C'.repeat(200_000) }) },
  { name: 'plain text', text: 'hello', contentType: 'text/plain' },
  { name: 'garbage as CBOR', text: '\u00ff\u0000\u0001', contentType: 'application/cbor' },
  { name: 'form', text: 'a=1&b=2', contentType: 'application/x-www-form-urlencoded' },
];

/** The top-level field names of a route's body schema, when it is an object (to get past the first check). */
function bodyFields(schema: z.ZodType | undefined): string[] {
  let s: unknown = schema;
  for (let i = 0; i < 8 && s; i++) {
    if (s instanceof z.ZodObject) return Object.keys(s.shape as Record<string, unknown>);
    // Optional, nullable, default, readonly (innerType) and pipes (in): look through to the object.
    const def = (s as { _zod?: { def?: { innerType?: unknown; in?: unknown } } })._zod?.def;
    s = def?.innerType ?? def?.in;
  }
  return [];
}

/** JSON values that stress a field: wrong types, edge numbers, long and odd strings, nesting. */
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, -0, '', ' ', '\u0000', 'A'.repeat(70_000), '😀', [], {}),
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.jsonValue({ maxDepth: 4 }),
);

function generatedBodies(route: RouteSpec, seed: number): string[] {
  const fields = bodyFields(route.body);
  const arbitrary =
    fields.length > 0
      ? fc.dictionary(fc.constantFrom(...fields), hostileValue, { minKeys: 1, maxKeys: fields.length })
      : fc.dictionary(fc.string({ maxLength: 12 }), hostileValue, { maxKeys: 4 });
  return fc.sample(arbitrary, { seed, numRuns: GENERATED_BODIES_PER_ROUTE }).map((v) => JSON.stringify(v));
}

function withParams(path: string, value: string): string {
  return path.replace(/:([A-Za-z]+)/g, value);
}

before(async () => {
  net = await startRecordsNetwork({ orgs: 3, api: true, enrolment: true });
  caPem = readFileSync(join(net.dir, 'crypto', 'root-ca.pem'), 'utf8');
  agent = new Agent({ keepAlive: true, maxSockets: 4 });
  await net.caller(H1, 'admin1').submit('initialize', { camsOrg: H1 });
});
after(async () => {
  agent?.destroy();
  await net?.stop();
});

describe('the API edge: bad input on every route is a 4xx naming the problem, never a 5xx, crash or hang', { timeout: 600_000 }, () => {
  const routes = Object.entries(ROUTES) as Array<[string, RouteSpec]>;
  const admin = { org: H1, user: 'admin1' };
  const patient = { org: H1, user: 'patient1' };

  it('covers every route of the route table', () => {
    assert.ok(routes.length >= 30, `${routes.length} routes`);
  });

  it('hostile path parameters and query strings (signed as an admin and as a patient, and unsigned)', async () => {
    let calls = 0;
    for (const [id, r] of routes) {
      const stream = r.responseType === 'sse' || r.responseType === 'ndjson';
      const paths = r.path.includes(':') ? HOSTILE_PARAMS.map((p) => withParams(r.path, p)) : [r.path];
      for (const path of paths) {
        for (const query of ['', ...HOSTILE_QUERIES]) {
          const pathAndQuery = query ? `${path}?${query}` : path;
          for (const as of [admin, patient, null]) {
            if (query && as === patient) continue; // the patient's turn is the bare path: enough for the permission checks
            const body = r.method === 'GET' ? undefined : new TextEncoder().encode('{}');
            const a = await call({ method: r.method, pathAndQuery, ...(body ? { body } : {}), as, stream });
            assertClearAnswer(`${id} ${r.method} ${pathAndQuery.slice(0, 100)} as ${as ? as.user : 'nobody'}`, a);
            calls += 1;
          }
        }
      }
    }
    assert.ok(calls > 500, `${calls} calls`);
  });

  it('hostile bodies and content types, fixed and generated (fast-check, fixed seed), signed as an admin', async () => {
    let calls = 0;
    let seed = 1384;
    for (const [id, r] of routes) {
      if (r.method === 'GET') continue;
      const path = withParams(r.path, 'x');
      const bodies = [...FIXED_BODIES, ...generatedBodies(r, seed++).map((text, i) => ({ name: `generated #${i}`, text, contentType: undefined }))];
      for (const b of bodies) {
        const bytes = b.name === 'garbage as CBOR' ? new Uint8Array([0xff, 0x00, 0x01]) : new TextEncoder().encode(b.text);
        const a = await call({ method: r.method, pathAndQuery: path, body: bytes, ...(b.contentType ? { contentType: b.contentType } : {}), as: admin });
        assertClearAnswer(`${id} ${r.method} ${path} with ${b.name} body ${b.text.slice(0, 120)}`, a);
        calls += 1;
      }
    }
    assert.ok(calls > 200, `${calls} calls`);
  });

  it('afterwards every node answers and the consortium still commits', async () => {
    for (const org of net.apis.keys()) {
      const a = await call({ method: 'GET', pathAndQuery: '/v1/status', as: { org, user: 'admin1' }, node: org });
      assert.equal(a.status, 200, `${org}: /v1/status ${a.text.slice(0, 200)}`);
    }
    const enrolled = await net.caller(H1, 'admin1').submit('enrolPatient', { pseudonym: patientPseudonym(net.dir, H1, 'patient1') });
    assert.match(enrolled.txId, /^[0-9a-f]{64}$/, 'a transaction commits after the sweep');
  });
});
