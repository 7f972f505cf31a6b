// REST routes of the off-chain record service (issue 6), registered on the node's API server and
// behind its signed-request authentication. The server holds no user keys, so every *decision*
// stays a transaction the client signs itself (through /v1/endorse + /v1/submit); these routes do
// only what needs the node's off-chain store:
//   POST /v1/health/records/prepare   seal + store the parts of a new record/version → part entries for createRecord/updateRecord (bounded: 429)
//   POST /v1/health/records/discard   drop a prepared version the contract refused (its preparer only; 404 if none)
//   POST /v1/health/records/content   the content released by the caller's own committed `access` tx (404 at once if this chain lacks it)
//   POST /v1/health/datasets/prepare  seal + store a dataset (or, with `version`, its next version) → listing fields for
//                                     registerDataset / updateDataset (who may register; validated; bounded: 429)
//   POST /v1/health/datasets/content  the dataset part released by the caller's own committed `downloadDataset` tx (decision 1260)
//   POST /v1/health/statistics/compute released partials from every custodian, combined under the disclosure rule (decision 1163), for the caller's allowed request
// Consents, applications, audit queries, FHIR exports are contract calls: /v1/evaluate, /v1/submit —
// and so are the dataset lifecycle's decisions (updateDataset, withdrawDataset, reopenDataset,
// deleteDataset, downloadDataset, datasetVersions, listDatasets): the server holds no user key.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { disclosureProblem } from '../analytics/aggregate.ts';
import { builtinContracts } from '../contracts/builtin.ts';
import { HEALTH_CONTRACT } from '../contracts/health/index.ts';
import { checkAcl } from '../contracts/runtime.ts';
import { FhirValidationError, type FhirIssue } from '../fhir/validate.ts';
import type { Identity } from '../identity/index.ts';
import { IntegrityError } from '../offchain/index.ts';
import { PREPARED_VERSION_TTL_MS } from '../records/prepared.ts';
import { RecordError, type RecordService } from '../records/service.ts';
// Body schemas: in schemas.ts with every other route's (validation and the OpenAPI document).
import { ComputeBody, ContentBody, DatasetContentBody, DiscardBody, PrepareDatasetBody, PrepareRecordBody } from './schemas.ts';
import { ApiError } from './server.ts';

function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (!r.success)
    throw new ApiError(
      400,
      'BAD_REQUEST',
      r.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
        .join('; '),
    );
  return r.data;
}

const FHIR_ISSUES_MAX = 50;

/** 422 INVALID_FHIR carrying the validator's issues (the server's error handler sends code + message only). */
function invalidFhir(reply: FastifyReply, message: string, issues: readonly FhirIssue[]): FastifyReply {
  return reply.code(422).send({ error: { code: 'INVALID_FHIR', message, issues: issues.slice(0, FHIR_ISSUES_MAX) } });
}

function mapError(err: unknown): never {
  if (err instanceof IntegrityError) throw new ApiError(502, 'INTEGRITY', err.message);
  if (err instanceof RecordError) {
    // LIMIT: too many prepared versions not yet on chain (decision 1160) — retry after submitting,
    // discarding, or their expiry.
    if (err.code === 'LIMIT') throw new ApiError(429, 'TOO_MANY_PENDING', err.message);
    const status = { INVALID_CONTENT: 422, DENIED: 403, NOT_FOUND: 404, UNAVAILABLE: 503, REFUSED: 409 }[err.code];
    throw new ApiError(status, err.code, err.message);
  }
  throw err;
}

/**
 * A prepared version not yet on chain belongs to its preparer this long; then others may write
 * over it and the record service sweeps it (decisions 1050, 1160). The service's bookkeeping
 * (RecordService.prepared, persisted with the wrapped keys) is the one table of claims.
 */
export const PENDING_VERSION_TTL_MS = PREPARED_VERSION_TTL_MS;

/** Register the record routes; `who` is the server's authenticated caller of a request. */
export function registerHealthRoutes(app: FastifyInstance, who: (req: FastifyRequest) => Identity, records: RecordService): void {
  const ownOrg = (req: FastifyRequest): Identity => {
    const id = who(req);
    if (id.org !== records.node.org)
      throw new ApiError(403, 'FORBIDDEN', `${id.org}/${id.id} must use a node of ${id.org}; this is ${records.node.org}'s node`);
    return id;
  };

  // Only users who may list a dataset may store one: the health contract's ACL of
  // registerDataset (admins and supervisors), so that nobody else can fill the node's disk with
  // content that can never be listed (issue 16, item 7).
  const health = builtinContracts().get(HEALTH_CONTRACT);
  const mayRegisterDatasets = (id: Identity): string | null => (health ? checkAcl(health, 'registerDataset', id.role) : 'the health contract is not installed');

  // Who prepared which version, until it is on chain, discarded or expired, is the record
  // service's bookkeeping: without it, any user of the hospital could discard (or prepare over)
  // the content another user is about to register, leaving an on-chain record whose parts have
  // no keys. The same bookkeeping bounds how much anyone may hold prepared (429).

  app.post('/v1/health/records/prepare', async (req, reply) => {
    const id = ownOrg(req);
    const me = `${id.org}/${id.id}`;
    const body = parse(PrepareRecordBody, req.body);
    try {
      const version = records.nextVersion(body.recordId);
      const holder = records.preparedHolder(body.recordId, version);
      if (holder && holder.user !== me)
        throw new ApiError(
          409,
          'CONFLICT',
          `version ${version} of ${body.recordId} is being written by ${holder.user}; try again once it is on chain or discarded`,
        );
      // prepareParts claims the version before its first await: two concurrent prepares cannot both pass.
      const content =
        body.content.kind === 'fhir'
          ? { kind: 'fhir' as const, resource: body.content.resource }
          : {
              kind: 'file' as const,
              bytes: new Uint8Array(Buffer.from(body.content.dataBase64, 'base64')),
              mediaType: body.content.mediaType,
              ...(body.content.sensitivity ? { sensitivity: body.content.sensitivity } : {}),
            };
      const prepared = await records.prepareParts(body.recordId, version, content, { preparedBy: me });
      return { recordId: body.recordId, version, ...prepared };
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (err instanceof RecordError && err.issues.length) return invalidFhir(reply, err.message, err.issues);
      return mapError(err);
    }
  });

  app.post('/v1/health/records/discard', async (req) => {
    const id = ownOrg(req);
    const me = `${id.org}/${id.id}`;
    const body = parse(DiscardBody, req.body);
    // Only a version the chain does not hold: nextVersion() is then still <= it.
    try {
      if (records.nextVersion(body.recordId) > body.version)
        throw new ApiError(409, 'CONFLICT', `version ${body.version} of ${body.recordId} is on chain; erase the record instead`);
    } catch (err) {
      if (!(err instanceof RecordError)) throw err;
    }
    // Something to discard: a prepared version in the bookkeeping, or keys left on disk for it.
    if (!records.prepared.get(body.recordId, body.version) && records.keys.cids(body.recordId, body.version).length === 0) {
      throw new ApiError(404, 'NOT_FOUND', `no prepared version ${body.version} of ${body.recordId} on this node`);
    }
    // ... and only by the user who prepared it (an expired claim: anyone of the hospital).
    const holder = records.preparedHolder(body.recordId, body.version);
    if (holder && holder.user !== me) {
      throw new ApiError(403, 'FORBIDDEN', `version ${body.version} of ${body.recordId} was prepared by ${holder.user}; only they may discard it`);
    }
    try {
      await records.discardVersion(body.recordId, body.version);
    } catch (err) {
      return mapError(err);
    }
    return { recordId: body.recordId, version: body.version, discarded: true };
  });

  app.post('/v1/health/records/content', async (req) => {
    const id = ownOrg(req);
    const body = parse(ContentBody, req.body);
    // The caller's ticket is a transaction it submitted and saw committed: a txId this node's
    // chain does not hold is answered at once, not after waiting for a commit that may never
    // come (a request holding a slot for nothing; issue 16, item 7).
    const peer = records.node.peer;
    if (peer && !peer.ledger.txStatus(body.txId)) {
      throw new ApiError(
        404,
        'NOT_FOUND',
        `access transaction ${body.txId} is not on this node's chain: submit it and wait for its commit (GET /v1/tx/{txId}?waitMs=…) before asking for the content`,
      );
    }
    try {
      const r = await records.fetchReleased(body.txId, `${id.org}/${id.id}`);
      return {
        txId: body.txId,
        version: r.version,
        custodian: r.custodian,
        parts: r.parts.map((p) => ({ sensitivity: p.sensitivity, mediaType: p.mediaType, cid: p.cid, dataBase64: Buffer.from(p.content).toString('base64') })),
      };
    } catch (err) {
      return mapError(err);
    }
  });

  app.post('/v1/health/datasets/prepare', async (req, reply) => {
    const id = ownOrg(req);
    const me = `${id.org}/${id.id}`;
    const denied = mayRegisterDatasets(id);
    if (denied) throw new ApiError(403, 'FORBIDDEN', `${me} may not prepare datasets: ${denied}`);
    const body = parse(PrepareDatasetBody, req.body);
    const holder = records.preparedDatasetHolder(body.datasetId, body.version);
    if (holder && holder.user !== me)
      throw new ApiError(409, 'CONFLICT', `dataset ${body.datasetId} is being prepared by ${holder.user}; try again once it is registered or has expired`);
    const bytes = new Uint8Array(Buffer.from(body.dataBase64, 'base64'));
    try {
      // Content is checked against its media type in the record service (datasetShape), JSON depth included.
      return {
        datasetId: body.datasetId,
        ...(await records.prepareDataset({
          datasetId: body.datasetId,
          mediaType: body.mediaType,
          bytes,
          preparedBy: me,
          ...(body.version !== undefined ? { version: body.version } : {}),
        })),
      };
    } catch (err) {
      if (err instanceof FhirValidationError) return invalidFhir(reply, `dataset ${body.datasetId}: ${err.message}`, err.issues);
      if (err instanceof RecordError && err.issues.length) return invalidFhir(reply, `dataset ${body.datasetId}: ${err.message}`, err.issues);
      return mapError(err);
    }
  });

  app.post('/v1/health/datasets/content', async (req) => {
    const id = ownOrg(req);
    const body = parse(DatasetContentBody, req.body);
    // As for records: a txId this node's chain does not hold is answered at once.
    const peer = records.node.peer;
    if (peer && !peer.ledger.txStatus(body.txId)) {
      throw new ApiError(
        404,
        'NOT_FOUND',
        `download transaction ${body.txId} is not on this node's chain: submit health.downloadDataset and wait for its commit before asking for the content`,
      );
    }
    try {
      const r = await records.downloadContent(body.txId, `${id.org}/${id.id}`);
      return {
        txId: body.txId,
        datasetId: r.datasetId,
        version: r.version,
        custodian: r.custodian,
        mediaType: r.mediaType,
        cid: r.cid,
        verified: r.verified,
        selection: r.selection,
        dataBase64: Buffer.from(r.content ?? new Uint8Array()).toString('base64'),
      };
    } catch (err) {
      return mapError(err);
    }
  });

  app.post('/v1/health/statistics/compute', async (req) => {
    const id = ownOrg(req);
    const body = parse(ComputeBody, req.body);
    let result;
    try {
      result = await records.computeStatistics(body.requestId, `${id.org}/${id.id}`);
    } catch (err) {
      return mapError(err);
    }
    // The last gate before figures leave the node (the service already checked against the
    // request): whatever computed them, no count under the threshold (≥ the consortium floor) and
    // no derivable withheld cell goes out.
    const problem = disclosureProblem(result);
    if (problem) throw new ApiError(500, 'DISCLOSURE_CHECK', `statistics request ${body.requestId}: refusing to release the result: ${problem}`);
    return { requestId: body.requestId, result };
  });
}
