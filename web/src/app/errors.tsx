// A refused or failed action, said in plain words: what happened (by HTTP status and the API's
// error code), then the node's own message, which names the reason (the contract's refusal, the
// missing consent, the expired certificate…).
import { Alert, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { MedLedgerApiError } from '../../../src/sdk/client.ts';

export interface PlainError {
  readonly title: string;
  readonly detail: string;
  readonly code: string | null;
  /** The transaction a failure concerns (an unknown outcome names it so the user can look it up). */
  readonly txId: string | null;
}

const BY_CODE: Readonly<Record<string, string>> = {
  FORBIDDEN: 'Not allowed for your role',
  CREATOR_MISMATCH: 'Signed by another user',
  DENIED: 'Access denied',
  CONTRACT_REJECTED: 'Refused by the ledger rules',
  ENDORSEMENT_REFUSED: 'Refused by the hospitals that check transactions',
  POLICY_NOT_SATISFIED: 'Not enough hospitals agreed',
  NOT_FOUND: 'Not found',
  TX_NOT_FOUND: 'Transaction not found',
  BLOCK_NOT_FOUND: 'Block not found',
  TOO_MANY_PENDING: 'Too many unfinished uploads',
  RATE_LIMITED: 'Too many requests',
  TOO_MANY_REQUESTS: 'The node is busy',
  COMMIT_TIMEOUT: 'Not confirmed yet',
  ORDERING_UNAVAILABLE: 'The ordering service is unavailable',
  INTEGRITY: 'The data failed its integrity check',
  WRONG_AUDIENCE: 'Signed for another node or consortium',
  STALE_REQUEST: 'Your computer clock is off',
  CERT_EXPIRED: 'Your certificate has expired',
  CERT_REVOKED: 'Your certificate was revoked',
  OUTCOME_UNKNOWN: 'Outcome unknown: the transaction may have committed',
  INVALID_FHIR: 'Not valid FHIR',
  INVALID_CONTENT: 'The content was refused',
};

function byStatus(status: number): string {
  if (status === 0) return 'The node could not be reached';
  if (status === 401) return 'Your sign-in was not accepted';
  if (status === 403) return 'Not allowed';
  if (status === 404) return 'Not found';
  if (status === 409) return 'Conflict';
  if (status === 413) return 'Too large';
  if (status === 422) return 'Refused';
  if (status === 429) return 'Too many requests';
  if (status >= 500) return 'The node had a problem';
  return 'The request failed';
}

export function plainError(err: unknown): PlainError {
  if (err instanceof MedLedgerApiError) return { title: BY_CODE[err.code] ?? byStatus(err.status), detail: err.message, code: err.code, txId: err.txId };
  if (err instanceof Error) return { title: 'Something went wrong', detail: err.message, code: null, txId: null };
  return { title: 'Something went wrong', detail: String(err), code: null, txId: null };
}

export interface ErrorAlertProps {
  readonly error: unknown;
  readonly title?: string;
  /** 'alert' (announced when it appears), or 'note' for a copy of an alert shown elsewhere. */
  readonly role?: 'alert' | 'note';
  /** Given, the alert has a Dismiss button. */
  readonly onClose?: () => void;
}

export function ErrorAlert({ error, title, role = 'alert', onClose }: ErrorAlertProps): ReactNode {
  const e = plainError(error);
  return (
    <Alert color="red" title={title ?? e.title} role={role} {...(onClose ? { withCloseButton: true, closeButtonLabel: 'Dismiss', onClose } : {})}>
      <Text size="sm">{e.detail}</Text>
      {e.code ? (
        <Text size="xs" c="dimmed">
          code {e.code}
          {e.txId ? ` · transaction ${e.txId} (check it on the Blocks page before retrying)` : ''}
        </Text>
      ) : null}
    </Alert>
  );
}
