// SDK for health data (issue 6) over a node's REST API. Every decision is a transaction signed by
// this user's key (MedLedgerClient.submit); the node's record routes (api/health-routes.ts) only
// seal/store content and fetch what the user's committed `access` transaction released.
import { z } from 'zod';
import type { HealthCaller, SubmitOutcome } from '../records/caller.ts';
import { fromBase64, toBase64, type Bytes } from '../codec/index.ts';
import { CsvError, joinCsvParts } from '../records/csv.ts';
import { MedLedgerApiError, MedLedgerClient, type MedLedgerClientOptions } from './client.ts';

const decoder = new TextDecoder();
const utf8Text = (bytes: Bytes): string => decoder.decode(bytes);
function base64Bytes(text: string): Bytes {
  const bytes = fromBase64(text);
  if (!bytes) throw new MedLedgerApiError(502, 'BAD_RESPONSE', 'the node sent content that is not canonical base64');
  return bytes;
}

/** Validation codes after which the same call may be proposed again (nothing of it took effect). */
const RESUBMITTABLE_CODES: ReadonlySet<string> = new Set(['MVCC_READ_CONFLICT', 'PHANTOM_READ_CONFLICT']);

export interface RecordPart {
  readonly sensitivity: string;
  readonly mediaType: string;
  readonly cid: string;
  readonly content: Uint8Array;
}

export type RecordInput =
  | { readonly kind: 'fhir'; readonly resource: unknown }
  | { readonly kind: 'file'; readonly data: Uint8Array; readonly mediaType: string; readonly sensitivity?: 'normal' | 'sensitive' | 'restricted' };

/**
 * A CSV record's released parts re-joined into one CSV (key columns, then each part's columns,
 * lowest level first; decision 1161); null unless every part is text/csv. The REST content route
 * returns the parts as stored (each checkable against its CID and commitment); joining is the
 * client's step.
 */
export function joinedCsv(parts: readonly RecordPart[]): Uint8Array | null {
  if (parts.length === 0 || parts.some((p) => p.mediaType !== 'text/csv')) return null;
  try {
    return joinCsvParts(parts);
  } catch (err) {
    if (err instanceof CsvError) throw new MedLedgerApiError(502, 'INTEGRITY', `the released CSV parts cannot be re-joined: ${err.message}`);
    throw err;
  }
}

export interface HistogramSpec {
  readonly min: number;
  readonly max: number;
  readonly bins: number;
}

/** A part an allowed read did not release, and why (the contract's `withheld`). */
const withheldSchema = z.array(z.object({ sensitivity: z.string(), reasons: z.array(z.string()) }));
export type WithheldPart = z.infer<typeof withheldSchema>[number];

/**
 * What the contract tells a provider about their BMRS session with the patient after a decision
 * (decision 0901): its state and, when a violation was recorded, the session died or is dead,
 * what happened and who re-authorizes it (an admin of `reauthorizeBy`, the CAMS organisation).
 */
const sessionNoticeSchema = z.object({
  provider: z.string(),
  state: z.number().int().min(0).max(3),
  stateName: z.string(),
  dead: z.boolean(),
  reauthorizeBy: z.string().nullable(),
  /** bmrsReauthorize's argument for this session: the record, or (a record being created) the patient. */
  reauthorizeArgs: z.union([z.object({ provider: z.string(), recordId: z.string() }), z.object({ provider: z.string(), patient: z.string() })]),
  notice: z.string().nullable(),
});
export type SessionNotice = z.infer<typeof sessionNoticeSchema>;

const sessionStateSchema = z.object({
  provider: z.string(),
  patient: z.string(),
  state: z.number().int().min(0).max(3),
  stateName: z.string(),
  violations: z.number().int().min(0),
  updatedAtMs: z.number(),
  reauthorizeBy: z.string().nullable(),
});
export type SessionState = z.infer<typeof sessionStateSchema>;

const granteeSchema = z.union([
  z.object({ kind: z.literal('user'), user: z.string() }),
  z.object({ kind: z.literal('org'), org: z.string() }),
  z.object({ kind: z.literal('role'), role: z.string(), org: z.string().optional() }),
]);
/** Whom a consent names: a user, everyone at an organisation, everyone with a role (there or anywhere). */
export type Grantee = z.infer<typeof granteeSchema>;

const myPatientsPageSchema = z.object({
  patients: z.array(
    z.object({
      patient: z.string(),
      patientOrg: z.string().nullable(),
      care: z.object({ startedAtMs: z.number() }).nullable(),
      consents: z.array(
        z.object({
          consentId: z.string(),
          grantee: granteeSchema,
          actions: z.array(z.string()),
          purposes: z.array(z.string()),
          startMs: z.number(),
          endMs: z.number(),
          maxSensitivity: z.string(),
        }),
      ),
    }),
  ),
  bookmark: z.string(),
});
/** One page of `myPatients` (decisions 0909, 0913, 0914). */
export type MyPatientsPage = z.infer<typeof myPatientsPageSchema>;
export type MyPatient = MyPatientsPage['patients'][number];

const reauthorizedSchema = z.object({
  auditId: z.string(),
  provider: z.string(),
  patient: z.string(),
  from: z.number().int(),
  state: z.number().int(),
  stateName: z.string(),
});

/** A BMRS session: its provider and the patient (pseudonym), or a record of that patient. */
export type SessionTarget = { readonly patient: string } | { readonly recordId: string };

function parsed<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${what}: unexpected answer from the contract (${r.error.issues[0]?.message ?? 'invalid'})`);
  return r.data;
}

/** The session notice of an access decision's payload (null outside BMRS, e.g. a patient's own record). */
export function sessionNoticeOf(payload: Record<string, unknown>): SessionNotice | null {
  return payload['session'] === undefined || payload['session'] === null ? null : parsed(sessionNoticeSchema, payload['session'], 'access session');
}

/** What /v1/health/datasets/prepare answers (the commitment: since decision 1260). */
const preparedDatasetSchema = z.object({
  cid: z.string(),
  sizeBytes: z.number().int(),
  columns: z.array(z.string()),
  recordCount: z.number().int(),
  commitment: z.string().optional(),
  expiresAtMs: z.number().int().optional(),
});

/** The catalogue's search and filters (decision 1260). */
export interface DatasetFilters {
  readonly q?: string;
  readonly ownerOrg?: string;
  readonly status?: 'listed' | 'withdrawn' | 'deleted' | 'all';
  readonly type?: 'csv' | 'fhir';
  readonly tag?: string;
}

const datasetContentSchema = z.object({
  version: z.number().int(),
  custodian: z.string(),
  mediaType: z.string(),
  cid: z.string(),
  verified: z.object({ cid: z.boolean(), commitment: z.boolean() }),
  dataBase64: z.string(),
});

export interface DatasetDownloadResult {
  readonly allowed: boolean;
  readonly txId: string;
  /** Why it was refused (NOT_AUTHORISED, DATASET_DELETED, DATASET_NOT_FOUND); null when allowed. */
  readonly code: string | null;
  readonly reasons: readonly string[];
  readonly auditId: string;
  readonly content: Uint8Array | null;
  readonly version: number | null;
  readonly custodian: string | null;
  readonly mediaType: string | null;
  readonly cid: string | null;
  readonly verified: { readonly cid: boolean; readonly commitment: boolean } | null;
}

export class HealthClient implements HealthCaller {
  readonly client: MedLedgerClient;
  /** The on-chain identity "org/CN" (a patient's CN is their pseudonym, decision 0906). */
  readonly user: string;

  constructor(options: MedLedgerClientOptions & { readonly user: string }) {
    this.client = new MedLedgerClient(options);
    this.user = options.user;
  }

  close(): void {
    this.client.close();
  }

  // ---- HealthCaller: the health contract as this user --------------------------------------

  async evaluate(fn: string, arg: unknown): Promise<unknown> {
    const bytes = await this.client.evaluate('health', fn, [JSON.stringify(arg)]);
    return JSON.parse(utf8Text(bytes)) as unknown;
  }

  async submit(fn: string, arg: unknown): Promise<SubmitOutcome> {
    let last: Error | null = null;
    for (let attempt = 1; attempt <= 4; attempt++) {
      try {
        const r = await this.client.submit('health', fn, [JSON.stringify(arg)]);
        if (r.code === 'VALID') return { txId: r.txId, payload: JSON.parse(utf8Text(r.payload)) as Record<string, unknown> };
        const code = r.code ?? 'NOT_COMMITTED';
        last = new MedLedgerApiError(409, code, `${fn} was not committed (${r.status}, ${code})`);
        // The state it read changed before the commit (a key, or a range such as the patient's
        // consents, e.g. when this node's peer was a block behind): a fresh proposal is safe.
        if (!RESUBMITTABLE_CODES.has(code)) break;
      } catch (err) {
        // A peer one block behind refuses or disagrees: retry shortly; a real refusal repeats.
        last = err as Error;
        const code = (err as MedLedgerApiError).code ?? '';
        // Endorsement-phase failures only: nothing was ordered, so a new proposal cannot duplicate.
        if (!['ENDORSEMENT_REFUSED', 'ENDORSEMENT_MISMATCH', 'ENDORSER_UNAVAILABLE', 'POLICY_NOT_SATISFIED'].includes(code)) break;
      }
      await new Promise((r) => setTimeout(r, 150 * attempt));
    }
    throw last ?? new Error(`${fn} failed`);
  }

  private async post(path: string, body: unknown): Promise<Record<string, unknown>> {
    return (await this.client.call('POST', path, body)) as Record<string, unknown>;
  }

  // ---- records --------------------------------------------------------------------------------

  private async write(
    fn: 'createRecord' | 'updateRecord',
    recordId: string,
    input: RecordInput,
    extra: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const content =
      input.kind === 'fhir'
        ? { kind: 'fhir', resource: input.resource }
        : { kind: 'file', dataBase64: toBase64(input.data), mediaType: input.mediaType, ...(input.sensitivity ? { sensitivity: input.sensitivity } : {}) };
    const prepared = (await this.post('/v1/health/records/prepare', { recordId, content })) as {
      version: number;
      category: string;
      parts: unknown[];
      expiresAtMs?: number;
    };
    // The contract refuses the write once the prepared content has expired at the custodian (decision 1160).
    const notAfter = typeof prepared.expiresAtMs === 'number' ? { notAfterMs: prepared.expiresAtMs } : {};
    const args =
      fn === 'createRecord'
        ? { recordId, category: prepared.category, parts: prepared.parts, ...extra, ...notAfter }
        : { recordId, parts: prepared.parts, ...extra, ...notAfter };
    let r: SubmitOutcome;
    try {
      r = await this.submit(fn, args);
    } catch (err) {
      await this.post('/v1/health/records/discard', { recordId, version: prepared.version }).catch(() => undefined);
      throw err;
    }
    if (r.payload['allowed'] !== true) await this.post('/v1/health/records/discard', { recordId, version: prepared.version }).catch(() => undefined);
    return { txId: r.txId, ...r.payload };
  }

  createRecord(a: { recordId: string; patient: string; input: RecordInput; purpose?: string }): Promise<Record<string, unknown>> {
    return this.write('createRecord', a.recordId, a.input, { patient: a.patient, purpose: a.purpose ?? 'TREAT' });
  }

  updateRecord(a: { recordId: string; input: RecordInput; purpose?: string }): Promise<Record<string, unknown>> {
    return this.write('updateRecord', a.recordId, a.input, { purpose: a.purpose ?? 'TREAT' });
  }

  /**
   * Decide on chain (audited), then fetch the released parts (verified by the node: CID +
   * commitment). `csv`: a CSV record's released parts re-joined (joinedCsv), else null. Without
   * `sensitivity` the read asks for everything the user may see: `withheld` lists the parts it did
   * not release and why. `session`: the user's BMRS session with the patient after the decision
   * (a violation, its death and who revives it are said in `session.notice`).
   */
  async readRecord(a: { recordId: string; purpose: string; reason?: string; sensitivity?: string; version?: number }): Promise<{
    allowed: boolean;
    txId: string;
    decision: Record<string, unknown>;
    parts: RecordPart[];
    withheld: WithheldPart[];
    session: SessionNotice | null;
    csv: Uint8Array | null;
    custodian: string | null;
    version: number | null;
  }> {
    const req: Record<string, unknown> = { recordId: a.recordId, action: 'read', purpose: a.purpose };
    if (a.reason) req['reason'] = a.reason;
    if (a.sensitivity) req['sensitivity'] = a.sensitivity;
    if (a.version) req['version'] = a.version;
    const r = await this.submit('access', req);
    const session = sessionNoticeOf(r.payload);
    if (r.payload['allowed'] !== true)
      return { allowed: false, txId: r.txId, decision: r.payload, parts: [], withheld: [], session, csv: null, custodian: null, version: null };
    const withheld = parsed(withheldSchema, r.payload['withheld'] ?? [], 'access withheld');
    const c = (await this.post('/v1/health/records/content', { txId: r.txId })) as {
      version: number;
      custodian: string;
      parts: Array<{ sensitivity: string; mediaType: string; cid: string; dataBase64: string }>;
    };
    const parts = c.parts.map((p) => ({ sensitivity: p.sensitivity, mediaType: p.mediaType, cid: p.cid, content: base64Bytes(p.dataBase64) }));
    return { allowed: true, txId: r.txId, decision: r.payload, custodian: c.custodian, version: c.version, parts, withheld, session, csv: joinedCsv(parts) };
  }

  listRecords(patient: string, purpose = 'TREAT', bookmark = '', pageSize?: number): Promise<unknown> {
    return this.evaluate('listPatientRecords', { patient, purpose, ...(bookmark ? { bookmark } : {}), ...(pageSize ? { pageSize } : {}) });
  }

  async eraseRecord(recordId: string): Promise<Record<string, unknown>> {
    const r = await this.submit('eraseRecord', { recordId });
    return { txId: r.txId, ...r.payload };
  }

  // ---- care, consent, applications ------------------------------------------------------------

  startCare(doctor: string, patient: string): Promise<SubmitOutcome> {
    return this.submit('startCare', { doctor, patient });
  }
  endCare(doctor: string, patient: string): Promise<SubmitOutcome> {
    return this.submit('endCare', { doctor, patient });
  }
  /** Register a pseudonym of this admin's hospital (decision 0906: the patient's user id stays off chain). */
  enrolPatient(pseudonym: string): Promise<SubmitOutcome> {
    return this.submit('enrolPatient', { pseudonym });
  }
  grantConsent(args: Record<string, unknown>): Promise<SubmitOutcome> {
    return this.submit('grantConsent', args);
  }
  revokeConsent(consentId: string): Promise<SubmitOutcome> {
    return this.submit('revokeConsent', { consentId });
  }
  /**
   * The caller's patients: active care relations, then unexpired consents naming them, their
   * organisation or their role (pseudonyms only; each consent with its start and whom it names)
   * → `{patients, bookmark}`, a page at a time (decisions 0909, 0913, 0914). A patient may come on
   * several pages: merge by `patient`.
   */
  async myPatients(page: { pageSize?: number; bookmark?: string } = {}): Promise<MyPatientsPage> {
    return parsed(myPatientsPageSchema, await this.evaluate('myPatients', page), 'myPatients');
  }
  /** The patient's consents in force: not revoked, their period not ended (decision 0911). */
  listConsents(patient: string): Promise<unknown> {
    return this.evaluate('listConsents', { patient });
  }
  /**
   * The patient's consents whose period ended, the latest ended first → `{consents, bookmark}`
   * (decision 0911).
   */
  listEndedConsents(patient: string, page: { pageSize?: number; bookmark?: string } = {}): Promise<unknown> {
    return this.evaluate('listEndedConsents', { patient, ...page });
  }
  exportConsent(consentId: string): Promise<unknown> {
    return this.evaluate('exportConsent', { consentId });
  }
  apply(args: Record<string, unknown>): Promise<SubmitOutcome> {
    return this.submit('apply', args);
  }
  decideApplication(applicationId: string, approve: boolean): Promise<SubmitOutcome> {
    return this.submit('decideApplication', { applicationId, approve });
  }
  /**
   * An owner's (a patient's pseudonym, or an organisation) or an applicant's applications, a page
   * at a time → `{applications, bookmark}` (decision 0908); `status` keeps one state only.
   */
  listApplications(
    query: { owner: string } | { applicant: string },
    page: { status?: 'pending' | 'approved' | 'denied'; order?: 'oldest' | 'newest'; pageSize?: number; bookmark?: string } = {},
  ): Promise<unknown> {
    return this.evaluate('listApplications', { ...query, ...page });
  }

  // ---- BMRS sessions (decision 0901) ----------------------------------------------------------

  /** A provider's BMRS session with a patient (for the provider, the patient, CAMS admins, the provider's admins/supervisors). */
  async bmrsSession(provider: string, target: SessionTarget): Promise<SessionState> {
    return parsed(sessionStateSchema, await this.evaluate('bmrsSession', { provider, ...target }), 'bmrsSession');
  }

  /** CAMS (an admin of the CAMS organisation) revives a dead session into state 1; audited. */
  async reauthorize(provider: string, target: SessionTarget): Promise<{ txId: string } & z.infer<typeof reauthorizedSchema>> {
    const r = await this.submit('bmrsReauthorize', { provider, ...target });
    return { txId: r.txId, ...parsed(reauthorizedSchema, r.payload, 'bmrsReauthorize') };
  }

  // ---- audit --------------------------------------------------------------------------------

  auditTrail(query: Record<string, unknown>): Promise<unknown> {
    return this.evaluate('auditTrail', query);
  }
  exportAuditEvents(query: Record<string, unknown>): Promise<unknown> {
    return this.evaluate('exportAuditEvents', query);
  }
  exportProvenance(recordId: string): Promise<unknown> {
    return this.evaluate('exportProvenance', { recordId });
  }
  /** The patient's feed, a page at a time; `order: 'newest'` starts from the latest (decision 0907). */
  notifications(patient: string, page: { order?: 'oldest' | 'newest'; pageSize?: number; bookmark?: string } = {}): Promise<unknown> {
    return this.evaluate('notifications', { patient, ...page });
  }

  // ---- datasets and statistics --------------------------------------------------------------

  /** `minCohort`: the owner's minimum cohort for statistics over it (≥ the consortium floor); `queryBudget`: statistics requests per requester (decision 1163). */
  async registerDataset(a: {
    datasetId: string;
    name: string;
    description?: string;
    data: Uint8Array;
    mediaType: 'text/csv' | 'application/fhir+json';
    open?: boolean;
    minCohort?: number;
    queryBudget?: number;
    tags?: string[];
  }): Promise<Record<string, unknown>> {
    const p = parsed(
      preparedDatasetSchema,
      await this.post('/v1/health/datasets/prepare', { datasetId: a.datasetId, mediaType: a.mediaType, dataBase64: toBase64(a.data) }),
      'dataset prepare',
    );
    const r = await this.submit('registerDataset', {
      datasetId: a.datasetId,
      name: a.name,
      description: a.description ?? '',
      columns: p.columns,
      cid: p.cid,
      sizeBytes: p.sizeBytes,
      recordCount: p.recordCount,
      // A node from before decision 1260 prepares without a commitment.
      ...(p.commitment ? { commitment: p.commitment, mediaType: a.mediaType } : {}),
      ...(typeof p.expiresAtMs === 'number' ? { notAfterMs: p.expiresAtMs } : {}),
      ...(a.tags !== undefined ? { tags: a.tags } : {}),
      open: a.open ?? true,
      ...(a.minCohort !== undefined ? { minCohort: a.minCohort } : {}),
      ...(a.queryBudget !== undefined ? { queryBudget: a.queryBudget } : {}),
    });
    return { txId: r.txId, ...r.payload };
  }

  /**
   * The data market (decision 1260): listed datasets by default, each with the caller's standing
   * (`access`: owner / approved / pending / not-authorised / withdrawn / deleted; `authorised`;
   * `grantedActions`: what an approval grants now — `['statistics']` alone is no licence to download).
   * `filters` search (q over name, description, tags) and filter (owner, status — 'all' for every
   * state —, type csv|fhir, tag). With filters a page may hold fewer than pageSize: follow `bookmark`.
   */
  listDatasets(bookmark = '', pageSize?: number, filters: DatasetFilters = {}): Promise<unknown> {
    return this.evaluate('listDatasets', {
      ...(bookmark ? { bookmark } : {}),
      ...(pageSize ? { pageSize } : {}),
      ...Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined && v !== '')),
    });
  }

  /** A dataset's state and every version's CID, keyed commitment, size and transaction. */
  datasetVersions(datasetId: string): Promise<unknown> {
    return this.evaluate('datasetVersions', { datasetId });
  }

  /**
   * A new version (decision 1260): sealed at the owner's node (which must be the custodian's), then
   * listed by `updateDataset` signed by this user (the owner's admin or supervisor). Earlier
   * versions stay downloadable and provable.
   */
  async updateDataset(a: { datasetId: string; data: Uint8Array; mediaType: 'text/csv' | 'application/fhir+json' }): Promise<Record<string, unknown>> {
    const versions = parsed(z.object({ currentVersion: z.number().int() }), await this.datasetVersions(a.datasetId), 'datasetVersions');
    const p = parsed(
      preparedDatasetSchema,
      await this.post('/v1/health/datasets/prepare', {
        datasetId: a.datasetId,
        mediaType: a.mediaType,
        dataBase64: toBase64(a.data),
        version: versions.currentVersion + 1,
      }),
      'dataset prepare',
    );
    const r = await this.submit('updateDataset', {
      datasetId: a.datasetId,
      columns: p.columns,
      cid: p.cid,
      sizeBytes: p.sizeBytes,
      recordCount: p.recordCount,
      commitment: p.commitment,
      mediaType: a.mediaType,
      ...(typeof p.expiresAtMs === 'number' ? { notAfterMs: p.expiresAtMs } : {}),
    });
    return { txId: r.txId, ...r.payload };
  }

  /** The owner takes the listing off the market: no new applications, hidden from the default catalogue. */
  async withdrawDataset(datasetId: string): Promise<Record<string, unknown>> {
    const r = await this.submit('withdrawDataset', { datasetId });
    return { txId: r.txId, ...r.payload };
  }

  async reopenDataset(datasetId: string): Promise<Record<string, unknown>> {
    const r = await this.submit('reopenDataset', { datasetId });
    return { txId: r.txId, ...r.payload };
  }

  /** Delete: the custodian crypto-shreds every version when it commits this; the history stays auditable. */
  async deleteDataset(datasetId: string): Promise<Record<string, unknown>> {
    const r = await this.submit('deleteDataset', { datasetId });
    return { txId: r.txId, ...r.payload };
  }

  /**
   * Download (decision 1260): decided and audited on chain by this user's `downloadDataset`
   * (owner, or an approved application for read with `purpose`); the node then fetches the version
   * from its custodian against that transaction, checks CID and commitment, and returns the
   * columns/rows asked for. A refusal comes back with its `code` (NOT_AUTHORISED, DATASET_DELETED,
   * DATASET_NOT_FOUND) and reasons; it is audited too.
   */
  async downloadDataset(a: {
    datasetId: string;
    purpose: string;
    version?: number;
    columns?: string[];
    rows?: { from: number; to: number };
  }): Promise<DatasetDownloadResult> {
    const selection =
      a.columns !== undefined || a.rows !== undefined ? { ...(a.columns ? { columns: a.columns } : {}), ...(a.rows ? { rows: a.rows } : {}) } : undefined;
    const r = await this.submit('downloadDataset', {
      datasetId: a.datasetId,
      purpose: a.purpose,
      ...(a.version !== undefined ? { version: a.version } : {}),
      ...(selection ? { selection } : {}),
    });
    if (r.payload['allowed'] !== true)
      return {
        allowed: false,
        txId: r.txId,
        code: typeof r.payload['code'] === 'string' ? r.payload['code'] : 'REFUSED',
        reasons: Array.isArray(r.payload['reasons']) ? (r.payload['reasons'] as unknown[]).map(String) : [],
        auditId: String(r.payload['auditId'] ?? ''),
        content: null,
        version: null,
        custodian: null,
        mediaType: null,
        cid: null,
        verified: null,
      };
    const c = parsed(datasetContentSchema, await this.post('/v1/health/datasets/content', { txId: r.txId }), 'dataset content');
    return {
      allowed: true,
      txId: r.txId,
      code: null,
      reasons: [],
      auditId: String(r.payload['auditId'] ?? ''),
      content: base64Bytes(c.dataBase64),
      version: c.version,
      custodian: c.custodian,
      mediaType: c.mediaType,
      cid: c.cid,
      verified: c.verified,
    };
  }

  /**
   * Request on chain; if allowed, the node gathers released partials, combines, suppresses; the
   * result is recorded on chain. `minCohort` can only raise the threshold (decision 1163).
   */
  async statistics(a: {
    datasetIds: string[];
    variable: string;
    purpose: string;
    histogram: HistogramSpec;
    minCohort?: number;
  }): Promise<{ allowed: boolean; requestId: string; reasons: string[]; result: unknown }> {
    const r = await this.submit('requestStatistics', {
      datasetIds: a.datasetIds,
      variable: a.variable,
      purpose: a.purpose,
      histogram: a.histogram,
      ...(a.minCohort !== undefined ? { minCohort: a.minCohort } : {}),
    });
    const requestId = String(r.payload['requestId']);
    const reasons = (r.payload['reasons'] as string[] | undefined) ?? [];
    if (r.payload['allowed'] !== true) return { allowed: false, requestId, reasons, result: null };
    const c = (await this.post('/v1/health/statistics/compute', { requestId })) as { result: Record<string, unknown> };
    await this.submit('recordStatisticsResult', { requestId, result: c.result });
    return { allowed: true, requestId, reasons, result: c.result };
  }
}

// connectAs reads a consortium directory (Node only): connect.ts, or connect.browser.ts in the
// console's build.
export { connectAs } from './connect.ts';
