#!/usr/bin/env node
// Where a process's on-CPU time went, by kind of code: reads a `perf record -e cpu-clock` file
// (Debian's linux-perf) of Node processes started with --perf-basic-prof, and prints, per process,
// the share of its samples in the kernel, in JIT-compiled JavaScript, in V8's builtins and runtime,
// in garbage collection, OpenSSL, nghttp2, libuv, Node's C++ and libc. Unlike a V8 .cpuprofile
// (scripts/cpuprofile-summary.mjs), which samples wall time, perf's cpu-clock counts only time on a
// CPU, kernel included. Usage, while an ordering benchmark runs:
//   MEDLEDGER_BENCH_NODE_ARGS=--perf-basic-prof medledger bench --ordering --concurrency 1 --no-etcd &
//   perf record -e cpu-clock -F 4000 -p "$(pgrep -d, -f ordering-node-main)" -o perf.data -- sleep 6
//   node scripts/perf-oncpu-summary.mjs perf.data
// In a VM, cpu-clock samples taken with interrupts off land where they are turned back on
// (finish_task_switch, _raw_spin_unlock_irqrestore): the kernel's share is right, its split is not.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const file = process.argv[2] ?? 'perf.data';
if (!existsSync(file)) {
  console.error(`${file}: no such file (record one with perf record -e cpu-clock …, see the usage above)`);
  process.exit(2);
}
const KINDS = [
  ['kernel', (s) => s.includes('[k]')],
  ['JIT-compiled JavaScript', (s) => s.includes('JS:')],
  ['V8 builtins (ICs, interpreter)', (s) => s.includes('Builtins_')],
  ['garbage collection', (s) => /v8::internal::(Heap|Scaveng|MarkCompact|Sweeper|Evacuat|Concurrent)|MarkingVisitor/.test(s)],
  ['V8 runtime', (s) => s.includes('v8::')],
  ['OpenSSL (ECDSA, TLS)', (s) => /ecp_|ssl|SSL|EVP|aes|gcm|sha256|sha512|OPENSSL|BN_|bn_|CRYPTO|ossl/.test(s)],
  ['nghttp2 (HTTP/2)', (s) => s.includes('nghttp2')],
  ['libuv', (s) => /\buv_|uv__/.test(s)],
  ["Node's C++", (s) => s.includes('node::')],
  ['libc (malloc, memcpy)', (s) => /malloc|free|memcpy|memset|memmove|calloc|strcmp|unlink_chunk|_int_/.test(s)],
];

const report = (args) => {
  try {
    return execFileSync('perf', ['report', '-i', file, '--stdio', ...args], { encoding: 'utf8', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const why =
      err.code === 'ENOENT'
        ? 'perf is not installed (Debian: apt-get install linux-perf)'
        : String(err.stderr ?? '')
            .trim()
            .split('\n')
            .pop() || `perf exited with status ${err.status}`;
    console.error(`perf report -i ${file}: ${why}`);
    process.exit(2);
  }
};
const rows = (text) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => ({ percent: Number.parseFloat(l.trim()), rest: l.trim().replace(/^[\d.]+%\s+/, '') }));

for (const { percent: processPercent, rest } of rows(report(['--sort', 'pid']))) {
  if (processPercent < 5) continue; // helper threads and short-lived processes
  const pid = rest.split(':')[0];
  const totals = new Map();
  let all = 0;
  for (const { percent, rest: symbol } of rows(report(['--pid', pid, '--sort', 'sym']))) {
    const kind = KINDS.find(([, match]) => match(symbol))?.[0] ?? 'other';
    totals.set(kind, (totals.get(kind) ?? 0) + percent);
    all += percent;
  }
  console.log(`process ${pid}: ${processPercent.toFixed(1)} % of all samples`);
  for (const [kind, percent] of [...totals].sort((a, b) => b[1] - a[1])) console.log(`  ${((100 * percent) / all).toFixed(1).padStart(5)} %  ${kind}`);
}
