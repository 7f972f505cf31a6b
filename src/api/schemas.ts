// The OpenAPI 3.1 document of the node's API, generated from the same zod schemas the server
// validates with (src/protocol/schemas.ts): the routes, their auth, bodies, parameters, responses
// and errors.
import { z } from 'zod';
import { AUTH_HEADERS } from '../protocol/request-signing.ts';
import { ENROLMENT_ROUTES } from '../protocol/enrolment-schemas.ts';
import {
  CBOR_MEDIA_TYPE,
  EndorseBatchCborRequest,
  EndorseBatchCborResponse,
  SubmitBatchCborRequest,
  ReadyResponse,
  LogLevelRequest,
  LogLevelResponse,
  GpbftOpRequest,
  GpbftOpResponse,
  BlockEvent,
  BlockParams,
  BlockResponse,
  ComputeBody,
  ComputeResponse,
  ConfigResponse,
  ContentBody,
  ContentResponse,
  ContractEventData,
  DiscardBody,
  DiscardResponse,
  EndorseResponse,
  ErrorBody,
  EvaluateResponse,
  EventsQuery,
  HealthResponse,
  NetworkResponse,
  LabJob,
  LabJobParams,
  LabSimulationBody,
  PrepareDatasetBody,
  PrepareDatasetResponse,
  DatasetContentBody,
  DatasetContentResponse,
  PrepareRecordBody,
  PrepareRecordResponse,
  RawBlockResponse,
  SignedProposalRequest,
  EndorseBatchRequest,
  EndorseBatchResponse,
  StatusResponse,
  SubmitBatchRequest,
  SubmitBatchResponse,
  SubmitRequest,
  TxResult,
  TxStatus,
  TxStatusesRequest,
  TxStatusParams,
  WaitQuery,
  WhoAmIResponse,
} from '../protocol/schemas.ts';

// The wire types, for the server's modules and API users that import them from here.
export * from '../protocol/schemas.ts';

export interface RouteSpec {
  readonly method: 'GET' | 'POST' | 'PUT';
  /** Fastify syntax (:param); the OpenAPI document uses {param}. */
  readonly path: string;
  readonly summary: string;
  readonly auth: boolean;
  readonly body?: z.ZodType;
  /** The same body as DAG-CBOR (`application/cbor`, bytes as byte strings; decision 1320). */
  readonly cborBody?: z.ZodType;
  /** The 200 answer as DAG-CBOR when the request says `accept: application/cbor`. */
  readonly cborResponse?: z.ZodType;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly response: z.ZodType;
  /** sse: text/event-stream; ndjson: application/x-ndjson, one `response` per line (the 200 answer). */
  readonly responseType?: 'json' | 'sse' | 'ndjson';
  readonly errors: readonly number[];
}

const COMMON_ERRORS = [400, 401, 413, 429] as const;

/** Routes whose body is signed by its creator (a proposal, an envelope): no request signature needed (decision 1300). */
export const SIGNED_BODY_PATHS: ReadonlySet<string> = new Set(['/v1/endorse', '/v1/endorse/batch', '/v1/submit', '/v1/submit/batch']);

export const ROUTES = {
  health: { method: 'GET', path: '/v1/health', summary: 'Liveness (no authentication)', auth: false, response: HealthResponse, errors: [] },
  status: {
    method: 'GET',
    path: '/v1/status',
    summary: "This node's status: roles, consensus view, height, last block hash",
    auth: true,
    response: StatusResponse,
    errors: [...COMMON_ERRORS],
  },
  ready: {
    method: 'GET',
    path: '/v1/ready',
    summary:
      'Readiness (no authentication): 200 when the node can serve users, 503 with the reasons (delivery stopped, joining, no leader/primary known, peer behind its orderer)',
    auth: false,
    response: ReadyResponse,
    errors: [503],
  },
  logLevel: {
    method: 'POST',
    path: '/v1/admin/log-level',
    summary: "Change this node's log level at runtime (an admin of the node's own organisation)",
    auth: true,
    body: LogLevelRequest,
    response: LogLevelResponse,
    errors: [...COMMON_ERRORS, 403],
  },
  gpbftOp: {
    method: 'POST',
    path: '/v1/admin/gpbft/ops',
    summary:
      "gpbft's node update (paper 002, decision 1280), through this node's orderer: an admin rates another hospital's orderer (0–100; below the rating threshold it is removed), or an admin of this node's hospital asks it to leave. Refusals: 403 NOT_ADMIN / FOREIGN_ADMIN / SELF_RATING, 404 UNKNOWN_NODE, 409 NOT_GPBFT / NOT_A_MEMBER",
    auth: true,
    body: GpbftOpRequest,
    response: GpbftOpResponse,
    errors: [...COMMON_ERRORS, 403, 404, 409, 503],
  },
  whoami: {
    method: 'GET',
    path: '/v1/whoami',
    summary: 'Who this request was authenticated as: organisation, id, role (the certificate checked by the MSP now)',
    auth: true,
    response: WhoAmIResponse,
    errors: [...COMMON_ERRORS],
  },
  network: {
    method: 'GET',
    path: '/v1/network',
    summary:
      'Every node of the consortium: reachable from this node over mTLS (round trip), and its status (role, leader, height, last block hash, peers, config sequence)',
    auth: true,
    response: NetworkResponse,
    errors: [...COMMON_ERRORS],
  },
  config: {
    method: 'GET',
    path: '/v1/config',
    summary: 'The consortium configuration in force on this node (organisations, orderers, nodes, contracts) and what the next config update builds on',
    auth: true,
    response: ConfigResponse,
    errors: [...COMMON_ERRORS],
  },
  evaluate: {
    method: 'POST',
    path: '/v1/evaluate',
    summary: "Run a read-only contract function on this node's peer",
    auth: true,
    body: SignedProposalRequest,
    response: EvaluateResponse,
    errors: [...COMMON_ERRORS, 403, 404, 409, 422, 500],
  },
  endorse: {
    method: 'POST',
    path: '/v1/endorse',
    summary: 'Collect endorsements from the organisations the contract policy needs (this node first)',
    auth: true,
    body: SignedProposalRequest,
    response: EndorseResponse,
    errors: [...COMMON_ERRORS, 403, 404, 409, 422, 503],
  },
  endorseBatch: {
    method: 'POST',
    path: '/v1/endorse/batch',
    summary: "Endorse several of the caller's signed proposals in one request (each as /v1/endorse); one result or error each, in order",
    auth: true,
    body: EndorseBatchRequest,
    cborBody: EndorseBatchCborRequest,
    response: EndorseBatchResponse,
    cborResponse: EndorseBatchCborResponse,
    errors: [...COMMON_ERRORS, 403],
  },
  submit: {
    method: 'POST',
    path: '/v1/submit',
    summary: 'Hand a signed transaction envelope to the ordering service; optionally wait for its commit',
    auth: true,
    body: SubmitRequest,
    response: TxStatus,
    errors: [...COMMON_ERRORS, 403, 503, 504],
  },
  submitBatch: {
    method: 'POST',
    path: '/v1/submit/batch',
    summary:
      "Hand several signed transaction envelopes (all the caller's) to the ordering service in one request; one status or error each (stream: true — application/x-ndjson, one TxResult line each as it is known)",
    auth: true,
    body: SubmitBatchRequest,
    cborBody: SubmitBatchCborRequest,
    response: SubmitBatchResponse,
    cborResponse: SubmitBatchResponse,
    errors: [...COMMON_ERRORS, 403],
  },
  txStatuses: {
    method: 'POST',
    path: '/v1/tx/statuses',
    summary:
      'The commit status of many transactions in one request, streamed: application/x-ndjson, one TxResult line per txId as it commits (or its COMMIT_TIMEOUT / TX_NOT_FOUND error), in commit order; the answer ends after the last',
    auth: true,
    body: TxStatusesRequest,
    response: TxResult,
    responseType: 'ndjson',
    errors: [...COMMON_ERRORS],
  },
  txStatus: {
    method: 'GET',
    path: '/v1/tx/:txId',
    summary: "A transaction's commit status (waitMs: wait for it)",
    auth: true,
    params: TxStatusParams,
    query: WaitQuery,
    response: TxStatus,
    errors: [...COMMON_ERRORS, 404, 504],
  },
  block: {
    method: 'GET',
    path: '/v1/blocks/:n',
    summary: 'A committed block: header hashes, and per transaction its id, contract, function, creator and validation code',
    auth: true,
    params: BlockParams,
    response: BlockResponse,
    errors: [...COMMON_ERRORS, 404],
  },
  rawBlock: {
    method: 'GET',
    path: '/v1/blocks/:n/raw',
    summary:
      "A committed block's bytes (to re-check hashes, signatures and read/write sets independently of this node) and this node's validation codes; admins and supervisors (auditors) only, since it holds every transaction's arguments",
    auth: true,
    params: BlockParams,
    response: RawBlockResponse,
    errors: [...COMMON_ERRORS, 403, 404],
  },
  events: {
    method: 'GET',
    path: '/v1/events',
    summary:
      'Server-Sent Events: `block` (BlockEvent) for each committed block from `from` on, and `contract` (ContractEvent) for each event of a valid transaction',
    auth: true,
    query: EventsQuery,
    response: BlockEvent,
    responseType: 'sse',
    errors: [...COMMON_ERRORS, 503],
  },
  healthRecordPrepare: {
    method: 'POST',
    path: '/v1/health/records/prepare',
    summary:
      "Seal and store a new record version's parts at this (the custodian's) node; then submit health.createRecord/updateRecord with them before expiresAtMs. 422 INVALID_FHIR carries the validator's issues; 429 TOO_MANY_PENDING when the caller's or the node's prepared-but-unsubmitted versions exceed their limits",
    auth: true,
    body: PrepareRecordBody,
    response: PrepareRecordResponse,
    errors: [...COMMON_ERRORS, 403, 404, 409, 422],
  },
  healthRecordDiscard: {
    method: 'POST',
    path: '/v1/health/records/discard',
    summary: 'Drop a prepared version that is not on chain (only the user who prepared it; 404 when no such version was prepared)',
    auth: true,
    body: DiscardBody,
    response: DiscardResponse,
    errors: [...COMMON_ERRORS, 403, 404, 409],
  },
  healthRecordContent: {
    method: 'POST',
    path: '/v1/health/records/content',
    summary: "The parts released by the caller's own committed health.access transaction, fetched from the custodian and verified (CID, commitment)",
    auth: true,
    body: ContentBody,
    response: ContentResponse,
    errors: [...COMMON_ERRORS, 403, 404, 502, 503],
  },
  healthDatasetPrepare: {
    method: 'POST',
    path: '/v1/health/datasets/prepare',
    summary:
      "Seal and store a dataset (CSV with a numeric column, or a FHIR Bundle of Observations) at this node, for users who may register datasets; then submit health.registerDataset with the listing fields before expiresAtMs. 422 INVALID_CONTENT / INVALID_FHIR for content that does not match its media type; 429 TOO_MANY_PENDING when the caller's or the node's prepared, unregistered datasets exceed their limits",
    auth: true,
    body: PrepareDatasetBody,
    response: PrepareDatasetResponse,
    errors: [...COMMON_ERRORS, 403, 409, 422],
  },
  healthDatasetContent: {
    method: 'POST',
    path: '/v1/health/datasets/content',
    summary:
      "The dataset version released by the caller's own committed health.downloadDataset transaction: fetched from its custodian against that transaction (audited there as a served read), verified (CID, commitment), then cut to the columns/rows the transaction recorded. 404 when this chain lacks the transaction; 403 when it is not the caller's, not a download, or older than 10 minutes; 404 DATASET_DELETED content is gone",
    auth: true,
    body: DatasetContentBody,
    response: DatasetContentResponse,
    errors: [...COMMON_ERRORS, 403, 404, 502, 503],
  },
  healthStatisticsCompute: {
    method: 'POST',
    path: '/v1/health/statistics/compute',
    summary:
      "Released partial aggregates from every custodian of the caller's allowed statistics request, combined under the disclosure rule (no count under the threshold, complementary suppression, no raw min/max); then submit health.recordStatisticsResult",
    auth: true,
    body: ComputeBody,
    response: ComputeResponse,
    errors: [...COMMON_ERRORS, 403, 404, 409, 500, 503],
  },
  labSimulationStart: {
    method: 'POST',
    path: '/v1/lab/simulations',
    summary:
      'Run a small simulation campaign of a consensus engine on this node (deterministic simulator, worker thread): researchers, admins and supervisors; one at a time per node (409 LAB_BUSY); answers 202 with the job to poll',
    auth: true,
    body: LabSimulationBody,
    response: LabJob,
    errors: [...COMMON_ERRORS, 403, 409],
  },
  labSimulation: {
    method: 'GET',
    path: '/v1/lab/simulations/:jobId',
    summary: 'A lab job of yours: state, seeds done, failing seeds, and the campaign summary (messages by type, decided blocks, latency, violations) once done',
    auth: true,
    params: LabJobParams,
    response: LabJob,
    errors: [...COMMON_ERRORS, 403, 404],
  },
  // Registration and enrolment (decision 1252): protocol/enrolment-schemas.ts.
  ...ENROLMENT_ROUTES,
} as const satisfies Record<string, RouteSpec>;

function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  // 'input' describes what a client may send (coerced query/path values are strings on the wire).
  return z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): unknown[] {
  if (!schema) return [];
  const js = jsonSchema(schema) as { properties?: Record<string, Record<string, unknown>>; required?: string[] };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: where,
    required: where === 'path' || (js.required ?? []).includes(name),
    schema: s,
  }));
}

/** The OpenAPI 3.1 document (JSON Schema 2020-12 is OpenAPI 3.1's schema dialect). */
export function openApiDocument(serverUrl?: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [id, r] of Object.entries(ROUTES) as [string, RouteSpec][]) {
    const path = r.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const responses: Record<string, unknown> = {
      200:
        r.responseType === 'sse'
          ? {
              description: "text/event-stream; each event's data is JSON",
              content: {
                'text/event-stream': { schema: { type: 'string' }, 'x-event-data': { block: jsonSchema(BlockEvent), contract: jsonSchema(ContractEventData) } },
              },
            }
          : r.responseType === 'ndjson'
            ? { description: 'application/x-ndjson: one JSON value per line', content: { 'application/x-ndjson': { schema: jsonSchema(r.response) } } }
            : {
                description: 'OK',
                content: {
                  'application/json': { schema: jsonSchema(r.response) },
                  // DAG-CBOR when asked (accept: application/cbor); errors stay JSON.
                  ...(r.cborResponse ? { [CBOR_MEDIA_TYPE]: { schema: jsonSchema(r.cborResponse) } } : {}),
                },
              },
    };
    // A path parameter over the router's limit is refused before the route (edge.ts frameworkError).
    const errors = r.path.includes(':') ? [...r.errors, 414] : r.errors;
    for (const code of errors) responses[code] = { description: 'error', content: { 'application/json': { schema: jsonSchema(ErrorBody) } } };
    paths[path] ??= {};
    paths[path][r.method.toLowerCase()] = {
      operationId: id,
      summary: r.summary,
      // /v1/endorse and /v1/submit: the signed proposal or envelope in the body authenticates the
      // caller, so the request signature is optional there (`{}`: decision 1300).
      security: r.auth
        ? [
            { certCredential: [], requestAudience: [], requestTimestamp: [], requestNonce: [], requestSignature: [] },
            ...(SIGNED_BODY_PATHS.has(r.path) ? [{}] : []),
          ]
        : [],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: jsonSchema(r.body) },
                ...(r.cborBody ? { [CBOR_MEDIA_TYPE]: { schema: jsonSchema(r.cborBody) } } : {}),
              },
            },
          }
        : {}),
      responses,
    };
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'openapi',
      summary: 'This document (no authentication)',
      security: [],
      responses: { 200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
    },
  };
  paths['/metrics'] = {
    get: {
      operationId: 'metrics',
      summary: 'Prometheus metrics of this node (no authentication; no health data or identities; node.yaml metrics.enabled: false turns it off)',
      security: [],
      responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
    },
  };
  const apiKey = (name: string, description: string): Record<string, string> => ({ type: 'apiKey', in: 'header', name, description });
  return {
    openapi: '3.1.0',
    info: {
      title: 'MedLedger node gateway',
      version: '1',
      description:
        'Evaluate, endorse, submit and follow transactions of a MedLedger consortium. Every request except /v1/health and /openapi.json is signed with the client certificate key (on /v1/endorse and /v1/submit the signed proposal or envelope in the body may stand in for it): see docs/architecture/api.md. Bytes travel as base64.',
    },
    ...(serverUrl ? { servers: [{ url: serverUrl }] } : {}),
    components: {
      securitySchemes: {
        certCredential: apiKey(AUTH_HEADERS.cert, 'base64 of the client certificate (PEM), issued by a consortium organisation CA'),
        requestAudience: apiKey(
          AUTH_HEADERS.audience,
          '<node id>@<consortium genesis hash, hex> of the node the request is sent to (GET /v1/health answers both: nodeId, genesisHashHex); a request signed for another node or another consortium is refused',
        ),
        requestTimestamp: apiKey(AUTH_HEADERS.timestamp, 'ms since the epoch; within ±5 minutes of the server clock'),
        requestNonce: apiKey(AUTH_HEADERS.nonce, '16..64 random bytes, lowercase hex, never reused'),
        requestSignature: apiKey(
          AUTH_HEADERS.signature,
          'base64 ECDSA P-256 (P1363, 64 bytes) over "MEDLEDGER-REQUEST-V3\\naudience\\nMETHOD\\npath+query\\ntimestamp\\nnonce\\nhex(sha256(body))"',
        ),
      },
    },
    paths,
  };
}
