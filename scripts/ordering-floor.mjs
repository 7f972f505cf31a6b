// The floor of a replicated, fsync'd round in Node on this machine, with nothing of MedLedger in
// it: a client, a "leader" and two "followers" as four processes on loopback. The client sends a
// 256-byte payload to the leader; the leader forwards it to both followers and appends it to its
// own file; each appends it to a file and fsyncs; the leader answers the client once its own write
// and one follower's are durable (a majority of three). No consensus, no signatures, no codec:
// length-prefixed frames over TCP. It measures what the hops and the fsyncs alone cost, so the
// ordering benchmark's figure at 1 in flight (`medledger bench --ordering --concurrency 1`) can be
// read against what any Node program doing the same hops would take here.
//   node scripts/ordering-floor.mjs                 plain TCP everywhere, fsync
//   TLS=1 node scripts/ordering-floor.mjs           TLS 1.3 between leader and followers
//   WS=1 node scripts/ordering-floor.mjs            WebSocket (ws) over TLS 1.3 between them, as transport/
//   HTTP2=1 node scripts/ordering-floor.mjs         the client speaks HTTP/2 (cleartext) to the leader
//   COMMIT=1 node scripts/ordering-floor.mjs        the leader also sends each follower a commit notice
//   SYNC=fdatasync|none node scripts/ordering-floor.mjs
//   SECONDS=5 INFLIGHT=1 node scripts/ordering-floor.mjs
//   JSON=<file> node scripts/ordering-floor.mjs     also append the result as one JSON line to <file>
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, openSync, writeSync, fsyncSync, fdatasyncSync, readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import https from 'node:https';
import { WebSocket, WebSocketServer } from 'ws';

const role = process.argv[2] ?? 'main';
const env = process.env;
const PAYLOAD_BYTES = 256;

function frame(body) {
  const out = Buffer.allocUnsafe(4 + body.byteLength);
  out.writeUInt32BE(body.byteLength, 0);
  body.copy(out, 4);
  return out;
}

/** Calls onFrame(body) for each length-prefixed frame read from the socket. */
function readFrames(socket, onFrame) {
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = pending.byteLength === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.byteLength >= 4) {
      const n = pending.readUInt32BE(0);
      if (pending.byteLength < 4 + n) break;
      onFrame(pending.subarray(4, 4 + n));
      pending = pending.subarray(4 + n);
    }
  });
}

function durableAppender(path) {
  const fd = openSync(path, 'a');
  const mode = env.SYNC ?? 'fsync';
  return (bytes) => {
    writeSync(fd, bytes);
    if (mode === 'fsync') fsyncSync(fd);
    else if (mode === 'fdatasync') fdatasyncSync(fd);
  };
}

function tlsOptions(dir) {
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')), ca: readFileSync(join(dir, 'cert.pem')) };
}

/** WS=1: the links are WebSocket (the `ws` package, as transport/ does) over TLS; frames are messages. */
function wsListen(dir, onMessage) {
  const server = https.createServer({ ...tlsOptions(dir), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => ws.on('message', (data) => onMessage(ws, data)));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

function listen(dir, onSocket) {
  const server =
    env.TLS === '1'
      ? tls.createServer({ ...tlsOptions(dir), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3' }, onSocket)
      : net.createServer(onSocket);
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
}

function connect(dir, port, onConnect) {
  const socket =
    env.TLS === '1'
      ? tls.connect({ ...tlsOptions(dir), host: '127.0.0.1', port, servername: 'localhost', minVersion: 'TLSv1.3' }, onConnect)
      : net.connect({ host: '127.0.0.1', port }, onConnect);
  socket.setNoDelay(true);
  return socket;
}

if (role === 'follower') {
  const dir = process.argv[3];
  const append = durableAppender(join(dir, `follower-${process.pid}.log`));
  if (env.WS === '1')
    wsListen(dir, (ws, body) => {
      if (body[0] === 0) return;
      append(body);
      ws.send(body.subarray(0, 8));
    });
  else
    listen(dir, (socket) => {
      socket.setNoDelay?.(true);
      readFrames(socket, (body) => {
        if (body[0] === 0) return; // a commit notice: nothing to do but read it
        append(body);
        socket.write(frame(body.subarray(0, 8)));
      });
    });
  process.stdin.on('end', () => process.exit(0)).resume();
} else if (role === 'leader') {
  const dir = process.argv[3];
  const followerPorts = process.argv[4].split(',').map(Number);
  const append = durableAppender(join(dir, 'leader.log'));
  const followers =
    env.WS === '1'
      ? followerPorts.map((port) => {
          const ws = new WebSocket(`wss://127.0.0.1:${port}`, { ...tlsOptions(dir), servername: 'localhost', generateMask: (m) => m.fill(0) });
          return { write: (f) => ws.send(f.subarray(4)), ws, open: new Promise((resolve) => ws.once('open', resolve)) };
        })
      : followerPorts.map((port) => connect(dir, port, () => undefined));
  /** round id (8 bytes hex) → { acks, answer } */
  const rounds = new Map();
  const settle = (id) => {
    const r = rounds.get(id);
    if (!r || !r.own || r.acks < 1) return;
    rounds.delete(id);
    r.answer();
    if (env.COMMIT === '1') for (const f of followers) f.write(frame(Buffer.from([0, ...Buffer.from(id, 'hex')])));
  };
  const onAck = (body) => {
    const id = body.toString('hex');
    const r = rounds.get(id);
    if (!r) return;
    r.acks += 1;
    settle(id);
  };
  for (const f of followers)
    if (env.WS === '1') f.ws.on('message', onAck);
    else
      readFrames(f, (body) => {
        const id = body.toString('hex');
        const r = rounds.get(id);
        if (!r) return;
        r.acks += 1;
        settle(id);
      });
  const replicate = (payload, answer) => {
    const id = payload.subarray(0, 8).toString('hex');
    rounds.set(id, { acks: 0, own: false, answer });
    const out = frame(payload);
    for (const f of followers) f.write(out);
    append(payload);
    rounds.get(id).own = true;
    settle(id);
  };
  await Promise.all(followers.map((f) => f.open));
  if (env.HTTP2 === '1') {
    const server = http2.createServer();
    server.on('stream', (stream) => {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () =>
        replicate(Buffer.concat(chunks), () => {
          stream.respond({ ':status': 200 });
          stream.end();
        }),
      );
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
  } else {
    const server = net.createServer((socket) => {
      socket.setNoDelay(true);
      readFrames(socket, (body) => replicate(Buffer.from(body), () => socket.write(frame(body.subarray(0, 8)))));
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
  }
  process.stdin.on('end', () => process.exit(0)).resume();
} else {
  const dir = mkdtempSync(join(tmpdir(), 'medledger-floor-'));
  if (env.TLS === '1' || env.WS === '1')
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost',
      ],
      { stdio: 'ignore' },
    );
  const children = [];
  const start = (args) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [new URL(import.meta.url).pathname, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(child);
      child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    });
  const cpuSeconds = (pid) => {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  };
  const f1 = await start(['follower', dir]);
  const f2 = await start(['follower', dir]);
  const leaderPort = await start(['leader', dir, `${f1},${f2}`]);
  const seconds = Number(env.SECONDS ?? 5);
  const inFlight = Number(env.INFLIGHT ?? 1);
  const latenciesMs = [];
  let counter = 0;
  const payload = () => {
    // Byte 0 is 1 (a commit notice's is 0); bytes 0..7 are the round's id.
    const p = Buffer.alloc(PAYLOAD_BYTES, 7);
    p[0] = 1;
    p.writeUInt32BE(++counter, 4);
    return p;
  };
  let send;
  if (env.HTTP2 === '1') {
    const session = http2.connect(`http://127.0.0.1:${leaderPort}`);
    send = (body) =>
      new Promise((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/submit' });
        req.on('response', () => undefined);
        req.on('data', () => undefined);
        req.on('end', resolve);
        req.on('error', reject);
        req.end(body);
      });
  } else {
    const socket = net.connect({ host: '127.0.0.1', port: leaderPort });
    socket.setNoDelay(true);
    await new Promise((r) => socket.once('connect', r));
    const waiting = new Map();
    readFrames(socket, (body) => {
      const id = body.toString('hex');
      waiting.get(id)?.();
      waiting.delete(id);
    });
    send = (body) =>
      new Promise((resolve) => {
        waiting.set(body.subarray(0, 8).toString('hex'), resolve);
        socket.write(frame(body));
      });
  }
  const warmUpEnd = performance.now() + 1000;
  const end = warmUpEnd + seconds * 1000;
  let cpuStart = null;
  let done = 0;
  const pids = children.map((c) => c.pid);
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        await send(payload());
        const t1 = performance.now();
        if (t0 >= warmUpEnd) {
          if (cpuStart === null) cpuStart = pids.map(cpuSeconds);
          latenciesMs.push(t1 - t0);
          done += 1;
        }
      }
    }),
  );
  const cpu = pids.map(cpuSeconds).reduce((a, b) => a + b, 0) - cpuStart.reduce((a, b) => a + b, 0);
  latenciesMs.sort((a, b) => a - b);
  const at = (q) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))].toFixed(2);
  const variant =
    ['WS', 'TLS', 'HTTP2', 'COMMIT', 'SYNC']
      .map((k) => (env[k] ? `${k}=${env[k]}` : ''))
      .filter(Boolean)
      .join(' ') || 'plain TCP, fsync';
  process.stdout.write(
    `floor (${variant}), ${inFlight} in flight: ${(done / seconds).toFixed(0)} rounds/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, ` +
      `server CPU ${((cpu * 1000) / done).toFixed(3)} ms/round\n`,
  );
  if (env.JSON)
    appendFileSync(
      env.JSON,
      `${JSON.stringify({ benchmark: 'ordering-floor', at: new Date().toISOString(), variant, inFlight, seconds, rounds: done, roundsPerSecond: done / seconds, p50Ms: Number(at(0.5)), p99Ms: Number(at(0.99)), serverCpuMsPerRound: (cpu * 1000) / done })}\n`,
    );
  for (const c of children) c.stdin.end();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
