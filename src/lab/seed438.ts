// EH-BFT paper-quorum campaign, seed 438 (docs/results/ehbft-campaign.md): a liveness failure
// that replayed exactly and had not been investigated. Replayed here three ways from the same
// seed — the paper quorum with the view-change join rule it had then (`viewJoin: 'quorum'`), with
// today's rule (`viewJoin: 'faults'`, the default), and the safe quorum — and the final status
// of every node printed, so the explanation in the report rests on measured states.
import { runSimulation, type SimOptions, type SimResult } from '../sim/index.ts';

export const SEED_438 = 438;

export interface Seed438Variant {
  readonly label: string;
  readonly engineOptions: Readonly<Record<string, string>>;
  readonly checkers: string;
  readonly decidedBlocks: number;
  readonly decidedProposals: number;
  readonly viewChangeMessages: number;
  readonly status: readonly string[];
}

function options(engineOptions: Record<string, string>): SimOptions {
  // As the campaign ran it (`medledger sim` defaults): 7 nodes, faults all, 5 s, fast signatures.
  return { engine: 'ehbft', nodes: 7, seed: SEED_438, faults: 'all', durationMs: 5000, crypto: 'fast', engineOptions, trace: true, traceEventsMax: 1 };
}

export function runSeed438(onRun?: (label: string) => void): { schedule: readonly string[]; variants: Seed438Variant[] } {
  const specs: Array<[string, Record<string, string>]> = [
    ['paper quorum, join rule n − q + 1 (as campaigned)', { quorum: 'paper', viewJoin: 'quorum' }],
    ['paper quorum, join rule f + 1 (the fix)', { quorum: 'paper' }],
    ['safe quorum (default)', { quorum: 'safe' }],
  ];
  let schedule: readonly string[] = [];
  const variants = specs.map(([label, engineOptions]) => {
    onRun?.(label);
    const r: SimResult = runSimulation(options(engineOptions));
    schedule = r.faultSchedule;
    return {
      label,
      engineOptions,
      checkers: r.violations.length === 0 ? 'all passed' : r.violations.map((v) => `${v.checker}: ${v.message}`).join('; '),
      decidedBlocks: r.metrics.decidedBlocks,
      decidedProposals: r.metrics.decidedProposals,
      viewChangeMessages: r.metrics.messagesByType['ehbft/view-change']?.count ?? 0,
      status: r.trace.filter((l) => l.startsWith('status ')),
    };
  });
  return { schedule, variants };
}

export function seed438Markdown(r: ReturnType<typeof runSeed438>, command: string): string {
  const L: string[] = [];
  L.push('# EH-BFT, paper quorum, campaign seed 438: why liveness failed, and the fix', '');
  L.push(`Regenerate: \`${command}\``, '');
  L.push('Replay of the failing seed of the paper-quorum campaign (docs/results/ehbft-campaign.md):', '');
  L.push(
    '```',
    `node bin/medledger.js sim --engine ehbft --nodes 7 --seeds 1 --seed-start 438 --faults all --crypto fast --engine-options '{"quorum":"paper","viewJoin":"quorum"}' --trace`,
    '```',
    '',
  );
  L.push('Fault schedule drawn from the seed:', '', ...r.schedule.map((l) => `- ${l}`), '');
  L.push('| variant | engine options | checkers | blocks | proposals decided | view-change messages |', '|---|---|---|---:|---:|---:|');
  for (const v of r.variants)
    L.push(
      `| ${v.label} | \`${JSON.stringify(v.engineOptions)}\` | ${v.checkers.slice(0, 300)} | ${v.decidedBlocks} | ${v.decidedProposals} | ${v.viewChangeMessages} |`,
    );
  L.push('');
  const stuck = r.variants[0]!;
  L.push(`Final status of every node in the first variant ("epoch" is the view at the node's next height):`, '', '```', ...stuck.status, '```', '');
  L.push(
    '## What happened',
    '',
    'n3 is Byzantine (withholds and forges); the partitions, the crashes of n2 and n6 and the loss burst leave the correct nodes',
    'at one height but in two adjacent views: three of them (n1, n2, n6) in one view, three (n4, n5, n7) in the next. EH-BFT',
    'changes views like PBFT (decision 0705): a node moves past its current view only after a quorum has joined it, and it joins',
    "a later view when enough other nodes ask for one. Under the paper's quorum ⌊T/2⌋+1 = 4 of 7 the join threshold was",
    'derived from that quorum, n − q + 1 = 4 ("at least one of them outside any set that could all be faulty and still leave a',
    'quorum"). Neither side can move: each has 3 correct nodes, below the quorum of 4 in its view, and the 3 ahead are below',
    'the join threshold of 4 for the 3 behind; the Byzantine node, the seventh, says nothing. The nodes re-broadcast their',
    'view-change votes for the 30 s of the liveness phase (the view-change message count above) and decide nothing more.',
    '',
    'Under the safe quorum (5 of 7) the join threshold is 3 = f + 1, and the same split resolves: the three behind join.',
    '',
    '## Verdict: a bug in our reading, fixed',
    '',
    'The paper\'s quorum does not make this inevitable. The join rule needs "at least one reporter is correct", i.e. f + 1',
    "reports for the Byzantine f the cluster is run with — not n − q + 1, which under the paper's small quorum equals the",
    'quorum itself. `joinThreshold` now takes the smaller of the two in paper mode (f + 1 = 3 at 7 nodes; safe mode is',
    "unchanged), and `viewJoin: 'quorum'` keeps the old rule so the failure stays replayable. The paper quorum's real",
    'weakness is safety, not this: two quorums of 4 of 7 share one node, so two Byzantine nodes can split them (the scripted',
    'twins scenario in compare.md). The 1,000-seed campaign figures in ehbft-campaign.md predate the fix; its safe column is',
    'unaffected (the rule is unchanged there).',
    '',
  );
  return `${L.join('\n')}\n`;
}
