import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { LabSimulationBody, type LabJobT } from '../protocol/schemas.ts';
import { LabError, LabJobs } from './lab-jobs.ts';

const request = (o: Record<string, unknown>) => LabSimulationBody.parse({ engine: 'raft', nodes: 4, faults: 'crash', seeds: 2, durationMs: 2_000, ...o });

async function settled(jobs: LabJobs, jobId: string, owner: string): Promise<LabJobT> {
  for (let i = 0; i < 600; i++) {
    const j = jobs.get(jobId, owner);
    if (j.state !== 'running') return j;
    await sleep(100);
  }
  throw new Error('the lab job did not finish');
}

describe('lab jobs (simulations in a worker thread)', () => {
  it('runs a campaign off the main thread, reports each seed and the summary; one at a time; only its owner sees it', async () => {
    const jobs = new LabJobs();
    const started = jobs.start(request({}), 'H1/researcher1');
    assert.equal(started.state, 'running');
    assert.equal(started.total, 2);
    assert.throws(
      () => jobs.start(request({}), 'H1/admin1'),
      (e: unknown) => e instanceof LabError && e.code === 'BUSY',
    );
    assert.throws(
      () => jobs.get(started.jobId, 'H2/researcher1'),
      (e: unknown) => e instanceof LabError && e.code === 'NOT_FOUND',
    );
    const done = await settled(jobs, started.jobId, 'H1/researcher1');
    assert.equal(done.state, 'done', done.error ?? '');
    assert.equal(done.done, 2);
    assert.equal(done.summary?.runs, 2);
    assert.equal(done.summary?.engine, 'raft');
    assert.equal((done.summary as unknown as { violations: { count: number } }).violations.count, 0);
    // Free again once finished.
    const next = jobs.start(request({ seeds: 1, engine: 'pbft' }), 'H1/admin1');
    assert.equal((await settled(jobs, next.jobId, 'H1/admin1')).state, 'done');
    await jobs.close();
  });

  it('refuses an unknown engine and stops a campaign at the wall-clock limit', async () => {
    const jobs = new LabJobs(300);
    assert.throws(() => jobs.start(request({ engine: 'nosuch' }), 'H1/r'), /unknown engine "nosuch"/);
    const j = jobs.start(request({ engine: 'pbft', nodes: 16, seeds: 10, durationMs: 30_000, crypto: 'ecdsa' }), 'H1/r');
    const out = await settled(jobs, j.jobId, 'H1/r');
    assert.equal(out.state, 'failed');
    assert.match(out.error ?? '', /stopped after 0.3 s/);
    await jobs.close();
  });
});
