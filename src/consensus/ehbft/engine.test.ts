import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encode, utf8 } from '../../codec/index.ts';
import type { Proposal } from '../engine.ts';
import { verifyEhbftCertificate } from './engine.ts';
import { defaultRecordKey } from './records.ts';
import { Cluster } from './cluster.testkit.ts';

let seqCounter = 0;
function p(text: string, clientId = 'client'): Proposal {
  seqCounter += 1;
  return { clientId, seq: seqCounter, data: utf8(text) };
}

function insert(key: string, clientId: string, seq: number): Proposal {
  return { clientId, seq, data: encode({ insert: key, note: 'new record' }) };
}

function heights(c: Cluster, name: string): number[] {
  return c.instance(name).decided.map((b) => b.height);
}

function keysDecided(c: Cluster, name: string): string[] {
  return c.instance(name).decided.flatMap((b) => b.proposals.map((x) => `${x.clientId}#${x.seq}`));
}

describe('ehbft engine', () => {
  it('decides gapless blocks with verifiable ehbft-commit certificates (4 nodes, safe)', () => {
    const c = new Cluster({ nodes: 4, seed: 1 });
    for (let i = 0; i < 6; i++) c.propose(`n${i % 4}`, p(`tx ${i}`));
    c.run(20);
    const ref = c.instance('n0').decided;
    assert.ok(ref.length >= 1);
    assert.equal(
      ref.reduce((s, b) => s + b.proposals.length, 0),
      6,
    );
    const verifier = c.config.identities.verifier;
    for (const name of c.members) {
      assert.deepEqual(
        heights(c, name),
        ref.map((b) => b.height),
      );
      for (const [i, b] of c.instance(name).decided.entries()) {
        assert.equal(b.height, i + 1);
        assert.equal(b.certificate?.scheme, 'ehbft-commit');
        assert.ok(verifyEhbftCertificate(b, c.members, verifier));
      }
    }
    // A certificate with a signature removed no longer proves the block.
    const b = ref[0]!;
    const weakened = { ...b, certificate: { ...b.certificate!, signatures: b.certificate!.signatures.slice(1) } };
    assert.equal(verifyEhbftCertificate(weakened, c.members, verifier), false);
    assert.deepEqual(c.conflicts(), []);
  });

  it('rejects a duplicate insert before consensus, in the batch and against decided records', () => {
    const c = new Cluster({ nodes: 4, seed: 2 });
    assert.equal(defaultRecordKey(insert('patient-1/record-9', 'x', 1).data), 'patient-1/record-9');
    c.propose('n0', insert('patient-1/record-9', 'hospital-a', 1));
    c.propose('n0', insert('patient-1/record-9', 'hospital-b', 1)); // same record, same batch
    c.run(10);
    assert.deepEqual(keysDecided(c, 'n2'), ['hospital-a#1']);
    assert.equal(c.engine('n0').stats.rejectedDuplicateInserts, 1);
    // Once decided, every node knows the record: a later insert is refused at the door.
    assert.deepEqual(c.propose('n3', insert('patient-1/record-9', 'hospital-c', 1)), { accepted: false, reason: 'invalid' });
    assert.equal(c.engine('n3').hasRecord('patient-1/record-9'), true);
  });

  it('acceptors refuse a block re-inserting a record even if their leader does not check', () => {
    // n0 leads view 0 but skips the records check (recordKey → null); the acceptors check.
    const c = new Cluster({ nodes: 4, seed: 3, nodeOptions: { n0: { recordKey: () => null } } });
    c.propose('n1', insert('rx-42', 'pharmacy', 1));
    c.run(10);
    assert.deepEqual(keysDecided(c, 'n1'), ['pharmacy#1']);
    c.propose('n0', insert('rx-42', 'pharmacy', 2)); // a double spend of the prescription
    c.propose('n1', p('an unrelated record'));
    c.run(200);
    for (const name of ['n1', 'n2', 'n3']) {
      const keys = keysDecided(c, name);
      assert.ok(!keys.includes('pharmacy#2'), `${name} must not decide the double insert`);
      assert.ok(keys.includes(`client#${seqCounter}`), `${name} still decides other work after replacing the leader`);
    }
    assert.ok(c.engine('n1').stats.viewChanges >= 1);
    assert.deepEqual(c.conflicts(), []);
  });

  it('rotates the leader after leaderTermTicks and keeps deciding', () => {
    const c = new Cluster({ nodes: 4, seed: 4, options: { leaderTermTicks: 6 } });
    const leaders = new Set<string>();
    for (let t = 0; t < 60; t++) {
      c.propose(`n${t % 4}`, p(`tick ${t}`));
      c.tick();
      const s = c.engine('n2').status();
      if (s.leader) leaders.add(s.leader);
    }
    c.run(10);
    assert.ok(leaders.size >= 3, `leaders seen: ${[...leaders].join(',')}`);
    assert.ok(c.engine('n2').stats.handovers >= 3);
    assert.equal(c.engine('n2').stats.viewChanges, 0, 'hand-over needs no view change');
    assert.equal(keysDecided(c, 'n1').length, 60);
    assert.deepEqual(c.conflicts(), []);
  });

  it('replaces a crashed leader by view change; the restarted node catches up from its storage', () => {
    const c = new Cluster({ nodes: 7, seed: 5 });
    c.propose('n3', p('before'));
    c.run(10);
    c.crash('n0');
    c.propose('n3', p('during'));
    c.run(150);
    const leader = c.engine('n3').status().leader;
    assert.ok(leader !== null && leader !== 'n0', `new leader ${String(leader)}`);
    assert.ok(keysDecided(c, 'n5').includes(`client#${seqCounter}`));
    c.restart('n0');
    assert.equal(c.engine('n0').status().decidedHeight, 1, 'decided state survives the crash');
    c.propose('n2', p('after'));
    c.run(60);
    assert.deepEqual(keysDecided(c, 'n0'), keysDecided(c, 'n6'));
    assert.deepEqual(c.conflicts(), []);
  });

  it('drops malformed messages without throwing', () => {
    const c = new Cluster({ nodes: 4, seed: 6 });
    const e = c.engine('n1');
    const junk: unknown[] = [
      null,
      7,
      { type: 'ehbft/vote' },
      { type: 'ehbft/pre-prepare', view: -1 },
      { type: 'ehbft/blocks', blocks: [{}] },
      { type: 'nope' },
    ];
    for (const m of junk) e.step('n0', m as never);
    e.step('stranger', { type: 'ehbft/fetch', height: 1 });
    assert.equal(e.hasReady(), false);
  });

  it("demonstration: 'paper' quorums let two Byzantine twins split correct nodes; 'safe' does not", () => {
    // n0 (the view-0 leader) and n1 are Byzantine, each running as two twins with one key; the
    // twins sit on both sides of a partition. ⌊7/2⌋+1 = 4 votes decide under 'paper': each side
    // has 4 nodes, so the correct nodes n2,n3 and n4,n5,n6 decide different blocks at height 1.
    // Under 'safe' (5 of 7) only the 5-node side can decide.
    const outcome: Record<string, number> = {};
    for (const quorum of ['paper', 'safe'] as const) {
      const c = new Cluster({ nodes: 7, seed: 11, twins: ['n0', 'n1'], options: { quorum } });
      c.partition([
        ['n0', 'n1', 'n2', 'n3'],
        ["n0'", "n1'", 'n4', 'n5', 'n6'],
      ]);
      c.propose('n0', { clientId: 'alice', seq: 1, data: utf8('transfer 100 to A') });
      c.propose("n0'", { clientId: 'bob', seq: 1, data: utf8('transfer 100 to B') });
      c.run(30);
      c.heal();
      c.run(60);
      outcome[quorum] = c.conflicts(['n2', 'n3', 'n4', 'n5', 'n6']).length;
      if (quorum === 'safe') {
        for (const n of ['n2', 'n3', 'n4', 'n5', 'n6']) assert.deepEqual(keysDecided(c, n).sort(), ['alice#1', 'bob#1']);
      }
    }
    assert.ok(outcome.paper! > 0, 'paper quorums decide conflicting blocks');
    assert.equal(outcome.safe, 0);
  });

  it('an equivocating leader is proven, banned from leading and ranked last', () => {
    // n0 runs as twins that propose different blocks for the same (view, height) to everyone.
    const c = new Cluster({ nodes: 4, seed: 12, twins: ['n0'] });
    c.propose('n0', { clientId: 'alice', seq: 1, data: utf8('A') });
    c.propose("n0'", { clientId: 'bob', seq: 1, data: utf8('B') });
    c.run(80);
    for (let i = 0; i < 4; i++) c.propose('n2', p(`later ${i}`));
    c.run(80);
    const e = c.engine('n3');
    assert.ok(
      [1, 2, 3].some((i) => c.engine(`n${i}`).stats.evidenceCollected > 0),
      'someone caught the two signed pre-prepares',
    );
    assert.equal(e.reputations().get('n0'), 0);
    assert.equal(e.quorumPlan().eligible.at(-1), 'n0');
    assert.notEqual(e.status().leader, 'n0');
    assert.deepEqual(c.conflicts(['n1', 'n2', 'n3']), []);
  });
});
