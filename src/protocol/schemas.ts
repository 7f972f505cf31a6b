// The API's wire types: one zod schema per body, query, path parameter set and response. The
// server (src/api) validates with them, the SDK (src/sdk, also in the browser) infers its types
// from them, and the OpenAPI document (api/schemas.ts) is generated from them, so the three cannot
// drift apart. Below both api/ and sdk/: nothing here needs Node.
import { z } from 'zod';
import { VALIDATION_CODES } from '../ledger/codes.ts';

/** Bytes travel as standard base64 in JSON. */
export const Base64 = z
  .string()
  .max(32 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64 text')
  .meta({ description: 'bytes, standard base64' });
const Hex = z.string().regex(/^[0-9a-f]*$/);
const TxId = z.string().regex(/^[0-9a-f]{64}$/, 'a transaction id: 64 lowercase hex digits');
export const WAIT_MS_MAX = 60_000;
const WaitMs = z.coerce.number().int().min(0).max(WAIT_MS_MAX);

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      txId: z
        .string()
        .optional()
        .meta({ description: 'the transaction concerned; with OUTCOME_UNKNOWN or COMMIT_TIMEOUT, the id to check with GET /v1/tx/{txId} on any node' }),
    }),
  })
  .meta({ id: 'Error' });

export const HealthResponse = z.object({
  ok: z.literal(true),
  nodeId: z.string(),
  org: z.string(),
  genesisHashHex: Hex.optional().meta({
    description: "the consortium's genesis block hash, which every proposal names (decision 1389); absent on nodes older than that",
  }),
});

export const WhoAmIResponse = z
  .object({
    org: z.string(),
    id: z.string(),
    role: z.string(),
    serialHex: z.string(),
    node: z.object({ id: z.string(), org: z.string() }).meta({ description: 'the node that answered' }),
  })
  .meta({ id: 'WhoAmI', description: 'the identity the request was authenticated as (certificate checked by the MSP now)' });

export const StatusResponse = z
  .object({
    nodeId: z.string(),
    org: z.string(),
    roles: z.array(z.enum(['peer', 'orderer'])),
    consensus: z
      .object({ engine: z.string() })
      .loose()
      .nullable()
      .meta({ description: "the engine's status (EngineStatus) plus its name; null on a peer-only node" }),
    height: z.number().int(),
    lastBlockHashHex: Hex,
    stateHashHex: Hex,
    connectedPeers: z.array(z.string()),
    startedAtMs: z.number().int(),
    configSequence: z.number().int().min(0).meta({ description: 'sequence of the consortium config in force (0 = genesis)' }),
    joining: z.boolean().meta({ description: 'a newly added node still catching up to the config update that admits it' }),
    protocol: z.string().optional().meta({
      description:
        'the node-to-node protocol this node speaks (e.g. medledger.2): nodes of different protocols keep no connection (decision 1386); absent on nodes older than that',
    }),
    genesisHashHex: Hex.optional().meta({
      description:
        "the consortium's identity, the hash of its genesis block: what a gpbft rating's signature names (decision 1387); absent on nodes older than that",
    }),
  })
  .meta({ id: 'NodeStatus' });

export const ReadyResponse = z
  .object({ ready: z.boolean(), reasons: z.array(z.string()), nodeId: z.string() })
  .meta({ id: 'Readiness', description: 'readiness (200) or why not (503): delivery stopped, joining, no leader known, the peer behind its orderer' });
export const LogLevelRequest = z.strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) });
export const LogLevelResponse = z.object({ level: z.string(), previous: z.string() });
/** gpbft's node update by an admin (decision 1280): a rating (the engine's 0–100 scale), or this node's hospital leaving. */
export const GpbftOpRequest = z
  .discriminatedUnion('op', [
    z.strictObject({
      op: z.literal('rate'),
      nodeId: z.string().min(1).max(256).meta({ description: 'the rated orderer, e.g. node.Hospital2' }),
      rating: z.number().min(0).max(100).meta({ description: "comprehensive rating 0–100; below the engine's ratingThreshold the hospital is removed" }),
      nonce: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).meta({
        description: "the admin's clock in ms when signing: the rating's seq; members refuse it 5 min away from their clock or seen before (decision 1281)",
      }),
      signature: z
        .string()
        .min(1)
        .max(1024)
        .meta({ description: "base64 of the admin's signature over DAG-CBOR {s: 'gpbft-rate', id: nodeId, rating, nonce}, checked by every member" }),
    }),
    z.strictObject({ op: z.literal('leave') }),
  ])
  .meta({ id: 'GpbftOpRequest' });
export const GpbftOpResponse = z
  .object({
    op: z.enum(['rate', 'leave']),
    nodeId: z.string(),
    clientId: z.string().meta({ description: 'the control client it is ordered under (rate: names the admin)' }),
    seq: z.number().int(),
  })
  .meta({ id: 'GpbftOpResponse', description: 'accepted for ordering; it takes effect in the block that decides it (CONSENSUS_CONTROL)' });

export const NetworkResponse = z
  .object({
    nodes: z.array(
      z.object({
        nodeId: z.string(),
        org: z.string(),
        roles: z.array(z.enum(['peer', 'orderer'])),
        apiUrl: z.string(),
        reachable: z.boolean(),
        latencyMs: z.number().nullable().meta({ description: 'round trip of a status request over the node-to-node mTLS link' }),
        status: StatusResponse.nullable(),
        error: z.string().nullable(),
      }),
    ),
  })
  .meta({ id: 'Network', description: 'every node of the consortium config in force, as the answering node sees it' });

export const ConfigResponse = z
  .object({
    sequence: z.number().int().min(0).meta({ description: '0 = genesis; each committed config update adds one' }),
    version: z
      .object({ block: z.number().int(), tx: z.number().int() })
      .nullable()
      .meta({ description: 'state version of _config/current (what the next update reads); null at genesis' }),
    configBase64: Base64.meta({ description: 'the config in force, DAG-CBOR (src/ledger/config.ts), base64: what a config update is built on' }),
    engine: z.string(),
    orgs: z.array(z.string()),
    orderers: z.array(z.string()),
    nodes: z.array(z.object({ id: z.string(), org: z.string(), roles: z.array(z.enum(['peer', 'orderer'])), p2pUrl: z.string(), apiUrl: z.string() })),
    contracts: z.array(z.object({ name: z.string(), version: z.string(), endorsementPolicy: z.string() })),
    updatePolicy: z.string().meta({ description: 'who must sign the next config update' }),
    capabilities: z
      .array(z.string())
      .optional()
      .meta({ description: 'capabilities switched on for the whole chain (e.g. proposals-name-consortium, decision 1389); absent on nodes older than that' }),
  })
  .meta({ id: 'ConsortiumConfig' });

export const SignedProposalRequest = z
  .object({
    signedProposal: Base64.meta({ description: 'DAG-CBOR SignedProposal {proposal, signature} (src/ledger/tx.ts), base64' }),
  })
  .strict();

export const EvaluateResponse = z.object({ payload: Base64.meta({ description: "the contract's result" }) });

export const EndorseResponse = z.object({
  txId: TxId,
  payload: Base64.meta({ description: "the contract's result, as endorsed" }),
  txPayload: Base64.meta({
    description: 'DAG-CBOR TxPayload {proposal, response, endorsements}: sign these exact bytes and send {payload, signature} as the envelope',
  }),
  endorsers: z.array(z.string()).meta({ description: 'organisations that endorsed' }),
});

/** Proposals one POST /v1/endorse/batch may carry (each is endorsed as by /v1/endorse). */
export const ENDORSE_BATCH_MAX = 64;

export const EndorseBatchRequest = z
  .object({
    signedProposals: z
      .array(Base64)
      .min(1)
      .max(ENDORSE_BATCH_MAX)
      .meta({ description: `1 to ${ENDORSE_BATCH_MAX} DAG-CBOR SignedProposals, base64, all created (and signed) by the caller` }),
  })
  .strict();

export const EndorseBatchResponse = z
  .object({
    results: z
      .array(
        z.union([
          EndorseResponse,
          z
            .object({ txId: TxId, error: z.object({ code: z.string(), message: z.string() }) })
            .meta({ description: 'this proposal was not endorsed; the others are unaffected' }),
        ]),
      )
      .meta({ description: 'one per proposal, in order' }),
  })
  .meta({ id: 'EndorseBatchResponse' });

export const SubmitRequest = z
  .object({
    envelope: Base64.meta({ description: 'DAG-CBOR TxEnvelope {payload: txPayload, signature}, base64' }),
    waitMs: z.number().int().min(0).max(WAIT_MS_MAX).optional().meta({ description: 'wait up to this long for the commit (0: return once ordered)' }),
  })
  .strict();

export const TxStatus = z
  .object({
    txId: TxId,
    status: z.enum(['COMMITTED', 'SUBMITTED']),
    code: z.enum(VALIDATION_CODES).nullable().meta({ description: 'validation code once committed' }),
    blockNumber: z.number().int().nullable(),
    reason: z.string().meta({
      description:
        "why the validator marked it invalid ('' when valid or not yet committed); for a resubmission still pending: 'already pending: not broadcast again'",
    }),
    duplicate: z.boolean().optional().meta({
      description:
        'submit only: true when this txId was already committed or pending, so nothing was broadcast again; the status is that of the first submission',
    }),
  })
  .meta({ id: 'TxStatus' });

/** Envelopes one POST /v1/submit/batch may carry (issue 13: one request for many transactions). */
export const SUBMIT_BATCH_MAX = 256;

export const SubmitBatchRequest = z
  .object({
    envelopes: z
      .array(Base64)
      .min(1)
      .max(SUBMIT_BATCH_MAX)
      .meta({ description: `1 to ${SUBMIT_BATCH_MAX} DAG-CBOR TxEnvelopes, base64, all created (and signed) by the caller` }),
    waitMs: z.number().int().min(0).max(WAIT_MS_MAX).optional().meta({ description: 'wait up to this long for every commit (0: return once ordered)' }),
    stream: z.boolean().optional().meta({
      description:
        'true: answer application/x-ndjson, one TxResult line per envelope as soon as it is known (committed, or failed), in the order they settle; false (default): one JSON SubmitBatchResponse when all are known',
    }),
  })
  .strict();

/** A transaction's status, or why this request has none for it (the others are unaffected). */
export const TxResult = z.union([
  TxStatus,
  z
    .object({ txId: TxId, error: z.object({ code: z.string(), message: z.string() }) })
    .meta({ description: 'this transaction failed, or its status is not known within the wait; the others are unaffected' }),
]);

export const SubmitBatchResponse = z
  .object({
    results: z.array(TxResult).meta({ description: 'one per envelope, in order' }),
  })
  .meta({ id: 'SubmitBatchResponse' });

/**
 * Binary bodies for the batch routes (issue 13, decision 1320): `content-type: application/cbor`,
 * a DAG-CBOR map whose byte fields are CBOR byte strings — no base64 to encode, check and decode
 * on either side. The same fields as the JSON bodies; JSON stays accepted. With `accept:
 * application/cbor`, POST /v1/endorse/batch answers DAG-CBOR too (EndorseBatchCborResponse).
 */
export const CBOR_MEDIA_TYPE = 'application/cbor';
/** A CBOR byte string (decoded: Uint8Array). */
const CborBytes = z
  .instanceof(Uint8Array)
  .refine((b) => b.byteLength > 0, 'must not be empty')
  .meta({ description: 'bytes (a CBOR byte string)' });

export const EndorseBatchCborRequest = z
  .strictObject({
    signedProposals: z
      .array(CborBytes)
      .min(1)
      .max(ENDORSE_BATCH_MAX)
      .meta({ description: `1 to ${ENDORSE_BATCH_MAX} DAG-CBOR SignedProposals, each a byte string, all created (and signed) by the caller` }),
  })
  .meta({ id: 'EndorseBatchCborRequest' });

export const EndorseCborResult = z.union([
  z.strictObject({ txId: TxId, payload: z.instanceof(Uint8Array), txPayload: CborBytes, endorsers: z.array(z.string()) }),
  z.strictObject({ txId: TxId, error: z.strictObject({ code: z.string(), message: z.string() }) }),
]);

export const EndorseBatchCborResponse = z
  .strictObject({ results: z.array(EndorseCborResult).meta({ description: 'one per proposal, in order (bytes as CBOR byte strings)' }) })
  .meta({ id: 'EndorseBatchCborResponse' });

export const SubmitBatchCborRequest = z
  .strictObject({
    envelopes: z
      .array(CborBytes)
      .min(1)
      .max(SUBMIT_BATCH_MAX)
      .meta({ description: `1 to ${SUBMIT_BATCH_MAX} DAG-CBOR TxEnvelopes, each a byte string, all created (and signed) by the caller` }),
    waitMs: z.number().int().min(0).max(WAIT_MS_MAX).optional(),
    stream: z.boolean().optional(),
  })
  .meta({ id: 'SubmitBatchCborRequest' });

/** Transactions one POST /v1/tx/statuses may ask about. */
export const TX_STATUSES_MAX = 1024;

export const TxStatusesRequest = z
  .object({
    txIds: z
      .array(TxId)
      .min(1)
      .max(TX_STATUSES_MAX)
      .meta({ description: `1 to ${TX_STATUSES_MAX} transaction ids` }),
    waitMs: z
      .number()
      .int()
      .min(0)
      .max(WAIT_MS_MAX)
      .optional()
      .meta({ description: 'wait up to this long for each commit (0: answer at once; TX_NOT_FOUND for those not committed)' }),
  })
  .strict();

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

export const RawBlockResponse = z
  .object({
    number: z.number().int(),
    blockBase64: Base64.meta({
      description:
        'the block exactly as ordered (DAG-CBOR, src/ledger/block.ts): header, every transaction envelope, metadata with the orderer signatures and the consensus certificate',
    }),
    validation: z.array(z.string()).meta({ description: "this node's validation code for each transaction" }),
  })
  .meta({ id: 'RawBlock' });

export const BlockResponse = z
  .object({
    number: z.number().int(),
    hashHex: Hex,
    previousHashHex: Hex,
    dataHashHex: Hex,
    timestampMs: z.number().int(),
    orderers: z.array(z.string()).meta({ description: 'ids of the orderers that signed the header' }),
    engine: z.string().nullable(),
    certificate: z
      .object({
        scheme: z.string().meta({ description: 'e.g. raft-leader, pbft-commit, gpbft-bundle, ehbft-commit, hashgen-seal' }),
        signers: z.array(z.string()).meta({ description: 'nodes whose signatures the consensus certificate holds' }),
        fields: z
          .record(z.string(), z.union([z.string(), z.number()]))
          .meta({ description: 'engine fields signed with the block digest (view, term…); bytes as hex' }),
        digestHex: Hex,
      })
      .nullable()
      .meta({ description: "the engine's proof that this block was decided; null for genesis and engines without one" }),
    txs: z.array(BlockTx),
  })
  .meta({ id: 'Block' });

export const EventsQuery = z.object({ from: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional() }).strict();

/** One Server-Sent Event's data (event: block | contract). */
export const BlockEvent = z
  .object({
    number: z.number().int(),
    hashHex: Hex,
    timestampMs: z.number().int(),
    txs: z.array(z.object({ txId: z.string().nullable(), position: z.number().int(), code: z.enum(VALIDATION_CODES) })),
  })
  .meta({ id: 'BlockEvent' });
export const ContractEventData = z
  .object({
    blockNumber: z.number().int(),
    txId: z.string().nullable(),
    position: z.number().int(),
    name: z.string(),
    payload: Base64,
  })
  .meta({ id: 'ContractEvent' });

// ---- health data routes (src/api/health-routes.ts; issue 6) --------------------------------

const HealthId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
/** Record and dataset content: bounded by the node's request body limit first. */
const ContentBase64 = z
  .string()
  .max(48 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
  .meta({ description: 'bytes, standard base64' });
const SensitivityLevel = z.enum(['normal', 'sensitive', 'restricted']);

export const PrepareRecordBody = z
  .strictObject({
    recordId: HealthId,
    content: z.discriminatedUnion('kind', [
      z.strictObject({ kind: z.literal('fhir'), resource: z.unknown().meta({ description: 'a FHIR R4 resource or Bundle (validated)' }) }),
      z.strictObject({ kind: z.literal('file'), dataBase64: ContentBase64, mediaType: z.string().max(120), sensitivity: SensitivityLevel.optional() }),
    ]),
  })
  .meta({ id: 'PrepareRecord' });
const PartEntry = z.object({ sensitivity: SensitivityLevel, cid: z.string(), sizeBytes: z.number().int(), mediaType: z.string(), commitment: Hex });
export const PrepareRecordResponse = z.object({
  recordId: z.string(),
  version: z.number().int(),
  category: z.string().meta({ description: "FHIR resource type, or 'file'" }),
  parts: z.array(PartEntry).meta({ description: 'pass to health.createRecord / updateRecord' }),
});
export const DiscardBody = z.strictObject({ recordId: HealthId, version: z.number().int().min(1).max(10_000) });
export const DiscardResponse = z.object({ recordId: z.string(), version: z.number().int(), discarded: z.literal(true) });
export const ContentBody = z.strictObject({
  txId: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be a transaction id (64 hex)')
    .meta({ description: "the caller's own committed, allowed health.access transaction" }),
});
export const ContentResponse = z.object({
  txId: TxId,
  version: z.number().int(),
  custodian: z.string(),
  parts: z.array(z.object({ sensitivity: SensitivityLevel, mediaType: z.string(), cid: z.string(), dataBase64: Base64 })),
});
export const PrepareDatasetBody = z.strictObject({
  datasetId: HealthId,
  mediaType: z.enum(['text/csv', 'application/fhir+json']),
  dataBase64: ContentBase64,
  version: z
    .number()
    .int()
    .min(2)
    .max(100)
    .optional()
    .meta({ description: 'a new version of a listed dataset this node holds (the current version + 1), for health.updateDataset; absent: a new dataset' }),
});
export const PrepareDatasetResponse = z.object({
  datasetId: z.string(),
  cid: z.string(),
  sizeBytes: z.number().int(),
  columns: z.array(z.string()),
  recordCount: z.number().int(),
  commitment: z.string().meta({ description: 'keyed commitment (HMAC-SHA256, key derived from the data key) to the content: list it with the CID' }),
  mediaType: z.enum(['text/csv', 'application/fhir+json']),
  version: z.number().int(),
  expiresAtMs: z.number().int().meta({ description: 'register it before then: afterwards (plus a grace) unlisted content is swept' }),
});
export const DatasetContentBody = z.strictObject({
  txId: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'must be a transaction id (64 hex)')
    .meta({ description: "the caller's own committed, allowed health.downloadDataset transaction" }),
});
export const DatasetContentResponse = z.object({
  txId: TxId,
  datasetId: z.string(),
  version: z.number().int(),
  custodian: z.string(),
  mediaType: z.string(),
  cid: z.string(),
  verified: z.object({ cid: z.boolean(), commitment: z.boolean() }).meta({
    description:
      'what this node checked before cutting out the part: the CID of the sealed version, and its keyed commitment (false only for a dataset listed before commitments)',
  }),
  selection: z.object({ columns: z.array(z.string()).optional(), rows: z.object({ from: z.number().int(), to: z.number().int() }).optional() }).nullable(),
  dataBase64: Base64,
});
export const ComputeBody = z.strictObject({ requestId: HealthId });
export const ComputeResponse = z.object({
  requestId: z.string(),
  result: z.object({ suppressed: z.boolean(), minCohort: z.number().int() }).loose().meta({
    description:
      'count, mean, stdDev, minBin/maxBin (the bins holding the extremes, never raw values), under/over and histogram counts — each ≥ minCohort or null (withheld); everything withheld when suppressed (decision 1163)',
  }),
});

// ---- the consensus lab on a node (api/lab-jobs.ts) ---------------------------------------------

/** Bounds of a simulation a node runs for a console user: small enough to finish in a minute on one core. */
export const LAB_LIMITS = { nodesMin: 3, nodesMax: 16, seedsMax: 10, durationMsMax: 30_000 } as const;

export const LabSimulationBody = z.strictObject({
  engine: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'an engine name such as raft, pbft, gpbft, ehbft, hashgen'),
  nodes: z.number().int().min(LAB_LIMITS.nodesMin).max(LAB_LIMITS.nodesMax),
  faults: z.enum(['none', 'crash', 'partition', 'byzantine', 'all']),
  seeds: z.number().int().min(1).max(LAB_LIMITS.seedsMax),
  seedStart: z.number().int().min(0).max(1_000_000_000).default(1),
  durationMs: z.number().int().min(1_000).max(LAB_LIMITS.durationMsMax).default(10_000).meta({ description: 'virtual time simulated per seed' }),
  crypto: z
    .enum(['fast', 'ecdsa'])
    .default('fast')
    .meta({ description: "'fast': simulated signatures (the protocol is the same); 'ecdsa': real P-256, much slower" }),
});
export const LabJobParams = z.object({ jobId: z.string().regex(/^[0-9a-f]{32}$/, 'a lab job id (32 hex)') }).strict();
export const LabJob = z
  .object({
    jobId: z.string(),
    state: z.enum(['running', 'done', 'failed']),
    done: z.number().int().meta({ description: 'seeds finished' }),
    total: z.number().int(),
    failing: z.number().int().meta({ description: 'seeds with a safety or liveness violation so far' }),
    startedAtMs: z.number().int(),
    finishedAtMs: z.number().int().nullable(),
    request: LabSimulationBody,
    summary: z
      .object({ engine: z.string(), nodes: z.number().int(), runs: z.number().int() })
      .loose()
      .nullable()
      .meta({ description: 'the campaign summary (src/sim CampaignSummary) once done' }),
    error: z.string().nullable(),
  })
  .meta({ id: 'LabJob' });
export type LabJobT = z.infer<typeof LabJob>;
export type LabSimulationBodyT = z.input<typeof LabSimulationBody>;

export type StatusResponseT = z.infer<typeof StatusResponse>;
export type WhoAmIResponseT = z.infer<typeof WhoAmIResponse>;
export type NetworkResponseT = z.infer<typeof NetworkResponse>;
export type LogLevelResponseT = z.infer<typeof LogLevelResponse>;
export type GpbftOpRequestT = z.infer<typeof GpbftOpRequest>;
export type GpbftOpResponseT = z.infer<typeof GpbftOpResponse>;
export type RawBlockResponseT = z.infer<typeof RawBlockResponse>;
export type ConfigResponseT = z.infer<typeof ConfigResponse>;
export type EndorseResponseT = z.infer<typeof EndorseResponse>;
export type EndorseBatchResponseT = z.infer<typeof EndorseBatchResponse>;
export type TxStatusT = z.infer<typeof TxStatus>;
export type SubmitBatchResponseT = z.infer<typeof SubmitBatchResponse>;
export type TxResultT = z.infer<typeof TxResult>;
export type BlockResponseT = z.infer<typeof BlockResponse>;
export type BlockEventT = z.infer<typeof BlockEvent>;
export type ContractEventT = z.infer<typeof ContractEventData>;
export type EndorseBatchCborResponseT = z.infer<typeof EndorseBatchCborResponse>;
export type EndorseCborResultT = z.infer<typeof EndorseCborResult>;
