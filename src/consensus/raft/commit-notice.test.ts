// Decision 1370: a leader tells followers a new commit index once per input, after the cutter ran
// (so entries cut meanwhile carry it), and a follower that has been sent every entry gets a
// raft/commit — an append without entries whose success it does not answer. Half of a Raft
// round's messages at one payload in flight were those empty appends and their answers.
// Decision 1405: that raft/commit is held for the driver's flushNotices a short while later; the
// next entry usually carries the index first, and then no notice is sent at all.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../codec/index.ts';
import { runSimulation, type SimOptions } from '../../sim/index.ts';

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
    // Both followers were at the same point: one append object, encoded once by drivers (decision 1406).
    const appends = sent.filter((m) => m.from === leader.id && m.message.type === 'raft/append');
    assert.equal(appends.length, 2);
    assert.equal(appends[0]!.message, appends[1]!.message, 'the same object to both followers');
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

  it('the commit notice is held: the Ready says so, flushNotices sends it (decision 1405)', () => {
    const { engines, leader, pump } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    const sent = pump(undefined, 'hold');
    const index = leader.raftStatus().commit;
    assert.equal(leader.status().decidedHeight, 1, 'the leader decided the entry');
    assert.deepEqual(types(sent, leader.id), ['raft/append', 'raft/append'], 'no raft/commit in the Ready of the commit');
    const followers = ids.filter((id) => id !== leader.id);
    for (const f of followers) assert.ok(engines.get(f)!.raftStatus().commit < index, `${f} has not learned it yet`);
    leader.flushNotices();
    assert.ok(leader.hasReady());
    assert.equal(leader.ready().noticesHeld, false, 'nothing held once flushed');
    const notices = pump(undefined, 'hold');
    assert.deepEqual(types(notices, leader.id), ['raft/commit', 'raft/commit']);
    for (const f of followers) assert.equal(engines.get(f)!.raftStatus().commit, index, `${f} learned it from the flushed notice`);
    leader.flushNotices();
    assert.ok(!leader.hasReady(), 'a second flush has nothing to tell');
  });

  it('the next entry carries a held index and its notice is never sent (decision 1405)', () => {
    const { leader, pump } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    const before = pump(undefined, 'hold');
    const first = leader.raftStatus().commit;
    // The client's next request arrives before the driver's hold runs out.
    leader.propose({ clientId: 'c', seq: 2, data: utf8('b') });
    const sent = pump();
    const appends = sent.filter((m) => m.message.type === 'raft/append' && m.message.entries.length > 0);
    assert.equal(appends.length, 2);
    assert.ok(
      appends.every((m) => m.message.type === 'raft/append' && m.message.commit === first),
      'the entry carries the first commit',
    );
    const notices = [...before, ...sent].filter((m) => m.message.type === 'raft/commit');
    assert.ok(
      notices.every((m) => m.message.type === 'raft/commit' && m.message.commit === first + 1),
      'no notice for the first commit',
    );
    assert.equal(notices.length, 2, 'the second commit is told when quiet');
  });

  it("an entry that carries every held index calls the hold off: its Ready says nothing is held, the driver's flush is not needed (decision 1416)", () => {
    const { leader, pump, drain } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    pump(undefined, 'hold');
    const first = leader.raftStatus().commit;
    leader.propose({ clientId: 'c', seq: 2, data: utf8('b') });
    const rd = leader.ready();
    const appends = rd.messages.filter((m) => m.message.type === 'raft/append' && m.message.entries.length > 0);
    assert.equal(appends.length, 2);
    assert.ok(appends.every((m) => m.message.type === 'raft/append' && m.message.commit === first));
    assert.equal(rd.noticesHeld, false, 'the Ready of the entry says nothing is held: the pending flush is called off');
    drain(leader.id);
    // The next commit holds its own notices, counted from its own Ready.
    const sent = pump(undefined, 'hold');
    assert.equal(leader.raftStatus().commit, first + 1);
    assert.deepEqual(
      sent.filter((m) => m.message.type === 'raft/commit'),
      [],
      'no notice sent for either commit yet',
    );
    assert.equal(leader.ready().noticesHeld, true, 'the second commit is held');
  });

  it('a tick tells held notices when the driver never flushes', () => {
    const { engines, leader, pump } = cluster(1);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    pump(undefined, 'hold');
    const index = leader.raftStatus().commit;
    leader.tick();
    const sent = pump(undefined, 'hold');
    assert.equal(sent.filter((m) => m.message.type === 'raft/commit').length, 2);
    for (const id of ids) assert.equal(engines.get(id)!.raftStatus().commit, index);
  });

  it('a commit that takes a configuration change is told at once, not held', () => {
    const { engines, leader, pump } = cluster(1);
    const removed = ids.find((id) => id !== leader.id)!;
    const change = leader.proposeConfChange({ remove: [removed] });
    assert.ok(change.accepted);
    const sent = pump(undefined, 'hold');
    const told = sent.filter((m) => m.message.type === 'raft/commit' && m.to === removed);
    assert.ok(told.length > 0, 'the removed member is told the commit of its removal without a flush');
    assert.ok(engines.get(removed)!.raftStatus().commit >= (change.accepted ? change.index : 0));
  });

  it('in the simulator the driver lets held notices go: fewer raft/commit, every node decides everything', () => {
    const o: SimOptions = { engine: 'raft', nodes: 3, seed: 7, faults: 'none', durationMs: 2000, crypto: 'fast', engineOptions: { eagerCutUncommittedMax: 1 } };
    const held = runSimulation(o);
    const told = runSimulation({ ...o, engineOptions: { eagerCutUncommittedMax: 1, holdCommitNotices: false } });
    assert.deepEqual(held.violations, [], 'safety and liveness (every node decides every proposal)');
    assert.deepEqual(told.violations, []);
    assert.ok(held.metrics.noticeFlushes > 0, 'the simulated driver called flushNotices');
    assert.equal(told.metrics.noticeFlushes, 0);
    const notices = (r: typeof held): number => r.metrics.messagesByType['raft/commit']?.count ?? 0;
    assert.ok(notices(held) > 0, 'some notices still go (after the hold, with nothing else to carry them)');
    assert.ok(notices(held) < notices(told), `held ${notices(held)} < told at once ${notices(told)}`);
    assert.equal(held.metrics.decidedProposals, told.metrics.decidedProposals);
  });
});
