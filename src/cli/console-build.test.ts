import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

test('the built page links its icon, a file of the build (no /favicon.ico request that 404s on every load)', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'medledger-console-build-'));
  t.after(() => rmSync(parent, { recursive: true, force: true }));
  const dist = join(parent, 'dist');
  const result = await buildConsole(dist);
  const index = readFileSync(join(dist, 'index.html'), 'utf8');
  const href = /<link rel="icon" type="image\/svg\+xml" href="\/assets\/(favicon-[0-9A-F]{8}\.svg)" \/>/.exec(index)?.[1];
  assert.ok(href, `index.html links no icon:\n${index}`);
  assert.ok(result.files.includes(href), 'the icon is listed among the built files');
  assert.match(readFileSync(join(dist, 'assets', href), 'utf8'), /^<svg /);
  assert.deepEqual(index.match(/__[A-Z_]+__/g), ['__CSP_NONCE__'], "no placeholder of the build left (the nonce is the server's, per response)");
});
