// Datasets' shape and values (service.ts datasetShape / datasetValues): bad CSV or FHIR is a
// RecordError INVALID_CONTENT with a clear message, never a raw parse or validation error.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { utf8 } from '../codec/index.ts';
import { datasetShape, datasetValues, RecordError } from './service.ts';

function invalid(fn: () => unknown, re: RegExp, withIssues = false): void {
  assert.throws(fn, (err: unknown) => {
    if (!(err instanceof RecordError)) return assert.fail(`expected RecordError, got ${String(err)}`);
    assert.equal(err.code, 'INVALID_CONTENT');
    assert.match(err.message, re);
    if (withIssues) assert.ok(err.issues.length > 0, "carries the validator's issues");
    return true;
  });
}

describe('datasetShape', () => {
  it('turns bad FHIR and bad CSV into RecordError INVALID_CONTENT', () => {
    invalid(() => datasetShape(utf8('{"resourceType": "Bund'), 'application/fhir+json'), /^dataset: not JSON/);
    invalid(() => datasetShape(new Uint8Array([0x7b, 0xff]), 'application/fhir+json'), /not valid UTF-8/);
    invalid(() => datasetShape(utf8(JSON.stringify({ resourceType: 'Observation', status: 'bogus' })), 'application/fhir+json'), /^dataset: /, true);
    invalid(() => datasetShape(utf8(JSON.stringify({ resourceType: 'Patient' })), 'application/fhir+json'), /Bundle of Observations/);
    invalid(() => datasetShape(utf8('age,sbp\n30,120\n31\n'), 'text/csv'), /dataset: line 3: 1 field\(s\), but the header has 2/);
    invalid(() => datasetShape(utf8('30,120\n31,121\n'), 'text/csv'), /no header/);
  });

  it('refuses what statistics cannot use: column names that cannot be listed, no rows, no numeric variable, JSON nested too deep', () => {
    invalid(() => datasetShape(utf8('{'), 'text/csv'), /^dataset: column "\{" is not a column code/);
    invalid(() => datasetShape(utf8('age,blood pressure\n1,2\n'), 'text/csv'), /column "blood pressure" is not a column code/);
    invalid(() => datasetShape(utf8('age,sbp\n'), 'text/csv'), /but no data rows/);
    invalid(() => datasetShape(utf8('ward,name\na,ann\n'), 'text/csv'), /no numeric column/);
    // A column with one word among numbers is text: statistics would silently drop the word.
    invalid(() => datasetShape(utf8('sbp\n120\nhigh\n'), 'text/csv'), /no numeric column/);
    const coded = (code: string, value?: number): unknown => ({
      resource: {
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code }] },
        ...(value === undefined ? {} : { valueQuantity: { value } }),
      },
    });
    invalid(
      () => datasetShape(utf8(JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [coded('8480-6')] })), 'application/fhir+json'),
      /no Observation with a code and a numeric valueQuantity/,
    );
    invalid(
      () => datasetShape(utf8(JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [coded('8480 6', 1)] })), 'application/fhir+json'),
      /column "8480 6" is not a column code/,
    );
    invalid(
      () =>
        datasetShape(
          utf8(`{"resourceType":"Bundle","type":"collection","meta":${'{"extension":['.repeat(100_000)}${']}'.repeat(100_000)}}`),
          'application/fhir+json',
        ),
      /nests objects and arrays deeper than 64 levels/,
    );
    // Empty cells and a text column beside a numeric one are fine.
    assert.deepEqual(datasetShape(utf8('ward,sbp\na,120\nb,\n'), 'text/csv'), { columns: ['ward', 'sbp'], rows: 2 });
  });

  it("reads a CSV's columns and rows (quoted fields included) and a FHIR Bundle's codes", () => {
    assert.deepEqual(datasetShape(utf8('age,"sbp"\n30,120\n"31",121\n'), 'text/csv'), { columns: ['age', 'sbp'], rows: 2 });
    assert.deepEqual(datasetShape(utf8(''), 'text/csv'), { columns: [], rows: 0 });
    const obs = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
      valueQuantity: { value: 120 },
    };
    assert.deepEqual(datasetShape(utf8(JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: obs }] })), 'application/fhir+json'), {
      columns: ['8480-6'],
      rows: 1,
    });
    assert.deepEqual(datasetValues(utf8('age,note,sbp\n30,"a, b",120\n31,,x\n32,c,\n33,d,140\n'), 'text/csv', 'sbp'), [120, 140]);
    assert.throws(
      () => datasetValues(utf8('age\n1\n'), 'text/csv', 'sbp'),
      (e: unknown) => e instanceof RecordError && e.code === 'NOT_FOUND',
    );
  });
});
