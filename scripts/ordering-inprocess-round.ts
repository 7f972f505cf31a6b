// What one Raft round costs without the network (decision 1370's measurements): three Raft engines
// in this one process, each with its fsync'd WAL (node/wal.ts), every message through the wire
// codec the nodes use (DAG-CBOR message inside a transport frame), the leader cutting one entry per
// batch (eagerCutUncommittedMax 1). Prints CPU per payload for the three engines together, WAL fsync
// wall time, messages per payload and the codec's share. No TLS, WebSocket, HTTP or scheduling:
// comparing with `medledger bench --ordering` shows what those cost.
//   node --import tsx scripts/ordering-inprocess-round.ts          (1 payload per round)
//   B=16 N=8000 node --import tsx scripts/ordering-inprocess-round.ts
//   NOSYNC=1 node --import tsx scripts/ordering-inprocess-round.ts (WAL without fsync)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode, encode } from '../src/codec/index.ts';
import type { RaftMessage } from '../src/consensus/raft/messages.ts';
import { RaftEngine } from '../src/consensus/raft/engine.ts';
import { SeededRng } from '../src/consensus/rng.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner } from '../src/crypto/index.ts';
import { WriteAheadLog } from '../src/node/wal.ts';

const noSync = process.env['NOSYNC'] === '1';
const total = Number(process.env['N'] ?? 2000);
const batch = Number(process.env['B'] ?? 1);
const ids = ['a', 'b', 'c'];
const key = generateKeyPair();
const verifier = directoryVerifier(new Map(ids.map((id) => [id, key.publicKey])));
const dir = mkdtempSync(join(tmpdir(), 'medledger-round-'));
let fsyncSeconds = 0;
const wals = new Map(ids.map((id) => [id, new WriteAheadLog(join(dir, id), { unsafeNoSync: noSync, onFsync: (s) => (fsyncSeconds += s) })]));
const engines = new Map(
  ids.map((id) => [
    id,
    new RaftEngine({
      id,
      members: ids,
      rng: new SeededRng(id.charCodeAt(0)),
      storage: wals.get(id)!,
      signer: keyPairSigner(id, key),
      verifier,
      cutter: { countMax: 10_000, sizeBytesMax: 1 << 20, timeoutTicks: 1, pendingMax: 50_000 },
      options: { eagerCutUncommittedMax: 1 },
    }),
  ]),
);
let queue: Array<{ from: string; to: string; bytes: Uint8Array }> = [];
let leaderId: string | null = null;
let decided = 0;
let messages = 0;
let codecNs = 0n;

function drain(id: string): void {
  const e = engines.get(id)!;
  while (e.hasReady()) {
    const rd = e.ready();
    wals.get(id)!.apply(rd.persist);
    for (const m of rd.messages) {
      const t = process.hrtime.bigint();
      const bytes = encode({ c: 'consensus', p: encode(m.message) });
      codecNs += process.hrtime.bigint() - t;
      queue.push({ from: id, to: m.to, bytes });
      messages += 1;
    }
    if (id === leaderId) for (const b of rd.decided) decided += b.proposals.length;
    e.advance(rd);
  }
}

function pump(): void {
  for (const id of ids) drain(id);
  while (queue.length > 0) {
    const q = queue;
    queue = [];
    for (const m of q) {
      const t = process.hrtime.bigint();
      const message = decode<RaftMessage>(decode<{ p: Uint8Array }>(m.bytes).p);
      codecNs += process.hrtime.bigint() - t;
      engines.get(m.to)!.step(m.from, message);
      drain(m.to);
    }
  }
}

for (let t = 0; t < 50 && leaderId === null; t++) {
  for (const e of engines.values()) e.tick();
  pump();
  leaderId = [...engines.values()].find((e) => e.status().role === 'leader')?.id ?? null;
}
if (leaderId === null) throw new Error('no leader elected');
pump();
const leader = engines.get(leaderId)!;
const payload = new Uint8Array(256).fill(7);
fsyncSeconds = 0;
messages = 0;
codecNs = 0n;
decided = 0;
const cpu0 = process.cpuUsage();
const wall0 = performance.now();
for (let i = 0; i < total; i += batch) {
  for (let j = 0; j < batch; j++) leader.propose({ clientId: 'x', seq: i + j + 1, data: payload });
  pump();
}
const cpu = process.cpuUsage(cpu0);
const perOp = (x: number): string => (x / decided).toFixed(3);
console.log(
  `${batch} per round, ${decided} payloads: CPU ${perOp((cpu.user + cpu.system) / 1e3)} ms/op (user ${perOp(cpu.user / 1e3)}, system ${perOp(cpu.system / 1e3)}), ` +
    `wall ${perOp(performance.now() - wall0)} ms/op, WAL fsync wall ${perOp(fsyncSeconds * 1e3)} ms/op, ${(messages / decided).toFixed(2)} messages/op, ` +
    `wire codec ${perOp(Number(codecNs) / 1e6)} ms/op`,
);
for (const w of wals.values()) w.close();
rmSync(dir, { recursive: true, force: true });
