import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket, type ClientOptions } from 'ws';
import { encode, utf8 } from '../codec/index.ts';
import { createConsortium, Msp, type Consortium } from '../identity/index.ts';
import { createLogger } from '../log/log.ts';
import { Transport, type Authenticator, type TransportOptions } from './transport.ts';

const ORGS = ['H1', 'H2', 'H3'];
/** A member whose node is not started with the others: the node of another version in the protocol test. */
const LATE = 'H4';
/** The protocol the test's nodes speak (a node's is NODE_PROTOCOL, node/protocol.ts). */
const PROTOCOL = 'medledger.test-2';

async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('mTLS transport', () => {
  let consortium: Consortium;
  let outsider: Consortium;
  let authenticate: Authenticator;
  const transports = new Map<string, Transport>();
  const received: Array<{ to: string; from: string; channel: string; text: string }> = [];

  type Limits = Pick<
    TransportOptions,
    'inboundRequestsPerPeerMax' | 'receiveFramesPerSecondPerPeer' | 'receiveBytesPerSecondPerPeer' | 'inboundConnectionsPerPeerMax'
  >;

  function make(org: string, c: Consortium = consortium, port = 0, protocol = PROTOCOL, limits: Limits = {}): Transport {
    const node = c.nodes.get(org)!;
    const t = new Transport({
      protocol,
      selfId: `node.${org}`,
      host: '127.0.0.1',
      port,
      tls: { certChainPem: `${node.certPem.trim()}\n${c.orgCas.get(org)!.certPem.trim()}\n`, keyPem: node.keyPem, caPems: [c.root.certPem] },
      peers: new Map(),
      authenticate,
      onMessage: (from, channel, payload) => received.push({ to: org, from, channel, text: new TextDecoder().decode(payload) }),
      onRequest: async (from, channel, payload) => {
        if (channel === 'fail') throw new Error('no such block');
        if (channel === 'hang') return new Promise<never>(() => undefined);
        if (channel === 'big') return new Uint8Array(40_000);
        return utf8(`${org} answers ${from}: ${new TextDecoder().decode(payload)}`);
      },
      logger: createLogger('transport-test'),
      messageBytesMax: 64 * 1024,
      queueMessagesMax: 5,
      reconnectInitialMs: 20,
      reconnectMaxMs: 200,
      malformedFramesMax: 3,
      ...limits,
    });
    return t;
  }

  function peerMap(except: string): Map<string, string> {
    return new Map([...transports].filter(([o]) => o !== except).map(([o, t]) => [`node.${o}`, `wss://127.0.0.1:${t.port}`]));
  }

  before(async () => {
    consortium = await createConsortium({ orgs: [...ORGS, LATE, 'Stranger'] });
    outsider = await createConsortium({ orgs: ['H1'] });
    const msp = new Msp(consortium.mspConfig);
    const members = new Set([...ORGS, LATE].map((o) => `node.${o}`));
    authenticate = (certPem) => {
      try {
        const id = msp.validate(certPem, Date.now());
        if (id.role !== 'peer' || !members.has(id.id)) return { ok: false, reason: `${id.id} of ${id.org} is not a member node` };
        return { ok: true, nodeId: id.id };
      } catch (err) {
        return { ok: false, reason: (err as Error).message };
      }
    };
    for (const org of ORGS) {
      const t = make(org);
      await t.start();
      transports.set(org, t);
    }
    for (const [org, t] of transports) t.setPeers(peerMap(org));
    await waitFor(() => [...transports.values()].every((t) => t.getStats().connectedPeers.length === 2), 'full mesh');
  });

  after(async () => {
    for (const t of transports.values()) await t.stop();
  });

  it('a port already in use is a rejected start(), not an uncaught exception', async () => {
    const taken = transports.values().next().value!.port;
    const second = make('H2', consortium, taken);
    await assert.rejects(second.start(), /EADDRINUSE/);
    await second.stop();
  });

  it('delivers messages with the sender taken from its certificate', async () => {
    assert.ok(transports.get('H1')!.send('node.H2', 'consensus', utf8('hello from H1')));
    await waitFor(() => received.some((r) => r.text === 'hello from H1'), 'delivery');
    const got = received.find((r) => r.text === 'hello from H1')!;
    assert.deepEqual(got, { to: 'H2', from: 'node.H1', channel: 'consensus', text: 'hello from H1' });
  });

  it('one payload object sent to two peers, then again on another channel, arrives intact everywhere (framed once per channel, decision 1406)', async () => {
    const h1 = transports.get('H1')!;
    const payload = utf8('the same append for both followers');
    assert.ok(h1.send('node.H2', 'consensus', payload));
    assert.ok(h1.send('node.H3', 'consensus', payload));
    assert.ok(h1.send('node.H3', 'other', payload));
    assert.ok(h1.send('node.H2', 'consensus', utf8('a different one')));
    const seen = (to: string, channel: string, text: string): boolean =>
      received.some((r) => r.to === to && r.from === 'node.H1' && r.channel === channel && r.text === text);
    await waitFor(
      () =>
        seen('H2', 'consensus', 'the same append for both followers') &&
        seen('H3', 'consensus', 'the same append for both followers') &&
        seen('H3', 'other', 'the same append for both followers') &&
        seen('H2', 'consensus', 'a different one'),
      'all four deliveries',
    );
    assert.equal(new TextDecoder().decode(payload), 'the same append for both followers', 'the caller’s bytes are untouched');
  });

  it('answers requests and carries remote errors back', async () => {
    const answer = await transports.get('H3')!.request('node.H1', 'blocks', utf8('height 7'), 2_000);
    assert.equal(new TextDecoder().decode(answer), 'H1 answers node.H3: height 7');
    await assert.rejects(transports.get('H3')!.request('node.H1', 'fail', utf8('x'), 2_000), /no such block/);
  });

  it('refuses certificates from another consortium and non-member identities', async () => {
    for (const [label, c, org] of [
      ['foreign', outsider, 'H1'],
      ['non-member', consortium, 'Stranger'],
    ] as const) {
      const before = transports.get('H2')!.getStats().rejectedConnections;
      const intruder = make(org, c);
      await intruder.start();
      intruder.setPeers(new Map([['node.H2', `wss://127.0.0.1:${transports.get('H2')!.port}`]]));
      intruder.send('node.H2', 'consensus', utf8(`intrusion ${label}`));
      await waitFor(() => transports.get('H2')!.getStats().rejectedConnections > before, `${label} rejection`);
      await intruder.stop();
      assert.ok(!received.some((r) => r.text === `intrusion ${label}`));
    }
  });

  it('bounds the send queue and message size', async () => {
    const lonely = make('H3');
    await lonely.start();
    lonely.setPeers(new Map([['node.H1', 'wss://127.0.0.1:1']])); // nobody listens there
    let accepted = 0;
    for (let i = 0; i < 10; i++) if (lonely.send('node.H1', 'consensus', utf8(`m${i}`))) accepted++;
    assert.equal(accepted, 5);
    assert.equal(lonely.getStats().droppedQueueFull, 5);
    assert.throws(() => lonely.send('node.H1', 'consensus', new Uint8Array(70 * 1024)), /exceeds the 65536-byte limit/);
    await lonely.stop();
  });

  /** A bare `ws` client with H1's node certificate, offering `protocols` (to H2 unless told). */
  function rawClient(protocols: string[], port = transports.get('H2')!.port): WebSocket {
    const h1 = consortium.nodes.get('H1')!;
    return new WebSocket(`wss://127.0.0.1:${port}`, protocols, {
      cert: `${h1.certPem.trim()}\n${consortium.orgCas.get('H1')!.certPem.trim()}\n`,
      key: h1.keyPem,
      ca: [consortium.root.certPem],
      checkServerIdentity: () => undefined,
    } as unknown as ClientOptions);
  }

  it('disconnects a peer that keeps sending malformed frames', async () => {
    const ws = rawClient([PROTOCOL]);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    for (let i = 0; i < 3; i++) ws.send(Buffer.from([0xff, 0xfe, i]));
    assert.equal(await closed, 1003);
  });

  it('keeps no connection with a node of another protocol, in either direction, and says so (decision 1386)', async () => {
    const h2 = transports.get('H2')!;
    const before = { h2: h2.getStats(), received: received.length };
    // A member node of another version (H4's) and H2 dial each other.
    const newer = make(LATE, consortium, 0, 'medledger.test-3');
    await newer.start();
    try {
      newer.setPeers(new Map([['node.H2', `wss://127.0.0.1:${h2.port}`]]));
      newer.send('node.H2', 'consensus', utf8('from another version'));
      h2.setPeers(new Map([...peerMap('H2'), [`node.${LATE}`, `wss://127.0.0.1:${newer.port}`]]));
      // Each fails as a dialler (the other does not echo its protocol) and refuses as a listener.
      await waitFor(() => newer.getStats().protocolMismatches >= 2, "the other version's refusals");
      await waitFor(() => h2.getStats().protocolMismatches >= before.h2.protocolMismatches + 2, "H2's refusals");
      assert.ok(!newer.isConnected('node.H2'));
      assert.ok(!h2.isConnected(`node.${LATE}`));
      assert.ok(newer.speaksOtherProtocol('node.H2') && h2.speaksOtherProtocol(`node.${LATE}`), 'each knows why');
      assert.ok(!h2.speaksOtherProtocol('node.H1'));
    } finally {
      await newer.stop();
      h2.setPeers(peerMap('H2'));
    }
    // A node that offers no protocol at all (a version before 1386) is closed by the listener.
    const old = rawClient([]);
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('a client without the protocol was not closed within 5 s')), 5_000);
      old.once('close', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
      old.once('error', reject);
    });
    assert.equal(code, 1002);
    assert.ok(h2.getStats().rejectedConnections > before.h2.rejectedConnections);
    assert.ok(!received.slice(before.received).some((r) => r.text === 'from another version'), 'nothing of the other version was delivered');
  });

  it('handles at most inboundRequestsPerPeerMax requests from one peer at once; more are refused at once, other peers still served', async () => {
    const [h1, h3] = [transports.get('H1')!, transports.get('H3')!];
    const busy = make(LATE, consortium, 0, PROTOCOL, { inboundRequestsPerPeerMax: 2 });
    await busy.start();
    const late = `node.${LATE}`;
    try {
      busy.setPeers(new Map([...transports].map(([o, t]) => [`node.${o}`, `wss://127.0.0.1:${t.port}`])));
      for (const [org, t] of [['H1', h1] as const, ['H3', h3] as const]) t.setPeers(new Map([...peerMap(org), [late, `wss://127.0.0.1:${busy.port}`]]));
      await waitFor(() => h1.isConnected(late) && h3.isConnected(late) && busy.getStats().connectedPeers.length === 3, `${LATE} connected`);
      // Answered requests free their place: one after another, more than the limit.
      for (let i = 0; i < 4; i++)
        assert.match(new TextDecoder().decode(await h1.request(late, 'echo', utf8(`n${i}`), 2_000)), new RegExp(`answers node.H1: n${i}`));
      await assert.rejects(h1.request(late, 'fail', utf8('x'), 2_000), /no such block/);
      // Two that never finish fill H1's places; a third is refused at once, naming the limit.
      const hanging = [h1.request(late, 'hang', utf8('a'), 60_000), h1.request(late, 'hang', utf8('b'), 60_000)];
      for (const h of hanging) h.catch(() => undefined);
      await sleep(50);
      const started = Date.now();
      await assert.rejects(h1.request(late, 'echo', utf8('c'), 60_000), /too many requests in flight from node\.H1 \(at most 2\)/);
      assert.ok(Date.now() - started < 5_000, 'refused at once, not after the timeout');
      assert.equal(busy.getStats().refusedRequests, 1);
      // Another peer has its own places.
      assert.match(new TextDecoder().decode(await h3.request(late, 'echo', utf8('d'), 2_000)), /answers node.H3: d/);
    } finally {
      await busy.stop();
      for (const org of ['H1', 'H3']) transports.get(org)!.setPeers(peerMap(org));
    }
  });

  async function opened(ws: WebSocket): Promise<WebSocket> {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return ws;
  }

  for (const flood of [
    { by: 'frames', limits: { receiveFramesPerSecondPerPeer: 200 }, frames: 500, bytes: 10 },
    { by: 'bytes', limits: { receiveBytesPerSecondPerPeer: 100_000 }, frames: 30, bytes: 10_000 },
  ]) {
    it(`reads a flooding peer no faster than its receive budget (${flood.by}), loses none of it, and reads other peers meanwhile (decision 1397)`, async () => {
      const receiver = make(LATE, consortium, 0, PROTOCOL, flood.limits);
      await receiver.start();
      const h3 = transports.get('H3')!;
      const late = `node.${LATE}`;
      const from = (peer: string) => received.filter((r) => r.to === LATE && r.from === peer && r.text.startsWith(`flood ${flood.by}`));
      try {
        h3.setPeers(new Map([...peerMap('H3'), [late, `wss://127.0.0.1:${receiver.port}`]]));
        await waitFor(() => h3.isConnected(late), `H3 connected to ${LATE}`);
        // H1's node, Byzantine: it ignores every limit of its own and writes as fast as it can.
        const flooder = await opened(rawClient([PROTOCOL], receiver.port));
        const started = Date.now();
        const padding = 'x'.repeat(flood.bytes);
        for (let i = 0; i < flood.frames; i++) flooder.send(encode({ c: 'consensus', p: utf8(`flood ${flood.by} ${i} ${padding}`) }));
        await waitFor(() => from('node.H1').length > 0, 'the first frames');
        // A correct member's message is read while the flood is still being metered out.
        h3.send(late, 'consensus', utf8(`flood ${flood.by}: H3 meanwhile`));
        await waitFor(() => from('node.H3').length === 1, "H3's message");
        assert.ok(from('node.H1').length < flood.frames, "H3's message was read before the flood was");
        await waitFor(() => from('node.H1').length === flood.frames, 'every flooded frame', 20_000);
        const elapsedMs = Date.now() - started;
        // One second of budget at once (the burst), the rest at the rate: at least 1.5 s here,
        // where unmetered it takes a few milliseconds.
        assert.ok(elapsedMs >= 1_400, `the flood was read in ${elapsedMs} ms`);
        assert.deepEqual(
          from('node.H1').map((r) => Number(r.text.split(' ')[2])),
          Array.from({ length: flood.frames }, (_, i) => i),
          'in order, none lost',
        );
        const stats = receiver.getStats();
        assert.ok(stats.receivePauses >= 1 && stats.receivePausedMs >= 1_000, JSON.stringify(stats));
        flooder.close();
      } finally {
        await receiver.stop();
        h3.setPeers(peerMap('H3'));
      }
    });
  }

  it("charges the answers to a peer's requests to its byte budget: a small request for a large answer is paced too (decision 1397)", async () => {
    const receiver = make(LATE, consortium, 0, PROTOCOL, { receiveBytesPerSecondPerPeer: 100_000 });
    await receiver.start();
    const h1 = transports.get('H1')!;
    const late = `node.${LATE}`;
    try {
      h1.setPeers(new Map([...peerMap('H1'), [late, `wss://127.0.0.1:${receiver.port}`]]));
      receiver.setPeers(new Map([['node.H1', `wss://127.0.0.1:${h1.port}`]]));
      await waitFor(() => h1.isConnected(late) && receiver.isConnected('node.H1'), `H1 and ${LATE} connected`);
      const started = Date.now();
      // Eight answers of 40 kB: 320 kB against 100 kB a second, one second of it at once.
      for (let i = 0; i < 8; i++) assert.equal((await h1.request(late, 'big', utf8(`${i}`), 10_000)).byteLength, 40_000);
      const elapsedMs = Date.now() - started;
      assert.ok(elapsedMs >= 1_800, `eight large answers in ${elapsedMs} ms`);
      assert.ok(receiver.getStats().receivePauses >= 1);
    } finally {
      await receiver.stop();
      h1.setPeers(peerMap('H1'));
    }
  });

  it('keeps at most inboundConnectionsPerPeerMax connections from one peer: a new one replaces the oldest', async () => {
    const receiver = make(LATE, consortium, 0, PROTOCOL, { inboundConnectionsPerPeerMax: 2 });
    await receiver.start();
    try {
      const first = await opened(rawClient([PROTOCOL], receiver.port));
      let firstClosed = false;
      first.once('close', () => (firstClosed = true));
      const second = await opened(rawClient([PROTOCOL], receiver.port));
      await sleep(50);
      assert.equal(receiver.getStats().replacedConnections, 0, 'two are allowed');
      const third = await opened(rawClient([PROTOCOL], receiver.port));
      await waitFor(() => firstClosed, 'the oldest connection closed');
      assert.equal(receiver.getStats().replacedConnections, 1);
      for (const [ws, text] of [
        [second, 'on the second connection'],
        [third, 'on the third connection'],
      ] as const)
        ws.send(encode({ c: 'consensus', p: utf8(text) }));
      await waitFor(
        () => ['on the second connection', 'on the third connection'].every((t) => received.some((r) => r.to === LATE && r.text === t)),
        'both kept',
      );
      second.close();
      third.close();
    } finally {
      await receiver.stop();
    }
  });

  it('fails a request to a peer that is down at once, and requests in flight when it drops', async () => {
    const h1 = transports.get('H1')!;
    // A request the peer never answers: its handler hangs until the peer stops.
    const h3 = transports.get('H3')!;
    const port = h3.port;
    const started = Date.now();
    const inFlight = h1.request('node.H3', 'hang', utf8('x'), 60_000);
    inFlight.catch(() => undefined);
    await sleep(50);
    await h3.stop();
    // Rejected because the connection dropped, long before the 60 s timeout (the test's own
    // timeout would fail it otherwise).
    await assert.rejects(inFlight, (err: Error) => err.name === 'PeerUnavailableError' && /lost/.test(err.message));
    await waitFor(() => !h1.isConnected('node.H3'), 'disconnect');
    await assert.rejects(
      h1.request('node.H3', 'echo', utf8('y'), 60_000),
      (err: Error) => err.name === 'PeerUnavailableError' && /not connected/.test(err.message),
    );
    assert.ok(Date.now() - started < 30_000);
    const again = make('H3', consortium, port);
    await again.start();
    transports.set('H3', again);
    again.setPeers(peerMap('H3'));
    await waitFor(() => h1.isConnected('node.H3') && again.getStats().connectedPeers.length === 2, 'H3 back');
    assert.match(new TextDecoder().decode(await h1.request('node.H3', 'echo', utf8('z'), 5_000)), /H3 answers node.H1: z/);
  });

  it('reconnects after a peer restarts and delivers what was queued', async () => {
    const port = transports.get('H2')!.port;
    await transports.get('H2')!.stop();
    await waitFor(() => !transports.get('H1')!.isConnected('node.H2'), 'disconnect');
    transports.get('H1')!.send('node.H2', 'consensus', utf8('sent while H2 was down'));
    const h2 = make('H2', consortium, port);
    await h2.start();
    transports.set('H2', h2);
    h2.setPeers(peerMap('H2'));
    await waitFor(() => received.some((r) => r.to === 'H2' && r.text === 'sent while H2 was down'), 'queued delivery after reconnect');
  });
});
