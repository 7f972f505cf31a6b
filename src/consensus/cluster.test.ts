import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../codec/index.ts';
import { Cluster } from './cluster.ts';
import { SeededRng } from './rng.ts';
import { clusterConfig, ENGINE_TEST_SIZES } from './cluster.testkit.ts';

const proposal = (seq: number) => ({ clientId: 'c', seq, data: utf8(`tx ${seq}`) });

describe('consensus/cluster: one in-process cluster for every engine', () => {
  for (const [engine, n] of ENGINE_TEST_SIZES) {
    it(`${engine}: every node decides what was proposed, once, and they agree`, () => {
      const c = new Cluster(clusterConfig(engine, n));
      c.tick(30); // elections, CAMS selection…
      for (let s = 1; s <= 3; s++) c.propose(c.ids[s % n]!, proposal(s));
      c.tick(60);
      for (const id of c.ids) {
        const keys = c.instance(id).decided.flatMap((b) => b.proposals.map((p) => `${p.clientId}#${p.seq}`));
        assert.deepEqual([...keys].sort(), ['c#1', 'c#2', 'c#3'], `${engine} ${id}`);
      }
      assert.deepEqual(c.conflicts(), []);
    });
  }

  it('decides nothing when the interceptor drops every message, and resumes when it stops', () => {
    const c = new Cluster(clusterConfig('pbft', 4));
    c.interceptor = () => false;
    c.propose('n1', proposal(1));
    c.tick(5);
    for (const id of c.ids) assert.equal(c.instance(id).decided.length, 0);
    c.interceptor = null;
    c.tick(200);
    for (const id of c.ids) assert.equal(c.instance(id).decided.length, 1, id);
  });

  it('restarts a crashed node from its store and catches it up', () => {
    const c = new Cluster(clusterConfig('ehbft', 4, { order: new SeededRng(7) }));
    c.propose('n0', proposal(1));
    c.tick(20);
    c.crash('n3');
    assert.throws(() => c.engine('n3'), /crashed/);
    c.propose('n1', proposal(2));
    c.tick(20);
    c.restart('n3', c.instance('n3').decided.length);
    c.tick(60);
    const heights = c.ids.map((id) => c.instance(id).decided.flatMap((b) => b.proposals).length);
    assert.deepEqual(heights, [2, 2, 2, 2]);
    assert.deepEqual(c.conflicts(), []);
  });

  it('runs a twin as a second instance of one identity, each side of a partition', () => {
    const c = new Cluster(clusterConfig('ehbft', 4, { twins: ['n0'], order: new SeededRng(3) }));
    assert.deepEqual([...c.instances.keys()], ['n0', "n0'", 'n1', 'n2', 'n3']);
    c.partition([
      ['n0', 'n1'],
      ["n0'", 'n2', 'n3'],
    ]);
    c.tick(5);
    c.heal();
    c.tick(5);
    assert.equal(c.instance("n0'").identity, 'n0');
  });
});
