// Binary request and response bodies for the batch routes (issue 13, decision 1320): DAG-CBOR
// with byte strings, beside JSON with base64. The edge decodes an application/cbor body (strict
// DAG-CBOR, nesting bounded, under the same body limit) into a CborBody; a route that accepts it
// checks the shape with its exact schema, so a JSON route never mistakes one for the other.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { encode } from '../codec/index.ts';
import { CBOR_MEDIA_TYPE } from './schemas.ts';

/** Routes that accept `content-type: application/cbor` (the others answer 415). */
export const CBOR_BODY_PATHS: ReadonlySet<string> = new Set(['/v1/endorse/batch', '/v1/submit/batch']);

/** A request body that arrived as DAG-CBOR, decoded (byte strings are Uint8Array). */
export class CborBody {
  constructor(readonly value: unknown) {}
}

/** The caller asked for a DAG-CBOR answer (`accept: application/cbor`). */
export function wantsCbor(req: FastifyRequest): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes(CBOR_MEDIA_TYPE);
}

/** Send `value` (bytes as Uint8Array) as DAG-CBOR. */
export function sendCbor(reply: FastifyReply, value: unknown): FastifyReply {
  return reply
    .type(CBOR_MEDIA_TYPE)
    .header('cache-control', 'no-store')
    .send(Buffer.from(encode(value)));
}
