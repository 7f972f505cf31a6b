// The ordering benchmark (issue 13 item 3, decision 1350): the MedLedger ordering service alone
// — 3 Raft orderer processes (ordering-node.ts: the nodes' Raft engine, fsync'd WAL and mTLS
// transport) — against etcd 3.4 — 3 members, fsync on, mTLS between members — measured in the
// same run, on the same machine, with the same load: closed-loop clients keeping N 256-byte
// payloads in flight over HTTP/2 to the leader, for each N in turn. Reported per N: payloads
// ordered (committed by the Raft log and applied at the leader) per second, latency p50/p99.
// Both systems run side by side for the whole benchmark and are measured in turns, in slices of
// about a second (closed-loop.ts, decision 1413): this machine's speed drifts by a third over
// minutes (fsync latency, neighbours), and a comparison made minutes apart measured the drift.
// With `against`, the second system is MedLedger's orderer from another checkout instead of etcd
// (A/B of two versions, measured the same way; the same checkout twice shows the noise of a run).
import { stopChildren } from './children.ts';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createConsortium } from '../identity/index.ts';
import { nodeProcessEnv } from '../node/supervisor.ts';
import { ETCD_PUT_PATH, encodePutRequest, etcdRange, findEtcd, grpcUnary, startEtcdCluster, type EtcdTls } from './etcd.ts';
import { PAYLOAD_ID_BYTES, type OrderingNodeConfig } from './ordering-node.ts';
import { ClosedLoop, type SliceResult, type Submit } from './closed-loop.ts';
import { PairLog, renderStageBands, roundStages, stageBands, TIMELINE_ENV, TIMELINE_ROUNDS_MAX, type ProcessTimeline, type StageBand } from './timeline.ts';
import { makeDirectory } from '../files/directory.ts';

export const ORDERING_CONCURRENCY_DEFAULT = [1, 16, 64, 256, 1000] as const;
export const ORDERING_PAYLOAD_BYTES = 256;
/** Each system's measured seconds per level are taken in slices of about this long, in turns (decision 1413). */
export const ORDERING_SLICE_SECONDS_DEFAULT = 1;

export interface OrderingBenchOptions {
  readonly concurrency: readonly number[];
  /** Measured seconds per level (after the warm-up). */
  readonly seconds: number;
  /** Unmeasured seconds per level before it, for each system in turn. */
  readonly warmupSeconds: number;
  /** The measured seconds are taken in slices of about this long, the systems in turns (decision 1413). */
  readonly sliceSeconds?: number;
  /** Stop a level after this many measured operations (tests: tiny runs). */
  readonly opsMax?: number;
  readonly payloadBytes?: number;
  /** Skip etcd even when it is installed. */
  readonly noEtcd?: boolean;
  /**
   * Another MedLedger checkout (with its node_modules), as againstCheckout found it: its orderer is
   * measured in turns with this one's instead of etcd. This checkout's own directory measures the
   * same code twice: the noise of a comparison.
   */
  readonly against?: AgainstCheckout;
  readonly etcdBinary?: string;
  /** MedLedger driver: see OrderingNodeConfig.drive. */
  readonly drive?: 'coalesced' | 'immediate';
  readonly eagerCut?: number;
  /** Raft syncCommitIndex true: a commit-only hard state is fsync'd before delivery (not the default, decision 1361). */
  readonly syncCommit?: boolean;
  readonly tickMs?: number;
  /** Keep the id of every payload acknowledged (exactly-once checks in tests). */
  readonly keepIds?: boolean;
  /**
   * At one payload in flight only: the MedLedger orderers write the timeline of each round to this
   * directory, and the report gives the stages of a round by latency band (bench/timeline.ts).
   */
  readonly timelineDir?: string;
  readonly progress?: (line: string) => void;
}

export interface LevelResult {
  readonly concurrency: number;
  readonly ops: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly durationMs: number;
  readonly opsPerSecond: number;
  /**
   * The mean too: at one in flight a closed loop's rate is 1 / mean latency, so the tail above the
   * median weighs on the rate as much as the median does.
   */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** Payloads submitted in the level (warm-up included) and how many the system ordered, exactly once. */
  readonly submitted: number;
  readonly ordered: number;
  readonly duplicates: number;
  /** CPU time of the 3 server processes during the level (its warm-up, ramps and slices, not its idle time; Linux /proc), per ordered payload. */
  readonly serverCpuMsPerOp: number | null;
  /**
   * The same CPU by process, user and system (kernel) apart: the leader's (the process the level's
   * clients sent to) and a follower's (the mean of the other two). leader + 2 × follower is
   * serverCpuMsPerOp. Null where /proc cannot be read.
   */
  readonly serverCpuByRole: { readonly leader: CpuMsPerOp; readonly follower: CpuMsPerOp } | null;
}

export interface CpuMsPerOp {
  readonly userMs: number;
  readonly systemMs: number;
}

export type SystemName = 'medledger' | 'etcd' | 'against';

export interface SystemResult {
  readonly system: SystemName;
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
  /** Measured slices per level and system (decision 1413). */
  readonly slicesPerLevel: number;
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string; readonly loadAverage1m: number; readonly etcd: string | null };
  readonly medledger: SystemResult;
  readonly etcd: SystemResult | null;
  /** The other checkout's orderer (options.against), measured instead of etcd. */
  readonly against: SystemResult | null;
  /** With options.timelineDir: the stages of MedLedger's measured rounds, by latency band. */
  readonly timeline?: { readonly dir: string; readonly rounds: number; readonly bands: readonly StageBand[] };
  readonly notes: readonly string[];
}

/** The arithmetic mean (NaN for none). */
export function meanOf(values: readonly number[]): number {
  let sum = 0;
  for (const v of values) sum += v;
  return values.length === 0 ? Number.NaN : sum / values.length;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** One process's CPU time so far, user and system (kernel), seconds. */
export interface ProcessCpu {
  readonly userSeconds: number;
  readonly systemSeconds: number;
}

/** The CPU time of each of these processes so far (Linux /proc/<pid>/stat), or null elsewhere. */
export function processCpuTimes(pids: readonly number[]): ProcessCpu[] | null {
  const times: ProcessCpu[] = [];
  for (const pid of pids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return null;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is field 3, utime field 14, stime field 15 (1-based in proc(5)).
    times.push({ userSeconds: Number(fields[11]) / 100, systemSeconds: Number(fields[12]) / 100 });
  }
  return times;
}

/** User + system CPU seconds of these processes so far (Linux /proc/<pid>/stat), or null elsewhere. */
export function processCpuSeconds(pids: readonly number[]): number | null {
  const times = processCpuTimes(pids);
  return times === null ? null : times.reduce((sum, t) => sum + t.userSeconds + t.systemSeconds, 0);
}

export interface QuietOptions {
  readonly windowMs?: number;
  /** Quiet: the processes together used less than this share of one core over a window. */
  readonly cpuShareMax?: number;
  readonly timeoutMs?: number;
  /** Where the CPU seconds come from (tests give a scripted one); processCpuSeconds by default. */
  readonly readCpuSeconds?: (pids: readonly number[]) => number | null;
}

/**
 * Waits until these processes are quiet (see QuietOptions), at most timeoutMs: what a level
 * measures first — a warm-up whose CPU counts — must not share the machine with the clusters'
 * start-up (elections, TLS handshakes, compiling) or the last level's tail. Measured: without it,
 * the first of two identical clusters used 4–17 % more CPU per payload in four runs of four.
 */
export async function waitQuiet(pids: readonly number[], o: QuietOptions = {}): Promise<{ settled: boolean | null; waitedMs: number }> {
  const windowMs = o.windowMs ?? 500;
  const cpuShareMax = o.cpuShareMax ?? 0.1;
  const timeoutMs = o.timeoutMs ?? 15_000;
  const readCpuSeconds = o.readCpuSeconds ?? processCpuSeconds;
  const start = performance.now();
  let before = readCpuSeconds(pids);
  while (before !== null) {
    await new Promise((r) => setTimeout(r, windowMs));
    const after = readCpuSeconds(pids);
    if (after === null) break;
    const waitedMs = performance.now() - start;
    if (after - before < (cpuShareMax * windowMs) / 1000) return { settled: true, waitedMs };
    if (waitedMs >= timeoutMs) return { settled: false, waitedMs };
    before = after;
  }
  // Not measurable here (no /proc, or a process is gone): nothing to wait for.
  return { settled: null, waitedMs: performance.now() - start };
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
  /** Payloads whose id the orderer could not check for duplicates (seen-ids.ts; absent before it). */
  readonly duplicatesUnchecked?: number;
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
  o: { drive: 'coalesced' | 'immediate'; eagerCut: number; syncCommitIndex: boolean; tickMs: number; entry?: string; timelineDir?: string },
): Promise<MedLedgerCluster> {
  const orgs = ['Ord1', 'Ord2', 'Ord3'];
  const consortium = await createConsortium({ orgs });
  const ids = orgs.map((org) => consortium.nodes.get(org)!.commonName);
  const memberCerts = Object.fromEntries(orgs.map((org, i) => [ids[i]!, consortium.nodes.get(org)!.certPem]));
  const loader = import.meta.resolve('tsx');
  const entry = o.entry ?? fileURLToPath(new URL('./ordering-node-main.ts', import.meta.url));
  const children: ChildProcess[] = [];
  const stderr: string[][] = [];
  const ports: Array<Promise<{ p2pPort: number; clientPort: number }>> = [];
  orgs.forEach((org, i) => {
    const node = consortium.nodes.get(org)!;
    const nodeDir = join(dir, org);
    makeDirectory(nodeDir);
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
      [...(process.env['MEDLEDGER_BENCH_NODE_ARGS']?.split(' ').filter(Boolean) ?? []), '--import', loader, entry, configPath],
      {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: nodeProcessEnv(process.env, { MEDLEDGER_LOG_LEVEL: 'warn', ...(o.timelineDir ? { [TIMELINE_ENV]: o.timelineDir } : {}) }),
      },
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
        // Its first line is its ports. Anything else (a V8 flag from MEDLEDGER_BENCH_NODE_ARGS that
        // prints to stdout, say) fails the run by name: thrown in this handler, it would end the
        // process without stopping the orderers or removing their directory.
        lines.once('line', (line) => {
          try {
            const ports = JSON.parse(line) as { p2pPort?: unknown; clientPort?: unknown };
            if (typeof ports.p2pPort !== 'number' || typeof ports.clientPort !== 'number') throw new Error('no ports');
            resolve({ p2pPort: ports.p2pPort, clientPort: ports.clientPort });
          } catch {
            reject(new Error(`orderer ${ids[i]} printed ${JSON.stringify(line.slice(0, 200))} where its ports were expected`));
          }
        });
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

/** Another MedLedger checkout whose orderer is measured against this one's (options.against). */
export interface AgainstCheckout {
  readonly dir: string;
  /** Its ordering-node-main.ts. */
  readonly entry: string;
  /** The commit, with "+changes" when its tracked files differ from it; null outside git. */
  readonly commit: string | null;
}

/** Checks that `dir` holds a MedLedger checkout whose orderer can run; throws, naming what is missing. */
export function againstCheckout(dir: string): AgainstCheckout {
  const root = resolve(dir);
  const entry = join(root, 'src', 'bench', 'ordering-node-main.ts');
  if (!existsSync(entry)) throw new Error(`--against ${dir}: no MedLedger orderer there (${entry} is missing)`);
  try {
    // Its orderer imports its own packages: resolved from its node_modules, as node will.
    createRequire(join(root, 'package.json')).resolve('ws');
  } catch {
    throw new Error(`--against ${dir}: its packages are not installed (run npm ci in ${root})`);
  }
  let commit: string | null = null;
  try {
    const git = (args: string[]): string => execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    commit = `${git(['rev-parse', '--short', 'HEAD'])}${git(['status', '--porcelain', '--untracked-files=no']) === '' ? '' : '+changes'}`;
  } catch {
    commit = null;
  }
  return { dir: root, entry, commit };
}

/** A MedLedger cluster as a contender: what it ordered is read from the leader's /status. */
function medledgerContender(system: 'medledger' | 'against', cluster: MedLedgerCluster): Contender {
  return {
    system,
    unit: 'payloads/s',
    pids: cluster.pids,
    urls: cluster.urls,
    submit: medledgerSubmit,
    leaderUrl: cluster.leaderUrl,
    beginLevel: async (url) => {
      const before = await getJson<NodeStatus>(url, '/status');
      return async () => {
        const after = await getJson<NodeStatus>(url, '/status');
        return { ordered: after.decided - before.decided, duplicates: after.duplicates - before.duplicates };
      };
    },
  };
}

// ------------------------------------------------------------------ etcd side

function etcdKey(payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from('bench/'), Buffer.from(payload.subarray(0, PAYLOAD_ID_BYTES).toString('hex'))]);
}

const etcdSubmit: Submit = async (session, payload) => {
  await grpcUnary(session, ETCD_PUT_PATH, encodePutRequest(etcdKey(payload), payload));
};

// ------------------------------------------------------------------ the run

/** How many slices a level's measured seconds are cut into, per system (decision 1413). */
export function sliceCount(seconds: number, sliceSeconds: number): number {
  return Math.max(1, Math.round(seconds / sliceSeconds));
}

/**
 * Which system runs each slice: A B B A A B … (each pair in the other order than the last), so a
 * drift of the machine's speed over the level weighs on both alike (decision 1413).
 */
export function sliceOrder(slices: number, systems: number): number[] {
  const order: number[] = [];
  for (let i = 0; i < slices; i++) {
    const turn = Array.from({ length: systems }, (_, k) => k);
    order.push(...(i % 2 === 0 ? turn : turn.reverse()));
  }
  return order;
}

/** Unmeasured time at the start of each slice: the pipeline refills (3 × the warm-up's p99, 0.1–1 s). */
function rampMs(warmupLatenciesMs: readonly number[]): number {
  const sorted = [...warmupLatenciesMs].sort((x, y) => x - y);
  const p99 = percentile(sorted, 99);
  return Number.isFinite(p99) ? Math.min(1000, Math.max(100, 3 * p99)) : 100;
}

/** One system under test, as the interleaved levels see it. */
interface Contender {
  readonly system: SystemName;
  readonly unit: string;
  readonly pids: readonly number[];
  /** The servers' client URLs, in the order of pids (which process a leader's URL is). */
  readonly urls: readonly string[];
  readonly submit: Submit;
  leaderUrl(): Promise<string>;
  /** Called before a level's warm-up; returns how many of the level's payloads it ordered, exactly once. */
  beginLevel(url: string, concurrency: number): Promise<() => Promise<{ ordered: number; duplicates: number }>>;
}

interface LevelRun {
  readonly contender: Contender;
  readonly loop: ClosedLoop;
  readonly finish: () => Promise<{ ordered: number; duplicates: number }>;
  readonly latenciesMs: number[];
  ops: number;
  measuredMs: number;
  errors: number;
  firstError: string | null;
  /** CPU of each server process (in the order of contender.pids) while this system ran; null: not measurable. */
  cpu: ProcessCpu[] | null;
  /** Which of contender.pids the level's clients sent to (-1: none of them). */
  readonly leaderIndex: number;
  rampMs: number;
}

/** Run `fn` and add the CPU the contender's server processes spent meanwhile to the level's. */
async function withCpu<T>(run: LevelRun, fn: () => Promise<T>): Promise<T> {
  const before = processCpuTimes(run.contender.pids);
  const result = await fn();
  const after = processCpuTimes(run.contender.pids);
  const sum = run.cpu;
  run.cpu =
    before === null || after === null || sum === null
      ? null
      : sum.map((t, i) => ({
          userSeconds: t.userSeconds + after[i]!.userSeconds - before[i]!.userSeconds,
          systemSeconds: t.systemSeconds + after[i]!.systemSeconds - before[i]!.systemSeconds,
        }));
  return result;
}

/**
 * Per ordered payload: the CPU of all server processes together, and the leader's (cpu[leaderIndex])
 * and a follower's (the mean of the others).
 */
export function cpuPerPayload(
  cpu: readonly ProcessCpu[] | null,
  leaderIndex: number,
  ordered: number,
): Pick<LevelResult, 'serverCpuMsPerOp' | 'serverCpuByRole'> {
  if (cpu === null || ordered <= 0) return { serverCpuMsPerOp: null, serverCpuByRole: null };
  const msPerOp = (seconds: number): number => (seconds * 1000) / ordered;
  const total = msPerOp(cpu.reduce((sum, t) => sum + t.userSeconds + t.systemSeconds, 0));
  const leader = cpu[leaderIndex];
  const followers = cpu.filter((_, i) => i !== leaderIndex);
  if (leader === undefined || followers.length === 0) return { serverCpuMsPerOp: total, serverCpuByRole: null };
  const mean = (pick: (t: ProcessCpu) => number): number => followers.reduce((sum, t) => sum + pick(t), 0) / followers.length;
  return {
    serverCpuMsPerOp: total,
    serverCpuByRole: {
      leader: { userMs: msPerOp(leader.userSeconds), systemMs: msPerOp(leader.systemSeconds) },
      follower: { userMs: msPerOp(mean((t) => t.userSeconds)), systemMs: msPerOp(mean((t) => t.systemSeconds)) },
    },
  };
}

function addSlice(run: LevelRun, r: SliceResult): void {
  run.ops += r.ops;
  run.measuredMs += r.measuredMs;
  run.errors += r.errors;
  run.firstError ??= r.firstError;
  for (const l of r.latenciesMs) run.latenciesMs.push(l);
}

/**
 * One level: every contender warms up in turn, then they take the measured slices in turns
 * (sliceOrder), so both are measured at the same moments of the machine's life (decision 1413).
 */
async function runLevel(
  contenders: readonly Contender[],
  c: number,
  o: {
    seconds: number;
    warmupSeconds: number;
    sliceSeconds: number;
    opsMax?: number;
    payloadBytes: number;
    runTag: Buffer;
    keepIds: boolean;
    rounds?: PairLog;
  },
): Promise<Array<{ level: LevelResult; ackedIds: string[] }>> {
  const runs: LevelRun[] = [];
  try {
    for (const contender of contenders) {
      const url = await contender.leaderUrl();
      const finish = await contender.beginLevel(url, c);
      const loop = new ClosedLoop({
        url,
        submit: contender.submit,
        concurrency: c,
        payloadBytes: o.payloadBytes,
        runTag: o.runTag,
        keepIds: o.keepIds,
        ...(o.rounds && contender.system === 'medledger' ? { rounds: o.rounds } : {}),
      });
      const cpu = contender.pids.map(() => ({ userSeconds: 0, systemSeconds: 0 }));
      const leaderIndex = contender.urls.indexOf(url);
      runs.push({ contender, loop, finish, latenciesMs: [], ops: 0, measuredMs: 0, errors: 0, firstError: null, cpu, leaderIndex, rampMs: 100 });
    }
    // The warm-ups are taken in turns as well: what the machine does early in a level (the bench
    // client's own compiling, the last level's tail) then falls on both systems alike — taken one
    // after the other, the first of two identical clusters used more CPU per payload than the
    // second in seven runs of eight. The warm-up's latencies (all counted) set the ramp.
    const warmLatenciesMs: number[][] = runs.map(() => []);
    if (o.warmupSeconds > 0) {
      const warmSlices = sliceCount(o.warmupSeconds, o.sliceSeconds);
      for (const k of sliceOrder(warmSlices, runs.length)) {
        const run = runs[k]!;
        const warm = await withCpu(run, () => run.loop.run({ rampMs: 0, measureMs: (o.warmupSeconds * 1000) / warmSlices }));
        for (const l of warm.latenciesMs) warmLatenciesMs[k]!.push(l);
        run.errors += warm.errors;
        run.firstError ??= warm.firstError;
      }
    }
    runs.forEach((run, k) => (run.rampMs = rampMs(warmLatenciesMs[k]!)));
    const slices = sliceCount(o.seconds, o.sliceSeconds);
    const measureMs = (o.seconds * 1000) / slices;
    for (const k of sliceOrder(slices, runs.length)) {
      const run = runs[k]!;
      const left = o.opsMax === undefined ? undefined : o.opsMax - run.ops;
      if (left !== undefined && left <= 0) continue;
      addSlice(run, await withCpu(run, () => run.loop.run({ rampMs: run.rampMs, measureMs, ...(left !== undefined ? { opsMax: left } : {}) })));
    }
    const results: Array<{ level: LevelResult; ackedIds: string[] }> = [];
    for (const run of runs) {
      const { ordered, duplicates } = await run.finish();
      const sorted = run.latenciesMs.sort((x, y) => x - y);
      results.push({
        level: {
          concurrency: c,
          ops: run.ops,
          errors: run.errors,
          firstError: run.firstError,
          durationMs: Math.round(run.measuredMs),
          opsPerSecond: (run.ops * 1000) / Math.max(1, run.measuredMs),
          latencyMs: {
            p50: percentile(sorted, 50),
            p90: percentile(sorted, 90),
            p99: percentile(sorted, 99),
            max: sorted[sorted.length - 1] ?? Number.NaN,
            mean: meanOf(sorted),
          },
          submitted: run.loop.submitted,
          ordered,
          duplicates,
          ...cpuPerPayload(run.cpu, run.leaderIndex, ordered),
        },
        ackedIds: run.loop.ackedIds,
      });
    }
    return results;
  } finally {
    for (const run of runs) run.loop.close();
  }
}

export async function runOrderingBench(options: OrderingBenchOptions): Promise<OrderingBenchReport> {
  const progress = options.progress ?? (() => undefined);
  const payloadBytes = options.payloadBytes ?? ORDERING_PAYLOAD_BYTES;
  if (payloadBytes < PAYLOAD_ID_BYTES) throw new RangeError(`payloads of at least ${PAYLOAD_ID_BYTES} bytes`);
  const sliceSeconds = options.sliceSeconds ?? ORDERING_SLICE_SECONDS_DEFAULT;
  if (!(sliceSeconds > 0)) throw new RangeError('sliceSeconds must be positive');
  const notes: string[] = [];
  const startedAt = new Date().toISOString();
  const against = options.against ?? null;
  const etcd = options.noEtcd || against ? null : findEtcd(options.etcdBinary);
  if (!etcd && !options.noEtcd && !against)
    notes.push('etcd is not installed (no `etcd` binary on PATH; Debian: apt-get install etcd-server): MedLedger measured alone');
  const dir = mkdtempSync(join(tmpdir(), 'medledger-bench-ordering-'));
  const runTag = randomBytes(4);
  const keepIds = options.keepIds ?? false;
  const drive = options.drive ?? 'immediate';
  const eagerCut = options.eagerCut ?? 1;
  const timelineDir = options.timelineDir;
  if (timelineDir !== undefined && (options.concurrency.length !== 1 || options.concurrency[0] !== 1))
    throw new RangeError('a timeline cuts rounds into stages at one payload in flight only (concurrency 1)');
  const rounds = timelineDir !== undefined ? new PairLog(TIMELINE_ROUNDS_MAX) : undefined;
  const stops: Array<() => Promise<void>> = [];
  let report: OrderingBenchReport;
  try {
    // Both systems run side by side for the whole benchmark; each stands idle while the other is measured.
    progress('starting 3 MedLedger Raft orderer processes …');
    const clusterOptions = { drive, eagerCut, syncCommitIndex: options.syncCommit === true, tickMs: options.tickMs ?? 100 };
    const ml = await startMedLedgerCluster(join(dir, 'medledger'), { ...clusterOptions, ...(timelineDir !== undefined ? { timelineDir } : {}) });
    stops.push(ml.stop);
    const contenders: Contender[] = [medledgerContender('medledger', ml)];
    let versionsOk = true;
    let mlb: MedLedgerCluster | null = null;
    if (against) {
      progress(`starting 3 MedLedger Raft orderer processes of ${against.dir}${against.commit ? ` (${against.commit})` : ''} …`);
      mlb = await startMedLedgerCluster(join(dir, 'against'), { ...clusterOptions, entry: against.entry });
      stops.push(mlb.stop);
      contenders.push(medledgerContender('against', mlb));
    } else if (etcd) {
      progress(`starting 3 etcd ${etcd.version} members …`);
      const consortium = await createConsortium({ orgs: ['Etcd1', 'Etcd2', 'Etcd3'] });
      const tls: EtcdTls[] = ['Etcd1', 'Etcd2', 'Etcd3'].map((org) => ({
        certChainPem: `${consortium.nodes.get(org)!.certPem.trim()}\n${consortium.orgCas.get(org)!.certPem.trim()}\n`,
        keyPem: consortium.nodes.get(org)!.keyPem,
        caPem: consortium.root.certPem,
      }));
      const cluster = await startEtcdCluster({ binary: etcd.binary, version: etcd.version, dir: join(dir, 'etcd'), tls });
      stops.push(cluster.stop);
      contenders.push({
        system: 'etcd',
        unit: 'puts/s',
        pids: cluster.pids,
        urls: cluster.clientUrls,
        submit: etcdSubmit,
        leaderUrl: cluster.leaderUrl,
        // Every key is put once: the keys of this level, and each key's version (1 = put once).
        beginLevel: async (url, c) => async () => {
          const prefix = Buffer.concat([
            Buffer.from('bench/'),
            Buffer.from(Buffer.concat([runTag, Buffer.from([c >>> 24, (c >>> 16) & 255, (c >>> 8) & 255, c & 255])]).toString('hex')),
          ]);
          const s = http2.connect(url);
          s.on('error', () => undefined);
          try {
            const range = await etcdRange(s, prefix, !keepIds);
            const duplicates = range.versions.filter((v) => v !== 1).length;
            if (duplicates > 0) versionsOk = false;
            return { ordered: keepIds ? range.versions.length : range.count, duplicates };
          } finally {
            s.close();
          }
        },
      });
    }
    const levels = new Map<Contender['system'], LevelResult[]>(contenders.map((x) => [x.system, []]));
    const acked = new Map<Contender['system'], string[]>(contenders.map((x) => [x.system, []]));
    const load = {
      seconds: options.seconds,
      warmupSeconds: options.warmupSeconds,
      sliceSeconds,
      payloadBytes,
      runTag,
      keepIds,
      ...(options.opsMax !== undefined ? { opsMax: options.opsMax } : {}),
      ...(rounds ? { rounds } : {}),
    };
    for (const c of options.concurrency) {
      const quiet = await waitQuiet(contenders.flatMap((x) => x.pids));
      if (quiet.settled === false)
        notes.push(
          `before ${c} in flight the servers were not quiet after ${(quiet.waitedMs / 1000).toFixed(1)} s (CPU per payload may include their start-up)`,
        );
      const results = await runLevel(contenders, c, load);
      results.forEach((r, i) => {
        const x = contenders[i]!;
        levels.get(x.system)!.push(r.level);
        acked.get(x.system)!.push(...r.ackedIds);
        progress(`${x.system} ${c} in flight: ${r.level.opsPerSecond.toFixed(0)} ${x.unit}, p50 ${r.level.latencyMs.p50.toFixed(2)} ms`);
      });
    }
    const url = await ml.leaderUrl();
    const walFsyncs = (await getJson<NodeStatus>(url, '/status')).walFsyncs;
    let receivePauses = 0;
    let unchecked = 0;
    for (const u of ml.urls) {
      const status = await getJson<NodeStatus>(u, '/status');
      receivePauses += status.receivePauses;
      unchecked = Math.max(unchecked, status.duplicatesUnchecked ?? 0);
    }
    if (unchecked > 0) notes.push(`MedLedger: ${unchecked} payloads ordered could not be checked for duplicates (ids beyond what an orderer tracks)`);
    const mlOrderedIds = keepIds ? (await getJson<{ ids: string[] }>(url, '/ordered')).ids : undefined;
    const mlDescription = `3 Raft orderer processes (consensus/raft + node/wal.ts fsync per Ready + mTLS WebSocket transport), driver ${drive}, eagerCutUncommittedMax ${eagerCut}, syncCommitIndex ${options.syncCommit === true}; client: HTTP/2 POST /submit to the leader`;
    const medledger: SystemResult = {
      system: 'medledger',
      description: mlDescription,
      levels: levels.get('medledger')!,
      walFsyncs,
      receivePauses,
      ...(keepIds ? { ackedIds: acked.get('medledger')!, orderedIds: mlOrderedIds ?? [] } : {}),
    };
    let againstResult: SystemResult | null = null;
    if (against && mlb) {
      const bUrl = await mlb.leaderUrl();
      againstResult = {
        system: 'against',
        description: `the orderer of ${against.dir}${against.commit ? ` at ${against.commit}` : ''}, run the same way: ${mlDescription}`,
        levels: levels.get('against')!,
        ...(keepIds ? { ackedIds: acked.get('against')!, orderedIds: (await getJson<{ ids: string[] }>(bUrl, '/ordered')).ids } : {}),
      };
    }
    const etcdResult: SystemResult | null = etcd
      ? {
          system: 'etcd',
          description: `etcd ${etcd.version}, 3 members on loopback, fsync on (default), peer mTLS; client: gRPC KV/Put over HTTP/2 to the leader (hand-encoded protobuf)`,
          levels: levels.get('etcd')!,
          ...(keepIds ? { ackedIds: acked.get('etcd')! } : {}),
        }
      : null;
    if (!versionsOk) notes.push('etcd: some keys were put more than once (version > 1)');
    report = {
      benchmark: 'ordering',
      startedAt,
      payloadBytes,
      secondsPerLevel: options.seconds,
      warmupSecondsPerLevel: options.warmupSeconds,
      slicesPerLevel: sliceCount(options.seconds, sliceSeconds),
      machine: {
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: availableParallelism(),
        node: process.version,
        loadAverage1m: loadavg()[0] ?? 0,
        etcd: etcd?.version ?? null,
      },
      medledger,
      etcd: etcdResult,
      against: againstResult,
      notes,
    };
  } finally {
    for (const stop of stops.reverse()) await stop();
    rmSync(dir, { recursive: true, force: true });
  }
  // The orderers wrote their timelines as they exited (stop above).
  if (timelineDir === undefined || !rounds) return report;
  return { ...report, timeline: { dir: timelineDir, rounds: rounds.size, bands: stageBands(roundStages(rounds.toArray(), readTimelines(timelineDir))) } };
}

/** The orderers' timelines in `dir` (bench/timeline.ts). */
function readTimelines(dir: string): ProcessTimeline[] {
  return readdirSync(dir)
    .filter((f) => /^orderer-.+\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ProcessTimeline);
}

// ------------------------------------------------------------------ the table

function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

/** Rows as lines: the first column left-aligned, the others right-aligned, two spaces apart. */
function alignColumns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  return rows.map((row) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
}

export function renderOrderingReport(r: OrderingBenchReport): string {
  const lines: string[] = [];
  // The second system: etcd, or another checkout's orderer ("B").
  const other = r.against ?? r.etcd;
  const name = r.against ? 'B' : 'etcd';
  const turns = other ? `, the systems in turns (MedLedger, ${name}, ${name}, MedLedger, …)` : '';
  lines.push(
    `ordering service: ${r.payloadBytes}-byte payloads, closed loop; per level and system ${r.warmupSecondsPerLevel} s warm-up, then ${r.secondsPerLevel} s measured in ${r.slicesPerLevel} slice${r.slicesPerLevel === 1 ? '' : 's'}${turns}`,
  );
  lines.push(`  MedLedger: ${r.medledger.description}`);
  lines.push(`  ${`${name}:`.padEnd(10)} ${other ? other.description : 'not measured'}`);
  lines.push('');
  const header = ['in flight', 'MedLedger ops/s', 'p50 ms', 'p99 ms', 'CPU ms/op', `${name} ops/s`, 'p50 ms', 'p99 ms', 'CPU ms/op', `ML/${name} ops/s`];
  const rows: string[][] = [header];
  r.medledger.levels.forEach((m, i) => {
    const e = other?.levels[i];
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
  lines.push(...alignColumns(rows));
  lines.push(
    "CPU ms/op: CPU time of the 3 server processes (user + system) while that system ran — warm-up and ramps included, not its idle time in the other's slices — per payload ordered",
  );
  lines.push('');
  // The same CPU by process: where a system's CPU per payload goes (leader or followers, user code or kernel).
  const byRole = (l: LevelResult | undefined, role: 'leader' | 'follower'): string => {
    const cpu = l?.serverCpuByRole?.[role];
    return cpu ? `${fmt(cpu.userMs, 3)} + ${fmt(cpu.systemMs, 3)}` : '–';
  };
  const roleRows: string[][] = [['in flight', 'MedLedger leader', 'follower', `${name} leader`, 'follower']];
  r.medledger.levels.forEach((m, i) => {
    const e = other?.levels[i];
    roleRows.push([String(m.concurrency), byRole(m, 'leader'), byRole(m, 'follower'), byRole(e, 'leader'), byRole(e, 'follower')]);
  });
  lines.push(...alignColumns(roleRows));
  lines.push('CPU ms/op by process, user + system: the leader (the process the clients sent to) and a follower (the mean of the other two)');
  lines.push('');
  const check = (s: SystemResult): string =>
    s.levels
      .map((l) => `${l.concurrency}: ${l.ordered}/${l.submitted} ordered, ${l.duplicates} dup${l.errors ? `, ${l.errors} errors (${l.firstError})` : ''}`)
      .join('; ');
  lines.push(`exactly once — MedLedger ${check(r.medledger)}`);
  if (other) lines.push(`exactly once — ${name.padEnd(9)} ${check(other)}`);
  if (r.medledger.receivePauses)
    lines.push(`receive budget: an orderer paused reading a peer ${r.medledger.receivePauses} times (over its frames or bytes per second, decision 1397)`);
  lines.push(
    `machine: ${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}, etcd ${r.machine.etcd ?? 'not installed'}, load average ${r.machine.loadAverage1m.toFixed(2)} at the end`,
  );
  for (const n of r.notes) lines.push(`note: ${n}`);
  if (r.timeline) {
    lines.push('');
    lines.push(`where a MedLedger round's time goes (${r.timeline.rounds} measured rounds at one in flight; timelines in ${r.timeline.dir}):`);
    lines.push(renderStageBands(r.timeline.bands));
  }
  return lines.join('\n');
}
