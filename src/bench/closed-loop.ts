// Closed-loop load for the ordering benchmark: `concurrency` submissions kept in flight over
// HTTP/2 sessions opened once, driven in slices so that two systems can be measured in turns at
// the same moments of the machine's life (decision 1413). A slice first runs unmeasured for
// `rampMs` (the pipeline refills after the system stood idle while the other one ran), then counts
// every submission that completes within the next `measureMs`; submissions still in flight at the
// end are let finish (so nothing is left half-sent) but not counted.
import http2 from 'node:http2';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { PAYLOAD_ID_BYTES } from './ordering-node.ts';
import type { PairLog } from './timeline.ts';

export type Submit = (session: http2.ClientHttp2Session, payload: Buffer) => Promise<void>;

/** A system that fails this often (and more often than it succeeds) in a slice is down: stop the slice. */
const ERRORS_MAX = 100;
const RETRY_PAUSE_MS = 10;

export interface SliceResult {
  /** Submissions completed within the measured window, and their latencies (ms). */
  readonly ops: number;
  readonly latenciesMs: readonly number[];
  /** How long the measured window lasted (shorter than asked when opsMax ended it). */
  readonly measuredMs: number;
  readonly errors: number;
  readonly firstError: string | null;
}

export interface ClosedLoopOptions {
  readonly url: string;
  readonly submit: Submit;
  readonly concurrency: number;
  readonly payloadBytes: number;
  /** Four bytes that make this run's payload ids unique. */
  readonly runTag: Buffer;
  /** Keep the id of every payload acknowledged (exactly-once checks in tests). */
  readonly keepIds: boolean;
  /** Where each measured round's start (ms since the epoch) and latency (ms) go (bench/timeline.ts). */
  readonly rounds?: PairLog;
}

/** HTTP/2 sessions for `concurrency` streams in flight: one per 128 streams, at most 8. */
function openSessions(url: string, concurrency: number): http2.ClientHttp2Session[] {
  const count = Math.min(8, Math.max(1, Math.ceil(concurrency / 128)));
  return Array.from({ length: count }, () => {
    const s = http2.connect(url, { settings: { enablePush: false } });
    s.on('error', () => undefined);
    return s;
  });
}

export class ClosedLoop {
  private readonly sessions: http2.ClientHttp2Session[];
  private readonly filler: Buffer;
  private index = 0;
  /** Ids (hex) of every payload acknowledged, warm-up and ramps included, when keepIds. */
  readonly ackedIds: string[] = [];

  constructor(private readonly o: ClosedLoopOptions) {
    if (o.payloadBytes < PAYLOAD_ID_BYTES) throw new RangeError(`payloads of at least ${PAYLOAD_ID_BYTES} bytes`);
    this.sessions = openSessions(o.url, o.concurrency);
    this.filler = randomBytes(o.payloadBytes);
  }

  /** Payloads submitted so far (every slice, warm-up included). */
  get submitted(): number {
    return this.index;
  }

  /** Run `rampMs` unmeasured, then measure `measureMs` (or until `opsMax` completions are counted). */
  async run(slice: { readonly rampMs: number; readonly measureMs: number; readonly opsMax?: number }): Promise<SliceResult> {
    const windowStart = performance.now() + slice.rampMs;
    let end = windowStart + slice.measureMs;
    const opsMax = slice.opsMax ?? Number.POSITIVE_INFINITY;
    let ops = 0;
    let errors = 0;
    let firstError: string | null = null;
    const latenciesMs: number[] = [];
    const worker = async (w: number): Promise<void> => {
      const session = this.sessions[w % this.sessions.length]!;
      while (performance.now() < end) {
        const payload = this.nextPayload();
        const t0 = performance.now();
        try {
          await this.o.submit(session, payload);
          const t1 = performance.now();
          if (this.o.keepIds) this.ackedIds.push(payload.subarray(0, PAYLOAD_ID_BYTES).toString('hex'));
          if (t1 >= windowStart && t1 <= end && ops < opsMax) {
            ops += 1;
            latenciesMs.push(t1 - t0);
            this.o.rounds?.push(performance.timeOrigin + t0, t1 - t0);
            if (ops >= opsMax) end = t1;
          }
        } catch (err) {
          errors += 1;
          firstError ??= (err as Error).message;
          if (errors > ERRORS_MAX && errors > ops) return;
          await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
        }
      }
    };
    await Promise.all(Array.from({ length: this.o.concurrency }, (_, w) => worker(w)));
    return { ops, latenciesMs, measuredMs: Math.max(0, Math.min(end, performance.now()) - windowStart), errors, firstError };
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }

  /** Each payload starts with its PAYLOAD_ID_BYTES id: run tag (4), level (4), index (8). */
  private nextPayload(): Buffer {
    const payload = Buffer.from(this.filler);
    this.o.runTag.copy(payload, 0, 0, 4);
    payload.writeUInt32BE(this.o.concurrency, 4);
    payload.writeBigUInt64BE(BigInt(this.index++), 8);
    return payload;
  }
}
