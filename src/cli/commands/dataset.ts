// `medledger dataset register|list|versions|update|download|withdraw|reopen|delete` — the data
// market and each dataset's lifecycle (decision 1260): datasets stay sealed at their hospital; every
// step is a transaction signed by the user and audited on chain.
import type { Command } from 'commander';
import { MIN_COHORT_MAX, STATISTICS_MIN_COHORT_FLOOR } from '../../analytics/aggregate.ts';
import { writeFileSync } from 'node:fs';
import { CliError, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { asUser, healthCommand, list, morePages, PAGE_SIZE_MAX, pageOptions, readInput, type HealthFlags, type PageFlags } from './record.ts';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CODE_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const ROWS_MAX = 1_000_000;
const STATUSES = ['listed', 'withdrawn', 'deleted', 'all'] as const;
const TYPES = ['csv', 'fhir'] as const;

function mediaTypeOf(file: string, given: string | undefined): 'text/csv' | 'application/fhir+json' {
  const mediaType = given ?? (file.endsWith('.csv') ? 'text/csv' : 'application/fhir+json');
  if (mediaType !== 'text/csv' && mediaType !== 'application/fhir+json') throw new CliError('--media-type must be text/csv or application/fhir+json', 2);
  return mediaType;
}

function codes(flag: string, text: string | undefined, max: number): string[] | undefined {
  if (text === undefined) return undefined;
  const items = list(text);
  if (items.length === 0 || items.length > max) throw new CliError(`--${flag} takes 1..${max} comma-separated codes`, 2);
  const bad = items.find((c) => !CODE_RE.test(c));
  if (bad !== undefined) throw new CliError(`--${flag}: "${bad.slice(0, 64)}" is not a column code (letters, digits, _ . : -)`, 2);
  return items;
}

/** "--rows 10-20" (1-based, inclusive) or "--rows 5" (one row). */
function rowRange(text: string | undefined): { from: number; to: number } | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(text.trim());
  const from = m ? Number(m[1]) : NaN;
  const to = m ? Number(m[2] ?? m[1]) : NaN;
  if (!m || from < 1 || to < from || to > ROWS_MAX)
    throw new CliError(`--rows must be FROM-TO (1-based, inclusive, FROM <= TO <= ${ROWS_MAX}) or one row number, got "${text.slice(0, 40)}"`, 2);
  return { from, to };
}

function datasetId(text: string): string {
  if (!ID_RE.test(text)) throw new CliError(`--dataset-id must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}, got "${text.slice(0, 80)}"`, 2);
  return text;
}

/** What a caller may do with a listed dataset, as one word. */
const ACCESS_TEXT: Record<string, string> = {
  owner: 'owner',
  approved: 'approved',
  pending: 'pending',
  'not-authorised': 'not authorised',
  withdrawn: 'withdrawn',
  deleted: 'deleted',
};

/** The caller's standing as one word; an approval for statistics only says so (it is no licence to download). */
export function accessText(d: Record<string, unknown>): string {
  const granted = Array.isArray(d['grantedActions']) ? (d['grantedActions'] as unknown[]).map(String) : null;
  if (d['access'] === 'approved' && granted !== null && granted.length === 1 && granted[0] === 'statistics') return 'stats only';
  return ACCESS_TEXT[String(d['access'])] ?? String(d['access'] ?? '');
}

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
    .option('--tags <codes>', 'catalogue tags, comma-separated codes (at most 10)')
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
          tags?: string;
        },
      ) =>
        asUser(f, async (c, out) => {
          const mediaType = mediaTypeOf(f.file, f.mediaType);
          const tags = codes('tags', f.tags, 10);
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
            ...(tags !== undefined ? { tags } : {}),
            ...(minCohort !== undefined ? { minCohort } : {}),
            ...(queryBudget !== undefined ? { queryBudget } : {}),
          });
          out.result(
            r,
            () => `dataset ${f.datasetId} registered (tx ${String(r['txId'])}): columns ${columnsText((r['dataset'] as Record<string, unknown>)?.['columns'])}`,
          );
        }),
    );

  pageOptions(healthCommand(dataset, 'list', 'The data market: listed datasets with your standing (owner / approved / pending / not authorised / withdrawn)'))
    .option('--q <text>', 'search name, description and tags (case-insensitive)')
    .option('--owner <org>', 'only datasets of this hospital')
    .option('--status <s>', `listed (default) | withdrawn | deleted | all`)
    .option('--type <t>', 'csv | fhir')
    .option('--tag <code>', 'only datasets with this tag')
    .action(async (f: HealthFlags & PageFlags & { q?: string; owner?: string; status?: string; type?: string; tag?: string }) =>
      asUser(f, async (c, out) => {
        if (f.status !== undefined && !(STATUSES as readonly string[]).includes(f.status))
          throw new CliError(`--status must be one of ${STATUSES.join(', ')}, got "${f.status.slice(0, 40)}"`, 2);
        if (f.type !== undefined && !(TYPES as readonly string[]).includes(f.type))
          throw new CliError(`--type must be csv or fhir, got "${f.type.slice(0, 40)}"`, 2);
        if (f.q !== undefined && f.q.length > 100) throw new CliError('--q takes at most 100 characters', 2);
        if (f.owner !== undefined && !/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(f.owner))
          throw new CliError(`--owner must be a hospital name, got "${f.owner.slice(0, 64)}"`, 2);
        if (f.tag !== undefined && !CODE_RE.test(f.tag)) throw new CliError(`--tag must be a code, got "${f.tag.slice(0, 64)}"`, 2);
        const r = (await c.listDatasets(f.bookmark ?? '', parsePositiveInt('page-size', f.pageSize, PAGE_SIZE_MAX), {
          ...(f.q !== undefined ? { q: f.q } : {}),
          ...(f.owner !== undefined ? { ownerOrg: f.owner } : {}),
          ...(f.status !== undefined ? { status: f.status as (typeof STATUSES)[number] } : {}),
          ...(f.type !== undefined ? { type: f.type as (typeof TYPES)[number] } : {}),
          ...(f.tag !== undefined ? { tag: f.tag } : {}),
        })) as {
          datasets: Array<Record<string, unknown>>;
          bookmark?: string;
        };
        out.result(
          r,
          () =>
            (r.datasets
              .map(
                (d) =>
                  `${String(d['datasetId']).padEnd(18)} ${String(d['ownerOrg']).padEnd(11)} v${String(d['version'] ?? 1).padEnd(3)} ${String(d['status'] ?? 'listed').padEnd(9)} ${accessText(d).padEnd(14)} rows ${String(d['recordCount']).padEnd(6)} ${columnsText(d['columns']).padEnd(20)}  ${String(d['name'])}`,
              )
              .join('\n') || '(empty)') + morePages(r.bookmark),
        );
      }),
    );

  healthCommand(dataset, 'versions', "A dataset's version history: each version's CID, keyed commitment, size and transaction")
    .requiredOption('--dataset-id <id>', 'dataset id')
    .action(async (f: HealthFlags & { datasetId: string }) =>
      asUser(f, async (c, out) => {
        const r = (await c.datasetVersions(datasetId(f.datasetId))) as {
          status: string;
          currentVersion: number;
          versions: Array<{ version: number; cid: string; commitment: string | null; sizeBytes: number; recordCount: number; txId: string; by: string }>;
        };
        out.result(r, () =>
          [
            `dataset ${f.datasetId}: ${r.status}, current version ${r.currentVersion}`,
            ...r.versions.map(
              (v) =>
                `  v${v.version}  ${v.cid}  commitment ${v.commitment ?? '(none: listed before commitments)'}  ${v.recordCount} rows, ${v.sizeBytes} bytes  tx ${v.txId || '(unknown)'}  by ${v.by}`,
            ),
          ].join('\n'),
        );
      }),
    );

  healthCommand(
    dataset,
    'update',
    'A new version of a dataset (owner admin/supervisor, at the hospital holding it); earlier versions stay downloadable and provable',
  )
    .requiredOption('--dataset-id <id>', 'dataset id')
    .requiredOption('--file <path>', 'the new content: CSV with a header row, or a FHIR Bundle of Observations (JSON)')
    .option('--media-type <type>', 'text/csv | application/fhir+json (default from the file name)')
    .action(async (f: HealthFlags & { datasetId: string; file: string; mediaType?: string }) =>
      asUser(f, async (c, out) => {
        const mediaType = mediaTypeOf(f.file, f.mediaType);
        const r = await c.updateDataset({ datasetId: datasetId(f.datasetId), data: readInput(f.file, '--file'), mediaType });
        const ds = (r['dataset'] ?? {}) as Record<string, unknown>;
        out.result(
          r,
          () => `dataset ${f.datasetId} updated to version ${String(ds['version'])} (tx ${String(r['txId'])}): columns ${columnsText(ds['columns'])}`,
        );
      }),
    );

  healthCommand(dataset, 'download', 'Download a dataset (the owner, or with an approved application for read): whole or by part; audited on chain')
    .requiredOption('--dataset-id <id>', 'dataset id')
    .requiredOption('--purpose <code>', 'the purpose of your approved application (e.g. HRESCH)')
    .option('--version <n>', 'an earlier version (default: the current one)')
    .option('--columns <codes>', 'only these columns (CSV header names, or Observation codes of a FHIR dataset), comma-separated')
    .option('--rows <from-to>', 'only these data rows, 1-based and inclusive (e.g. 1-100)')
    .option('--out <file>', 'write the content here instead of printing it')
    .action(async (f: HealthFlags & { datasetId: string; purpose: string; version?: string; columns?: string; rows?: string; out?: string }) =>
      asUser(f, async (c, out) => {
        const version = f.version === undefined ? undefined : parsePositiveInt('version', f.version, 100);
        const columns = codes('columns', f.columns, 200);
        const rows = rowRange(f.rows);
        if (!/^[A-Z]{2,10}$/.test(f.purpose)) throw new CliError(`--purpose must be a purpose code such as HRESCH, got "${f.purpose.slice(0, 20)}"`, 2);
        const r = await c.downloadDataset({
          datasetId: datasetId(f.datasetId),
          purpose: f.purpose,
          ...(version !== undefined ? { version } : {}),
          ...(columns ? { columns } : {}),
          ...(rows ? { rows } : {}),
        });
        if (!r.allowed) {
          out.result({ ...r, content: null }, () => [`REFUSED ${r.code ?? ''} (audited in tx ${r.txId}):`, ...r.reasons.map((x) => `  ${x}`)].join('\n'));
          _ctx.exitCode = 4;
          return;
        }
        const content = Buffer.from(r.content ?? new Uint8Array());
        if (f.out) writeFileSync(f.out, content);
        const verified = r.verified?.commitment ? 'CID and commitment verified' : 'CID verified (no commitment listed)';
        const head = `dataset ${f.datasetId} v${String(r.version)} from ${String(r.custodian)} (tx ${r.txId}): ${content.byteLength} bytes, ${verified}`;
        out.result({ ...r, content: f.out ? null : content.toString('utf8'), out: f.out ?? null }, () =>
          f.out ? `${head}\nwritten to ${f.out}` : `${head}\n${content.toString('utf8').replace(/\n$/, '')}`,
        );
      }),
    );

  for (const [name, description, verb] of [
    ['withdraw', 'Take a listing off the market (the owner): no new applications, hidden from the default catalogue', 'withdrawn'],
    ['reopen', 'List a withdrawn dataset again (the owner)', 'reopened'],
    ['delete', "Delete a dataset (the owner): its hospital's node crypto-shreds every version; its history stays auditable", 'deleted'],
  ] as const) {
    healthCommand(dataset, name, description)
      .requiredOption('--dataset-id <id>', 'dataset id')
      .action(async (f: HealthFlags & { datasetId: string }) =>
        asUser(f, async (c, out) => {
          const id = datasetId(f.datasetId);
          const r = name === 'withdraw' ? await c.withdrawDataset(id) : name === 'reopen' ? await c.reopenDataset(id) : await c.deleteDataset(id);
          out.result(r, () => `dataset ${id} ${verb} (tx ${String(r['txId'])}, audit ${String(r['auditId'])})`);
        }),
      );
  }
}
