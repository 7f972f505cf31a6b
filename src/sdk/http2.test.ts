// The SDK's HTTP/2 transport (decision 1310) against real node:http2 servers that play a node
// misbehaving in exactly one way: one session carries many requests, bounded by streamsMax; a
// stream the server refuses unprocessed is resent; a connection reset after a submit was sent is
// "outcome unknown" with the txId, and a refused connection is "not ordered" (issue 11).
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { constants, createSecureServer, type Http2SecureServer, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { encode, sha256 } from '../codec/index.ts';
import { createConsortium, type Consortium } from '../identity/index.ts';
import { buildProposal, encodeEnvelope, encodeResponse, parseTx } from '../ledger/tx.ts';
import { MedLedgerApiError, MedLedgerClient, OutcomeUnknownError } from './client.ts';

type Handler = (stream: ServerHttp2Stream, path: string, body: Buffer, contentType: string) => void;

describe('SDK over HTTP/2', () => {
  let consortium: Consortium;
  let server: Http2SecureServer;
  let url: string;
  let handle: Handler = () => undefined;
  let sessions = 0;
  let open = 0;
  let openMax = 0;
  let envelope: Uint8Array;
  let txId: string;
  const sockets = new Set<Socket>();
  /** The node dies: every TCP connection it has is reset (an h2 session's own socket cannot be touched). */
  const die = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };

  const healthy = (stream: ServerHttp2Stream): void => {
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify({ ok: true, nodeId: 'node.H1', org: 'H1' }));
  };

  before(async () => {
    consortium = await createConsortium({ orgs: ['H1'], users: [{ org: 'H1', commonName: 'doctor1', role: 'doctor' }] });
    const node = consortium.nodes.get('H1')!;
    server = createSecureServer({ cert: `${node.certPem.trim()}\n${consortium.orgCas.get('H1')!.certPem.trim()}\n`, key: node.keyPem });
    server.on('session', () => (sessions += 1));
    server.on('secureConnection', (s: Socket) => sockets.add(s));
    server.on('stream', (stream, headers) => {
      open += 1;
      openMax = Math.max(openMax, open);
      stream.once('close', () => (open -= 1));
      stream.on('error', () => undefined); // a stream this server refuses or resets on purpose
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => handle(stream, String(headers[':path']), Buffer.concat(chunks), String(headers['content-type'] ?? '')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

    const user = consortium.users[0]!;
    const proposal = buildProposal({
      contract: 'assets',
      fn: 'create',
      args: ['a1', 'p', '1'],
      creator: user.certPem,
      nonce: new Uint8Array(24).fill(3),
      timestampMs: Date.now(),
    });
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

  after(() => {
    server.close();
  });

  const client = (target = url, streamsMax?: number): MedLedgerClient => {
    const user = consortium.users[0]!;
    return new MedLedgerClient({
      url: target,
      certPem: user.certPem,
      keyPem: user.keyPem,
      caPem: consortium.root.certPem,
      nodeId: 'node.H1',
      ...(streamsMax !== undefined ? { streamsMax } : {}),
    });
  };

  it('sends many requests at once over one session, never more streams than streamsMax', async () => {
    sessions = 0;
    openMax = 0;
    // Answers held back a moment so that the requests really overlap on the server.
    handle = (stream) => setImmediate(() => healthy(stream));
    const c = client(url, 4);
    try {
      const answers = await Promise.all(Array.from({ length: 20 }, () => c.health()));
      assert.equal(answers.length, 20);
      assert.ok(answers.every((a) => a.ok));
      assert.equal(sessions, 1, 'one HTTP/2 session for every request');
      assert.ok(openMax <= 4 && openMax >= 2, `streams open at once on the server: ${openMax} (at most 4, and more than one)`);
    } finally {
      c.close();
    }
  });

  it('resends a request the node refused before handling it (REFUSED_STREAM)', async () => {
    let asked = 0;
    handle = (stream) => {
      asked += 1;
      if (asked === 1) stream.close(constants.NGHTTP2_REFUSED_STREAM);
      else healthy(stream);
    };
    const c = client();
    try {
      assert.equal((await c.health()).ok, true);
      assert.equal(asked, 2, 'the refused stream and its resend');
    } finally {
      c.close();
    }
  });

  it('a connection reset after the submit was sent: "outcome unknown" with the txId, never "refused"', async () => {
    let submitted = 0;
    handle = (stream, path) => {
      if (path !== '/v1/submit') return healthy(stream);
      submitted += 1;
      // The node received the whole envelope and died before it answered.
      die();
    };
    const c = client();
    try {
      await assert.rejects(c.submitEnvelope(envelope), (err: unknown) => {
        assert.ok(err instanceof OutcomeUnknownError, String(err));
        assert.equal(err.code, 'OUTCOME_UNKNOWN');
        assert.equal(err.txId, txId);
        return true;
      });
      assert.equal(submitted, 1);
    } finally {
      c.close();
    }
  });

  it('a batch whose connection resets mid-stream: the statuses heard stand, the others are "outcome unknown", each with its txId', async () => {
    handle = (stream, path) => {
      if (path !== '/v1/submit/batch') return healthy(stream);
      stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
      stream.write(`${JSON.stringify({ txId, status: 'COMMITTED', code: 'VALID', blockNumber: 4, reason: '' })}\n`, () => setImmediate(die));
    };
    const c = client();
    try {
      const heard: string[] = [];
      const second = encodeEnvelope({ ...decodeEnvelopeFields(envelope), signature: new Uint8Array(64).fill(1) });
      const results = await c.submitBatch([envelope, second], { onResult: (i, r) => heard.push(`${i}:${'error' in r ? r.error.code : r.code}`) });
      assert.deepEqual(heard, ['0:VALID', '1:OUTCOME_UNKNOWN']);
      assert.equal(results[1]!.txId, txId, 'the unknown one is named by its txId');
    } finally {
      c.close();
    }
  });

  // The race this guards (DATA handed to the stream before its 'response' event, whose bytes were
  // then collected instead of read as lines) showed under load in `medledger bench` (2-of-3, load
  // 8–11: 31–105 of 10,000 transactions lost their status); in this process it does not happen on
  // demand, so this checks the path the bytes take, not the race itself.
  it('lines that arrive together with the headers reach the reader, in order, every time', async () => {
    const line = (code: string): string => `${JSON.stringify({ txId, status: 'COMMITTED', code, blockNumber: 4, reason: '' })}\n`;
    handle = (stream, path) => {
      if (path !== '/v1/submit/batch') return healthy(stream);
      // Headers, both lines and the end in one turn: one TCP write, one read at the client.
      stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
      stream.end(line('VALID') + line('MVCC_READ_CONFLICT'));
    };
    const c = client();
    try {
      const second = encodeEnvelope({ ...decodeEnvelopeFields(envelope), signature: new Uint8Array(64).fill(2) });
      for (let round = 0; round < 20; round++) {
        const heard: string[] = [];
        await c.submitBatch([envelope, second], { txIds: [txId, txId], onResult: (i, r) => heard.push(`${i}:${'error' in r ? r.error.code : r.code}`) });
        assert.deepEqual(heard, ['0:VALID', '1:MVCC_READ_CONFLICT'], `round ${round}`);
      }
    } finally {
      c.close();
    }
  });

  it('a node that predates CBOR bodies (415) gets the same batch again as JSON, and JSON from then on', async () => {
    const types: string[] = [];
    handle = (stream, path, body, contentType) => {
      if (path !== '/v1/submit/batch') return healthy(stream);
      types.push(contentType);
      if (contentType !== 'application/json') {
        stream.respond({ ':status': 415, 'content-type': 'application/json' });
        return stream.end(JSON.stringify({ error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send bodies as application/json' } }));
      }
      const { envelopes } = JSON.parse(body.toString('utf8')) as { envelopes: string[] };
      assert.deepEqual(envelopes, [Buffer.from(envelope).toString('base64')]);
      stream.respond({ ':status': 200, 'content-type': 'application/x-ndjson' });
      stream.end(`${JSON.stringify({ txId, status: 'COMMITTED', code: 'VALID', blockNumber: 4, reason: '' })}\n`);
    };
    const c = client();
    try {
      for (let round = 0; round < 2; round++) {
        const results = await c.submitBatch([envelope], { onResult: () => undefined });
        assert.equal('error' in results[0]! ? results[0].error.code : results[0]!.code, 'VALID');
      }
      assert.deepEqual(types, ['application/cbor', 'application/json', 'application/json']);
    } finally {
      c.close();
    }
  });

  it('a node that refuses the connection: "not ordered", nothing sent', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const c = client(`https://127.0.0.1:${port}`);
    try {
      await assert.rejects(c.submitEnvelope(envelope), (err: unknown) => {
        assert.ok(err instanceof MedLedgerApiError && !(err instanceof OutcomeUnknownError), String(err));
        assert.equal(err.code, 'ECONNREFUSED');
        assert.equal(err.maybeSent, false);
        assert.equal(err.txId, txId);
        return true;
      });
    } finally {
      c.close();
    }
  });
});

/** The envelope's payload (a second envelope with the same txId: the same transaction signed again). */
function decodeEnvelopeFields(envelope: Uint8Array): { payload: Uint8Array } {
  return { payload: parseTx(envelope).envelope.payload };
}
