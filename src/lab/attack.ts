// `lab attack`: the attacker's success probability w_n of Eq. 6 (paper 002 §3.1.2) for each
// attacker share w and each number of blocks n, as a table, CSV, markdown and an SVG chart
// (the paper's Figure 5).
import { attackSuccessProbability } from './formulas.ts';
import { lineChart } from './svg.ts';

export interface AttackRow {
  readonly w: number;
  readonly blocks: number;
  readonly probability: number;
}

export const ATTACK_BLOCKS_MAX = 1000;
export const ATTACK_SHARES_MAX = 16;

export function attackTable(ws: readonly number[], blocks: readonly number[]): AttackRow[] {
  if (ws.length === 0 || ws.length > ATTACK_SHARES_MAX) throw new RangeError(`1 to ${ATTACK_SHARES_MAX} attacker shares`);
  if (blocks.length === 0 || blocks.length > ATTACK_BLOCKS_MAX) throw new RangeError(`1 to ${ATTACK_BLOCKS_MAX} block counts`);
  const rows: AttackRow[] = [];
  for (const w of ws) for (const n of blocks) rows.push({ w, blocks: n, probability: attackSuccessProbability(w, n) });
  return rows;
}

export function attackCsv(rows: readonly AttackRow[]): string {
  return `w,blocks,probability\n${rows.map((r) => `${r.w},${r.blocks},${r.probability.toExponential(6)}`).join('\n')}\n`;
}

export function attackSvg(rows: readonly AttackRow[]): string {
  const ws = [...new Set(rows.map((r) => r.w))];
  return lineChart(
    ws.map((w) => ({ name: `w = ${w}`, points: rows.filter((r) => r.w === w).map((r) => ({ x: r.blocks, y: r.probability })) })),
    {
      title: 'Probability of a successful attack (Eq. 6)',
      xLabel: 'blocks the attacker must fill (n)',
      yLabel: 'attacker success probability w_n (log)',
      logY: true,
    },
  );
}

export function attackMarkdown(rows: readonly AttackRow[], command: string): string {
  const ws = [...new Set(rows.map((r) => r.w))];
  const blocks = [...new Set(rows.map((r) => r.blocks))];
  const lines = [
    '# Attack probability (paper 002, Eq. 6)',
    '',
    `Regenerate: \`${command}\``,
    '',
    'w_n = 1 − Σ_{k=0..n} (λ^k e^{−λ} / k!) · (1 − (w/r)^{n−k}), λ = n·w/r, r = 1 − w: the probability that',
    'an attacker producing the next block with probability w replaces a chain n blocks ahead (Nakamoto’s',
    'formula, which the paper applies to its consortium chain). Computed, not simulated.',
    '',
    `| n | ${ws.map((w) => `w = ${w}`).join(' | ')} |`,
    `|---|${ws.map(() => '---').join('|')}|`,
    ...blocks.map((n) => `| ${n} | ${ws.map((w) => rows.find((r) => r.w === w && r.blocks === n)!.probability.toExponential(4)).join(' | ')} |`),
    '',
    'As in the paper’s Figure 5, w_n falls roughly exponentially with n.',
    '',
  ];
  return lines.join('\n');
}
