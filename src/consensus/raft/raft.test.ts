import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, encode, utf8 } from '../../codec/index.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner } from '../../crypto/index.ts';
import { DEFAULT_CUTTER_CONFIG } from '../cutter.ts';
import type { DecidedBlock, Outbound } from '../engine.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { getEngine } from '../registry.ts';
import { SeededRng } from '../rng.ts';
import './index.ts';
import { RaftCluster } from './scenario.testkit.ts';
import { HARD_KEY, logKey, RaftEngine, verifyRaftCertificate } from './engine.ts';
import type { RaftMessage } from './messages.ts';

const key = generateKeyPair();
const verifier = directoryVerifier(
  new Map([
    ['1', key.publicKey],
    ['2', key.publicKey],
    ['3', key.publicKey],
  ]),
);

function engine(id: string, members: string[], storage = new MemoryStorage(), options: Record<string, unknown> = {}, appliedHeight?: number): RaftEngine {
  return new RaftEngine({
    id,
    members,
    rng: new SeededRng(Number(id)),
    storage,
    signer: keyPairSigner(id, key),
    verifier,
    cutter: { ...DEFAULT_CUTTER_CONFIG, countMax: 1 },
    options,
    ...(appliedHeight !== undefined ? { appliedHeight } : {}),
  });
}

/** Drive a cluster to quiescence, checking persist-before-send on every Ready. */
function run(engines: Map<string, RaftEngine>, storages: Map<string, MemoryStorage>, ticks: number, onDecided?: (id: string, b: DecidedBlock) => void): void {
  let queue: Array<{ from: string } & Outbound<RaftMessage>> = [];
  const drain = (id: string): void => {
    const e = engines.get(id)!;
    while (e.hasReady()) {
      const rd = e.ready();
      assert.equal(e.ready(), rd, 'ready() twice without advance() returns the same batch');
      const st = storages.get(id)!;
      st.apply(rd.persist);
      const hardBytes = st.get(HARD_KEY);
      const hard = hardBytes ? decode<{ term: number; vote: string | null }>(hardBytes) : { term: 0, vote: null };
      for (const m of rd.messages) {
        const msg = m.message;
        // Persist-before-send: what a message claims is durable once its Ready's persist is applied.
        if (msg.type !== 'raft/prevote' && msg.type !== 'raft/prevote-resp')
          assert.ok(hard.term >= msg.term, `${id} sends ${msg.type} of term ${msg.term} with durable term ${hard.term}`);
        if (msg.type === 'raft/vote-resp' && !msg.reject) assert.equal(hard.vote, m.to, 'a granted vote is durable before it is sent');
        if (msg.type === 'raft/vote') assert.equal(hard.vote, id, 'a candidate votes for itself durably');
        if (msg.type === 'raft/append-resp' && !msg.reject && msg.index > 0) {
          const snap = st.get('raft/snap');
          const snapIndex = snap ? decode<{ index: number }>(snap).index : 0;
          if (msg.index > snapIndex) assert.ok(st.get(logKey(msg.index)), `${id} acks index ${msg.index} before persisting it`);
        }
        queue.push({ from: id, ...m });
      }
      for (const b of rd.decided) onDecided?.(id, b);
      e.advance(rd);
    }
  };
  for (let t = 0; t < ticks; t++) {
    for (const id of engines.keys()) {
      engines.get(id)!.tick();
      drain(id);
    }
    for (let round = 0; round < 100 && queue.length > 0; round++) {
      const batch = queue;
      queue = [];
      for (const m of batch) {
        engines.get(m.to)?.step(m.from, m.message);
        drain(m.to);
      }
    }
  }
}

describe('raft engine', () => {
  it('is registered as "raft" with a crash fault model', () => {
    const def = getEngine('raft');
    assert.equal(def.faultModel, 'crash');
    assert.equal(def.faultsTolerated(5), 2);
    assert.equal(def.faultsTolerated(4), 1);
  });

  it('rejects unknown or inconsistent options with a clear error', () => {
    assert.throws(() => engine('1', ['1'], new MemoryStorage(), { electionTick: 10 }), /unknown raft option "electionTick"/);
    assert.throws(
      () => engine('1', ['1'], new MemoryStorage(), { electionTicks: 5, heartbeatTicks: 5 }),
      /raft option heartbeatTicks \(5\) must be below electionTicks \(5\)/,
    );
    assert.throws(() => engine('1', ['1'], new MemoryStorage(), { maxInflight: 0 }), /maxInflight/);
  });

  it('a single node elects itself and decides; blocks carry a verifiable leader certificate', () => {
    const st = new MemoryStorage();
    const e = engine('1', ['1'], st);
    const decided: DecidedBlock[] = [];
    run(new Map([['1', e]]), new Map([['1', st]]), 25, (_id, b) => decided.push(b));
    assert.equal(e.status().role, 'leader');
    assert.deepEqual(e.propose({ clientId: 'a', seq: 1, data: utf8('x') }), { accepted: true });
    run(new Map([['1', e]]), new Map([['1', st]]), 2, (_id, b) => decided.push(b));
    assert.equal(decided.length, 1);
    const b = decided[0]!;
    assert.equal(b.height, 1);
    assert.equal(verifyRaftCertificate(b, verifier), true);
    assert.equal(verifyRaftCertificate({ ...b, height: 2 }, verifier), false);
    assert.equal(verifyRaftCertificate({ ...b, certificate: null }, verifier), false);
  });

  it('keeps persist-before-send and decides the same blocks everywhere (3 nodes)', () => {
    const ids = ['1', '2', '3'];
    const storages = new Map(ids.map((id) => [id, new MemoryStorage()]));
    // syncCommitIndex: the restart below resumes at the written commit index (lazy: lazy-commit.test.ts).
    const engines = new Map(ids.map((id) => [id, engine(id, ids, storages.get(id)!, { snapshotEntries: 3, syncCommitIndex: true })]));
    const chains = new Map<string, string[]>(ids.map((id) => [id, []]));
    const onDecided = (id: string, b: DecidedBlock): void => void chains.get(id)!.push(Buffer.from(b.digest).toString('hex'));
    run(engines, storages, 30, onDecided);
    for (let i = 1; i <= 10; i++) engines.get(ids[i % 3]!)!.propose({ clientId: 'c', seq: i, data: utf8(`p${i}`) });
    // A retried proposal (same client and seq) is decided once.
    engines.get('2')!.propose({ clientId: 'c', seq: 3, data: utf8('p3') });
    run(engines, storages, 20, onDecided);
    const heights = ids.map((id) => chains.get(id)!.length);
    assert.deepEqual(heights, [10, 10, 10]);
    assert.deepEqual(chains.get('1'), chains.get('2'));
    assert.deepEqual(chains.get('1'), chains.get('3'));
    // Compaction happened (snapshotEntries: 3) and a restart from storage resumes at the same height.
    const restarted = engine('2', ids, storages.get('2')!, { snapshotEntries: 3, syncCommitIndex: true });
    assert.equal(restarted.status().decidedHeight, 10);
    assert.ok(restarted.raftStatus().snapshotIndex > 0);
    assert.equal(restarted.hasReady(), false, 'nothing to re-deliver when the app has everything');
  });

  it('re-delivers decided blocks above the application height on restart', () => {
    const ids = ['1'];
    const st = new MemoryStorage();
    // With the commit index written (syncCommitIndex) the blocks are re-emitted at once; with the
    // default they come again once the restarted node re-commits them (lazy-commit.test.ts).
    const e = engine('1', ids, st, { syncCommitIndex: true });
    const decided: DecidedBlock[] = [];
    run(new Map([['1', e]]), new Map([['1', st]]), 25);
    for (let i = 1; i <= 3; i++) e.propose({ clientId: 'c', seq: i, data: utf8(`p${i}`) });
    run(new Map([['1', e]]), new Map([['1', st]]), 2, (_id, b) => decided.push(b));
    assert.equal(decided.length, 3);
    const again = engine('1', ids, st, { syncCommitIndex: true }, 1);
    const rd = again.ready();
    assert.deepEqual(
      rd.decided.map((b) => b.height),
      [2, 3],
    );
    assert.deepEqual(
      rd.decided.map((b) => Buffer.from(b.digest).toString('hex')),
      decided.slice(1).map((b) => Buffer.from(b.digest).toString('hex')),
    );
  });

  it('drops malformed messages without throwing or changing state', () => {
    const e = engine('1', ['1', '2', '3']);
    const before = JSON.stringify({ ...e.raftStatus(), progress: [...e.raftStatus().progress] });
    const bad: unknown[] = [
      null,
      42,
      'x',
      [],
      {},
      { type: 'raft/append' },
      { type: 'raft/vote', term: -1, lastIndex: 0, lastTerm: 0, transfer: false },
      {
        type: 'raft/append',
        term: 5,
        prevIndex: 0,
        prevTerm: 0,
        commit: 0,
        entries: [{ term: 5, index: 2, kind: 'noop', proposals: [], conf: null, cert: null }],
      },
      {
        type: 'raft/append',
        term: 5,
        prevIndex: 0,
        prevTerm: 0,
        commit: 0,
        entries: [{ term: 6, index: 1, kind: 'noop', proposals: [], conf: null, cert: null }],
      },
      {
        type: 'raft/append',
        term: 5,
        prevIndex: 0,
        prevTerm: 0,
        commit: 0,
        entries: [{ term: 5, index: 1, kind: 'normal', proposals: [], conf: null, cert: null }],
      },
      { type: 'raft/append', term: 5, prevIndex: 0, prevTerm: 0, commit: 0, entries: 'nope' },
      {
        type: 'raft/snapshot',
        term: 5,
        snapshot: { index: 3, term: 1, conf: { voters: [], outgoing: [], learners: [] }, height: 0, digest: new Uint8Array(32), dedup: [] },
      },
      { type: 'raft/forward', term: 1, proposals: [{ clientId: '', seq: 1, data: new Uint8Array(1) }] },
      { type: 'raft/heartbeat', term: 1.5, commit: 0 },
      { type: 'raft/unknown', term: 1 },
    ];
    for (const m of bad) assert.doesNotThrow(() => e.step('2', m as RaftMessage));
    assert.doesNotThrow(() => e.step('', { type: 'raft/heartbeat', term: 9, commit: 0 }));
    const after = JSON.stringify({ ...e.raftStatus(), progress: [...e.raftStatus().progress] });
    assert.equal(after, before);
    assert.equal(e.hasReady(), false);
  });

  it('never throws on arbitrary input (property)', () => {
    const e = engine('1', ['1', '2', '3']);
    fc.assert(
      fc.property(fc.anything(), fc.constantFrom('raft/append', 'raft/vote', 'raft/snapshot', 'raft/append-resp', 'raft/forward'), (junk, type) => {
        e.step('2', junk as RaftMessage);
        e.step('3', { type, term: 1, junk } as unknown as RaftMessage);
        if (e.hasReady()) e.advance(e.ready());
      }),
      { numRuns: 300 },
    );
  });

  it('refuses invalid, too large and excess proposals', () => {
    const e = engine('1', ['1', '2', '3'], new MemoryStorage(), { pendingProposalsMax: 2 });
    assert.deepEqual(e.propose({ clientId: '', seq: 1, data: utf8('x') }), { accepted: false, reason: 'invalid' });
    assert.deepEqual(e.propose({ clientId: 'a', seq: 0, data: utf8('x') }), { accepted: false, reason: 'invalid' });
    assert.deepEqual(e.propose({ clientId: 'a', seq: 1, data: new Uint8Array(2 * 1024 * 1024) }), { accepted: false, reason: 'too-large' });
    assert.deepEqual(e.propose({ clientId: 'a', seq: 1, data: utf8('x') }), { accepted: true });
    assert.deepEqual(e.propose({ clientId: 'a', seq: 1, data: utf8('x') }), { accepted: true }); // same key: idempotent
    assert.deepEqual(e.propose({ clientId: 'a', seq: 2, data: utf8('x') }), { accepted: true });
    assert.deepEqual(e.propose({ clientId: 'a', seq: 3, data: utf8('x') }), { accepted: false, reason: 'queue-full' });
  });

  it('messages are DAG-CBOR encodable (no undefined, no floats)', () => {
    const c = new RaftCluster();
    c.addNodes(3, { snapshotEntries: 2 }, 1, 1);
    c.engine('1').campaignNow();
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) c.propose('1', `v${i}`);
    c.crash('3');
    for (let i = 5; i < 9; i++) c.propose('1', `v${i}`);
    c.stabilize();
    c.restart('3');
    for (let i = 0; i < 3; i++) {
      for (const id of c.liveIds()) c.tick(id);
      for (const m of c.stabilize()) {
        seen.add(m.message.type);
        assert.deepEqual(decode(encode(m.message)), m.message);
      }
    }
    assert.ok(seen.has('raft/snapshot') && seen.has('raft/append') && seen.has('raft/heartbeat'), [...seen].join(','));
  });
});
