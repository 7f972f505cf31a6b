import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compareCsv, comparePlan, CompareOptionsError, parseEngineSpec, runCompareItem, type CompareOptions } from './compare.ts';

const base: Omit<CompareOptions, 'engines'> = { nodes: 4, faults: ['none', 'byzantine'], seeds: 1, seedStart: 1, durationMs: 500, crypto: 'fast' };

describe('lab compare', () => {
  it('parses engine specs with options', () => {
    assert.deepEqual(parseEngineSpec('ehbft'), { label: 'ehbft', engine: 'ehbft', options: {} });
    assert.deepEqual(parseEngineSpec('ehbft:quorum=paper;sliceTimeoutTicks=3;versionCheck=false'), {
      label: 'ehbft:quorum=paper;sliceTimeoutTicks=3;versionCheck=false',
      engine: 'ehbft',
      options: { quorum: 'paper', sliceTimeoutTicks: 3, versionCheck: false },
    });
    assert.throws(() => parseEngineSpec('ehbft:quorum'), CompareOptionsError);
    assert.throws(() => parseEngineSpec('Bad Name'), CompareOptionsError);
  });

  it('skips, with a note, what an engine cannot run', () => {
    const plan = comparePlan({ ...base, engines: ['raft', 'ehbft', 'nosuch', 'ehbft:bogus=1'].map(parseEngineSpec) });
    const skip = (label: string, faults: string): string | null => plan.find((p) => p.spec.label === label && p.faults === faults)!.skip;
    assert.match(skip('raft', 'byzantine')!, /crash-fault tolerant/);
    assert.equal(skip('raft', 'none'), null);
    assert.equal(skip('ehbft', 'byzantine'), null);
    assert.match(skip('nosuch', 'none')!, /not registered/);
    assert.match(skip('ehbft:bogus=1', 'none')!, /unknown ehbft option "bogus"/);
  });

  it('runs the same seeds and reports checker results and costs', () => {
    const o: CompareOptions = { ...base, faults: ['none'], engines: [parseEngineSpec('ehbft')] };
    const [item] = comparePlan(o);
    const row = runCompareItem(item!, o);
    assert.equal(row.runs, 1);
    assert.deepEqual(row.failingSeeds, []);
    assert.ok(row.decidedBlocksPerRun > 0 && row.messagesPerBlock > 0 && row.latencyP99Ms >= row.latencyP50Ms);
    const csv = compareCsv([row]);
    assert.match(csv.split('\n')[1]!, /^ehbft,byzantine,none,ran,1,,0,/);
  });
});
