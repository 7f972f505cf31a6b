import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../../codec/index.ts';
import { directoryVerifier, generateKeyPair, keyPairSigner } from '../../crypto/index.ts';
import type { DecidedBlock, Engine, Proposal } from '../engine.ts';
import { blockDigest, GENESIS_DIGEST } from '../digest.ts';
import { MemoryStorage } from '../memory-storage.ts';
import { SeededRng } from '../rng.ts';
import { getEngine } from '../registry.ts';
import '../engines.ts';
import type { SoloMessage } from './solo.ts';

const members = ['o1', 'o2', 'o3'];
const keys = new Map(members.map((m) => [m, generateKeyPair()]));
const verifier = directoryVerifier(new Map([...keys].map(([m, k]) => [m, k.publicKey])));

function makeNode(id: string, storage: MemoryStorage, appliedHeight?: number): Engine<SoloMessage> {
  return getEngine('solo').create({
    id,
    members,
    rng: new SeededRng(1),
    storage,
    signer: keyPairSigner(id, keys.get(id)!),
    verifier,
    cutter: { countMax: 3, sizeBytesMax: 1 << 20, timeoutTicks: 2, pendingMax: 100 },
    ...(appliedHeight === undefined ? {} : { appliedHeight }),
  }) as Engine<SoloMessage>;
}

function proposal(seq: number): Proposal {
  return { clientId: 'c1', seq, data: utf8(`tx-${seq}`) };
}

/** Deliver everything until quiet; returns each node's decided history. */
function run(nodes: Map<string, Engine<SoloMessage>>, storages: Map<string, MemoryStorage>, decided: Map<string, DecidedBlock[]>): void {
  for (let rounds = 0; rounds < 100; rounds++) {
    let moved = false;
    for (const [id, node] of nodes) {
      while (node.hasReady()) {
        const rd = node.ready();
        storages.get(id)!.apply(rd.persist);
        for (const m of rd.messages) nodes.get(m.to)?.step(id, m.message);
        decided.get(id)!.push(...rd.decided);
        node.advance(rd);
        moved = true;
      }
    }
    if (!moved) return;
  }
  assert.fail('did not quiesce');
}

describe('solo engine', () => {
  it('cuts full batches at once and partial batches on timeout; followers get the same chain', () => {
    const storages = new Map(members.map((m) => [m, new MemoryStorage()]));
    const nodes = new Map(members.map((m) => [m, makeNode(m, storages.get(m)!)]));
    const decided = new Map(members.map((m): [string, DecidedBlock[]] => [m, []]));
    for (let s = 1; s <= 4; s++) nodes.get('o2')!.propose(proposal(s)); // forwarded to o1
    run(nodes, storages, decided);
    assert.equal(decided.get('o1')!.length, 1, 'a full batch of 3 is cut immediately');
    for (const n of nodes.values()) n.tick();
    run(nodes, storages, decided);
    for (const n of nodes.values()) n.tick();
    run(nodes, storages, decided);
    const chain = decided.get('o1')!;
    assert.deepEqual(
      chain.map((b) => b.proposals.map((p) => p.seq)),
      [[1, 2, 3], [4]],
    );
    assert.deepEqual(decided.get('o2'), chain);
    assert.deepEqual(decided.get('o3'), chain);
    let prev = GENESIS_DIGEST;
    for (const b of chain) {
      assert.deepEqual(b.previousDigest, prev);
      assert.deepEqual(b.digest, blockDigest(b.height, prev, b.proposals));
      prev = b.digest;
    }
  });

  it('decides a retried proposal once, also after a restart', () => {
    const storage = new MemoryStorage();
    const storages = new Map([
      ['o1', storage],
      ['o2', new MemoryStorage()],
      ['o3', new MemoryStorage()],
    ]);
    let nodes = new Map(members.map((m) => [m, makeNode(m, storages.get(m)!)]));
    const decided = new Map(members.map((m): [string, DecidedBlock[]] => [m, []]));
    for (let s = 1; s <= 3; s++) nodes.get('o1')!.propose(proposal(s));
    run(nodes, storages, decided);
    nodes = new Map(members.map((m) => [m, makeNode(m, storages.get(m)!)]));
    assert.equal(nodes.get('o1')!.status().decidedHeight, 1);
    for (let s = 1; s <= 3; s++) nodes.get('o1')!.propose(proposal(s)); // retries
    for (const n of nodes.values()) n.tick();
    for (const n of nodes.values()) n.tick();
    run(nodes, storages, decided);
    assert.equal(decided.get('o1')!.length, 1);
  });

  it('re-emits decided blocks the application had not applied before a crash', () => {
    const storage = new MemoryStorage();
    const o1 = makeNode('o1', storage);
    for (let s = 1; s <= 6; s++) o1.propose(proposal(s));
    const rd = o1.ready();
    storage.apply(rd.persist); // persisted, then "crashed" before the app applied the blocks
    assert.equal(rd.decided.length, 2);
    const restarted = makeNode('o1', storage, 0);
    assert.deepEqual(
      restarted.ready().decided.map((b) => b.height),
      [1, 2],
    );
  });

  it('followers reject blocks with a bad signature or broken chain', () => {
    const storage = new MemoryStorage();
    const o2 = makeNode('o2', storage);
    const o1 = makeNode('o1', new MemoryStorage());
    for (let s = 1; s <= 3; s++) o1.propose(proposal(s));
    const block = o1.ready().decided[0]!;
    const forged = { ...block, certificate: { ...block.certificate!, signatures: [{ nodeId: 'o1', signature: new Uint8Array(64) }] } };
    o2.step('o1', { type: 'solo/block', block: forged });
    assert.equal(o2.status().decidedHeight, 0);
    o2.step('o3', { type: 'solo/block', block });
    assert.equal(o2.status().decidedHeight, 0, 'only the orderer may send blocks');
    o2.step('o1', { type: 'solo/block', block: { ...block, proposals: [proposal(9)] } });
    assert.equal(o2.status().decidedHeight, 0, 'digest must match the proposals');
    o2.step('o1', { type: 'solo/block', block });
    assert.equal(o2.status().decidedHeight, 1);
  });
});
