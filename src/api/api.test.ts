// The REST gateway and the SDK against a real 3-node Raft consortium (mTLS between nodes,
// HTTPS to the API), shared by every test in this file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { join } from 'node:path';
import { decode, encode, type Bytes } from '../codec/index.ts';
import { parsePrivateKey, sign } from '../crypto/index.ts';
import { buildProposal, encodeEnvelope, encodeSignedProposal, parseTx, signProposal } from '../ledger/tx.ts';
import { isBatchSignature } from '../crypto/batch-signature.ts';
import type { BroadcastResult } from '../node/orderer.ts';
import { createConsortium, issueCertificate, loadConsortium } from '../identity/index.ts';
import { consortiumIdOf, MedLedgerApiError, MedLedgerClient, type LedgerEvent } from '../sdk/index.ts';
import { keyObjectSigner } from '../sdk/signer.ts';
import { AUTH_HEADERS, signRequest } from './auth.ts';
import { requestAudience } from '../protocol/request-signing.ts';
import { ROUTES, type TxStatusT } from './schemas.ts';
import { blockToJson, JSON_NESTING_DEPTH_MAX } from './server.ts';
import { startTestNetwork, type TestNetwork } from './testkit.ts';

// Small in-flight limits, so that the flooding tests need a few dozen requests, not hundreds.
const LIMITS = { inFlightMax: 32, inFlightPerOrgMax: 12, inFlightPerUserMax: 8 };

let net: TestNetwork;
let url: string;

interface RawAnswer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

function raw(method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer; target?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const req = httpsRequest(
      new URL(path, opts.target ?? url),
      {
        method,
        ca: net.caPem,
        headers: { ...(body ? { 'content-type': 'application/json', 'content-length': String(body.byteLength) } : {}), ...opts.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as RawAnswer['body'] }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One request over HTTP/2 (its own session); the protocol the server agreed to (ALPN) and the answer. */
function rawH2(method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<RawAnswer & { alpn: string }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(url, { ca: net.caPem });
    session.on('error', reject);
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const stream = session.request(
      { ':method': method, ':path': path, ...(body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
      { endStream: body === undefined },
    );
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const alpn = String(session.alpnProtocol);
      session.close();
      resolve({ status, alpn, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as RawAnswer['body'] });
    });
    stream.on('error', reject);
    if (body) stream.end(body);
  });
}

/** Headers signed as `who` for the node `audience` (default: Hospital1's node, the one at `url`). */
function signedHeaders(
  method: string,
  path: string,
  body: string,
  who: { certPem: string; keyPem: string },
  nowMs?: number,
  audience = requestAudience('node.Hospital1', consortiumHex()),
): Promise<Record<string, string>> {
  return signRequest({
    audience,
    method,
    pathAndQuery: path,
    body: new Uint8Array(Buffer.from(body)),
    signer: keyObjectSigner(who.certPem, parsePrivateKey(who.keyPem)),
    ...(nowMs !== undefined ? { nowMs } : {}),
  });
}

/** The test consortium's genesis hash, which every proposal names (decision 1389). */
function consortiumHex(): string {
  return consortiumIdOf(net.dir);
}

function client(org = 'Hospital1', name = 'doctor1', target = url): MedLedgerClient {
  return new MedLedgerClient({ url: target, ...net.user(org, name), caPem: net.caPem });
}

/** Endorse an `assets.create` through node 1 and sign it as `org/name`, without submitting it. */
async function endorsedEnvelope(org: string, name: string, args: readonly string[]): Promise<{ txId: string; envelope: Bytes }> {
  const who = net.user(org, name);
  const key = parsePrivateKey(who.keyPem);
  const proposal = buildProposal({
    contract: 'assets',
    fn: 'create',
    args,
    creator: who.certPem,
    nonce: new Uint8Array(randomBytes(24)),
    timestampMs: Date.now(),
    consortium: consortiumHex(),
  });
  const signed = signProposal(proposal, { sign: (m) => sign(key, m) });
  const body = JSON.stringify({ signedProposal: Buffer.from(encodeSignedProposal(signed)).toString('base64') });
  const r = await raw('POST', '/v1/endorse', { body, headers: await signedHeaders('POST', '/v1/endorse', body, who) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const txPayload = new Uint8Array(Buffer.from(String(r.body['txPayload']), 'base64'));
  return { txId: proposal.txId, envelope: encodeEnvelope({ payload: txPayload, signature: sign(key, txPayload) }) };
}

/** How many times `txId` appears in blocks from..to of node `index` (waiting until it has them). */
async function occurrences(txId: string, from: number, to: number, index: number): Promise<number> {
  const node = net.nodes[index]!;
  const deadline = Date.now() + 20_000;
  while (node.height() < to) {
    if (Date.now() > deadline) assert.fail(`node ${node.nodeId} did not reach block ${to}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  let n = 0;
  for (let b = from; b <= to; b++) n += blockToJson(node.getBlock(b)!, node).txs.filter((t) => t.txId === txId).length;
  return n;
}

/**
 * `count` concurrent slow requests by `org/name` (each waits up to 30 s for a commit that never
 * comes): the answers settle as they arrive; `abort()` drops the ones still held.
 */
async function slowRequests(org: string, name: string, count: number): Promise<{ settled: RawAnswer[]; abort(): void }> {
  const settled: RawAnswer[] = [];
  const controller = new AbortController();
  // Signed first, then sent together: the requests must be in flight at the same time.
  const paths = Array.from({ length: count }, () => `/v1/tx/${randomBytes(32).toString('hex')}?waitMs=30000`);
  const signed = await Promise.all(paths.map((path) => signedHeaders('GET', path, '', net.user(org, name))));
  for (let i = 0; i < count; i++) {
    const path = paths[i]!;
    const headers = signed[i]!;
    const req = httpsRequest(new URL(path, url), { method: 'GET', ca: net.caPem, agent: false, signal: controller.signal, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => settled.push({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as RawAnswer['body'] }));
      res.on('error', () => undefined);
    });
    req.on('error', () => undefined); // aborted at the end of the test
    req.end();
  }
  return { settled, abort: () => controller.abort() };
}

/** An unsigned GET (probes and scrapers hold no keys): status, content type, body text. */
function fetchText(path: string): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(new URL(path, url), { method: 'GET', ca: net.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rejectsWith(p: Promise<unknown>, status: number, code: string): Promise<MedLedgerApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof MedLedgerApiError, `expected MedLedgerApiError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status, err.message);
    return err;
  }
  assert.fail(`expected ${status} ${code}`);
}

describe('REST gateway (3-node raft consortium)', () => {
  before(async () => {
    net = await startTestNetwork({ orgs: 3, engine: 'raft', api: { bodyLimitBytes: 64 * 1024, limits: LIMITS } });
    url = net.apis[0]!.url;
  });
  after(async () => {
    await net?.stop();
  });

  it('serves /v1/health and /openapi.json without authentication; the document lists every route', async () => {
    const health = await raw('GET', '/v1/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.org, 'Hospital1');
    assert.equal(health.body.genesisHashHex, (await client().status()).genesisHashHex, 'the consortium a proposal names (decision 1389)');
    const doc = await client().openapi();
    assert.equal(doc.openapi, '3.1.0');
    const paths = doc.paths as Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    for (const [id, r] of Object.entries(ROUTES)) {
      const op = paths[r.path.replace(/:([A-Za-z]+)/g, '{$1}')]?.[r.method.toLowerCase()];
      assert.ok(op, `OpenAPI document lacks ${r.method} ${r.path}`);
      assert.equal(op.operationId, id);
      assert.ok(op.responses['200']);
    }
    assert.ok(paths['/v1/submit']?.post && JSON.stringify(paths['/v1/submit'].post).includes('"envelope"'));
  });

  describe('signed requests', () => {
    it('rejects a request without the signature headers (401)', async () => {
      const r = await raw('GET', '/v1/status');
      assert.equal(r.status, 401);
      assert.equal(r.body.error?.code, 'UNAUTHENTICATED');
      assert.match(r.body.error!.message, new RegExp(AUTH_HEADERS.cert));
    });

    it('rejects a bad signature (signed for another path)', async () => {
      const headers = await signedHeaders('GET', '/v1/blocks/0', '', net.user('Hospital1', 'doctor1'));
      const r = await raw('GET', '/v1/status', { headers });
      assert.equal(r.status, 401);
      assert.equal(r.body.error?.code, 'BAD_SIGNATURE');
    });

    it("rejects a signature by a key that is not the certificate's", async () => {
      const headers = await signedHeaders('GET', '/v1/status', '', {
        certPem: net.user('Hospital1', 'doctor1').certPem,
        keyPem: net.user('Hospital1', 'nurse1').keyPem,
      });
      const r = await raw('GET', '/v1/status', { headers });
      assert.equal(r.body.error?.code, 'BAD_SIGNATURE');
    });

    it('rejects an expired certificate with a clear reason', async () => {
      const consortium = loadConsortium(join(net.dir, 'crypto'));
      const now = Date.now();
      const old = await issueCertificate(consortium.orgCas.get('Hospital1')!, {
        commonName: 'retired1',
        role: 'doctor',
        notBefore: new Date(now - 4 * 60_000),
        notAfter: new Date(now - 60_000),
      });
      const r = await raw('GET', '/v1/status', { headers: await signedHeaders('GET', '/v1/status', '', old) });
      assert.equal(r.status, 401);
      assert.equal(r.body.error?.code, 'CERT_EXPIRED');
      assert.match(r.body.error!.message, /expired/i);
    });

    it('rejects a certificate from a foreign CA', async () => {
      const foreign = await createConsortium({ orgs: ['Hospital1'], users: [{ org: 'Hospital1', commonName: 'doctor1', role: 'doctor' }] });
      const user = foreign.users[0]!;
      const r = await raw('GET', '/v1/status', { headers: await signedHeaders('GET', '/v1/status', '', user) });
      assert.equal(r.status, 401);
      assert.match(r.body.error!.code, /^CERT_/);
    });

    it('rejects a replayed request and a stale timestamp', async () => {
      const headers = await signedHeaders('GET', '/v1/status', '', net.user('Hospital1', 'doctor1'));
      assert.equal((await raw('GET', '/v1/status', { headers })).status, 200);
      const replay = await raw('GET', '/v1/status', { headers });
      assert.equal(replay.status, 401);
      assert.equal(replay.body.error?.code, 'REPLAYED');
      const stale = await raw('GET', '/v1/status', {
        headers: await signedHeaders('GET', '/v1/status', '', net.user('Hospital1', 'doctor1'), Date.now() - 10 * 60_000),
      });
      assert.equal(stale.status, 401);
      assert.equal(stale.body.error?.code, 'STALE_REQUEST');
    });

    it('binds a request to the node it is addressed to: accepted at one node, refused when replayed at another', async () => {
      const doctor = net.user('Hospital1', 'doctor1');
      const headers = await signedHeaders('GET', '/v1/status', '', doctor);
      assert.equal((await raw('GET', '/v1/status', { headers })).status, 200);
      const replayed = await raw('GET', '/v1/status', { headers, target: net.apis[1]!.url });
      assert.equal(replayed.status, 401);
      assert.equal(replayed.body.error?.code, 'WRONG_AUDIENCE');
      assert.match(replayed.body.error!.message, /signed for node node\.Hospital1, but this is node node\.Hospital2/);
      // Rewriting the audience header does not help: the signature covers it.
      const relabelled = await raw('GET', '/v1/status', {
        headers: { ...headers, [AUTH_HEADERS.audience]: requestAudience('node.Hospital2', consortiumHex()) },
        target: net.apis[1]!.url,
      });
      assert.equal(relabelled.status, 401);
      assert.equal(relabelled.body.error?.code, 'BAD_SIGNATURE');
      // Signed for Hospital2's node, it is accepted there.
      const forB = await signedHeaders('GET', '/v1/status', '', doctor, undefined, requestAudience('node.Hospital2', consortiumHex()));
      assert.equal((await raw('GET', '/v1/status', { headers: forB, target: net.apis[1]!.url })).status, 200);
    });

    it('binds a request to the consortium of its node: signed for node.Hospital1 of another consortium, it is refused (decision 1398)', async () => {
      const doctor = net.user('Hospital1', 'doctor1');
      // The same node id in another consortium (a hospital's staging consortium, say), where the
      // same certificate could be enrolled: a request signed there does not pass here.
      const elsewhere = 'e'.repeat(64);
      const headers = await signedHeaders('GET', '/v1/status', '', doctor, undefined, requestAudience('node.Hospital1', elsewhere));
      const refused = await raw('GET', '/v1/status', { headers });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error?.code, 'WRONG_AUDIENCE');
      assert.match(
        refused.body.error!.message,
        new RegExp(`node node\\.Hospital1 of consortium eeeeeeeeeeeeeeee…, but this node is of consortium ${consortiumHex().slice(0, 16)}…`),
      );
      // A request of the previous scheme (the node id alone) is refused with the form it needs.
      const bare = await raw('GET', '/v1/status', { headers: await signedHeaders('GET', '/v1/status', '', doctor, undefined, 'node.Hospital1') });
      assert.equal(bare.status, 401);
      assert.match(bare.body.error!.message, /<node id>@<consortium genesis hash, hex>.*GET \/v1\/health tells both; MEDLEDGER-REQUEST-V3/);
    });
  });

  describe('bad input', () => {
    it('answers 413 to an oversized body', async () => {
      const body = JSON.stringify({ signedProposal: 'A'.repeat(100 * 1024) });
      const r = await raw('POST', '/v1/evaluate', { body, headers: await signedHeaders('POST', '/v1/evaluate', body, net.user('Hospital1', 'doctor1')) });
      assert.equal(r.status, 413);
      assert.equal(r.body.error?.code, 'BODY_TOO_LARGE');
    });

    it('answers 400 to malformed JSON and to a body that breaks the schema', async () => {
      const body = '{"signedProposal": ';
      const r = await raw('POST', '/v1/evaluate', { body, headers: await signedHeaders('POST', '/v1/evaluate', body, net.user('Hospital1', 'doctor1')) });
      assert.equal(r.status, 400);
      assert.equal(r.body.error?.code, 'MALFORMED_JSON');
      const extra = JSON.stringify({ signedProposal: 'AAAA', admin: true });
      const r2 = await raw('POST', '/v1/evaluate', {
        body: extra,
        headers: await signedHeaders('POST', '/v1/evaluate', extra, net.user('Hospital1', 'doctor1')),
      });
      assert.equal(r2.status, 400);
      assert.equal(r2.body.error?.code, 'BAD_REQUEST');
    });

    it('answers 400 TOO_DEEP, naming the limit, to a body nested deeper than it (any route), before parsing it', async () => {
      const who = net.user('Hospital1', 'doctor1');
      for (const [path, depth] of [
        ['/v1/evaluate', 5_000],
        ['/v1/submit', 20_000],
        ['/v1/endorse', JSON_NESTING_DEPTH_MAX + 1],
      ] as const) {
        const body = `{"signedProposal": ${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;
        const r = await raw('POST', path, { body, headers: await signedHeaders('POST', path, body, who) });
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.error?.code, 'TOO_DEEP');
        assert.match(r.body.error!.message, new RegExp(`deeper than ${JSON_NESTING_DEPTH_MAX} levels`));
      }
      // At the limit the body is parsed and judged by its schema.
      const body = `{"signedProposal": ${'['.repeat(JSON_NESTING_DEPTH_MAX - 1)}${']'.repeat(JSON_NESTING_DEPTH_MAX - 1)}}`;
      const r = await raw('POST', '/v1/evaluate', { body, headers: await signedHeaders('POST', '/v1/evaluate', body, who) });
      assert.deepEqual({ status: r.status, code: r.body.error?.code }, { status: 400, code: 'BAD_REQUEST' });
    });

    it('answers 400 to a malformed proposal', async () => {
      const body = JSON.stringify({ signedProposal: Buffer.from('not cbor at all').toString('base64') });
      const r = await raw('POST', '/v1/endorse', { body, headers: await signedHeaders('POST', '/v1/endorse', body, net.user('Hospital1', 'doctor1')) });
      assert.equal(r.status, 400);
      assert.equal(r.body.error?.code, 'MALFORMED_PROPOSAL');
    });

    it('answers 404 to an unknown contract and to a missing block, 422 to a refused transaction', async () => {
      const c = client();
      try {
        await rejectsWith(c.evaluate('nosuch', 'read', ['x']), 404, 'UNKNOWN_CONTRACT');
        await rejectsWith(c.submit('nosuch', 'create', ['x']), 404, 'UNKNOWN_CONTRACT');
        await rejectsWith(c.block(1_000_000), 404, 'BLOCK_NOT_FOUND');
        await rejectsWith(c.evaluate('assets', 'read', ['missing-asset']), 422, 'CONTRACT_REJECTED');
        await rejectsWith(c.txStatus('0'.repeat(64)), 404, 'TX_NOT_FOUND');
      } finally {
        c.close();
      }
    });

    it('refuses a proposal created by another certificate than the request signer (403)', async () => {
      const c = client('Hospital1', 'doctor2');
      // Build a genuine signed proposal as doctor2, then send it with doctor1's request signature.
      const p = await (c as unknown as { newSignedProposal(a: string, b: string, d: string[]): Promise<{ signedProposal: Uint8Array }> }).newSignedProposal(
        'assets',
        'read',
        ['x'],
      );
      const proposalBody = JSON.stringify({ signedProposal: Buffer.from(p.signedProposal).toString('base64') });
      c.close();
      const r = await raw('POST', '/v1/evaluate', {
        body: proposalBody,
        headers: await signedHeaders('POST', '/v1/evaluate', proposalBody, net.user('Hospital1', 'doctor1')),
      });
      assert.equal(r.status, 403);
      assert.equal(r.body.error?.code, 'CREATOR_MISMATCH');
    });
  });

  describe('signed bodies authenticate /v1/endorse and /v1/submit without a request signature (decision 1300)', () => {
    const proposalBody = (who: { certPem: string; keyPem: string }, opts: { timestampMs?: number; signWith?: string } = {}): { txId: string; body: string } => {
      const proposal = buildProposal({
        contract: 'assets',
        fn: 'create',
        args: [`body-auth-${randomBytes(4).toString('hex')}`, 'eve', '1'],
        creator: who.certPem,
        nonce: new Uint8Array(randomBytes(24)),
        timestampMs: opts.timestampMs ?? Date.now(),
        consortium: consortiumHex(),
      });
      const key = parsePrivateKey(opts.signWith ?? who.keyPem);
      const signed = signProposal(proposal, { sign: (m) => sign(key, m) });
      return { txId: proposal.txId, body: JSON.stringify({ signedProposal: Buffer.from(encodeSignedProposal(signed)).toString('base64') }) };
    };

    it('endorses and commits an unsigned request whose proposal and envelope are signed by their creator', async () => {
      const who = net.user('Hospital2', 'doctor1');
      const { txId, body } = proposalBody(who);
      const e = await raw('POST', '/v1/endorse', { body });
      assert.equal(e.status, 200, JSON.stringify(e.body));
      const txPayload = new Uint8Array(Buffer.from(String(e.body['txPayload']), 'base64'));
      const envelope = encodeEnvelope({ payload: txPayload, signature: sign(parsePrivateKey(who.keyPem), txPayload) });
      const s = await raw('POST', '/v1/submit', { body: JSON.stringify({ envelope: Buffer.from(envelope).toString('base64'), waitMs: 20_000 }) });
      assert.equal(s.status, 200, JSON.stringify(s.body));
      assert.equal(s.body['txId'], txId);
      assert.equal(s.body['code'], 'VALID');
      // The same envelope again, unsigned: answered by txId, never ordered twice.
      const again = await raw('POST', '/v1/submit', { body: JSON.stringify({ envelope: Buffer.from(envelope).toString('base64') }) });
      assert.equal(again.status, 200);
      assert.equal(again.body['duplicate'], true);
    });

    it('refuses a body signed by another key than its creator certificate, a stale proposal, a foreign creator, and unsigned requests elsewhere', async () => {
      const who = net.user('Hospital1', 'doctor1');
      const forged = await raw('POST', '/v1/endorse', { body: proposalBody(who, { signWith: net.user('Hospital1', 'nurse1').keyPem }).body });
      assert.equal(forged.status, 401);
      assert.equal(forged.body.error?.code, 'BAD_SIGNATURE');
      const stale = await raw('POST', '/v1/endorse', { body: proposalBody(who, { timestampMs: Date.now() - 10 * 60_000 }).body });
      assert.equal(stale.status, 401);
      assert.equal(stale.body.error?.code, 'STALE_REQUEST');
      const foreign = await createConsortium({ orgs: ['Hospital1'], users: [{ org: 'Hospital1', commonName: 'mallory', role: 'doctor' }] });
      const outsider = await raw('POST', '/v1/endorse', { body: proposalBody(foreign.users[0]!).body });
      assert.equal(outsider.status, 401);
      assert.match(String(outsider.body.error?.code), /^CERT_/);
      // A tampered envelope signature (unsigned request): refused before anything is ordered.
      const { envelope } = await endorsedEnvelope('Hospital1', 'doctor1', [`body-auth-bad-${Date.now()}`, 'eve', '1']);
      const bytes = new Uint8Array(envelope);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
      const tampered = await raw('POST', '/v1/submit', { body: JSON.stringify({ envelope: Buffer.from(bytes).toString('base64') }) });
      assert.ok(tampered.status === 401 || tampered.status === 400, JSON.stringify(tampered.body));
      // Routes whose bodies are not signed still need a request signature; so does /v1/evaluate.
      const evaluate = await raw('POST', '/v1/evaluate', { body: proposalBody(who).body });
      assert.equal(evaluate.status, 401);
      assert.equal(evaluate.body.error?.code, 'UNAUTHENTICATED');
      const malformed = await raw('POST', '/v1/endorse', { body: JSON.stringify({ signedProposal: 'AAAA' }) });
      assert.equal(malformed.status, 400);
    });
  });

  describe('HTTP/2 and streamed commit statuses (decisions 1310, 1311)', () => {
    it('answers over HTTP/2 and over HTTP/1.1 on the same port, checking the request signature on both', async () => {
      const who = net.user('Hospital1', 'doctor1');
      const h2 = await rawH2('GET', '/v1/whoami', { headers: await signedHeaders('GET', '/v1/whoami', '', who) });
      assert.equal(h2.alpn, 'h2');
      assert.equal(h2.status, 200, JSON.stringify(h2.body));
      assert.equal(h2.body['id'], 'doctor1');
      // A signature made for another path is refused over h2 exactly as over HTTP/1.1.
      const forged = await rawH2('GET', '/v1/whoami', { headers: await signedHeaders('GET', '/v1/status', '', who) });
      assert.equal(forged.status, 401);
      assert.equal(forged.body.error?.code, 'BAD_SIGNATURE', JSON.stringify(forged.body));
      const unsigned = await rawH2('GET', '/v1/whoami');
      assert.equal(unsigned.status, 401);
      const h1 = await new Promise<{ version: string; status: number }>((resolve, reject) => {
        void signedHeaders('GET', '/v1/whoami', '', who).then((headers) => {
          const req = httpsRequest(new URL('/v1/whoami', url), { method: 'GET', ca: net.caPem, headers }, (res) => {
            res.resume();
            res.on('end', () => resolve({ version: res.httpVersion, status: res.statusCode ?? 0 }));
          });
          req.on('error', reject);
          req.end();
        });
      });
      assert.deepEqual(h1, { version: '1.1', status: 200 });
      const forgedH1 = await raw('GET', '/v1/whoami', { headers: await signedHeaders('GET', '/v1/status', '', who) });
      assert.equal(forgedH1.status, 401);
      // A signed body (decision 1300) authenticates over h2 too: the endorsement of a signed proposal.
      const key = parsePrivateKey(who.keyPem);
      const proposal = buildProposal({
        contract: 'assets',
        fn: 'create',
        args: [`h2-${Date.now()}`, 'amy', '1'],
        creator: who.certPem,
        nonce: new Uint8Array(randomBytes(24)),
        timestampMs: Date.now(),
        consortium: consortiumHex(),
      });
      const body = JSON.stringify({
        signedProposal: Buffer.from(encodeSignedProposal(signProposal(proposal, { sign: (m) => sign(key, m) }))).toString('base64'),
      });
      const endorsed = await rawH2('POST', '/v1/endorse', { body });
      assert.equal(endorsed.status, 200, JSON.stringify(endorsed.body));
      assert.equal(endorsed.body['txId'], proposal.txId);
    });

    it("streams each transaction's real validation code as it commits: a batch submit and POST /v1/tx/statuses", async () => {
      const c = client('Hospital2', 'doctor1');
      try {
        // Two creates of one id, both endorsed before either commits: one VALID, one MVCC_READ_CONFLICT.
        const id = `stream-${Date.now()}`;
        const [a, b] = await Promise.all([c.prepare('assets', 'create', [id, 'eve', '1']), c.prepare('assets', 'create', [id, 'eve', '2'])]);
        const heard: Array<[number, string]> = [];
        const results = await c.submitBatch([a!.envelope, b!.envelope], {
          waitMs: 20_000,
          onResult: (i, r) => heard.push([i, 'error' in r ? r.error.code : String(r.code)]),
        });
        const codes = results.map((r) => ('error' in r ? r.error.code : r.code));
        assert.deepEqual([...codes].sort(), ['MVCC_READ_CONFLICT', 'VALID'], JSON.stringify(results));
        assert.deepEqual(
          [...heard].sort((x, y) => x[0] - y[0]),
          codes.map((code, i) => [i, code]),
          'each result was heard once, as it came',
        );
        // The same codes from the status stream, and an error line for a transaction never submitted.
        const unknown = randomBytes(32).toString('hex');
        const statuses = await c.txStatuses([b!.txId, a!.txId, unknown], { waitMs: 0 });
        assert.deepEqual(
          statuses.map((r) => ('error' in r ? r.error.code : r.code)),
          [codes[1], codes[0], 'TX_NOT_FOUND'],
        );
        assert.deepEqual(
          statuses.map((r) => r.txId),
          [b!.txId, a!.txId, unknown],
        );
        // A status that arrives later: the stream waits for the commit, then answers.
        const later = await c.prepare('assets', 'create', [`${id}-later`, 'eve', '3']);
        const waiting = c.txStatuses([later.txId], { waitMs: 20_000 });
        await c.submitEnvelope(later.envelope, { waitMs: 0 });
        const [committed] = await waiting;
        assert.ok(committed && !('error' in committed) && committed.code === 'VALID', JSON.stringify(committed));
        // The route needs a request signature, and bounds its input.
        const unsigned = await raw('POST', '/v1/tx/statuses', { body: JSON.stringify({ txIds: [a!.txId] }) });
        assert.equal(unsigned.status, 401);
        await assert.rejects(c.txStatuses([]), (e: MedLedgerApiError) => e.code === 'BAD_REQUEST');
      } finally {
        c.close();
      }
    });
  });

  describe('batch endorse (POST /v1/endorse/batch, decision 1312)', () => {
    it("endorses several of the caller's proposals in one request, one result or error each; refuses a batch holding another's proposal", async () => {
      const c = client('Hospital1', 'doctor1');
      try {
        const id = `eb-${Date.now()}`;
        await c.submit('assets', 'create', [`${id}-taken`, 'fay', '1'], { waitMs: 20_000 });
        const prepared = await c.prepareBatch([
          { contract: 'assets', fn: 'create', args: [`${id}-a`, 'fay', '1'] },
          { contract: 'assets', fn: 'create', args: [`${id}-taken`, 'fay', '2'] },
          { contract: 'assets', fn: 'create', args: [`${id}-b`, 'fay', '3'] },
        ]);
        assert.equal(prepared.length, 3);
        const refused = prepared[1];
        assert.ok(refused instanceof MedLedgerApiError && refused.code === 'ENDORSEMENT_REFUSED', String(refused));
        const ok = [prepared[0], prepared[2]].map((p) => {
          assert.ok(p && !(p instanceof MedLedgerApiError), String(p));
          return p;
        });
        // The client signed its proposals, then the two transactions it accepted, each as one batch,
        // and the node's peer its endorsements (decision 1384): one root signature each.
        const parsed = ok.map((p) => parseTx(p.envelope));
        // Each proposal names the consortium, the node's genesis block (decision 1389).
        const genesisHashHex = (await c.status()).genesisHashHex;
        assert.match(genesisHashHex ?? '', /^[0-9a-f]{64}$/);
        assert.deepEqual(
          parsed.map((t) => t.proposal.consortium),
          [genesisHashHex, genesisHashHex],
        );
        assert.ok(parsed.every((t) => isBatchSignature(t.envelope.signature)));
        assert.deepEqual(parsed[0]!.envelope.signature.subarray(2, 66), parsed[1]!.envelope.signature.subarray(2, 66));
        assert.ok(parsed.every((t) => t.payload.endorsements.every((e) => isBatchSignature(e.signature))));
        const results = await c.submitBatch(
          ok.map((p) => p.envelope),
          { waitMs: 20_000 },
        );
        assert.deepEqual(
          results.map((r) => ('error' in r ? r.error.code : r.code)),
          ['VALID', 'VALID'],
        );
        // A proposal of another user in the batch: nothing is endorsed, the culprit is named.
        const other = net.user('Hospital1', 'doctor2');
        const otherKey = parsePrivateKey(other.keyPem);
        const foreign = buildProposal({
          contract: 'assets',
          fn: 'create',
          args: [`${id}-x`, 'fay', '1'],
          creator: other.certPem,
          nonce: new Uint8Array(randomBytes(24)),
          timestampMs: Date.now(),
          consortium: consortiumHex(),
        });
        const mine = buildProposal({
          contract: 'assets',
          fn: 'create',
          args: [`${id}-y`, 'fay', '1'],
          creator: net.user('Hospital1', 'doctor1').certPem,
          nonce: new Uint8Array(randomBytes(24)),
          timestampMs: Date.now(),
          consortium: consortiumHex(),
        });
        const myKey = parsePrivateKey(net.user('Hospital1', 'doctor1').keyPem);
        const b64 = (p: typeof mine, k: typeof myKey): string =>
          Buffer.from(encodeSignedProposal(signProposal(p, { sign: (m) => sign(k, m) }))).toString('base64');
        const mixed = await raw('POST', '/v1/endorse/batch', { body: JSON.stringify({ signedProposals: [b64(mine, myKey), b64(foreign, otherKey)] }) });
        assert.equal(mixed.status, 403, JSON.stringify(mixed.body));
        assert.match(String(mixed.body.error?.message), /signedProposals\[1\]/);
        // Signed by the wrong key: refused as a bad signature.
        const forged = await raw('POST', '/v1/endorse/batch', { body: JSON.stringify({ signedProposals: [b64(mine, myKey), b64(mine, otherKey)] }) });
        assert.equal(forged.status, 401, JSON.stringify(forged.body));
        assert.equal(forged.body.error?.code, 'BAD_SIGNATURE');
      } finally {
        c.close();
      }
    });
  });

  describe('batch submit (POST /v1/submit/batch)', () => {
    it("commits a batch of the caller's envelopes, one status each, in order; a resubmitted one is a duplicate", async () => {
      const c = client('Hospital3', 'doctor1');
      try {
        const prepared = await Promise.all([0, 1, 2].map((i) => c.prepare('assets', 'create', [`batch-${Date.now()}-${i}`, 'bob', '1'])));
        const results = await c.submitBatch(
          prepared.map((p) => p.envelope),
          { waitMs: 20_000 },
        );
        assert.deepEqual(
          results.map((r) => ('error' in r ? r.error.code : r.code)),
          ['VALID', 'VALID', 'VALID'],
        );
        assert.deepEqual(
          results.map((r) => r.txId),
          prepared.map((p) => p.txId),
        );
        const again = await c.submitBatch([prepared[0]!.envelope], { waitMs: 0 });
        assert.ok(!('error' in again[0]!) && again[0]!.duplicate === true);
        await assert.rejects(c.submitBatch([]), (e: MedLedgerApiError) => e.code === 'BAD_REQUEST');
      } finally {
        c.close();
      }
    });

    it("refuses the whole batch, naming the envelope, when one is not the caller's, malformed, or the batch is too large", async () => {
      const mine = await endorsedEnvelope('Hospital1', 'doctor1', [`batch-mine-${Date.now()}`, 'eve', '1']);
      const theirs = await endorsedEnvelope('Hospital1', 'doctor2', [`batch-theirs-${Date.now()}`, 'eve', '1']);
      const b64 = (e: Bytes): string => Buffer.from(e).toString('base64');
      const mixed = await raw('POST', '/v1/submit/batch', { body: JSON.stringify({ envelopes: [b64(mine.envelope), b64(theirs.envelope)] }) });
      assert.equal(mixed.status, 403);
      assert.equal(mixed.body.error?.code, 'CREATOR_MISMATCH');
      assert.match(mixed.body.error!.message, /envelopes\[1\]/);
      const malformed = await raw('POST', '/v1/submit/batch', { body: JSON.stringify({ envelopes: [b64(mine.envelope), 'AAAA'] }) });
      assert.equal(malformed.status, 400);
      const tooMany = await raw('POST', '/v1/submit/batch', { body: JSON.stringify({ envelopes: Array.from({ length: 257 }, () => 'AAAA') }) });
      assert.equal(tooMany.status, 400);
      const empty = await raw('POST', '/v1/submit/batch', { body: JSON.stringify({ envelopes: [] }) });
      assert.equal(empty.status, 400);
      // Neither was ordered: the caller's own envelope is still unknown to the node.
      const status = await raw('GET', `/v1/tx/${mine.txId}`, {
        headers: await signedHeaders('GET', `/v1/tx/${mine.txId}`, '', net.user('Hospital1', 'doctor1')),
      });
      assert.equal(status.status, 404);
    });
  });

  describe('DAG-CBOR bodies for the batch routes (decision 1320)', () => {
    /** POST `bytes` as application/cbor; the status, content type and the answer decoded (CBOR or JSON). */
    const cborPost = (path: string, bytes: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; type: string; value: unknown }> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(
          new URL(path, url),
          {
            method: 'POST',
            ca: net.caPem,
            headers: { 'content-type': 'application/cbor', accept: 'application/cbor', 'content-length': String(bytes.byteLength), ...headers },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const type = String(res.headers['content-type'] ?? '');
              const body = new Uint8Array(Buffer.concat(chunks));
              resolve({
                status: res.statusCode ?? 0,
                type,
                value: type.startsWith('application/cbor') ? decode(body) : JSON.parse(Buffer.from(body).toString('utf8')),
              });
            });
          },
        );
        req.on('error', reject);
        req.end(Buffer.from(bytes));
      });
    const codeOf = (value: unknown): string | undefined => (value as { error?: { code?: string } }).error?.code;
    const signedProposalBytes = (who: { certPem: string; keyPem: string }, args: readonly string[], signKeyPem = who.keyPem): Uint8Array => {
      const proposal = buildProposal({
        contract: 'assets',
        fn: 'create',
        args,
        creator: who.certPem,
        nonce: new Uint8Array(randomBytes(24)),
        timestampMs: Date.now(),
        consortium: consortiumHex(),
      });
      const key = parsePrivateKey(signKeyPem);
      return encodeSignedProposal(signProposal(proposal, { sign: (m) => sign(key, m) }));
    };

    it('endorses and commits through CBOR bodies and answers, and through JSON ones (the SDK either way)', async () => {
      const id = `cbor-${Date.now()}`;
      const doctor = net.user('Hospital1', 'doctor1');
      // The OpenAPI document offers both encodings on both batch routes.
      const doc = (await raw('GET', '/openapi.json')).body as { paths: Record<string, { post: { requestBody: { content: Record<string, unknown> } } }> };
      for (const path of ['/v1/endorse/batch', '/v1/submit/batch'])
        assert.deepEqual(Object.keys(doc.paths[path]!.post.requestBody.content).sort(), ['application/cbor', 'application/json'], path);
      // Raw: byte strings in, byte strings out, nothing base64.
      const r = await cborPost('/v1/endorse/batch', encode({ signedProposals: [signedProposalBytes(doctor, [`${id}-raw`, 'ann', '1'])] }));
      assert.equal(r.status, 200, JSON.stringify(r.value));
      assert.match(r.type, /^application\/cbor/);
      const [item] = (r.value as { results: Array<{ txId: string; txPayload: unknown; payload: unknown }> }).results;
      assert.ok(item && item.txPayload instanceof Uint8Array && item.payload instanceof Uint8Array, 'bytes come back as CBOR byte strings');
      for (const batchBodies of ['cbor', 'json'] as const) {
        const c = new MedLedgerClient({ url, ...doctor, caPem: net.caPem, batchBodies });
        try {
          const prepared = await c.prepareBatch([0, 1].map((i) => ({ contract: 'assets', fn: 'create', args: [`${id}-${batchBodies}-${i}`, 'ann', '1'] })));
          const ok = prepared.map((p) => {
            assert.ok(!(p instanceof MedLedgerApiError), String(p));
            return p;
          });
          const lines: string[] = [];
          const streamed = await c.submitBatch(
            ok.map((p) => p.envelope),
            { waitMs: 20_000, txIds: ok.map((p) => p.txId), onResult: (_, res) => lines.push(res.txId) },
          );
          assert.deepEqual(
            streamed.map((x) => ('error' in x ? x.error.code : x.code)),
            ['VALID', 'VALID'],
          );
          assert.deepEqual(lines.sort(), ok.map((p) => p.txId).sort());
          // Not streamed: one answer (DAG-CBOR for the CBOR client), duplicates named.
          const again = await c.submitBatch([ok[0]!.envelope], { waitMs: 0 });
          assert.ok(!('error' in again[0]!) && again[0]!.duplicate === true, JSON.stringify(again));
        } finally {
          c.close();
        }
      }
    });

    it('refuses malformed, non-canonical, mis-shaped, oversized and forged CBOR bodies with 4xx naming the problem, and CBOR elsewhere with 415', async () => {
      const doctor = net.user('Hospital1', 'doctor1');
      const other = net.user('Hospital1', 'doctor2');
      const id = `cbor-bad-${Date.now()}`;
      const malformed = await cborPost('/v1/submit/batch', new Uint8Array([0xff, 0x00, 0x01]));
      assert.equal(malformed.status, 400);
      assert.equal(codeOf(malformed.value), 'MALFORMED_CBOR');
      // {envelopes: []} with an indefinite-length array: valid CBOR, not canonical DAG-CBOR.
      const indefinite = await cborPost('/v1/submit/batch', new Uint8Array([0xa1, 0x69, ...Buffer.from('envelopes'), 0x9f, 0xff]));
      assert.equal(indefinite.status, 400);
      assert.equal(codeOf(indefinite.value), 'MALFORMED_CBOR');
      const strings = await cborPost('/v1/endorse/batch', encode({ signedProposals: ['AAAA'] }));
      assert.equal(strings.status, 400);
      assert.equal(codeOf(strings.value), 'BAD_REQUEST');
      const extra = await cborPost('/v1/endorse/batch', encode({ signedProposals: [signedProposalBytes(doctor, [`${id}-e`, 'x', '1'])], admin: true }));
      assert.equal(extra.status, 400);
      const tooMany = await cborPost('/v1/submit/batch', encode({ envelopes: Array.from({ length: 257 }, () => new Uint8Array([1])) }));
      assert.equal(tooMany.status, 400);
      assert.match(String((tooMany.value as { error: { message: string } }).error.message), /envelopes/);
      const junk = await cborPost('/v1/endorse/batch', encode({ signedProposals: [new Uint8Array([1, 2, 3])] }));
      assert.equal(junk.status, 400);
      assert.equal(codeOf(junk.value), 'MALFORMED_PROPOSAL');
      const oversized = await cborPost('/v1/submit/batch', encode({ envelopes: [new Uint8Array(200 * 1024)] }));
      assert.equal(oversized.status, 413);
      assert.equal(codeOf(oversized.value), 'BODY_TOO_LARGE');
      const elsewhere = await cborPost('/v1/submit', encode({ envelope: new Uint8Array([1]) }));
      assert.equal(elsewhere.status, 415);
      assert.equal(codeOf(elsewhere.value), 'UNSUPPORTED_MEDIA_TYPE');
      // Signed by another key than its creator's: refused, nothing endorsed.
      const forged = await cborPost(
        '/v1/endorse/batch',
        encode({ signedProposals: [signedProposalBytes(doctor, [`${id}-a`, 'x', '1']), signedProposalBytes(doctor, [`${id}-b`, 'x', '1'], other.keyPem)] }),
      );
      assert.equal(forged.status, 401, JSON.stringify(forged.value));
      assert.equal(codeOf(forged.value), 'BAD_SIGNATURE');
      assert.match(String((forged.value as { error: { message: string } }).error.message), /signedProposals\[1\]/);
      // Another user's envelope in the batch: refused, and not even the caller's own was ordered.
      const mine = await endorsedEnvelope('Hospital1', 'doctor1', [`${id}-mine`, 'eve', '1']);
      const theirs = await endorsedEnvelope('Hospital1', 'doctor2', [`${id}-theirs`, 'eve', '1']);
      const mixed = await cborPost('/v1/submit/batch', encode({ envelopes: [mine.envelope, theirs.envelope] }));
      assert.equal(mixed.status, 403);
      assert.equal(codeOf(mixed.value), 'CREATOR_MISMATCH');
      const status = await raw('GET', `/v1/tx/${mine.txId}`, { headers: await signedHeaders('GET', `/v1/tx/${mine.txId}`, '', doctor) });
      assert.equal(status.status, 404);
      // A request signature covers the exact CBOR bytes: accepted as sent, refused when altered.
      const body = encode({ envelopes: [mine.envelope], waitMs: 0 });
      const signer = keyObjectSigner(doctor.certPem, parsePrivateKey(doctor.keyPem));
      const headers = await signRequest({
        audience: requestAudience('node.Hospital1', consortiumHex()),
        method: 'POST',
        pathAndQuery: '/v1/submit/batch',
        body,
        signer,
      });
      const altered = await cborPost('/v1/submit/batch', encode({ envelopes: [mine.envelope], waitMs: 1 }), headers);
      assert.equal(altered.status, 401);
      assert.equal(codeOf(altered.value), 'BAD_SIGNATURE');
      const accepted = await cborPost('/v1/submit/batch', body, headers);
      assert.equal(accepted.status, 200, JSON.stringify(accepted.value));
      assert.equal((accepted.value as { results: Array<{ txId: string }> }).results[0]?.txId, mine.txId);
    });
  });

  describe('resubmitted transactions (issue 16 item 6, decision 1003)', () => {
    it('a committed envelope resubmitted to any gateway or straight to an orderer gets its committed status and never reaches a block again', async () => {
      const c1 = client();
      const c2 = client('Hospital1', 'doctor1', net.apis[1]!.url);
      try {
        const { txId, envelope } = await endorsedEnvelope('Hospital1', 'doctor1', [`dup-${Date.now()}`, 'alice', '1']);
        const first = await c1.submitEnvelope(envelope, { waitMs: 20_000 });
        assert.deepEqual({ status: first.status, code: first.code, duplicate: first.duplicate }, { status: 'COMMITTED', code: 'VALID', duplicate: undefined });
        const expected = { txId, status: 'COMMITTED', code: 'VALID', blockNumber: first.blockNumber, reason: '', duplicate: true };
        for (const waitMs of [0, 5_000, 0]) assert.deepEqual(await c1.submitEnvelope(envelope, { waitMs }), expected);
        // Through another hospital's gateway (its own orderer), once it has the block.
        await c2.txStatus(txId, 10_000);
        assert.deepEqual(await c2.submitEnvelope(envelope, { waitMs: 0 }), expected);
        // Straight to Hospital1's orderer over the node-to-node channel, as Hospital2's node would.
        const direct = decode<BroadcastResult>(
          await net.nodes[1]!.request(net.nodes[0]!.nodeId, 'broadcast', encode({ clientId: 'replayer', seq: 1, data: envelope })),
        );
        assert.deepEqual(direct.accepted ? null : direct.duplicate, { state: 'committed', blockNumber: first.blockNumber, code: 'VALID' });

        // Every block after it, up to a later transaction's, on a third node: no copy of it.
        const marker = await c1.submit('assets', 'create', [`dup-marker-${Date.now()}`, 'bob', '1'], { waitMs: 20_000 });
        assert.equal(await occurrences(txId, first.blockNumber!, marker.blockNumber!, 2), 1, 'the transaction is in the chain exactly once');
      } finally {
        c1.close();
        c2.close();
      }
    });

    it('two identical submissions at once order one copy; a pending one is answered SUBMITTED "already pending"', async () => {
      const c = client('Hospital2', 'doctor1');
      try {
        const { txId, envelope } = await endorsedEnvelope('Hospital2', 'doctor1', [`race-${Date.now()}`, 'carol', '1']);
        const answers = await Promise.all([
          c.submitEnvelope(envelope, { waitMs: 20_000 }),
          c.submitEnvelope(envelope, { waitMs: 20_000 }),
          c.submitEnvelope(envelope, { waitMs: 0 }),
        ]);
        // Whichever arrived first was broadcast; the other two were answered as resubmissions.
        assert.equal(answers.filter((a) => a.duplicate === true).length, 2, JSON.stringify(answers));
        const [waited1, waited2, quick] = answers as [TxStatusT, TxStatusT, TxStatusT];
        for (const a of [waited1, waited2])
          assert.deepEqual({ status: a.status, code: a.code, block: a.blockNumber }, { status: 'COMMITTED', code: 'VALID', block: waited1.blockNumber });
        const quickOk =
          quick.duplicate === true
            ? quick.status === 'COMMITTED' || (quick.status === 'SUBMITTED' && quick.reason === 'already pending: not broadcast again')
            : quick.status === 'SUBMITTED' && quick.reason === '';
        assert.ok(quickOk, JSON.stringify(quick));
        const first = waited1;
        const marker = await c.submit('assets', 'create', [`race-marker-${Date.now()}`, 'dan', '1'], { waitMs: 20_000 });
        assert.equal(await occurrences(txId, first.blockNumber!, marker.blockNumber!, 2), 1, 'one copy in the chain');
      } finally {
        c.close();
      }
    });
  });

  describe('one user or organisation cannot starve the node (issue 16 item 7, decision 1004)', () => {
    it('a user holding many slow requests gets 429 beyond its own limit while other users, and then its organisation beyond its limit, are served', async () => {
      // The probe: one auditor sends more concurrent slow requests than the node's whole limit.
      const flood = await slowRequests('Hospital3', 'auditor1', LIMITS.inFlightMax + 8);
      const others: Array<{ abort(): void }> = [flood];
      try {
        await until(
          `all but ${LIMITS.inFlightPerUserMax} of the flood are refused (refused so far: ${flood.settled.length})`,
          () => flood.settled.length >= LIMITS.inFlightMax + 8 - LIMITS.inFlightPerUserMax,
        );
        for (const a of flood.settled) {
          assert.equal(a.status, 429, JSON.stringify(a.body));
          assert.equal(a.body.error?.code, 'TOO_MANY_REQUESTS');
          assert.match(
            a.body.error!.message,
            new RegExp(
              `Hospital3/auditor1 already has ${LIMITS.inFlightPerUserMax} requests in flight on this node \\(at most ${LIMITS.inFlightPerUserMax} per user\\)`,
            ),
          );
        }
        // Everyone else is served: another organisation's user, and another user of the same one.
        for (const [org, name] of [
          ['Hospital1', 'doctor1'],
          ['Hospital2', 'nurse1'],
          ['Hospital3', 'nurse1'],
        ] as const) {
          const c = client(org, name);
          try {
            assert.equal((await c.status()).nodeId, net.nodes[0]!.nodeId, `${org}/${name} is served`);
          } finally {
            c.close();
          }
        }
        // A second user of Hospital3 fills its organisation's limit: beyond it, Hospital3's users wait; the others do not.
        const second = await slowRequests('Hospital3', 'nurse1', LIMITS.inFlightPerUserMax);
        others.push(second);
        const orgRoom = LIMITS.inFlightPerOrgMax - LIMITS.inFlightPerUserMax;
        await until('the organisation limit refuses the rest', () => second.settled.length >= LIMITS.inFlightPerUserMax - orgRoom);
        for (const a of second.settled)
          assert.match(
            a.body.error?.message ?? '',
            new RegExp(`the users of Hospital3 already have ${LIMITS.inFlightPerOrgMax} requests in flight on this node`),
          );
        const h3 = client('Hospital3', 'doctor1');
        const h2 = client('Hospital2', 'doctor1');
        try {
          await rejectsWith(h3.status(), 429, 'TOO_MANY_REQUESTS');
          assert.equal((await h2.status()).org, 'Hospital1');
        } finally {
          h3.close();
          h2.close();
        }
      } finally {
        for (const o of others) o.abort();
      }
      // Aborted requests free their slots.
      const c = client('Hospital3', 'auditor1');
      try {
        const deadline = Date.now() + 10_000;
        for (;;) {
          try {
            await c.status();
            break;
          } catch (err) {
            if (!(err instanceof MedLedgerApiError) || err.status !== 429 || Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      } finally {
        c.close();
      }
    });
  });

  describe('event streams per user (decision 1004)', () => {
    it('a user holding 8 streams is refused a ninth with 429 TOO_MANY_STREAMS; another user still opens one', async () => {
      const c = client('Hospital2', 'auditor1');
      const other = client('Hospital2', 'doctor2');
      const abort = new AbortController();
      const open: Promise<void>[] = [];
      try {
        for (let i = 0; i < 8; i++) open.push(c.events(null, () => undefined, abort.signal));
        // A ninth, until the node has counted the eight (a probe that stays open is closed and retried).
        let ninth: MedLedgerApiError | null = null;
        for (let attempt = 0; attempt < 20 && ninth === null; attempt++) {
          const probe = new AbortController();
          const p = c
            .events(null, () => undefined, probe.signal)
            .then(
              () => null,
              (err: unknown) => err as MedLedgerApiError,
            );
          const settled = await Promise.race([p, new Promise<'open'>((r) => setTimeout(() => r('open'), 300))]);
          if (settled === 'open' || settled === null) {
            probe.abort(); // not all eight were counted yet: try again
            await p;
            continue;
          }
          ninth = settled;
        }
        assert.ok(ninth instanceof MedLedgerApiError, 'a ninth stream is refused');
        assert.deepEqual({ status: ninth.status, code: ninth.code }, { status: 429, code: 'TOO_MANY_STREAMS' });
        assert.match(ninth.message, /Hospital2\/auditor1 already has 8 event streams open on this node \(at most 8 per user\)/);
        const otherAbort = new AbortController();
        const otherStream = other.events(null, () => undefined, otherAbort.signal);
        const otherOutcome = await Promise.race([
          otherStream.then(
            () => 'ended',
            (err: unknown) => String(err),
          ),
          new Promise<string>((r) => setTimeout(() => r('open'), 500)),
        ]);
        otherAbort.abort();
        await otherStream;
        assert.equal(otherOutcome, 'open', 'another user of the same organisation is served');
      } finally {
        abort.abort();
        await Promise.all(open);
        c.close();
        other.close();
      }
    });
  });

  describe('operations: metrics, readiness, log level (issue 12)', () => {
    it('serves Prometheus metrics without a signed request: heights, roles, committed transactions by code, API and endorsement latencies; no identities', async () => {
      const c = client();
      try {
        await c.submit('assets', 'create', [`metrics-${Date.now()}`, 'patient-m', '1']);
      } finally {
        c.close();
      }
      const res = await fetchText('/metrics');
      assert.equal(res.status, 200);
      assert.match(res.contentType, /^text\/plain/);
      const value = (re: RegExp): number => Number(re.exec(res.body)?.[1] ?? Number.NaN);
      assert.ok(value(/^medledger_block_height (\d+)$/m) >= 1);
      assert.ok(value(/^medledger_transactions_committed_total\{code="VALID"\} (\d+)$/m) >= 1);
      assert.ok(value(/^medledger_blocks_committed_total (\d+)$/m) >= 1);
      assert.equal(value(/^medledger_consensus_leader_known (\d+)$/m), 1);
      const roles = [...res.body.matchAll(/^medledger_consensus_role\{role="([a-z-]+)"\} 1$/gm)].map((m) => m[1]);
      assert.equal(roles.length, 1, 'exactly one current role');
      assert.match(res.body, /^medledger_endorsement_seconds_count \d+$/m);
      assert.match(res.body, /^medledger_api_requests_total\{route="\/v1\/submit",status="200"\} \d+$/m);
      assert.match(res.body, /^medledger_wal_fsync_seconds_count \d+$/m);
      // No peer of this healthy consortium went over its receive budget (decision 1397).
      assert.equal(value(/^medledger_p2p_receive_pauses_total (\d+)$/m), 0);
      // Counted by the crypto layer (process-wide), for the benchmark's per-transaction figures.
      assert.ok(value(/^medledger_crypto_signs_total (\d+)$/m) >= 1);
      assert.ok(value(/^medledger_crypto_verifies_total (\d+)$/m) >= 1);
      assert.match(res.body, /^medledger_crypto_verify_cache_hits_total \d+$/m);
      assert.match(res.body, /^medledger_process_cpu_seconds_total\{mode="user"\} [\d.e+-]+$/m);
      // Route patterns only: no transaction ids, no user names, no hex identifiers in the labels.
      assert.doesNotMatch(res.body, /[0-9a-f]{64}|doctor1|Hospital\d\//);
    });

    it('answers readiness apart from liveness, without a signed request', async () => {
      const res = await fetchText('/v1/ready');
      assert.equal(res.status, 200);
      assert.deepEqual(JSON.parse(res.body), { ready: true, reasons: [], nodeId: 'node.Hospital1' });
      const readiness = net.nodes[0]!.readiness();
      assert.equal(readiness.ready, true);
    });

    it("lets an admin of the node's own organisation change its log level at runtime; nobody else", async () => {
      const node = net.nodes[0]!;
      const before = node.logLevel;
      const body = JSON.stringify({ level: 'debug' });
      const asDoctor = await raw('POST', '/v1/admin/log-level', {
        body,
        headers: await signedHeaders('POST', '/v1/admin/log-level', body, net.user('Hospital1', 'doctor1')),
      });
      assert.equal(asDoctor.status, 403);
      const foreignAdmin = await raw('POST', '/v1/admin/log-level', {
        body,
        headers: await signedHeaders('POST', '/v1/admin/log-level', body, net.user('Hospital2', 'admin1')),
      });
      assert.equal(foreignAdmin.status, 403);
      assert.match(foreignAdmin.body.error!.message, /only an admin of Hospital1/);
      const bad = JSON.stringify({ level: 'loud' });
      assert.equal(
        (
          await raw('POST', '/v1/admin/log-level', {
            body: bad,
            headers: await signedHeaders('POST', '/v1/admin/log-level', bad, net.user('Hospital1', 'admin1')),
          })
        ).status,
        400,
      );
      assert.equal(node.logLevel, before, 'refusals changed nothing');
      const ok = await raw('POST', '/v1/admin/log-level', {
        body,
        headers: await signedHeaders('POST', '/v1/admin/log-level', body, net.user('Hospital1', 'admin1')),
      });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(ok.body, { level: 'debug', previous: before });
      assert.equal(node.logLevel, 'debug');
      node.logLevel = before;
    });
  });

  describe('SDK end to end', () => {
    it('submits, waits for the commit, reads the status, evaluates, gets the block, and streams events', async () => {
      const c = client();
      const c2 = client('Hospital2', 'nurse1', net.apis[1]!.url);
      const startHeight = (await c.status()).height;
      const events: LedgerEvent[] = [];
      const abort = new AbortController();
      let sawContract!: () => void;
      const contractSeen = new Promise<void>((r) => (sawContract = r));
      const streaming = c2.events(
        startHeight + 1,
        (e) => {
          events.push(e);
          if (e.type === 'contract' && e.event.name === 'AssetCreated') sawContract();
        },
        abort.signal,
      );
      try {
        const id = `mri-${Date.now()}`;
        const res = await c.submit('assets', 'create', [id, 'alice', '10'], { waitMs: 20_000 });
        assert.equal(res.status, 'COMMITTED');
        assert.equal(res.code, 'VALID');
        assert.equal(Buffer.from(res.payload).toString(), id);
        assert.ok(res.endorsers.length >= 2 && res.endorsers[0] === 'Hospital1', `endorsers ${res.endorsers.join(',')}`);
        const status = await c.txStatus(res.txId);
        assert.deepEqual({ code: status.code, block: status.blockNumber }, { code: 'VALID', block: res.blockNumber });

        // Another node answers for the same transaction once it has committed it.
        const onNode2 = await c2.txStatus(res.txId, 10_000);
        assert.equal(onNode2.blockNumber, res.blockNumber);
        const asset = JSON.parse(Buffer.from(await c2.evaluate('assets', 'read', [id])).toString()) as { owner: string; value: number };
        assert.deepEqual({ owner: asset.owner, value: asset.value }, { owner: 'alice', value: 10 });

        const block = await c.block(res.blockNumber!);
        const tx = block.txs.find((t) => t.txId === res.txId);
        assert.ok(tx, 'the block lists the transaction');
        assert.deepEqual(
          { ...tx, position: 0 },
          { position: 0, txId: res.txId, contract: 'assets', fn: 'create', creatorOrg: 'Hospital1', creatorId: 'doctor1', code: 'VALID' },
        );
        assert.match(block.hashHex, /^[0-9a-f]{64}$/);
        const previous = await c.block(res.blockNumber! - 1);
        assert.equal(block.previousHashHex, previous.hashHex);

        // A second submission of the same asset is refused by the contract at endorsement.
        await rejectsWith(c.submit('assets', 'create', [id, 'bob', '1']), 422, 'ENDORSEMENT_REFUSED');

        await contractSeen;
        const blocks = events.filter((e): e is Extract<LedgerEvent, { type: 'block' }> => e.type === 'block').map((e) => e.block.number);
        assert.deepEqual(
          blocks,
          Array.from({ length: blocks.length }, (_, i) => startHeight + 1 + i),
          'blocks arrive in order without gaps',
        );
        assert.ok(blocks.includes(res.blockNumber!));
        const ce = events.find((e) => e.type === 'contract');
        assert.ok(ce && ce.type === 'contract' && ce.event.txId === res.txId);
        assert.deepEqual(JSON.parse(Buffer.from(ce.event.payload, 'base64').toString()), { id, owner: 'alice' });

        const nodeStatus = await c.status();
        assert.ok(nodeStatus.height >= res.blockNumber!);
        assert.equal(nodeStatus.consensus?.engine, 'raft');
      } finally {
        abort.abort();
        await streaming;
        c.close();
        c2.close();
      }
    });

    it('replays stored blocks to an event stream that starts in the past', async () => {
      const c = client('Hospital3', 'auditor1', net.apis[2]!.url);
      const abort = new AbortController();
      const seen: number[] = [];
      const height = (await c.status()).height;
      try {
        await new Promise<void>((resolve, reject) => {
          c.events(
            1,
            (e) => {
              if (e.type === 'block') seen.push(e.block.number);
              if (seen.length >= height) resolve();
            },
            abort.signal,
          ).catch(reject);
        });
      } finally {
        abort.abort();
        c.close();
      }
      assert.deepEqual(
        seen.slice(0, height),
        Array.from({ length: height }, (_, i) => i + 1),
      );
    });

    it('names the URL when the node cannot be reached', async () => {
      const c = new MedLedgerClient({ url: 'https://127.0.0.1:1', ...net.user('Hospital1', 'doctor1'), caPem: net.caPem });
      const err = await rejectsWith(c.status(), 0, 'ECONNREFUSED');
      assert.match(err.message, /127\.0\.0\.1:1/);
      c.close();
    });
  });
});
