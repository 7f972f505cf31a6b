// `medledger stats run|get` — statistics over datasets at several hospitals; only aggregates leave
// a hospital, and only under the disclosure rule (decision 1163): no count under the threshold,
// complementary suppression, extremes only as a released bin. Request + inputs + result are on chain.
import type { Command } from 'commander';
import { statisticsSchema, STATISTICS_MIN_COHORT_FLOOR, type BinRange, type Statistics } from '../../analytics/aggregate.ts';
import { CliError } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { asUser, healthCommand, list, type HealthFlags } from './record.ts';

/** Edges as printed: whole numbers as they are, others to 2 decimals (the JSON output keeps them exact). */
function edge(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2);
}

function range(r: BinRange, closedAbove: boolean): string {
  if (r.from === null) return `below ${edge(r.to ?? Number.NaN)}`;
  if (r.to === null) return `above ${edge(r.from)}`;
  return `[${edge(r.from)}, ${edge(r.to)}${closedAbove ? ']' : ')'}`;
}

/**
 * The released statistics as a table. Withheld cells read "suppressed"; min/max are labelled as
 * the bins that hold them (never values), or withheld.
 */
export function renderStatistics(requestId: string, s: Statistics): string {
  const t = s.minCohort;
  const lines = [
    `request ${requestId} — threshold ${t} (the largest of the consortium floor ${STATISTICS_MIN_COHORT_FLOOR}, the datasets' owners' minimums and --min-cohort)`,
  ];
  if (s.suppressed) {
    lines.push(`SUPPRESSED: the cohort of the request, or of one of its datasets, holds fewer than ${t} values; no figure is released`);
    return lines.join('\n');
  }
  const lastBin = s.histogram.length - 1;
  const extreme = (bin: BinRange | null, which: 'smallest' | 'largest'): string => {
    if (bin === null) return `withheld (its bin holds fewer than ${t} values, or is withheld)`;
    const closed = bin.to !== null && bin.from !== null && s.histogram[lastBin]?.to === bin.to;
    return `in ${range(bin, closed)}  (coarsened: the bin holding the ${which} value, not the value)`;
  };
  const cell = (c: number | null): string => (c === null ? 'suppressed' : String(c));
  const first = s.histogram[0];
  const last = s.histogram[lastBin];
  const rows: Array<[string, string]> = [
    ...(first ? [[`below ${edge(first.from)}`, cell(s.under)] as [string, string]] : []),
    ...s.histogram.map((b, i) => [range(b, i === lastBin), cell(b.count)] as [string, string]),
    ...(last ? [[`above ${edge(last.to)}`, cell(s.over)] as [string, string]] : []),
  ];
  const released = [s.under, s.over, ...s.histogram.map((b) => b.count)].reduce<number>((a, c) => a + (c ?? 0), 0);
  const width = Math.max(...rows.map(([label]) => label.length));
  lines.push(
    `count     ${s.count ?? 'withheld'}`,
    `mean      ${s.mean === null ? 'withheld' : s.mean.toFixed(2)}`,
    `std dev   ${s.stdDev === null ? 'withheld' : s.stdDev.toFixed(2)}`,
    `min       ${extreme(s.minBin, 'smallest')}`,
    `max       ${extreme(s.maxBin, 'largest')}`,
    `histogram (a suppressed cell holds fewer than ${t} values, or is withheld so that such a cell cannot be derived)`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value.padStart(10)}`),
  );
  if (s.count !== null && released < s.count) lines.push(`  the suppressed cells hold ${s.count - released} values in total`);
  return lines.join('\n');
}

export function register(program: Command, ctx: CommandContext): void {
  const stats = program.command('stats').description('Privacy-preserving statistics (count, mean, sd, histogram; min/max as bins)');

  healthCommand(stats, 'run', 'Request statistics of a variable over datasets (needs approved applications)')
    .requiredOption('--datasets <ids>', 'comma-separated dataset ids')
    .requiredOption('--variable <column>', 'column / Observation code')
    .option('--purpose <code>', 'purpose of use', 'HRESCH')
    .requiredOption('--min <x>', 'histogram lower edge')
    .requiredOption('--max <x>', 'histogram upper edge')
    .option('--bins <n>', 'histogram bins', '10')
    .option(
      '--min-cohort <n>',
      `raise the suppression threshold (never below the consortium floor ${STATISTICS_MIN_COHORT_FLOOR} or a dataset owner's minimum)`,
    )
    .action(async (f: HealthFlags & { datasets: string; variable: string; purpose: string; min: string; max: string; bins: string; minCohort?: string }) =>
      asUser(f, async (c, out) => {
        const histogram = { min: Number(f.min), max: Number(f.max), bins: Number(f.bins) };
        if (!Number.isFinite(histogram.min) || !Number.isFinite(histogram.max) || histogram.min >= histogram.max)
          throw new CliError('--min and --max must be numbers with min < max', 2);
        if (!Number.isInteger(histogram.bins) || histogram.bins < 1 || histogram.bins > 1000) throw new CliError('--bins must be 1..1000', 2);
        const minCohort = f.minCohort === undefined ? undefined : Number(f.minCohort);
        if (minCohort !== undefined && (!Number.isInteger(minCohort) || minCohort < 1 || minCohort > 1000))
          throw new CliError('--min-cohort must be 1..1000', 2);
        const r = await c.statistics({
          datasetIds: list(f.datasets),
          variable: f.variable,
          purpose: f.purpose,
          histogram,
          ...(minCohort !== undefined ? { minCohort } : {}),
        });
        if (!r.allowed) ctx.exitCode = 4;
        out.result(r, () => {
          if (!r.allowed) return `REFUSED (request ${r.requestId}):\n  ${r.reasons.join('\n  ')}`;
          const parsed = statisticsSchema.safeParse(r.result);
          // A node of another version may answer another shape: show it as it came rather than guess.
          return parsed.success ? renderStatistics(r.requestId, parsed.data) : `request ${r.requestId}\n${JSON.stringify(r.result, null, 2)}`;
        });
      }),
    );

  healthCommand(stats, 'get', 'A statistics request, its input CIDs and result, from the chain')
    .requiredOption('--request-id <id>', 'request id')
    .action(async (f: HealthFlags & { requestId: string }) =>
      asUser(f, async (c, out) => {
        const r = await c.evaluate('getStatistics', { requestId: f.requestId });
        out.result(r, () => JSON.stringify(r, null, 2));
      }),
    );
}
