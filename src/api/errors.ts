// The API's one error type, and how peer and gateway failures map to it: a status, a stable code
// and a message naming the problem (never a 5xx for bad input).
import { z } from 'zod';
import { GatewayError } from '../node/gateway.ts';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** `txId`: the transaction concerned (an unknown outcome names the id to check). */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly txId?: string,
  ) {
    super(message);
  }
}

/** Peer status (src/node/peer.ts, contracts/runtime.ts) → API error. */
export function peerError(status: number, message: string): ApiError {
  switch (status) {
    case 400:
      return new ApiError(422, 'CONTRACT_REJECTED', message);
    case 403:
      return new ApiError(403, 'FORBIDDEN', message);
    case 404:
      return new ApiError(404, 'NOT_FOUND', message);
    case 409:
      return new ApiError(409, 'CONFLICT', message);
    case 503:
      return new ApiError(503, 'ENDORSER_UNAVAILABLE', message);
    case 500:
      return new ApiError(500, 'CONTRACT_FAILED', message);
    default:
      return new ApiError(502, 'PEER_ERROR', `${message} (peer status ${status})`);
  }
}

export function gatewayError(err: GatewayError): ApiError {
  switch (err.kind) {
    case 'ENDORSEMENT_REFUSED':
      if (err.status === 400 || err.status === undefined) return new ApiError(422, 'ENDORSEMENT_REFUSED', err.message);
      return peerError(err.status, err.message);
    case 'ENDORSEMENT_MISMATCH':
      return new ApiError(422, 'ENDORSEMENT_MISMATCH', `${err.message}; retry`);
    case 'POLICY_NOT_SATISFIED':
      return new ApiError(422, 'POLICY_NOT_SATISFIED', err.message);
    case 'UNKNOWN_CONTRACT':
      return new ApiError(404, 'UNKNOWN_CONTRACT', err.message);
    case 'ORDERER_REJECTED':
      return new ApiError(503, 'ORDERING_UNAVAILABLE', err.message);
    case 'COMMIT_TIMEOUT':
      return new ApiError(504, 'COMMIT_TIMEOUT', err.message);
  }
}

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new ApiError(400, 'BAD_REQUEST', `${what}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
}
