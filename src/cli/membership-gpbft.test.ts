// gpbft orderer-set change at runtime (issue 12 item 4, decision 1280), multi-process: a gpbft
// consortium of four hospitals (the smallest the engine allows: one group of 3f+1 = 4) adds a
// fifth orderer through a config transaction while transactions keep flowing — its engine starts
// outside the membership, the members order the paper's join (to the nearest group, at the
// position and rating of its node entry), it catches up from the members' blocks and votes —
// then removes one (Hospital2), whose votes and requests count nowhere from then on. The period
// T is 20 blocks, so the running nodes regroup several times meanwhile. One chain throughout,
// every acknowledged transaction in it exactly once, the two membership entries stored with
// CONSENSUS_CONTROL, and each member's ledger verifies end to end.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConsortium } from '../identity/index.ts';
import { verifyLedger } from '../ledger/verify.ts';
import { MedLedgerApiError } from '../sdk/index.ts';
import { configWithHospital, configWithoutHospital, localAdminSigners, prepareHospital, submitConfigUpdate } from './membership.ts';
import { startTestNetwork, type TestNetwork } from '../node/testdata/network.ts';

describe('gpbft orderer-set change at runtime: four orderers add a fifth, then remove one', { timeout: 480_000 }, () => {
  let net: TestNetwork;
  before(async () => {
    net = await startTestNetwork({ orgs: 4, engine: 'gpbft', engineOptions: { periodBlocks: 20 } });
  });
  after(async () => {
    await net?.stop();
  });

  it('the fifth orderer joins its nearest group, catches up and votes; the removed one votes nowhere; one chain, nothing lost', async () => {
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
    const hospital5 = await prepareHospital(net.dir, { tickMs: 50, engine: 'gpbft', location: { lat: 44.2312, lon: -76.486 }, rating: 0.7 });
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
      'the five gpbft members in one configuration, Hospital5 caught up',
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
      'the four replicas without Hospital2',
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
    // connections, so it falls behind while the four go on.
    const height = net.status('Hospital1')!.height;
    assert.ok(net.status('Hospital2')!.height < height, `Hospital2 at ${net.status('Hospital2')!.height}, members at ${height}`);
    const reader = net.client('Hospital5');
    const seen = new Map<string, number>();
    let controlEntries = 0;
    for (let n = 1; n <= height; n++) {
      for (const tx of (await reader.block(n)).txs) {
        if (tx.txId && tx.code === 'VALID') seen.set(tx.txId, (seen.get(tx.txId) ?? 0) + 1);
        if (tx.code === 'CONSENSUS_CONTROL') controlEntries += 1;
      }
    }
    for (const [txId, what] of committed) assert.equal(seen.get(txId), 1, `committed ${txId} (${what}) appears once (chain height ${height})`);
    assert.equal(controlEntries, 2, 'the join of Hospital5 and the removal of Hospital2, each stored once as CONSENSUS_CONTROL');
    assert.ok(height > 40, `at least two periods of 20 blocks (regrouping) in the run (height ${height})`);

    await net.stop();
    for (const org of members) {
      const report = await verifyLedger(join(net.nodeDir(org), 'data'));
      assert.ok(report.ok, `${org}: ${report.problem?.reason}`);
      assert.equal(report.configUpdates, 2);
      assert.equal(report.blocksVerified, height + 1);
    }
  });
});
