// What one node-to-node message costs (decision 1370's measurements): two OS processes, each with
// the nodes' transport (transport/: WebSocket over mutually authenticated TLS 1.3 on loopback),
// bounce a 560-byte message (the size of a Raft append of one 256-byte payload) back and forth.
// Each prints its CPU time per round trip, i.e. per message sent plus message received.
//   node --import tsx scripts/transport-pingpong.ts
//   PROF=1 node --import tsx scripts/transport-pingpong.ts   (CPU profiles in /tmp/pingpong-prof)
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConsortium, Msp, type MspConfig } from '../src/identity/index.ts';
import { createLogger } from '../src/log/log.ts';
import { Transport } from '../src/transport/transport.ts';
import { NODE_PROTOCOL } from '../src/node/protocol.ts';

interface Side {
  readonly id: string;
  readonly certChainPem: string;
  readonly keyPem: string;
}
const ROUND_TRIPS = 4000;
const WARMUP = 200;
const role = process.argv[2];

if (role === undefined) {
  const c = await createConsortium({ orgs: ['A', 'B'] });
  const sides: Side[] = ['A', 'B'].map((org) => ({
    id: c.nodes.get(org)!.commonName,
    certChainPem: `${c.nodes.get(org)!.certPem.trim()}\n${c.orgCas.get(org)!.certPem.trim()}\n`,
    keyPem: c.nodes.get(org)!.keyPem,
  }));
  const configPath = join(mkdtempSync(join(tmpdir(), 'medledger-pingpong-')), 'config.json');
  writeFileSync(configPath, JSON.stringify({ sides, msp: c.mspConfig }), { mode: 0o600 });
  const execArgv = ['--import', 'tsx', ...(process.env['PROF'] ? ['--cpu-prof', '--cpu-prof-dir=/tmp/pingpong-prof'] : [])];
  const kids = ['A', 'B'].map((r) => fork(new URL(import.meta.url).pathname, [r, configPath], { execArgv }));
  const ports = await Promise.all(kids.map((k) => new Promise<number>((resolve) => k.once('message', (m) => resolve(m as number)))));
  kids[0]!.send({ peer: `wss://127.0.0.1:${ports[1]}` });
  kids[1]!.send({ peer: `wss://127.0.0.1:${ports[0]}` });
} else {
  const { sides, msp } = JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as { sides: Side[]; msp: MspConfig };
  const me = sides[role === 'A' ? 0 : 1]!;
  const other = sides[role === 'A' ? 1 : 0]!;
  const identities = new Msp(msp);
  const payload = new Uint8Array(560).fill(1);
  let count = 0;
  let cpu0 = process.cpuUsage();
  let wall0 = 0;
  const transport: Transport = new Transport({
    protocol: NODE_PROTOCOL,
    selfId: me.id,
    host: '127.0.0.1',
    port: 0,
    tls: { certChainPem: me.certChainPem, keyPem: me.keyPem, caPems: [msp.rootCertPem] },
    peers: new Map(),
    authenticate: (pem) => {
      const id = identities.validate(pem, Date.now()).id;
      return id === me.id || id === other.id ? { ok: true, nodeId: id } : { ok: false, reason: 'not in this test' };
    },
    logger: createLogger('pingpong', {}),
    onMessage: () => {
      count += 1;
      if (count === WARMUP) {
        cpu0 = process.cpuUsage();
        wall0 = performance.now();
      }
      if (count === WARMUP + ROUND_TRIPS) {
        const cpu = process.cpuUsage(cpu0);
        const wall = role === 'A' ? `, wall ${(((performance.now() - wall0) * 1000) / ROUND_TRIPS).toFixed(0)} µs per round trip` : '';
        console.log(`${role}: ${((cpu.user + cpu.system) / ROUND_TRIPS).toFixed(1)} µs CPU per round trip (one message sent, one received)${wall}`);
        setTimeout(() => process.exit(0), role === 'A' ? 100 : 300);
        if (role === 'A') return;
      }
      transport.send(other.id, 'consensus', payload);
    },
  });
  await transport.start();
  process.send!(transport.port);
  process.once('message', (m) => {
    transport.setPeers(new Map([[other.id, (m as { peer: string }).peer]]));
    if (role === 'A') setTimeout(() => transport.send(other.id, 'consensus', payload), 500);
  });
}
