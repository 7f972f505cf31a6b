// The consensus lab on a node: a console user (researcher, admin, supervisor) asks the node to run
// a small simulation campaign — engine, nodes, faults, seeds — and follows its progress. The
// simulator is the deterministic one every engine is proven in (src/sim); it runs in a worker
// thread so that a campaign never stalls this node's consensus timers or API.
//
// Limits: one campaign at a time per node (a hospital's node is not a compute farm), the sizes of
// LAB_LIMITS, a wall-clock limit after which the worker is stopped, and the last JOBS_KEPT jobs
// remembered. A job is visible to the user who started it only.
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
// Every built-in engine registered, so the request can be checked here before a worker starts.
import '../consensus/engines.ts';
import { engineNames } from '../consensus/registry.ts';
import type { LabJobT, LabSimulationBody } from '../protocol/schemas.ts';
import type { z } from 'zod';
import type { LabWorkerMessage } from './lab-worker.ts';

export const LAB_ROLES: readonly string[] = ['researcher', 'admin', 'supervisor'];
export const LAB_JOB_WALL_MS_MAX = 120_000;
const JOBS_KEPT = 20;
const WORKER_HEAP_MB = 512;

export class LabError extends Error {
  override readonly name = 'LabError';
  constructor(
    readonly code: 'BUSY' | 'NOT_FOUND' | 'INVALID',
    message: string,
  ) {
    super(message);
  }
}

type Request = z.output<typeof LabSimulationBody>;

interface Job {
  view: LabJobT;
  readonly owner: string;
  worker: Worker | null;
  timer: NodeJS.Timeout | null;
}

/**
 * The worker thread running a campaign. Running from TypeScript sources (bin/medledger.js
 * registers tsx in the main thread only; a worker starts without it), a small inline entry
 * registers tsx and then loads lab-worker.ts; a compiled node starts lab-worker.js directly.
 */
function startWorker(workerData: unknown): Worker {
  const resourceLimits = { maxOldGenerationSizeMb: WORKER_HEAP_MB };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./lab-worker.js', import.meta.url), { workerData, resourceLimits });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./lab-worker.ts', import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData, resourceLimits });
}

export class LabJobs {
  private readonly jobs = new Map<string, Job>();

  constructor(private readonly wallMsMax = LAB_JOB_WALL_MS_MAX) {}

  /** Start a campaign for `owner` (org/id); refused while another runs on this node. */
  start(request: Request, owner: string): LabJobT {
    if (!engineNames().includes(request.engine))
      throw new LabError('INVALID', `engine: unknown engine "${request.engine}" (known: ${engineNames().join(', ')})`);
    const running = [...this.jobs.values()].find((j) => j.view.state === 'running');
    if (running)
      throw new LabError(
        'BUSY',
        `this node is already running a lab campaign (${running.view.request.engine}, ${running.view.done}/${running.view.total} seeds); try again when it finishes`,
      );
    const jobId = randomBytes(16).toString('hex');
    const job: Job = {
      view: {
        jobId,
        state: 'running',
        done: 0,
        total: request.seeds,
        failing: 0,
        startedAtMs: Date.now(),
        finishedAtMs: null,
        request,
        summary: null,
        error: null,
      },
      owner,
      worker: null,
      timer: null,
    };
    this.jobs.set(jobId, job);
    this.evict();
    const options = { engine: request.engine, nodes: request.nodes, faults: request.faults, durationMs: request.durationMs, crypto: request.crypto };
    const worker = startWorker({ options, seeds: request.seeds, seedStart: request.seedStart });
    job.worker = worker;
    worker.on('message', (m: LabWorkerMessage) => {
      if (m.kind === 'progress') job.view = { ...job.view, done: m.done, failing: m.failing };
      else if (m.kind === 'done') this.finish(job, { state: 'done', summary: m.summary as unknown as LabJobT['summary'] });
      else this.finish(job, { state: 'failed', error: m.error });
    });
    worker.on('error', (err) => this.finish(job, { state: 'failed', error: err.message }));
    worker.on('exit', (code) => {
      if (job.view.state === 'running') this.finish(job, { state: 'failed', error: `the simulation stopped (exit ${code})` });
    });
    job.timer = setTimeout(
      () => this.finish(job, { state: 'failed', error: `stopped after ${this.wallMsMax / 1000} s: ask for fewer seeds, nodes or less simulated time` }),
      this.wallMsMax,
    );
    job.timer.unref();
    return job.view;
  }

  get(jobId: string, owner: string): LabJobT {
    const job = this.jobs.get(jobId);
    if (!job || job.owner !== owner) throw new LabError('NOT_FOUND', `no lab job ${jobId} of yours on this node`);
    return job.view;
  }

  /** Stop every running campaign (the node is closing). */
  async close(): Promise<void> {
    for (const job of this.jobs.values()) if (job.view.state === 'running') this.finish(job, { state: 'failed', error: 'the node stopped' });
  }

  private finish(job: Job, outcome: Partial<Pick<LabJobT, 'state' | 'summary' | 'error'>>): void {
    if (job.view.state !== 'running') return;
    job.view = { ...job.view, ...outcome, finishedAtMs: Date.now() };
    if (job.timer) clearTimeout(job.timer);
    job.timer = null;
    const w = job.worker;
    job.worker = null;
    void w?.terminate();
  }

  private evict(): void {
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= JOBS_KEPT) break;
      if (job.view.state !== 'running') this.jobs.delete(id);
    }
  }
}
