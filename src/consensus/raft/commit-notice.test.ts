// Decision 1370: a leader tells followers a new commit index once per input, after the cutter ran
// (so entries cut meanwhile carry it), and a follower that has been sent every entry gets a
// raft/commit — an append without entries whose success it does not answer. Half of a Raft
// round's messages at one payload in flight were those empty appends and their answers.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../codec/index.ts';

import { cluster, ids, type Sent } from './three-nodes.testkit.ts';

const types = (sent: Sent[], from?: string): string[] => sent.filter((m) => from === undefined || m.from === from).map((m) => m.message.type);

describe('raft commit notices (decision 1370)', () => {
  it('a caught-up follower learns the commit index from raft/commit and does not answer it', () => {
    const { engines, leader, pump } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    const sent = pump();
    const index = leader.raftStatus().commit;
    const followers = ids.filter((id) => id !== leader.id);
    // One round: an append with the entry to each follower, their two answers, then one
    // raft/commit each — and nothing else (before: two more empty appends and two more answers).
    assert.deepEqual(types(sent, leader.id).sort(), ['raft/append', 'raft/append', 'raft/commit', 'raft/commit']);
    for (const f of followers) {
      assert.deepEqual(types(sent, f), ['raft/append-resp'], `${f} answers the entry only`);
      assert.equal(engines.get(f)!.raftStatus().commit, index, `${f} learned the commit index`);
    }
    const notices = sent.filter((m) => m.message.type === 'raft/commit');
    assert.ok(notices.every((m) => m.message.type === 'raft/commit' && m.message.commit === index && m.message.prevIndex === index));
  });

  it('while proposals wait, the new commit index rides on the next entry instead of a message of its own', () => {
    const { leader, pump, drain } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    drain(leader.id); // the driver's Ready cuts it at once (eager cut)
    // These two wait for its commit and go out together in the next entry.
    leader.propose({ clientId: 'c', seq: 2, data: utf8('b') });
    leader.propose({ clientId: 'c', seq: 3, data: utf8('c') });
    const first = leader.raftStatus().lastIndex;
    const sent = pump();
    const appends = sent.filter((m) => m.from === leader.id && m.message.type === 'raft/append' && m.message.entries.length > 0);
    assert.equal(appends.length, 4, 'two entries, each to two followers');
    const second = appends.filter((m) => m.message.type === 'raft/append' && m.message.prevIndex === first);
    assert.equal(second.length, 2);
    assert.ok(
      second.every((m) => m.message.type === 'raft/append' && m.message.commit === first),
      'the second entry carries the first one’s commit',
    );
    const notices = sent.filter((m) => m.message.type === 'raft/commit');
    assert.equal(notices.length, 2, 'one raft/commit per follower, for the last entry only');
    assert.ok(notices.every((m) => m.message.type === 'raft/commit' && m.message.commit === first + 1));
    assert.equal(leader.status().decidedHeight, 2);
  });

  it('a follower that missed an entry rejects the raft/commit; the leader repairs its log and it commits', () => {
    const { engines, leader, pump } = cluster(1);
    const lagging = ids.find((id) => id !== leader.id)!;
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    // The append carrying the entry to `lagging` is lost; the other follower's answer commits it.
    let dropped = false;
    const sent = pump((m) => {
      if (dropped || m.to !== lagging || m.message.type !== 'raft/append' || m.message.entries.length === 0) return false;
      dropped = true;
      return true;
    });
    assert.ok(dropped);
    const index = leader.raftStatus().commit;
    const notice = sent.find((m) => m.to === lagging && m.message.type === 'raft/commit');
    assert.ok(notice && notice.message.type === 'raft/commit' && notice.message.prevIndex === index, 'the leader believed it had sent the entry');
    const reject = sent.find((m) => m.from === lagging && m.message.type === 'raft/append-resp' && m.message.reject);
    assert.ok(reject, 'the follower rejects a commit notice its log does not match');
    const lag = engines.get(lagging)!.raftStatus();
    assert.equal(lag.lastIndex, index, 'the leader re-sent the entry');
    assert.equal(lag.commit, index, 'and its commit index with it');
  });
});
