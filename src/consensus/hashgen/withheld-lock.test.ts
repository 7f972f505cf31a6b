// hashgen-bft: a generator that alone holds a lock must not turn the correct generators against one
// another (decision 1395).
//
// The attack: generator g1 gathers its validation quorum, seals the block and locks it, but never
// sends the seal, so no correct node locks. When a correct candidate asks for its authentication
// vote, g1 reports its lock (the certificate is real: the validations are the correct nodes') but
// with no proposals — they are not under the vote's signature. Before 1395 the candidate counted the
// vote, found no block to re-propose and cut a fresh one; every correct validator then saw a block
// that violates a reported lock and barred its generator for good, one correct generator after another.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from './cluster.testkit.ts';

describe('hashgen-bft: a lock reported without its block', () => {
  it('a candidate refuses the bare report; the correct generators decide and bar nobody correct', () => {
    const c = new Cluster(4, {}, 'bft');
    c.tick(2);
    assert.equal(c.generatorOf('g2'), 'g1', 'g1 generates epoch 1');
    let bareReports = 0;
    let sealsWithheld = 0;
    c.intercept = (e) => {
      if (e.from !== 'g1') return [e.message];
      if (e.message.type === 'hashgen/seal') {
        sealsWithheld += 1;
        return [];
      }
      if (e.message.type === 'hashgen/auth-vote' && e.message.report !== null) {
        bareReports += 1;
        return [{ ...e.message, proposals: [] }];
      }
      return [e.message];
    };
    for (let seq = 1; seq <= 3; seq++) c.propose('g2', c.proposal(seq));
    c.tick(3);
    assert.ok(sealsWithheld > 0, 'g1 sealed (so locked) height 1 and told no one');
    // More work arrives, so a fresh block at height 1 differs from the one g1 locked.
    for (let seq = 4; seq <= 6; seq++) c.propose('g3', c.proposal(seq));
    c.tickUntil(() => ['g2', 'g3', 'g4'].every((id) => c.decided.get(id)!.flatMap((b) => b.proposals).length >= 6), 2_000);
    assert.ok(bareReports > 0, 'g1 reported its lock without the block');
    c.assertAgreement();
    for (const id of ['g2', 'g3', 'g4']) {
      const barred = c
        .node(id)
        .diagnostics()
        .misbehaviours.filter((m) => m.generator !== 'g1');
      assert.deepEqual(barred, [], `${id} blamed no correct generator`);
    }
  });
});
