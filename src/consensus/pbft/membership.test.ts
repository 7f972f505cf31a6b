// PBFT orderer-set changes (issue 12 item 4, decision 1270): add a replica, remove one, and the
// refusals — a removed replica's votes, a vote of an ended epoch, a membership entry that is not
// the next step toward a backup's own target — plus restart into a later epoch, and the
// simulator with joins and leaves under every fault (a campaign over many more seeds:
//   medledger sim --engine pbft --nodes 5 --joins 1 --leaves 1 --faults all --crypto fast --seeds 1000 --duration-ms 4000 --proposals 300).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyPairSigner } from '../../crypto/index.ts';
import { ScenarioCluster } from '../scenario/cluster.testkit.ts';
import { runSimulation } from '../../sim/index.ts';
import '../engines.ts';
import { epochBound, membershipEntry } from './epoch.ts';
import type { PbftEngine } from './engine.ts';
import { batchDigest } from '../digest.ts';
import { signingBytes, type PrepareMsg, type PrePrepareMsg } from './messages.ts';

function pbft(c: ScenarioCluster, id: string): PbftEngine {
  return c.engine(id) as unknown as PbftEngine;
}

function reconfigureAll(c: ScenarioCluster, members: string[]): void {
  for (const id of c.liveIds()) {
    pbft(c, id).reconfigure(members);
    c.processReady(id);
  }
}

/** Four replicas, a fifth added, then replica 1 removed; returns the cluster. */
function grownAndShrunk(): ScenarioCluster {
  const c = new ScenarioCluster('pbft');
  c.addNodes(4, {}, 1, 1);
  c.propose('1', 'a');
  c.stabilize();
  c.addNodes(1, {}, 1, 1);
  reconfigureAll(c, ['1', '2', '3', '4', '5']);
  c.stabilize();
  for (let i = 0; i < 10; i++) c.tick('5');
  c.stabilize();
  reconfigureAll(c, ['2', '3', '4', '5']);
  c.stabilize();
  return c;
}

describe('pbft: orderer-set changes', () => {
  it('adds a replica (state transfer, then it votes) and removes one; n, f and the quorum follow', () => {
    const c = grownAndShrunk();
    for (const id of ['2', '3', '4', '5']) {
      const i = pbft(c, id).inspect();
      assert.equal(i.epoch, 2, `${id} epoch`);
      assert.deepEqual(i.members, ['2', '3', '4', '5']);
      assert.equal(i.changing, false);
    }
    assert.equal(pbft(c, '5').stats.stateTransfers, 1, 'the joiner came in by state transfer');
    assert.equal(pbft(c, '1').status().role, 'outsider');
    assert.equal(c.propose('1', 'late'), 'c#2 rejected: not-member');
    c.propose('5', 'from the joiner');
    c.stabilize();
    for (const id of ['2', '3', '4', '5']) assert.equal(pbft(c, id).status().decidedHeight, 4);
    assert.deepEqual(c.checkAgreement(), []);
    // The joiner voted: its commit is in the certificate of the block it proposed.
    const block = c.nodes.get('2')!.blocks.at(-1)!;
    assert.ok(block.certificate!.signatures.length >= 3);
  });

  it("refuses a removed replica's votes, and a member's vote of an ended epoch", () => {
    const c = grownAndShrunk();
    const e2 = pbft(c, '2');
    const i = e2.inspect();
    const removed = keyPairSigner('1', c.nodes.get('1')!.keyPair);
    const digest = batchDigest([]);
    const unsigned = { type: 'pbft/prepare' as const, view: i.view, seq: i.executedSeq + 1, digest, replica: '1', sig: new Uint8Array(0) };
    const vote: PrepareMsg = { ...unsigned, sig: removed.sign(epochBound(i.epoch, signingBytes(unsigned))) };
    const before = e2.stats.dropped.nonMember;
    e2.step('1', vote);
    assert.equal(e2.stats.dropped.nonMember, before + 1, 'a removed replica votes nowhere');
    // Replica 3 is a member, but a vote signed for epoch 1 does not count in epoch 2.
    const member = keyPairSigner('3', c.nodes.get('3')!.keyPair);
    const old = { ...unsigned, replica: '3' };
    const stale: PrepareMsg = { ...old, sig: member.sign(epochBound(i.epoch - 1, signingBytes(old))) };
    const bad = e2.stats.dropped.badSignature;
    e2.step('3', stale);
    assert.equal(e2.stats.dropped.badSignature, bad + 1);
  });

  it('a backup refuses a membership entry that is not the next step toward its own target', () => {
    const c = new ScenarioCluster('pbft');
    c.addNodes(4, {}, 1, 1);
    const e2 = pbft(c, '2');
    e2.reconfigure(['1', '2', '3', '4', '5']);
    c.processReady('2');
    const primary = keyPairSigner('1', c.nodes.get('1')!.keyPair);
    // A primary ordering a membership its backups' ledgers do not have in force: 1,2,3,4,9.
    const batch = [membershipEntry(1, ['1', '2', '3', '4', '9'])];
    const header = { type: 'pbft/pre-prepare' as const, view: 0, seq: 1, digest: batchDigest(batch), replica: '1', sig: new Uint8Array(0) };
    const pp: PrePrepareMsg = { ...header, sig: primary.sign(signingBytes(header)), batch };
    const before = e2.stats.dropped.badBatch;
    e2.step('1', pp);
    assert.equal(e2.stats.dropped.badBatch, before + 1);
    // And a client may not use the reserved client id.
    assert.deepEqual(e2.propose(membershipEntry(1, ['1', '2', '3', '4', '5'])), { accepted: false, reason: 'invalid' });
  });

  it('a replica restarted after the change comes back in the later epoch', () => {
    const c = grownAndShrunk();
    c.crash('3');
    c.restart('3');
    const i = pbft(c, '3').inspect();
    assert.equal(i.epoch, 2);
    assert.deepEqual(i.members, ['2', '3', '4', '5']);
    c.propose('4', 'after restart');
    c.stabilize();
    assert.equal(pbft(c, '3').status().decidedHeight, 4);
    assert.deepEqual(c.checkAgreement(), []);
  });

  it('simulator: five replicas, one joins and one leaves under every fault (seeds 1-4): no violation, members settle', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const r = runSimulation({
        engine: 'pbft',
        nodes: 5,
        seed,
        faults: 'all',
        durationMs: 4000,
        crypto: 'fast',
        livenessMs: 30_000,
        membership: { joins: 1, leaves: 1 },
        workload: { proposalsMax: 200 },
      });
      assert.deepEqual(r.violations, [], `seed ${seed}: ${JSON.stringify(r.violations)}`);
      assert.equal(r.membershipSchedule?.length, 2);
      assert.equal(r.metrics.decidedProposals, 200);
    }
  });
});
