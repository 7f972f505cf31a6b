import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FHIR_NESTING_DEPTH_MAX, FhirValidationError, validateFhir } from './validate.ts';

/** An Observation whose extension nests `levels` extensions deep (two JSON levels each). */
function nestedExtensions(levels: number): Record<string, unknown> {
  let ext: Record<string, unknown> = { url: 'http://example.org/fhir/StructureDefinition/leaf', valueString: 'v' };
  for (let i = 1; i < levels; i++) ext = { url: 'http://example.org/fhir/StructureDefinition/node', extension: [ext] };
  return { resourceType: 'Observation', status: 'final', code: { text: 'x' }, extension: [ext] };
}

describe('FHIR R4 validation', () => {
  it('accepts a valid Observation and Bundle', () => {
    const obs = {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose' }] },
      subject: { reference: 'Patient/p1' },
      valueQuantity: { value: 5.4, unit: 'mmol/L', system: 'http://unitsofmeasure.org', code: 'mmol/L' },
    };
    assert.equal(validateFhir(obs).resourceType, 'Observation');
    assert.equal(validateFhir({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: obs }] }).resourceType, 'Bundle');
  });

  it('rejects invalid resources with the validator issues', () => {
    assert.throws(
      () => validateFhir({ resourceType: 'Observation', code: { text: 'x' } }),
      (e: Error) => e instanceof FhirValidationError && /status/.test(e.message),
    );
    assert.throws(() => validateFhir({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueFoo: 1 }), FhirValidationError);
    assert.throws(() => validateFhir({ resourceType: 'NotAThing' }), FhirValidationError);
    assert.throws(() => validateFhir([1, 2]), /JSON object/);
    assert.throws(() => validateFhir({ status: 'final' }), /missing resourceType/);
  });

  it('refuses a resource nested deeper than the bound with a validation issue naming it (not a stack overflow)', () => {
    // 20 nested extensions: 41 levels of objects and arrays, a legitimate (if unusual) resource.
    assert.equal(validateFhir(nestedExtensions(20)).resourceType, 'Observation');
    for (const levels of [40, 5_000, 100_000]) {
      assert.throws(
        () => validateFhir(nestedExtensions(levels)),
        (e: unknown) => {
          assert.ok(e instanceof FhirValidationError, `expected FhirValidationError, got ${String(e)}`);
          assert.match(e.message, new RegExp(`nested deeper than ${FHIR_NESTING_DEPTH_MAX} levels`));
          return true;
        },
      );
    }
  });
});
