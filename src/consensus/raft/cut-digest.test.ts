// A leader applying an entry it cut itself takes the digest it computed at the cut instead of
// hashing the batch again — only when the inputs are the same (the height, the previous digest it
// was chained on, every proposal kept). Whatever path each node took, every node's chain must be
// the one a reader recomputes from genesis, across a change of leader too.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bytesEqual, utf8 } from '../../codec/index.ts';
import type { DecidedBlock } from '../engine.ts';
import { blockDigest, GENESIS_DIGEST } from '../digest.ts';
import { verifyRaftCertificate } from './engine.ts';
import { cluster, ids, verifier } from './three-nodes.testkit.ts';

/** Recompute each block's digest from genesis and its proposals; check the links and certificates. */
function checkChain(blocks: readonly DecidedBlock[], who: string): void {
  let previous = GENESIS_DIGEST;
  blocks.forEach((b, i) => {
    assert.equal(b.height, i + 1, `${who}: heights are gapless`);
    assert.ok(bytesEqual(b.previousDigest, previous), `${who}: block ${b.height} links to the one before`);
    assert.ok(bytesEqual(b.digest, blockDigest(b.height, previous, b.proposals)), `${who}: block ${b.height}'s digest is its contents'`);
    assert.ok(verifyRaftCertificate(b, verifier), `${who}: block ${b.height}'s certificate verifies`);
    previous = b.digest;
  });
}

describe('raft: a leader reuses the digest of the blocks it cut', () => {
  it('every node holds the chain recomputed from genesis — duplicates dropped at the cut, and after the leader changes', () => {
    const { engines, leader, decided, pump } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    pump();
    leader.propose({ clientId: 'c', seq: 2, data: utf8('b') });
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') }); // a duplicate: not ordered twice
    leader.propose({ clientId: 'd', seq: 1, data: utf8('c') });
    pump();
    const next = ids.find((id) => id !== leader.id)!;
    assert.ok(leader.transferLeadership(next));
    pump();
    const successor = engines.get(next)!;
    assert.equal(successor.status().role, 'leader', 'leadership moved');
    successor.propose({ clientId: 'c', seq: 3, data: utf8('d') });
    pump();
    successor.propose({ clientId: 'd', seq: 2, data: utf8('e') });
    successor.propose({ clientId: 'c', seq: 3, data: utf8('d') }); // a duplicate, under the new leader
    pump();
    const chains = ids.map((id) => decided.get(id)!);
    for (const [i, id] of ids.entries()) checkChain(chains[i]!, id);
    const payloads = chains[0]!.flatMap((b) => b.proposals.map((p) => new TextDecoder().decode(p.data)));
    assert.deepEqual(payloads, ['a', 'b', 'c', 'd', 'e'], 'each payload once, in order');
    for (const chain of chains.slice(1)) {
      assert.deepEqual(
        chain.map((b) => Buffer.from(b.digest).toString('hex')),
        chains[0]!.map((b) => Buffer.from(b.digest).toString('hex')),
        'one chain on every node',
      );
    }
  });
});
