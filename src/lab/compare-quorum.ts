// The EH-BFT quorum demonstration for `lab compare`: what the paper's simple-majority quorum
// (⌊T/2⌋+1 of the trusted list) permits under Byzantine nodes that the safe quorum
// (⌈(n+f+1)/2⌉, 2f+1 for n = 3f+1) does not.
//
// Scenario (7 nodes, f = 2): the view-0 leader n0 and the acceptor n1 are Byzantine and run as
// "twins" (two engine instances with one key each, the Twins method), one twin of each on either
// side of a partition {n0, n1, n2, n3} | {n0', n1', n4, n5, n6}. Each leader twin gets a
// different transaction. Under 'paper' each side holds the 4 votes that decide, so correct nodes
// decide different blocks at height 1 (an agreement violation); under 'safe' only the 5-node side
// can decide and the other side later catches up with the same block. The seed fixes the
// message delivery order; the scenario replays exactly.
import { toHex, utf8 } from '../codec/index.ts';
import { Cluster } from '../consensus/cluster.ts';
import { ehbftClusterConfig } from '../consensus/ehbft/cluster-config.ts';
import type { EhbftEngine } from '../consensus/ehbft/engine.ts';

export interface QuorumDemoSide {
  readonly quorum: 'paper' | 'safe';
  /** Per correct node: what it decided at each height ("h1 alice#1 4a5b…"). */
  readonly decided: Readonly<Record<string, readonly string[]>>;
  /** Pairs of correct nodes that decided different blocks at one height. */
  readonly conflicts: readonly { height: number; a: string; b: string }[];
  readonly votesNeeded: number;
}

export interface QuorumDemoResult {
  readonly seed: number;
  readonly nodes: number;
  readonly byzantine: readonly string[];
  readonly partition: readonly (readonly string[])[];
  readonly sides: readonly QuorumDemoSide[];
}

const CORRECT = ['n2', 'n3', 'n4', 'n5', 'n6'];
const PARTITION = [
  ['n0', 'n1', 'n2', 'n3'],
  ["n0'", "n1'", 'n4', 'n5', 'n6'],
];

export function runQuorumDemo(seed: number): QuorumDemoResult {
  const sides: QuorumDemoSide[] = [];
  for (const quorum of ['paper', 'safe'] as const) {
    const c = new Cluster<EhbftEngine>(ehbftClusterConfig({ nodes: 7, seed, twins: ['n0', 'n1'], options: { quorum } }));
    c.partition(PARTITION);
    c.propose('n0', { clientId: 'alice', seq: 1, data: utf8('insert record R (version A)') });
    c.propose("n0'", { clientId: 'bob', seq: 1, data: utf8('insert record R (version B)') });
    c.tick(30);
    c.heal();
    c.tick(60);
    const decided: Record<string, string[]> = {};
    for (const n of CORRECT) {
      decided[n] = c
        .instance(n)
        .decided.map((b) => `h${b.height} ${b.proposals.map((p) => `${p.clientId}#${p.seq}`).join('+')} ${toHex(b.digest).slice(0, 12)}`);
    }
    sides.push({ quorum, decided, conflicts: c.conflicts(CORRECT), votesNeeded: c.engine('n2').quorumPlan().quorum });
  }
  return { seed, nodes: 7, byzantine: ['n0', 'n1'], partition: PARTITION, sides };
}

export function quorumDemoMarkdown(r: QuorumDemoResult): string {
  const lines: string[] = [];
  lines.push(
    `Scenario (seed ${r.seed}): ${r.nodes} nodes, Byzantine ${r.byzantine.join(', ')} running as twins across the partition ${r.partition.map((g) => `{${g.join(', ')}}`).join(' | ')}; the partition heals after 30 ticks.`,
    '',
  );
  lines.push('| quorum | votes needed | correct node | decided |', '|---|---|---|---|');
  for (const s of r.sides) {
    for (const [node, blocks] of Object.entries(s.decided)) lines.push(`| ${s.quorum} | ${s.votesNeeded} | ${node} | ${blocks.join('; ') || '(nothing)'} |`);
  }
  lines.push('');
  for (const s of r.sides) {
    lines.push(
      s.conflicts.length > 0
        ? `- **${s.quorum}: agreement violated** — ${s.conflicts.length} pair(s) of correct nodes decided different blocks at one height (${s.conflicts
            .slice(0, 3)
            .map((x) => `height ${x.height}: ${x.a} vs ${x.b}`)
            .join('; ')}).`
        : `- **${s.quorum}: agreement holds** — every correct node decided the same blocks.`,
    );
  }
  return `${lines.join('\n')}\n`;
}
