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
    if (withIssues) assert.ok(err.issues.length > 0, 'carries the validator\'s issues');
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

  it('reads a CSV\'s columns and rows (quoted fields included) and a FHIR Bundle\'s codes', () => {
    assert.deepEqual(datasetShape(utf8('age,"sbp"\n30,120\n"31",121\n'), 'text/csv'), { columns: ['age', 'sbp'], rows: 2 });
    assert.deepEqual(datasetShape(utf8(''), 'text/csv'), { columns: [], rows: 0 });
    const obs = { resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] }, valueQuantity: { value: 120 } };
    assert.deepEqual(datasetShape(utf8(JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: obs }] })), 'application/fhir+json'), { columns: ['8480-6'], rows: 1 });
    assert.deepEqual(datasetValues(utf8('age,note,sbp\n30,"a, b",120\n31,,x\n32,c,\n33,d,140\n'), 'text/csv', 'sbp'), [120, 140]);
    assert.throws(() => datasetValues(utf8('age\n1\n'), 'text/csv', 'sbp'), (e: unknown) => e instanceof RecordError && e.code === 'NOT_FOUND');
  });
});
