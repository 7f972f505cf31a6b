// `medledger bench ordering` / `bench --ordering`: routed to its own module by main.ts; a tiny
// MedLedger-only run prints the table; bad options are refused with the option's name.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli } from '../testkit.ts';

describe('medledger bench --ordering', () => {
  it('the command: bench ordering --no-etcd prints the table; a bad option is refused', { timeout: 120_000 }, async () => {
    const r = await runCli(['bench', 'ordering', '--no-etcd', '--concurrency', '2', '--ops', '10', '--warmup', '0', '--seconds', '30']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^2 +\d+ +[\d.]+ +[\d.]+/m);
    assert.match(r.out, /exactly once — MedLedger 2: (\d+)\/\1 ordered, 0 dup/);
    const bad = await runCli(['bench', '--ordering', '--concurrency', '0']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--concurrency must be/);
    const nowhere = await runCli(['bench', '--ordering', '--against', '/nonexistent-checkout']);
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.err, /--against \/nonexistent-checkout: no MedLedger orderer there/);
  });

  it('--timeline: at one in flight the report adds the stages of a round by latency band; elsewhere it is refused', { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medledger-timeline-cli-'));
    try {
      const r = await runCli(['bench', 'ordering', '--no-etcd', '--concurrency', '1', '--ops', '40', '--warmup', '0', '--seconds', '30', '--timeline', dir]);
      assert.equal(r.code, 0, r.err);
      const rounds = /where a MedLedger round's time goes \((\d+) measured rounds at one in flight; timelines in (.+)\):/.exec(r.out);
      assert.ok(rounds, r.out);
      assert.equal(Number(rounds[1]), 40);
      assert.equal(rounds[2], dir);
      // Every round of the fastest half was cut into stages: a number in each stage's first column.
      for (const label of ['client → leader', 'leader proposes and cuts the entry', "follower's WAL write \\+ fsync", 'leader reads it, commits, answers'])
        assert.match(r.out, new RegExp(`^${label}.* +\\d+ +`, 'm'), label);
      assert.equal(readdirSync(dir).filter((f) => /^orderer-.+\.json$/.test(f)).length, 3, 'one timeline per orderer');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const refused = await runCli(['bench', 'ordering', '--no-etcd', '--concurrency', '1,4', '--timeline', dir]);
    assert.equal(refused.code, 2);
    assert.match(refused.err, /--timeline needs --concurrency 1/);
    const file = join(tmpdir(), `medledger-timeline-file-${process.pid}`);
    writeFileSync(file, '');
    try {
      const notDir = await runCli(['bench', 'ordering', '--no-etcd', '--concurrency', '1', '--timeline', file]);
      assert.equal(notDir.code, 2);
      assert.match(notDir.err, /--timeline .*: not a directory/);
    } finally {
      rmSync(file, { force: true });
    }
    const nowhere = await runCli(['bench', 'ordering', '--no-etcd', '--concurrency', '1', '--timeline', '/proc/medledger-nowhere']);
    assert.equal(nowhere.code, 2);
    assert.match(nowhere.err, /--timeline \/proc\/medledger-nowhere: cannot create it \(ENOENT\)/);
    // --json's file is checked before minutes of measuring, not after.
    const jsonBelowFile = await runCli(['bench', 'ordering', '--no-etcd', '--concurrency', '1', '--json', '/etc/hostname/r.json']);
    assert.equal(jsonBelowFile.code, 2);
    assert.match(jsonBelowFile.err, /--json \/etc\/hostname\/r.json: \/etc\/hostname is not a directory/);
    const jsonDir = await runCli(['bench', 'ordering', '--no-etcd', '--concurrency', '1', '--json', tmpdir()]);
    assert.equal(jsonDir.code, 2);
    assert.match(jsonDir.err, /--json .*: is a directory; give a file name/);
  });
});
