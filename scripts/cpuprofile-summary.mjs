#!/usr/bin/env node
// Where a node process's CPU went, by stage: reads V8 .cpuprofile files (node --cpu-prof, or
// `medledger up --cpu-prof <dir>`) and prints self time per category, each sample charged to the
// category of its own frame, or — for a native or Node-internal frame that names no stage — of the
// nearest caller that does. Idle time is left out. Usage:
//   node scripts/cpuprofile-summary.mjs [--json] [--tx <committed txs>] <file.cpuprofile>...
import { readFileSync } from 'node:fs';

const CATEGORIES = [
  ['ECDSA sign/verify', (u, f) => /node:internal\/crypto\/sig/.test(u) || /src\/crypto\/ecdsa/.test(u)],
  ['hashing (sha256)', (u, f) => /node:internal\/crypto\/hash/.test(u) || /@noble\/hashes/.test(u)],
  ['X.509 / MSP', (u) => /@peculiar|asn1|src\/identity\/|src\/crypto\/x509/.test(u)],
  ['SQLite (better-sqlite3)', (u) => /better-sqlite3/.test(u) || /src\/ledger\/state/.test(u)],
  ['DAG-CBOR encode/decode', (u) => /@ipld\/dag-cbor|cborg|multiformats|src\/codec\//.test(u)],
  ['zod validation', (u) => /node_modules\/zod/.test(u)],
  ['p2p websocket (ws)', (u) => /node_modules\/ws\//.test(u) || /src\/transport\//.test(u)],
  ['REST framework (fastify)', (u) => /fastify|find-my-way|avvio|light-my-request|pino|sonic-boom|thread-stream/.test(u)],
  [
    'HTTP/TLS/sockets (Node)',
    (u) => /node:_http|node:https|node:_tls|node:tls|node:net|node:internal\/(http|tls|net|stream|streams|js_stream)|node:stream/.test(u),
  ],
  ['consensus engine', (u) => /src\/consensus\//.test(u)],
  ['ledger: validate/commit/blocks', (u) => /src\/ledger\//.test(u)],
  ['contracts (simulation)', (u) => /src\/contracts\//.test(u)],
  ['node: peer/orderer/gateway/WAL', (u) => /src\/node\//.test(u)],
  ['API routes', (u) => /src\/api\//.test(u)],
  ['logging', (u) => /src\/log\//.test(u)],
  ['tsx loader', (u) => /node_modules\/tsx|esbuild/.test(u)],
  ['JSON', (u, f) => u === '' && /^(parse|stringify)$/.test(f)],
];
const SPECIAL = { '(garbage collector)': 'garbage collection', '(program)': 'V8/runtime (program)', '(idle)': null };

function categorize(frame) {
  if (frame.functionName in SPECIAL) return SPECIAL[frame.functionName];
  for (const [name, test] of CATEGORIES) if (test(frame.url, frame.functionName)) return name;
  return undefined;
}

function summarise(file) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const cache = new Map();
  const categoryOf = (id) => {
    if (cache.has(id)) return cache.get(id);
    const n = byId.get(id);
    let c = categorize(n.callFrame);
    if (c === undefined) c = parent.has(id) ? categoryOf(parent.get(id)) : 'other';
    if (c === undefined) c = 'other';
    cache.set(id, c);
    return c;
  };
  const micros = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const c = categoryOf(profile.samples[i]);
    if (c === null) continue;
    micros.set(c, (micros.get(c) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return micros;
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const txAt = args.indexOf('--tx');
const tx = txAt >= 0 ? Number(args[txAt + 1]) : null;
const files = args.filter((a, i) => a !== '--json' && !(txAt >= 0 && (i === txAt || i === txAt + 1)));
const total = new Map();
for (const f of files) for (const [c, us] of summarise(f)) total.set(c, (total.get(c) ?? 0) + us);
const busy = [...total.values()].reduce((a, b) => a + b, 0);
const rows = [...total.entries()]
  .sort((a, b) => b[1] - a[1])
  .map(([category, us]) => ({
    category,
    cpuSeconds: us / 1e6,
    share: us / busy,
    ...(tx ? { msPerTxAllProfiles: us / 1000 / tx } : {}),
  }));
if (json) console.log(JSON.stringify({ files: files.length, busyCpuSeconds: busy / 1e6, rows }, null, 2));
else {
  console.log(`${files.length} profile(s), ${(busy / 1e6).toFixed(1)} s busy (idle excluded)`);
  for (const r of rows)
    console.log(
      `${(100 * r.share).toFixed(1).padStart(5)} %  ${r.cpuSeconds.toFixed(2).padStart(7)} s${r.msPerTxAllProfiles !== undefined ? `  ${r.msPerTxAllProfiles.toFixed(3)} ms/tx` : ''}  ${r.category}`,
    );
}
