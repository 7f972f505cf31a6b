// `medledger bench ordering` / `bench --ordering`: routed to its own module by main.ts; a tiny
// MedLedger-only run prints the table; bad options are refused with the option's name.
import assert from 'node:assert/strict';
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
});
