import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FhirValidationError, validateFhir } from './validate.ts';

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
    assert.throws(() => validateFhir({ resourceType: 'Observation', code: { text: 'x' } }), (e: Error) => e instanceof FhirValidationError && /status/.test(e.message));
    assert.throws(() => validateFhir({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueFoo: 1 }), FhirValidationError);
    assert.throws(() => validateFhir({ resourceType: 'NotAThing' }), FhirValidationError);
    assert.throws(() => validateFhir([1, 2]), /JSON object/);
    assert.throws(() => validateFhir({ status: 'final' }), /missing resourceType/);
  });
});
