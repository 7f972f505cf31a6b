// `medledger stats run|get` — statistics over datasets at several hospitals; only aggregates leave
// a hospital, small cohorts are suppressed, request + inputs + result are on chain.
import type { Command } from 'commander';
import { CliError } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { asUser, healthCommand, list, type HealthFlags } from './record.ts';

export function register(program: Command, ctx: CommandContext): void {
  const stats = program.command('stats').description('Privacy-preserving statistics (count, min, max, mean, sd, histogram)');

  healthCommand(stats, 'run', 'Request statistics of a variable over datasets (needs approved applications)')
    .requiredOption('--datasets <ids>', 'comma-separated dataset ids')
    .requiredOption('--variable <column>', 'column / Observation code')
    .option('--purpose <code>', 'purpose of use', 'HRESCH')
    .requiredOption('--min <x>', 'histogram lower edge')
    .requiredOption('--max <x>', 'histogram upper edge')
    .option('--bins <n>', 'histogram bins', '10')
    .option('--min-cohort <n>', 'suppress groups smaller than this', '5')
    .action(async (f: HealthFlags & { datasets: string; variable: string; purpose: string; min: string; max: string; bins: string; minCohort: string }) => asUser(f, async (c, out) => {
      const histogram = { min: Number(f.min), max: Number(f.max), bins: Number(f.bins) };
      if (!Number.isFinite(histogram.min) || !Number.isFinite(histogram.max) || histogram.min >= histogram.max) throw new CliError('--min and --max must be numbers with min < max', 2);
      if (!Number.isInteger(histogram.bins) || histogram.bins < 1 || histogram.bins > 1000) throw new CliError('--bins must be 1..1000', 2);
      const minCohort = Number(f.minCohort);
      if (!Number.isInteger(minCohort) || minCohort < 1 || minCohort > 1000) throw new CliError('--min-cohort must be 1..1000', 2);
      const r = await c.statistics({ datasetIds: list(f.datasets), variable: f.variable, purpose: f.purpose, histogram, minCohort });
      if (!r.allowed) ctx.exitCode = 4;
      out.result(r, () => r.allowed ? `request ${r.requestId}\n${JSON.stringify(r.result, null, 2)}` : `REFUSED (request ${r.requestId}):\n  ${r.reasons.join('\n  ')}`);
    }));

  healthCommand(stats, 'get', 'A statistics request, its input CIDs and result, from the chain')
    .requiredOption('--request-id <id>', 'request id')
    .action(async (f: HealthFlags & { requestId: string }) => asUser(f, async (c, out) => {
      const r = await c.evaluate('getStatistics', { requestId: f.requestId });
      out.result(r, () => JSON.stringify(r, null, 2));
    }));
}
