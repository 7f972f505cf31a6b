import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRng } from '../consensus/rng.ts';
import { SimNetwork, type NetworkConfig } from './network.ts';
import { EventQueue, QueueFullError } from './queue.ts';
import { planFaults } from './faults.ts';
import { resolveOptions } from './options.ts';
import { forge } from './byzantine.ts';
import { registerTestEngines } from './testdata/sequencer.ts';
import type { EngineMessage } from '../consensus/engine.ts';

registerTestEngines();

const ids = ['n1', 'n2', 'n3', 'n4'];
const cfg = (over: Partial<NetworkConfig> = {}): NetworkConfig => ({ latencyMs: { min: 1, max: 20 }, lossRate: 0, duplicateRate: 0, reorder: true, ...over });

function deliveries(net: SimNetwork, from: string, to: string, count: number): { delivered: number; dropped: Map<string, number>; times: number[] } {
  let delivered = 0;
  const dropped = new Map<string, number>();
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = net.route(from, to, i);
    if (r.dropped) dropped.set(r.dropped, (dropped.get(r.dropped) ?? 0) + 1);
    delivered += r.deliverAtMs.length;
    times.push(...r.deliverAtMs);
  }
  return { delivered, dropped, times };
}

describe('network model', () => {
  it('delivers within the latency range, every message exactly once without faults', () => {
    const net = new SimNetwork(ids, new SeededRng(1), cfg());
    const d = deliveries(net, 'n1', 'n2', 1000);
    assert.equal(d.delivered, 1000);
    d.times.forEach((t, i) => assert.ok(t - i >= 1 && t - i <= 20, `latency ${t - i}`));
  });

  it('loses about lossRate of the messages, and duplicates about duplicateRate', () => {
    const net = new SimNetwork(ids, new SeededRng(2), cfg({ lossRate: 0.3, duplicateRate: 0.2 }));
    const d = deliveries(net, 'n1', 'n2', 4000);
    const lost = d.dropped.get('loss') ?? 0;
    assert.ok(lost > 1000 && lost < 1400, `lost ${lost}`);
    const duplicates = d.delivered - (4000 - lost);
    assert.ok(duplicates > 400 && duplicates < 600, `duplicates ${duplicates}`);
  });

  it('a symmetric partition cuts both directions between groups only, and heals', () => {
    const net = new SimNetwork(ids, new SeededRng(3), cfg());
    net.setPartition([
      ['n1', 'n2'],
      ['n3', 'n4'],
    ]);
    assert.equal(net.route('n1', 'n3', 0).dropped, 'partition');
    assert.equal(net.route('n3', 'n1', 0).dropped, 'partition');
    assert.equal(net.route('n1', 'n2', 0).dropped, null);
    assert.equal(net.route('n4', 'n3', 0).dropped, null);
    net.setPartition(null);
    assert.equal(net.route('n1', 'n3', 0).dropped, null);
  });

  it('a node in no partition group is isolated', () => {
    const net = new SimNetwork(ids, new SeededRng(3), cfg());
    net.setPartition([['n1', 'n2', 'n3']]);
    assert.equal(net.route('n4', 'n1', 0).dropped, 'partition');
    assert.equal(net.route('n1', 'n4', 0).dropped, 'partition');
  });

  it('a one-way cut drops from → to only', () => {
    const net = new SimNetwork(ids, new SeededRng(4), cfg());
    net.cut('n1', 'n2');
    assert.equal(net.route('n1', 'n2', 0).dropped, 'cut');
    assert.equal(net.route('n2', 'n1', 0).dropped, null);
    net.uncut('n1', 'n2');
    assert.equal(net.route('n1', 'n2', 0).dropped, null);
  });

  it('healAll removes partitions, cuts and bursts but keeps the base loss rate', () => {
    const net = new SimNetwork(ids, new SeededRng(5), cfg({ lossRate: 0.1 }));
    net.setPartition([['n1'], ['n2', 'n3', 'n4']]);
    net.cut('n2', 'n3');
    net.setExtraLossRate(0.8);
    net.healAll();
    assert.equal(net.linkDown('n1', 'n2'), null);
    assert.equal(net.linkDown('n2', 'n3'), null);
    const lost = deliveries(net, 'n2', 'n3', 2000).dropped.get('loss') ?? 0;
    assert.ok(lost > 120 && lost < 300, `lost ${lost} at base 0.1`);
  });

  it('keeps per-link FIFO order without reordering, and reorders with it', () => {
    const fifo = deliveries(new SimNetwork(ids, new SeededRng(6), cfg({ reorder: false, latencyMs: { min: 1, max: 50 } })), 'n1', 'n2', 500).times;
    assert.deepEqual(
      fifo,
      [...fifo].sort((a, b) => a - b),
    );
    // Find a link whose latency range is wide enough to reorder sends 1 ms apart.
    const net = new SimNetwork(ids, new SeededRng(6), cfg({ reorder: true, latencyMs: { min: 1, max: 50 } }));
    const reordered = ids.some((to) => {
      const t = deliveries(net, 'n1', to, 500).times;
      return t.some((x, i) => i > 0 && x < t[i - 1]!);
    });
    assert.ok(reordered);
  });

  it('is deterministic for a seed', () => {
    const a = deliveries(new SimNetwork(ids, new SeededRng(9), cfg({ lossRate: 0.2, duplicateRate: 0.1 })), 'n3', 'n1', 300);
    const b = deliveries(new SimNetwork(ids, new SeededRng(9), cfg({ lossRate: 0.2, duplicateRate: 0.1 })), 'n3', 'n1', 300);
    assert.deepEqual(a, b);
  });

  it('rejects bad configuration', () => {
    assert.throws(() => new SimNetwork(ids, new SeededRng(1), cfg({ lossRate: 1.5 })), /lossRate/);
    assert.throws(() => new SimNetwork(ids, new SeededRng(1), cfg({ latencyMs: { min: 10, max: 1 } })), /latency range/);
  });
});

describe('event queue', () => {
  it('pops in time order, ties in insertion order, and is bounded', () => {
    const q = new EventQueue<string>(5);
    q.push(5, 'c');
    q.push(1, 'a');
    q.push(5, 'd');
    q.push(3, 'b');
    q.push(5, 'e');
    assert.throws(() => q.push(0, 'x'), QueueFullError);
    const out: string[] = [];
    for (let e = q.pop(); e; e = q.pop()) out.push(e.event);
    assert.deepEqual(out, ['a', 'b', 'c', 'd', 'e']);
  });

  it('orders many random events', () => {
    const q = new EventQueue<number>(10_000);
    const rng = new SeededRng(3);
    for (let i = 0; i < 5000; i++) q.push(rng.nextInt(100), i);
    let last = { at: -1, seq: -1 };
    for (let e = q.pop(); e; e = q.pop()) {
      assert.ok(e.atMs > last.at || (e.atMs === last.at && e.seq > last.seq));
      last = { at: e.atMs, seq: e.seq };
    }
  });
});

describe('fault plans', () => {
  it('never has more than crashMax nodes crashed, nor crashed + Byzantine above f', () => {
    for (const [engine, nodes, faults] of [
      ['test-sequencer', 5, 'crash'],
      ['test-sequencer-bft', 7, 'all'],
      ['test-sequencer-bft', 4, 'all'],
    ] as const) {
      for (let seed = 0; seed < 200; seed++) {
        const o = resolveOptions({ engine, nodes, seed, faults, durationMs: 5000, crashMax: engine === 'test-sequencer' ? 2 : undefined });
        const ids7 = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
        const plan = planFaults(o, ids7, new SeededRng(seed));
        const crashed = new Set<string>();
        for (const { action } of plan.actions) {
          if (action.kind === 'crash') {
            assert.ok(!crashed.has(action.node) && !plan.byzantine.includes(action.node));
            crashed.add(action.node);
          } else if (action.kind === 'restart') {
            assert.ok(crashed.delete(action.node), 'restart only a crashed node');
          }
          assert.ok(crashed.size <= plan.crashMax);
          if (engine === 'test-sequencer-bft') assert.ok(crashed.size + plan.byzantine.length <= o.f, `seed ${seed}`);
        }
        assert.equal(plan.actions[plan.actions.length - 1]!.action.kind, 'heal-all');
      }
    }
  });
});

describe('Byzantine forging', () => {
  it('flips a signature byte or claims another sender, on a copy', () => {
    const msg = { type: 'prepare', replica: 'n2', view: 1, sig: new Uint8Array(64).fill(7) } as EngineMessage;
    const seen = new Set<string>();
    for (let s = 0; s < 20; s++) {
      const f = forge(msg, 'n2', ids, new SeededRng(s));
      assert.ok(f);
      const m = f.message as unknown as { replica: string; sig: Uint8Array };
      if (m.replica !== 'n2') seen.add('sender');
      if (m.sig.some((b) => b !== 7)) seen.add('sig');
      assert.notDeepEqual(m, msg);
    }
    assert.deepEqual([...seen].sort(), ['sender', 'sig']);
    assert.deepEqual((msg as unknown as { sig: Uint8Array }).sig, new Uint8Array(64).fill(7), 'the original is untouched');
    assert.equal(forge({ type: 'x', n: 1 } as EngineMessage, 'n2', ids, new SeededRng(1)), null);
  });
});
