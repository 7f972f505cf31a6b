// A Byzantine replica for multi-process tests: it holds a real member identity (certificate and
// key of one hospital's node) and runs a real engine, but everything it sends is tampered with:
// fields mutated and re-signed with its own valid key, proposals equivocated, signatures forged,
// and raw garbage frames and undecodable payloads mixed in. It also sends garbage requests.
// Usage: node --import tsx byzantine-node.ts <node.yaml>   (runs until SIGTERM)
import { X509Certificate } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { decode, encode } from '../../codec/index.ts';
import '../../consensus/engines.ts';
import { getEngine } from '../../consensus/registry.ts';
import { MemoryStorage } from '../../consensus/memory-storage.ts';
import { SeededRng } from '../../consensus/rng.ts';
import type { EngineMessage } from '../../consensus/engine.ts';
import { directoryVerifier, keyPairSigner, parsePrivateKey } from '../../crypto/index.ts';
import { createPublicKey } from 'node:crypto';
import { configOfGenesis } from '../../ledger/config.ts';
import { loadNodeConfig, readPem } from '../config.ts';
import { readGenesisBlock } from '../node.ts';
import { createLogger } from '../../log/log.ts';
import { Transport } from '../../transport/transport.ts';
import { NODE_PROTOCOL } from '../protocol.ts';

const config = loadNodeConfig(process.argv[2]!);
const consortium = configOfGenesis(readGenesisBlock(config.genesis));
const keyPem = readPem(config.identity.key, 'key');
const certPem = readPem(config.identity.cert, 'cert');
const key = parsePrivateKey(keyPem);
const signer = keyPairSigner(config.node.id, { privateKey: key, publicKey: createPublicKey(key) });
const members = consortium.orderers.map((o) => o.id);
const verifier = directoryVerifier(new Map(consortium.orderers.map((o) => [o.id, new X509Certificate(o.certPem).publicKey])));
const def = getEngine(consortium.ordering.engine);
const rng = new SeededRng(42);
const engine = def.create({
  id: config.node.id,
  members,
  rng,
  storage: new MemoryStorage(),
  signer,
  verifier,
  cutter: { countMax: consortium.ordering.countMax, sizeBytesMax: consortium.ordering.sizeBytesMax, timeoutTicks: consortium.ordering.timeoutTicks, pendingMax: consortium.ordering.pendingMax },
  ...(consortium.ordering.options ? { options: consortium.ordering.options } : {}),
});
const others = (consortium.nodes ?? []).filter((n) => n.id !== config.node.id);
const sent = { mutated: 0, equivocated: 0, forged: 0, garbage: 0, requests: 0 };

const transport = new Transport({
    protocol: NODE_PROTOCOL,
  selfId: config.node.id,
  host: config.listen.p2p.host,
  port: config.listen.p2p.port,
  tls: { certChainPem: `${certPem.trim()}\n${readPem(config.identity.orgCa, 'ca').trim()}\n`, keyPem, caPems: [consortium.rootCertPem] },
  peers: new Map(others.map((n) => [n.id, n.p2pUrl])),
  authenticate: (pem) => {
    const cn = new X509Certificate(pem).subject.match(/CN=([^\n,]+)/)?.[1];
    return cn && members.includes(cn) ? { ok: true, nodeId: cn } : { ok: false, reason: 'unknown' };
  },
  onMessage: (from, channel, payload) => {
    if (channel !== 'consensus') return;
    try {
      engine.step(from, decode<EngineMessage>(payload));
    } catch {
      // a Byzantine node does not care
    }
  },
  logger: createLogger('byzantine', { node: config.node.id }),
});

function tamper(message: EngineMessage): EngineMessage {
  const hooks = def.byzantine;
  const roll = rng.nextInt(3);
  if (hooks && roll === 0) {
    const m = hooks.mutate(message, rng, signer);
    if (m) {
      sent.mutated++;
      return m;
    }
  }
  if (hooks && roll === 1) {
    const m = hooks.equivocate(message, rng, signer);
    if (m) {
      sent.equivocated++;
      return m;
    }
  }
  // Forge: claim to be another replica, keep our signature (which then cannot verify).
  sent.forged++;
  const victim = members[rng.nextInt(members.length)]!;
  return { ...(message as unknown as Record<string, unknown>), replica: victim, from: victim } as unknown as EngineMessage;
}

await transport.start();
// The test waits for this line before loading the network, so that the attack overlaps the load
// however slowly this process starts on a busy machine.
process.stdout.write('ready\n');
const timer = setInterval(() => {
  engine.tick();
  while (engine.hasReady()) {
    const rd = engine.ready();
    for (const m of rd.messages) transport.send(m.to, 'consensus', encode(tamper(m.message)));
    engine.advance(rd);
  }
  for (const n of others) {
    // Undecodable bytes and decodable nonsense on the consensus channel.
    transport.send(n.id, 'consensus', new Uint8Array(randomBytes(1 + rng.nextInt(200))));
    transport.send(n.id, 'consensus', encode({ type: 'pbft/commit', view: -1, seq: 'x', digest: 7 }));
    sent.garbage += 2;
    if (rng.nextInt(4) === 0) {
      sent.requests++;
      transport.request(n.id, rng.nextInt(2) ? 'endorse' : 'broadcast', new Uint8Array(randomBytes(64)), 2_000).catch(() => undefined);
    }
  }
}, 50);

process.once('SIGTERM', () => {
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify(sent)}\n`);
  void transport.stop().then(() => process.exit(0));
});
