import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConsole, consoleIsFresh } from './console-build.ts';

test("a node that builds the console after another node's build of the same sources landed keeps that one (it may be serving it)", async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'medledger-console-build-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const dist = join(parent, 'dist');
  const first = await buildConsole(dist);
  assert.equal(first.built, true);
  assert.ok(consoleIsFresh(dist));
  // Stands for the other node's files in use: replacing the folder would remove it.
  writeFileSync(join(dist, 'served-by-another-node'), '');
  const later = await Promise.all([buildConsole(dist), buildConsole(dist)]);
  assert.deepEqual(
    later.map((r) => r.built),
    [false, false],
    'the builds that finished second kept the build in place',
  );
  assert.ok(existsSync(join(dist, 'served-by-another-node')), 'the build in place was not deleted');
  assert.ok(consoleIsFresh(dist));
  assert.deepEqual(
    readdirSync(parent).filter((f) => f !== 'dist'),
    [],
    'no temporary folder left behind',
  );
});
