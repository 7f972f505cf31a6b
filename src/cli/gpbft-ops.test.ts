// gpbft's node update driven by admins of a running consortium (issue 12 item 4, decision 1280),
// multi-process: five hospitals (one group of 5), rating threshold 30. An admin's rating below
// the threshold removes another hospital (paper 002 §2.2.2 step 4); a hospital's admin has its
// own node send the signed quit request and it leaves; the refusals name their code (not an
// admin, rating one's own node, an unknown or removed node, another hospital's leave, an
// unsigned request, a rating whose own signature is wrong — decision 1281). Both operations are
// stored as CONSENSUS_CONTROL and the members' ledgers verify end to end. The rating decided here
// carries Hospital1's admin certificate and signature, which every member checked (decision 1281).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { toHex } from '../codec/index.ts';
import { blockHash } from '../ledger/block.ts';
import { verifyLedger } from '../ledger/verify.ts';
import { readGenesisBlock } from '../node/node.ts';
import { MedLedgerApiError } from '../sdk/index.ts';
import { startTestNetwork, type TestNetwork } from '../node/testdata/network.ts';
import { runCli } from './testkit.ts';

async function refusal(p: Promise<unknown>): Promise<{ status: number; code: string }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof MedLedgerApiError) return { status: err.status, code: err.code };
    throw err;
  }
  assert.fail('expected a refusal');
}

describe('gpbft node update by admins: rating below the threshold, a signed leave request', { timeout: 300_000 }, () => {
  let net: TestNetwork;
  before(async () => {
    net = await startTestNetwork({ orgs: 5, engine: 'gpbft', engineOptions: { ratingThreshold: 30 } });
  });
  after(async () => {
    await net?.stop();
  });

  const membersOf = (org: string): readonly string[] => net.status(org)?.consensus?.members ?? [];

  it('removes a hospital rated below the threshold and one that asked to leave; refuses the rest with a code', async () => {
    const first = await net.client('Hospital1').submit('assets', 'create', ['before', 'patient-1', '1'], { waitMs: 30_000 });
    assert.equal(first.code, 'VALID');
    const admin1 = net.client('Hospital1', 'admin1');

    // --- refusals ------------------------------------------------------------------------------
    assert.deepEqual(await refusal(net.client('Hospital1', 'doctor1').gpbftRate('node.Hospital5', 10)), { status: 403, code: 'NOT_ADMIN' });
    assert.deepEqual(await refusal(admin1.gpbftRate('node.Hospital1', 100)), { status: 403, code: 'SELF_RATING' });
    assert.deepEqual(await refusal(admin1.gpbftRate('node.Hospital9', 50)), { status: 404, code: 'UNKNOWN_NODE' });
    // Hospital1's admin cannot make Hospital3's node quit.
    assert.deepEqual(await refusal(net.client('Hospital1', 'admin1', 'Hospital3').gpbftLeave()), { status: 403, code: 'FOREIGN_ADMIN' });
    // Without a signed request the node does not even look at it.
    const unsigned = await refusal(admin1.call('POST', '/v1/admin/gpbft/ops', { op: 'rate', nodeId: 'node.Hospital5', rating: 10 }, false));
    assert.equal(unsigned.status, 401);
    assert.equal((await refusal(admin1.call('POST', '/v1/admin/gpbft/ops', { op: 'rate', nodeId: 'node.Hospital5', rating: 101 }))).status, 400);
    // A rating carries the admin's own signature over it (decision 1281): a wrong one is refused here, and every member would refuse it.
    const forged = { op: 'rate', nodeId: 'node.Hospital5', rating: 10, nonce: Date.now(), signature: Buffer.alloc(64, 1).toString('base64') };
    assert.deepEqual(await refusal(admin1.call('POST', '/v1/admin/gpbft/ops', forged)), { status: 403, code: 'BAD_RATING' });
    // The signature names the consortium (decision 1387): the node reports its genesis hash, and a
    // rating the same admin key signed for another consortium is refused here and by every member.
    const genesisHashHex = toHex(blockHash(readGenesisBlock(join(net.dir, 'genesis.block')).header));
    assert.equal((await admin1.status()).genesisHashHex, genesisHashHex);
    const foreign = await refusal(admin1.gpbftRate('node.Hospital5', 10, { genesisHashHex: 'ab'.repeat(32) }));
    assert.deepEqual(foreign, { status: 403, code: 'BAD_RATING' });
    assert.equal(membersOf('Hospital1').length, 5, 'nothing was ordered by a refused request');

    // --- a rating below the threshold removes Hospital5 ----------------------------------------
    // Through the CLI, which signs for the genesis block of its consortium directory.
    const cli = await runCli(['node', 'rate', 'Hospital5', '20', '--dir', net.dir, '--org', 'Hospital1', '--user', 'admin1', '--json']);
    assert.equal(cli.code, 0, cli.err);
    assert.equal((JSON.parse(cli.out) as { clientId: string }).clientId, 'gpbft:rate/Hospital1/admin1');
    const four = ['Hospital1', 'Hospital2', 'Hospital3', 'Hospital4'];
    await net.waitFor('Hospital5 removed everywhere', () => four.every((o) => membersOf(o).length === 4 && !membersOf(o).includes('node.Hospital5')), 60_000);
    assert.deepEqual(await refusal(admin1.gpbftRate('node.Hospital5', 90)), { status: 404, code: 'UNKNOWN_NODE' });

    // --- Hospital4's admin has its node leave ---------------------------------------------------
    const left = await net.client('Hospital4', 'admin1').gpbftLeave();
    assert.equal(left.nodeId, 'node.Hospital4');
    const three = ['Hospital1', 'Hospital2', 'Hospital3'];
    await net.waitFor('Hospital4 left', () => three.every((o) => membersOf(o).length === 3 && !membersOf(o).includes('node.Hospital4')), 60_000);

    // The three carry on.
    const after3 = await net.client('Hospital2').submit('assets', 'create', ['after', 'patient-2', '2'], { waitMs: 30_000 });
    assert.equal(after3.code, 'VALID');
    await net.waitFor(
      'the three on one chain',
      () => {
        const st = three.map((o) => net.status(o));
        return st.every((s) => s && s.height >= (after3.blockNumber ?? 0) && s.lastBlockHashHex === st[0]!.lastBlockHashHex);
      },
      30_000,
    );
    const height = net.status('Hospital1')!.height;
    const control: string[] = [];
    for (let n = 1; n <= height; n++) for (const tx of (await admin1.block(n)).txs) if (tx.code === 'CONSENSUS_CONTROL') control.push(`${n}`);
    assert.equal(control.length, 2, 'the rating and the leave request, each stored once as CONSENSUS_CONTROL');

    await net.stop();
    for (const org of three) {
      const report = await verifyLedger(join(net.nodeDir(org), 'data'));
      assert.ok(report.ok, `${org}: ${report.problem?.reason}`);
    }
  });
});
