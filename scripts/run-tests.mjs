#!/usr/bin/env node
// Runs every `*.test.ts` under src/ and bench/ with Node's built-in test runner through tsx.
// Node 20's `--test` takes no globs, so we find the files ourselves.
// Usage: node scripts/run-tests.mjs [path-substring ...]   (filters the files)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...walk('src', []), ...walk('bench', []), ...walk('web', []), ...walk('scripts', [])]
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, MEDLEDGER_LOG_LEVEL: process.env.MEDLEDGER_LOG_LEVEL ?? 'silent' } },
);
process.exit(result.status ?? 1);
