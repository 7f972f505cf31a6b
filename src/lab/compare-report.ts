// The markdown report of `lab compare`.
import type { CompareOptions, CompareRow } from './compare.ts';
import { checkerSummary } from './compare.ts';
import { quorumDemoMarkdown, type QuorumDemoResult } from './compare-quorum.ts';

/** The `medledger sim` line that replays one failing seed of a row. */
export function replayLine(r: CompareRow, o: CompareOptions, seed: number): string {
  const label = r.engine.replace(/@\d+$/, '');
  const colon = label.indexOf(':');
  const engine = colon < 0 ? label : label.slice(0, colon);
  const spec = o.engines.find((e) => e.label === label);
  const opts = spec && Object.keys(spec.options).length > 0 ? ` --engine-options '${JSON.stringify(spec.options)}'` : '';
  return `node bin/medledger.js sim --engine ${engine} --nodes ${r.nodes} --seeds 1 --seed-start ${seed} --faults ${r.faults} --duration-ms ${o.durationMs} --crypto ${o.crypto}${opts} --trace`;
}

export function compareMarkdown(
  rows: readonly CompareRow[],
  o: CompareOptions,
  command: string,
  demo: QuorumDemoResult | null,
  registered: readonly string[],
): string {
  const L: string[] = [];
  L.push('# Consensus engines compared (`lab compare`)', '');
  L.push('Regenerate this report (CSV, SVG charts and this file) with:', '', '```', command, '```', '');
  L.push(
    `Every engine runs the same simulator workload with the same seeds (${o.seedStart}..${o.seedStart + o.seeds - 1}): ${o.nodes} nodes, ` +
      `${o.durationMs} virtual ms of faulty phase then heal and a liveness phase, the simulator's default workload ` +
      '(4 clients, 100 proposals per virtual second, at most 2000 proposals, 1–20 ms links), ' +
      `${o.crypto === 'fast' ? "the simulator's fast keyed-hash signatures" : 'ECDSA P-256 signatures'}. ` +
      'Each run is checked for agreement, validity, integrity, durability and liveness.',
    '',
  );
  const resized = rows.filter((r) => r.nodes !== o.nodes && !r.skipped);
  if (resized.length > 0) {
    L.push(
      `A row labelled \`engine@n\` ran at n nodes instead of ${o.nodes}, because the engine tolerates no Byzantine node at ${o.nodes}: ${resized.map((r) => `\`${r.engine}\``).join(', ')} (gpbft needs 4 groups of at least 4 nodes for f = 1 in each group; decision 0603).`,
      '',
    );
  }
  const requested = [...new Set(o.engines.map((e) => e.engine))];
  const missing = requested.filter((e) => !registered.includes(e));
  if (missing.length > 0) L.push(`**Not registered when this report was generated:** ${missing.join(', ')} (their rows are marked skipped).`, '');
  L.push(
    'Columns: *blocks/run* — highest height decided by a correct node, mean over runs; *p50 / p99* — commit latency from a ' +
      "proposal's first submission to its first decision by a correct node (virtual ms, all runs pooled); *msgs/block* and " +
      '*msgs/proposal* — every message sent (all types, retransmissions and catch-up included) divided by decided blocks / ' +
      'decided proposals. Engines batch differently, so msgs/proposal is the fairer cost figure.',
    '',
  );
  for (const f of [...new Set(rows.map((r) => r.faults))]) {
    L.push(`## faults: ${f}`, '');
    L.push('| engine | fault model | blocks/run | proposals decided | p50 ms | p99 ms | msgs/block | msgs/proposal | bytes/block | checkers |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const r of rows.filter((x) => x.faults === f)) {
      if (r.skipped) {
        L.push(`| ${r.engine} | ${r.faultModel ?? '?'} | – | – | – | – | – | – | – | skipped: ${r.skipped} |`);
        continue;
      }
      L.push(
        `| ${r.engine} | ${r.faultModel ?? '?'} | ${r.decidedBlocksPerRun} | ${r.decidedProposals} | ${r.latencyP50Ms} | ${r.latencyP99Ms} | ${r.messagesPerBlock} | ${r.messagesPerProposal} | ${r.bytesPerBlock} | ${checkerSummary(r)}${r.note ? ` (${r.note})` : ''} |`,
      );
    }
    L.push('');
  }
  L.push('![messages per decided block](compare-messages.svg)', '', '![commit latency](compare-latency.svg)', '');
  const failing = rows.filter((r) => !r.skipped && r.failingSeeds.length > 0);
  L.push('## Checker failures', '');
  if (failing.length === 0) L.push('None: every run of every engine passed all five checkers.', '');
  for (const r of failing) {
    L.push(`### ${r.engine}, faults ${r.faults}: ${r.failingSeeds.length} of ${r.runs} seeds`, '');
    L.push(`Failing seeds: ${r.failingSeeds.slice(0, 40).join(', ')}${r.failingSeeds.length > 40 ? ' …' : ''}`, '');
    for (const ex of r.examples) {
      L.push(`- seed ${ex.seed} [${ex.checker}] ${ex.message.slice(0, 400)}`);
      L.push(`  replay: \`${replayLine(r, o, ex.seed)}\``);
    }
    L.push('');
  }
  if (demo) {
    L.push("## EH-BFT: the paper's quorum vs the safe quorum", '');
    L.push(
      "EH-BFT as published decides with ⌊(T−i)/2⌋+1 votes of the T trusted nodes (`quorum: paper`); MedLedger's default " +
        '`quorum: safe` needs ⌈(n+f+1)/2⌉ (2f+1 when n = 3f+1). With 7 nodes the paper needs 4 votes, safe needs 5. Two sets of 4 ' +
        'out of 7 share a single node, so 2 Byzantine nodes (f = 2) can sit in both; two sets of 5 share 3, at least one of them correct.',
      '',
    );
    L.push(quorumDemoMarkdown(demo));
    const paperRows = rows.filter((r) => r.engine.startsWith('ehbft:') && r.engine.includes('quorum=paper') && !r.skipped);
    if (paperRows.length > 0) {
      L.push(
        "In the simulator campaign above, with the simulator's generic Byzantine behaviours (equivocation, withholding, replay, " +
          'forgery, mutation, twins, concealment — but no partition placed between twins):',
        '',
      );
      for (const r of paperRows) {
        const safe = rows.find((x) => x.engine === 'ehbft' && x.faults === r.faults);
        L.push(`- faults ${r.faults}: \`${r.engine}\` ${checkerSummary(r)}; \`ehbft\` (safe) ${safe ? checkerSummary(safe) : 'not run'}.`);
      }
      L.push('');
    }
  }
  return `${L.join('\n')}\n`;
}
