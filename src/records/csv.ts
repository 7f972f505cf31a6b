// Tabular files (text/csv) split by sensitivity, column by column (issue 6; decision 1161).
//
// A FHIR record is split per resource (sensitivity.ts); a CSV is split per *column*: each column
// gets a level from column rules (data, JSON-loadable like the FHIR rules) — a name pattern such
// as `hiv*` or `mental*` gives a level outright, a code column such as `*icd10*` is classified by
// its cell values against the FHIR code rules (`F32.1` under ICD-10 → restricted). The columns of
// each level become one part: a CSV of those columns with the row-key column(s) repeated first,
// so the parts a reader is released can be re-joined row by row (`joinCsvParts`). The key columns
// are the columns named like `keyColumns` (default `id`, `*_id`) at the lowest level present —
// a key is repeated into every part, so it must never be more sensitive than the least sensitive
// part; when there is none, a synthetic `_row` column (1..n) is the key and the join drops it.
//
// Parsing is RFC 4180 (quoted fields, doubled quotes, CRLF or LF) and strict: ragged rows, stray
// quotes, a missing header, duplicate or reserved column names, invalid UTF-8 and every size limit
// are refused with a message naming the line. Binary files (PDF, images) are not split: a PDF or
// an image has no column structure to cut along, and redacting inside such a format would need a
// format-aware rewriter whose output we could not verify — they stay one part at the declared level.
import { z } from 'zod';
import { utf8, type Bytes } from '../codec/index.ts';
import { SENSITIVITIES, type Sensitivity } from '../contracts/health/model.ts';
import { classifyCode, DEFAULT_SENSITIVITY_RULES, ICD10, LOINC, SNOMED, type SensitivityRule } from './sensitivity.ts';

export class CsvError extends Error {
  override readonly name = 'CsvError';
}

/** The synthetic row key added when no key column exists (reserved: a source column may not use it). */
export const ROW_KEY = '_row';

export interface CsvLimits {
  readonly bytesMax: number;
  /** Data rows (the header not counted). */
  readonly rowsMax: number;
  readonly columnsMax: number;
  readonly cellBytesMax: number;
  /** rows × columns: bounds the memory a parsed file takes. */
  readonly cellsMax: number;
}

/** Records (split in memory): 16 MiB, 200 000 rows, 500 columns, 64 KiB cells, 4 M cells. */
export const CSV_LIMITS_DEFAULT: CsvLimits = { bytesMax: 16 * 1024 * 1024, rowsMax: 200_000, columnsMax: 500, cellBytesMax: 64 * 1024, cellsMax: 4_000_000 };

const PATTERN_RE = /^[A-Za-z0-9_*. -]{1,100}$/;
export const csvColumnRuleSchema = z
  .strictObject({
    label: z.string().min(1).max(200),
    /** Level of a column whose name matches. Optional for a code column (its cells decide). */
    sensitivity: z.enum(SENSITIVITIES).optional(),
    /** Column-name patterns, case-insensitive, `*` = any run of characters (e.g. `hiv*`, `*icd10*`). */
    columns: z.array(z.string().regex(PATTERN_RE, 'must be a column-name pattern (letters, digits, _ . - space, * wildcard)')).min(1).max(50),
    /**
     * The column holds codes of this system: every non-empty cell is classified as `system|cell`
     * against the code rules (exact codes and prefixes), and the column takes the highest level.
     */
    codeSystem: z.string().min(3).max(300).optional(),
  })
  .refine((r) => r.sensitivity !== undefined || r.codeSystem !== undefined, 'a column rule needs a sensitivity, a codeSystem, or both');
export type CsvColumnRule = z.infer<typeof csvColumnRuleSchema>;

export const csvSplitConfigSchema = z.strictObject({
  columnRules: z.array(csvColumnRuleSchema).max(200),
  /** Row-key column-name patterns (same syntax). */
  keyColumns: z.array(z.string().regex(PATTERN_RE)).max(50),
});
export type CsvSplitConfig = z.infer<typeof csvSplitConfigSchema>;

/** The defaults (documented in docs/architecture/health-data.md). */
export const DEFAULT_CSV_SPLIT: CsvSplitConfig = {
  columnRules: [
    { label: 'HIV columns', sensitivity: 'restricted', columns: ['hiv*', '*_hiv', '*_hiv_*'] },
    { label: 'mental health columns', sensitivity: 'restricted', columns: ['mental*', '*_mental*', 'psych*', '*_psych*'] },
    { label: 'genetics columns', sensitivity: 'restricted', columns: ['genetic*', '*_genetic*', 'genotype*', '*_genotype*', 'genom*', '*_genom*'] },
    { label: 'sexual and reproductive health columns', sensitivity: 'sensitive', columns: ['sexual*', '*_sexual*', 'reproductive*', '*_reproductive*'] },
    { label: 'ICD-10 code columns (cells classified by the code rules)', columns: ['*icd10*', '*icd_10*', '*icd-10*'], codeSystem: ICD10 },
    { label: 'SNOMED CT code columns (cells classified by the code rules)', columns: ['*snomed*'], codeSystem: SNOMED },
    { label: 'LOINC code columns (cells classified by the code rules)', columns: ['*loinc*'], codeSystem: LOINC },
  ],
  keyColumns: ['id', '*_id'],
};

const RANK: Record<Sensitivity, number> = { normal: 0, sensitive: 1, restricted: 2 };

export interface ParsedCsv {
  readonly header: string[];
  readonly rows: string[][];
  /** The line break of the input ('\r\n' or '\n'), kept in what is written back. */
  readonly eol: string;
}

/**
 * Visit the records of a CSV (header first) without keeping them: `onRecord(fields, line)`.
 * Strict RFC 4180; blank lines are skipped; every limit is enforced while reading.
 */
export function readCsv(bytes: Bytes, limits: CsvLimits, onRecord: (fields: string[], line: number) => void): { eol: string; records: number } {
  if (bytes.byteLength > limits.bytesMax) throw new CsvError(`the CSV is ${bytes.byteLength} bytes; at most ${limits.bytesMax} are accepted`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CsvError('the CSV is not valid UTF-8');
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let eol = '\n';
  const firstBreak = text.indexOf('\n');
  if (firstBreak > 0 && text[firstBreak - 1] === '\r') eol = '\r\n';
  let records = 0;
  let width = -1;
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    // One record.
    const startLine = line;
    const blankLine = text[i] === '\n' || text[i] === '\r';
    const fields: string[] = [];
    let atRecordEnd = false;
    while (!atRecordEnd) {
      let value = '';
      if (text[i] === '"') {
        i++;
        let closed = false;
        let start = i;
        const chunks: string[] = [];
        while (i < n) {
          const q = text.indexOf('"', i);
          if (q < 0) {
            i = n;
            break;
          }
          if (text[q + 1] === '"') {
            chunks.push(text.slice(start, q + 1));
            i = q + 2;
            start = i;
            continue;
          }
          chunks.push(text.slice(start, q));
          i = q + 1;
          closed = true;
          break;
        }
        if (!closed) throw new CsvError(`line ${startLine}: a quoted field is never closed`);
        value = chunks.join('');
        for (let k = 0; k < value.length; k++) if (value[k] === '\n') line++;
        const c = text[i];
        if (i < n && c !== ',' && c !== '\n' && c !== '\r')
          throw new CsvError(`line ${line}: text after a closing quote (a quote inside a field must be doubled)`);
      } else {
        let j = i;
        while (j < n) {
          const c = text[j];
          if (c === ',' || c === '\n' || c === '\r') break;
          if (c === '"') throw new CsvError(`line ${line}: a quote inside an unquoted field (quote the field and double the quote)`);
          j++;
        }
        value = text.slice(i, j);
        i = j;
      }
      if (value.length > limits.cellBytesMax) throw new CsvError(`line ${line}: a field of ${value.length} characters exceeds ${limits.cellBytesMax}`);
      fields.push(value);
      if (fields.length > limits.columnsMax) throw new CsvError(`line ${startLine}: more than ${limits.columnsMax} columns`);
      if (i >= n) {
        atRecordEnd = true;
        break;
      }
      const c = text[i];
      if (c === ',') {
        i++;
        if (i >= n) {
          fields.push('');
          atRecordEnd = true;
        }
        continue;
      }
      if (c === '\r') {
        if (text[i + 1] !== '\n') throw new CsvError(`line ${line}: a carriage return that does not end the line`);
        i += 2;
      } else {
        i += 1;
      }
      line++;
      atRecordEnd = true;
    }
    // A blank line is not a record (a single empty field is written `""`, see formatCsv).
    if (blankLine) continue;
    if (width < 0) width = fields.length;
    else if (fields.length !== width) throw new CsvError(`line ${startLine}: ${fields.length} field(s), but the header has ${width} (ragged rows are refused)`);
    records++;
    if (records - 1 > limits.rowsMax) throw new CsvError(`more than ${limits.rowsMax} rows`);
    if ((records - 1) * width > limits.cellsMax) throw new CsvError(`more than ${limits.cellsMax} cells (rows × columns)`);
    onRecord(fields, startLine);
  }
  return { eol, records };
}

/** Check a header: present, names non-empty, unique (case-insensitive), not a data row, not reserved. */
export function checkHeader(header: readonly string[] | undefined, opts: { allowRowKey?: boolean } = {}): string[] {
  if (!header || header.length === 0) throw new CsvError('the CSV is empty: the first line must be a header naming the columns');
  const names = header.map((h) => h.trim());
  names.forEach((h, k) => {
    if (h === '') throw new CsvError(`header: column ${k + 1} has no name (the first line must be a header naming every column)`);
  });
  if (names.every((h) => /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(h)))
    throw new CsvError(`no header: the first line (${names.slice(0, 5).join(',')}) looks like data; the first line must name the columns`);
  const seen = new Set<string>();
  for (const h of names) {
    const k = h.toLowerCase();
    if (seen.has(k)) throw new CsvError(`header: column ${JSON.stringify(h.slice(0, 80))} appears twice`);
    seen.add(k);
    if (k === ROW_KEY && !opts.allowRowKey) throw new CsvError(`header: column name ${ROW_KEY} is reserved for the row key of split parts`);
  }
  return names;
}

export function parseCsv(bytes: Bytes, limits: CsvLimits = CSV_LIMITS_DEFAULT, opts: { allowRowKey?: boolean } = {}): ParsedCsv {
  let header: string[] | undefined;
  const rows: string[][] = [];
  const { eol } = readCsv(bytes, limits, (fields) => {
    if (header === undefined) header = fields;
    else rows.push(fields);
  });
  return { header: checkHeader(header, opts), rows, eol };
}

function field(v: string): string {
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function formatCsv(header: readonly string[], rows: readonly (readonly string[])[], eol = '\n'): Bytes {
  // A row of one empty field would be a blank line, which readers skip: quote it.
  const lines = [header, ...rows].map((r) => (r.length === 1 && r[0] === '' ? '""' : r.map(field).join(',')));
  return utf8(lines.join(eol) + eol);
}

function patternRe(pattern: string): RegExp {
  const body = pattern
    .trim()
    .toLowerCase()
    .split('*')
    .map((s) => s.replace(/[.\\^$+?()[\]{}|-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

const matches = (name: string, patterns: readonly string[]): boolean => patterns.some((p) => patternRe(p).test(name.trim().toLowerCase()));

export interface CsvColumn {
  readonly name: string;
  readonly sensitivity: Sensitivity;
  /** Labels of the rules that raised it (name rules, and code rules matched by its cells). */
  readonly matched: readonly string[];
  readonly key: boolean;
}

/** The level of every column: max(floor, name rules, code rules over its cells). */
export function classifyColumns(
  parsed: ParsedCsv,
  config: CsvSplitConfig = DEFAULT_CSV_SPLIT,
  codeRules: readonly SensitivityRule[] = DEFAULT_SENSITIVITY_RULES,
  floor: Sensitivity = 'normal',
): Omit<CsvColumn, 'key'>[] {
  return parsed.header.map((name, col) => {
    let level: Sensitivity = floor;
    const matched = new Set<string>();
    const raise = (s: Sensitivity, label: string): void => {
      matched.add(label);
      if (RANK[s] > RANK[level]) level = s;
    };
    for (const rule of config.columnRules) {
      if (!matches(name, rule.columns)) continue;
      if (rule.sensitivity) raise(rule.sensitivity, rule.label);
      if (rule.codeSystem) {
        const seen = new Set<string>();
        for (const row of parsed.rows) {
          const cell = (row[col] ?? '').trim();
          if (cell === '' || seen.has(cell)) continue;
          seen.add(cell);
          for (const code of new Set([cell, cell.toUpperCase()])) {
            const c = classifyCode(`${rule.codeSystem}|${code}`, codeRules);
            for (const l of c.matched) matched.add(l);
            if (RANK[c.sensitivity] > RANK[level]) level = c.sensitivity;
          }
          if (level === 'restricted') break;
        }
      }
    }
    return { name, sensitivity: level, matched: [...matched] };
  });
}

export interface CsvPart {
  readonly sensitivity: Sensitivity;
  readonly columns: readonly string[];
  readonly bytes: Bytes;
}

/**
 * Split a CSV by column sensitivity. One level only → one part, the input bytes unchanged.
 * Otherwise one part per level present (lowest first), each the key column(s) then that level's
 * columns in their original order, every row kept in order.
 */
export function splitCsv(
  bytes: Bytes,
  opts: { config?: CsvSplitConfig; codeRules?: readonly SensitivityRule[]; floor?: Sensitivity; limits?: CsvLimits } = {},
): { parts: CsvPart[]; columns: CsvColumn[] } {
  const parsed = parseCsv(bytes, opts.limits ?? CSV_LIMITS_DEFAULT);
  const config = opts.config ?? DEFAULT_CSV_SPLIT;
  const classified = classifyColumns(parsed, config, opts.codeRules, opts.floor);
  const levels = SENSITIVITIES.filter((s) => classified.some((c) => c.sensitivity === s));
  if (levels.length === 1) {
    return { parts: [{ sensitivity: levels[0]!, columns: parsed.header, bytes }], columns: classified.map((c) => ({ ...c, key: false })) };
  }
  const lowest = levels[0]!;
  const keyIdx = classified.flatMap((c, k) => (c.sensitivity === lowest && matches(c.name, config.keyColumns) ? [k] : []));
  const columns = classified.map((c, k) => ({ ...c, key: keyIdx.includes(k) }));
  const keyHeader = keyIdx.length > 0 ? keyIdx.map((k) => parsed.header[k]!) : [ROW_KEY];
  const keyOf = (row: readonly string[], r: number): string[] => (keyIdx.length > 0 ? keyIdx.map((k) => row[k] ?? '') : [String(r + 1)]);
  const parts = levels.map((level) => {
    const own = classified.flatMap((c, k) => (c.sensitivity === level && !keyIdx.includes(k) ? [k] : []));
    const header = [...keyHeader, ...own.map((k) => parsed.header[k]!)];
    const rows = parsed.rows.map((row, r) => [...keyOf(row, r), ...own.map((k) => row[k] ?? '')]);
    return { sensitivity: level, columns: header, bytes: formatCsv(header, rows, parsed.eol) };
  });
  return { parts, columns };
}

/**
 * Re-join the CSV parts a reader was released (any subset of a split, in any order) into one
 * CSV: the key columns (without the synthetic `_row`), then each part's own columns, lowest
 * level first. Checks that the parts agree on the rows (same count, same keys in the same order).
 */
export function joinCsvParts(parts: readonly { readonly sensitivity: string; readonly content: Bytes }[], limits: CsvLimits = CSV_LIMITS_DEFAULT): Bytes {
  if (parts.length === 0) throw new CsvError('no CSV part to join');
  const rank = (s: string): number => RANK[s as Sensitivity] ?? 99;
  const sorted = [...parts].sort((a, b) => rank(a.sensitivity) - rank(b.sensitivity));
  const parsed = sorted.map((p) => parseCsv(p.content, limits, { allowRowKey: true }));
  const first = parsed[0]!;
  if (parsed.length === 1) {
    if (first.header[0] !== ROW_KEY) return sorted[0]!.content;
    return formatCsv(
      first.header.slice(1),
      first.rows.map((r) => r.slice(1)),
      first.eol,
    );
  }
  const keys = first.header.filter((h) => parsed.every((p) => p.header.includes(h)));
  if (keys.length === 0) throw new CsvError('the CSV parts share no key column: they are not parts of one split file');
  const keyPos = parsed.map((p) => keys.map((k) => p.header.indexOf(k)));
  const header: string[] = keys.filter((k) => k !== ROW_KEY);
  const own = parsed.map((p) => p.header.flatMap((h, k) => (keys.includes(h) ? [] : [k])));
  parsed.forEach((p, i) => header.push(...own[i]!.map((k) => p.header[k]!)));
  if (new Set(header.map((h) => h.toLowerCase())).size !== header.length)
    throw new CsvError('the CSV parts repeat a non-key column: they are not parts of one split file');
  for (const p of parsed)
    if (p.rows.length !== first.rows.length) throw new CsvError(`the CSV parts have different row counts (${first.rows.length} and ${p.rows.length})`);
  const keepKey = keys.map((k) => k !== ROW_KEY);
  const rows = first.rows.map((_, r) => {
    const key = keyPos[0]!.map((k) => first.rows[r]![k]!);
    for (let i = 1; i < parsed.length; i++) {
      const other = keyPos[i]!.map((k) => parsed[i]!.rows[r]![k]!);
      if (other.some((v, k) => v !== key[k]))
        throw new CsvError(`data row ${r + 1}: the parts disagree on the row key (${key.join(',').slice(0, 80)} vs ${other.join(',').slice(0, 80)})`);
    }
    const out = key.filter((_, k) => keepKey[k]);
    parsed.forEach((p, i) => out.push(...own[i]!.map((k) => p.rows[r]![k]!)));
    return out;
  });
  return formatCsv(header, rows, first.eol);
}
