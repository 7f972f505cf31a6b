// `medledger dataset register|list` — the data market: datasets stay sealed at their hospital.
import type { Command } from 'commander';
import { MIN_COHORT_MAX, STATISTICS_MIN_COHORT_FLOOR } from '../../analytics/aggregate.ts';
import { CliError, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { asUser, healthCommand, morePages, PAGE_SIZE_MAX, pageOptions, readInput, type HealthFlags, type PageFlags } from './record.ts';

/** A dataset's columns as a person reads them: "age, sbp", not a JSON array. */
const columnsText = (columns: unknown): string => (Array.isArray(columns) ? columns.map(String).join(', ') : String(columns));

export function register(program: Command, _ctx: CommandContext): void {
  const dataset = program.command('dataset').description('Datasets in the data market (CSV columns or FHIR Observation sets)');

  healthCommand(dataset, 'register', "Store a dataset sealed at this hospital's node and list it (admin or supervisor)")
    .requiredOption('--dataset-id <id>', 'dataset id')
    .requiredOption('--name <text>', 'name')
    .requiredOption('--file <path>', 'CSV with a header row, or a FHIR Bundle of Observations (JSON)')
    .option('--media-type <type>', 'text/csv | application/fhir+json (default from the file name)')
    .option('--description <text>', 'description', '')
    .option('--closed', 'do not accept applications')
    .option('--min-cohort <n>', `this dataset's minimum cohort for statistics (at least the consortium floor ${STATISTICS_MIN_COHORT_FLOOR})`)
    .option('--query-budget <n>', 'statistics requests each researcher may make over it (default 20)')
    .action(
      async (
        f: HealthFlags & {
          datasetId: string;
          name: string;
          file: string;
          mediaType?: string;
          description: string;
          closed?: boolean;
          minCohort?: string;
          queryBudget?: string;
        },
      ) =>
        asUser(f, async (c, out) => {
          const mediaType = f.mediaType ?? (f.file.endsWith('.csv') ? 'text/csv' : 'application/fhir+json');
          if (mediaType !== 'text/csv' && mediaType !== 'application/fhir+json')
            throw new CliError('--media-type must be text/csv or application/fhir+json', 2);
          const minCohort = f.minCohort === undefined ? undefined : parsePositiveInt('min-cohort', f.minCohort, MIN_COHORT_MAX);
          if (minCohort !== undefined && minCohort < STATISTICS_MIN_COHORT_FLOOR)
            throw new CliError(`--min-cohort cannot be below the consortium floor ${STATISTICS_MIN_COHORT_FLOOR}, got ${minCohort}`, 2);
          const queryBudget = f.queryBudget === undefined ? undefined : parsePositiveInt('query-budget', f.queryBudget, 1000);
          const r = await c.registerDataset({
            datasetId: f.datasetId,
            name: f.name,
            description: f.description,
            data: readInput(f.file, '--file'),
            mediaType,
            open: !f.closed,
            ...(minCohort !== undefined ? { minCohort } : {}),
            ...(queryBudget !== undefined ? { queryBudget } : {}),
          });
          out.result(
            r,
            () => `dataset ${f.datasetId} registered (tx ${String(r['txId'])}): columns ${columnsText((r['dataset'] as Record<string, unknown>)?.['columns'])}`,
          );
        }),
    );

  pageOptions(healthCommand(dataset, 'list', 'The data market listing')).action(async (f: HealthFlags & PageFlags) =>
    asUser(f, async (c, out) => {
      const r = (await c.listDatasets(f.bookmark ?? '', parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX))) as {
        datasets: Array<Record<string, unknown>>;
        bookmark?: string;
      };
      out.result(
        r,
        () =>
          (r.datasets
            .map(
              (d) =>
                `${String(d['datasetId']).padEnd(18)} ${String(d['ownerOrg']).padEnd(11)} rows ${String(d['recordCount']).padEnd(6)} ${columnsText(d['columns']).padEnd(20)}  ${String(d['name'])}`,
            )
            .join('\n') || '(empty)') + morePages(r.bookmark),
      );
    }),
  );
}
