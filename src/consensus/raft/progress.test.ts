import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Inflights, Progress } from './progress.ts';

describe('Inflights', () => {
  it('is a bounded window freed by acknowledgements', () => {
    const w = new Inflights(3);
    w.add(5);
    w.add(7);
    w.add(9);
    assert.equal(w.full(), true);
    assert.throws(() => w.add(11), /not full/);
    w.freeLE(7);
    assert.equal(w.count, 1);
    w.freeFirstOne();
    assert.equal(w.count, 0);
    assert.throws(() => {
      w.add(4);
      w.add(4);
    }, /increase/);
  });
});

describe('Progress', () => {
  it('probe sends one append at a time; an ack switches to replicate', () => {
    const p = new Progress(11, 2);
    assert.equal(p.state, 'probe');
    assert.equal(p.isPaused(), false);
    p.probeSent = true;
    assert.equal(p.isPaused(), true);
    assert.equal(p.maybeUpdate(10), true);
    assert.equal(p.isPaused(), false);
    p.becomeReplicate();
    assert.equal(p.next, 11);
    p.optimisticUpdate(12);
    p.inflights.add(12);
    p.optimisticUpdate(14);
    p.inflights.add(14);
    assert.equal(p.isPaused(), true); // window of 2 is full
    assert.equal(p.maybeUpdate(12), true);
    p.inflights.freeLE(12);
    assert.equal(p.isPaused(), false);
    assert.equal(p.next, 15);
  });

  it('maybeDecrTo ignores stale rejections and uses the hint in probe state', () => {
    const p = new Progress(11, 4);
    p.match = 3;
    assert.equal(p.maybeDecrTo(8, 5), false); // not the probe in flight (next-1 = 10)
    assert.equal(p.maybeDecrTo(10, 5), true);
    assert.equal(p.next, 6); // hint + 1
    assert.equal(p.maybeDecrTo(5, 0), true);
    assert.equal(p.next, 4); // never below match + 1
    p.becomeReplicate();
    p.optimisticUpdate(9);
    assert.equal(p.maybeDecrTo(2, 0), false); // at or below match: stale
    assert.equal(p.maybeDecrTo(7, 0), true);
    assert.equal(p.next, 4);
  });

  it('snapshot state pauses until acknowledged, then probes after the snapshot', () => {
    const p = new Progress(5, 4);
    p.becomeSnapshot(100);
    assert.equal(p.isPaused(), true);
    p.maybeUpdate(100);
    p.becomeProbe();
    assert.equal(p.state, 'probe');
    assert.equal(p.next, 101);
  });
});
