// Honest outcomes (issue 11): a submission is refused (never ordered), answered (committed with a
// validation code), or its outcome is unknown — then the client resubmits the identical envelope
// to the other nodes and, if none can tell, says "unknown" with the txId. Scripted transports play
// the nodes, so every branch is exercised exactly.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { encode, sha256, utf8, type Bytes } from '../codec/index.ts';
import { createConsortium, type Consortium } from '../identity/index.ts';
import { buildProposal, encodeEnvelope, encodeResponse, parseTx } from '../ledger/tx.ts';
import { MedLedgerApiError, MedLedgerClient, OutcomeUnknownError } from './client.ts';
import { TransportError, type HttpRequest, type HttpResponse, type HttpTransport } from './transport.ts';

type NodeScript = (req: HttpRequest) => HttpResponse | Error;

const json = (status: number, body: unknown): HttpResponse => ({ status, body: utf8(JSON.stringify(body)) });

/** Nodes by origin; records every /v1/submit body each received. */
function scriptedTransport(nodes: Record<string, NodeScript>): HttpTransport & { submits: Array<{ origin: string; envelope: string }> } {
  const submits: Array<{ origin: string; envelope: string }> = [];
  return {
    submits,
    async request(req) {
      const node = nodes[req.url.origin];
      if (!node) throw new TransportError('ECONNREFUSED', `cannot reach ${req.url.origin}: connection refused`);
      if (req.url.pathname === '/v1/health') return json(200, { ok: true, nodeId: `node-of-${req.url.port}`, org: 'H1' });
      if (req.url.pathname === '/v1/submit')
        submits.push({ origin: req.url.origin, envelope: (JSON.parse(new TextDecoder().decode(req.body)) as { envelope: string }).envelope });
      const r = node(req);
      if (r instanceof Error) throw r;
      return r;
    },
    stream: () => Promise.reject(new Error('no streams here')),
    streamed: () => Promise.reject(new Error('no streams here')),
    close: () => undefined,
  };
}

describe('submission outcomes', () => {
  let consortium: Consortium;
  let envelope: Bytes;
  let txId: string;
  const A = 'https://127.0.0.1:7001';
  const B = 'https://127.0.0.1:7002';
  const C = 'https://127.0.0.1:7003';

  before(async () => {
    consortium = await createConsortium({ orgs: ['H1'], users: [{ org: 'H1', commonName: 'doctor1', role: 'doctor' }] });
    const user = consortium.users[0]!;
    const proposal = buildProposal({
      contract: 'assets',
      fn: 'create',
      args: ['a1', 'p', '1'],
      creator: user.certPem,
      nonce: new Uint8Array(24).fill(7),
      timestampMs: Date.now(),
    });
    // Only the envelope's shape matters to the client (the nodes here are scripted).
    const proposalBytes = encode(proposal);
    const response = encodeResponse({
      proposalHash: sha256(proposalBytes),
      rwset: { namespaces: [] },
      result: { status: 200, message: '', payload: new Uint8Array() },
      event: null,
    });
    envelope = encodeEnvelope({ payload: encode({ proposal: proposalBytes, response, endorsements: [] }), signature: new Uint8Array(64) });
    txId = parseTx(envelope).proposal.txId;
  });

  const client = (transport: HttpTransport, failover: readonly string[] = []): MedLedgerClient => {
    const user = consortium.users[0]!;
    return new MedLedgerClient({ url: A, certPem: user.certPem, keyPem: user.keyPem, nodeId: 'node-a', transport, failover });
  };
  const status = (duplicate: boolean): HttpResponse =>
    json(200, { txId, status: 'COMMITTED', code: 'VALID', blockNumber: 9, reason: '', ...(duplicate ? { duplicate: true } : {}) });

  it('a node that dies mid-request: the same envelope goes to the next node, which reports the commit', async () => {
    const t = scriptedTransport({
      [A]: () => new TransportError('ECONNRESET', 'socket hang up'),
      [B]: () => status(true),
    });
    const r = await client(t, [B, C]).submitEnvelope(envelope);
    assert.equal(r.status, 'COMMITTED');
    assert.equal(r.code, 'VALID');
    assert.deepEqual(
      t.submits.map((s) => s.origin),
      [A, B],
    );
    assert.equal(t.submits[0]!.envelope, t.submits[1]!.envelope, 'the identical signed envelope (same txId), not a new transaction');
  });

  it('no node can tell: "outcome unknown" with the txId and how to check — never "connection refused"', async () => {
    const t = scriptedTransport({
      [A]: () => new TransportError('ECONNRESET', 'socket hang up'),
      [B]: () => json(504, { error: { code: 'COMMIT_TIMEOUT', message: 'not committed within 30000 ms', txId } }),
    });
    await assert.rejects(client(t, [B, C]).submitEnvelope(envelope), (err: unknown) => {
      assert.ok(err instanceof OutcomeUnknownError);
      assert.equal(err.code, 'OUTCOME_UNKNOWN');
      assert.equal(err.txId, txId);
      assert.match(err.message, new RegExp(`tx status ${txId}`));
      return true;
    });
    assert.deepEqual(
      t.submits.map((s) => s.origin),
      [A, B],
      'C refused the connection: nothing sent there',
    );
  });

  it('the node itself says the orderer did not answer: unknown, even with no other node to ask', async () => {
    const t = scriptedTransport({ [A]: () => json(503, { error: { code: 'OUTCOME_UNKNOWN', message: 'the ordering service did not answer', txId } }) });
    await assert.rejects(client(t).submitEnvelope(envelope), (err: unknown) => err instanceof OutcomeUnknownError && err.txId === txId);
  });

  it('refused before anything was sent (connection refused everywhere): "not ordered", not unknown', async () => {
    const t = scriptedTransport({});
    await assert.rejects(client(t, [B]).submitEnvelope(envelope), (err: unknown) => {
      assert.ok(err instanceof MedLedgerApiError && !(err instanceof OutcomeUnknownError));
      assert.equal(err.code, 'ECONNREFUSED');
      assert.equal(err.maybeSent, false);
      assert.equal(err.txId, txId);
      assert.match(err.message, /not ordered/);
      return true;
    });
  });

  it('the ordering service refused it (not accepted): a refusal after trying the others', async () => {
    const refuse = (): HttpResponse =>
      json(503, { error: { code: 'ORDERING_UNAVAILABLE', message: 'the ordering service did not accept it: no leader', txId } });
    const t = scriptedTransport({ [A]: refuse, [B]: refuse });
    await assert.rejects(
      client(t, [B]).submitEnvelope(envelope),
      (err: unknown) =>
        err instanceof MedLedgerApiError && !(err instanceof OutcomeUnknownError) && err.code === 'ORDERING_UNAVAILABLE' && /not ordered/.test(err.message),
    );
  });

  it('a 4xx refusal is final: no other node is asked', async () => {
    const t = scriptedTransport({
      [A]: () => json(400, { error: { code: 'BAD_TX_SIGNATURE', message: 'the envelope signature does not verify' } }),
      [B]: () => status(false),
    });
    await assert.rejects(client(t, [B]).submitEnvelope(envelope), (err: unknown) => err instanceof MedLedgerApiError && err.code === 'BAD_TX_SIGNATURE');
    assert.deepEqual(
      t.submits.map((s) => s.origin),
      [A],
    );
  });

  it('a malformed pinned genesis hash for a gpbft rating is refused before anything is sent', async () => {
    const asked: string[] = [];
    const t = scriptedTransport({
      [A]: (req) => {
        asked.push(req.url.pathname);
        return json(500, {});
      },
    });
    await assert.rejects(
      client(t).gpbftRate('node.Hospital2', 10, { genesisHashHex: 'not-a-hash' }),
      (err: unknown) => err instanceof MedLedgerApiError && err.code === 'BAD_GENESIS_HASH' && /64 lowercase hex digits/.test(err.message),
    );
    assert.deepEqual(asked, []);
  });

  it('endorsement through a node that is down goes to the next one (nothing is ordered yet)', async () => {
    const endorsedBy: string[] = [];
    const t = scriptedTransport({
      [B]: (req) => {
        if (req.url.pathname === '/v1/endorse') endorsedBy.push(B);
        return json(503, { error: { code: 'ENDORSER_UNAVAILABLE', message: 'scripted: stop here' } });
      },
    });
    await assert.rejects(
      client(t, [B]).submit('assets', 'create', ['x', 'p', '1']),
      (err: unknown) => err instanceof MedLedgerApiError && err.code === 'ENDORSER_UNAVAILABLE',
    );
    assert.deepEqual(endorsedBy, [B], 'A refused the connection; B was asked');
  });
});
