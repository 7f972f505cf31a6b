// The ordering benchmark (issue 13 item 3, decision 1350): the MedLedger ordering service alone
// — 3 Raft orderer processes (ordering-node.ts: the nodes' Raft engine, fsync'd WAL and mTLS
// transport) — against etcd 3.4 — 3 members, fsync on, mTLS between members — measured in the
// same run, on the same machine, with the same load: closed-loop clients keeping N 256-byte
// payloads in flight over HTTP/2 to the leader, for each N in turn. Reported per N: payloads
// ordered (committed by the Raft log and applied at the leader) per second, latency p50/p99.
import { stopChildren } from './children.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createConsortium } from '../identity/index.ts';
import { nodeProcessEnv } from '../node/supervisor.ts';
import { ETCD_PUT_PATH, encodePutRequest, etcdRange, findEtcd, grpcUnary, startEtcdCluster, type EtcdTls } from './etcd.ts';
import { PAYLOAD_ID_BYTES, type OrderingNodeConfig } from './ordering-node.ts';

export const ORDERING_CONCURRENCY_DEFAULT = [1, 16, 64, 256, 1000] as const;
export const ORDERING_PAYLOAD_BYTES = 256;

export interface OrderingBenchOptions {
  readonly concurrency: readonly number[];
  /** Measured seconds per level (after the warm-up). */
  readonly seconds: number;
  /** Unmeasured seconds per level before it. */
  readonly warmupSeconds: number;
  /** Stop a level after this many measured operations (tests: tiny runs). */
  readonly opsMax?: number;
  readonly payloadBytes?: number;
  /** Skip etcd even when it is installed. */
  readonly noEtcd?: boolean;
  readonly etcdBinary?: string;
  /** MedLedger driver: see OrderingNodeConfig.drive. */
  readonly drive?: 'coalesced' | 'immediate';
  readonly eagerCut?: number;
  /** Raft syncCommitIndex true: a commit-only hard state is fsync'd before delivery (not the default, decision 1361). */
  readonly syncCommit?: boolean;
  readonly tickMs?: number;
  /** Keep the id of every payload acknowledged (exactly-once checks in tests). */
  readonly keepIds?: boolean;
  readonly progress?: (line: string) => void;
}

export interface LevelResult {
  readonly concurrency: number;
  readonly ops: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly durationMs: number;
  readonly opsPerSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Payloads submitted in the level (warm-up included) and how many the system ordered, exactly once. */
  readonly submitted: number;
  readonly ordered: number;
  readonly duplicates: number;
  /** CPU time of the 3 server processes during the level (warm-up included; Linux /proc), per ordered payload. */
  readonly serverCpuMsPerOp: number | null;
}

export interface SystemResult {
  readonly system: 'medledger' | 'etcd';
  readonly description: string;
  readonly levels: readonly LevelResult[];
  /** Ids (hex) of every payload acknowledged, when keepIds; and the ids the leader ordered. */
  readonly ackedIds?: readonly string[];
  readonly orderedIds?: readonly string[];
  readonly walFsyncs?: number;
  /** Times an orderer's transport paused a peer over its receive budget, all three orderers (decision 1397). */
  readonly receivePauses?: number;
}

export interface OrderingBenchReport {
  readonly benchmark: 'ordering';
  readonly startedAt: string;
  readonly payloadBytes: number;
  readonly secondsPerLevel: number;
  readonly warmupSecondsPerLevel: number;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly loadAverage1m: number; readonly etcd: string | null };
  readonly medledger: SystemResult;
  readonly etcd: SystemResult | null;
  readonly notes: readonly string[];
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** User + system CPU seconds of these processes so far (Linux /proc/<pid>/stat), or null elsewhere. */
export function processCpuSeconds(pids: readonly number[]): number | null {
  let total = 0;
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
    total += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return total;
}

function cpuMsPerOp(before: number | null, after: number | null, ordered: number): number | null {
  return before === null || after === null || ordered <= 0 ? null : ((after - before) * 1000) / ordered;
}

// ------------------------------------------------------------------ closed-loop load

type Submit = (session: http2.ClientHttp2Session, payload: Buffer) => Promise<void>;

interface LoadResult {
  readonly level: Omit<LevelResult, 'ordered' | 'duplicates' | 'serverCpuMsPerOp'>;
  readonly ackedIds: string[];
}

/** HTTP/2 sessions for `concurrency` streams in flight: one per 128 streams, at most 8. */
function openSessions(url: string, concurrency: number): http2.ClientHttp2Session[] {
  const count = Math.min(8, Math.max(1, Math.ceil(concurrency / 128)));
  return Array.from({ length: count }, () => {
    const s = http2.connect(url, { settings: { enablePush: false } });
    s.on('error', () => undefined);
    return s;
  });
}

/**
 * Keep `concurrency` submissions in flight: warm-up, then measure until `seconds` or `opsMax`.
 * Each payload starts with a 16-byte id: run tag (4), level (4), index (8).
 */
async function closedLoop(o: {
  url: string;
  submit: Submit;
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  opsMax?: number;
  payloadBytes: number;
  runTag: Buffer;
  keepIds: boolean;
}): Promise<LoadResult> {
  const sessions = openSessions(o.url, o.concurrency);
  const filler = randomBytes(o.payloadBytes);
  let index = 0;
  let measuring = o.warmupSeconds <= 0;
  let measureStart = performance.now();
  const warmupEnd = performance.now() + o.warmupSeconds * 1000;
  let end = Number.POSITIVE_INFINITY;
  let ops = 0;
  let errors = 0;
  let firstError: string | null = null;
  const latencies: number[] = [];
  const ackedIds: string[] = [];
  const worker = async (w: number): Promise<void> => {
    const session = sessions[w % sessions.length]!;
    for (;;) {
      const now = performance.now();
      if (!measuring && now >= warmupEnd) {
        measuring = true;
        measureStart = now;
      }
      if (measuring && end === Number.POSITIVE_INFINITY) end = measureStart + o.seconds * 1000;
      if (now >= end || (o.opsMax !== undefined && ops >= o.opsMax)) return;
      const payload = Buffer.from(filler);
      o.runTag.copy(payload, 0, 0, 4);
      payload.writeUInt32BE(o.concurrency, 4);
      payload.writeBigUInt64BE(BigInt(index++), 8);
      const counted = measuring;
      const t0 = performance.now();
      try {
        await o.submit(session, payload);
        if (o.keepIds) ackedIds.push(payload.subarray(0, PAYLOAD_ID_BYTES).toString('hex'));
        if (counted) {
          ops += 1;
          latencies.push(performance.now() - t0);
        }
      } catch (err) {
        errors += 1;
        firstError ??= (err as Error).message;
        if (errors > 100 && errors > ops) return; // the system is down: stop this level
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  const durationMs = performance.now() - measureStart;
  for (const s of sessions) s.close();
  latencies.sort((a, b) => a - b);
  return {
    level: {
      concurrency: o.concurrency,
      ops,
      errors,
      firstError,
      durationMs: Math.round(durationMs),
      opsPerSecond: (ops * 1000) / Math.max(1, durationMs),
      latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? Number.NaN },
      submitted: index,
    },
    ackedIds,
  };
}

function h2Request(session: http2.ClientHttp2Session, method: string, path: string, body?: Buffer): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':method': method, ':path': path });
    req.setTimeout(60_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
    const chunks: Buffer[] = [];
    let status = 0;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', reject);
    req.on('close', () => (status === 0 ? reject(new Error(`${method} ${path}: no answer`)) : resolve({ status, body: Buffer.concat(chunks) })));
    req.end(body);
  });
}

async function getJson<T>(url: string, path: string): Promise<T> {
  const s = http2.connect(url);
  s.on('error', () => undefined);
  try {
    const r = await h2Request(s, 'GET', path);
    if (r.status !== 200) throw new Error(`GET ${url}${path}: ${r.status}`);
    return JSON.parse(r.body.toString('utf8')) as T;
  } finally {
    s.close();
  }
}

// ------------------------------------------------------------------ MedLedger side

interface NodeStatus {
  readonly id: string;
  readonly role: string;
  readonly leader: string | null;
  readonly decided: number;
  readonly duplicates: number;
  readonly walFsyncs: number;
  readonly receivePauses: number;
}

interface MedLedgerCluster {
  readonly urls: readonly string[];
  readonly pids: readonly number[];
  leaderUrl(): Promise<string>;
  stop(): Promise<void>;
}

async function startMedLedgerCluster(
  dir: string,
  o: { drive: 'coalesced' | 'immediate'; eagerCut: number; syncCommitIndex: boolean; tickMs: number },
): Promise<MedLedgerCluster> {
  const orgs = ['Ord1', 'Ord2', 'Ord3'];
  const consortium = await createConsortium({ orgs });
  const ids = orgs.map((org) => consortium.nodes.get(org)!.commonName);
  const memberCerts = Object.fromEntries(orgs.map((org, i) => [ids[i]!, consortium.nodes.get(org)!.certPem]));
  const loader = import.meta.resolve('tsx');
  const entry = new URL('./ordering-node-main.ts', import.meta.url);
  const children: ChildProcess[] = [];
  const stderr: string[][] = [];
  const ports: Array<Promise<{ p2pPort: number; clientPort: number }>> = [];
  orgs.forEach((org, i) => {
    const node = consortium.nodes.get(org)!;
    const nodeDir = join(dir, org);
    mkdirSync(nodeDir, { recursive: true });
    const config: OrderingNodeConfig = {
      id: ids[i]!,
      members: ids,
      memberCerts,
      dir: nodeDir,
      certChainPem: `${node.certPem.trim()}\n${consortium.orgCas.get(org)!.certPem.trim()}\n`,
      keyPem: node.keyPem,
      mspConfig: consortium.mspConfig,
      tickMs: o.tickMs,
      drive: o.drive,
      eagerCut: o.eagerCut,
      syncCommitIndex: o.syncCommitIndex,
      countMax: 10_000,
      timeoutTicks: 1,
    };
    const configPath = join(nodeDir, 'config.json');
    writeFileSync(configPath, JSON.stringify(config), { mode: 0o600 });
    const child = spawn(
      process.execPath,
      [...(process.env['MEDLEDGER_BENCH_NODE_ARGS']?.split(' ').filter(Boolean) ?? []), '--import', loader, entry.pathname, configPath],
      { stdio: ['pipe', 'pipe', 'pipe'], env: nodeProcessEnv(process.env, { MEDLEDGER_LOG_LEVEL: 'warn' }) },
    );
    const log: string[] = [];
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (process.env['MEDLEDGER_BENCH_TRACE'] === '1') process.stderr.write(s);
      else if (log.length < 200) log.push(s);
    });
    stderr.push(log);
    children.push(child);
    ports.push(
      new Promise((resolve, reject) => {
        const lines = createInterface({ input: child.stdout! });
        lines.once('line', (line) => resolve(JSON.parse(line) as { p2pPort: number; clientPort: number }));
        child.once('exit', (code) => reject(new Error(`orderer ${ids[i]} exited (${code}) before listening: ${log.join('').slice(-2000)}`)));
      }),
    );
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // An orderer process exits when its stdin closes (ordering-node.ts).
    await stopChildren(children, (c) => c.stdin!.end());
  };
  let listening: Array<{ p2pPort: number; clientPort: number }>;
  try {
    listening = await Promise.all(ports);
  } catch (err) {
    await stop();
    throw err;
  }
  const peers = Object.fromEntries(ids.map((id, i) => [id, `wss://127.0.0.1:${listening[i]!.p2pPort}`]));
  children.forEach((c, i) => c.stdin!.write(`${JSON.stringify({ peers: Object.fromEntries(Object.entries(peers).filter(([id]) => id !== ids[i])) })}\n`));
  const urls = listening.map((l) => `http://127.0.0.1:${l.clientPort}`);
  const leaderUrl = async (): Promise<string> => {
    const statuses = await Promise.all(urls.map((u) => getJson<NodeStatus>(u, '/status').catch(() => null)));
    const i = statuses.findIndex((s) => s?.role === 'leader');
    if (i < 0) throw new Error('no MedLedger leader yet');
    return urls[i]!;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await leaderUrl();
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${(err as Error).message} after 30 s: ${stderr.flat().join('').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { urls, pids: children.map((c) => c.pid ?? 0), leaderUrl, stop };
}

const medledgerSubmit: Submit = async (session, payload) => {
  const r = await h2Request(session, 'POST', '/submit', payload);
  if (r.status !== 200) throw new Error(`submit: ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
};

// ------------------------------------------------------------------ etcd side

function etcdKey(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from('bench/'), Buffer.from(payload.subarray(0, PAYLOAD_ID_BYTES).toString('hex'))]);
}

const etcdSubmit: Submit = async (session, payload) => {
  await grpcUnary(session, ETCD_PUT_PATH, encodePutRequest(etcdKey(payload), payload));
};

// ------------------------------------------------------------------ the run

export async function runOrderingBench(options: OrderingBenchOptions): Promise<OrderingBenchReport> {
  const progress = options.progress ?? (() => undefined);
  const payloadBytes = options.payloadBytes ?? ORDERING_PAYLOAD_BYTES;
  if (payloadBytes < PAYLOAD_ID_BYTES) throw new RangeError(`payloads of at least ${PAYLOAD_ID_BYTES} bytes`);
  const notes: string[] = [];
  const startedAt = new Date().toISOString();
  const etcd = options.noEtcd ? null : findEtcd(options.etcdBinary);
  if (!etcd && !options.noEtcd) notes.push('etcd is not installed (no `etcd` binary on PATH; Debian: apt-get install etcd-server): MedLedger measured alone');
  const dir = mkdtempSync(join(tmpdir(), 'medledger-bench-ordering-'));
  const runTag = randomBytes(4);
  const keepIds = options.keepIds ?? false;
  const load = {
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    payloadBytes,
    runTag,
    keepIds,
    ...(options.opsMax !== undefined ? { opsMax: options.opsMax } : {}),
  };
  try {
    // MedLedger
    const drive = options.drive ?? 'immediate';
    const eagerCut = options.eagerCut ?? 1;
    progress('starting 3 MedLedger Raft orderer processes …');
    const ml = await startMedLedgerCluster(join(dir, 'medledger'), {
      drive,
      eagerCut,
      syncCommitIndex: options.syncCommit === true,
      tickMs: options.tickMs ?? 100,
    });
    const mlLevels: LevelResult[] = [];
    const mlAcked: string[] = [];
    let mlOrderedIds: string[] | undefined;
    let walFsyncs = 0;
    let receivePauses = 0;
    try {
      for (const c of options.concurrency) {
        const url = await ml.leaderUrl();
        const before = await getJson<NodeStatus>(url, '/status');
        const cpuBefore = processCpuSeconds(ml.pids);
        const r = await closedLoop({ url, submit: medledgerSubmit, concurrency: c, ...load });
        const cpuAfter = processCpuSeconds(ml.pids);
        const after = await getJson<NodeStatus>(url, '/status');
        const ordered = after.decided - before.decided;
        mlLevels.push({ ...r.level, ordered, duplicates: after.duplicates - before.duplicates, serverCpuMsPerOp: cpuMsPerOp(cpuBefore, cpuAfter, ordered) });
        mlAcked.push(...r.ackedIds);
        progress(`medledger ${c} in flight: ${r.level.opsPerSecond.toFixed(0)} payloads/s, p50 ${r.level.latencyMs.p50.toFixed(2)} ms`);
      }
      const url = await ml.leaderUrl();
      walFsyncs = (await getJson<NodeStatus>(url, '/status')).walFsyncs;
      for (const u of ml.urls) receivePauses += (await getJson<NodeStatus>(u, '/status')).receivePauses;
      if (keepIds) mlOrderedIds = (await getJson<{ ids: string[] }>(url, '/ordered')).ids;
    } finally {
      await ml.stop();
    }
    const medledger: SystemResult = {
      system: 'medledger',
      description: `3 Raft orderer processes (consensus/raft + node/wal.ts fsync per Ready + mTLS WebSocket transport), driver ${drive}, eagerCutUncommittedMax ${eagerCut}, syncCommitIndex ${options.syncCommit === true}; client: HTTP/2 POST /submit to the leader`,
      levels: mlLevels,
      walFsyncs,
      receivePauses,
      ...(keepIds ? { ackedIds: mlAcked, orderedIds: mlOrderedIds ?? [] } : {}),
    };

    // etcd
    let etcdResult: SystemResult | null = null;
    if (etcd) {
      progress(`starting 3 etcd ${etcd.version} members …`);
      const consortium = await createConsortium({ orgs: ['Etcd1', 'Etcd2', 'Etcd3'] });
      const tls: EtcdTls[] = ['Etcd1', 'Etcd2', 'Etcd3'].map((org) => ({
        certChainPem: `${consortium.nodes.get(org)!.certPem.trim()}\n${consortium.orgCas.get(org)!.certPem.trim()}\n`,
        keyPem: consortium.nodes.get(org)!.keyPem,
        caPem: consortium.root.certPem,
      }));
      const cluster = await startEtcdCluster({ binary: etcd.binary, version: etcd.version, dir: join(dir, 'etcd'), tls });
      const levels: LevelResult[] = [];
      const acked: string[] = [];
      let versionsOk = true;
      try {
        for (const c of options.concurrency) {
          const url = await cluster.leaderUrl();
          const cpuBefore = processCpuSeconds(cluster.pids);
          const r = await closedLoop({ url, submit: etcdSubmit, concurrency: c, ...load });
          const cpuAfter = processCpuSeconds(cluster.pids);
          // Every key is put once: the keys of this level, and each key's version (1 = put once).
          const prefix = Buffer.concat([
            Buffer.from('bench/'),
            Buffer.from(Buffer.concat([runTag, Buffer.from([c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255, c & 255])]).toString('hex')),
          ]);
          const s = http2.connect(url);
          s.on('error', () => undefined);
          let ordered = 0;
          let duplicates = 0;
          try {
            const range = await etcdRange(s, prefix, !keepIds);
            ordered = keepIds ? range.versions.length : range.count;
            duplicates = range.versions.filter((v) => v !== 1).length;
            if (duplicates > 0) versionsOk = false;
          } finally {
            s.close();
          }
          levels.push({ ...r.level, ordered, duplicates, serverCpuMsPerOp: cpuMsPerOp(cpuBefore, cpuAfter, ordered) });
          acked.push(...r.ackedIds);
          progress(`etcd ${c} in flight: ${r.level.opsPerSecond.toFixed(0)} puts/s, p50 ${r.level.latencyMs.p50.toFixed(2)} ms`);
        }
      } finally {
        await cluster.stop();
      }
      etcdResult = {
        system: 'etcd',
        description: `etcd ${etcd.version}, 3 members on loopback, fsync on (default), peer mTLS; client: gRPC KV/Put over HTTP/2 to the leader (hand-encoded protobuf)`,
        levels,
        ...(keepIds ? { ackedIds: acked } : {}),
      };
      if (!versionsOk) notes.push('etcd: some keys were put more than once (version > 1)');
    }
    return {
      benchmark: 'ordering',
      startedAt,
      payloadBytes,
      secondsPerLevel: options.seconds,
      warmupSecondsPerLevel: options.warmupSeconds,
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: availableParallelism(),
        node: process.version,
        loadAverage1m: loadavg()[0] ?? 0,
        etcd: etcd?.version ?? null,
      },
      medledger,
      etcd: etcdResult,
      notes,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ the table

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

export function renderOrderingReport(r: OrderingBenchReport): string {
  const lines: string[] = [];
  lines.push(`ordering service: ${r.payloadBytes}-byte payloads, closed loop, ${r.secondsPerLevel} s per level after ${r.warmupSecondsPerLevel} s warm-up`);
  lines.push(`  MedLedger: ${r.medledger.description}`);
  lines.push(`  etcd:      ${r.etcd ? r.etcd.description : 'not measured'}`);
  lines.push('');
  const header = ['in flight', 'MedLedger ops/s', 'p50 ms', 'p99 ms', 'CPU ms/op', 'etcd ops/s', 'p50 ms', 'p99 ms', 'CPU ms/op', 'ML/etcd ops/s'];
  const rows: string[][] = [header];
  r.medledger.levels.forEach((m, i) => {
    const e = r.etcd?.levels[i];
    rows.push([
      String(m.concurrency),
      fmt(m.opsPerSecond),
      fmt(m.latencyMs.p50, 2),
      fmt(m.latencyMs.p99, 2),
      fmt(m.serverCpuMsPerOp ?? Number.NaN, 3),
      e ? fmt(e.opsPerSecond) : '–',
      e ? fmt(e.latencyMs.p50, 2) : '–',
      e ? fmt(e.latencyMs.p99, 2) : '–',
      e ? fmt(e.serverCpuMsPerOp ?? Number.NaN, 3) : '–',
      e && e.opsPerSecond > 0 ? `${fmt(m.opsPerSecond / e.opsPerSecond, 2)}×` : '–',
    ]);
  });
  const widths = header.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) lines.push(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
  lines.push('CPU ms/op: CPU time of the 3 server processes (user + system, warm-up included) per payload ordered');
  lines.push('');
  const check = (s: SystemResult): string =>
    s.levels
      .map((l) => `${l.concurrency}: ${l.ordered}/${l.submitted} ordered, ${l.duplicates} dup${l.errors ? `, ${l.errors} errors (${l.firstError})` : ''}`)
      .join('; ');
  lines.push(`exactly once — MedLedger ${check(r.medledger)}`);
  if (r.etcd) lines.push(`exactly once — etcd      ${check(r.etcd)}`);
  if (r.medledger.receivePauses)
    lines.push(`receive budget: an orderer paused reading a peer ${r.medledger.receivePauses} times (over its frames or bytes per second, decision 1397)`);
  lines.push(
    `machine: ${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}, etcd ${r.machine.etcd ?? 'not installed'}, load average ${r.machine.loadAverage1m.toFixed(2)} at the end`,
  );
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}
