// The round timeline of the ordering benchmark (timeline.ts): marks cut into stages that add up to
// each round's latency, the follower whose answer left first followed, incomplete rounds skipped,
// stages averaged by latency band.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  MARK,
  PairLog,
  renderStageBands,
  roundStages,
  STAGE_NAMES,
  stageBands,
  timelineFromEnv,
  TIMELINE_ENV,
  type ProcessTimeline,
  type RoundStages,
} from './timeline.ts';

/** A process's marks from [time, mark] pairs (kept in time order, as a process writes them). */
function timeline(id: string, pairs: Array<[number, number]>): ProcessTimeline {
  return { id, marks: pairs.sort((a, b) => a[0] - b[0]).flat() };
}

/**
 * One round starting at `t` (ms): the leader reads it at +0.15, cuts, sends at +0.20, writes
 * +0.25…+0.50; follower A reads at +0.30, writes +0.33…+0.55; follower B (slower) reads at +0.32,
 * writes +0.36…+0.60; the leader reads A's answer at +0.62 and answers the client at +0.68; the
 * client has its answer at +0.80.
 */
function round(t: number): { leader: Array<[number, number]>; a: Array<[number, number]>; b: Array<[number, number]>; latencyMs: number } {
  return {
    leader: [
      [t + 0.15, MARK.requestHeaders],
      [t + 0.17, MARK.requestEnd],
      [t + 0.2, MARK.earlySending],
      [t + 0.25, MARK.walStart],
      [t + 0.5, MARK.walDone],
      [t + 0.62, MARK.peerMessage],
      [t + 0.68, MARK.clientAnswered],
      [t + 0.66, MARK.peerMessage],
    ],
    a: [
      [t + 0.3, MARK.peerMessage],
      [t + 0.33, MARK.walStart],
      [t + 0.55, MARK.walDone],
    ],
    b: [
      [t + 0.32, MARK.peerMessage],
      [t + 0.36, MARK.walStart],
      [t + 0.6, MARK.walDone],
    ],
    latencyMs: 0.8,
  };
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} ≠ ${expected}`);
}

describe('bench timeline', () => {
  it('cuts a round into stages along its critical path, following the follower whose WAL write ended first', () => {
    const r = round(1000);
    const stages = roundStages([1000, r.latencyMs], [timeline('L', r.leader), timeline('B', r.b), timeline('A', r.a)]);
    assert.equal(stages.length, 1);
    const s = stages[0]!;
    close(s.clientToLeader, 0.15, 'client → leader');
    close(s.leaderReadsRequest, 0.02, 'body');
    close(s.leaderProposesAndCuts, 0.03, 'cut');
    close(s.appendsToFollower, 0.1, 'to follower A');
    close(s.followerBeforeWal, 0.03, 'A before its WAL');
    close(s.followerWal, 0.22, "A's WAL");
    close(s.answerToLeader, 0.07, 'answer to leader');
    close(s.leaderCommitsAndAnswers, 0.06, 'commit');
    close(s.leaderToClient, 0.12, 'back to the client');
    close(s.leaderWal, 0.25, "the leader's own WAL, beside");
    const onPath = STAGE_NAMES.filter((n) => n.key !== 'leaderWal').reduce((sum, n) => sum + s[n.key], 0);
    close(onPath, s.latencyMs, 'the stages on the path add up to the latency');
  });

  it('takes each round in its own window and skips a round whose marks are not all there', () => {
    const first = round(1000);
    const second = round(1001);
    // The second round's leader never answered the client (e.g. it lost leadership).
    const secondLeader = second.leader.filter(([, m]) => m !== MARK.clientAnswered);
    const processes = [timeline('L', [...first.leader, ...secondLeader]), timeline('A', [...first.a, ...second.a]), timeline('B', [...first.b, ...second.b])];
    const stages = roundStages([1000, 0.8, 1001, 0.8], processes);
    assert.equal(stages.length, 1, 'only the complete round');
    assert.equal(roundStages([1000, 0.8], [timeline('A', first.a), timeline('B', first.b)]).length, 0, 'no process read requests: no leader, no stages');
  });

  it('averages the stages by latency band, slowest rounds last', () => {
    const fast: RoundStages = Object.fromEntries([['latencyMs', 1], ...STAGE_NAMES.map((s) => [s.key, 0.1])]) as unknown as RoundStages;
    const slow: RoundStages = { ...fast, latencyMs: 3, followerWal: 2.1 };
    const stages = [...Array.from({ length: 99 }, () => fast), slow];
    const bands = stageBands(stages);
    assert.deepEqual(
      bands.map((b) => [b.fromPercent, b.toPercent, b.rounds]),
      [
        [0, 50, 50],
        [50, 75, 25],
        [75, 90, 15],
        [90, 99, 9],
        [99, 100, 1],
        [0, 100, 100],
      ],
    );
    close(bands[4]!.meanMs.followerWal, 2.1, 'the slowest band holds the slow round');
    close(bands[0]!.meanMs.followerWal, 0.1, 'the fastest half does not');
    close(bands[5]!.meanMs.latencyMs, (99 + 3) / 100, 'all rounds');
    const table = renderStageBands(bands);
    assert.match(table, /^µs, mean of the rounds in each latency band +p0–50 +p50–75 +p75–90 +p90–99 +p99–100 +p0–100$/m);
    assert.match(table, /^rounds +50 +25 +15 +9 +1 +100$/m);
    assert.match(table, /^follower's WAL write \+ fsync +100 +100 +100 +100 +2100 +120$/m);
    assert.ok(
      bands.every((b) => b.rounds > 0),
      'no empty band here',
    );
    assert.match(renderStageBands(stageBands([])), /^round \(mean\) +– +– +– +– +– +–$/m, 'no rounds: dashes, not NaN');
  });

  it('PairLog keeps at most its capacity; an orderer writes its timeline where the environment says, and only then', () => {
    const log = new PairLog(2);
    log.push(1, 10);
    log.push(2, 20);
    log.push(3, 30);
    assert.equal(log.size, 2);
    assert.deepEqual(log.toArray(), [1, 10, 2, 20]);
    assert.equal(timelineFromEnv('x', {}), null, 'not asked: no recorder');
    const dir = mkdtempSync(join(tmpdir(), 'medledger-timeline-'));
    try {
      const recorder = timelineFromEnv('orderer-7', { [TIMELINE_ENV]: dir }, false);
      assert.ok(recorder);
      recorder.mark(MARK.requestHeaders);
      recorder.mark(MARK.requestEnd);
      recorder.write();
      const written = JSON.parse(readFileSync(join(dir, 'orderer-orderer-7.json'), 'utf8')) as { id: string; marks: number[] };
      assert.equal(written.id, 'orderer-7');
      assert.deepEqual(
        written.marks.filter((_, i) => i % 2 === 1),
        [MARK.requestHeaders, MARK.requestEnd],
      );
      assert.ok(written.marks[2]! >= written.marks[0]!, 'times in order');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
