// Decision 1414: the leader signs the block an entry becomes after the entry left — its appends go
// out with an empty signature, the leader signs once the driver advanced past that Ready, and the
// signature follows with the commit index. A node that applies an entry whose leader's signature
// never reached it certifies the block itself; every certificate verifies either way.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../codec/index.ts';
import { runSimulation } from '../../sim/index.ts';
import { cluster, ids, signerOf, verifier, type Sent } from './three-nodes.testkit.ts';
import { certificateBytes, verifyRaftCertificate } from './engine.ts';
import { blockDigest, GENESIS_DIGEST } from '../digest.ts';
import { validMessage, type RaftMessage } from './messages.ts';

const sigsOf = (m: RaftMessage): readonly { index: number }[] => (m.type === 'raft/append' || m.type === 'raft/commit' ? (m.sigs ?? []) : []);

describe('raft: block signatures made after the entry left (decision 1414)', () => {
  it("an entry leaves unsigned; its leader's signature follows with the commit index and certifies the block on every node", () => {
    const { leader, decided, pump } = cluster(1);
    const followers = ids.filter((id) => id !== leader.id);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    const sent = pump();
    const index = leader.raftStatus().commit;
    const withEntry = sent.filter((m) => m.message.type === 'raft/append' && m.message.entries.some((e) => e.index === index));
    assert.equal(withEntry.length, 2);
    for (const m of withEntry) {
      const e = m.message.type === 'raft/append' ? m.message.entries.find((x) => x.index === index) : undefined;
      assert.equal(e?.cert?.signature.byteLength, 0, 'the entry left without its signature');
    }
    // The commit index reached each follower in a raft/commit that carries the signature.
    for (const f of followers) {
      const notice = sent.find((m) => m.to === f && m.message.type === 'raft/commit' && m.message.commit === index);
      assert.ok(notice, `${f} got the commit notice`);
      assert.deepEqual(
        sigsOf(notice.message).map((s) => s.index),
        [index],
      );
    }
    for (const id of ids) {
      const block = decided.get(id)!.at(-1)!;
      assert.equal(block.height, 1);
      assert.ok(verifyRaftCertificate(block, verifier), `${id}'s certificate verifies`);
      assert.equal(block.certificate?.signatures[0]?.nodeId, leader.id, `${id}'s block carries the leader's signature`);
    }
  });

  it('at one payload in flight the signature rides on the next entry, with the commit index', () => {
    const { leader, decided, pump } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    pump(undefined, 'hold'); // the notice is held: the next entry carries the index
    const first = leader.raftStatus().commit;
    leader.propose({ clientId: 'c', seq: 2, data: utf8('b') });
    const sent = pump(undefined, 'hold');
    const next = sent.filter((m) => m.message.type === 'raft/append' && m.message.prevIndex === first);
    assert.equal(next.length, 2);
    for (const m of next) {
      assert.equal(m.message.type === 'raft/append' && m.message.commit, first);
      assert.deepEqual(
        sigsOf(m.message).map((s) => s.index),
        [first],
      );
    }
    assert.equal(next[0]!.message, next[1]!.message, 'still one append object for both followers (decision 1406)');
    for (const id of ids.filter((x) => x !== leader.id)) {
      const block = decided.get(id)!.find((b) => b.height === 1)!;
      assert.equal(block.certificate?.signatures[0]?.nodeId, leader.id);
      assert.ok(verifyRaftCertificate(block, verifier));
    }
  });

  it("when a tick tells the held notices, they go before its heartbeats: followers still get the leader's signature", () => {
    const { engines, leader, decided, pump, drain } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    pump(undefined, 'hold'); // committed at the leader; the notices wait for the driver's flush
    assert.equal(decided.get(leader.id)!.length, 1);
    const followers = ids.filter((id) => id !== leader.id);
    assert.ok(followers.every((f) => decided.get(f)!.length === 0));
    // The driver never flushed; the next tick tells the notices and sends heartbeats.
    for (let t = 0; t < 3; t++) engines.get(leader.id)!.tick();
    drain(leader.id);
    pump(undefined, 'hold');
    for (const f of followers) {
      const block = decided.get(f)!.find((b) => b.height === 1);
      assert.ok(block, `${f} applied the entry`);
      assert.equal(block.certificate?.signatures[0]?.nodeId, leader.id, `${f}'s certificate is the leader's signature`);
    }
  });

  it("a follower that never receives the leader's signature certifies the block itself", () => {
    const { engines, leader, decided, pump, drain } = cluster(1);
    const [lost, kept] = ids.filter((id) => id !== leader.id) as [string, string];
    // The messages carrying signatures to one follower are lost.
    const carriesSigs = (m: Sent): boolean => m.to === lost && sigsOf(m.message).length > 0;
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    const sent = pump(carriesSigs);
    const notice = sent.find(carriesSigs);
    assert.ok(notice?.message.type === 'raft/commit', 'the commit notice carried the signature');
    assert.equal(decided.get(lost)!.length, 0, 'without the notice the follower has not applied');
    // The same notice without its signatures (what a node before decision 1414 would send).
    const { sigs: _dropped, ...bare } = notice.message;
    engines.get(lost)!.step(leader.id, bare);
    drain(lost);
    const own = decided.get(lost)!.find((b) => b.height === 1);
    assert.ok(own, 'the follower applied the entry');
    assert.equal(own.certificate?.signatures[0]?.nodeId, lost, 'it certified the block itself');
    assert.ok(verifyRaftCertificate(own, verifier));
    const other = decided.get(kept)!.find((b) => b.height === 1)!;
    assert.equal(other.certificate?.signatures[0]?.nodeId, leader.id);
    assert.deepEqual(own.digest, other.digest, 'the same block, certified by another member');
  });

  it('an entry cut before decision 1414 (its signature inside) is certified with that signature', () => {
    const { engines, leader, decided, drain } = cluster(1);
    const follower = ids.find((id) => id !== leader.id)!;
    const f = engines.get(follower)!;
    const { term, lastIndex } = f.raftStatus();
    const proposals = [{ clientId: 'old', seq: 1, data: utf8('from before the upgrade') }];
    const digest = blockDigest(1, GENESIS_DIGEST, proposals);
    const signature = signerOf(leader.id).sign(certificateBytes(term, 1, digest));
    const entry = { term, index: lastIndex + 1, kind: 'normal' as const, proposals, conf: null, cert: { leader: leader.id, height: 1, digest, signature } };
    // As a leader of the former version sent it: the signature in the entry, no sigs field.
    f.step(leader.id, { type: 'raft/append', term, prevIndex: lastIndex, prevTerm: term, entries: [entry], commit: lastIndex + 1 });
    drain(follower);
    const block = decided.get(follower)!.find((b) => b.height === 1);
    assert.ok(block, 'the follower applied it');
    assert.equal(block.certificate?.signatures[0]?.nodeId, leader.id);
    assert.deepEqual(block.certificate?.signatures[0]?.signature, signature, "the entry's own signature");
    assert.ok(verifyRaftCertificate(block, verifier));
  });

  it('a malformed signature list makes the message invalid; an absent one is none', () => {
    const base = { type: 'raft/commit', term: 1, prevIndex: 1, prevTerm: 1, commit: 1 };
    assert.deepEqual(validMessage(base), { ...base, sigs: [] });
    assert.equal(validMessage({ ...base, sigs: [{ index: 0, term: 1, signature: new Uint8Array(64) }] }), null, 'index 0');
    assert.equal(validMessage({ ...base, sigs: [{ index: 1, term: 1, signature: 'x' }] }), null, 'not bytes');
    assert.equal(validMessage({ ...base, sigs: 'x' }), null, 'not a list');
    assert.equal(
      validMessage({ ...base, sigs: Array.from({ length: 1025 }, (_, i) => ({ index: i + 1, term: 1, signature: new Uint8Array(64) })) }),
      null,
      'too many',
    );
  });

  it('in the simulator with crashes and partitions, every block on every node carries a certificate that verifies', () => {
    // The simulator checks every decided block's certificate on every node (validity), with real ECDSA.
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      for (const faults of ['crash', 'partition'] as const) {
        const r = runSimulation({ engine: 'raft', nodes: 3, seed, faults, durationMs: 3000, crypto: 'ecdsa', engineOptions: { eagerCutUncommittedMax: 1 } });
        assert.deepEqual(r.violations, [], `seed ${seed}, ${faults}: ${r.violations.join('; ')}`);
        assert.ok(r.metrics.decidedProposals > 0);
      }
    }
  });
});
