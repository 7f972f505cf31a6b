// Hash-generator orderer-set change at runtime (issue 12 item 4, decision 1295), multi-process: a
// hashgen consortium of four hospitals adds a fifth orderer through a config transaction while
// transactions keep flowing — its orderer starts outside the generator list, fetches the decided
// blocks, is taken in by a membership entry the generator proposes and validates — then removes
// one (Hospital2), whose generator votes nowhere from then on. One chain throughout, every
// acknowledged transaction in it exactly once, and each member's ledger verifies end to end
// (certificates of every membership epoch included). Shared scenario: testdata/orderer-change.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ordererChange } from './testdata/orderer-change.ts';

describe('hashgen orderer-set change at runtime: four generators add a fifth, then remove one', { timeout: 480_000 }, () => {
  let removedAt = 0;
  let signedBy5 = 0;
  const change = ordererChange({
    engine: 'hashgen',
    // The engines retain 16 blocks (the least allowed) and Hospital5 joins above height 20: it
    // replays the first blocks from the members' block stores (decision 1390).
    engineOptions: { blocksRetained: 16 },
    joinAbove: 20,
    atEnd: (net) => {
      // Hospital5's generator takes part (a member, not an outsider).
      const role5 = net.status('Hospital5')?.consensus?.role;
      assert.ok(role5 === 'validator' || role5 === 'generator' || role5 === 'candidate', `Hospital5's role: ${role5}`);
      assert.ok(removedAt > 0, 'blocks were decided by the list without Hospital2');
      assert.ok(signedBy5 > 0, 'node.Hospital5 validated blocks (its signature is in certificates)');
    },
    eachBlock: (block, n) => {
      const signers = block.certificate?.signers ?? [];
      if (signers.includes('node.Hospital5')) signedBy5 += 1;
      // After the membership block that removed it (the 2nd), no certificate holds its vote.
      if (block.certificate?.fields.config === 2 && removedAt === 0) removedAt = n;
      if (removedAt > 0) assert.ok(!signers.includes('node.Hospital2'), `block ${n}: no vote of the removed node.Hospital2`);
    },
  });
  before(() => change.start());
  after(() => change.stop());

  it('the fifth generator catches up and validates; the removed one votes nowhere; one chain, nothing lost', () => change.run());
});
