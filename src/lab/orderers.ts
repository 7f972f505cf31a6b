// Paper 000 (Raft ordering service of 5 hospitals): "the organization needs at least (O/2)+1 as a
// quorum … there is a need for at least 3 majority nodes and the organization can be tolerated
// with 2 failed nodes." Measured in the deterministic simulator with scripted permanent crashes
// (SimOptions.schedule): 5 raft orderers under a steady client load; the leader and one more
// crash for good, then a third; later one of them returns. Progress is counted per phase from
// the simulator's decisions (when each proposal was first decided by a correct node), so the
// verdicts are measurements, not assertions.
import { runSimulation, type SimResult } from '../sim/index.ts';

export interface OrdererPhase {
  readonly label: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly down: number;
}

export interface OrdererRun {
  readonly seed: number;
  readonly resolved: readonly string[];
  /** Per phase: proposals first decided in it, of which submitted in it, and the last decision time. */
  readonly phases: readonly { decided: number; submittedAndDecided: number; lastDecisionMs: number | null }[];
  readonly violations: readonly string[];
  readonly decidedProposals: number;
}

export interface OrderersOptions {
  readonly seeds: readonly number[];
  /** Length of each of the four phases (virtual ms). */
  readonly phaseMs: number;
}

export function ordererPhases(phaseMs: number): OrdererPhase[] {
  return [
    { label: 'all 5 orderers up', fromMs: 0, toMs: phaseMs, down: 0 },
    { label: '2 down for good (the leader and one more)', fromMs: phaseMs, toMs: 2 * phaseMs, down: 2 },
    { label: '3 down (a third crashes)', fromMs: 2 * phaseMs, toMs: 3 * phaseMs, down: 3 },
    { label: '2 down (one of them returns)', fromMs: 3 * phaseMs, toMs: 4 * phaseMs, down: 2 },
  ];
}

/** The simulator options of one run (exported so the report can print the exact configuration). */
export function ordererSimOptions(seed: number, phaseMs: number): Parameters<typeof runSimulation>[0] {
  return {
    engine: 'raft',
    nodes: 5,
    seed,
    faults: 'none',
    durationMs: 4 * phaseMs,
    crypto: 'fast',
    schedule: [
      { atMs: phaseMs, action: 'crash', node: '@leader' },
      { atMs: phaseMs, action: 'crash', node: '@any' },
      { atMs: 2 * phaseMs, action: 'crash', node: '@any' },
      { atMs: 3 * phaseMs, action: 'restart', node: '@any' },
    ],
  };
}

export function runOrderers(o: OrderersOptions, onRun?: (done: number, total: number) => void): OrdererRun[] {
  const phases = ordererPhases(o.phaseMs);
  return o.seeds.map((seed, i) => {
    const r: SimResult = runSimulation(ordererSimOptions(seed, o.phaseMs));
    onRun?.(i + 1, o.seeds.length);
    const per = phases.map((p) => {
      let decided = 0;
      let submittedAndDecided = 0;
      let last: number | null = null;
      r.ackTimesMs.forEach((t, j) => {
        if (t < p.fromMs || t >= p.toMs) return;
        decided += 1;
        if (t - r.latencySamplesMs[j]! >= p.fromMs) submittedAndDecided += 1;
        last = t;
      });
      return { decided, submittedAndDecided, lastDecisionMs: last };
    });
    return {
      seed,
      resolved: r.scheduleResolved,
      phases: per,
      violations: r.violations.map((v) => `${v.checker}: ${v.message}`),
      decidedProposals: r.metrics.decidedProposals,
    };
  });
}

export function orderersMarkdown(runs: readonly OrdererRun[], o: OrderersOptions, command: string): string {
  const phases = ordererPhases(o.phaseMs);
  const L: string[] = [];
  L.push('# Paper 000: five Raft orderers tolerate two failed, not three', '');
  L.push(`Regenerate: \`${command}\``, '');
  L.push(
    'The claim (Alexandridis et al., §IV): with five orderers "the organization needs at least (O/2)+1 as a quorum … at least',
    '3 majority nodes and the organization can be tolerated with 2 failed nodes". Measured in the deterministic simulator',
    '(`raft`, 5 nodes, fast signatures, 1–20 ms links, 4 clients submitting 100 proposals per virtual second to random live',
    'nodes and re-submitting elsewhere after 1 s) with scripted permanent crashes (`SimOptions.schedule`; on the command line',
    '`medledger sim --engine raft --nodes 5 --crash-permanent 2`):',
    '',
  );
  for (const p of phases) L.push(`- ${p.fromMs}–${p.toMs} ms: ${p.label}`);
  L.push(
    '',
    '`@leader` is resolved when the crash happens (the leader the live nodes report); `@any` crashes the lowest-numbered live',
    'non-leader and, for the restart, brings back the earliest node crashed by the script (the old leader). At the end of the',
    'faulty phase the two still crashed stay down; the liveness checker then requires the three live orderers to decide every',
    'submitted proposal within 30 s.',
    '',
  );
  L.push(
    'Columns per phase: proposals first decided by a correct node in the phase / of those, submitted in the phase (so not',
    'committed by acknowledgements already in flight when a crash struck).',
    '',
  );
  L.push(`| seed | crashes (resolved) | ${phases.map((p) => `${p.down} down: decided / submitted-and-decided`).join(' | ')} | checkers |`);
  L.push(`|---:|---|${phases.map(() => '---:').join('|')}|---|`);
  for (const r of runs) {
    L.push(
      `| ${r.seed} | ${r.resolved.map((x) => x.replace(/ \(reported leader.*\)$/, ' (leader)')).join('; ')} | ${r.phases.map((p) => `${p.decided} / ${p.submittedAndDecided}`).join(' | ')} | ${r.violations.length === 0 ? 'all passed' : r.violations.map((v) => v.slice(0, 160)).join('; ')} |`,
    );
  }
  L.push('');
  const progress = (i: number): boolean => runs.every((r) => r.phases[i]!.submittedAndDecided > 0);
  const none = (i: number): boolean => runs.every((r) => r.phases[i]!.submittedAndDecided === 0);
  const inflight = runs.map((r) => r.phases[2]!).filter((p) => p.decided > 0);
  L.push('## Verdicts', '');
  L.push(
    `- 2 of 5 orderers down, the leader among them: **${progress(1) ? 'progress' : 'NO progress'}** in ${runs.filter((r) => r.phases[1]!.submittedAndDecided > 0).length} of ${runs.length} runs (a new leader is elected among the three and commits with their majority of 3).`,
  );
  L.push(
    `- 3 of 5 down: **${none(2) ? 'no progress' : 'PROGRESS (unexpected)'}** — no proposal submitted while three were down was decided before one returned, in ${runs.filter((r) => r.phases[2]!.submittedAndDecided === 0).length} of ${runs.length} runs${inflight.length > 0 ? ` (${inflight.map((p) => p.decided).join(', ')} proposal(s) submitted earlier were still committed by acknowledgements in flight at the crash, the last at ${inflight.map((p) => p.lastDecisionMs).join(', ')} ms)` : ''}.`,
  );
  L.push(
    `- One returns (2 down again): **${progress(3) ? 'progress again' : 'NO progress'}** in ${runs.filter((r) => r.phases[3]!.submittedAndDecided > 0).length} of ${runs.length} runs, and the checkers (agreement, validity, integrity, durability, liveness of the live orderers) ${runs.every((r) => r.violations.length === 0) ? 'passed in every run' : 'FAILED in some run (see the table)'}.`,
  );
  L.push(
    `- The paper's claim **${progress(1) && none(2) && progress(3) && runs.every((r) => r.violations.length === 0) ? 'holds' : 'is not reproduced'}**: Raft's majority quorum of 3 tolerates 2 crashed orderers and not 3.`,
    '',
  );
  return `${L.join('\n')}\n`;
}
