// One orderer of the ordering benchmark (decision 1350), as its own OS process: the Raft engine
// the nodes run (consensus/raft), its durable state in the node's write-ahead log (node/wal.ts,
// fsync on every Ready), the node-to-node mTLS transport (transport/), driven by the same loop
// as node/orderer.ts: send the Ready's early messages (a leader's appends, decision 1360), persist
// the Ready, then send its other messages, then deliver what it decided, then advance. What it leaves out of a full node is everything after ordering (block signing
// and the block store, peers, validation, the REST gateway) and transaction admission (the
// payloads are opaque bytes, as etcd's values are).
//
// Clients speak HTTP/2 (cleartext, loopback) to it, many requests in flight per connection:
//   POST /submit     body: the payload (≤ 64 KiB). Answered 200 once the payload is in a decided
//                    (Raft-committed) entry applied here; 421 with the leader's id when this
//                    orderer is not the leader; 503 when the engine refuses (queue full).
//   GET  /status     JSON: id, role, leader, term, decided payloads, duplicates (and the payloads
//                    whose id could not be checked, seen-ids.ts), WAL fsyncs, and
//                    how often the transport paused a peer over its receive budget (decision 1397).
//   GET  /ordered    JSON: the payload ids (first 16 bytes, hex) decided here, in order (≤ 200 000).
//
// Start-up: argv[2] is a JSON config file (OrderingNodeConfig). The process listens on two free
// ports, prints one JSON line {"p2pPort","clientPort"} on stdout, then reads one JSON line
// {"peers": {id: wss url}} on stdin and starts ticking. It exits when stdin closes.
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { decode, rememberingEncoder, sha256, type Bytes } from '../codec/index.ts';
import '../consensus/raft/index.ts';
import { getEngine } from '../consensus/registry.ts';
import type { Engine, EngineMessage } from '../consensus/engine.ts';
import { SeededRng } from '../consensus/rng.ts';
import { directoryVerifier, keyPairSigner, parsePrivateKey } from '../crypto/index.ts';
import { Msp, type MspConfig } from '../identity/index.ts';
import { createLogger } from '../log/log.ts';
import { WriteAheadLog } from '../node/wal.ts';
import { HeldNoticesTimer } from '../node/held-notices.ts';
import { NODE_RAFT_OPTIONS } from '../node/raft-options.ts';
import { Transport } from '../transport/transport.ts';
import { NODE_PROTOCOL } from '../node/protocol.ts';
import { SeenIds } from './seen-ids.ts';
import { MARK, timelineFromEnv, type TimelineRecorder } from './timeline.ts';

export interface OrderingNodeConfig {
  readonly id: string;
  /** Every orderer id, in the order all agree on. */
  readonly members: readonly string[];
  /** Member id → its certificate (PEM): the engine's verifier, and who may connect. */
  readonly memberCerts: Readonly<Record<string, string>>;
  readonly dir: string;
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly mspConfig: MspConfig;
  readonly tickMs: number;
  /**
   * 'coalesced': requests and peer messages that arrive in one event-loop turn are handed to the
   * engine one by one, and its Ready is driven once after them (one WAL fsync for all).
   * 'immediate': as node/orderer.ts: the engine is driven after each peer message and tick, and
   * once at the end of the event-loop turn after client requests (decision 1372).
   */
  readonly drive: 'coalesced' | 'immediate';
  /** Raft option eagerCutUncommittedMax (0: cut only full batches or on the cutter's timeout). */
  readonly eagerCut: number;
  /** Raft option syncCommitIndex (true: the node's default). */
  readonly syncCommitIndex: boolean;
  readonly countMax: number;
  readonly timeoutTicks: number;
}

export const PAYLOAD_ID_BYTES = 16;
/**
 * An answer with no body ends its stream in its HEADERS frame; and it has no date header (Node's
 * respond() honours sendDate though its types do not list it): nothing reads it, and etcd's Go
 * gRPC server sends none.
 */
const EMPTY_ANSWER = { endStream: true, sendDate: false };
const BODY_BYTES_MAX = 64 * 1024;
const ORDERED_IDS_MAX = 200_000;
const CLIENT_ID = 'bench-client';
const TRACE = process.env['MEDLEDGER_BENCH_TRACE'] === '1';

export function payloadId(payload: Bytes): string {
  return Buffer.from(payload.subarray(0, PAYLOAD_ID_BYTES)).toString('hex');
}

class OrderingNode {
  private readonly engine: Engine;
  private readonly wal: WriteAheadLog;
  readonly transport: Transport;
  private readonly server: http2.Http2Server;
  private seq = 0;
  /** seq → the answer of a submit waiting for its decision. */
  private readonly waiting = new Map<number, () => void>();
  private readonly decidedIds = new SeenIds();
  private readonly orderedIds: string[] = [];
  private decided = 0;
  private duplicates = 0;
  private fsyncs = 0;
  private fsyncSeconds = 0;
  private driving = false;
  private driveScheduled = false;
  private timer: NodeJS.Timeout | null = null;
  /** As the node's: the same message to both followers is encoded once (decision 1406). */
  private readonly encodeMessage = rememberingEncoder();
  /** The stages of each round, when the benchmark asks (`--timeline`, bench/timeline.ts). */
  private readonly timeline: TimelineRecorder | null;
  /** As the node's: held commit notices go NOTICES_HOLD_MS later unless an entry carried them (decisions 1405, 1416). */
  private readonly heldNotices = new HeldNoticesTimer(() => {
    this.engine.flushNotices?.();
    this.drive();
  });

  constructor(private readonly config: OrderingNodeConfig) {
    this.timeline = timelineFromEnv(config.id);
    const msp = new Msp(config.mspConfig);
    const keys = new Map<string, KeyObject>();
    const idOfCert = new Map<string, string>();
    for (const [id, pem] of Object.entries(config.memberCerts)) {
      keys.set(id, msp.identify(pem).publicKey);
      idOfCert.set(msp.identify(pem).id, id);
    }
    this.wal = new WriteAheadLog(`${config.dir}/wal`, {
      onFsync: (s) => {
        this.fsyncs += 1;
        this.fsyncSeconds += s;
      },
    });
    const key = parsePrivateKey(config.keyPem);
    this.engine = getEngine('raft').create({
      id: config.id,
      members: config.members,
      rng: new SeededRng(new DataView(sha256(config.id).buffer).getUint32(0)),
      storage: this.wal,
      signer: keyPairSigner(config.id, { privateKey: key, publicKey: createPublicKey(key) }),
      verifier: directoryVerifier(keys),
      cutter: { countMax: config.countMax, sizeBytesMax: 1024 * 1024, timeoutTicks: config.timeoutTicks, pendingMax: 50_000 },
      // A node's options (log compaction every 64 entries, heartbeat every tick, …), but for the
      // cut: the benchmark's cutter (a count of 10,000, a one-tick timeout) is its own, and so is
      // its eager cut (--eager-cut), never limited by entry size (a node's
      // eagerCutEntryProposalsMax is sized for its own cutter's timeout).
      options: {
        ...NODE_RAFT_OPTIONS,
        eagerCutUncommittedMax: config.eagerCut,
        eagerCutEntryProposalsMax: 0,
        syncCommitIndex: config.syncCommitIndex,
        pendingProposalsMax: 50_000,
        uncommittedEntriesMax: 4096,
      },
    });
    this.transport = new Transport({
      protocol: NODE_PROTOCOL,
      selfId: config.id,
      host: '127.0.0.1',
      port: 0,
      tls: { certChainPem: config.certChainPem, keyPem: config.keyPem, caPems: [config.mspConfig.rootCertPem] },
      peers: new Map(),
      authenticate: (pem) => {
        try {
          const id = idOfCert.get(msp.validate(pem, Date.now()).id);
          return id ? { ok: true, nodeId: id } : { ok: false, reason: 'not an orderer of this benchmark' };
        } catch (err) {
          return { ok: false, reason: (err as Error).message };
        }
      },
      onMessage: (from, channel, payload) => this.onPeerMessage(from, channel, payload),
      logger: createLogger('bench-orderer', { id: config.id }),
      messageBytesMax: 16 * 1024 * 1024,
      queueMessagesMax: 100_000,
      queueBytesMax: 256 * 1024 * 1024,
    });
    // No request listener: with one, Node's compatibility layer builds a request and a response
    // object for every stream before the 'stream' handler below runs (the etcd client's server
    // side, Go's gRPC, has no such layer either).
    this.server = http2.createServer({ settings: { maxConcurrentStreams: 100_000 } });
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
  }

  async listen(): Promise<{ p2pPort: number; clientPort: number }> {
    await this.transport.start();
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    return { p2pPort: this.transport.port, clientPort: typeof address === 'object' && address ? address.port : 0 };
  }

  start(peers: ReadonlyMap<string, string>): void {
    this.transport.setPeers(peers);
    this.timer = setInterval(() => {
      this.engine.tick();
      this.drive();
    }, this.config.tickMs);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.heldNotices.cancel();
    this.server.close();
    await this.transport.stop();
    this.wal.close();
  }

  private onPeerMessage(from: string, channel: string, payload: Bytes): void {
    if (TRACE) process.stderr.write(`${this.config.id} ${performance.now().toFixed(1)} recv ${from.slice(-4)}\n`);
    this.timeline?.mark(MARK.peerMessage);
    if (channel !== 'consensus' || !this.config.members.includes(from)) return;
    let message: EngineMessage;
    try {
      message = decode<EngineMessage>(payload);
    } catch {
      return;
    }
    if (typeof message !== 'object' || message === null || typeof message.type !== 'string') return;
    this.engine.step(from, message);
    if (this.config.drive === 'immediate') this.drive();
    else this.driveSoon();
  }

  /** node/orderer.ts's driveSoon: once at the end of this event-loop turn (decision 1372). */
  private driveSoon(): void {
    if (this.driveScheduled) return;
    this.driveScheduled = true;
    setImmediate(() => {
      this.driveScheduled = false;
      this.drive();
    });
  }

  /** node/orderer.ts's loop: early messages, persist (fsync), the other messages, deliver, advance. */
  private drive(): void {
    if (this.driving) return;
    this.driving = true;
    try {
      while (this.engine.hasReady()) {
        const rd = this.engine.ready();
        if (TRACE)
          process.stderr.write(
            `${this.config.id} ${performance.now().toFixed(1)} persist ${rd.persist.length} msgs ${rd.messages.map((m) => `${m.to.slice(-4)}:${m.message.type}${'entries' in m.message ? `(${(m.message as { entries: unknown[] }).entries.length})` : ''}`).join(',')} decided ${rd.decided.map((d) => d.proposals.length).join(',')}\n`,
          );
        const early = rd.earlyMessages ?? 0;
        if (early > 0) this.timeline?.mark(MARK.earlySending);
        for (let i = 0; i < early; i++) this.transport.send(rd.messages[i]!.to, 'consensus', this.encodeMessage(rd.messages[i]!.message));
        if (rd.persist.length > 0) this.timeline?.mark(MARK.walStart);
        try {
          this.wal.apply(rd.persist);
        } catch (err) {
          process.stderr.write(`storage failure: ${(err as Error).message}\n`);
          process.exit(70);
        }
        if (rd.persist.length > 0) this.timeline?.mark(MARK.walDone);
        for (let i = early; i < rd.messages.length; i++) this.transport.send(rd.messages[i]!.to, 'consensus', this.encodeMessage(rd.messages[i]!.message));
        for (const block of rd.decided) {
          for (const p of block.proposals) {
            // The client's answer first: the bookkeeping below is the benchmark's, not ordering.
            if (p.clientId === CLIENT_ID) {
              const answer = this.waiting.get(p.seq);
              if (answer) {
                this.waiting.delete(p.seq);
                answer();
                this.timeline?.mark(MARK.clientAnswered);
              }
            }
            this.decided += 1;
            if (this.decidedIds.seenBefore(p.data)) this.duplicates += 1;
            if (this.orderedIds.length < ORDERED_IDS_MAX) this.orderedIds.push(payloadId(p.data));
          }
        }
        this.engine.advance(rd);
        this.heldNotices.afterReady(rd.noticesHeld);
      }
    } finally {
      this.driving = false;
    }
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    this.timeline?.mark(MARK.requestHeaders);
    stream.on('error', () => undefined);
    const path = headers[':path'];
    const reply = (status: number, body: string | Uint8Array = ''): void => {
      if (stream.destroyed || stream.closed) return;
      // An empty answer (a submit's 200) is one HEADERS frame that ends the stream.
      if (body.length === 0) {
        stream.respond({ ':status': status }, EMPTY_ANSWER);
        return;
      }
      stream.respond({ ':status': status, 'content-type': typeof body === 'string' && body.startsWith('{') ? 'application/json' : 'application/octet-stream' });
      stream.end(body);
    };
    if (headers[':method'] === 'GET') {
      if (path === '/status') {
        const s = this.engine.status();
        reply(
          200,
          JSON.stringify({
            id: this.config.id,
            role: s.role,
            leader: s.leader,
            term: s.epoch,
            height: s.decidedHeight,
            decided: this.decided,
            duplicates: this.duplicates,
            duplicatesUnchecked: this.decidedIds.unchecked,
            walFsyncs: this.fsyncs,
            walFsyncSeconds: this.fsyncSeconds,
            receivePauses: this.transport.getStats().receivePauses,
          }),
        );
      } else if (path === '/ordered') reply(200, JSON.stringify({ decided: this.decided, duplicates: this.duplicates, ids: this.orderedIds }));
      else reply(404);
      return;
    }
    if (path !== '/submit' || headers[':method'] !== 'POST') {
      reply(404);
      return;
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      if (bytes > BODY_BYTES_MAX) {
        reply(413);
        stream.close();
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => {
      this.timeline?.mark(MARK.requestEnd);
      if (bytes > BODY_BYTES_MAX) return;
      const payload = new Uint8Array(Buffer.concat(chunks));
      if (payload.byteLength < PAYLOAD_ID_BYTES) {
        reply(400, `payload of ${payload.byteLength} bytes: at least ${PAYLOAD_ID_BYTES} needed (its id)`);
        return;
      }
      const status = this.engine.status();
      if (status.role !== 'leader') {
        reply(421, status.leader ?? '');
        return;
      }
      const seq = ++this.seq;
      this.waiting.set(seq, () => reply(200));
      const result = this.engine.propose({ clientId: CLIENT_ID, seq, data: payload });
      if (!result.accepted) {
        this.waiting.delete(seq);
        reply(503, result.reason);
        return;
      }
      // As node/orderer.ts after a broadcast: requests read together are cut together.
      this.driveSoon();
    });
  }
}

/** The process entry (ordering-node-main.ts). */
export async function runOrderingNode(): Promise<void> {
  const config = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as OrderingNodeConfig;
  const node = new OrderingNode(config);
  const ports = await node.listen();
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  const lines = createInterface({ input: process.stdin });
  let started = false;
  lines.on('line', (line) => {
    if (started) return;
    started = true;
    const { peers } = JSON.parse(line) as { peers: Record<string, string> };
    node.start(new Map(Object.entries(peers)));
  });
  lines.on('close', () => {
    void node.stop().finally(() => process.exit(0));
  });
}
