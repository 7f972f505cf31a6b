// The REST gateway and the SDK against a real 3-node Raft consortium (mTLS between nodes,
// HTTPS to the API), shared by every test in this file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { parsePrivateKey } from '../crypto/index.ts';
import { createConsortium, issueCertificate, loadConsortium } from '../identity/index.ts';
import { MedLedgerApiError, MedLedgerClient, type LedgerEvent } from '../sdk/index.ts';
import { keyObjectSigner } from '../sdk/signer.ts';
import { AUTH_HEADERS, signRequest } from './auth.ts';
import { ROUTES } from './schemas.ts';
import { startTestNetwork, type TestNetwork } from './testkit.ts';

let net: TestNetwork;
let url: string;

interface RawAnswer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

function raw(method: string, path: string, opts: { headers?: Record<string, string>; body?: string | Buffer; target?: string } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
    const req = httpsRequest(new URL(path, opts.target ?? url), {
      method,
      ca: net.caPem,
      headers: { ...(body ? { 'content-type': 'application/json', 'content-length': String(body.byteLength) } : {}), ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as RawAnswer['body'] }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Headers signed as `who` for the node `audience` (default: Hospital1's node, the one at `url`). */
function signedHeaders(method: string, path: string, body: string, who: { certPem: string; keyPem: string }, nowMs?: number, audience = 'node.Hospital1'): Promise<Record<string, string>> {
  return signRequest({ audience, method, pathAndQuery: path, body: new Uint8Array(Buffer.from(body)), signer: keyObjectSigner(who.certPem, parsePrivateKey(who.keyPem)), ...(nowMs !== undefined ? { nowMs } : {}) });
}

function client(org = 'Hospital1', name = 'doctor1', target = url): MedLedgerClient {
  return new MedLedgerClient({ url: target, ...net.user(org, name), caPem: net.caPem });
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
    net = await startTestNetwork({ orgs: 3, engine: 'raft', api: { bodyLimitBytes: 64 * 1024 } });
    url = net.apis[0]!.url;
  });
  after(async () => {
    await net?.stop();
  });

  it('serves /v1/health and /openapi.json without authentication; the document lists every route', async () => {
    const health = await raw('GET', '/v1/health');
    assert.equal(health.status, 200);
    assert.equal(health.body.org, 'Hospital1');
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

    it('rejects a signature by a key that is not the certificate\'s', async () => {
      const headers = await signedHeaders('GET', '/v1/status', '', { certPem: net.user('Hospital1', 'doctor1').certPem, keyPem: net.user('Hospital1', 'nurse1').keyPem });
      const r = await raw('GET', '/v1/status', { headers });
      assert.equal(r.body.error?.code, 'BAD_SIGNATURE');
    });

    it('rejects an expired certificate with a clear reason', async () => {
      const consortium = loadConsortium(join(net.dir, 'crypto'));
      const now = Date.now();
      const old = await issueCertificate(consortium.orgCas.get('Hospital1')!, { commonName: 'retired1', role: 'doctor', notBefore: new Date(now - 4 * 60_000), notAfter: new Date(now - 60_000) });
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
      const stale = await raw('GET', '/v1/status', { headers: await signedHeaders('GET', '/v1/status', '', net.user('Hospital1', 'doctor1'), Date.now() - 10 * 60_000) });
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
      const relabelled = await raw('GET', '/v1/status', { headers: { ...headers, [AUTH_HEADERS.audience]: 'node.Hospital2' }, target: net.apis[1]!.url });
      assert.equal(relabelled.status, 401);
      assert.equal(relabelled.body.error?.code, 'BAD_SIGNATURE');
      // Signed for Hospital2's node, it is accepted there.
      const forB = await signedHeaders('GET', '/v1/status', '', doctor, undefined, 'node.Hospital2');
      assert.equal((await raw('GET', '/v1/status', { headers: forB, target: net.apis[1]!.url })).status, 200);
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
      const r2 = await raw('POST', '/v1/evaluate', { body: extra, headers: await signedHeaders('POST', '/v1/evaluate', extra, net.user('Hospital1', 'doctor1')) });
      assert.equal(r2.status, 400);
      assert.equal(r2.body.error?.code, 'BAD_REQUEST');
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
      const p = await (c as unknown as { newSignedProposal(a: string, b: string, d: string[]): Promise<{ body: unknown }> }).newSignedProposal('assets', 'read', ['x']);
      const proposalBody = JSON.stringify(p.body);
      c.close();
      const r = await raw('POST', '/v1/evaluate', { body: proposalBody, headers: await signedHeaders('POST', '/v1/evaluate', proposalBody, net.user('Hospital1', 'doctor1')) });
      assert.equal(r.status, 403);
      assert.equal(r.body.error?.code, 'CREATOR_MISMATCH');
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
      const streaming = c2.events(startHeight + 1, (e) => {
        events.push(e);
        if (e.type === 'contract' && e.event.name === 'AssetCreated') sawContract();
      }, abort.signal);
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
        assert.deepEqual({ ...tx, position: 0 }, { position: 0, txId: res.txId, contract: 'assets', fn: 'create', creatorOrg: 'Hospital1', creatorId: 'doctor1', code: 'VALID' });
        assert.match(block.hashHex, /^[0-9a-f]{64}$/);
        const previous = await c.block(res.blockNumber! - 1);
        assert.equal(block.previousHashHex, previous.hashHex);

        // A second submission of the same asset is refused by the contract at endorsement.
        await rejectsWith(c.submit('assets', 'create', [id, 'bob', '1']), 422, 'ENDORSEMENT_REFUSED');

        await contractSeen;
        const blocks = events.filter((e): e is Extract<LedgerEvent, { type: 'block' }> => e.type === 'block').map((e) => e.block.number);
        assert.deepEqual(blocks, Array.from({ length: blocks.length }, (_, i) => startHeight + 1 + i), 'blocks arrive in order without gaps');
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
          c.events(1, (e) => {
            if (e.type === 'block') seen.push(e.block.number);
            if (seen.length >= height) resolve();
          }, abort.signal).catch(reject);
        });
      } finally {
        abort.abort();
        c.close();
      }
      assert.deepEqual(seen.slice(0, height), Array.from({ length: height }, (_, i) => i + 1));
    });

    it('names the URL when the node cannot be reached', async () => {
      const c = new MedLedgerClient({ url: 'https://127.0.0.1:1', ...net.user('Hospital1', 'doctor1'), caPem: net.caPem });
      const err = await rejectsWith(c.status(), 0, 'ECONNREFUSED');
      assert.match(err.message, /127\.0\.0\.1:1/);
      c.close();
    });
  });
});
