// The client's one transport-level retry: a kept-alive connection the server dropped while idle.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createConsortium, type Consortium } from '../identity/index.ts';
import { MedLedgerApiError, MedLedgerClient } from './client.ts';

describe('MedLedgerClient connection reuse', () => {
  let consortium: Consortium;
  let server: Server;
  let url: string;
  let dropSecondRequestOnASocket = true;
  let requests = 0;
  let dropEvery = false;

  before(async () => {
    consortium = await createConsortium({ orgs: ['H1'], users: [{ org: 'H1', commonName: 'doctor1', role: 'doctor' }] });
    const node = consortium.nodes.get('H1')!;
    const served = new WeakMap<object, number>();
    server = createServer(
      { cert: `${node.certPem.trim()}\n${consortium.orgCas.get('H1')!.certPem.trim()}\n`, key: node.keyPem, keepAliveTimeout: 60_000 },
      (req, res) => {
        requests += 1;
        const n = (served.get(req.socket) ?? 0) + 1;
        served.set(req.socket, n);
        // The race a kept-alive client meets: the server closes the idle socket as a request arrives.
        if (dropEvery || (n === 2 && dropSecondRequestOnASocket)) {
          req.socket.destroy();
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true, nodeId: 'node.H1', org: 'H1' }));
      },
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  function client(): MedLedgerClient {
    const user = consortium.users[0]!;
    // This HTTP/1.1-only server plays a node behind an HTTP/1.1 proxy: the keep-alive pool's retry.
    return new MedLedgerClient({ url, certPem: user.certPem, keyPem: user.keyPem, caPem: consortium.root.certPem, protocol: 'http1' });
  }

  it('retries once, on a fresh connection, when a reused socket is reset', async () => {
    const c = client();
    try {
      assert.equal((await c.health()).ok, true);
      requests = 0;
      assert.equal((await c.health()).ok, true);
      assert.equal(requests, 2, 'the dropped request and its retry');
    } finally {
      c.close();
    }
  });

  it('does not retry a reset on a fresh connection (the error is reported)', async () => {
    dropSecondRequestOnASocket = false;
    dropEvery = true;
    const c = client();
    try {
      await assert.rejects(c.health(), (e: Error) => e instanceof MedLedgerApiError && e.code === 'ECONNRESET');
    } finally {
      c.close();
      dropSecondRequestOnASocket = true;
      dropEvery = false;
    }
  });
});
