// Raft option eagerCutUncommittedMax (decision 1350): an idle leader appends a proposal at once
// instead of waiting for the cutter's timeout; proposals that arrive while entries are
// uncommitted wait for the commit and go out together in one entry. Off (0) by default. "At once"
// is the driver's next Ready (decision 1372): proposals handed over before it are one entry.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../codec/index.ts';
import type { RaftEngine } from './engine.ts';
import { cluster } from './three-nodes.testkit.ts';

type Appended = Array<{ id: string; sizes: number[] }>;

/** The three-node cluster, its pump reduced to what each leader append carried (proposal counts per entry). */
function eagerCluster(eagerCut: number, entryProposalsMax = 0): { leader: RaftEngine; pump: () => Appended; drain: (id: string) => void } {
  const c = cluster(eagerCut, entryProposalsMax);
  const pump = (): Appended =>
    c
      .pump()
      .filter((m) => m.message.type === 'raft/append' && m.message.entries.length > 0)
      .map((m) => ({
        id: m.from,
        sizes: m.message.type === 'raft/append' ? m.message.entries.filter((x) => x.kind === 'normal').map((x) => x.proposals.length) : [],
      }));
  return { leader: c.leader, pump, drain: c.drain };
}

describe('raft eagerCutUncommittedMax', () => {
  it('1: an idle leader appends a proposal at once; proposals during replication go out together after the commit', () => {
    const { leader, pump, drain } = eagerCluster(1);
    const before = leader.status().decidedHeight;
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    // The driver's Ready cuts it: a second and third proposal find it uncommitted and wait.
    drain(leader.id);
    leader.propose({ clientId: 'c', seq: 2, data: utf8('b') });
    leader.propose({ clientId: 'c', seq: 3, data: utf8('c') });
    const appends = pump().filter((a) => a.id === leader.id && a.sizes.length > 0);
    const entries = appends.flatMap((a) => a.sizes);
    assert.ok(entries.includes(1) && entries.includes(2), `one entry of 1 proposal, then one of 2 (appended: ${JSON.stringify(appends)})`);
    assert.ok(!entries.includes(3), 'the later proposals waited for the first entry to commit');
    assert.equal(leader.status().decidedHeight, before + 2, 'both entries decided without a single tick');
  });

  it('proposals handed over before the driver collects its Ready go out as one entry', () => {
    const { leader, pump } = eagerCluster(1);
    const before = leader.status().decidedHeight;
    for (let seq = 1; seq <= 5; seq++) leader.propose({ clientId: 'c', seq, data: utf8(`p${seq}`) });
    assert.equal(leader.raftStatus().lastIndex, leader.raftStatus().commit, 'propose() itself cut nothing');
    assert.ok(leader.hasReady(), 'the pending cut is a Ready');
    const entries = pump()
      .filter((a) => a.id === leader.id)
      .flatMap((a) => a.sizes);
    assert.deepEqual([...new Set(entries)], [5], `one entry of the five proposals (appended: ${JSON.stringify(entries)})`);
    assert.equal(leader.status().decidedHeight, before + 1);
  });

  it('with eagerCutEntryProposalsMax: after an entry larger than the limit the leader waits for the cutter again, until its entries are small (decision 1385)', () => {
    const { leader, pump } = eagerCluster(1, 2);
    const decided = (): number => leader.status().decidedHeight;
    const start = decided();
    // Idle: three proposals handed over together go out at once as one entry of 3 (> 2).
    for (let seq = 1; seq <= 3; seq++) leader.propose({ clientId: 'c', seq, data: utf8(`p${seq}`) });
    pump();
    assert.equal(decided(), start + 1, 'the first entry is cut at once');
    // The last entry was large: a lone proposal now waits for the cutter's timeout (50 ticks here).
    leader.propose({ clientId: 'c', seq: 4, data: utf8('p4') });
    pump();
    assert.equal(decided(), start + 1, 'not cut at once after a large entry');
    for (let t = 0; t < 50 && decided() === start + 1; t++) {
      leader.tick();
      pump();
    }
    assert.equal(decided(), start + 2, 'cut by the timeout');
    // That entry held 1 proposal (≤ 2): the leader is eager again.
    leader.propose({ clientId: 'c', seq: 5, data: utf8('p5') });
    pump();
    assert.equal(decided(), start + 3, 'cut at once again after a small entry');
  });

  it('0 (default): a partial batch waits for the cutter timeout', () => {
    const { leader, pump } = eagerCluster(0);
    const before = leader.status().decidedHeight;
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    pump();
    assert.equal(leader.status().decidedHeight, before, 'nothing decided before the timeout');
  });
});
