// The closed loop's slices (decision 1413) against a local HTTP/2 server that answers each
// submission after at least DELAY_MS: what completes during the ramp is not counted, a slice ends
// at opsMax, and payload ids stay unique across slices.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { ClosedLoop, type Submit } from './closed-loop.ts';

const DELAY_MS = 5;
let server: http2.Http2Server;
let url = '';
const received: string[] = [];

const submit: Submit = (session, payload) =>
  new Promise((resolve, reject) => {
    const req = session.request({ ':method': 'POST', ':path': '/' });
    req.on('response', (h) => (h[':status'] === 200 ? undefined : reject(new Error(`status ${h[':status']}`))));
    req.on('data', () => undefined);
    req.on('end', () => resolve());
    req.on('error', reject);
    req.end(payload);
  });

before(async () => {
  server = http2.createServer();
  server.on('stream', (stream) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      received.push(Buffer.concat(chunks).subarray(0, 16).toString('hex'));
      setTimeout(() => stream.respond({ ':status': 200 }, { endStream: true }), DELAY_MS);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

after(() => server.close());

describe('closed loop', () => {
  it('counts only what completes in the measured window, not during the ramp', async () => {
    const concurrency = 2;
    const loop = new ClosedLoop({ url, submit, concurrency, payloadBytes: 64, runTag: Buffer.from('test'), keepIds: true });
    try {
      const r = await loop.run({ rampMs: 200, measureMs: 300 });
      // Each worker completes at most one submission per DELAY_MS: had the ramp been counted, up
      // to twice as many would be.
      const bound = (300 / DELAY_MS + 1) * concurrency;
      assert.ok(r.ops > 0 && r.ops <= bound, `${r.ops} counted, at most ${bound} fit in the window`);
      assert.equal(r.latenciesMs.length, r.ops);
      assert.ok(r.latenciesMs.every((l) => l >= DELAY_MS - 1));
      assert.ok(r.measuredMs >= 299 && r.measuredMs <= 301, `measured ${r.measuredMs} ms`);
      assert.equal(r.errors, 0);
      assert.ok(loop.ackedIds.length > r.ops, 'the ramp submitted and was acknowledged too');
      assert.equal(loop.submitted, loop.ackedIds.length);
    } finally {
      loop.close();
    }
  });

  it('ends a slice at opsMax, and ids stay unique from slice to slice', async () => {
    const loop = new ClosedLoop({ url, submit, concurrency: 3, payloadBytes: 32, runTag: Buffer.from('uniq'), keepIds: true });
    try {
      const first = await loop.run({ rampMs: 0, measureMs: 60_000, opsMax: 10 });
      assert.equal(first.ops, 10);
      assert.ok(first.measuredMs < 10_000, `ended at opsMax after ${first.measuredMs} ms`);
      const second = await loop.run({ rampMs: 0, measureMs: 60_000, opsMax: 5 });
      assert.equal(second.ops, 5);
      assert.equal(new Set(loop.ackedIds).size, loop.ackedIds.length, 'no id used twice');
      const sent = received.filter((id) => id.startsWith(Buffer.from('uniq').toString('hex')));
      assert.equal(new Set(sent).size, sent.length);
      assert.equal(sent.length, loop.submitted);
    } finally {
      loop.close();
    }
  });

  it('refuses payloads too short to carry their id', () => {
    assert.throws(() => new ClosedLoop({ url, submit, concurrency: 1, payloadBytes: 8, runTag: Buffer.from('test'), keepIds: false }), /at least 16 bytes/);
  });
});
