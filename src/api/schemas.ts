// The API's wire types: one zod schema per body, query, path parameter set and response. The
// server validates with them, the SDK infers its types from them, and the OpenAPI document is
// generated from them (z.toJSONSchema), so the three cannot drift apart.
import { z } from 'zod';
import { VALIDATION_CODES } from '../ledger/codes.ts';
import { AUTH_HEADERS } from '../protocol/request-signing.ts';

/** Bytes travel as standard base64 in JSON. */
export const Base64 = z.string().max(32 * 1024 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 text').meta({ description: 'bytes, standard base64' });
const Hex = z.string().regex(/^[0-9a-f]*$/);
const TxId = z.string().regex(/^[0-9a-f]{64}$/, 'a transaction id: 64 lowercase hex digits');
export const WAIT_MS_MAX = 60_000;
const WaitMs = z.coerce.number().int().min(0).max(WAIT_MS_MAX);

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).meta({ id: 'Error' });

export const HealthResponse = z.object({ ok: z.literal(true), nodeId: z.string(), org: z.string() });

export const WhoAmIResponse = z.object({
  org: z.string(),
  id: z.string(),
  role: z.string(),
  serialHex: z.string(),
  node: z.object({ id: z.string(), org: z.string() }).meta({ description: 'the node that answered' }),
}).meta({ id: 'WhoAmI', description: 'the identity the request was authenticated as (certificate checked by the MSP now)' });

export const StatusResponse = z.object({
  nodeId: z.string(),
  org: z.string(),
  roles: z.array(z.enum(['peer', 'orderer'])),
  consensus: z.object({ engine: z.string() }).loose().nullable().meta({ description: "the engine's status (EngineStatus) plus its name; null on a peer-only node" }),
  height: z.number().int(),
  lastBlockHashHex: Hex,
  stateHashHex: Hex,
  connectedPeers: z.array(z.string()),
  startedAtMs: z.number().int(),
  configSequence: z.number().int().min(0).meta({ description: 'sequence of the consortium config in force (0 = genesis)' }),
  joining: z.boolean().meta({ description: 'a newly added node still catching up to the config update that admits it' }),
}).meta({ id: 'NodeStatus' });

export const NetworkResponse = z.object({
  nodes: z.array(z.object({
    nodeId: z.string(),
    org: z.string(),
    roles: z.array(z.enum(['peer', 'orderer'])),
    apiUrl: z.string(),
    reachable: z.boolean(),
    latencyMs: z.number().nullable().meta({ description: 'round trip of a status request over the node-to-node mTLS link' }),
    status: StatusResponse.nullable(),
    error: z.string().nullable(),
  })),
}).meta({ id: 'Network', description: 'every node of the consortium config in force, as the answering node sees it' });

export const ConfigResponse = z.object({
  sequence: z.number().int().min(0).meta({ description: '0 = genesis; each committed config update adds one' }),
  version: z.object({ block: z.number().int(), tx: z.number().int() }).nullable().meta({ description: 'state version of _config/current (what the next update reads); null at genesis' }),
  configBase64: Base64.meta({ description: 'the config in force, DAG-CBOR (src/ledger/config.ts), base64: what a config update is built on' }),
  engine: z.string(),
  orgs: z.array(z.string()),
  orderers: z.array(z.string()),
  nodes: z.array(z.object({ id: z.string(), org: z.string(), roles: z.array(z.enum(['peer', 'orderer'])), p2pUrl: z.string(), apiUrl: z.string() })),
  contracts: z.array(z.object({ name: z.string(), version: z.string(), endorsementPolicy: z.string() })),
  updatePolicy: z.string().meta({ description: 'who must sign the next config update' }),
}).meta({ id: 'ConsortiumConfig' });

export const SignedProposalRequest = z.object({
  signedProposal: Base64.meta({ description: 'DAG-CBOR SignedProposal {proposal, signature} (src/ledger/tx.ts), base64' }),
}).strict();

export const EvaluateResponse = z.object({ payload: Base64.meta({ description: "the contract's result" }) });

export const EndorseResponse = z.object({
  txId: TxId,
  payload: Base64.meta({ description: "the contract's result, as endorsed" }),
  txPayload: Base64.meta({ description: 'DAG-CBOR TxPayload {proposal, response, endorsements}: sign these exact bytes and send {payload, signature} as the envelope' }),
  endorsers: z.array(z.string()).meta({ description: 'organisations that endorsed' }),
});

export const SubmitRequest = z.object({
  envelope: Base64.meta({ description: 'DAG-CBOR TxEnvelope {payload: txPayload, signature}, base64' }),
  waitMs: z.number().int().min(0).max(WAIT_MS_MAX).optional().meta({ description: 'wait up to this long for the commit (0: return once ordered)' }),
}).strict();

export const TxStatus = z.object({
  txId: TxId,
  status: z.enum(['COMMITTED', 'SUBMITTED']),
  code: z.enum(VALIDATION_CODES).nullable().meta({ description: 'validation code once committed' }),
  blockNumber: z.number().int().nullable(),
  reason: z.string().meta({ description: "why the validator marked it invalid ('' when valid or not yet committed); for a resubmission still pending: 'already pending: not broadcast again'" }),
  duplicate: z.boolean().optional().meta({ description: 'submit only: true when this txId was already committed or pending, so nothing was broadcast again; the status is that of the first submission' }),
}).meta({ id: 'TxStatus' });

export const TxStatusParams = z.object({ txId: TxId }).strict();
export const WaitQuery = z.object({ waitMs: WaitMs.optional() }).strict();

export const BlockParams = z.object({ n: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER) }).strict();

export const BlockTx = z.object({
  position: z.number().int(),
  txId: z.string().nullable(),
  contract: z.string().nullable(),
  fn: z.string().nullable(),
  creatorOrg: z.string().nullable(),
  creatorId: z.string().nullable(),
  code: z.enum(VALIDATION_CODES),
});

export const RawBlockResponse = z.object({
  number: z.number().int(),
  blockBase64: Base64.meta({ description: 'the block exactly as ordered (DAG-CBOR, src/ledger/block.ts): header, every transaction envelope, metadata with the orderer signatures and the consensus certificate' }),
  validation: z.array(z.string()).meta({ description: "this node's validation code for each transaction" }),
}).meta({ id: 'RawBlock' });

export const BlockResponse = z.object({
  number: z.number().int(),
  hashHex: Hex,
  previousHashHex: Hex,
  dataHashHex: Hex,
  timestampMs: z.number().int(),
  orderers: z.array(z.string()).meta({ description: 'ids of the orderers that signed the header' }),
  engine: z.string().nullable(),
  certificate: z.object({
    scheme: z.string().meta({ description: "e.g. raft-leader, pbft-commit, gpbft-bundle, ehbft-commit, hashgen-seal" }),
    signers: z.array(z.string()).meta({ description: 'nodes whose signatures the consensus certificate holds' }),
    fields: z.record(z.string(), z.union([z.string(), z.number()])).meta({ description: 'engine fields signed with the block digest (view, term…); bytes as hex' }),
    digestHex: Hex,
  }).nullable().meta({ description: "the engine's proof that this block was decided; null for genesis and engines without one" }),
  txs: z.array(BlockTx),
}).meta({ id: 'Block' });

export const EventsQuery = z.object({ from: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional() }).strict();

/** One Server-Sent Event's data (event: block | contract). */
export const BlockEvent = z.object({
  number: z.number().int(),
  hashHex: Hex,
  timestampMs: z.number().int(),
  txs: z.array(z.object({ txId: z.string().nullable(), position: z.number().int(), code: z.enum(VALIDATION_CODES) })),
}).meta({ id: 'BlockEvent' });
export const ContractEventData = z.object({
  blockNumber: z.number().int(),
  txId: z.string().nullable(),
  position: z.number().int(),
  name: z.string(),
  payload: Base64,
}).meta({ id: 'ContractEvent' });

// ---- health data routes (src/api/health-routes.ts; issue 6) --------------------------------

const HealthId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
/** Record and dataset content: bounded by the node's request body limit first. */
const ContentBase64 = z.string().max(48 * 1024 * 1024).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64').meta({ description: 'bytes, standard base64' });
const SensitivityLevel = z.enum(['normal', 'sensitive', 'restricted']);

export const PrepareRecordBody = z.strictObject({
  recordId: HealthId,
  content: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('fhir'), resource: z.unknown().meta({ description: 'a FHIR R4 resource or Bundle (validated)' }) }),
    z.strictObject({ kind: z.literal('file'), dataBase64: ContentBase64, mediaType: z.string().max(120), sensitivity: SensitivityLevel.optional() }),
  ]),
}).meta({ id: 'PrepareRecord' });
const PartEntry = z.object({ sensitivity: SensitivityLevel, cid: z.string(), sizeBytes: z.number().int(), mediaType: z.string(), commitment: Hex });
export const PrepareRecordResponse = z.object({
  recordId: z.string(),
  version: z.number().int(),
  category: z.string().meta({ description: "FHIR resource type, or 'file'" }),
  parts: z.array(PartEntry).meta({ description: 'pass to health.createRecord / updateRecord' }),
});
export const DiscardBody = z.strictObject({ recordId: HealthId, version: z.number().int().min(1).max(10_000) });
export const DiscardResponse = z.object({ recordId: z.string(), version: z.number().int(), discarded: z.literal(true) });
export const ContentBody = z.strictObject({ txId: z.string().regex(/^[0-9a-f]{64}$/, 'must be a transaction id (64 hex)').meta({ description: "the caller's own committed, allowed health.access transaction" }) });
export const ContentResponse = z.object({
  txId: TxId,
  version: z.number().int(),
  custodian: z.string(),
  parts: z.array(z.object({ sensitivity: SensitivityLevel, mediaType: z.string(), cid: z.string(), dataBase64: Base64 })),
});
export const PrepareDatasetBody = z.strictObject({ datasetId: HealthId, mediaType: z.enum(['text/csv', 'application/fhir+json']), dataBase64: ContentBase64 });
export const PrepareDatasetResponse = z.object({ datasetId: z.string(), cid: z.string(), sizeBytes: z.number().int(), columns: z.array(z.string()), recordCount: z.number().int(), expiresAtMs: z.number().int().meta({ description: 'register it before then: afterwards (plus a grace) unlisted content is swept' }) });
export const ComputeBody = z.strictObject({ requestId: HealthId });
export const ComputeResponse = z.object({ requestId: z.string(), result: z.object({ suppressed: z.boolean(), minCohort: z.number().int() }).loose().meta({ description: 'count, mean, stdDev, minBin/maxBin (the bins holding the extremes, never raw values), under/over and histogram counts — each ≥ minCohort or null (withheld); everything withheld when suppressed (decision 1163)' }) });

export type StatusResponseT = z.infer<typeof StatusResponse>;
export type WhoAmIResponseT = z.infer<typeof WhoAmIResponse>;
export type NetworkResponseT = z.infer<typeof NetworkResponse>;
export type RawBlockResponseT = z.infer<typeof RawBlockResponse>;
export type ConfigResponseT = z.infer<typeof ConfigResponse>;
export type EndorseResponseT = z.infer<typeof EndorseResponse>;
export type TxStatusT = z.infer<typeof TxStatus>;
export type BlockResponseT = z.infer<typeof BlockResponse>;
export type BlockEventT = z.infer<typeof BlockEvent>;
export type ContractEventT = z.infer<typeof ContractEventData>;

export interface RouteSpec {
  readonly method: 'GET' | 'POST';
  /** Fastify syntax (:param); the OpenAPI document uses {param}. */
  readonly path: string;
  readonly summary: string;
  readonly auth: boolean;
  readonly body?: z.ZodType;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly response: z.ZodType;
  readonly responseType?: 'json' | 'sse';
  readonly errors: readonly number[];
}

const COMMON_ERRORS = [400, 401, 413, 429] as const;

export const ROUTES = {
  health: { method: 'GET', path: '/v1/health', summary: 'Liveness (no authentication)', auth: false, response: HealthResponse, errors: [] },
  status: { method: 'GET', path: '/v1/status', summary: "This node's status: roles, consensus view, height, last block hash", auth: true, response: StatusResponse, errors: [...COMMON_ERRORS] },
  whoami: { method: 'GET', path: '/v1/whoami', summary: 'Who this request was authenticated as: organisation, id, role (the certificate checked by the MSP now)', auth: true, response: WhoAmIResponse, errors: [...COMMON_ERRORS] },
  network: { method: 'GET', path: '/v1/network', summary: 'Every node of the consortium: reachable from this node over mTLS (round trip), and its status (role, leader, height, last block hash, peers, config sequence)', auth: true, response: NetworkResponse, errors: [...COMMON_ERRORS] },
  config: { method: 'GET', path: '/v1/config', summary: 'The consortium configuration in force on this node (organisations, orderers, nodes, contracts) and what the next config update builds on', auth: true, response: ConfigResponse, errors: [...COMMON_ERRORS] },
  evaluate: { method: 'POST', path: '/v1/evaluate', summary: "Run a read-only contract function on this node's peer", auth: true, body: SignedProposalRequest, response: EvaluateResponse, errors: [...COMMON_ERRORS, 403, 404, 409, 422, 500] },
  endorse: { method: 'POST', path: '/v1/endorse', summary: 'Collect endorsements from the organisations the contract policy needs (this node first)', auth: true, body: SignedProposalRequest, response: EndorseResponse, errors: [...COMMON_ERRORS, 403, 404, 409, 422, 503] },
  submit: { method: 'POST', path: '/v1/submit', summary: 'Hand a signed transaction envelope to the ordering service; optionally wait for its commit', auth: true, body: SubmitRequest, response: TxStatus, errors: [...COMMON_ERRORS, 403, 503, 504] },
  txStatus: { method: 'GET', path: '/v1/tx/:txId', summary: "A transaction's commit status (waitMs: wait for it)", auth: true, params: TxStatusParams, query: WaitQuery, response: TxStatus, errors: [...COMMON_ERRORS, 404, 504] },
  block: { method: 'GET', path: '/v1/blocks/:n', summary: 'A committed block: header hashes, and per transaction its id, contract, function, creator and validation code', auth: true, params: BlockParams, response: BlockResponse, errors: [...COMMON_ERRORS, 404] },
  rawBlock: { method: 'GET', path: '/v1/blocks/:n/raw', summary: "A committed block's bytes (to re-check hashes, signatures and read/write sets independently of this node) and this node's validation codes; admins and supervisors (auditors) only, since it holds every transaction's arguments", auth: true, params: BlockParams, response: RawBlockResponse, errors: [...COMMON_ERRORS, 403, 404] },
  events: { method: 'GET', path: '/v1/events', summary: 'Server-Sent Events: `block` (BlockEvent) for each committed block from `from` on, and `contract` (ContractEvent) for each event of a valid transaction', auth: true, query: EventsQuery, response: BlockEvent, responseType: 'sse', errors: [...COMMON_ERRORS, 503] },
  healthRecordPrepare: { method: 'POST', path: '/v1/health/records/prepare', summary: "Seal and store a new record version's parts at this (the custodian's) node; then submit health.createRecord/updateRecord with them before expiresAtMs. 422 INVALID_FHIR carries the validator's issues; 429 TOO_MANY_PENDING when the caller's or the node's prepared-but-unsubmitted versions exceed their limits", auth: true, body: PrepareRecordBody, response: PrepareRecordResponse, errors: [...COMMON_ERRORS, 403, 404, 409, 422] },
  healthRecordDiscard: { method: 'POST', path: '/v1/health/records/discard', summary: 'Drop a prepared version that is not on chain (only the user who prepared it; 404 when no such version was prepared)', auth: true, body: DiscardBody, response: DiscardResponse, errors: [...COMMON_ERRORS, 403, 404, 409] },
  healthRecordContent: { method: 'POST', path: '/v1/health/records/content', summary: "The parts released by the caller's own committed health.access transaction, fetched from the custodian and verified (CID, commitment)", auth: true, body: ContentBody, response: ContentResponse, errors: [...COMMON_ERRORS, 403, 404, 502, 503] },
  healthDatasetPrepare: { method: 'POST', path: '/v1/health/datasets/prepare', summary: 'Seal and store a dataset (CSV with a numeric column, or a FHIR Bundle of Observations) at this node, for users who may register datasets; then submit health.registerDataset with the listing fields before expiresAtMs. 422 INVALID_CONTENT / INVALID_FHIR for content that does not match its media type; 429 TOO_MANY_PENDING when the caller\'s or the node\'s prepared, unregistered datasets exceed their limits', auth: true, body: PrepareDatasetBody, response: PrepareDatasetResponse, errors: [...COMMON_ERRORS, 403, 409, 422] },
  healthStatisticsCompute: { method: 'POST', path: '/v1/health/statistics/compute', summary: "Released partial aggregates from every custodian of the caller's allowed statistics request, combined under the disclosure rule (no count under the threshold, complementary suppression, no raw min/max); then submit health.recordStatisticsResult", auth: true, body: ComputeBody, response: ComputeResponse, errors: [...COMMON_ERRORS, 403, 404, 409, 500, 503] },
} as const satisfies Record<string, RouteSpec>;

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  // 'input' describes what a client may send (coerced query/path values are strings on the wire).
  return z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema) return [];
  const js = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s }));
}

/** The OpenAPI 3.1 document (JSON Schema 2020-12 is OpenAPI 3.1's schema dialect). */
export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [id, r] of Object.entries(ROUTES) as [string, RouteSpec][]) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const responses: Record<string, unknown> = {
      200: r.responseType === 'sse'
        ? { description: 'text/event-stream; each event\'s data is JSON', content: { 'text/event-stream': { schema: { type: 'string' }, 'x-event-data': { block: jsonSchema(BlockEvent), contract: jsonSchema(ContractEventData) } } } }
        : { description: 'OK', content: { 'application/json': { schema: jsonSchema(r.response) } } },
    };
    for (const code of r.errors) responses[code] = { description: 'error', content: { 'application/json': { schema: jsonSchema(ErrorBody) } } };
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      operationId: id,
      summary: r.summary,
      security: r.auth ? [{ certCredential: [], requestAudience: [], requestTimestamp: [], requestNonce: [], requestSignature: [] }] : [],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(r.body) } } } } : {}),
      responses,
    };
  }
  paths['/openapi.json'] = { get: { operationId: 'openapi', summary: 'This document (no authentication)', security: [], responses: { 200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } } } };
  const apiKey = (name: string, description: string): Record<string, string> => ({ type: 'apiKey', in: 'header', name, description });
  return {
    openapi: '3.1.0',
    info: {
      title: 'MedLedger node gateway',
      version: '1',
      description: 'Evaluate, endorse, submit and follow transactions of a MedLedger consortium. Every request except /v1/health and /openapi.json is signed with the client certificate key: see docs/architecture/api.md. Bytes travel as base64.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: {
        certCredential: apiKey(AUTH_HEADERS.cert, 'base64 of the client certificate (PEM), issued by a consortium organisation CA'),
        requestAudience: apiKey(AUTH_HEADERS.audience, 'the id of the node the request is sent to (GET /v1/health answers it); a request signed for another node is refused'),
        requestTimestamp: apiKey(AUTH_HEADERS.timestamp, 'ms since the epoch; within ±5 minutes of the server clock'),
        requestNonce: apiKey(AUTH_HEADERS.nonce, '16..64 random bytes, lowercase hex, never reused'),
        requestSignature: apiKey(AUTH_HEADERS.signature, 'base64 ECDSA P-256 (P1363, 64 bytes) over "MEDLEDGER-REQUEST-V2\\naudience\\nMETHOD\\npath+query\\ntimestamp\\nnonce\\nhex(sha256(body))"'),
      },
    },
    paths,
  };
}
