// Smoke test of the ordering benchmark (decision 1350), end to end with tiny op counts: 3 real
// orderer processes (and 3 etcd members when the `etcd` binary exists), 1 and 4 in flight. It
// checks the shape of the report and that every payload acknowledged was ordered exactly once.
// It measures nothing: figures come from `medledger bench --ordering` (docs/benchmarks.md).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeFields, encodePutRequest, encodeRangeRequest, findEtcd, prefixEnd } from './etcd.ts';
import { againstCheckout, renderOrderingReport, runOrderingBench, sliceCount, sliceOrder, waitQuiet, type LevelResult } from './ordering.ts';

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
    assert.ok(l.opsPerSecond > 0 && l.latencyMs.p50 > 0 && l.latencyMs.p99 >= l.latencyMs.p50);
    assert.equal(l.ordered, l.submitted, `every payload submitted at ${l.concurrency} in flight was ordered`);
    assert.equal(l.duplicates, 0);
  }
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
    },
  );

  it('--against: the orderer of another checkout (here this one) is measured in turns instead of etcd, exactly once too', { timeout: 180_000 }, async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    // A warm-up of two half-second slices each, taken in turns as the measured slices are.
    const report = await runOrderingBench({ concurrency: [1, 4], seconds: 60, warmupSeconds: 1, sliceSeconds: 0.5, opsMax: OPS, keepIds: true, against: root });
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

  it('waitQuiet: waits while the servers are busy (start-up), returns once they are idle, gives up at its timeout', { timeout: 30_000 }, async () => {
    // A process busy for 1.5 s and then idle, one idle from the start, one busy for 20 s.
    const child = (code: string) => spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
    const busyThenIdle = child('const end = Date.now() + 1500; while (Date.now() < end); setTimeout(() => {}, 20000);');
    const idle = child('setTimeout(() => {}, 20000);');
    const busy = child('const end = Date.now() + 20000; while (Date.now() < end);');
    try {
      await new Promise((r) => setTimeout(r, 300)); // all three started
      assert.equal((await waitQuiet([idle.pid!, 2 ** 22 + 1], { windowMs: 50 })).settled, null, 'a process that is gone: not measurable');
      const q1 = await waitQuiet([busyThenIdle.pid!, idle.pid!], { windowMs: 200 });
      assert.equal(q1.settled, true);
      assert.ok(q1.waitedMs >= 900, `waited ${q1.waitedMs} ms for the busy one`);
      const q2 = await waitQuiet([idle.pid!], { windowMs: 200 });
      assert.equal(q2.settled, true);
      assert.ok(q2.waitedMs < 1000, `an idle process is quiet at once (${q2.waitedMs} ms)`);
      const q3 = await waitQuiet([idle.pid!, busy.pid!], { windowMs: 200, timeoutMs: 1000 });
      assert.equal(q3.settled, false);
      assert.ok(q3.waitedMs >= 1000 && q3.waitedMs < 3000, `gave up after ${q3.waitedMs} ms`);
    } finally {
      for (const c of [busyThenIdle, idle, busy]) c.kill('SIGKILL');
    }
  });
});
