// Decision 1417: a follower applies what an append's commit index committed only after the driver
// has written the append's entries and sent the answer (advance), not in step(): applying (the
// block digest, its certificate, the decided block) is work the leader's round does not wait for.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../codec/index.ts';
import { cluster, ids, type Sent } from './three-nodes.testkit.ts';

describe('raft: a follower answers before it applies (decision 1417)', () => {
  it('the Ready of an append that commits an earlier entry holds the write and the answer; the decided block comes after advance', () => {
    const { engines, leader, pump } = cluster(1);
    const followerId = ids.find((id) => id !== leader.id)!;
    const follower = engines.get(followerId)!;
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    pump(undefined, 'hold'); // committed at the leader; the followers' notice is held
    const first = leader.raftStatus().commit;
    assert.ok(follower.raftStatus().commit < first, 'the follower has not learned the commit yet');
    // The next entry carries the commit index; its append to one follower is taken aside.
    leader.propose({ clientId: 'c', seq: 2, data: utf8('b') });
    let append: Sent | undefined;
    pump((m) => {
      if (append || m.to !== followerId || m.message.type !== 'raft/append' || m.message.entries.length === 0) return false;
      append = m;
      return true;
    }, 'hold');
    assert.ok(append && append.message.type === 'raft/append' && append.message.commit === first);

    follower.step(leader.id, append.message);
    const answer = follower.ready();
    assert.ok(answer.persist.length > 0, 'the new entry is written');
    assert.deepEqual(
      answer.messages.map((m) => [m.to, m.message.type]),
      [[leader.id, 'raft/append-resp']],
    );
    assert.deepEqual(answer.decided, [], 'nothing applied yet: the answer goes first');
    assert.equal(follower.raftStatus().commit, first, 'the commit index is known');
    follower.advance(answer);

    assert.ok(follower.hasReady(), 'the applying is due once the answer has left');
    const applied = follower.ready();
    assert.deepEqual(applied.messages, []);
    assert.deepEqual(
      applied.decided.map((d) => d.proposals.map((p) => p.seq)),
      [[1]],
    );
    assert.ok(applied.decided[0]!.certificate, 'with the leader’s block signature');
    follower.advance(applied);
    assert.equal(follower.status().decidedHeight, 1);
  });

  it('a commit notice, which has no answer, is applied at once', () => {
    const { engines, leader, pump } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    let notice: Sent | undefined;
    const followerId = ids.find((id) => id !== leader.id)!;
    pump((m) => {
      if (notice || m.to !== followerId || m.message.type !== 'raft/commit') return false;
      notice = m;
      return true;
    });
    assert.ok(notice, 'the leader told the commit in a notice');
    const follower = engines.get(followerId)!;
    follower.step(leader.id, notice.message);
    const rd = follower.ready();
    assert.deepEqual(rd.messages, []);
    assert.deepEqual(
      rd.decided.map((d) => d.proposals.map((p) => p.seq)),
      [[1]],
    );
  });
});
