// Raft option eagerCutUncommittedMax (decision 1350): an idle leader appends a proposal at once
// instead of waiting for the cutter's timeout; proposals that arrive while entries are
// uncommitted wait for the commit and go out together in one entry. Off (0) by default. "At once"
// is the driver's next Ready (decision 1372): proposals handed over before it are one entry.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../../codec/index.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner } from '../../crypto/index.ts';
import type { Outbound } from '../engine.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { RaftEngine } from './engine.ts';
import type { RaftMessage } from './messages.ts';

const key = generateKeyPair();
const ids = ['1', '2', '3'];
const verifier = directoryVerifier(new Map(ids.map((id) => [id, key.publicKey])));

type Appended = Array<{ id: string; sizes: number[] }>;

function cluster(eagerCut: number): { engines: Map<string, RaftEngine>; pump: () => Appended; drain: (id: string) => void; leader: RaftEngine } {
  const engines = new Map(
    ids.map((id) => [
      id,
      new RaftEngine({
        id,
        members: ids,
        rng: new SeededRng(Number(id)),
        storage: new MemoryStorage(),
        signer: keyPairSigner(id, key),
        verifier,
        // A long cutter timeout: without the eager cut nothing partial leaves before 50 ticks.
        cutter: { countMax: 100, sizeBytesMax: 1024 * 1024, timeoutTicks: 50, pendingMax: 1000 },
        options: { eagerCutUncommittedMax: eagerCut },
      }),
    ]),
  );
  const storages = new Map(ids.map((id) => [id, new MemoryStorage()]));
  let queue: Array<{ from: string } & Outbound<RaftMessage>> = [];
  let appends: Appended = [];
  /** One node's driver collects and carries out its Readies (its messages wait for pump). */
  const drain = (id: string): void => {
    const e = engines.get(id)!;
    while (e.hasReady()) {
      const rd = e.ready();
      storages.get(id)!.apply(rd.persist);
      for (const m of rd.messages) {
        if (m.message.type === 'raft/append' && m.message.entries.length > 0)
          appends.push({ id, sizes: m.message.entries.filter((x) => x.kind === 'normal').map((x) => x.proposals.length) });
        queue.push({ from: id, ...m });
      }
      e.advance(rd);
    }
  };
  /** Deliver every message until quiet; returns the entries (as proposal counts) each leader append carried. */
  const pump = (): Appended => {
    for (const id of ids) drain(id);
    for (let round = 0; round < 100 && queue.length > 0; round++) {
      const batch = queue;
      queue = [];
      for (const m of batch) {
        engines.get(m.to)!.step(m.from, m.message);
        drain(m.to);
      }
    }
    const out = appends;
    appends = [];
    return out;
  };
  for (let t = 0; t < 40 && ![...engines.values()].some((e) => e.status().role === 'leader'); t++) {
    for (const e of engines.values()) e.tick();
    pump();
  }
  const leader = [...engines.values()].find((e) => e.status().role === 'leader');
  assert.ok(leader, 'a leader is elected');
  pump();
  return { engines, pump, drain, leader };
}

describe('raft eagerCutUncommittedMax', () => {
  it('1: an idle leader appends a proposal at once; proposals during replication go out together after the commit', () => {
    const { leader, pump, drain } = cluster(1);
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
    const { leader, pump } = cluster(1);
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

  it('0 (default): a partial batch waits for the cutter timeout', () => {
    const { leader, pump } = cluster(0);
    const before = leader.status().decidedHeight;
    leader.propose({ clientId: 'c', seq: 1, data: utf8('a') });
    pump();
    assert.equal(leader.status().decidedHeight, before, 'nothing decided before the timeout');
  });
});
