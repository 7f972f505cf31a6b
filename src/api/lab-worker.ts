// The body of a lab job (api/lab-jobs.ts), run in a worker thread so that a simulation — pure,
// CPU-bound, seconds long — never stalls the node's event loop (consensus timers, API requests).
// It runs one seed at a time, reports progress after each, and sends the campaign summary.
import { parentPort, workerData } from 'node:worker_threads';
import { CampaignAggregator, runSimulation, type SimOptions } from '../sim/index.ts';

export type LabWorkerMessage =
  | { readonly kind: 'progress'; readonly done: number; readonly failing: number }
  | { readonly kind: 'done'; readonly summary: ReturnType<CampaignAggregator['summary']> }
  | { readonly kind: 'failed'; readonly error: string };

const { options, seeds, seedStart } = workerData as { options: SimOptions; seeds: number; seedStart: number };
const port = parentPort;
if (!port) throw new Error('lab-worker.ts runs as a worker thread');
try {
  let agg: CampaignAggregator | null = null;
  let failing = 0;
  for (let i = 0; i < seeds; i++) {
    const r = runSimulation({ ...options, seed: seedStart + i });
    agg ??= new CampaignAggregator(r.engine, r.nodes, r.faults, seedStart);
    agg.add(r);
    if (r.violations.length > 0) failing += 1;
    port.postMessage({ kind: 'progress', done: i + 1, failing } satisfies LabWorkerMessage);
  }
  port.postMessage({ kind: 'done', summary: agg!.summary() } satisfies LabWorkerMessage);
} catch (err) {
  port.postMessage({ kind: 'failed', error: (err as Error).message } satisfies LabWorkerMessage);
}
