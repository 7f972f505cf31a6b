// EH-BFT orderer-set change at runtime (issue 12 item 4, decision 1290), multi-process: an EH-BFT
// consortium of four hospitals adds a fifth orderer through a config transaction while
// transactions keep flowing — its orderer starts outside the membership, fetches the decided
// blocks from the members (the engine's catch-up), is taken in by a membership block the leader
// proposes and votes from the next height — then removes one (Hospital2), whose votes count
// nowhere from then on. One chain throughout, every acknowledged transaction in it exactly once,
// and each member's ledger verifies end to end (certificates of every membership epoch included).
// Shared scenario: testdata/orderer-change.ts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decode, fromHex } from '../codec/index.ts';
import { MEMBERS_AFTER, ordererChange } from './testdata/orderer-change.ts';

describe('EH-BFT orderer-set change at runtime: four orderers add a fifth, then remove one', { timeout: 480_000 }, () => {
  const change = ordererChange({
    engine: 'ehbft',
    // The engines retain 4 blocks and Hospital5 joins above height 8: it replays the first blocks
    // from the members' block stores (decision 1390).
    engineOptions: { retainBlocks: 4 },
    joinAbove: 8,
    afterJoin: (net) => {
      // Its engine is a member now (an acceptor or the leader), no longer an outsider catching up.
      const role = (net.status('Hospital5')?.consensus as { role?: string } | null)?.role;
      assert.ok(role === 'acceptor' || role === 'leader', `Hospital5's role ${role}`);
    },
    atEnd: async (net, height) => {
      // The last block's certificate is of epoch 2 (two membership blocks), its quorum of the four
      // members — Hospital5 among them, Hospital2 not — and signed by members only.
      const last = await net.client('Hospital5').block(height);
      assert.equal(last.certificate?.scheme, 'ehbft-commit');
      assert.equal(last.certificate.fields.epoch, 2);
      const listed = decode<string[]>(fromHex(String(last.certificate.fields.members)));
      assert.deepEqual(
        [...listed].sort(),
        MEMBERS_AFTER.map((o) => `node.${o}`),
      );
      assert.ok(last.certificate.signers.length >= 3 && last.certificate.signers.every((s) => listed.includes(s)), last.certificate.signers.join(','));
    },
  });
  before(() => change.start());
  after(() => change.stop());

  it('the fifth orderer catches up by fetching blocks and votes; the removed one votes nowhere; one chain, nothing lost', () => change.run());
});
