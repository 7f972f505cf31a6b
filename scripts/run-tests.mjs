#!/usr/bin/env node
// Runs every `*.test.ts` under src/ and bench/ with Node's built-in test runner through tsx.
// Node 20's `--test` takes no globs, so we find the files ourselves.
// Usage: node scripts/run-tests.mjs [--unit] [path-substring ...]   (filters the files)
//   --unit  leaves out the suites that start consortia, node processes or a browser (INTEGRATION
//           below): the inner loop, `npm run test:unit`. `npm test` runs everything.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Suites that start real consortia (sockets, disks), node processes or Chromium: seconds to minutes each. */
const INTEGRATION = [
  'src/api/api.test.ts',
  'src/api/health-routes.test.ts',
  'src/bench/ordering.test.ts',
  'src/cli/commands/bench-ordering.test.ts',
  'src/cli/commands/health.test.ts',
  'src/cli/commands/org.test.ts',
  'src/cli/commands/tx.test.ts',
  'src/cli/commands/sim.test.ts',
  'src/cli/demo.test.ts',
  'src/cli/readme.test.ts',
  'src/cli/commands/network.test.ts',
  'src/cli/membership.test.ts',
  'src/ledger/recovery.test.ts',
  'src/node/multiprocess.test.ts',
  'src/node/node.test.ts',
  'src/node/inprocess.test.ts',
  'src/node/init.test.ts',
  'src/records/custody.test.ts',
  'src/records/records.test.ts',
  'src/contracts/health/network.test.ts',
  'web/test/',
  'src/testing/faults/',
];

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => a !== '--unit');
const files = [...walk('src', []), ...walk('bench', []), ...walk('web', []), ...walk('scripts', [])]
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .filter((f) => !unitOnly || !INTEGRATION.some((i) => f.startsWith(i)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], {
  stdio: 'inherit',
  env: { ...process.env, MEDLEDGER_LOG_LEVEL: process.env.MEDLEDGER_LOG_LEVEL ?? 'silent' },
});
process.exit(result.status ?? 1);
