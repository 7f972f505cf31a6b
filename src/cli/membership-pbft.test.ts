// PBFT orderer-set change at runtime (issue 12 item 4, decision 1270), multi-process: a PBFT
// consortium of four hospitals adds a fifth orderer through a config transaction while
// transactions keep flowing — its orderer starts outside the membership, is taken in by a
// membership entry the primary orders, comes in by state transfer and votes — then removes one
// (Hospital2), whose replica votes nowhere from then on. One chain throughout, every acknowledged
// transaction in it exactly once, and each member's ledger verifies end to end (certificates of
// every membership epoch included). The scenario is shared by every engine: testdata/orderer-change.ts.
import { after, before, describe, it } from 'node:test';
import { ordererChange } from './testdata/orderer-change.ts';

describe('PBFT orderer-set change at runtime: four orderers add a fifth, then remove one', { timeout: 480_000 }, () => {
  const change = ordererChange({ engine: 'pbft' });
  before(() => change.start());
  after(() => change.stop());

  it('the fifth orderer joins by state transfer and votes; the removed one votes nowhere; one chain, nothing lost', () => change.run());
});
