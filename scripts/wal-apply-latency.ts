// How long each record's apply() takes in the engine WAL (node/wal.ts), this checkout's against
// another's — to judge a change to the WAL by its tail, which the ordering benchmark's rounds
// hide among their other costs (docs/benchmarks.md, "the WAL's zeros off the round's path").
// Each log alone on the disk, in turns: ROUNDS rounds,
// in each a fresh log of either version takes N records (which goes first alternates), the event
// loop turning between records as an orderer's does between rounds (so background work runs).
// Each record is a Raft-like batch: an entry of SIZE bytes and the hard state put, the entry KEEP
// before it deleted (the map stays bounded, as a snapshotting engine keeps it). N × ~(SIZE + 60)
// bytes over 32 MiB includes a checkpoint.
//   AGAINST=/path/to/other/checkout node --import tsx scripts/wal-apply-latency.ts
//   ROUNDS=4 N=70000 SIZE=500 KEEP=2000 AGAINST=… node --import tsx scripts/wal-apply-latency.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setImmediate as turn } from 'node:timers/promises';
import type { PersistOp } from '../src/consensus/engine.ts';

interface Log {
  apply(ops: readonly PersistOp[]): void;
  close(): void;
}
type LogClass = new (dir: string) => Log;

const rounds = Number(process.env['ROUNDS'] ?? 4);
const total = Number(process.env['N'] ?? 70_000);
const size = Number(process.env['SIZE'] ?? 500);
const keep = Number(process.env['KEEP'] ?? 2_000);
const against = process.env['AGAINST'];
if (!against) throw new Error('AGAINST=<another checkout> is required');
if (![rounds, total, size, keep].every((n) => Number.isInteger(n) && n > 0 && n <= 10_000_000)) throw new RangeError('ROUNDS, N, SIZE, KEEP: integers 1..10^7');

const logs: Array<{ name: string; Log: LogClass; micros: number[] }> = [
  { name: 'this checkout', Log: ((await import('../src/node/wal.ts')) as { WriteAheadLog: LogClass }).WriteAheadLog, micros: [] },
  { name: against, Log: ((await import(resolve(against, 'src/node/wal.ts'))) as { WriteAheadLog: LogClass }).WriteAheadLog, micros: [] },
];
const value = new Uint8Array(size).fill(7);
const hard = new Uint8Array(24).fill(1);

async function run(log: (typeof logs)[number]): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'medledger-wal-latency-'));
  const wal = new log.Log(root);
  await new Promise((r) => setTimeout(r, 200)); // a new log's first preparation
  for (let i = 0; i < total; i++) {
    const ops: PersistOp[] = [
      { op: 'put', key: `raft/log/${String(i).padStart(12, '0')}`, value },
      { op: 'put', key: 'raft/hard', value: hard },
    ];
    if (i >= keep) ops.push({ op: 'delete', key: `raft/log/${String(i - keep).padStart(12, '0')}` });
    const started = process.hrtime.bigint();
    wal.apply(ops);
    log.micros.push(Number(process.hrtime.bigint() - started) / 1e3);
    await turn();
  }
  wal.close();
  await new Promise((r) => setTimeout(r, 500)); // background work in flight finishes
  rmSync(root, { recursive: true, force: true });
}

for (let r = 0; r < rounds; r++) for (const log of r % 2 === 0 ? logs : [...logs].reverse()) await run(log);

const pct = (sorted: Float64Array, p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
process.stdout.write(`${rounds} rounds × ${total} records of ${size} bytes per log, each log alone, in turns; apply() wall time, µs\n`);
process.stdout.write(`${'log'.padEnd(40)} ${['p50', 'p99', 'p99.9', 'p99.99', 'max', '≥2 ms', '≥5 ms', 'ms in ≥2 ms'].map((h) => h.padStart(9)).join(' ')}\n`);
for (const l of logs) {
  const sorted = Float64Array.from(l.micros).sort();
  const slow = l.micros.filter((m) => m >= 2_000);
  const cells = [pct(sorted, 0.5), pct(sorted, 0.99), pct(sorted, 0.999), pct(sorted, 0.9999), sorted[sorted.length - 1]!].map((m) => m.toFixed(0));
  cells.push(String(slow.length), String(slow.filter((m) => m >= 5_000).length), (slow.reduce((a, b) => a + b, 0) / 1e3).toFixed(0));
  process.stdout.write(`${l.name.slice(-40).padEnd(40)} ${cells.map((c) => c.padStart(9)).join(' ')}\n`);
}
