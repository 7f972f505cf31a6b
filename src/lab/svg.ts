// A small hand-written SVG line chart (log or linear y axis) for the lab's reports: no chart
// library, deterministic output (the same data gives the same bytes, so results diff cleanly).

export interface Series {
  readonly name: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
  /** Dashed line for formula (analytical) series, solid for measured ones. */
  readonly dashed?: boolean;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly logX?: boolean;
  readonly logY?: boolean;
  readonly widthPx?: number;
  readonly heightPx?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const SERIES_MAX = 32;
const POINTS_MAX = 10_000;

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

export function lineChart(series: readonly Series[], o: ChartOptions): string {
  if (series.length > SERIES_MAX) throw new RangeError(`at most ${SERIES_MAX} series`);
  const width = o.widthPx ?? 820;
  const height = o.heightPx ?? 520;
  const left = 80;
  const right = 230;
  const top = 40;
  const bottom = 60;
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logY || p.y > 0) && (!o.logX || p.x > 0));
  if (pts.length === 0 || pts.length > POINTS_MAX) throw new RangeError('chart needs 1 to 10000 plottable points');
  const tx = (v: number): number => (o.logX ? Math.log10(v) : v);
  const ty = (v: number): number => (o.logY ? Math.log10(v) : v);
  const x0 = Math.min(...pts.map((p) => tx(p.x)));
  let x1 = Math.max(...pts.map((p) => tx(p.x)));
  let y0 = Math.min(...pts.map((p) => ty(p.y)));
  let y1 = Math.max(...pts.map((p) => ty(p.y)));
  if (o.logY) {
    y0 = Math.floor(y0);
    y1 = Math.ceil(y1);
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const px = (v: number): number => left + ((tx(v) - x0) / (x1 - x0)) * (width - left - right);
  const py = (v: number): number => top + (1 - (ty(v) - y0) / (y1 - y0)) * (height - top - bottom);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`);
  // y ticks
  const yTicks: number[] = [];
  if (o.logY) for (let e = y0; e <= y1; e++) yTicks.push(10 ** e);
  else for (let i = 0; i <= 5; i++) yTicks.push(y0 + ((y1 - y0) * i) / 5);
  for (const t of yTicks) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${left}" y1="${y}" x2="${width - right}" y2="${y}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmt(t)}</text>`);
  }
  // x ticks: the distinct x values
  const xs = [...new Set(pts.map((p) => p.x))].sort((a, b) => a - b);
  for (const t of xs.slice(0, 40)) {
    const x = px(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${top}" x2="${x}" y2="${height - bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${height - bottom + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${width - left - right}" height="${height - top - bottom}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(left + width - right) / 2}" y="${height - 18}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length]!;
    const ok = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!o.logY || p.y > 0) && (!o.logX || p.x > 0));
    if (ok.length > 0) {
      const d = ok.map((p, j) => `${j === 0 ? 'M' : 'L'}${px(p.x).toFixed(1)} ${py(p.y).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      for (const p of ok) out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const ly = top + 10 + i * 18;
    out.push(
      `<line x1="${width - right + 12}" y1="${ly}" x2="${width - right + 40}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(`<text x="${width - right + 46}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
