// Smoke test of the ordering benchmark (decision 1350), end to end with tiny op counts: 3 real
// orderer processes (and 3 etcd members when the `etcd` binary exists), 1 and 4 in flight. It
// checks the shape of the report and that every payload acknowledged was ordered exactly once.
// It measures nothing: figures come from `medledger bench --ordering` (docs/benchmarks.md).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeFields, encodePutRequest, encodeRangeRequest, findEtcd, prefixEnd } from './etcd.ts';
import {
  againstCheckout,
  cpuPerPayload,
  meanOf,
  percentile,
  processCpuSeconds,
  renderOrderingReport,
  runOrderingBench,
  sliceCount,
  sliceOrder,
  waitQuiet,
  type LevelResult,
} from './ordering.ts';

const etcd = findEtcd();
const OPS = 40;

function checkLevels(levels: readonly LevelResult[]): void {
  assert.deepEqual(
    levels.map((l) => l.concurrency),
    [1, 4],
  );
  for (const l of levels) {
    assert.equal(l.errors, 0, `no errors at ${l.concurrency} in flight (first: ${l.firstError})`);
    assert.ok(l.ops >= OPS, `${l.ops} measured payloads at ${l.concurrency} in flight`);
    assert.ok(l.opsPerSecond > 0 && l.latencyMs.p50 > 0 && l.latencyMs.p90 >= l.latencyMs.p50 && l.latencyMs.p99 >= l.latencyMs.p90);
    assert.ok(l.latencyMs.mean > 0 && l.latencyMs.mean <= l.latencyMs.max);
    assert.equal(l.ordered, l.submitted, `every payload submitted at ${l.concurrency} in flight was ordered`);
    assert.equal(l.duplicates, 0);
    if (process.platform === 'linux') checkCpuByRole(l);
  }
}

/** The leader's and a follower's CPU per payload add up to the servers' (leader + 2 followers). */
function checkCpuByRole(l: LevelResult): void {
  const total = l.serverCpuMsPerOp;
  const byRole = l.serverCpuByRole;
  assert.ok(total !== null && byRole !== null, `CPU by process measured at ${l.concurrency} in flight`);
  const { leader, follower } = byRole;
  for (const ms of [leader.userMs, leader.systemMs, follower.userMs, follower.systemMs]) assert.ok(Number.isFinite(ms) && ms >= 0);
  const sum = leader.userMs + leader.systemMs + 2 * (follower.userMs + follower.systemMs);
  assert.ok(Math.abs(sum - total) < 1e-9 * Math.max(1, total), `leader + 2 followers (${sum}) = all servers (${total})`);
}

describe('ordering benchmark', () => {
  it('protobuf: PutRequest and RangeRequest encode as etcd expects; fields decode back', () => {
    const put = encodePutRequest(Buffer.from('k'), Buffer.from('vv'));
    assert.equal(put.toString('hex'), '0a016b12027676');
    const range = encodeRangeRequest(Buffer.from('a/'), prefixEnd(Buffer.from('a/')), { countOnly: true });
    assert.equal(range.toString('hex'), '0a02612f1202613048' + '01');
    const fields = decodeFields(Buffer.concat([put, Buffer.from([0x20, 0xac, 0x02])]));
    assert.deepEqual(
      fields.map((f) => [f.no, f.bytes?.toString() ?? f.varint]),
      [
        [1, 'k'],
        [2, 'vv'],
        [4, 300n],
      ],
    );
  });

  it("CPU per payload by process: the leader's is the process the clients sent to, a follower's the mean of the others", () => {
    const cpu = [
      { userSeconds: 1, systemSeconds: 0.5 },
      { userSeconds: 4, systemSeconds: 2 },
      { userSeconds: 3, systemSeconds: 1.5 },
    ];
    assert.deepEqual(cpuPerPayload(cpu, 1, 1000), {
      serverCpuMsPerOp: 12,
      serverCpuByRole: { leader: { userMs: 4, systemMs: 2 }, follower: { userMs: 2, systemMs: 1 } },
    });
    assert.deepEqual(cpuPerPayload(cpu, 0, 500).serverCpuByRole, { leader: { userMs: 2, systemMs: 1 }, follower: { userMs: 7, systemMs: 3.5 } });
    // No leader among the processes, nothing ordered, or /proc not readable: what cannot be said is null.
    assert.deepEqual(cpuPerPayload(cpu, -1, 1000), { serverCpuMsPerOp: 12, serverCpuByRole: null });
    assert.deepEqual(cpuPerPayload(cpu, 1, 0), { serverCpuMsPerOp: null, serverCpuByRole: null });
    assert.deepEqual(cpuPerPayload(null, 1, 1000), { serverCpuMsPerOp: null, serverCpuByRole: null });
  });

  it('latency summary: the mean (what sets the rate of a closed loop at one in flight) beside the percentiles', () => {
    const sorted = [1, 1, 1, 1, 1, 1, 1, 1, 1, 11];
    assert.equal(meanOf(sorted), 2);
    assert.equal(percentile(sorted, 50), 1);
    assert.ok(Number.isNaN(meanOf([])));
  });

  it('slices: the systems take turns, each pair in the other order than the last (A B B A …)', () => {
    assert.deepEqual(sliceOrder(4, 2), [0, 1, 1, 0, 0, 1, 1, 0]);
    assert.deepEqual(sliceOrder(3, 1), [0, 0, 0]);
    assert.equal(sliceCount(5, 1), 5);
    assert.equal(sliceCount(5, 5), 1);
    assert.equal(sliceCount(1, 5), 1, 'at least one slice');
    assert.equal(sliceCount(10, 3), 3);
  });

  it(
    `MedLedger${etcd ? ` and etcd ${etcd.version}` : ''}: 1 and 4 in flight, every acknowledged payload ordered exactly once`,
    { timeout: 180_000 },
    async (t) => {
      if (!etcd) t.diagnostic('etcd is not installed (apt-get install etcd-server): the etcd side is skipped, MedLedger runs alone');
      const report = await runOrderingBench({ concurrency: [1, 4], seconds: 60, warmupSeconds: 0, opsMax: OPS, keepIds: true });
      checkLevels(report.medledger.levels);
      const acked = report.medledger.ackedIds!;
      const ordered = report.medledger.orderedIds!;
      assert.equal(new Set(acked).size, acked.length, 'no payload acknowledged twice');
      assert.equal(new Set(ordered).size, ordered.length, 'no payload ordered twice');
      assert.equal(ordered.length, acked.length, 'the leader ordered exactly the payloads submitted');
      const orderedSet = new Set(ordered);
      assert.ok(
        acked.every((id) => orderedSet.has(id)),
        'every acknowledged payload is in the ordered log',
      );
      assert.ok(report.machine.cores >= 1 && report.machine.node.startsWith('v'));
      if (etcd) {
        assert.ok(report.etcd, 'etcd measured');
        checkLevels(report.etcd.levels);
        assert.equal(report.machine.etcd, etcd.version);
        assert.equal(new Set(report.etcd.ackedIds).size, report.etcd.ackedIds!.length);
      } else {
        assert.equal(report.etcd, null);
        assert.match(report.notes.join('\n'), /etcd is not installed/);
      }
      const table = renderOrderingReport(report);
      assert.match(table, /^in flight +MedLedger ops\/s +p50 ms +p99 ms +CPU ms\/op +etcd ops\/s/m);
      assert.match(table, /^1 +\d+/m);
      assert.match(table, /^4 +\d+/m);
      assert.match(table, /machine: .*cores, node v/);
      assert.match(table, /measured in \d+ slices/);
      assert.match(table, /^in flight +MedLedger leader +follower +etcd leader +follower$/m);
      if (process.platform === 'linux') assert.match(table, /^1 +[\d.]+ \+ [\d.]+ +[\d.]+ \+ [\d.]+ /m);
    },
  );

  it('--against: the orderer of another checkout (here this one) is measured in turns instead of etcd, exactly once too', { timeout: 180_000 }, async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    // A warm-up of two half-second slices each, taken in turns as the measured slices are.
    const report = await runOrderingBench({
      concurrency: [1, 4],
      seconds: 60,
      warmupSeconds: 1,
      sliceSeconds: 0.5,
      opsMax: OPS,
      keepIds: true,
      against: againstCheckout(root),
    });
    assert.equal(report.etcd, null, 'etcd is not started beside another checkout');
    assert.ok(report.against, 'the other checkout measured');
    checkLevels(report.medledger.levels);
    checkLevels(report.against.levels);
    for (const s of [report.medledger, report.against]) {
      for (const l of s.levels)
        assert.ok(l.submitted > l.ops, `${s.system} warmed up at ${l.concurrency} in flight (${l.submitted} submitted, ${l.ops} measured)`);
      assert.equal(new Set(s.ackedIds).size, s.ackedIds!.length, `${s.system}: no payload acknowledged twice`);
      assert.deepEqual([...s.ackedIds!].sort(), [...s.orderedIds!].sort(), `${s.system}: its leader ordered exactly the payloads acknowledged`);
    }
    assert.match(report.against.description, new RegExp(`the orderer of ${root.replace(/\/$/, '')}`));
    const table = renderOrderingReport(report);
    assert.match(table, /^in flight +MedLedger ops\/s +p50 ms +p99 ms +CPU ms\/op +B ops\/s .* ML\/B ops\/s$/m);
    assert.match(table, /^1 +\d+ +[\d.]+ +[\d.]+ +[\d.]+ +\d+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+×$/m);
    assert.match(table, /the systems in turns \(MedLedger, B, B, MedLedger, …\)/);
    assert.match(table, /exactly once — B +1: (\d+)\/\1 ordered, 0 dup/);
  });

  it('an orderer that prints something else where its ports belong fails the run by name, and the run stops its orderers', { timeout: 60_000 }, async () => {
    const saved = process.env['MEDLEDGER_BENCH_NODE_ARGS'];
    // --trace-gc prints V8's collections on stdout, before the orderer prints its ports.
    process.env['MEDLEDGER_BENCH_NODE_ARGS'] = '--trace-gc';
    try {
      await assert.rejects(
        runOrderingBench({ concurrency: [1], seconds: 1, warmupSeconds: 0, opsMax: 10, noEtcd: true }),
        /orderer node\.Ord\d printed ".*Scavenge.*" where its ports were expected/,
      );
    } finally {
      if (saved === undefined) delete process.env['MEDLEDGER_BENCH_NODE_ARGS'];
      else process.env['MEDLEDGER_BENCH_NODE_ARGS'] = saved;
    }
    // Thrown inside the stdout handler (before), the error ended the process with its orderers
    // running; now the run's cleanup (stop the orderers, remove the directory) comes first.
    if (process.platform === 'linux') assert.deepEqual(orderersOf(process.pid), [], 'no orderer process left');
  });

  it('--against: a directory that is no MedLedger checkout, or one without its packages, is refused by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'medledger-against-'));
    try {
      assert.throws(() => againstCheckout(dir), /no MedLedger orderer there \(.*src\/bench\/ordering-node-main\.ts is missing\)/);
      mkdirSync(join(dir, 'src', 'bench'), { recursive: true });
      writeFileSync(join(dir, 'src', 'bench', 'ordering-node-main.ts'), '');
      assert.throws(() => againstCheckout(dir), /its packages are not installed \(run npm ci in /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const here = againstCheckout(fileURLToPath(new URL('../../', import.meta.url)));
    assert.match(here.entry, /src\/bench\/ordering-node-main\.ts$/);
  });

  it('waitQuiet: waits while the processes use CPU, returns once a window is quiet, gives up at its timeout, and cannot measure a process that is gone', async () => {
    // CPU seconds scripted per read: deterministic, whatever the machine's load.
    const scripted = (deltas: readonly (number | null)[]) => {
      let total = 0;
      let reads = 0;
      return {
        read: (): number | null => {
          const d = deltas[Math.min(reads++, deltas.length - 1)]!;
          if (d === null) return null;
          return (total += d);
        },
        reads: () => reads,
      };
    };
    // 10 ms windows, quiet below 1 ms of CPU in one: busy, busy, then quiet.
    const startUp = scripted([0, 0.05, 0.05, 0.0005]);
    const q1 = await waitQuiet([1], { windowMs: 10, readCpuSeconds: startUp.read });
    assert.deepEqual([q1.settled, startUp.reads()], [true, 4], 'settled at the first quiet window, not before');
    const alwaysBusy = scripted([0, 0.05]);
    const q2 = await waitQuiet([1], { windowMs: 10, timeoutMs: 60, readCpuSeconds: alwaysBusy.read });
    assert.equal(q2.settled, false);
    assert.ok(q2.waitedMs >= 60 && alwaysBusy.reads() >= 6, `gave up after ${q2.waitedMs} ms (${alwaysBusy.reads()} reads)`);
    const goneMidway = scripted([0, 0.05, null]);
    assert.equal((await waitQuiet([1], { windowMs: 10, readCpuSeconds: goneMidway.read })).settled, null);
  });

  it(
    'waitQuiet on real processes (/proc): a busy process is not quiet; once it idles, it is',
    { skip: processCpuSeconds([process.pid]) === null, timeout: 30_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'medledger-quiet-'));
      const stop = join(dir, 'stop');
      // Busy until the file `stop` exists, then idle; it says when each begins, so nothing here
      // depends on how fast the machine starts or schedules it.
      const code = `const fs = require('fs'); process.stdout.write('busy\\n'); for (let i = 1; ; i++) if (i % 100000 === 0 && fs.existsSync(${JSON.stringify(stop)})) break; process.stdout.write('idle\\n'); setTimeout(() => {}, 60000);`;
      const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] });
      let said = '';
      child.stdout.on('data', (c: Buffer) => (said += c.toString()));
      const saying = (word: string) =>
        new Promise<void>((resolve, reject) => {
          const check = () => (said.includes(word) ? resolve() : undefined);
          child.stdout.on('data', check);
          child.on('exit', () => reject(new Error(`the child exited before saying ${word}`)));
          check();
        });
      try {
        await saying('busy');
        assert.ok(processCpuSeconds([child.pid!]) !== null);
        const busy = await waitQuiet([child.pid!], { windowMs: 300, cpuShareMax: 0.01, timeoutMs: 900 });
        assert.equal(busy.settled, false, 'a process spinning is never quiet');
        writeFileSync(stop, '');
        await saying('idle');
        const idle = await waitQuiet([child.pid!], { windowMs: 200, timeoutMs: 10_000 });
        assert.equal(idle.settled, true, `quiet once idle (after ${idle.waitedMs} ms)`);
        assert.equal((await waitQuiet([child.pid!, 2 ** 22 + 1], { windowMs: 50 })).settled, null, 'a process that is gone: not measurable');
      } finally {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

/** The ordering-node processes that are children of `pid` (Linux /proc). */
function orderersOf(pid: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // stat: "pid (comm) state ppid …"; comm may hold spaces, so split after its closing paren.
      const ppid = Number(readFileSync(`/proc/${name}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      if (ppid === pid && readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('ordering-node-main')) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}
