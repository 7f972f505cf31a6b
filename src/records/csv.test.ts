// CSV records split by column sensitivity (csv.ts): strict parsing, column rules (names and code
// cells), the split into per-level parts with the row key repeated, and the re-join.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { utf8 } from '../codec/index.ts';
import {
  classifyColumns,
  CSV_LIMITS_DEFAULT,
  CsvError,
  csvSplitConfigSchema,
  formatCsv,
  joinCsvParts,
  parseCsv,
  ROW_KEY,
  splitCsv,
  type CsvLimits,
} from './csv.ts';
import { classifyCode, ICD10 } from './sensitivity.ts';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

// id (key), age, HIV status (restricted by name), a diagnosis code column (F32.1 → restricted by
// the ICD-10 mental-health rule), a sexual-health column (sensitive), BMI.
const LABS =
  [
    'patient_id,age,hiv_status,dx_icd10,sexual_health_notes,bmi',
    'p1,34,positive,F32.1,"none, reported",22.5',
    'p2,51,negative,J45,,31.0',
    'p3,29,negative,,"said ""no""",19.8',
  ].join('\n') + '\n';

describe('CSV parsing (strict RFC 4180)', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks; CRLF and a BOM', () => {
    const p = parseCsv(utf8('\uFEFFa,b\r\n"x, y","say ""hi"""\r\n"multi\r\nline",2\r\n'));
    assert.deepEqual(p.header, ['a', 'b']);
    assert.deepEqual(p.rows, [
      ['x, y', 'say "hi"'],
      ['multi\r\nline', '2'],
    ]);
    assert.equal(p.eol, '\r\n');
    // A blank line is skipped; a one-column row with an empty cell is written (and read) as "".
    assert.deepEqual(parseCsv(utf8('a\n\n""\nx\n')).rows, [[''], ['x']]);
    assert.equal(text(formatCsv(['a'], [[''], ['x']])), 'a\n""\nx\n');
  });

  it('refuses ragged rows, a missing header, bad quoting, duplicate or reserved names, invalid UTF-8, with the line', () => {
    const refuses = (csv: string | Uint8Array, re: RegExp, limits?: CsvLimits): void => {
      assert.throws(
        () => parseCsv(typeof csv === 'string' ? utf8(csv) : csv, limits),
        (err: unknown) => (err instanceof CsvError && re.test(err.message)) || assert.fail(String(err)),
      );
    };
    refuses('a,b\n1,2\n3\n', /line 3: 1 field\(s\), but the header has 2 \(ragged/);
    refuses('a,b\n1,2,3\n', /line 2: 3 field\(s\)/);
    refuses('', /empty: the first line must be a header/);
    refuses('\n\n', /empty/);
    refuses('1,2\n3,4\n', /no header: the first line \(1,2\) looks like data/);
    refuses('a,,c\n1,2,3\n', /column 2 has no name/);
    refuses('id,ID\n1,2\n', /"ID" appears twice/);
    refuses(`${ROW_KEY},a\n1,2\n`, /reserved/);
    refuses('a,b\n"unclosed,2\n', /line 2: a quoted field is never closed/);
    refuses('a,b\nx"y,2\n', /line 2: a quote inside an unquoted field/);
    refuses('a,b\n"x"y,2\n', /text after a closing quote/);
    refuses(new Uint8Array([0x61, 0x0a, 0xff, 0xfe, 0x0a]), /not valid UTF-8/);
    refuses('a\rb\n', /carriage return/);
    const small: CsvLimits = { ...CSV_LIMITS_DEFAULT, bytesMax: 100, rowsMax: 2, columnsMax: 3, cellBytesMax: 5 };
    refuses('a,b\n' + '1,2\n'.repeat(40), /at most 100 are accepted/, small);
    refuses('a\n1\n2\n3\n', /more than 2 rows/, small);
    refuses('a,b,c,d\n', /more than 3 columns/, small);
    refuses('a\n123456\n', /exceeds 5/, small);
  });
});

describe('column rules', () => {
  it('classify by name pattern and by the codes in a code column (against the FHIR code rules)', () => {
    const cols = classifyColumns(parseCsv(utf8(LABS)));
    assert.deepEqual(
      cols.map((c) => [c.name, c.sensitivity]),
      [
        ['patient_id', 'normal'],
        ['age', 'normal'],
        ['hiv_status', 'restricted'],
        ['dx_icd10', 'restricted'],
        ['sexual_health_notes', 'sensitive'],
        ['bmi', 'normal'],
      ],
    );
    assert.ok(
      cols[3]!.matched.some((l) => /mental health/.test(l)),
      'the ICD-10 F code matched the mental-health rule',
    );
    // A code column of harmless codes stays normal; a lower-case code is still recognised.
    const benign = classifyColumns(parseCsv(utf8('id,icd10_code\n1,J45\n2,I10\n')));
    assert.equal(benign[1]!.sensitivity, 'normal');
    assert.equal(classifyColumns(parseCsv(utf8('id,ICD-10\n1,b20.1\n')))[1]!.sensitivity, 'restricted');
    assert.equal(classifyCode(`${ICD10}|Z21`).sensitivity, 'restricted');
    // "archive" contains "hiv" but is not an HIV column.
    assert.equal(
      classifyColumns(parseCsv(utf8('archive,genotype_brca\n1,x\n')))
        .map((c) => c.sensitivity)
        .join(),
      'normal,restricted',
    );
  });

  it('are validated data', () => {
    assert.throws(() => csvSplitConfigSchema.parse({ columnRules: [{ label: 'x', columns: ['hiv*'] }], keyColumns: [] }), /sensitivity, a codeSystem/);
    assert.throws(
      () => csvSplitConfigSchema.parse({ columnRules: [{ label: 'x', sensitivity: 'restricted', columns: ['hiv$('] }], keyColumns: [] }),
      /column-name pattern/,
    );
    assert.ok(csvSplitConfigSchema.parse({ columnRules: [{ label: 'x', sensitivity: 'restricted', columns: ['smok*'] }], keyColumns: ['mrn'] }));
  });
});

describe('splitting and re-joining', () => {
  it('splits a CSV with an HIV column and a mental-health code column into one part per level, the key repeated', () => {
    const { parts, columns } = splitCsv(utf8(LABS));
    assert.deepEqual(
      parts.map((p) => [p.sensitivity, p.columns.join(',')]),
      [
        ['normal', 'patient_id,age,bmi'],
        ['sensitive', 'patient_id,sexual_health_notes'],
        ['restricted', 'patient_id,hiv_status,dx_icd10'],
      ],
    );
    assert.deepEqual(
      columns.filter((c) => c.key).map((c) => c.name),
      ['patient_id'],
    );
    assert.equal(text(parts[0]!.bytes), 'patient_id,age,bmi\np1,34,22.5\np2,51,31.0\np3,29,19.8\n');
    assert.equal(text(parts[1]!.bytes), 'patient_id,sexual_health_notes\np1,"none, reported"\np2,\np3,"said ""no"""\n');
    for (const p of parts.slice(0, 2)) assert.doesNotMatch(text(p.bytes), /positive|F32/, 'no restricted cell outside the restricted part');

    // A reader released up to sensitive: the re-joined CSV without the restricted columns.
    assert.equal(
      text(
        joinCsvParts([
          { sensitivity: 'sensitive', content: parts[1]!.bytes },
          { sensitivity: 'normal', content: parts[0]!.bytes },
        ]),
      ),
      'patient_id,age,bmi,sexual_health_notes\np1,34,22.5,"none, reported"\np2,51,31.0,\np3,29,19.8,"said ""no"""\n',
    );
    // Every part: every column, keys first, then by level.
    const all = parseCsv(joinCsvParts(parts.map((p) => ({ sensitivity: p.sensitivity, content: p.bytes }))));
    assert.deepEqual(all.header, ['patient_id', 'age', 'bmi', 'sexual_health_notes', 'hiv_status', 'dx_icd10']);
    assert.deepEqual(all.rows[0], ['p1', '34', '22.5', 'none, reported', 'positive', 'F32.1']);
    // Only the normal part: just that part.
    assert.equal(text(joinCsvParts([{ sensitivity: 'normal', content: parts[0]!.bytes }])), text(parts[0]!.bytes));
  });

  it("keeps a one-level CSV as one part with the bytes unchanged; the declared level is every column's floor", () => {
    const plain = utf8('test,value\r\nhb,13.5\r\n');
    const one = splitCsv(plain);
    assert.deepEqual(
      one.parts.map((p) => p.sensitivity),
      ['normal'],
    );
    assert.equal(one.parts[0]!.bytes, plain);
    const floored = splitCsv(utf8(LABS), { floor: 'sensitive' });
    assert.deepEqual(
      floored.parts.map((p) => [p.sensitivity, p.columns.join(',')]),
      [
        ['sensitive', 'patient_id,age,sexual_health_notes,bmi'],
        ['restricted', 'patient_id,hiv_status,dx_icd10'],
      ],
    );
  });

  it('adds a synthetic row key when no key column exists (dropped again by the join); a key never rises above the lowest part', () => {
    const { parts } = splitCsv(utf8('age,hiv_test\r\n40,pos\r\n41,neg\r\n'));
    assert.deepEqual(
      parts.map((p) => text(p.bytes)),
      [`${ROW_KEY},age\r\n1,40\r\n2,41\r\n`, `${ROW_KEY},hiv_test\r\n1,pos\r\n2,neg\r\n`],
    );
    assert.equal(text(joinCsvParts([{ sensitivity: 'normal', content: parts[0]!.bytes }])), 'age\r\n40\r\n41\r\n');
    assert.equal(text(joinCsvParts(parts.map((p) => ({ sensitivity: p.sensitivity, content: p.bytes })))), 'age,hiv_test\r\n40,pos\r\n41,neg\r\n');
    // "hiv_id" looks like a key but is an HIV column: restricted, not repeated into the normal part.
    const hivId = splitCsv(utf8('id,hiv_id,age\n1,h9,40\n'));
    assert.deepEqual(
      hivId.parts.map((p) => p.columns.join(',')),
      ['id,age', 'id,hiv_id'],
    );
  });

  it('refuses to join parts that do not belong together', () => {
    const a = utf8('id,x\n1,a\n2,b\n');
    assert.throws(
      () =>
        joinCsvParts([
          { sensitivity: 'normal', content: a },
          { sensitivity: 'restricted', content: utf8('id,y\n1,c\n3,d\n') },
        ]),
      /data row 2: the parts disagree on the row key/,
    );
    assert.throws(
      () =>
        joinCsvParts([
          { sensitivity: 'normal', content: a },
          { sensitivity: 'restricted', content: utf8('id,y\n1,c\n') },
        ]),
      /different row counts/,
    );
    assert.throws(
      () =>
        joinCsvParts([
          { sensitivity: 'normal', content: a },
          { sensitivity: 'restricted', content: utf8('k,y\n1,c\n2,d\n') },
        ]),
      /share no key column/,
    );
    assert.throws(() => joinCsvParts([]), /no CSV part/);
  });
});

describe('properties (generated CSVs)', () => {
  const NAMES = ['id', 'age', 'bmi', 'hiv_status', 'mental_score', 'dx_icd10', 'sexual_history', 'note', 'genotype', 'visit_id'];
  const cell = fc.string({ unit: fc.constantFrom('a', 'F', '3', '2', '.', ',', '"', '\n', ' ', 'é'), maxLength: 6 });
  const table = fc.subarray(NAMES, { minLength: 1 }).chain((header) =>
    fc.record({
      header: fc.constant(header),
      rows: fc.array(fc.array(cell, { minLength: header.length, maxLength: header.length }), { maxLength: 6 }),
    }),
  );

  it('format → parse is the identity, and the join of every part has every column with its cells, row by row', () => {
    fc.assert(
      fc.property(table, ({ header, rows }) => {
        const bytes = formatCsv(header, rows);
        const parsed = parseCsv(bytes);
        const kept = rows;
        assert.deepEqual({ h: parsed.header, r: parsed.rows }, { h: header, r: kept });
        const { parts } = splitCsv(bytes);
        assert.equal(new Set(parts.map((p) => p.sensitivity)).size, parts.length, 'one part per level');
        const joined = parseCsv(joinCsvParts(parts.map((p) => ({ sensitivity: p.sensitivity, content: p.bytes }))));
        assert.deepEqual([...joined.header].sort(), [...header].sort());
        joined.rows.forEach((row, r) => header.forEach((h, c) => assert.equal(row[joined.header.indexOf(h)], kept[r]![c], `row ${r} column ${h}`)));
        assert.equal(joined.rows.length, kept.length);
      }),
      { numRuns: 150, seed: 6161 },
    );
  });
});
