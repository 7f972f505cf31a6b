// Decision 1360: a Raft leader sends its appends before its own copy of the entries is durable
// (Ready.earlyMessages, thesis §10.2.1) and counts itself toward a commit quorum only once a Ready
// it advanced made them durable. These tests drive three engines by hand so that the window
// between "appends sent" and "leader's write done" can be held open, answered into and crashed in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, utf8 } from '../../codec/index.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner } from '../../crypto/index.ts';
import { DEFAULT_CUTTER_CONFIG } from '../cutter.ts';
import type { DecidedBlock, Outbound, Ready } from '../engine.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { HARD_KEY, logKey, RaftEngine } from './engine.ts';
import type { RaftMessage } from './messages.ts';

const key = generateKeyPair();
const IDS = ['1', '2', '3'];
const verifier = directoryVerifier(new Map(IDS.map((id) => [id, key.publicKey])));

type Sent = { from: string } & Outbound<RaftMessage>;

class Cluster {
  readonly storages = new Map(IDS.map((id) => [id, new MemoryStorage()]));
  readonly engines = new Map<string, RaftEngine>();
  readonly decided = new Map<string, DecidedBlock[]>(IDS.map((id) => [id, []]));
  queue: Sent[] = [];
  /** Nodes writing a Ready (early messages out, persist not yet done): no next Ready meanwhile. */
  readonly writing = new Set<string>();

  constructor() {
    for (const id of IDS) this.boot(id);
  }

  boot(id: string): RaftEngine {
    const e = new RaftEngine({
      id,
      members: IDS,
      rng: new SeededRng(Number(id)),
      storage: this.storages.get(id)!,
      signer: keyPairSigner(id, key),
      verifier,
      cutter: { ...DEFAULT_CUTTER_CONFIG, countMax: 1 },
      options: { eagerCutUncommittedMax: 1 },
      appliedHeight: this.decided.get(id)!.length,
    });
    this.engines.set(id, e);
    return e;
  }

  engine(id: string): RaftEngine {
    return this.engines.get(id)!;
  }

  /** The whole Ready, in the contract's order: early messages, persist, the rest, deliver, advance. */
  drain(id: string): void {
    const e = this.engines.get(id);
    while (!this.writing.has(id) && e?.hasReady()) {
      const rd = e.ready();
      this.sendEarly(id, rd);
      this.finish(id, rd);
    }
  }

  sendEarly(id: string, rd: Ready<RaftMessage>): void {
    const hard = this.storages.get(id)!.get(HARD_KEY);
    const durableTerm = hard ? decode<{ term: number }>(hard).term : 0;
    this.writing.add(id);
    for (const m of rd.messages.slice(0, rd.earlyMessages ?? 0)) {
      // What an early message claims about term and vote is durable before this Ready is written.
      assert.equal(['raft/append', 'raft/heartbeat', 'raft/commit'].includes(m.message.type), true, `${id} sends ${m.message.type} early`);
      assert.ok(m.message.term <= durableTerm, `${id} sends term ${m.message.term} early with durable term ${durableTerm}`);
      this.queue.push({ from: id, ...m });
    }
  }

  finish(id: string, rd: Ready<RaftMessage>): void {
    this.writing.delete(id);
    this.storages.get(id)!.apply(rd.persist);
    for (const m of rd.messages.slice(rd.earlyMessages ?? 0)) this.queue.push({ from: id, ...m });
    this.decided.get(id)!.push(...rd.decided);
    this.engine(id).advance(rd);
  }

  /** Deliver queued messages (to live engines) until none are left. */
  deliver(filter: (m: Sent) => boolean = () => true): void {
    for (let round = 0; round < 100 && this.queue.length > 0; round++) {
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (!filter(m)) continue;
        const e = this.engines.get(m.to);
        if (!e) continue;
        e.step(m.from, m.message);
        this.drain(m.to);
      }
    }
  }

  run(ticks: number): void {
    for (let t = 0; t < ticks; t++) {
      for (const id of this.engines.keys()) {
        this.engine(id).tick();
        this.drain(id);
      }
      this.deliver();
    }
  }

  elect(id: string): RaftEngine {
    this.run(1);
    this.engine(id).campaignNow();
    this.drain(id);
    this.deliver();
    assert.equal(this.engine(id).status().role, 'leader');
    return this.engine(id);
  }
}

const payloads = (blocks: readonly DecidedBlock[]): string[] => blocks.flatMap((b) => b.proposals.map((p) => Buffer.from(p.data).toString()));

describe('raft: the leader writes its own entries in parallel with replication (decision 1360)', () => {
  it('a leader sends its appends early; the entries are written by the same Ready; followers answer only after their write', () => {
    const c = new Cluster();
    const leader = c.elect('1');
    assert.deepEqual(leader.propose({ clientId: 'c', seq: 1, data: utf8('a') }), { accepted: true });
    const rd = leader.ready();
    const index = leader.raftStatus().lastIndex;
    assert.ok((rd.earlyMessages ?? 0) >= 2, `appends to both followers are early, got ${rd.earlyMessages}`);
    assert.ok(
      rd.persist.some((op) => op.op === 'put' && op.key === logKey(index)),
      'the new entry is written by this Ready',
    );
    c.sendEarly('1', rd);
    c.finish('1', rd);
    // A follower's Ready (its answer depends on its log) has no early messages.
    const f = c.engine('2');
    const m = c.queue.find((q) => q.to === '2' && q.message.type === 'raft/append')!;
    f.step('1', m.message);
    const frd = f.ready();
    assert.equal(frd.earlyMessages ?? 0, 0);
    assert.ok(frd.messages.some((q) => q.message.type === 'raft/append-resp'));
  });

  it('counts itself only once its write is done: one follower ack before that commits nothing', () => {
    const c = new Cluster();
    const leader = c.elect('1');
    const before = leader.raftStatus().commit;
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    const rd = leader.ready();
    const index = leader.raftStatus().lastIndex;
    c.sendEarly('1', rd);
    // Only follower 2 gets (and durably acks) the entry while the leader is still writing.
    c.deliver((m) => m.to !== '3');
    assert.equal(leader.raftStatus().progress.get('2')!.match, index);
    assert.equal(leader.raftStatus().commit, before, '1 durable copy of 3 (follower 2) is no quorum');
    assert.equal(leader.raftStatus().progress.get('1')!.match < index, true);
    // The leader's write completes: now 2 of 3 copies are durable.
    c.finish('1', rd);
    assert.equal(leader.raftStatus().progress.get('1')!.match, index);
    assert.equal(leader.raftStatus().commit, index);
    c.drain('1');
    assert.deepEqual(payloads(c.decided.get('1')!), ['a']);
  });

  it('commits on two follower acks before its own write, and a crash before that write loses only the leader copy', () => {
    const c = new Cluster();
    const leader = c.elect('1');
    c.run(3);
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    const rd = leader.ready();
    const index = leader.raftStatus().lastIndex;
    c.sendEarly('1', rd);
    c.deliver((m) => m.from !== '1' || m.message.type === 'raft/append');
    // Both followers hold the entry durably: a majority without the leader (thesis §10.2.1).
    assert.equal(leader.raftStatus().commit, index);
    // The leader crashes before its write (and before delivering anything of this Ready).
    c.engines.delete('1');
    c.writing.delete('1');
    c.queue = [];
    assert.equal(c.storages.get('1')!.get(logKey(index)), undefined, "the leader's copy was never written");
    c.run(40); // 2 and 3 elect a leader among themselves; the entry is in both logs
    const restarted = c.boot('1');
    assert.equal(restarted.raftStatus().lastIndex < index, true, 'the restarted leader lost its unwritten entry');
    c.run(40);
    for (const id of IDS) assert.deepEqual(payloads(c.decided.get(id)!), ['a'], `node ${id} decides the entry exactly once`);
    const digests = IDS.map((id) =>
      c.decided
        .get(id)!
        .map((b) => Buffer.from(b.digest).toString('hex'))
        .join(),
    );
    assert.equal(new Set(digests).size, 1, 'one history');
    assert.equal(restarted.status().role === 'leader', false, 'the new leader was elected from the nodes that had the entry');
  });
});
