// Where one round's time goes in the ordering benchmark at one payload in flight
// (`medledger bench --ordering --concurrency 1 --timeline <dir>`): each orderer process marks the
// moments of a round (a request's headers and body read, its appends about to leave, a WAL write
// begun and done, a peer's message read, the client answered) in a timeline it writes to <dir>
// when it exits; the benchmark's client records when each measured round began and how long it
// took. Rounds are then cut into stages along the critical path — client to leader, the leader's
// cut, the appends to the follower whose answer left first, its decode and step, its WAL write,
// its answer back, the leader's commit and answer, the way back to the client — and the stages
// are averaged by latency band (the fastest half, …, the slowest 1 %), so a slow band shows which
// stage grew. The leader's own WAL write runs beside the followers' and is shown apart.
//
// Times are `performance.timeOrigin + performance.now()` in each process: stages within a process
// are exact; the two stages that cross between orderers also carry the difference between the
// processes' clocks (the same machine's; microseconds).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** The moments an orderer marks. */
export const MARK = {
  /** A client's request stream opened (its headers read). */
  requestHeaders: 1,
  /** Its body read: the payload is proposed next. */
  requestEnd: 2,
  /** A Ready's early messages (a leader's appends) about to be sent. */
  earlySending: 3,
  /** A Ready's WAL write begun (only Readys that write). */
  walStart: 4,
  /** …and done (fsync'd); a follower's answer is sent next. */
  walDone: 5,
  /** A client answered (the answer is queued on its HTTP/2 stream). */
  clientAnswered: 6,
  /** A peer's message read from the transport. */
  peerMessage: 7,
} as const;
export type Mark = (typeof MARK)[keyof typeof MARK];

/** Marks kept per process (two numbers each): ~1 minute at one in flight. */
export const TIMELINE_MARKS_MAX = 1_000_000;
/** Rounds the client keeps (two numbers each). */
export const TIMELINE_ROUNDS_MAX = 1_000_000;

/** The environment variable that turns an orderer's timeline on: the directory it writes to. */
export const TIMELINE_ENV = 'MEDLEDGER_BENCH_TIMELINE';

/** Pairs (time in ms since the epoch, value) in a fixed array: marking allocates nothing. */
export class PairLog {
  private readonly data: Float64Array;
  private length = 0;
  constructor(pairsMax: number) {
    this.data = new Float64Array(pairsMax * 2);
  }
  push(timeMs: number, value: number): void {
    if (this.length >= this.data.length) return;
    this.data[this.length] = timeMs;
    this.data[this.length + 1] = value;
    this.length += 2;
  }
  get size(): number {
    return this.length / 2;
  }
  /** [t0, v0, t1, v1, …] */
  toArray(): number[] {
    return Array.from(this.data.subarray(0, this.length));
  }
}

export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** An orderer's timeline, written as JSON to `<dir>/orderer-<id>.json` when the process exits. */
export class TimelineRecorder {
  private readonly marks = new PairLog(TIMELINE_MARKS_MAX);
  constructor(
    private readonly dir: string,
    private readonly id: string,
    writeAtExit = true,
  ) {
    if (!writeAtExit) return;
    process.on('exit', () => {
      try {
        this.write();
      } catch (err) {
        // A diagnostic: the benchmark reports the round stages without this process's timeline.
        process.stderr.write(`timeline not written: ${(err as Error).message}\n`);
      }
    });
  }
  mark(mark: Mark): void {
    this.marks.push(nowMs(), mark);
  }
  write(): void {
    writeFileSync(join(this.dir, `orderer-${this.id}.json`), JSON.stringify({ id: this.id, marks: this.marks.toArray() }));
  }
}

/** The recorder when the environment asks for one, else null (the orderer marks nothing). */
export function timelineFromEnv(id: string, env: NodeJS.ProcessEnv = process.env, writeAtExit = true): TimelineRecorder | null {
  const dir = env[TIMELINE_ENV];
  return dir ? new TimelineRecorder(dir, id, writeAtExit) : null;
}

// ------------------------------------------------------------------ analysis

export interface ProcessTimeline {
  readonly id: string;
  /** Marks in time order: [t0, mark0, t1, mark1, …]. */
  readonly marks: readonly number[];
}

/**
 * The stages of one round (ms), along its critical path; they add up to `latencyMs`. The marks
 * before a send are taken before it, so that a receiver on another CPU never reads a message
 * before its sender marked it: a send's own cost is in the wire stage after it.
 */
export interface RoundStages {
  readonly latencyMs: number;
  readonly clientToLeader: number;
  readonly leaderReadsRequest: number;
  readonly leaderProposesAndCuts: number;
  readonly appendsToFollower: number;
  readonly followerBeforeWal: number;
  readonly followerWal: number;
  readonly answerToLeader: number;
  readonly leaderCommitsAndAnswers: number;
  readonly leaderToClient: number;
  /** Beside the followers, not on the path: the leader's own WAL write. */
  readonly leaderWal: number;
}

export const STAGE_NAMES: ReadonlyArray<{ key: Exclude<keyof RoundStages, 'latencyMs'>; label: string }> = [
  { key: 'clientToLeader', label: 'client → leader (HTTP/2 request to its stream)' },
  { key: 'leaderReadsRequest', label: 'leader reads the body' },
  { key: 'leaderProposesAndCuts', label: 'leader proposes and cuts the entry' },
  { key: 'appendsToFollower', label: 'appends sent, wire → first follower' },
  { key: 'followerBeforeWal', label: 'follower decodes and steps' },
  { key: 'followerWal', label: "follower's WAL write + fsync" },
  { key: 'answerToLeader', label: 'answer sent, wire → leader' },
  { key: 'leaderCommitsAndAnswers', label: 'leader reads it, commits, answers' },
  { key: 'leaderToClient', label: 'leader → client (HTTP/2 answer to resolved)' },
  { key: 'leaderWal', label: "(beside: leader's WAL write + fsync)" },
];

/** Index of the first mark at or after `timeMs`. */
function lowerBound(marks: readonly number[], timeMs: number): number {
  let lo = 0;
  let hi = marks.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (marks[mid * 2]! < timeMs) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The time of the first `mark` in [fromMs, toMs], or null. */
function firstMark(marks: readonly number[], mark: Mark, fromMs: number, toMs: number): number | null {
  for (let i = lowerBound(marks, fromMs); i * 2 < marks.length && marks[i * 2]! <= toMs; i++) if (marks[i * 2 + 1] === mark) return marks[i * 2]!;
  return null;
}

/**
 * Cut each round (its start, ms since the epoch, and its latency) into stages. The leader is the
 * process that read requests; the follower whose WAL write finished first (whose answer left
 * first) is followed. Rounds whose marks are not all there (a timeline that filled up, a round
 * during an election) are skipped.
 */
export function roundStages(rounds: readonly number[], processes: readonly ProcessTimeline[]): RoundStages[] {
  const leader = processes.find((p) => p.marks.some((v, i) => i % 2 === 1 && v === MARK.requestEnd));
  if (!leader) return [];
  const followers = processes.filter((p) => p !== leader);
  const out: RoundStages[] = [];
  for (let r = 0; r + 1 < rounds.length; r += 2) {
    const start = rounds[r]!;
    const latencyMs = rounds[r + 1]!;
    const end = start + latencyMs;
    const headers = firstMark(leader.marks, MARK.requestHeaders, start, end);
    const body = headers === null ? null : firstMark(leader.marks, MARK.requestEnd, headers, end);
    const sending = body === null ? null : firstMark(leader.marks, MARK.earlySending, body, end);
    const walStart = sending === null ? null : firstMark(leader.marks, MARK.walStart, sending, end);
    const walDone = walStart === null ? null : firstMark(leader.marks, MARK.walDone, walStart, end);
    if (headers === null || body === null || sending === null || walStart === null || walDone === null) continue;
    let best: { read: number; walStart: number; walDone: number } | null = null;
    for (const f of followers) {
      const read = firstMark(f.marks, MARK.peerMessage, sending, end);
      const fWalStart = read === null ? null : firstMark(f.marks, MARK.walStart, read, end);
      const fWalDone = fWalStart === null ? null : firstMark(f.marks, MARK.walDone, fWalStart, end);
      if (read === null || fWalStart === null || fWalDone === null) continue;
      if (best === null || fWalDone < best.walDone) best = { read, walStart: fWalStart, walDone: fWalDone };
    }
    if (best === null) continue;
    const heard = firstMark(leader.marks, MARK.peerMessage, best.walDone, end);
    const answered = heard === null ? null : firstMark(leader.marks, MARK.clientAnswered, heard, end);
    if (heard === null || answered === null) continue;
    out.push({
      latencyMs,
      clientToLeader: headers - start,
      leaderReadsRequest: body - headers,
      leaderProposesAndCuts: sending - body,
      appendsToFollower: best.read - sending,
      followerBeforeWal: best.walStart - best.read,
      followerWal: best.walDone - best.walStart,
      answerToLeader: heard - best.walDone,
      leaderCommitsAndAnswers: answered - heard,
      leaderToClient: end - answered,
      leaderWal: walDone - walStart,
    });
  }
  return out;
}

export interface StageBand {
  /** Latency percentiles the band spans, e.g. [0, 50]. */
  readonly fromPercent: number;
  readonly toPercent: number;
  readonly rounds: number;
  /** Each stage's mean over the band's rounds (ms), and the mean latency. */
  readonly meanMs: RoundStages;
}

export const STAGE_BANDS: ReadonlyArray<readonly [number, number]> = [
  [0, 50],
  [50, 75],
  [75, 90],
  [90, 99],
  [99, 100],
  [0, 100],
];

/** Mean stages by latency band (rounds sorted by latency). */
export function stageBands(stages: readonly RoundStages[], bands: ReadonlyArray<readonly [number, number]> = STAGE_BANDS): StageBand[] {
  const sorted = [...stages].sort((a, b) => a.latencyMs - b.latencyMs);
  const n = sorted.length;
  return bands.map(([fromPercent, toPercent]) => {
    const slice = sorted.slice(Math.floor((fromPercent / 100) * n), Math.floor((toPercent / 100) * n));
    const mean = (key: keyof RoundStages): number => (slice.length === 0 ? Number.NaN : slice.reduce((sum, s) => sum + s[key], 0) / slice.length);
    const meanMs = Object.fromEntries(
      (['latencyMs', ...STAGE_NAMES.map((s) => s.key)] as Array<keyof RoundStages>).map((k) => [k, mean(k)]),
    ) as unknown as RoundStages;
    return { fromPercent, toPercent, rounds: slice.length, meanMs };
  });
}

/** The bands as a table: one row per stage, one column per band (µs). */
export function renderStageBands(bands: readonly StageBand[]): string {
  const us = (ms: number): string => (Number.isFinite(ms) ? String(Math.round(ms * 1000)) : '–');
  const labelWidth = Math.max(...STAGE_NAMES.map((s) => s.label.length), 'round (mean)'.length);
  const heads = bands.map((b) => `p${b.fromPercent}–${b.toPercent}`);
  const width = Math.max(...heads.map((h) => h.length), 7);
  const row = (label: string, cells: string[]): string => `${label.padEnd(labelWidth)}  ${cells.map((c) => c.padStart(width)).join('  ')}`;
  return [
    row('µs, mean of the rounds in each latency band', heads),
    row(
      'rounds',
      bands.map((b) => String(b.rounds)),
    ),
    row(
      'round (mean)',
      bands.map((b) => us(b.meanMs.latencyMs)),
    ),
    ...STAGE_NAMES.map((s) =>
      row(
        s.label,
        bands.map((b) => us(b.meanMs[s.key])),
      ),
    ),
  ].join('\n');
}
