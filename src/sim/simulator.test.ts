import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runSimulation, runCampaign, planSimulation, resolveOptions, SimOptionsError, type SimOptions, type SimResult } from './index.ts';
import { registerTestEngines } from './testdata/sequencer.ts';

registerTestEngines();

const base: SimOptions = { engine: 'test-sequencer', nodes: 3, seed: 1, faults: 'none', durationMs: 1000, crypto: 'fast', livenessMs: 5000 };

function checkers(r: SimResult): string[] {
  return [...new Set(r.violations.map((v) => v.checker))].sort();
}

describe('simulator: replay', () => {
  it('replays a seed exactly (full results deep-equal), with faults and fast crypto', () => {
    const o: SimOptions = { ...base, faults: 'all', crashMax: 1, seed: 42, trace: true, network: { duplicateRate: 0.05, lossRate: 0.02 } };
    const a = runSimulation(o);
    const b = runSimulation(o);
    assert.deepEqual(a, b);
    assert.ok(a.faultSchedule.length > 1, 'the seed drew faults');
    assert.ok(a.metrics.decidedProposals > 0);
    assert.ok(a.trace.length > 0);
  });

  it('replays with ECDSA keys too (signature bytes differ, results do not)', () => {
    const o: SimOptions = { ...base, engine: 'solo', faults: 'crash', seed: 5, crypto: 'ecdsa', durationMs: 500 };
    assert.deepEqual(runSimulation(o), runSimulation(o));
  });

  it('different seeds give different runs', () => {
    const a = runSimulation({ ...base, faults: 'partition', seed: 1 });
    const b = runSimulation({ ...base, faults: 'partition', seed: 2 });
    assert.notDeepEqual(a.faultSchedule, b.faultSchedule);
  });
});

describe('simulator: a correct engine passes every checker under faults', () => {
  for (const faults of ['none', 'crash', 'partition', 'all'] as const) {
    it(`test-sequencer, faults ${faults}, seeds 1-4`, () => {
      for (let seed = 1; seed <= 4; seed++) {
        const r = runSimulation({ ...base, faults, seed, crashMax: 1, network: { duplicateRate: 0.02 } });
        assert.deepEqual(r.violations, [], `seed ${seed}: ${JSON.stringify(r.violations)}\n${r.faultSchedule.join('\n')}`);
        assert.ok(r.metrics.decidedProposals > 50, `seed ${seed} decided ${r.metrics.decidedProposals}`);
        assert.ok(r.metrics.latencyMs.p99 >= r.metrics.latencyMs.p50);
        assert.ok(r.metrics.messagesByType['fwd']!.bytes > r.metrics.messagesByType['fwd']!.count * 64, 'bytes are the encoded size');
      }
    });
  }

  it('crashes keep only persisted state and restarts catch up (crash of the whole cluster)', () => {
    let crashes = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const r = runSimulation({ ...base, faults: 'crash', seed, crashMax: 3, durationMs: 2000 });
      crashes += r.faultSchedule.filter((l) => / crash n\d/.test(l)).length;
      assert.deepEqual(r.violations, [], `seed ${seed}: ${JSON.stringify(r.violations)}`);
    }
    assert.ok(crashes >= 4, `crashes were scheduled (${crashes})`);
  });
});

describe('simulator: Ready.restore (snapshot install / state transfer)', () => {
  it("fills a lagging node's ledger from a correct node after checking the digest", () => {
    let restores = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const r = runSimulation({ ...base, faults: 'crash', seed, crashMax: 1, trace: true, traceEventsMax: 100_000 });
      assert.deepEqual(r.violations, [], `seed ${seed}`);
      restores += r.trace.filter((l) => / restore to height \d+/.test(l)).length;
      assert.ok(r.trace.filter((l) => l.includes('restored from n1 height')).length >= r.trace.filter((l) => l.includes('restore to height')).length);
    }
    assert.ok(restores >= 2, `restores happened (${restores})`);
  });

  it('a restore to a digest no correct node decided is an agreement violation', () => {
    let caught = 0;
    for (let seed = 1; seed <= 4; seed++) {
      const r = runSimulation({ ...base, faults: 'crash', seed, crashMax: 1, engineOptions: { bug: 'restore' } });
      if (r.violations.length === 0) continue;
      caught += 1;
      assert.deepEqual(checkers(r), ['agreement']);
      assert.match(r.violations[0]!.message, /restores height \d+ to digest [0-9a-f]+, but correct node n1 decided/);
    }
    assert.ok(caught >= 2, `caught ${caught}`);
  });
});

describe('simulator: each checker catches its deliberately broken engine', () => {
  const cases = [
    { bug: 'agreement', nodes: 3, faults: 'none' },
    { bug: 'validity', nodes: 3, faults: 'none' },
    { bug: 'integrity', nodes: 3, faults: 'none' },
    { bug: 'durability', nodes: 1, faults: 'crash' },
    { bug: 'liveness', nodes: 3, faults: 'none' },
  ] as const;
  for (const c of cases) {
    it(`${c.bug}`, () => {
      let caught = 0;
      for (let seed = 1; seed <= 3; seed++) {
        const r = runSimulation({ ...base, nodes: c.nodes, faults: c.faults, seed, crashMax: 1, durationMs: 2000, engineOptions: { bug: c.bug } });
        if (r.violations.length === 0) continue;
        caught += 1;
        assert.deepEqual(checkers(r), [c.bug], JSON.stringify(r.violations));
        assert.ok(
          r.trace.some((l) => l.includes('VIOLATION')),
          'a trace ending at the violation',
        );
        assert.ok(r.faultSchedule.length >= 1);
      }
      assert.equal(caught, 3, `caught on every seed`);
    });
  }

  it('the same broken engine is clean without its bug (the checkers are not trigger-happy)', () => {
    const r = runSimulation({ ...base, nodes: 1, faults: 'crash', seed: 1, crashMax: 1, durationMs: 2000 });
    assert.deepEqual(r.violations, []);
  });
});

describe('simulator: Byzantine faults', () => {
  it('exposes an engine that does not tolerate an equivocating leader', () => {
    // test-sequencer-bft claims BFT but trusts its sequencer; find seeds where n1 (the sequencer)
    // is Byzantine and equivocates, and expect agreement violations there.
    let equivocating = 0;
    for (let seed = 1; seed <= 40 && equivocating < 2; seed++) {
      const o: SimOptions = { ...base, engine: 'test-sequencer-bft', nodes: 4, faults: 'byzantine', seed };
      const n1 = planSimulation(o).faultSchedule.find((l) => l.includes('byzantine n1 '));
      if (!n1?.includes('equivocate') || n1.includes('withhold')) continue;
      equivocating += 1;
      const r = runSimulation(o);
      assert.deepEqual(r.faultSchedule, planSimulation(o).faultSchedule, 'planSimulation predicts the schedule');
      assert.ok(
        r.violations.some((v) => v.checker === 'agreement'),
        `seed ${seed}: ${n1} → ${JSON.stringify(r.violations)}`,
      );
      assert.ok(
        r.trace.some((l) => l.includes('[byzantine equivocate:blk]')),
        'the trace shows the equivocation',
      );
    }
    assert.equal(equivocating, 2);
  });

  it('Byzantine nodes are excluded from the checkers', () => {
    // A Byzantine follower (not the sequencer) can decide what it likes: no violation.
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSimulation({ ...base, engine: 'test-sequencer-bft', nodes: 4, faults: 'byzantine', seed });
      if (r.faultSchedule.some((l) => l.includes('byzantine n1 '))) continue;
      assert.deepEqual(r.violations, [], `seed ${seed}`);
      return;
    }
    assert.fail('no seed with a Byzantine follower');
  });

  it('twins: two instances share one identity', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const o: SimOptions = { ...base, engine: 'test-sequencer-bft', nodes: 4, faults: 'byzantine', seed, trace: true, traceEventsMax: 5000 };
      const twin = planSimulation(o).faultSchedule.find((l) => l.includes('twins'));
      if (!twin) continue;
      const r = runSimulation(o);
      const id = /byzantine (n\d+)/.exec(twin)![1]!;
      assert.ok(
        r.trace.some((l) => l.includes(`-> ${id}′ `)),
        `the twin ${id}′ receives messages`,
      );
      return;
    }
    assert.fail('no seed drew twins');
  });

  it('rejects Byzantine faults for a crash-fault engine, and other bad options, with clear errors', () => {
    assert.throws(
      () => runSimulation({ ...base, faults: 'byzantine' }),
      (e: Error) => e instanceof SimOptionsError && /crash-fault tolerant/.test(e.message),
    );
    assert.throws(() => runSimulation({ ...base, faults: 'all', byzantine: 1 }), /byzantine must be 0/);
    assert.throws(() => runSimulation({ ...base, engine: 'nope' }), /unknown consensus engine "nope"/);
    assert.throws(() => runSimulation({ ...base, nodes: 0 }), /nodes must be an integer between 1 and 64/);
    assert.throws(() => runSimulation({ ...base, seed: -1 }), /seed must be an integer/);
    assert.throws(() => runSimulation({ ...base, faults: 'chaos' as 'none' }), /faults must be one of/);
    assert.throws(() => runSimulation({ ...base, network: { lossRate: 2 } }), /network.lossRate/);
    assert.throws(() => runSimulation({ ...base, network: { latencyMs: { min: 5, max: 1 } } }), /latencyMs.max/);
    assert.throws(() => runSimulation({ ...base, workload: { clients: 0 } }), /workload.clients/);
    assert.throws(() => runSimulation({ ...base, extra: 1 } as SimOptions), /unknown option "extra"/);
    assert.throws(() => runSimulation({ ...base, engine: 'test-sequencer-bft', nodes: 3, faults: 'byzantine' }), /needs at least 4 nodes/);
    assert.throws(
      () => runSimulation({ ...base, engineOptions: { bug: 'x' } }),
      (e: Error) => e instanceof SimOptionsError && /refused to start with these options: test-sequencer: unknown bug x/.test(e.message),
    );
  });
});

describe('simulator: campaign', () => {
  it('aggregates runs and lists failing seeds', () => {
    const progress: number[] = [];
    const s = runCampaign({ ...base, seeds: 3, seedStart: 10, engineOptions: { bug: 'validity' }, onProgress: (d) => progress.push(d) });
    assert.deepEqual(progress, [1, 2, 3]);
    assert.equal(s.runs, 3);
    assert.deepEqual(s.violations.failingSeeds, [10, 11, 12]);
    assert.equal(s.failures.length, 3);
    const ok = runCampaign({ ...base, seeds: 2 });
    assert.equal(ok.violations.count, 0);
    assert.ok(ok.decidedProposals > 0 && ok.latencyMs.p99 >= ok.latencyMs.p50);
    assert.ok(ok.messagesByType['blk']!.count > 0);
  });
});

describe('simulator: scripted (permanent) crashes', () => {
  // raft, 5 nodes: a majority of 3 decides, so 2 permanently crashed orderers (the leader among
  // them) leave a cluster that decides everything; 3 leave none (paper 000's claim).
  const raft: SimOptions = { engine: 'raft', nodes: 5, seed: 3, faults: 'none', durationMs: 3000, crypto: 'fast', livenessMs: 3000 };

  it('two crashed for good, the leader included: the other three decide everything (liveness passes)', () => {
    const r = runSimulation({
      ...raft,
      schedule: [
        { atMs: 1000, action: 'crash', node: '@leader' },
        { atMs: 1000, action: 'crash', node: '@any' },
      ],
    });
    assert.deepEqual(r.violations, []);
    assert.equal(r.scheduleResolved.length, 2);
    assert.match(r.scheduleResolved[0]!, /^t=1000ms crash @leader -> n\d \(reported leader of 5 live correct node\(s\)\)$/);
    assert.ok(
      r.ackTimesMs.some((t) => t > 1500),
      'decisions after the crash',
    );
    assert.ok(r.faultSchedule.some((l) => /crash @leader \(scripted: permanent/.test(l)));
  });

  it('three crashed for good: nothing submitted afterwards is decided, and liveness fails', () => {
    const r = runSimulation({ ...raft, schedule: [1, 2, 3].map((i) => ({ atMs: 1000, action: 'crash' as const, node: i === 1 ? '@leader' : '@any' })) });
    assert.deepEqual(checkers(r), ['liveness']);
    // In-flight acknowledgements may still commit what was sent before the crash, within a link latency.
    const submittedAfter = r.ackTimesMs.filter((t, i) => t - r.latencySamplesMs[i]! >= 1000);
    assert.deepEqual(submittedAfter, []);
  });

  it('a scripted restart brings one back: progress resumes; the result replays exactly', () => {
    const o: SimOptions = {
      ...raft,
      durationMs: 4000,
      schedule: [
        { atMs: 500, action: 'crash', node: '@leader' },
        { atMs: 500, action: 'crash', node: '@any' },
        { atMs: 500, action: 'crash', node: '@any' },
        { atMs: 2000, action: 'restart', node: '@any' },
      ],
    };
    const r = runSimulation(o);
    assert.deepEqual(r.violations, []);
    assert.ok(r.ackTimesMs.some((t) => t > 2000));
    assert.match(r.scheduleResolved[3]!, /restart @any -> n\d/);
    assert.deepEqual(runSimulation(o), r);
  });

  it('bad schedules are option errors naming the entry', () => {
    assert.throws(
      () => runSimulation({ ...raft, schedule: [{ atMs: 5000, action: 'crash', node: 'n1' }] }),
      /schedule\[0\]\.atMs must be an integer between 0 and 2999/,
    );
    assert.throws(
      () => runSimulation({ ...raft, schedule: [{ atMs: 1, action: 'crash', node: 'n9' }] }),
      /schedule\[0\]\.node must be n1\.\.n5, @leader or @any/,
    );
    assert.throws(() => runSimulation({ ...raft, schedule: [{ atMs: 1, action: 'restart', node: '@leader' }] }), /restart @leader/);
    assert.throws(() => runSimulation({ ...raft, schedule: [{ atMs: 1, action: 'pause' as 'crash', node: 'n1' }] }), /action must be crash or restart/);
  });

  it('names the real threshold when an engine tolerates no Byzantine node (gpbft at 8: two groups of 4, two primaries)', () => {
    // One group (4–7 nodes) tolerates f of its members (decision 1399); two or three groups have
    // two or three primaries in layer 2, which tolerate no Byzantine one: the next size is 16.
    assert.throws(() => runSimulation({ ...raft, engine: 'gpbft', nodes: 8, faults: 'byzantine' }), /use at least 16 nodes for --faults byzantine/);
    assert.doesNotThrow(() => resolveOptions({ ...raft, engine: 'gpbft', nodes: 7, faults: 'byzantine' }));
  });
});
