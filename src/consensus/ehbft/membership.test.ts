// EH-BFT orderer-set changes (issue 12 item 4, decision 1290): add a node (it catches up by
// fetching blocks, then votes), remove one, and the refusals — a removed node's votes, a vote of an
// ended epoch, a membership block that is not the next step toward an acceptor's own target, a
// membership block with proposals — plus restart into a later epoch, the paper's enhancements
// (record check, reputation) across a change, and the simulator with joins and leaves (campaign:
//   node scripts/sim-campaign.mjs --engines ehbft+membership --seeds 1000).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode } from '../../codec/index.ts';
import { keyPairSigner } from '../../crypto/index.ts';
import { ScenarioCluster } from '../scenario/cluster.testkit.ts';
import { runSimulation } from '../../sim/index.ts';
import { blockDigest } from '../digest.ts';
import '../engines.ts';
import { verifyEhbftCertificate, type EhbftEngine } from './engine.ts';
import { epochBound } from './epoch.ts';
import { metaDigestOf, voteStatement, type EhbftMessage, type Meta, type WireProposal } from './messages.ts';

function eh(c: ScenarioCluster, id: string): EhbftEngine {
  return c.engine(id) as unknown as EhbftEngine;
}

function reconfigureAll(c: ScenarioCluster, members: string[]): void {
  for (const id of c.liveIds()) {
    eh(c, id).reconfigure(members);
    c.processReady(id);
  }
}

/** Take an engine's output; how many messages of `type` it sent. */
function drainCount(e: EhbftEngine, type: EhbftMessage['type']): number {
  let n = 0;
  while (e.hasReady()) {
    const rd = e.ready();
    n += rd.messages.filter((m) => m.message.type === type).length;
    e.advance(rd);
  }
  return n;
}

function drainVotes(e: EhbftEngine): number {
  return drainCount(e, 'ehbft/vote');
}

/** Run until nothing moves, ticking everyone so that outsiders poll and timers fire. */
function settle(c: ScenarioCluster, members: string[], rounds = 40): void {
  for (let i = 0; i < rounds; i++) {
    reconfigureAll(c, members);
    for (const id of c.liveIds()) c.tick(id);
    c.stabilize();
  }
}

/** Four nodes, a fifth added, then node 1 removed. */
function grownAndShrunk(): ScenarioCluster {
  const c = new ScenarioCluster('ehbft');
  c.addNodes(4, {}, 1, 1);
  c.propose('2', 'a');
  settle(c, ['1', '2', '3', '4'], 5);
  c.addNodes(1, {}, 1, 1);
  settle(c, ['1', '2', '3', '4', '5']);
  c.propose('3', 'b');
  settle(c, ['1', '2', '3', '4', '5'], 5);
  settle(c, ['2', '3', '4', '5']);
  return c;
}

describe('ehbft: orderer-set changes', () => {
  it('adds a node (it fetches the blocks, then votes) and removes one; n, f and the quorum follow', () => {
    const c = grownAndShrunk();
    for (const id of ['2', '3', '4', '5']) {
      const e = eh(c, id);
      assert.equal(e.epoch().number, 2, `${id} epoch`);
      assert.deepEqual(e.status().members, ['2', '3', '4', '5']);
      assert.equal(e.quorumPlan().quorum, 3, 'safe quorum of 4');
    }
    assert.equal(eh(c, '1').status().role, 'outsider');
    assert.equal(c.propose('1', 'late'), 'c#3 rejected: not-member');
    // With one more node down the quorum of 3 needs the joiner: its vote is in the next certificate.
    const leader = eh(c, '2').status().leader!;
    const down = ['2', '3', '4'].find((id) => id !== leader)!;
    c.crash(down);
    c.propose('5', 'from the joiner');
    settle(c, ['2', '3', '4', '5'], 40);
    assert.deepEqual(c.checkAgreement(), []);
    const chain = c.nodes.get('2')!.blocks;
    // a, membership (+5), b, membership (−1), from the joiner
    assert.deepEqual(
      chain.map((b) => b.proposals.length),
      [1, 0, 1, 0, 1],
    );
    for (const id of ['2', '3', '4', '5'].filter((x) => x !== down)) assert.equal(eh(c, id).status().decidedHeight, 5);
    // The joiner voted in epoch 2: its phase-2 signature is in a certificate, bound to the epoch.
    const last = chain.at(-1)!;
    assert.equal(last.certificate!.fields.epoch, 2);
    assert.ok(last.certificate!.signatures.length >= 3);
    assert.ok(
      last.certificate!.signatures.some((x) => x.nodeId === '5'),
      'node 5 signed the commit certificate',
    );
    // Node 1, removed, falls behind.
    assert.ok(eh(c, '1').status().decidedHeight < 5);
  });

  it("refuses a removed node's pre-prepare and fetch, a pre-prepare signed for an ended epoch, and a certificate of another epoch", () => {
    const c = grownAndShrunk();
    const leaderId = eh(c, '2').status().leader!;
    const acceptorId = ['2', '3', '4', '5'].find((id) => id !== leaderId)!;
    const acceptor = eh(c, acceptorId);
    drainVotes(acceptor);
    const version = acceptor.databaseVersion();
    const h = version.height + 1;
    const tip = c.nodes.get(acceptorId)!.blocks.at(-1)!;
    const fields = tip.certificate!.fields;
    const prevCert = {
      phase: 2 as const,
      view: fields.view as number,
      height: tip.height,
      digest: tip.digest,
      metaDigest: fields.metaDigest as Uint8Array,
      votes: tip.certificate!.signatures.map((x) => ({ node: x.nodeId, sig: x.signature })),
    };
    const proposals: WireProposal[] = [{ c: 'x', s: 1, d: encode('tx') }];
    const prePrepare = (from: string, epoch: number): EhbftMessage => {
      const meta: Meta = { proposer: from, handover: false, prevCert, evidence: [] };
      const digest = blockDigest(h, version.digest, [{ clientId: 'x', seq: 1, data: encode('tx') }]);
      const sig = keyPairSigner(from, c.nodes.get(from)!.keyPair).sign(epochBound(epoch, voteStatement(1, 0, h, digest, metaDigestOf(meta))));
      return { type: 'ehbft/pre-prepare', view: 0, height: h, prevDigest: version.digest, proposals, meta, justification: null, node: from, sig };
    };
    // The removed node 1, even signing for the epoch in force, votes and leads nowhere.
    acceptor.step('1', prePrepare('1', 2));
    assert.equal(drainVotes(acceptor), 0, "a removed node's pre-prepare");
    acceptor.step('1', { type: 'ehbft/fetch', height: 1 });
    assert.equal(drainCount(acceptor, 'ehbft/blocks'), 0, 'a removed node is not served');
    // The leader's pre-prepare signed for epoch 1 does not count in epoch 2; signed for 2 it does.
    acceptor.step(leaderId, prePrepare(leaderId, 1));
    assert.equal(drainVotes(acceptor), 0, 'a signature of an ended epoch');
    acceptor.step(leaderId, prePrepare(leaderId, 2));
    assert.equal(drainVotes(acceptor), 1, 'the same pre-prepare signed for the epoch in force');
    // A certificate verifies with its own epoch only, and only against members the caller knows.
    const known = ['1', '2', '3', '4', '5'];
    assert.ok(verifyEhbftCertificate(tip, known, c.verifier));
    const relabelled = { ...tip, certificate: { ...tip.certificate!, fields: { ...fields, epoch: (fields.epoch as number) + 1 } } };
    assert.equal(verifyEhbftCertificate(relabelled, known, c.verifier), false);
    assert.equal(verifyEhbftCertificate(tip, ['2', '3', '4'], c.verifier), false);
  });

  it('an acceptor refuses a membership block that is not the next step toward its own target, or that carries proposals', () => {
    const attempt = (members: string[], proposals: WireProposal[], target = ['1', '2', '3', '4', '5']): number => {
      const c = new ScenarioCluster('ehbft');
      c.addNodes(4, {}, 1, 1);
      const e2 = eh(c, '2');
      e2.reconfigure(target);
      drainVotes(e2);
      const leaderId = e2.status().leader!;
      assert.notEqual(leaderId, '2');
      const meta: Meta = { proposer: leaderId, handover: false, prevCert: null, evidence: [], members };
      const tip = e2.databaseVersion().digest;
      const digest = blockDigest(
        1,
        tip,
        proposals.map((p) => ({ clientId: p.c, seq: p.s, data: p.d })),
      );
      const sig = keyPairSigner(leaderId, c.nodes.get(leaderId)!.keyPair).sign(voteStatement(1, 0, 1, digest, metaDigestOf(meta)));
      e2.step(leaderId, { type: 'ehbft/pre-prepare', view: 0, height: 1, prevDigest: tip, proposals, meta, justification: null, node: leaderId, sig });
      return drainVotes(e2);
    };
    assert.equal(attempt(['1', '2', '3', '4', '9'], []), 0, 'a membership its ledger does not have in force');
    assert.equal(attempt(['1', '2', '3', '4', '5'], [{ c: 'x', s: 1, d: encode('tx') }]), 0, 'a membership block carries nothing else');
    assert.equal(attempt(['1', '2', '3', '4', '5', '6'], [], ['1', '2', '3', '4', '5', '6']), 0, 'two members at once');
    assert.equal(attempt(['2', '3', '4'], [], ['2', '3', '4']), 1, 'removing one, the step toward its target');
    assert.equal(attempt(['1', '2', '3', '4', '5'], []), 1, 'exactly the step toward its target');
  });

  it("a node joining a chain longer than the members retain replays it from their nodes' chains (EngineContext.archive)", () => {
    for (const archive of [true, false]) {
      const c = new ScenarioCluster('ehbft', { archive });
      c.addNodes(4, { retainBlocks: 4 }, 1, 1);
      for (let i = 1; i <= 10; i++) {
        c.propose(String((i % 4) + 1), `tx${i}`);
        settle(c, ['1', '2', '3', '4'], 3);
      }
      const head = eh(c, '2').status().decidedHeight;
      assert.ok(head >= 10, `ten blocks decided (${head}), more than the 4 retained`);
      c.addNodes(1, { retainBlocks: 4 }, 1, 1);
      settle(c, ['1', '2', '3', '4', '5']);
      // The membership block that takes node 5 in is decided either way (by the four).
      const after = eh(c, '2').status().decidedHeight;
      assert.ok(after > head);
      assert.deepEqual(eh(c, '2').status().members, ['1', '2', '3', '4', '5']);
      const joiner = eh(c, '5');
      if (!archive) {
        // Block 1 left every member's retention: nothing can be fetched, the joiner stays outside.
        assert.equal(joiner.status().decidedHeight, 0, 'without the archive the joiner cannot start');
        assert.equal(joiner.status().role, 'outsider');
        continue;
      }
      assert.equal(joiner.status().decidedHeight, after, 'the joiner replayed every block');
      assert.notEqual(joiner.status().role, 'outsider');
      assert.equal(joiner.epoch().number, 1);
      const data = (id: string): string[] => c.nodes.get(id)!.blocks.flatMap((b) => b.proposals.map((p) => new TextDecoder().decode(p.data)));
      assert.deepEqual(data('5'), data('2'));
      // And it takes part: its own proposal is ordered, with one member down, on every live node alike.
      const leader = eh(c, '2').status().leader!;
      const down = ['1', '2', '3', '4'].find((id) => id !== leader)!;
      c.crash(down);
      const live = ['1', '2', '3', '4', '5'].filter((id) => id !== down);
      c.propose('5', 'from the joiner');
      settle(c, live, 40);
      for (const id of live) assert.deepEqual(data(id).at(-1), 'from the joiner', `${id} ordered the joiner's proposal`);
      assert.deepEqual(c.checkAgreement(), []);
    }
  });

  it('a node far behind asks for the next batch as soon as a full one took it forward (not once per retransmission period)', () => {
    const c = new ScenarioCluster('ehbft');
    c.addNodes(4, { fetchBlocksMax: 2 }, 1, 1);
    const leader = eh(c, '1').status().leader ?? '1';
    const behind = ['1', '2', '3', '4'].find((id) => id !== leader)!;
    const live = ['1', '2', '3', '4'].filter((id) => id !== behind);
    c.crash(behind);
    for (let i = 1; i <= 12; i++) {
      c.propose(leader, `tx${i}`);
      settle(c, live, 3);
    }
    const head = eh(c, leader).status().decidedHeight;
    assert.ok(head >= 12);
    c.restart(behind);
    // The next block tells it how far behind it is; then two rounds of ticks. With one batch of 2
    // per retransmission period (8 ticks) it would be at height 4 at most.
    c.propose(leader, 'wake');
    settle(c, ['1', '2', '3', '4'], 2);
    assert.equal(eh(c, behind).status().decidedHeight, eh(c, leader).status().decidedHeight);
    assert.ok(eh(c, behind).status().decidedHeight > head);
    assert.deepEqual(c.checkAgreement(), []);
  });

  it('a node restarted after the change comes back in the later epoch', () => {
    const c = grownAndShrunk();
    c.crash('3');
    c.restart('3');
    const e3 = eh(c, '3');
    assert.equal(e3.epoch().number, 2);
    assert.deepEqual(e3.status().members, ['2', '3', '4', '5']);
    c.propose('4', 'after restart');
    settle(c, ['2', '3', '4', '5'], 5);
    assert.equal(eh(c, '3').status().decidedHeight, 5);
    assert.deepEqual(c.checkAgreement(), []);
  });

  it('the record check (double insert) and the reputation book carry over a change', () => {
    const c = new ScenarioCluster('ehbft');
    c.addNodes(4, {}, 1, 1);
    const insert = encode({ insert: 'patient-1/record-1' });
    const r = eh(c, '1').propose({ clientId: 'h1', seq: 1, data: insert });
    assert.equal(r.accepted, true);
    settle(c, ['1', '2', '3', '4'], 5);
    c.addNodes(1, {}, 1, 1);
    settle(c, ['1', '2', '3', '4', '5']);
    for (const id of ['1', '2', '3', '4', '5']) {
      const e = eh(c, id);
      assert.equal(e.epoch().number, 1, `${id} epoch`);
      assert.ok(e.hasRecord('patient-1/record-1'), `${id} knows the record (the joiner from the blocks it fetched)`);
      assert.equal(e.reputations().size, 5);
    }
    // A second insertion of the same record is refused by the new member too.
    assert.deepEqual(eh(c, '5').propose({ clientId: 'h5', seq: 1, data: insert }), { accepted: false, reason: 'invalid' });
  });

  it('simulator: five nodes, one joins and one leaves under every fault (seeds 1-3): no violation, members settle', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const r = runSimulation({
        engine: 'ehbft',
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

  it('simulator seed 79, two joins and two leaves: a joiner replays past epochs larger than any it knew (5 → 6 → 7 members)', () => {
    // Regression: the joiner bounded fetched blocks by the member counts it had seen (5), so the
    // 7-member list of the second membership block made every fetched batch malformed and it never
    // caught up (liveness). Now, with membership changes in play, lists are bounded by MEMBERS_MAX.
    const r = runSimulation({
      engine: 'ehbft',
      nodes: 5,
      seed: 79,
      faults: 'all',
      durationMs: 2000,
      crypto: 'fast',
      membership: { joins: 2, leaves: 2 },
      workload: { proposalsPerSecond: 100, proposalsMax: 1000 },
    });
    assert.deepEqual(r.violations, [], JSON.stringify(r.violations));
    assert.equal(r.membershipSchedule?.length, 4);
  });
});
