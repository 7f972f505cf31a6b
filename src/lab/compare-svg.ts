// Grouped bar charts for `lab compare` (one group per fault mode, one bar per engine), hand-written
// SVG with deterministic output: the same rows give the same bytes.
import type { CompareRow } from './compare.ts';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const BARS_MAX = 400;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 1e5) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(3)));
}

export interface BarChartOptions {
  readonly title: string;
  readonly yLabel: string;
  readonly logY: boolean;
  /** Optional upper whisker per bar (e.g. p99 over a p50 bar). */
  readonly whisker?: (r: CompareRow) => number | null;
}

/** Bars of `value(row)` for every row that ran; skipped rows leave a labelled gap. */
export function compareBarChart(rows: readonly CompareRow[], value: (r: CompareRow) => number, o: BarChartOptions): string {
  if (rows.length === 0 || rows.length > BARS_MAX) throw new RangeError(`chart needs 1 to ${BARS_MAX} rows`);
  const faults = [...new Set(rows.map((r) => r.faults))];
  const engines = [...new Set(rows.map((r) => r.engine))];
  const barW = 18;
  const gap = 26;
  const left = 80;
  const top = 40;
  const plotH = 320;
  const groupW = engines.length * barW + gap;
  const legendW = 200;
  const width = left + faults.length * groupW + legendW;
  const height = top + plotH + 70;
  const values = rows.flatMap((r) => (r.skipped ? [] : [value(r), o.whisker?.(r) ?? 0])).filter((v) => Number.isFinite(v) && v > 0);
  const vMax = values.length > 0 ? Math.max(...values) : 1;
  const vMin = values.length > 0 ? Math.min(...values) : 1;
  const lo = o.logY ? Math.floor(Math.log10(Math.max(vMin, 1e-3))) : 0;
  const hi = o.logY ? Math.max(lo + 1, Math.ceil(Math.log10(vMax))) : niceMax(vMax);
  const y = (v: number): number => {
    const t = o.logY ? (Math.log10(Math.max(v, 10 ** lo)) - lo) / (hi - lo) : v / hi;
    return top + plotH - t * plotH;
  };
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  // Axis and grid.
  const ticks = o.logY ? Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) : Array.from({ length: 6 }, (_, i) => (hi * i) / 5);
  for (const t of ticks) {
    const ty = y(t).toFixed(1);
    out.push(`<line x1="${left}" x2="${left + faults.length * groupW}" y1="${ty}" y2="${ty}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 6}" y="${ty}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="black"/>`);
  out.push(`<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  faults.forEach((f, gi) => {
    const gx = left + gi * groupW + gap / 2;
    out.push(`<text x="${gx + (engines.length * barW) / 2}" y="${top + plotH + 18}" text-anchor="middle">faults: ${esc(f)}</text>`);
    engines.forEach((e, ei) => {
      const r = rows.find((x) => x.faults === f && x.engine === e);
      const bx = gx + ei * barW;
      if (!r || r.skipped) {
        out.push(`<text x="${bx + barW / 2}" y="${top + plotH - 4}" text-anchor="middle" font-size="9" fill="#888">n/a</text>`);
        return;
      }
      const v = value(r);
      const color = PALETTE[ei % PALETTE.length]!;
      if (v > 0) {
        const by = y(v);
        out.push(
          `<rect x="${bx + 1}" y="${by.toFixed(1)}" width="${barW - 2}" height="${(top + plotH - by).toFixed(1)}" fill="${color}"><title>${esc(`${e}, ${f}: ${fmt(v)}`)}</title></rect>`,
        );
      }
      const w = o.whisker?.(r) ?? null;
      if (w !== null && w > 0) {
        const wy = y(w).toFixed(1);
        out.push(`<line x1="${bx + barW / 2}" x2="${bx + barW / 2}" y1="${y(Math.max(v, 10 ** lo)).toFixed(1)}" y2="${wy}" stroke="black"/>`);
        out.push(`<line x1="${bx + 4}" x2="${bx + barW - 4}" y1="${wy}" y2="${wy}" stroke="black"/>`);
      }
      if (r.failingSeeds.length > 0)
        out.push(
          `<text x="${bx + barW / 2}" y="${(y(Math.max(v, w ?? 0, 10 ** lo)) - 4).toFixed(1)}" text-anchor="middle" fill="#d62728" font-weight="bold">!</text>`,
        );
    });
  });
  const lx = left + faults.length * groupW + 20;
  engines.forEach((e, i) => {
    const ly = top + 10 + i * 20;
    out.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${PALETTE[i % PALETTE.length]}"/>`);
    out.push(`<text x="${lx + 18}" y="${ly}">${esc(e)}</text>`);
  });
  const noteY = top + 10 + engines.length * 20 + 10;
  out.push(`<text x="${lx}" y="${noteY}" font-size="10" fill="#d62728">! = a checker failed</text>`);
  out.push(`<text x="${lx}" y="${noteY + 14}" font-size="10" fill="#888">n/a = outside the fault model</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function compareMessagesSvg(rows: readonly CompareRow[]): string {
  return compareBarChart(rows, (r) => r.messagesPerBlock, {
    title: 'Messages per decided block (same workload and seeds)',
    yLabel: 'messages / decided block (log)',
    logY: true,
  });
}

export function compareLatencySvg(rows: readonly CompareRow[]): string {
  return compareBarChart(rows, (r) => r.latencyP50Ms, {
    title: 'Commit latency: p50 bar, p99 whisker (virtual ms)',
    yLabel: 'latency, virtual ms (log)',
    logY: true,
    whisker: (r) => r.latencyP99Ms,
  });
}
