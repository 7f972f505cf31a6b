// gpbft orderer-set change at runtime (issue 12 item 4, decision 1280), multi-process: a gpbft
// consortium of four hospitals (the smallest the engine allows: one group of 3f+1 = 4) adds a
// fifth orderer through a config transaction while transactions keep flowing — its engine starts
// outside the membership, the members order the paper's join (to the nearest group, at the
// position and rating of its node entry), it catches up from the members' blocks and votes —
// then removes one (Hospital2), whose votes and requests count nowhere from then on. The period
// T is 20 blocks, so the running nodes regroup several times meanwhile. One chain throughout,
// every acknowledged transaction in it exactly once, the two membership entries stored with
// CONSENSUS_CONTROL, and each member's ledger verifies end to end.
// Shared scenario: testdata/orderer-change.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ordererChange } from './testdata/orderer-change.ts';

describe('gpbft orderer-set change at runtime: four orderers add a fifth, then remove one', { timeout: 480_000 }, () => {
  let controlEntries = 0;
  const change = ordererChange({
    engine: 'gpbft',
    // The engines retain 4 blocks and Hospital5 joins above height 8: it replays the first blocks
    // from the members' block stores (decision 1390).
    engineOptions: { periodBlocks: 20, retainBlocks: 4 },
    joinAbove: 8,
    heightAtLeast: 41,
    hospital5: { location: { lat: 44.2312, lon: -76.486 }, rating: 0.7 },
    eachBlock: (block) => {
      for (const tx of block.txs) if (tx.code === 'CONSENSUS_CONTROL') controlEntries += 1;
    },
    atEnd: (_net, height) => {
      assert.equal(controlEntries, 2, 'the join of Hospital5 and the removal of Hospital2, each stored once as CONSENSUS_CONTROL');
      assert.ok(height > 40, `at least two periods of 20 blocks (regrouping) in the run (height ${height})`);
    },
  });
  before(() => change.start());
  after(() => change.stop());

  it('the fifth orderer joins its nearest group, catches up and votes; the removed one votes nowhere; one chain, nothing lost', () => change.run());
});
