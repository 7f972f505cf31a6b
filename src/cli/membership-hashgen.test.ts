// Hash-generator orderer-set change at runtime (issue 12 item 4, decision 1295), multi-process: a
// hashgen consortium of four hospitals adds a fifth orderer through a config transaction while
// transactions keep flowing — its orderer starts outside the generator list, fetches the decided
// blocks, is taken in by a membership entry the generator proposes and validates — then removes
// one (Hospital2), whose generator votes nowhere from then on. One chain throughout, every
// acknowledged transaction in it exactly once, and each member's ledger verifies end to end
// (certificates of every membership epoch included).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConsortium } from '../identity/index.ts';
import { verifyLedger } from '../ledger/verify.ts';
import { MedLedgerApiError } from '../sdk/index.ts';
import { configWithHospital, configWithoutHospital, localAdminSigners, prepareHospital, submitConfigUpdate } from './membership.ts';
import { startTestNetwork, type TestNetwork } from '../node/testdata/network.ts';

describe('hashgen orderer-set change at runtime: four generators add a fifth, then remove one', { timeout: 480_000 }, () => {
  let net: TestNetwork;
  before(async () => {
    net = await startTestNetwork({ orgs: 4, engine: 'hashgen' });
  });
  after(async () => {
    await net?.stop();
  });

  it('the fifth generator catches up and validates; the removed one votes nowhere; one chain, nothing lost', async () => {
    const committed = new Map<string, string>();
    let lastCommittedBlock = 0;
    let stop = false;
    let counter = 0;
    const exclude = new Set<string>();
    const worker = async (w: number): Promise<void> => {
      while (!stop) {
        const live = net.liveOrgs().filter((o) => !exclude.has(o));
        const org = live[Math.floor(Math.random() * live.length)]!;
        const id = `p${w}-${counter++}`;
        try {
          const r = await net.client(org).submit('assets', 'create', [id, 'patient-3', '1'], { waitMs: 15_000 });
          if (r.code === 'VALID') {
            committed.set(r.txId, `${id} via ${org} in block ${r.blockNumber}`);
            lastCommittedBlock = Math.max(lastCommittedBlock, r.blockNumber ?? 0);
          }
        } catch (err) {
          void (err instanceof MedLedgerApiError ? err.code : err);
          await sleep(100);
        }
      }
    };
    const workers = [0, 1, 2].map((w) => worker(w));
    await net.waitFor('10 commits', () => committed.size >= 10, 60_000);

    // --- add Hospital5 as an orderer ------------------------------------------------------------
    const hospital5 = await prepareHospital(net.dir, { tickMs: 50, engine: 'hashgen' });
    assert.deepEqual(hospital5.endpoint.roles, ['peer', 'orderer']);
    const consortium = loadConsortium(join(net.dir, 'crypto'));
    const admin = net.client('Hospital1', 'admin1');
    const added = await submitConfigUpdate(
      admin,
      (c) => localAdminSigners(consortium, c, 'Hospital1'),
      (c) => configWithHospital(c, hospital5),
    );
    assert.deepEqual(
      added.config.orderers.map((o) => o.id),
      ['node.Hospital1', 'node.Hospital2', 'node.Hospital3', 'node.Hospital4', 'node.Hospital5'],
    );
    net.orgs.push('Hospital5');
    exclude.add('Hospital5'); // until it has joined
    net.restart('Hospital5');
    await net.waitFor(
      'the five generators in one list, Hospital5 caught up',
      () => {
        const s = net.status('Hospital5');
        const h1 = net.status('Hospital1');
        const views = ['Hospital1', 'Hospital2', 'Hospital3', 'Hospital4', 'Hospital5'].map((o) => net.status(o)?.consensus?.members ?? []);
        return s !== null && !s.joining && h1 !== null && s.height >= h1.height - 2 && views.every((m) => m.length === 5);
      },
      150_000,
    );
    exclude.delete('Hospital5');
    const fromNew = await net.client('Hospital5').submit('assets', 'create', ['from-hospital5', 'patient-5', '5'], { waitMs: 20_000 });
    assert.equal(fromNew.code, 'VALID');
    committed.set(fromNew.txId, 'from-hospital5');

    // --- remove Hospital2 ----------------------------------------------------------------------
    exclude.add('Hospital2');
    await sleep(300);
    const removed = await submitConfigUpdate(
      admin,
      (c) => localAdminSigners(consortium, c, 'Hospital1'),
      (c) => configWithoutHospital(c, 'Hospital2'),
    );
    assert.equal(removed.sequence, 2);
    await net.waitFor(
      'the four generators without Hospital2',
      () => {
        const views = ['Hospital1', 'Hospital3', 'Hospital4', 'Hospital5'].map((o) => net.status(o)?.consensus?.members ?? []);
        return views.every((m) => m.length === 4 && !m.includes('node.Hospital2'));
      },
      90_000,
    );
    const before = committed.size;
    await net.waitFor('10 more commits without Hospital2', () => committed.size >= before + 10, 60_000);
    stop = true;
    await Promise.all(workers);

    const members = ['Hospital1', 'Hospital3', 'Hospital4', 'Hospital5'];
    await net.waitFor(
      'the four members on one chain',
      () => {
        const st = members.map((o) => net.status(o));
        return st.every((s) => s && s.height >= lastCommittedBlock && s.height === st[0]!.height && s.lastBlockHashHex === st[0]!.lastBlockHashHex);
      },
      60_000,
    );
    // Hospital2 is shut out: its votes are refused (a non-member's), the others refuse its
    // connections, so it falls behind while the four go on; its engine knows it is out.
    const height = net.status('Hospital1')!.height;
    assert.ok(net.status('Hospital2')!.height < height, `Hospital2 at ${net.status('Hospital2')!.height}, members at ${height}`);
    // Hospital5's generator takes part (a member, not an outsider); Hospital2's is out.
    const role5 = net.status('Hospital5')?.consensus?.role;
    assert.ok(role5 === 'validator' || role5 === 'generator' || role5 === 'candidate', `Hospital5's role: ${role5}`);
    const reader = net.client('Hospital5');
    let removedAt = 0;
    let signedBy5 = 0;
    const seen = new Map<string, number>();
    for (let n = 1; n <= height; n++) {
      const block = await reader.block(n);
      for (const tx of block.txs) if (tx.txId && tx.code === 'VALID') seen.set(tx.txId, (seen.get(tx.txId) ?? 0) + 1);
      const signers = block.certificate?.signers ?? [];
      if (signers.includes('node.Hospital5')) signedBy5 += 1;
      // After the membership block that removed it (the 2nd), no certificate holds its vote.
      if (block.certificate?.fields.config === 2 && removedAt === 0) removedAt = n;
      if (removedAt > 0) assert.ok(!signers.includes('node.Hospital2'), `block ${n}: no vote of the removed node.Hospital2`);
    }
    assert.ok(removedAt > 0, 'blocks were decided by the list without Hospital2');
    assert.ok(signedBy5 > 0, 'node.Hospital5 validated blocks (its signature is in certificates)');
    for (const [txId, what] of committed) assert.equal(seen.get(txId), 1, `committed ${txId} (${what}) appears once (chain height ${height})`);

    await net.stop();
    for (const org of members) {
      const report = await verifyLedger(join(net.nodeDir(org), 'data'));
      assert.ok(report.ok, `${org}: ${report.problem?.reason}`);
      assert.equal(report.configUpdates, 2);
      assert.equal(report.blocksVerified, height + 1);
    }
  });
});
