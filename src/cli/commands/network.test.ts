// `medledger up` on directories it must not half-use (issue 17): an explicit --base-port that an
// existing consortium would silently ignore is refused; a non-empty directory that holds no
// consortium is refused; and an `up` that fails after creating a consortium removes it again, so
// the next `up` starts clean instead of taking the remains for a consortium.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../testkit.ts';
import { tempDirRemovedAtExit } from '../../testing/temp-dir.ts';

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';
const home = tempDirRemovedAtExit('medledger-up-');
const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A port something else already listens on (so a node given it cannot start). */
async function busyPort(): Promise<number> {
  const s = createServer();
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

describe('medledger up on existing or failed directories', () => {
  it("refuses an explicit --base-port that differs from an existing consortium's ports, naming both", async () => {
    const dir = join(home, 'existing');
    const init = await runCli(['init', '--orgs', '1', '--dir', dir, '--base-port', '7600', '--json']);
    assert.equal(init.code, 0, init.err);
    const r = await runCli(['up', '--dir', dir, '--base-port', '7500']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /--base-port 7500: .* already holds a consortium on ports from 7600 \(fixed when it was created\)/);
  });

  it('refuses a non-empty directory that holds no consortium', async () => {
    const dir = join(home, 'other-files');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    const r = await runCli(['up', '--dir', dir, '--orgs', '1']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /is not empty and holds no consortium/);
    assert.ok(existsSync(join(dir, 'notes.txt')), "nothing of the user's is touched");
  });

  it('a failed up removes the consortium it created', async () => {
    const dir = join(home, 'fails');
    const r = await runCli(['up', '--dir', dir, '--orgs', '1', '--base-port', String(await busyPort()), '--detach']);
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /the consortium this run created in .* was removed/);
    assert.ok(!existsSync(dir), `${dir} is gone`);
  });

  it('a --dir that cannot be made is refused by name, not with a stack trace or a hang', async () => {
    const file = join(home, 'a-file');
    writeFileSync(file, 'x');
    const below = await runCli(['up', '--dir', join(file, 'consortium'), '--orgs', '1', '--detach']);
    assert.equal(below.code, 1, below.out);
    assert.match(below.err, new RegExp(`could not create the consortium in .*: ENOTDIR: not a directory, mkdir '${file}'`));
    assert.doesNotMatch(below.err, /\n\s+at /, 'no stack trace');
    if (process.platform === 'linux') {
      // Node's recursive mkdir never returns under /proc (files/directory.ts).
      const proc = await runCli(['init', '--dir', '/proc/medledger-nowhere/consortium', '--orgs', '1']);
      assert.notEqual(proc.code, 0);
      assert.match(proc.err, /ENOENT/);
    }
  });
});
