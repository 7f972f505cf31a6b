// Hash-generator orderer-set changes (issue 12 item 4, decision 1295): add a generator, remove
// one, under the paper's quorums and the bft ones; the refusals — a removed generator's
// messages, a vote bound to an ended membership epoch, a membership step a validator's config
// does not ask for, a step that is not a single one, a client using the reserved id, removing a
// faithful CAMS — restart into a later membership epoch, and the simulator with joins and leaves
// (the 1,000-seed campaign: docs/results/hashgen-membership-campaign.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode } from '../../codec/index.ts';
import { keyPairSigner } from '../../crypto/index.ts';
import { CATCH_UP_BYTES_MAX } from '../decided-chain.ts';
import { blockDigest } from '../digest.ts';
import { ScenarioCluster, type InFlight } from '../scenario/cluster.testkit.ts';
import { runSimulation } from '../../sim/index.ts';
import '../engines.ts';
import type { HashgenEngine } from './engine.ts';
import { membershipEntry } from './membership.ts';
import { signedBody, type HgBlock, type HgHeartbeat } from './messages.ts';
import { verifyHashgenCertificate } from './rules.ts';

const ENGINES = ['hashgen', 'hashgen-bft'] as const;

function hg(c: ScenarioCluster, id: string): HashgenEngine {
  return c.engine(id) as unknown as HashgenEngine;
}

/** Tick every live node `n` times, delivering everything after each round; the messages delivered. */
function run(c: ScenarioCluster, n: number, target?: string[]): InFlight[] {
  const log: InFlight[] = [];
  for (let i = 0; i < n; i++) {
    for (const id of c.liveIds()) {
      c.tick(id);
      if (target) {
        hg(c, id).reconfigure(target);
        c.processReady(id);
      }
    }
    log.push(...c.stabilize());
  }
  return log;
}

/** Four generators, a fifth added, then generator 1 removed; returns the cluster. */
function grownAndShrunk(engine: string): ScenarioCluster {
  const c = new ScenarioCluster(engine);
  c.addNodes(4, { difficultyBits: 4 }, 2, 1);
  run(c, 2);
  c.propose('2', 'a');
  c.propose('3', 'b');
  run(c, 3);
  c.addNodes(1, { difficultyBits: 4 }, 2, 1);
  run(c, 20, ['1', '2', '3', '4', '5']);
  run(c, 20, ['2', '3', '4', '5']);
  return c;
}

for (const engine of ENGINES) {
  describe(`${engine}: orderer-set changes`, () => {
    it('adds a generator (it catches up, then validates) and removes one; quorums follow the list', () => {
      const c = grownAndShrunk(engine);
      for (const id of ['2', '3', '4', '5']) {
        const e = hg(c, id);
        assert.deepEqual(e.status().members, ['2', '3', '4', '5'], `${id} members`);
        assert.equal(e.diagnostics().membershipNumber, 2, `${id} membership epoch`);
        assert.notEqual(e.status().role, 'outsider');
      }
      // paper, 4 generators: ⌊3/2⌋+1 = 2 validations; bft: q = 3.
      assert.equal(hg(c, '2').diagnostics().thresholds.validations, engine === 'hashgen' ? 2 : 3);
      assert.equal(hg(c, '1').status().role, 'outsider');
      assert.equal(c.propose('1', 'late'), 'c#3 rejected: not-member');
      c.propose('5', 'from the joiner');
      c.propose('4', 'and another');
      const log = run(c, 5);
      // The joiner takes part: it validates the new list's blocks (and its validations count).
      assert.ok(log.some((m) => m.from === '5' && m.message.type === (engine === 'hashgen' ? 'hashgen/validate' : 'hashgen/commit')));
      const heights = ['2', '3', '4', '5'].map((id) => hg(c, id).status().decidedHeight);
      assert.ok(
        heights.every((h) => h === heights[0]),
        `one height: ${heights.join(' ')}`,
      );
      assert.deepEqual(c.checkAgreement(), []);
      // Both membership blocks are empty, and their certificates name the next list.
      const blocks = c.nodes.get('2')!.blocks;
      const changes = blocks.filter((b) => b.certificate?.fields.next !== undefined);
      assert.equal(changes.length, 2);
      assert.deepEqual(
        changes.map((b) => decode(b.certificate!.fields.next as Uint8Array)),
        [
          ['1', '2', '3', '4', '5'],
          ['2', '3', '4', '5'],
        ],
      );
      for (const b of changes) assert.equal(b.proposals.length, 0);
      // Every transaction is decided once, in the same place on every member, the joiner included.
      const data = (id: string): string[] => c.nodes.get(id)!.blocks.flatMap((b) => b.proposals.map((p) => new TextDecoder().decode(p.data)));
      assert.deepEqual(data('5'), data('2'));
      assert.deepEqual(data('2').sort(), ['a', 'and another', 'b', 'from the joiner']);
      // Blocks after the removal are decided by the new list only.
      const last = blocks.at(-1)!;
      assert.equal(last.certificate!.fields.config, 2);
      assert.ok(!blocks.some((b) => b.certificate!.fields.config === 2 && b.certificate!.signatures.some((s) => s.nodeId === '1')));
    });

    it("a generator joining a chain longer than the members retain replays it from their nodes' chains (EngineContext.archive)", () => {
      for (const archive of [true, false]) {
        const c = new ScenarioCluster(engine, { archive });
        c.addNodes(4, { difficultyBits: 4, blocksRetained: 16 }, 1, 1);
        run(c, 2);
        for (let i = 1; i <= 20; i++) {
          c.propose(String((i % 4) + 1), `tx${i}`);
          run(c, 2);
        }
        const head = hg(c, '2').status().decidedHeight;
        assert.ok(head >= 20, `twenty blocks decided (${head}), more than the 16 retained`);
        c.addNodes(1, { difficultyBits: 4, blocksRetained: 16 }, 1, 1);
        run(c, 30, ['1', '2', '3', '4', '5']);
        const after = hg(c, '2').status().decidedHeight;
        assert.deepEqual(hg(c, '2').status().members, ['1', '2', '3', '4', '5'], 'the four took the fifth in either way');
        if (!archive) {
          assert.equal(hg(c, '5').status().decidedHeight, 0, 'without the archive the joiner cannot start: block 1 left retention');
          continue;
        }
        assert.equal(hg(c, '5').status().decidedHeight, after, 'the joiner replayed every block');
        assert.notEqual(hg(c, '5').status().role, 'outsider');
        const data = (id: string): string[] => c.nodes.get(id)!.blocks.flatMap((b) => b.proposals.map((p) => new TextDecoder().decode(p.data)));
        assert.deepEqual(data('5'), data('2'));
        // It validates from here on (hashgen-bft: 4 validations of 5, so with one generator down its vote is needed).
        c.crash('4');
        c.propose('2', 'after the join');
        run(c, 20, ['1', '2', '3', '4', '5']);
        for (const id of ['1', '2', '3', '5']) assert.equal(data(id).at(-1), 'after the join', `${id} ordered the next proposal`);
        assert.deepEqual(c.checkAgreement(), []);
      }
    });

    it('a node far behind asks for the next batch as soon as a full one took it forward (not once per retransmission period)', () => {
      const c = new ScenarioCluster(engine);
      c.addNodes(4, { difficultyBits: 4, fetchBlocksMax: 2 }, 1, 1);
      run(c, 2);
      c.crash('4');
      for (let i = 1; i <= 12; i++) {
        c.propose(String((i % 3) + 1), `tx${i}`);
        run(c, 2);
      }
      const head = hg(c, '1').status().decidedHeight;
      assert.ok(head >= 12, `${head} blocks`);
      c.restart('4');
      // The next block tells it how far behind it is; then two rounds of ticks. With one batch of
      // 2 per retransmission period (5 ticks) it would be at height 2 or 4.
      c.propose('1', 'wake');
      run(c, 2);
      assert.ok(hg(c, '1').status().decidedHeight > head);
      assert.equal(hg(c, '4').status().decidedHeight, hg(c, '1').status().decidedHeight);
      assert.deepEqual(c.checkAgreement(), []);
    });

    it('a node far behind a chain of large blocks gets them in replies cut by bytes (each under CATCH_UP_BYTES_MAX) and catches up', () => {
      const c = new ScenarioCluster(engine);
      c.addNodes(4, { difficultyBits: 4 }, 1, 1);
      run(c, 2);
      c.crash('4');
      // 24 blocks of ~300 KB: 7 MB, more than one reply may carry, fewer than fetchBlocksMax (64).
      const big = 'y'.repeat(300 * 1024);
      for (let i = 1; i <= 24; i++) {
        c.propose(String((i % 3) + 1), `${i}:${big}`);
        run(c, 2);
      }
      const head = hg(c, '1').status().decidedHeight;
      assert.ok(head >= 24, `${head} blocks`);
      c.restart('4');
      c.propose('1', 'wake');
      const log = run(c, 3);
      const replies = log.filter((m) => m.to === '4' && m.message.type === 'hashgen/blocks');
      assert.ok(replies.length >= 2, `the chain came in ${replies.length} replies`);
      for (const r of replies) assert.ok(encode(r.message).byteLength <= CATCH_UP_BYTES_MAX + 1024, 'each reply within the budget');
      assert.equal(hg(c, '4').status().decidedHeight, hg(c, '1').status().decidedHeight);
      assert.deepEqual(c.checkAgreement(), []);
    });

    it('a generator restarted after the change comes back in the later membership epoch', () => {
      const c = grownAndShrunk(engine);
      c.crash('3');
      c.restart('3');
      const e = hg(c, '3');
      assert.equal(e.diagnostics().membershipNumber, 2);
      assert.deepEqual(e.status().members, ['2', '3', '4', '5']);
      assert.equal(e.diagnostics().membershipStartHeight, hg(c, '2').diagnostics().membershipStartHeight);
      c.propose('4', 'after restart');
      run(c, 6, ['2', '3', '4', '5']);
      assert.equal(hg(c, '3').status().decidedHeight, hg(c, '2').status().decidedHeight);
      assert.deepEqual(c.checkAgreement(), []);
    });
  });
}

describe('hashgen: membership refusals', () => {
  it("drops a removed generator's messages: its later-epoch heartbeat leads no one, its auth request gets no vote", () => {
    const c = grownAndShrunk('hashgen');
    const e2 = hg(c, '2');
    const removed = keyPairSigner('1', c.nodes.get('1')!.keyPair);
    const leader = e2.status().leader;
    const promised = e2.diagnostics().promiseEpoch;
    const hbBody = { type: 'hashgen/heartbeat' as const, epoch: promised + 10, generator: '1', height: e2.status().decidedHeight, sig: new Uint8Array(0) };
    const hb: HgHeartbeat = { ...hbBody, sig: removed.sign(signedBody(hbBody)) };
    e2.step('1', hb);
    assert.equal(e2.status().leader, leader, 'a removed generator leads no one');
    const reqBody = {
      type: 'hashgen/auth-req' as const,
      epoch: promised + 10,
      candidate: '1',
      height: e2.status().decidedHeight,
      select: null,
      sig: new Uint8Array(0),
    };
    e2.step('1', { ...reqBody, sig: removed.sign(signedBody(reqBody)) });
    assert.equal(e2.diagnostics().promiseEpoch, promised, 'no promise to a removed generator');
    assert.ok(!c.processReady('2').some((m) => m.message.type === 'hashgen/auth-vote'));
  });

  it('a certificate whose votes were cast in another membership epoch does not verify', () => {
    const c = grownAndShrunk('hashgen');
    c.propose('3', 'x');
    run(c, 3);
    const block = c.nodes.get('2')!.blocks.at(-1)!;
    assert.equal(block.certificate!.fields.config, 2);
    const all = [...c.nodes.keys()];
    assert.ok(verifyHashgenCertificate(block, all, c.verifier, { mode: 'paper', difficultyBits: 0 }));
    const cert = block.certificate!;
    for (const config of [1, 3]) {
      const moved = { ...block, certificate: { ...cert, fields: { ...cert.fields, config } } };
      assert.ok(!verifyHashgenCertificate(moved, all, c.verifier, { mode: 'paper', difficultyBits: 0 }), `config ${config}`);
    }
    // A list naming an orderer the verifier does not know, or a sub-list lowering the quorum.
    const stranger = { ...block, certificate: { ...cert, fields: { ...cert.fields, members: encode(['2', '3', '4', '5', '9']) } } };
    assert.ok(!verifyHashgenCertificate(stranger, all, c.verifier, { mode: 'paper', difficultyBits: 0 }));
  });

  it('a validator refuses a step its config does not ask for (no blame), bars a generator proposing two steps at once', () => {
    const c = new ScenarioCluster('hashgen');
    c.addNodes(4, { difficultyBits: 4 }, 2, 1);
    run(c, 2);
    const generator = hg(c, '2').status().leader!;
    assert.equal(generator, '1');
    const e2 = hg(c, '2');
    e2.reconfigure(['1', '2', '3', '4', '5']);
    c.processReady('2');
    const signer = keyPairSigner('1', c.nodes.get('1')!.keyPair);
    const epoch = e2.diagnostics().promiseEpoch;
    const block = (proposals: HgBlock['proposals']): HgBlock => {
      const body = {
        type: 'hashgen/block' as const,
        epoch,
        height: 1,
        prev: blockDigest(0, new Uint8Array(32), []).fill(0),
        proposals,
        generator: '1',
        justification: [],
        sig: new Uint8Array(0),
      };
      return { ...body, sig: signer.sign(signedBody(body)) };
    };
    // 1,2,3,4,9: a single step, but not the one generator 2's config in force asks for.
    e2.step('1', block([membershipEntry(1, ['1', '2', '3', '4', '9'])]));
    assert.ok(!c.processReady('2').some((m) => m.message.type === 'hashgen/validate'), 'no validation');
    assert.deepEqual(e2.diagnostics().barred, [], 'no blame: its ledger may be behind');
    // The step it asks for is validated.
    e2.step('1', block([membershipEntry(1, ['1', '2', '3', '4', '5'])]));
    assert.ok(c.processReady('2').some((m) => m.message.type === 'hashgen/validate'));
    // Two generators at once is no step any correct generator makes.
    const e3 = hg(c, '3');
    e3.reconfigure(['1', '2', '3', '4', '5', '6']);
    e3.step('1', block([membershipEntry(1, ['1', '2', '3', '4', '5', '6'])]));
    assert.deepEqual(e3.diagnostics().barred, ['1']);
    // And a client may not use the reserved client id.
    assert.deepEqual(e2.propose(membershipEntry(1, ['1', '2', '3', '4', '5'])), { accepted: false, reason: 'invalid' });
  });

  it('ignores a malformed target; under faithful CAMS never removes the CAMS node', () => {
    const c = new ScenarioCluster('hashgen');
    c.addNodes(4, { difficultyBits: 4, cams: 'node', camsId: '1' }, 2, 1);
    run(c, 2);
    assert.equal(hg(c, '1').reconfigure([]), 'settled');
    assert.equal(hg(c, '1').reconfigure(['1', '1', '2']), 'settled');
    assert.equal(hg(c, '1').diagnostics().target, null);
    run(c, 20, ['2', '3', '4']);
    for (const id of c.liveIds()) {
      assert.deepEqual(hg(c, id).status().members, ['1', '2', '3', '4'], `${id}: CAMS stays`);
      assert.equal(hg(c, id).reconfigure(['2', '3', '4']), 'settled');
    }
    // Another member can go.
    run(c, 20, ['1', '2', '4']);
    for (const id of ['1', '2', '4']) assert.deepEqual(hg(c, id).status().members, ['1', '2', '4']);
    assert.deepEqual(c.checkAgreement(), []);
  });
});

describe('hashgen: membership in the simulator', () => {
  it('five generators, one joins and one leaves under crashes, partitions and network faults (seeds 1-3)', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const r = runSimulation({
        engine: 'hashgen',
        nodes: 5,
        seed,
        faults: 'all',
        durationMs: 2000,
        crypto: 'fast',
        membership: { joins: 1, leaves: 1 },
        workload: { proposalsPerSecond: 100, proposalsMax: 150 },
      });
      assert.deepEqual(r.violations, [], `seed ${seed}: ${JSON.stringify(r.violations)}`);
      assert.equal(r.membershipSchedule?.length, 2);
      assert.equal(r.metrics.decidedProposals, 150);
    }
  });

  it('hashgen-bft: five generators, one joins and one leaves, one Byzantine (seeds 1-2)', () => {
    for (let seed = 1; seed <= 2; seed++) {
      const r = runSimulation({
        engine: 'hashgen-bft',
        nodes: 5,
        seed,
        faults: 'all',
        durationMs: 2000,
        crypto: 'fast',
        membership: { joins: 1, leaves: 1 },
        workload: { proposalsPerSecond: 100, proposalsMax: 150 },
      });
      assert.deepEqual(r.violations, [], `seed ${seed}: ${JSON.stringify(r.violations)}`);
      assert.equal(r.metrics.decidedProposals, 150);
    }
  });
});
