// `medledger bench`: drive real nodes through their REST gateways and report committed tx/s and
// latency, beside the signature ceiling measured in the same run on the same machine: how many
// transactions per second this machine could carry if ECDSA signing and verifying were the only
// work, for this topology (see signatureWorkPerTx for the count, docs/benchmarks.md for results).
//
// Without --dir it starts the consortium inside this process (initConsortium, one MedLedgerNode
// and one API server per organisation, real mTLS and disks), so nodes and clients share one
// thread: the comparable ceiling is the single-thread one. With --dir it drives a running
// consortium (medledger up) and only the clients run here.
import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import { cryptoCounters, generateKeyPair, sign, verifyUncached } from '../../crypto/index.ts';
import { evaluatePolicy, parsePolicy } from '../../identity/index.ts';
import { startLocalConsortium, type LocalConsortium } from '../../api/local.ts';
import { ENGINE_NAMES } from '../../node/config.ts';
import { ORGS_MAX, type EngineName } from '../../node/init.ts';
import { consortiumEndpoints, MedLedgerApiError, MedLedgerClient, readConsortiumConfig, userCredentials, type PreparedTx } from '../../sdk/index.ts';
import { ENDORSE_BATCH_MAX, SUBMIT_BATCH_MAX, type TxResultT } from '../../protocol/schemas.ts';
import { CliError, makeOutput, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';

export const BENCH_CONTRACT = 'assets';
/** assets.create(id, owner, value): id and owner at most 64 characters each, value one digit here. */
export const BENCH_SIZE_MIN = 32;
export const BENCH_SIZE_MAX = 129;

export interface SignatureStep {
  readonly step: string;
  readonly signs: number;
  readonly verifies: number;
}

export interface SignatureWork {
  readonly signs: number;
  readonly verifies: number;
  readonly steps: readonly SignatureStep[];
}

/**
 * ECDSA operations one transaction costs end to end, through the REST gateway, for `orgs`
 * nodes (each peer + orderer in one process), `endorsers` endorsing organisations, `txPerBlock`
 * transactions per block and `batch` transactions prepared together (the mean size of the endorse
 * batches sent; 1 without batches). Each process verifies a signature once (the verified-signature
 * memo, decision 1301), and a batch's proposals, transactions and each endorser's endorsements
 * carry one signature (decision 1384). Certificate-chain checks are not counted: the MSP caches
 * them per certificate.
 */
export function signatureWorkPerTx(o: { orgs: number; endorsers: number; txPerBlock: number; batch?: number }): SignatureWork {
  const b = o.batch ?? 1;
  if (!(o.orgs >= 1 && o.endorsers >= 1 && o.endorsers <= o.orgs && o.txPerBlock > 0 && b >= 1)) {
    throw new RangeError('need orgs >= endorsers >= 1, txPerBlock > 0 and batch >= 1');
  }
  const n = o.orgs;
  const m = o.endorsers;
  const steps: SignatureStep[] = [
    { step: 'client signs its proposal and its transaction (one signature each per batch)', signs: 2 / b, verifies: 0 },
    { step: 'each endorser checks the proposal signature and signs its endorsement (once per batch)', signs: m / b, verifies: m / b },
    { step: 'every node checks the creator signature once (gateway, orderer admission and validation share the memo)', signs: 0, verifies: n / b },
    { step: 'every node checks each endorsement it did not make, once (gateway and validation share the memo)', signs: 0, verifies: (m * (n - 1)) / b },
    {
      step: 'per block: each orderer signs its header, the leader signs the consensus certificate; each peer checks the header signature (÷ txs per block)',
      signs: (n + 1) / o.txPerBlock,
      verifies: n / o.txPerBlock,
    },
  ];
  return { signs: steps.reduce((s, x) => s + x.signs, 0), verifies: steps.reduce((s, x) => s + x.verifies, 0), steps };
}

/**
 * The minimal protocol (the reference the issue sets): the client signs its proposal and its
 * transaction, each of `endorsers` endorsers checks the proposal and signs its endorsement, the
 * ordering service checks the transaction once, and each of the `orgs` peers checks the creator's
 * signature and every endorsement. No request signatures, nothing verified twice in a process.
 */
export function minimalSignatureWork(o: { orgs: number; endorsers: number }): { signs: number; verifies: number } {
  if (!(o.orgs >= 1 && o.endorsers >= 1 && o.endorsers <= o.orgs)) throw new RangeError('need orgs >= endorsers >= 1');
  return { signs: 2 + o.endorsers, verifies: o.endorsers + 1 + o.orgs * (1 + o.endorsers) };
}

/** What the bench reads from a node's /metrics before and after the load. */
export interface NodeCounters {
  readonly cpuSeconds: number;
  readonly signs: number;
  readonly verifies: number;
  readonly verifyCacheHits: number;
}

/** Sum of every sample of `name` (all label sets) in Prometheus text; NaN when absent. */
export function metricValue(text: string, name: string): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const v = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(v)) {
      sum += v;
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

export function nodeCountersFrom(text: string): NodeCounters {
  return {
    cpuSeconds: metricValue(text, 'medledger_process_cpu_seconds_total'),
    signs: metricValue(text, 'medledger_crypto_signs_total'),
    verifies: metricValue(text, 'medledger_crypto_verifies_total'),
    verifyCacheHits: metricValue(text, 'medledger_crypto_verify_cache_hits_total'),
  };
}

function processCounters(): NodeCounters {
  const u = process.cpuUsage();
  const c = cryptoCounters();
  return { cpuSeconds: (u.user + u.system) / 1e6, signs: c.signs, verifies: c.verifies, verifyCacheHits: c.verifyCacheHits };
}

function counterDelta(a: NodeCounters, b: NodeCounters): NodeCounters {
  return {
    cpuSeconds: b.cpuSeconds - a.cpuSeconds,
    signs: b.signs - a.signs,
    verifies: b.verifies - a.verifies,
    verifyCacheHits: b.verifyCacheHits - a.verifyCacheHits,
  };
}

export interface ProcessCost {
  /** The node's API URL, or 'client' (this process), or 'all (one process)' in-process mode. */
  readonly process: string;
  readonly cpuSeconds: number;
  readonly cpuMsPerTx: number;
  readonly signsPerTx: number;
  readonly verifiesPerTx: number;
  readonly verifyCacheHitsPerTx: number;
}

function costOf(name: string, d: NodeCounters, txs: number): ProcessCost {
  const per = (x: number): number => x / Math.max(1, txs);
  return {
    process: name,
    cpuSeconds: d.cpuSeconds,
    cpuMsPerTx: per(1000 * d.cpuSeconds),
    signsPerTx: per(d.signs),
    verifiesPerTx: per(d.verifies),
    verifyCacheHitsPerTx: per(d.verifyCacheHits),
  };
}

export interface EcdsaRates {
  /** Per second of wall-clock time on this thread. */
  readonly signsPerSecond: number;
  readonly verifiesPerSecond: number;
  /** Per second of CPU time of this process: unaffected by other processes sharing the machine. */
  readonly signsPerCpuSecond: number;
  readonly verifiesPerCpuSecond: number;
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

/** ECDSA P-256 signs and verifies per second on this thread, each measured for about `durationMs`. */
export function measureEcdsa(durationMs: number): EcdsaRates {
  const { privateKey, publicKey } = generateKeyPair();
  const message = new Uint8Array(randomBytes(256));
  const rate = (op: () => void): { wall: number; cpu: number } => {
    for (let i = 0; i < 50; i++) op(); // warm-up
    let count = 0;
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    let elapsed = 0;
    while (elapsed < durationMs) {
      for (let i = 0; i < 50; i++) op();
      count += 50;
      elapsed = performance.now() - start;
    }
    return { wall: (count * 1000) / elapsed, cpu: count / Math.max(1e-6, cpuSecondsSince(cpu0)) };
  };
  const signature = sign(privateKey, message);
  const s = rate(() => sign(privateKey, message));
  // Uncached: the process memo of verified signatures would answer every repeat (decision 1301).
  const v = rate(() => {
    if (!verifyUncached(publicKey, message, signature)) throw new Error('ECDSA self-check failed');
  });
  return { signsPerSecond: s.wall, verifiesPerSecond: v.wall, signsPerCpuSecond: s.cpu, verifiesPerCpuSecond: v.cpu };
}

export function percentile(sortedAscending: readonly number[], p: number): number {
  if (sortedAscending.length === 0) return Number.NaN;
  const i = Math.min(sortedAscending.length - 1, Math.max(0, Math.ceil((p / 100) * sortedAscending.length) - 1));
  return sortedAscending[i]!;
}

/** Arguments of exactly `size` bytes: a unique id, an owner padding the rest, value "1". */
export function benchArgs(runId: string, i: number, size: number): [string, string, string] {
  const rest = size - 1;
  const idLength = Math.min(64, Math.ceil(rest / 2));
  const base = `${runId}-${i}-`;
  if (base.length > idLength) throw new RangeError(`--size ${size} leaves no room for a unique id`);
  return [base.padEnd(idLength, 'x'), 'o'.repeat(rest - idLength), '1'];
}

export interface BenchReport {
  readonly command: string;
  readonly mode: 'in-process' | 'running consortium';
  readonly orgs: number;
  readonly consensus: string;
  readonly endorsersPerTx: number;
  readonly txRequested: number;
  readonly sizeBytes: number;
  readonly clients: number;
  /** Envelopes per submit request (1: POST /v1/submit each; more: POST /v1/submit/batch, statuses streamed). */
  readonly batch: number;
  /** How the clients reach the nodes: one HTTP/2 session per node (default) or an HTTP/1.1 keep-alive pool. */
  readonly protocol: 'h2' | 'http1';
  /** With batch > 1: proposals endorsed in batches too (POST /v1/endorse/batch), not one request each. */
  readonly batchEndorse: boolean;
  /** How the batch requests' bodies travel: DAG-CBOR (default, decision 1320) or JSON with base64. */
  readonly batchBodies: 'cbor' | 'json';
  /** The machine's 1-minute load average before and after the load (os.loadavg; 0 where unsupported). */
  readonly loadAverage: { readonly before: number; readonly after: number };
  readonly committedValid: number;
  readonly committedInvalid: Record<string, number>;
  readonly failed: Record<string, number>;
  /** The first message of each failure code (what the client was told). */
  readonly failedExamples: Record<string, string>;
  readonly durationMs: number;
  readonly committedTxPerSecond: number;
  /** CPU time this process used during the load (in-process mode: nodes, gateways and clients). */
  readonly cpuSeconds: number;
  readonly committedTxPerCpuSecond: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly blocks: number;
  readonly txPerBlock: number;
  readonly policy: string;
  /**
   * Counted in the same run: CPU and ECDSA operations per committed transaction of every node
   * process (from its /metrics) and of this client process. In-process mode: one entry for all.
   */
  readonly costs: {
    readonly nodes: readonly ProcessCost[];
    readonly client: ProcessCost | null;
    /** Signs and verifies of every process together, per committed transaction. */
    readonly signsPerTx: number;
    readonly verifiesPerTx: number;
    readonly verifyCacheHitsPerTx: number;
  };
  /** The minimal protocol's signature work (minimalSignatureWork) at the rates measured now. */
  readonly minimalCeiling: {
    readonly signsPerTx: number;
    readonly verifiesPerTx: number;
    readonly txPerSecondAllCores: number;
    readonly txPerCpuSecond: number;
  };
  readonly signatureCeiling: {
    readonly signsPerSecond: number;
    readonly verifiesPerSecond: number;
    readonly signsPerCpuSecond: number;
    readonly verifiesPerCpuSecond: number;
    readonly signsPerTx: number;
    readonly verifiesPerTx: number;
    readonly txPerSecondOneThread: number;
    readonly cores: number;
    readonly txPerSecondAllCores: number;
    /** The same ceiling per CPU-second (compare with committedTxPerCpuSecond on a shared machine). */
    readonly txPerCpuSecond: number;
    /** Transactions per signature batch in this run (the mean endorse batch; 1 without batches). */
    readonly batchMean: number;
    readonly steps: readonly SignatureStep[];
  };
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string };
}

interface BenchFlags {
  orgs: string;
  consensus: string;
  tx: string;
  size: string;
  clients: string;
  dir?: string;
  assetsPolicy: string;
  batch: string;
  http1?: boolean;
  jsonBodies?: boolean;
  batchEndorse: boolean;
  user: string;
  ecdsaMs: string;
  json?: boolean;
}

function human(r: BenchReport): string {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 1) : '-');
  const c = r.signatureCeiling;
  const lines = [
    `medledger bench: ${r.orgs} orgs, ${r.consensus}, ${r.txRequested} tx of ${r.sizeBytes} B arguments, ${r.clients} clients${r.batch > 1 ? `, ${r.batchEndorse ? 'endorse and ' : ''}submit batches of up to ${r.batch} (${r.batchBodies === 'cbor' ? 'DAG-CBOR' : 'JSON'} bodies)` : ''}, ${r.protocol === 'h2' ? 'HTTP/2' : 'HTTP/1.1'} (${r.mode}; load average ${r.loadAverage.before.toFixed(1)} → ${r.loadAverage.after.toFixed(1)})`,
    `  committed      ${r.committedValid} VALID in ${(r.durationMs / 1000).toFixed(1)} s → ${f(r.committedTxPerSecond)} tx/s`,
    `  latency        p50 ${f(r.latencyMs.p50)} ms, p99 ${f(r.latencyMs.p99)} ms, max ${f(r.latencyMs.max)} ms (endorse + submit + commit)`,
    `  blocks         ${r.blocks} (${f(r.txPerBlock)} tx per block)`,
  ];
  const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
  for (const n of r.costs.nodes)
    lines.push(
      `  node CPU       ${n.process}: ${ms(n.cpuMsPerTx)} ms/tx (${n.cpuSeconds.toFixed(1)} CPU-s), ${ms(n.signsPerTx)} signs + ${ms(n.verifiesPerTx)} verifies/tx (${ms(n.verifyCacheHitsPerTx)} memo hits)`,
    );
  if (r.costs.client)
    lines.push(
      `  client CPU     ${ms(r.costs.client.cpuMsPerTx)} ms/tx (${r.costs.client.cpuSeconds.toFixed(1)} CPU-s), ${ms(r.costs.client.signsPerTx)} signs + ${ms(r.costs.client.verifiesPerTx)} verifies/tx`,
    );
  lines.push(
    `  counted        ${ms(r.costs.signsPerTx)} signs + ${ms(r.costs.verifiesPerTx)} verifies per tx, all processes (policy ${r.policy}, ${r.endorsersPerTx} endorser(s))`,
    `  minimal ceiling ${ms(r.minimalCeiling.signsPerTx)} signs + ${ms(r.minimalCeiling.verifiesPerTx)} verifies/tx → ${f(r.minimalCeiling.txPerSecondAllCores)} tx/s on all cores at the rates measured now (${f(r.minimalCeiling.txPerCpuSecond)} tx per CPU-second)`,
  );
  const invalid = Object.entries(r.committedInvalid);
  if (invalid.length) lines.push(`  invalid        ${invalid.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const failed = Object.entries(r.failed);
  if (failed.length) lines.push(`  failed         ${failed.map(([k, v]) => `${k} ${v}`).join(', ')}`);
  lines.push(
    `  signature ceiling (measured now): ECDSA P-256 ${f(c.signsPerSecond)} signs/s, ${f(c.verifiesPerSecond)} verifies/s per thread;`,
    `                 one tx costs ${c.signsPerTx.toFixed(2)} signs + ${c.verifiesPerTx.toFixed(2)} verifies (${r.endorsersPerTx} of ${r.orgs} orgs endorse${c.batchMean > 1 ? `, signed in batches of ${c.batchMean.toFixed(1)} on average` : ''})`,
    `                 → ${f(c.txPerSecondOneThread)} tx/s on one thread, ${f(c.txPerSecondAllCores)} tx/s on all ${c.cores} cores`,
    `  achieved / one-thread ceiling: ${((100 * r.committedTxPerSecond) / c.txPerSecondOneThread).toFixed(1)} %`,
    `  per CPU-second (robust on a shared machine): ${f(r.committedTxPerCpuSecond)} tx committed vs a ceiling of ${f(c.txPerCpuSecond)} (${((100 * r.committedTxPerCpuSecond) / c.txPerCpuSecond).toFixed(1)} %; ${r.cpuSeconds.toFixed(1)} CPU-s used${r.mode === 'running consortium' ? ' by the clients only' : ''})`,
  );
  return lines.join('\n');
}

/**
 * Collects the items of concurrent workers into batch requests: a batch leaves when it is full or,
 * at the latest, on the next turn of the event loop (no added wait). `send` settles each item by
 * its index, as soon as its result is known.
 */
class Batcher<T, R> {
  private queue: Array<{ item: T; resolve: (r: R) => void; reject: (err: unknown) => void }> = [];
  private scheduled = false;
  /** Requests sent and the items in them (the mean batch size feeds the signature model). */
  batches = 0;
  items = 0;

  constructor(
    private readonly max: number,
    private readonly send: (items: readonly T[], settle: (index: number, result: R | Error) => void) => Promise<void>,
  ) {}

  add(item: T): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.max) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const items = this.queue.splice(0, this.max);
    this.batches += 1;
    this.items += items.length;
    if (this.queue.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
    this.send(
      items.map((x) => x.item),
      (i, r) => (r instanceof Error ? items[i]!.reject(r) : items[i]!.resolve(r)),
    ).catch((err: unknown) => items.forEach((x) => x.reject(err)));
  }
}

/** Envelopes into POST /v1/submit/batch, statuses streamed (decision 1311): each worker goes on as soon as its own transaction commits. */
function submitBatcher(client: MedLedgerClient, max: number): Batcher<PreparedTx, { code: string | null }> {
  return new Batcher(max, async (prepared, settle) => {
    // The txIds are known from prepare(): the client need not decode each envelope to learn them.
    await client.submitBatch(
      prepared.map((p) => p.envelope),
      {
        txIds: prepared.map((p) => p.txId),
        waitMs: 60_000,
        onResult: (i, r: TxResultT) => settle(i, 'error' in r ? new MedLedgerApiError(0, r.error.code, r.error.message, r.txId) : r),
      },
    );
  });
}

/** Proposals into POST /v1/endorse/batch (decision 1312); each comes back checked and signed. */
function endorseBatcher(client: MedLedgerClient, max: number): Batcher<readonly string[], PreparedTx> {
  return new Batcher(max, async (argsList, settle) => {
    const prepared = await client.prepareBatch(argsList.map((args) => ({ contract: BENCH_CONTRACT, fn: 'create', args })));
    prepared.forEach((p, i) => settle(i, p));
  });
}

function increment(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

export function register(program: Command, _ctx: CommandContext): void {
  program
    .command('bench')
    .description(
      'Drive real nodes through the REST gateway: committed tx/s, latency p50/p99, and the signature ceiling of this machine. ' +
        '`medledger bench --ordering` measures the ordering service alone against etcd (see its --help)',
    )
    .option('--orgs <n>', 'hospitals (in-process mode)', '3')
    .option('--consensus <engine>', `${ENGINE_NAMES.join('|')} (in-process mode)`, 'raft')
    .option('--tx <n>', 'transactions to submit', '20000')
    .option('--size <bytes>', `bytes of arguments per transaction (${BENCH_SIZE_MIN}..${BENCH_SIZE_MAX}; assets.create)`, '100')
    .option('--clients <n>', 'concurrent clients (each waits for its commit before the next)', '64')
    .option('--dir <dir>', 'drive this running consortium (medledger up) instead of starting one')
    .option('--assets-policy <policy>', 'endorsement policy of the assets contract (in-process mode): majority, any, or an expression', 'majority')
    .option('--batch <n>', 'submit envelopes in batches of up to n per request (POST /v1/submit/batch); 1: one /v1/submit each', '1')
    .option('--no-batch-endorse', 'with --batch: endorse one proposal per request (POST /v1/endorse) instead of in batches (POST /v1/endorse/batch)')
    .option('--json-bodies', 'with --batch: send the batch requests as JSON with base64 (as before decision 1320) instead of DAG-CBOR')
    .option('--http1', 'reach the nodes over an HTTP/1.1 keep-alive pool instead of one HTTP/2 session per node')
    .option('--user <name>', 'demo user of each organisation that submits', 'doctor1')
    .option('--ecdsa-ms <ms>', 'how long to measure each of ECDSA sign and verify', '1000')
    .option('--json', 'print the report as JSON')
    .action(async (flags: BenchFlags) => {
      const out = makeOutput(flags.json ?? false);
      const txCount = parsePositiveInt('tx', flags.tx, 10_000_000);
      const size = parsePositiveInt('size', flags.size, BENCH_SIZE_MAX);
      if (size < BENCH_SIZE_MIN)
        throw new CliError(
          `--size must be between ${BENCH_SIZE_MIN} and ${BENCH_SIZE_MAX} (assets.create(id, owner, value) holds at most ${BENCH_SIZE_MAX} bytes), got ${size}`,
          2,
        );
      const clients = parsePositiveInt('clients', flags.clients, 4096);
      const ecdsaMs = parsePositiveInt('ecdsa-ms', flags.ecdsaMs, 60_000);
      const batch = parsePositiveInt('batch', flags.batch, SUBMIT_BATCH_MAX);
      const batchEndorse = batch > 1 && flags.batchEndorse;
      let local: LocalConsortium | null = null;
      let dir: string;
      if (flags.dir) {
        dir = resolve(flags.dir);
        if (!existsSync(dir)) throw new CliError(`--dir ${flags.dir}: no such directory`, 2);
      } else {
        const orgs = parsePositiveInt('orgs', flags.orgs, ORGS_MAX);
        if (!(ENGINE_NAMES as readonly string[]).includes(flags.consensus))
          throw new CliError(`--consensus must be one of ${ENGINE_NAMES.join(', ')}, got "${flags.consensus}"`, 2);
        // Node logs would interleave with the report (and break --json).
        process.env.MEDLEDGER_LOG_LEVEL ??= flags.json ? 'silent' : 'warn';
        out.info(`starting ${orgs} nodes (${flags.consensus}) in this process …`);
        local = await startLocalConsortium({ orgs, engine: flags.consensus as EngineName, assetsPolicy: flags.assetsPolicy });
        dir = local.dir;
      }
      const openClients: MedLedgerClient[] = [];
      try {
        let config;
        let endpoints;
        try {
          config = readConsortiumConfig(dir);
          endpoints = consortiumEndpoints(dir).filter((n) => n.roles.includes('peer'));
        } catch (err) {
          if (err instanceof MedLedgerApiError) throw new CliError(err.message, 2);
          throw err;
        }
        const orgs = config.orgs.map((o) => o.org);
        const policyText = config.contracts.find((c) => c.name === BENCH_CONTRACT)?.endorsementPolicy;
        if (!policyText) throw new CliError(`the consortium in ${dir} does not define the ${BENCH_CONTRACT} contract`, 1);
        const policy = parsePolicy(policyText);
        let endorsers = orgs.length;
        for (let k = 1; k <= orgs.length; k++) {
          if (
            evaluatePolicy(
              policy,
              orgs.slice(0, k).map((org) => ({ org, role: 'peer' as const })),
            )
          ) {
            endorsers = k;
            break;
          }
        }
        // One client (connection pool) per node, as that organisation's user; nodes that do not
        // answer are left out (and named) rather than failing a share of the transactions.
        const candidates = endpoints.map((n) => {
          let creds;
          try {
            creds = userCredentials(dir, n.org, flags.user);
          } catch (err) {
            throw new CliError((err as Error).message, 2);
          }
          const c = new MedLedgerClient({
            url: n.apiUrl,
            ...creds,
            protocol: flags.http1 ? 'http1' : 'h2',
            batchBodies: flags.jsonBodies ? 'json' : 'cbor',
            socketsMax: Math.ceil(clients / endpoints.length) + 1,
            streamsMax: Math.max(1, Math.ceil(clients / endpoints.length) + 1),
          });
          openClients.push(c);
          return c;
        });
        const answers = await Promise.all(
          candidates.map((c) =>
            c.status().then(
              (s) => s.height,
              (err: unknown) => (err as Error).message,
            ),
          ),
        );
        const perNode = candidates.filter((_, i) => typeof answers[i] === 'number');
        answers.forEach((a, i) => {
          if (typeof a === 'string') out.error(`leaving out ${candidates[i]!.url}: ${a}`);
        });
        if (perNode.length === 0) throw new CliError(`no node of the consortium in ${dir} answers`, 1);
        const heightBefore = answers.find((a): a is number => typeof a === 'number')!;
        // Separate node processes report their own CPU and ECDSA counts on /metrics; in-process,
        // they are this process's (read once).
        const readNodes = async (): Promise<Array<NodeCounters | null>> =>
          local
            ? []
            : Promise.all(
                perNode.map((c) =>
                  c.metricsText().then(
                    (t) => nodeCountersFrom(t),
                    () => null,
                  ),
                ),
              );
        const nodesBefore = await readNodes();
        const processBefore = processCounters();
        const loadBefore = loadavg()[0] ?? 0;

        const runId = randomBytes(3).toString('hex');
        const latencies: number[] = [];
        const invalid: Record<string, number> = {};
        const failed: Record<string, number> = {};
        const failedExamples: Record<string, string> = {};
        let valid = 0;
        let nextIndex = 0;
        let done = 0;
        const bar =
          !flags.json && process.stderr.isTTY
            ? new cliProgress.SingleBar(
                { stream: process.stderr, format: 'bench [{bar}] {value}/{total} tx | {rate} tx/s | {failed} failed', hideCursor: true },
                cliProgress.Presets.shades_classic,
              )
            : null;
        bar?.start(txCount, 0, { rate: '0', failed: 0 });
        const started = performance.now();
        const cpuStart = process.cpuUsage();
        const submitters = perNode.map((c) => submitBatcher(c, batch));
        const endorseBatchers = perNode.map((c) => endorseBatcher(c, Math.min(batch, ENDORSE_BATCH_MAX)));
        const submitOne = async (w: number, i: number): Promise<{ code: string | null }> => {
          const client = perNode[w % perNode.length]!;
          if (batch === 1) return client.submit(BENCH_CONTRACT, 'create', benchArgs(runId, i, size), { waitMs: 60_000 });
          const prepared = batchEndorse
            ? await endorseBatchers[w % perNode.length]!.add(benchArgs(runId, i, size))
            : await client.prepare(BENCH_CONTRACT, 'create', benchArgs(runId, i, size));
          return submitters[w % perNode.length]!.add(prepared);
        };
        const worker = async (w: number): Promise<void> => {
          for (;;) {
            const i = nextIndex++;
            if (i >= txCount) return;
            const t0 = performance.now();
            try {
              const r = await submitOne(w, i);
              if (r.code === 'VALID') {
                valid += 1;
                latencies.push(performance.now() - t0);
              } else increment(invalid, r.code ?? 'UNKNOWN');
            } catch (err) {
              const code = err instanceof MedLedgerApiError ? err.code : (err as Error).name;
              increment(failed, code);
              failedExamples[code] ??= String((err as Error).message).slice(0, 300);
            }
            done += 1;
            bar?.update(done, { rate: (valid / ((performance.now() - started) / 1000)).toFixed(0), failed: Object.values(failed).reduce((a, b) => a + b, 0) });
          }
        };
        await Promise.all(Array.from({ length: Math.min(clients, txCount) }, (_, w) => worker(w)));
        const durationMs = performance.now() - started;
        const cpuSeconds = cpuSecondsSince(cpuStart);
        bar?.stop();
        const heightAfter = (await perNode[0]!.status()).height;
        // Every node has committed the last block before its counters are read (at most 10 s).
        for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
          const hs = await Promise.all(
            perNode.map((c) =>
              c.status().then(
                (s) => s.height,
                () => heightAfter,
              ),
            ),
          );
          if (hs.every((h) => h >= heightAfter)) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const processAfter = processCounters();
        const nodesAfter = await readNodes();
        const blocks = Math.max(1, heightAfter - heightBefore);
        const committed = valid + Object.values(invalid).reduce((a, b) => a + b, 0);
        const txPerBlock = Math.max(1, committed / blocks);

        out.info('measuring ECDSA sign/verify rates …');
        const ecdsa = measureEcdsa(ecdsaMs);
        const endorseBatches = endorseBatchers.reduce((sum, x) => sum + x.batches, 0);
        const meanEndorseBatch = batch > 1 && batchEndorse && endorseBatches > 0 ? endorseBatchers.reduce((sum, x) => sum + x.items, 0) / endorseBatches : 1;
        const work = signatureWorkPerTx({ orgs: orgs.length, endorsers, txPerBlock, batch: meanEndorseBatch });
        const oneThread = 1 / (work.signs / ecdsa.signsPerSecond + work.verifies / ecdsa.verifiesPerSecond);
        const perCpuSecond = 1 / (work.signs / ecdsa.signsPerCpuSecond + work.verifies / ecdsa.verifiesPerCpuSecond);
        const cores = availableParallelism();
        latencies.sort((a, b) => a - b);
        const processDelta = counterDelta(processBefore, processAfter);
        const nodeCosts: ProcessCost[] = local
          ? [costOf('all nodes and clients (one process)', processDelta, valid)]
          : perNode.flatMap((c, i) => {
              const a = nodesBefore[i];
              const b = nodesAfter[i];
              return a && b ? [costOf(c.url, counterDelta(a, b), valid)] : [];
            });
        const clientCost = local ? null : costOf('client', processDelta, valid);
        const every = [...nodeCosts, ...(clientCost ? [clientCost] : [])];
        const minimal = minimalSignatureWork({ orgs: orgs.length, endorsers });
        const minimalOneThread = 1 / (minimal.signs / ecdsa.signsPerSecond + minimal.verifies / ecdsa.verifiesPerSecond);
        const report: BenchReport = {
          command: `medledger bench ${process.argv.slice(process.argv.indexOf('bench') + 1).join(' ')}`.trim(),
          mode: local ? 'in-process' : 'running consortium',
          orgs: orgs.length,
          consensus: config.ordering.engine,
          endorsersPerTx: endorsers,
          txRequested: txCount,
          sizeBytes: size,
          clients,
          batch,
          protocol: flags.http1 ? 'http1' : 'h2',
          batchEndorse,
          batchBodies: flags.jsonBodies ? 'json' : 'cbor',
          loadAverage: { before: loadBefore, after: loadavg()[0] ?? 0 },
          committedValid: valid,
          committedInvalid: invalid,
          failed,
          failedExamples,
          durationMs: Math.round(durationMs),
          committedTxPerSecond: (valid * 1000) / durationMs,
          cpuSeconds,
          committedTxPerCpuSecond: valid / Math.max(1e-6, cpuSeconds),
          latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? Number.NaN },
          blocks,
          txPerBlock,
          policy: policyText,
          costs: {
            nodes: nodeCosts,
            client: clientCost,
            signsPerTx: every.reduce((x, c) => x + c.signsPerTx, 0),
            verifiesPerTx: every.reduce((x, c) => x + c.verifiesPerTx, 0),
            verifyCacheHitsPerTx: every.reduce((x, c) => x + c.verifyCacheHitsPerTx, 0),
          },
          minimalCeiling: {
            signsPerTx: minimal.signs,
            verifiesPerTx: minimal.verifies,
            txPerSecondAllCores: minimalOneThread * cores,
            txPerCpuSecond: 1 / (minimal.signs / ecdsa.signsPerCpuSecond + minimal.verifies / ecdsa.verifiesPerCpuSecond),
          },
          signatureCeiling: {
            signsPerSecond: ecdsa.signsPerSecond,
            verifiesPerSecond: ecdsa.verifiesPerSecond,
            signsPerCpuSecond: ecdsa.signsPerCpuSecond,
            verifiesPerCpuSecond: ecdsa.verifiesPerCpuSecond,
            signsPerTx: work.signs,
            verifiesPerTx: work.verifies,
            txPerSecondOneThread: oneThread,
            cores,
            txPerSecondAllCores: oneThread * cores,
            txPerCpuSecond: perCpuSecond,
            batchMean: meanEndorseBatch,
            steps: work.steps,
          },
          machine: { cpu: cpus()[0]?.model ?? 'unknown', cores, node: process.version },
        };
        out.result(report, () => human(report));
        if (valid === 0) throw new CliError('no transaction committed', 1);
      } finally {
        for (const c of openClients) c.close();
        await local?.stop();
      }
    });
}
