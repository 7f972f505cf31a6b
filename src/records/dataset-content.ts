// Reading a dataset's content: its shape (columns, rows) when it is registered and one variable's
// values when a statistics request needs them — CSV streamed with bounds, or a FHIR Bundle of
// Observations.
import { jsonNestingDepth, type Bytes } from '../codec/index.ts';
import { CODE_RE } from '../contracts/health/index.ts';
import { FHIR_NESTING_DEPTH_MAX, FhirValidationError, validateFhir } from '../fhir/validate.ts';
import { CsvError, checkHeader, formatCsv, readCsv, type CsvLimits } from './csv.ts';
import { RecordError } from './errors.ts';
import { CONTENT_BYTES_MAX } from './wire.ts';

const DATASET_ROWS_MAX = 1_000_000;
/** Datasets are read streaming (nothing but one column is kept), so they may be larger than a record's CSV. */
const DATASET_CSV_LIMITS: CsvLimits = {
  bytesMax: CONTENT_BYTES_MAX,
  rowsMax: DATASET_ROWS_MAX,
  columnsMax: 500,
  cellBytesMax: 64 * 1024,
  cellsMax: 50_000_000,
};
/** Values of one variable in a stored dataset: CSV (header row, numeric cells) or a FHIR Bundle of Observations. */
export function datasetValues(bytes: Bytes, mediaType: string, variable: string): number[] {
  const out: number[] = [];
  if (mediaType === 'text/csv') {
    let col = -2;
    csvOrError(
      () =>
        readCsv(bytes, DATASET_CSV_LIMITS, (fields) => {
          if (col === -2) {
            col = checkHeader(fields, { allowRowKey: true }).indexOf(variable);
            if (col < 0) throw new RecordError(`the dataset has no column ${variable}`, 'NOT_FOUND');
            return;
          }
          const cell = (fields[col] ?? '').trim();
          if (cell === '') return;
          const v = Number(cell);
          if (Number.isFinite(v)) out.push(v);
        }),
      'dataset',
    );
    if (col < 0) throw new RecordError(`the dataset has no column ${variable}`, 'NOT_FOUND');
    return out;
  }
  const bundle = parseJson(bytes, 'dataset') as {
    entry?: Array<{ resource?: { code?: { coding?: Array<{ code?: string }> }; valueQuantity?: { value?: number } } }>;
  };
  for (const e of (bundle.entry ?? []).slice(0, DATASET_ROWS_MAX)) {
    const r = e.resource;
    if (r?.code?.coding?.some((c) => c.code === variable) && typeof r.valueQuantity?.value === 'number' && Number.isFinite(r.valueQuantity.value))
      out.push(r.valueQuantity.value);
  }
  return out;
}

/** Run a CSV reader; its CsvError becomes RecordError INVALID_CONTENT naming `what`. */
export function csvOrError<T>(fn: () => T, what: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CsvError) throw new RecordError(`${what}: ${err.message}`, 'INVALID_CONTENT');
    throw err;
  }
}

function parseJson(bytes: Bytes, what: string): unknown {
  // Parsing copes with any depth, but validating and encoding the value recurse (issue 16, item 8).
  if (jsonNestingDepth(bytes, FHIR_NESTING_DEPTH_MAX) > FHIR_NESTING_DEPTH_MAX) {
    throw new RecordError(
      `${what}: nests objects and arrays deeper than ${FHIR_NESTING_DEPTH_MAX} levels (at most ${FHIR_NESTING_DEPTH_MAX} are accepted)`,
      'INVALID_CONTENT',
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new RecordError(`${what}: not valid UTF-8`, 'INVALID_CONTENT');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new RecordError(`${what}: not JSON (${(err as Error).message.slice(0, 200)})`, 'INVALID_CONTENT');
  }
}

/** A listed column must be a column code: registerDataset puts the names on chain and refuses others. */
function checkColumnCode(name: string): void {
  if (!CODE_RE.test(name))
    throw new RecordError(
      `dataset: column ${JSON.stringify(name.slice(0, 80))} is not a column code (names are listed on chain and must match ${CODE_RE.source})`,
      'INVALID_CONTENT',
    );
}

/**
 * Columns (CSV header) or Observation codes (FHIR Bundle) of a dataset, and its row count.
 * What a dataset is for decides what it must hold (issue 16, item 7: arbitrary bytes were
 * stored under a dataset's media type): column names that can be listed on chain, at least one
 * row, and at least one numeric variable for statistics — a CSV column whose non-empty cells are
 * all numbers (at least one), or an Observation with a code and a numeric valueQuantity.
 * An empty CSV has no columns (the caller refuses it). Bad input is a RecordError
 * INVALID_CONTENT (with the validator's issues for invalid FHIR).
 */
export function datasetShape(bytes: Bytes, mediaType: string): { columns: string[]; rows: number } {
  if (mediaType === 'text/csv') {
    if (Buffer.from(bytes).toString('utf8').trim() === '') return { columns: [], rows: 0 };
    let columns: string[] | null = null;
    let rows = 0;
    let numericCells: number[] = [];
    let textual: boolean[] = [];
    csvOrError(
      () =>
        readCsv(bytes, DATASET_CSV_LIMITS, (fields) => {
          if (columns === null) {
            columns = checkHeader(fields, { allowRowKey: true });
            columns.forEach(checkColumnCode);
            numericCells = columns.map(() => 0);
            textual = columns.map(() => false);
            return;
          }
          rows++;
          fields.forEach((field, k) => {
            const cell = field.trim();
            if (cell === '') return;
            if (Number.isFinite(Number(cell))) numericCells[k]! += 1;
            else textual[k] = true;
          });
        }),
      'dataset',
    );
    const names: string[] = columns ?? [];
    if (rows === 0) throw new RecordError(`dataset: a header (${names.slice(0, 5).join(',')}) but no data rows`, 'INVALID_CONTENT');
    if (!names.some((_, k) => numericCells[k]! > 0 && !textual[k])) {
      throw new RecordError('dataset: no numeric column (statistics need at least one column whose non-empty cells are all numbers)', 'INVALID_CONTENT');
    }
    return { columns: names, rows };
  }
  let resource: {
    resourceType: string;
    entry?: Array<{ resource?: { resourceType?: string; code?: { coding?: Array<{ code?: string }> }; valueQuantity?: { value?: unknown } } }>;
  };
  try {
    resource = validateFhir(parseJson(bytes, 'dataset')) as unknown as typeof resource;
  } catch (err) {
    if (err instanceof FhirValidationError) throw new RecordError(`dataset: ${err.message}`, 'INVALID_CONTENT', err.issues);
    throw err;
  }
  if (resource.resourceType !== 'Bundle') throw new RecordError('a FHIR dataset must be a Bundle of Observations', 'INVALID_CONTENT');
  const codes = new Set<string>();
  let measured = 0;
  for (const e of resource.entry ?? []) {
    if (e.resource?.resourceType !== 'Observation') throw new RecordError('a FHIR dataset must contain Observations only', 'INVALID_CONTENT');
    const c = e.resource.code?.coding?.[0]?.code;
    if (!c) continue;
    checkColumnCode(c);
    codes.add(c);
    const v = e.resource.valueQuantity?.value;
    if (typeof v === 'number' && Number.isFinite(v)) measured++;
  }
  if (measured === 0)
    throw new RecordError('dataset: no Observation with a code and a numeric valueQuantity (statistics need at least one)', 'INVALID_CONTENT');
  return { columns: [...codes], rows: resource.entry?.length ?? 0 };
}

/**
 * The part of a dataset a download asked for (decision 1260): the selected columns (CSV header
 * names; for a FHIR Bundle, the Observations whose code is selected) and an inclusive 1-based range
 * of data rows (CSV rows after the header; Bundle entries). No selection: the bytes unchanged. The
 * contract already refused columns the version does not list; a range past the end yields fewer
 * rows (none at all is still a well-formed CSV / Bundle).
 */
export function selectDataset(bytes: Bytes, mediaType: string, selection: { columns?: readonly string[]; rows?: { from: number; to: number } } | null): Bytes {
  if (!selection || (selection.columns === undefined && selection.rows === undefined)) return bytes;
  const inRows = (n: number): boolean => selection.rows === undefined || (n >= selection.rows.from && n <= selection.rows.to);
  if (mediaType === 'text/csv') {
    let header: string[] | null = null;
    let keep: number[] = [];
    const rows: string[][] = [];
    let n = 0;
    const { eol } = csvOrError(
      () =>
        readCsv(bytes, DATASET_CSV_LIMITS, (fields) => {
          if (header === null) {
            const names = checkHeader(fields, { allowRowKey: true });
            const wanted = selection.columns ?? names;
            const missing = wanted.filter((c) => !names.includes(c));
            if (missing.length > 0) throw new RecordError(`the dataset has no column ${missing.join(', ')}`, 'NOT_FOUND');
            // Header order, not the order asked in: the part is a projection of the table.
            keep = names.flatMap((name, k) => (wanted.includes(name) ? [k] : []));
            header = keep.map((k) => names[k]!);
            return;
          }
          n++;
          if (inRows(n)) rows.push(keep.map((k) => fields[k] ?? ''));
        }),
      'dataset',
    );
    return formatCsv(header ?? [], rows, eol);
  }
  const bundle = parseJson(bytes, 'dataset') as { entry?: Array<{ resource?: { code?: { coding?: Array<{ code?: string }> } } }> };
  const wanted = selection.columns;
  const entry = (bundle.entry ?? [])
    .slice(0, DATASET_ROWS_MAX)
    .filter((_, i) => inRows(i + 1))
    .filter((e) => wanted === undefined || (e.resource?.code?.coding ?? []).some((c) => c.code !== undefined && wanted.includes(c.code)));
  return new TextEncoder().encode(JSON.stringify({ ...bundle, entry }));
}
