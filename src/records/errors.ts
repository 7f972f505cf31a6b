// The one error type of the record service: a message for the user and a code the API maps to a
// status (decision 1162 for NOT_FOUND, 1160 for LIMIT).
import { type FhirIssue } from '../fhir/validate.ts';

export class RecordError extends Error {
  override readonly name = 'RecordError';
  /** LIMIT: a bound of the node's prepared (not yet on chain) versions (decision 1160). */
  constructor(
    message: string,
    readonly code: 'INVALID_CONTENT' | 'DENIED' | 'NOT_FOUND' | 'UNAVAILABLE' | 'REFUSED' | 'LIMIT' = 'REFUSED',
    readonly issues: readonly FhirIssue[] = [],
  ) {
    super(message);
  }
}
