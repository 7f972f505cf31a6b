// The `health` system contract: records registry, care relations, consents, access applications,
// BMRS sessions, the audited `access` path, datasets and statistics — in ONE contract namespace,
// because the rule engine must see all of them in one transaction (a stub reads only its own
// contract's namespace) and a read's audit entry must be written by the very transaction that
// made the decision.
//
// Conventions:
//   - every function takes one argument: a JSON object checked by a zod schema (model.ts); a bad
//     argument is a ContractError (status 400, not endorsed) naming the field;
//   - a request the rule engine DENIES is not an error: the transaction commits the denial (audit
//     entry, and for a request the requester cannot honestly make the BMRS Violation and a
//     security alert) and returns {"allowed": false, …}. Otherwise a denied attempt would leave no
//     trace, and a Violation could never reach the dead state;
//   - who-may-do-what questions about health data are answered only by rules.ts decide().
//     Administrative acts (enrolment, care relations, consent, approvals, erasure) have their own
//     simple actor rules here, each stated next to its function.
import { z } from 'zod';
import { disclosureProblem, effectiveMinCohort, type HistogramSpec } from '../../analytics/aggregate.ts';
import { hashValue, toHex } from '../../codec/index.ts';
import type { ChaincodeStub } from '../stub.ts';
import { ContractError, type Contract, type ContractFunction } from '../runtime.ts';
import { BMRS_STATE_NAMES, bmrsTakePermission } from './bmrs.ts';
import { consentResource, auditEventBundle, provenanceBundle } from './fhir.ts';
import {
  accessRequestSchema,
  applyArgs,
  createRecordArgs,
  grantConsentArgs,
  idSchema,
  LIMITS,
  maxSensitivity,
  nodeKeyArgs,
  orgOf,
  publishNodeKeyArgs,
  orgSchema,
  pageArgs,
  PSEUDONYM_RE,
  pseudonymSchema,
  readBatchArgs,
  registerDatasetArgs,
  requesterSchema,
  sensitivityRank,
  statsRequestArgs,
  statsResultArgs,
  updateRecordArgs,
  userSchema,
  type Action,
  type Actor,
  type Application,
  type CareRelation,
  type Consent,
  type Dataset,
  type ErasedEntry,
  type NodeKeyEntry,
  type Purpose,
  type RecordEntry,
  type Sensitivity,
} from './model.ts';
import { decide, releasableLevel, type Decision } from './rules.ts';
import { getJson, HealthTx, key, pad, pageIndex, prefixRange, putJson, SEP, type AccessTicket, type AuditEntry, type AuditOp, type Config, type Enrolment, type Notification, type RevocationMarker, type Session } from './state.ts';

export const HEALTH_CONTRACT = 'health';
const STAFF_ADMIN_ROLES = ['admin', 'supervisor'];
/** myPatients reads at most this many care relations and this many consents (a bounded scan). */
const MY_PATIENTS_MAX = 200;
/** Actions whose allowed `access` releases content (CIDs, commitments): a write or statistics permission is not a licence to read. */
const CONTENT_ACTIONS: readonly Action[] = ['read', 'share'];

function parseArg<T extends z.ZodType>(schema: T, args: readonly string[]): z.output<T> {
  if (args.length !== 1) throw new ContractError(`expected exactly one argument (a JSON object), got ${args.length}`);
  let value: unknown;
  try {
    value = JSON.parse(args[0]!);
  } catch {
    throw new ContractError('the argument is not valid JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(argument)'}: ${i.message}`);
    throw new ContractError(`invalid argument — ${issues.join('; ')}`);
  }
  return parsed.data;
}

function json(value: unknown): string {
  return JSON.stringify(value);
}

function isErased(r: RecordEntry | ErasedEntry): r is ErasedEntry {
  return 'erased' in r;
}

/** The outcome a denied/allowed access returns to the caller. */
function verdict(d: Decision, auditId: string, extra: Record<string, unknown> = {}): string {
  return json({ allowed: d.decision === 'allow', decision: d.decision, reasons: d.reasons, flags: d.flags, basis: d.basis, bmrs: d.bmrs ? { from: d.bmrs.from, to: d.bmrs.to, steps: d.bmrs.steps } : null, auditId, ...extra });
}

/**
 * What a governed requester is told about their BMRS session with the patient (decision 0901):
 * its state, and — when a violation is recorded, the session dies, or it is already dead — what
 * happened and how CAMS re-authorizes it (`reauthorizeArgs`: bmrsReauthorize's exact argument —
 * the record, or for a record being created the patient the writer named). Null for accesses
 * outside BMRS (a patient's own data).
 */
function sessionNotice(tx: HealthTx, d: Decision, provider: string, target: { recordId: string; patient: string; isNew: boolean }): Record<string, unknown> | null {
  if (!d.bmrs) return null;
  const camsOrg = tx.config()?.camsOrg ?? null;
  const reauthorizeArgs = target.isNew ? { provider, patient: target.patient } : { provider, recordId: target.recordId };
  const argText = target.isNew ? `{"provider": "${provider}", "patient": "${target.patient}"}` : `{"provider": "${provider}", "recordId": "${target.recordId}"}`;
  const revive = `CAMS re-authorizes it: an admin of ${camsOrg ?? 'the CAMS organisation'} submits bmrsReauthorize(${argText})`;
  let notice: string | null = null;
  if (d.bmrs.from === 3) notice = `your BMRS session with this patient is dead (state 3): every request is refused, break-the-glass included, until ${revive}`;
  else if (d.bmrs.to === 3) notice = `this violation ended your BMRS session with this patient (state 3, dead): every further request is refused, break-the-glass included, until ${revive}`;
  else if (d.flags.includes('bmrs-violation')) notice = 'recorded as a BMRS violation (a security alert the patient is notified of): one more ends your session with this patient';
  return { provider, state: d.bmrs.to, stateName: BMRS_STATE_NAMES[d.bmrs.to], dead: d.bmrs.to === 3, reauthorizeBy: camsOrg, reauthorizeArgs, notice };
}

function bmrsSummary(d: Decision): AuditEntry['bmrs'] {
  return d.bmrs ? { from: d.bmrs.from, to: d.bmrs.to, actions: d.bmrs.steps.map((s) => s.action) } : null;
}

function basisText(d: Decision): string | null {
  if (!d.basis) return null;
  if (d.basis.rule === 'consent') return `consent:${d.basis.consentId}`;
  if (d.basis.rule === 'application') return `application:${d.basis.applicationId}`;
  return d.basis.rule;
}

const ACCESS_OPS: Record<Action, AuditOp> = { read: 'access.read', write: 'access.write', share: 'access.share', statistics: 'access.statistics' };

interface AuditBase {
  readonly op: AuditOp;
  readonly actor: Actor;
  readonly outcome?: 'allow' | 'deny';
  readonly purpose?: Purpose | null;
  readonly patient?: string | null;
  readonly recordId?: string | null;
  readonly version?: number | null;
  readonly datasetId?: string | null;
  readonly consentId?: string | null;
  readonly applicationId?: string | null;
  readonly custodian?: string | null;
  readonly recordedBy?: Actor | null;
  readonly decision?: Decision;
  readonly reasons?: readonly string[];
  /** BMRS steps of an act that is not an access decision (a revocation taking a permission). */
  readonly bmrs?: AuditEntry['bmrs'];
}

function writeAudit(tx: HealthTx, a: AuditBase): string {
  const d = a.decision;
  const flags: string[] = d ? [...d.flags] : [];
  return tx.audit({
    op: a.op,
    actor: a.actor,
    recordedBy: a.recordedBy ?? null,
    outcome: a.outcome ?? d?.decision ?? 'allow',
    purpose: a.purpose ?? null,
    patient: a.patient ?? null,
    recordId: a.recordId ?? null,
    version: a.version ?? null,
    datasetId: a.datasetId ?? null,
    consentId: a.consentId ?? null,
    applicationId: a.applicationId ?? null,
    custodian: a.custodian ?? null,
    reasons: a.reasons ?? d?.reasons ?? [],
    flags,
    basis: d ? basisText(d) : null,
    securityAlert: flags.includes('security-alert'),
    bmrs: d ? bmrsSummary(d) : (a.bmrs ?? null),
    servedDecision: null,
  });
}

/**
 * Decide one access to a record, apply its BMRS steps, write its audit entry and the patient's
 * notification (break-the-glass, a Violation, a session's death). Used by `access`, createRecord
 * and updateRecord. `notes` (what an allowed read withheld, and why) join the audit entry's reasons.
 */
function decideRecordAccess(
  tx: HealthTx,
  requester: Actor,
  action: Action,
  purpose: Purpose,
  reason: string | null,
  target: { recordId: string; patient: string; custodian: string; category: string; sensitivity: Sensitivity; isNew: boolean; exists: boolean },
  audit: { op?: AuditOp; version?: number | null; notes?: readonly string[] },
): { decision: Decision; auditId: string; session: Record<string, unknown> | null } {
  const facts = tx.recordFacts(requester, action, purpose, reason, target);
  const d = decide(facts);
  const ref = `${requester.org}/${requester.id}`;
  if (target.exists) tx.applyBmrs(ref, target.patient, d);
  const auditId = writeAudit(tx, {
    op: d.decision === 'deny' ? ACCESS_OPS[action] : (audit.op ?? ACCESS_OPS[action]),
    actor: requester,
    purpose,
    patient: target.exists ? target.patient : null,
    recordId: target.recordId,
    version: audit.version ?? null,
    custodian: target.exists ? target.custodian : null,
    decision: d,
    reasons: [...d.reasons, ...(d.decision === 'allow' ? (audit.notes ?? []) : [])],
  });
  const violation = d.flags.includes('bmrs-violation');
  const died = d.bmrs?.to === 3 && d.bmrs.from !== 3;
  if (d.flags.includes('notify-patient') || violation || died) {
    tx.notify(target.patient, {
      auditId,
      kind: d.flags.includes('break-the-glass') ? 'break-the-glass' : 'security-alert',
      actor: ref,
      recordId: target.recordId,
      applicationId: null,
    });
  }
  return { decision: d, auditId, session: sessionNotice(tx, d, ref, target) };
}

function recordTarget(r: RecordEntry, sensitivity?: Sensitivity) {
  return { recordId: r.recordId, patient: r.patient, custodian: r.custodian, category: r.category, sensitivity: sensitivity ?? r.sensitivity, isNew: false, exists: true };
}

function missingTarget(recordId: string) {
  return { recordId, patient: '', custodian: '', category: 'file', sensitivity: 'normal' as Sensitivity, isNew: false, exists: false };
}

function liveOrMissing(tx: HealthTx, recordId: string): RecordEntry | null {
  const r = tx.record(recordId);
  return r === undefined || isErased(r) ? null : r;
}

/** A request for "up to restricted" on a record that holds nothing above normal is decided as normal. */
function clampTo(r: RecordEntry, s: Sensitivity | undefined): Sensitivity {
  return s === undefined || sensitivityRank(s) > sensitivityRank(r.sensitivity) ? r.sensitivity : s;
}

/**
 * A write of content prepared off chain must be timestamped before that content expires at the
 * custodian (decision 1160): after it, the custodian may sweep the blobs and keys.
 */
function refuseExpiredPreparation(tx: HealthTx, recordId: string, notAfterMs: number | undefined): void {
  if (notAfterMs !== undefined && tx.nowMs > notAfterMs) {
    throw new ContractError(`the prepared content of record ${recordId} expired at ${new Date(notAfterMs).toISOString()} (the custodian may have deleted it): prepare it again`);
  }
}

/** The parts a caller receives: those at or below the sensitivity it was allowed. */
function partsUpTo(r: RecordEntry, s: Sensitivity) {
  return r.parts.filter((p) => sensitivityRank(p.sensitivity) <= sensitivityRank(s));
}

/** A BMRS session is named by its provider and the patient, or a record of that patient. */
const sessionArgs = z.union([
  z.strictObject({ provider: userSchema, patient: pseudonymSchema }),
  z.strictObject({ provider: userSchema, recordId: idSchema }),
]);

function sessionPatient(tx: HealthTx, a: z.output<typeof sessionArgs>): string {
  return 'patient' in a ? a.patient : tx.liveRecord(a.recordId).patient;
}

function requirePatientSelf(tx: HealthTx, patient: string, what: string): void {
  if (tx.creatorPseudonym !== patient) throw new ContractError(`${what}: only the patient may do this`);
}

/**
 * An application as its applicant sees it: for a record, without the owner — the patient's
 * pseudonym is the patient's to reveal, and an applicant needs only the application's status.
 */
function applicantView(app: Application): Application | Omit<Application, 'owner'> {
  if (app.target.kind !== 'record') return app;
  const { owner: _owner, ...view } = app;
  return view;
}

function isStaffOf(tx: HealthTx, org: string): boolean {
  return tx.creator.org === org && STAFF_ADMIN_ROLES.includes(tx.creator.role);
}

function loadAudit(stub: ChaincodeStub, ids: readonly string[]): AuditEntry[] {
  return ids.map((id) => {
    const e = getJson<AuditEntry>(stub, key('au', id));
    if (!e) throw new ContractError(`audit index names a missing entry ${id}`);
    return e;
  });
}

function commitmentsDigest(stub: ChaincodeStub, recordId: string, versions: number): string {
  const all: string[][] = [];
  for (let v = 1; v <= versions; v++) {
    const e = getJson<RecordEntry>(stub, key('recv', recordId, pad(v, 6)));
    if (e) all.push(e.parts.map((p) => p.commitment));
  }
  return toHex(hashValue(all));
}

const auditQueryArgs = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('record'), recordId: idSchema }),
  z.strictObject({ kind: z.literal('patient'), patient: pseudonymSchema }),
  z.strictObject({ kind: z.literal('org'), org: orgSchema }),
  z.strictObject({ kind: z.literal('dataset'), datasetId: idSchema }),
]).and(pageArgs);
type AuditQuery = z.output<typeof auditQueryArgs>;

/** Who may read which audit trail (decision 0905). Throws when the caller may not. */
function auditQuery(tx: HealthTx, q: AuditQuery): { entries: AuditEntry[]; bookmark: string } {
  const c = tx.creator;
  let parts: string[];
  if (q.kind === 'record') {
    const r = tx.record(q.recordId);
    if (!r) throw new ContractError(`record ${q.recordId} does not exist`);
    let allowed = isStaffOf(tx, r.custodian);
    if (!allowed && !isErased(r)) {
      allowed = tx.creatorPseudonym === r.patient
        || decide(tx.recordFacts(c, 'read', 'TREAT', null, recordTarget(r, 'normal'))).decision === 'allow';
    }
    if (!allowed) throw new ContractError(`provenance of record ${q.recordId}: only the patient, the custodian's admins/supervisors and readers of the record may see it`);
    parts = ['aix', 'rec', q.recordId];
  } else if (q.kind === 'patient') {
    requirePatientSelf(tx, q.patient, 'access log');
    parts = ['aix', 'pp', q.patient];
  } else if (q.kind === 'org') {
    if (!isStaffOf(tx, q.org)) throw new ContractError(`audit trail of ${q.org}: only its admins and supervisors may see it`);
    parts = ['aix', 'org', q.org];
  } else {
    const ds = tx.dataset(q.datasetId);
    if (!ds) throw new ContractError(`dataset ${q.datasetId} does not exist`);
    if (!isStaffOf(tx, ds.ownerOrg)) throw new ContractError(`provenance of dataset ${q.datasetId}: only the owner's admins and supervisors may see it`);
    parts = ['aix', 'ds', q.datasetId];
  }
  const page = pageIndex(tx.stub, parts, q.pageSize, q.bookmark);
  return { entries: loadAudit(tx.stub, page.ids), bookmark: page.bookmark };
}

function fn(kind: 'submit' | 'evaluate', description: string, handler: (tx: HealthTx, args: readonly string[]) => string, roles?: readonly string[]): ContractFunction {
  return { kind, description, ...(roles ? { roles } : {}), handler: (stub, args) => handler(new HealthTx(stub), args) };
}

export const healthContract: Contract = {
  name: HEALTH_CONTRACT,
  version: '1.0',
  functions: {
    // ---- configuration and enrolment ------------------------------------------------------
    initialize: fn('submit', 'initialize({camsOrg}) — once; names the organisation acting as BMRS CAMS', (tx, args) => {
      const a = parseArg(z.strictObject({ camsOrg: orgSchema }), args);
      if (tx.config()) throw new ContractError('the health contract is already initialized');
      const cfg: Config = { camsOrg: a.camsOrg, initializedAtMs: tx.nowMs, initializedBy: tx.creatorRef };
      putJson(tx.stub, 'cfg', cfg);
      return json(cfg);
    }, ['admin']),

    config: fn('evaluate', 'config() → the contract configuration', (tx) => json(tx.config() ?? null)),

    // Decision 0906: the chain learns only that this pseudonym is a patient of the admin's
    // hospital. Who the patient is stays at that hospital; the patient's certificate, issued by
    // its CA to the pseudonym, is what lets them act as its owner.
    enrolPatient: fn('submit', "enrolPatient({pseudonym}) — an admin registers a patient pseudonym of their own hospital (no user id goes on chain)", (tx, args) => {
      const a = parseArg(z.strictObject({ pseudonym: pseudonymSchema }), args);
      const enrolledBy = tx.patientOrgOf(a.pseudonym);
      if (enrolledBy !== null) throw new ContractError(`enrolPatient: this pseudonym is already enrolled${enrolledBy === tx.creator.org ? '' : ' by another hospital'}`);
      const enrolment: Enrolment = { org: tx.creator.org, enrolledAtMs: tx.nowMs };
      putJson(tx.stub, key('pt', 'pp', a.pseudonym), enrolment);
      const auditId = writeAudit(tx, { op: 'patient.enrol', actor: tx.creator, patient: a.pseudonym });
      return json({ auditId });
    }, ['admin']),

    // ---- care relations -------------------------------------------------------------------
    // A care relation lets a doctor read and write the patient's records: it is a decision about
    // who may see the patient's data, so it is the patient's (any doctor, any hospital) or, as
    // an admission, their own hospital's for one of its own doctors (decision 0903). The
    // doctor's hospital cannot bring another hospital's patient into its care: that would be a
    // consent under another name.
    startCare: fn('submit', "startCare({doctor, patient}) — by the patient, or by an admin or supervisor of the patient's own hospital for one of its doctors", (tx, args) => {
      const a = parseArg(z.strictObject({ doctor: userSchema, patient: pseudonymSchema }), args);
      const patientOrg = tx.patientOrgOf(a.patient);
      if (patientOrg === null) throw new ContractError('startCare: no patient is enrolled under this pseudonym');
      const doctorOrg = orgOf(a.doctor);
      const byPatient = tx.creatorPseudonym === a.patient;
      if (!byPatient && !(isStaffOf(tx, patientOrg) && doctorOrg === patientOrg)) {
        throw new ContractError(`startCare: a care relation is started by the patient, or by an admin or supervisor of the patient's own hospital for one of its own doctors — not by ${tx.creator.role} of ${tx.creator.org} for ${a.doctor}`);
      }
      const k = key('care', a.doctor, a.patient);
      const existing = getJson<CareRelation>(tx.stub, k);
      if (existing?.active) throw new ContractError(`startCare: ${a.doctor} already cares for this patient`);
      const relation: CareRelation = { doctor: a.doctor, patient: a.patient, active: true, startedAtMs: tx.nowMs, startedBy: tx.creatorRef, startedByPatient: byPatient, endedAtMs: null, endedBy: null };
      putJson(tx.stub, k, relation);
      const auditId = writeAudit(tx, { op: 'care.start', actor: tx.creator, patient: a.patient });
      if (!byPatient) tx.notify(a.patient, { auditId, kind: 'care', actor: tx.creatorRef, recordId: null, applicationId: null });
      return json({ auditId });
    }),

    // Ending a relation only takes access away, so more parties may: the patient, the doctor,
    // staff of the doctor's hospital (withdrawing its doctor) and of the patient's own hospital.
    endCare: fn('submit', "endCare({doctor, patient}) — by the patient, the doctor, or an admin or supervisor of the doctor's or the patient's hospital", (tx, args) => {
      const a = parseArg(z.strictObject({ doctor: userSchema, patient: pseudonymSchema }), args);
      const doctorOrg = orgOf(a.doctor);
      const patientOrg = tx.patientOrgOf(a.patient);
      const byPatient = tx.creatorPseudonym === a.patient;
      if (!byPatient && !isStaffOf(tx, doctorOrg) && !(patientOrg !== null && isStaffOf(tx, patientOrg)) && tx.creatorRef !== a.doctor) {
        throw new ContractError("endCare: only the patient, the doctor, or an admin or supervisor of the doctor's or the patient's hospital may end this care relation");
      }
      const k = key('care', a.doctor, a.patient);
      const existing = getJson<Record<string, unknown> & { active: boolean }>(tx.stub, k);
      if (!existing?.active) throw new ContractError(`endCare: ${a.doctor} has no active care relation with this patient`);
      putJson(tx.stub, k, { ...existing, active: false, endedAtMs: tx.nowMs, endedBy: tx.creatorRef });
      return json({ auditId: writeAudit(tx, { op: 'care.end', actor: tx.creator, patient: a.patient }) });
    }),

    // ---- records ----------------------------------------------------------------------------
    createRecord: fn('submit', 'createRecord({recordId, patient, category, parts, purpose?}) — the creator\'s organisation becomes the custodian', (tx, args) => {
      const a = parseArg(createRecordArgs, args);
      refuseExpiredPreparation(tx, a.recordId, a.notAfterMs);
      if (tx.record(a.recordId) !== undefined) throw new ContractError(`record ${a.recordId} already exists`);
      if (tx.patientOrgOf(a.patient) === null) throw new ContractError('createRecord: no patient is enrolled under this pseudonym');
      const sensitivity = maxSensitivity(a.parts.map((p) => p.sensitivity));
      const target = { recordId: a.recordId, patient: a.patient, custodian: tx.creator.org, category: a.category, sensitivity, isNew: true, exists: true };
      const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, 'write', a.purpose, null, target, { op: 'record.create', version: 1 });
      if (decision.decision === 'deny') return verdict(decision, auditId, { session });
      const entry: RecordEntry = {
        recordId: a.recordId, patient: a.patient, custodian: tx.creator.org, category: a.category, sensitivity, parts: a.parts,
        version: 1, author: tx.creatorRef, createdAtMs: tx.nowMs, updatedAtMs: tx.nowMs, txId: tx.stub.getTxID(),
      };
      putJson(tx.stub, key('rec', a.recordId), entry);
      putJson(tx.stub, key('recv', a.recordId, pad(1, 6)), entry);
      tx.stub.putState(key('rx', 'pp', a.patient, a.recordId), new Uint8Array(0));
      return verdict(decision, auditId, { session, record: entry });
    }),

    updateRecord: fn('submit', 'updateRecord({recordId, parts, purpose?}) — a new version; earlier versions stay queryable', (tx, args) => {
      const a = parseArg(updateRecordArgs, args);
      refuseExpiredPreparation(tx, a.recordId, a.notAfterMs);
      const r = liveOrMissing(tx, a.recordId);
      const sensitivity = maxSensitivity(a.parts.map((p) => p.sensitivity));
      if (!r) {
        const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, 'write', a.purpose, null, missingTarget(a.recordId), {});
        return verdict(decision, auditId, { session });
      }
      if (r.version >= LIMITS.versionsMax) throw new ContractError(`record ${a.recordId} has reached ${LIMITS.versionsMax} versions`);
      const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, 'write', a.purpose, null, recordTarget(r, maxSensitivity([sensitivity, r.sensitivity])), { op: 'record.update', version: r.version + 1 });
      if (decision.decision === 'deny') return verdict(decision, auditId, { session });
      const entry: RecordEntry = { ...r, parts: a.parts, sensitivity, version: r.version + 1, author: tx.creatorRef, updatedAtMs: tx.nowMs, txId: tx.stub.getTxID() };
      putJson(tx.stub, key('rec', a.recordId), entry);
      putJson(tx.stub, key('recv', a.recordId, pad(entry.version, 6)), entry);
      return verdict(decision, auditId, { session, record: entry });
    }),

    eraseRecord: fn('submit', "eraseRecord({recordId}) — by the patient, or an admin/supervisor of the custodian; keeps only a non-identifying proof", (tx, args) => {
      const a = parseArg(z.strictObject({ recordId: idSchema }), args);
      const r = tx.liveRecord(a.recordId);
      const byPatient = tx.creatorPseudonym === r.patient;
      if (!byPatient && !isStaffOf(tx, r.custodian)) throw new ContractError(`eraseRecord: only the patient or an admin/supervisor of ${r.custodian} may erase record ${a.recordId}`);
      const tombstone: ErasedEntry = {
        recordId: r.recordId,
        erased: true,
        erasedAtMs: tx.nowMs,
        custodian: r.custodian,
        // A patient acts as "<org>/<pseudonym>" (decision 0906): record the role only, so the
        // proof of erasure names no patient.
        erasedBy: byPatient ? `${tx.creator.org}/patient` : tx.creatorRef,
        versions: r.version,
        commitmentsDigest: commitmentsDigest(tx.stub, r.recordId, r.version),
      };
      putJson(tx.stub, key('rec', a.recordId), tombstone);
      for (let v = 1; v <= r.version; v++) tx.stub.deleteState(key('recv', a.recordId, pad(v, 6)));
      tx.stub.deleteState(key('rx', 'pp', r.patient, a.recordId));
      const auditId = writeAudit(tx, { op: 'record.erase', actor: tx.creator, patient: r.patient, recordId: r.recordId, custodian: r.custodian, version: r.version });
      if (!byPatient) tx.notify(r.patient, { auditId, kind: 'erasure', actor: tx.creatorRef, recordId: r.recordId, applicationId: null });
      return json({ erased: tombstone, auditId });
    }),

    getRecord: fn('evaluate', 'getRecord({recordId, purpose?}) → metadata (tombstone if erased) when the caller may read it; CIDs are released only by `access`', (tx, args) => {
      const a = parseArg(z.strictObject({ recordId: idSchema, purpose: accessRequestSchema.shape.purpose.default('TREAT') }), args);
      const r = tx.record(a.recordId);
      if (!r) throw new ContractError(`record ${a.recordId} does not exist`);
      if (isErased(r)) return json(r);
      const d = decide(tx.recordFacts(tx.creator, 'read', a.purpose, null, recordTarget(r, 'normal')));
      const self = tx.creatorPseudonym === r.patient;
      if (d.decision !== 'allow' && !self && !isStaffOf(tx, r.custodian)) throw new ContractError(`getRecord: not allowed — ${d.reasons.join('; ')}`);
      const { parts, ...meta } = r;
      return json({ ...meta, parts: parts.map((p) => ({ sensitivity: p.sensitivity, sizeBytes: p.sizeBytes, mediaType: p.mediaType })) });
    }),

    listPatientRecords: fn('evaluate', "listPatientRecords({patient, purpose?, reason?, pageSize?, bookmark?}) → {records, bookmark}: the patient's records the caller has a basis to read (metadata only)", (tx, args) => {
      const a = parseArg(z.strictObject({ patient: pseudonymSchema, purpose: accessRequestSchema.shape.purpose.default('TREAT'), reason: accessRequestSchema.shape.reason }).and(pageArgs), args);
      const [start, end] = prefixRange('rx', 'pp', a.patient);
      if (a.bookmark !== '' && !(a.bookmark >= start && a.bookmark < end)) throw new ContractError('bookmark does not belong to this query');
      const page = tx.stub.getStateByRangeWithPagination(start, end, a.pageSize, a.bookmark);
      const out: unknown[] = [];
      for (const kv of page.results) {
        const id = kv.key.slice(kv.key.lastIndexOf(SEP) + 1);
        const r = tx.liveRecord(id);
        const d = decide(tx.recordFacts(tx.creator, 'read', a.purpose, a.reason ?? null, recordTarget(r, 'normal')));
        if (d.decision === 'allow') out.push({ recordId: r.recordId, category: r.category, sensitivity: r.sensitivity, version: r.version, custodian: r.custodian, updatedAtMs: r.updatedAtMs });
      }
      return json({ records: out, bookmark: page.bookmark });
    }),

    recordVersions: fn('evaluate', 'recordVersions({recordId, purpose?}) → the metadata of every version, for the patient, the custodian staff, or a reader of every part', (tx, args) => {
      const a = parseArg(z.strictObject({ recordId: idSchema, purpose: accessRequestSchema.shape.purpose.default('TREAT') }), args);
      const r = tx.liveRecord(a.recordId);
      const self = tx.creatorPseudonym === r.patient;
      const d = decide(tx.recordFacts(tx.creator, 'read', a.purpose, null, recordTarget(r)));
      if (!self && !isStaffOf(tx, r.custodian) && d.decision !== 'allow') throw new ContractError(`recordVersions: not allowed — ${d.reasons.join('; ')}`);
      const [start, end] = prefixRange('recv', a.recordId);
      // Metadata only: content addresses are released (and audited) by `access` with `version`.
      return json(tx.stub.getStateByRange(start, end).map((kv) => {
        const { parts, ...meta } = JSON.parse(Buffer.from(kv.value).toString('utf8')) as RecordEntry;
        return { ...meta, parts: parts.map((p) => ({ sensitivity: p.sensitivity, sizeBytes: p.sizeBytes, mediaType: p.mediaType })) };
      }));
    }),

    // ---- the audited access path ------------------------------------------------------------
    access: fn('submit', 'access({recordId, action, purpose, reason?, sensitivity?, version?}) — decide, apply BMRS, audit; an allowed read or share releases the parts (without sensitivity: every part the rules allow, the others withheld with their reasons)', (tx, args) => {
      const a = parseArg(accessRequestSchema, args);
      const r = liveOrMissing(tx, a.recordId);
      if (!r) {
        const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, a.action, a.purpose, a.reason ?? null, missingTarget(a.recordId), {});
        return verdict(decision, auditId, { session });
      }
      let v: RecordEntry = r;
      if (a.version !== undefined && a.version !== r.version) {
        const old = getJson<RecordEntry>(tx.stub, key('recv', r.recordId, pad(a.version, 6)));
        if (!old) throw new ContractError(`record ${r.recordId} has no version ${a.version}`);
        v = old;
      }
      const releases = CONTENT_ACTIONS.includes(a.action);
      let wanted: Sensitivity;
      let withheld: Array<{ sensitivity: Sensitivity; reasons: string[] }>;
      if (releases && a.sensitivity === undefined) {
        // No level asked: "everything I may see". Release up to the highest level the rules allow
        // and say why each part above it is withheld; an honest request is never refused whole
        // for one part outside consent (decision 0901). Nothing allowed: decided (and denied) at
        // the lowest level, whose reasons say why not even that part is released.
        const levels = v.parts.map((p) => p.sensitivity);
        const best = releasableLevel(tx.recordFacts(tx.creator, a.action, a.purpose, a.reason ?? null, recordTarget(r, v.sensitivity)), levels);
        wanted = best.level ?? levels.reduce((low, s) => (sensitivityRank(s) < sensitivityRank(low) ? s : low));
        withheld = best.level === null ? [] : best.withheld;
      } else {
        wanted = clampTo(v, a.sensitivity);
        withheld = releases ? v.parts.filter((p) => sensitivityRank(p.sensitivity) > sensitivityRank(wanted)).map((p) => ({ sensitivity: p.sensitivity, reasons: [`not requested (parts up to ${wanted} were asked for)`] })) : [];
      }
      const notes = withheld.map((w) => `withheld the ${w.sensitivity} part: ${w.reasons.join('; ')}`);
      // Patient, custodian and category come from the current entry; the parts from the version asked for.
      const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, a.action, a.purpose, a.reason ?? null, recordTarget(r, wanted), { version: v.version, notes });
      if (decision.decision === 'deny' || !releases) return verdict(decision, auditId, { session });
      const parts = partsUpTo(v, wanted);
      // The ticket is what the custodian's node may later record as served, and all it may name
      // (decision 1153): only reads that cross organisations are served by another node.
      if (v.custodian !== tx.creator.org && parts.length > 0) {
        const ticket: AccessTicket = { auditId, custodian: v.custodian, released: parts.map((p) => p.sensitivity), recorded: {} };
        tx.putTicket(tx.stub.getTxID(), ticket);
      }
      return verdict(decision, auditId, { session, record: { recordId: r.recordId, version: v.version, custodian: v.custodian, category: r.category, parts }, withheld });
    }),

    recordReads: fn('submit', "recordReads([{ticket, sensitivity, servedDecision, eventId}]) — the custodian node's confirmation of the parts it served under access tickets; each (ticket, part) is recorded once", (tx, args) => {
      const events = parseArg(readBatchArgs, args);
      const results: unknown[] = [];
      for (const e of events) {
        // Who read, which record, why and on which basis come from the ticket and its access
        // transaction's audit entry — never from the submitter (decision 1153). The access
        // transaction already drove the reader's BMRS session and notified the patient.
        const t = tx.ticket(e.ticket);
        if (!t) throw new ContractError(`recordReads: transaction ${e.ticket} left no access ticket; only parts released to another organisation by an allowed access can be recorded as served`);
        if (t.custodian !== tx.creator.org) throw new ContractError(`recordReads: ticket ${e.ticket} is for a record held by ${t.custodian}; only its custodian's node records its reads`);
        if (!t.released.includes(e.sensitivity)) throw new ContractError(`recordReads: access ${e.ticket} released no ${e.sensitivity} part (it released: ${t.released.join(', ')})`);
        const earlier = t.recorded[e.sensitivity];
        if (earlier) {
          results.push({ ticket: e.ticket, sensitivity: e.sensitivity, eventId: e.eventId, duplicate: true, auditId: earlier.auditId });
          continue;
        }
        const access = getJson<AuditEntry>(tx.stub, key('au', t.auditId));
        if (!access) throw new ContractError(`recordReads: ticket ${e.ticket} names a missing audit entry ${t.auditId}`);
        const auditId = tx.audit({
          op: access.op,
          actor: access.actor,
          recordedBy: tx.creator,
          outcome: e.servedDecision,
          purpose: access.purpose,
          patient: access.patient,
          recordId: access.recordId,
          version: access.version,
          datasetId: null,
          consentId: null,
          applicationId: null,
          custodian: access.custodian,
          reasons: e.servedDecision === 'deny' ? [`the custodian held no intact copy of the ${e.sensitivity} part (erased, missing or corrupt): nothing was released`] : [],
          // This entry notifies nobody: the access transaction did, once per read.
          flags: access.flags.filter((f) => f !== 'notify-patient'),
          basis: access.basis,
          securityAlert: access.securityAlert,
          bmrs: null,
          servedDecision: null,
          ticket: e.ticket,
          part: e.sensitivity,
        });
        tx.putTicket(e.ticket, { ...t, recorded: { ...t.recorded, [e.sensitivity]: { auditId, eventId: e.eventId } } });
        results.push({ ticket: e.ticket, sensitivity: e.sensitivity, eventId: e.eventId, recordId: access.recordId, requester: `${access.actor.org}/${access.actor.id}`, outcome: e.servedDecision, auditId });
      }
      return json(results);
    }, ['peer']),

    // ---- node keys (decision 1150) -------------------------------------------------------------
    publishNodeKey: fn('submit', "publishNodeKey({org, nodeId, publicKey}) — a node publishes its own HPKE X25519 public key; custodians wrap data keys to it", (tx, args) => {
      const a = parseArg(publishNodeKeyArgs, args);
      const c = tx.creator;
      // The entry's key is the submitter's own identity: a node (or anyone else) of another
      // organisation can never write, and so never replace, this organisation's node key.
      if (a.org !== c.org || a.nodeId !== c.id) throw new ContractError(`publishNodeKey: ${c.org}/${c.id} may publish only its own node key, not the key of ${a.org}/${a.nodeId}`);
      if (/^0+$/.test(a.publicKey)) throw new ContractError('publishNodeKey: the all-zero X25519 key is not a usable public key');
      const k = key('nk', c.org, c.id);
      const current = getJson<NodeKeyEntry>(tx.stub, k);
      if (current?.publicKey === a.publicKey) return json({ changed: false, entry: current });
      const entry: NodeKeyEntry = { org: c.org, nodeId: c.id, publicKey: a.publicKey, publishedAtMs: tx.nowMs, txId: tx.stub.getTxID() };
      putJson(tx.stub, k, entry);
      return json({ changed: true, entry, previous: current?.publicKey ?? null });
    }, ['peer']),

    nodeKey: fn('evaluate', 'nodeKey({org, nodeId}) → the node\'s published HPKE public key entry, or null', (tx, args) => {
      const a = parseArg(nodeKeyArgs, args);
      return json(getJson<NodeKeyEntry>(tx.stub, key('nk', a.org, a.nodeId)) ?? null);
    }),

    checkAccess: fn('evaluate', 'checkAccess({recordId, action, purpose, reason?, sensitivity?} & {requester?}) — the decision, without recording it (custodian nodes pass the requester)', (tx, args) => {
      const a = parseArg(accessRequestSchema.extend({ requester: requesterSchema.optional() }), args);
      if (a.requester && !['peer', 'admin'].includes(tx.creator.role)) throw new ContractError('checkAccess: only node or admin identities may ask on behalf of another requester');
      const requester: Actor = a.requester ?? tx.creator;
      const r = liveOrMissing(tx, a.recordId);
      const d = decide(tx.recordFacts(requester, a.action, a.purpose, a.reason ?? null, r ? recordTarget(r, clampTo(r, a.sensitivity)) : missingTarget(a.recordId)));
      return json({ allowed: d.decision === 'allow', ...d });
    }),

    // ---- consents ---------------------------------------------------------------------------
    grantConsent: fn('submit', 'grantConsent({patient, grantee, actions, purposes, period, scope}) — the patient only', (tx, args) => {
      const a = parseArg(grantConsentArgs, args);
      requirePatientSelf(tx, a.patient, 'grantConsent');
      if (a.period.endMs <= tx.nowMs) throw new ContractError('grantConsent: the period has already ended');
      const [start, end] = prefixRange('cx', a.patient);
      if (tx.stub.getStateByRange(start, end).length >= LIMITS.consentsActiveMax) throw new ContractError(`grantConsent: at most ${LIMITS.consentsActiveMax} active consents; revoke some first`);
      const consentId = `c${tx.stub.getTxID().slice(0, 32)}`;
      // A new consent to a user the patient once revoked: acting on the patient's data is no
      // longer "after revocation" for them (decision 0901).
      if (a.grantee.kind === 'user' && tx.stub.getStateText(key('rv', a.patient, a.grantee.user)) !== undefined) tx.stub.deleteState(key('rv', a.patient, a.grantee.user));
      const consent: Consent = { consentId, patient: a.patient, grantee: a.grantee, actions: a.actions, purposes: a.purposes, period: a.period, scope: a.scope, status: 'active', grantedAtMs: tx.nowMs, revokedAtMs: null };
      putJson(tx.stub, key('con', consentId), consent);
      tx.stub.putState(key('cx', a.patient, consentId), new Uint8Array(0));
      // The grantee's side of the consent (myPatients): a user grantee finds the patients who
      // consented to them without anyone telling them a pseudonym out of band.
      if (a.grantee.kind === 'user') tx.stub.putState(key('cg', a.grantee.user, consentId), new Uint8Array(0));
      const auditId = writeAudit(tx, { op: 'consent.grant', actor: tx.creator, patient: a.patient, consentId });
      return json({ consent, auditId });
    }, ['patient']),

    revokeConsent: fn('submit', 'revokeConsent({consentId}) — the patient only', (tx, args) => {
      const a = parseArg(z.strictObject({ consentId: idSchema }), args);
      const c = getJson<Consent>(tx.stub, key('con', a.consentId));
      if (!c) throw new ContractError(`consent ${a.consentId} does not exist`);
      requirePatientSelf(tx, c.patient, 'revokeConsent');
      if (c.status === 'revoked') throw new ContractError(`consent ${a.consentId} is already revoked`);
      putJson(tx.stub, key('con', a.consentId), { ...c, status: 'revoked', revokedAtMs: tx.nowMs });
      tx.stub.deleteState(key('cx', c.patient, a.consentId));
      if (c.grantee.kind === 'user') tx.stub.deleteState(key('cg', c.grantee.user, a.consentId));
      // A consent naming a user, their last one from this patient: remember the revocation (acting
      // on the data after it is a Violation) and take the permission back from their session —
      // Algorithm 1's state-2 Permission edge, "take permission" (2 → 1). Org and role grantees
      // name no session; a user who still holds another consent of this patient keeps it.
      let bmrs: AuditEntry['bmrs'] = null;
      const grantee = c.grantee.kind === 'user' ? c.grantee.user : null;
      const stillConsented = grantee !== null && tx.consentsOf(c.patient).some((o) => o.consentId !== a.consentId && o.grantee.kind === 'user' && o.grantee.user === grantee && o.period.endMs > tx.nowMs);
      if (grantee !== null && !stillConsented) {
        putJson(tx.stub, key('rv', c.patient, grantee), { consentId: a.consentId, revokedAtMs: tx.nowMs } satisfies RevocationMarker);
        const s = tx.session(grantee, c.patient);
        const run = bmrsTakePermission(s.state);
        if (run.to !== s.state) {
          tx.putSession({ ...s, state: run.to, updatedAtMs: tx.nowMs });
          bmrs = { from: run.from, to: run.to, actions: run.steps.map((x) => x.action) };
        }
      }
      return json({ auditId: writeAudit(tx, { op: 'consent.revoke', actor: tx.creator, patient: c.patient, consentId: a.consentId, bmrs }) });
    }, ['patient']),

    listConsents: fn('evaluate', "listConsents({patient}) — the patient's non-revoked consents (the patient only)", (tx, args) => {
      const a = parseArg(z.strictObject({ patient: pseudonymSchema }), args);
      requirePatientSelf(tx, a.patient, 'listConsents');
      const [start, end] = prefixRange('cx', a.patient);
      return json(tx.stub.getStateByRange(start, end).map((kv) => getJson<Consent>(tx.stub, key('con', kv.key.slice(kv.key.lastIndexOf(SEP) + 1)))));
    }),

    // A clinician's starting point (the console's "find a patient"): the patients the caller has
    // a basis for — their active care relations and the unexpired consents naming them. Only
    // pseudonyms: who a patient is stays at their hospital (decision 0906).
    myPatients: fn('evaluate', 'myPatients() → {patients: [{patient, patientOrg, care, consents}]} — the caller\'s active care relations and unexpired consents naming them (at most 200 of each)', (tx, args) => {
      parseArg(z.strictObject({}), args);
      const me = tx.creatorRef;
      const byPatient = new Map<string, { patient: string; patientOrg: string | null; care: { startedAtMs: number } | null; consents: Array<{ consentId: string; actions: readonly string[]; purposes: readonly string[]; endMs: number; maxSensitivity: string }> }>();
      const entry = (patient: string) => {
        let e = byPatient.get(patient);
        if (!e) {
          e = { patient, patientOrg: tx.patientOrgOf(patient), care: null, consents: [] };
          byPatient.set(patient, e);
        }
        return e;
      };
      const [careStart, careEnd] = prefixRange('care', me);
      for (const kv of tx.stub.getStateByRangeWithPagination(careStart, careEnd, MY_PATIENTS_MAX, '').results) {
        const relation = JSON.parse(Buffer.from(kv.value).toString('utf8')) as CareRelation;
        if (relation.active) entry(relation.patient).care = { startedAtMs: relation.startedAtMs };
      }
      const [grantStart, grantEnd] = prefixRange('cg', me);
      for (const kv of tx.stub.getStateByRangeWithPagination(grantStart, grantEnd, MY_PATIENTS_MAX, '').results) {
        const c = getJson<Consent>(tx.stub, key('con', kv.key.slice(kv.key.lastIndexOf(SEP) + 1)));
        if (!c || c.status !== 'active' || c.period.endMs <= tx.nowMs) continue;
        entry(c.patient).consents.push({ consentId: c.consentId, actions: c.actions, purposes: c.purposes, endMs: c.period.endMs, maxSensitivity: c.scope.maxSensitivity });
      }
      return json({ patients: [...byPatient.values()] });
    }),

    exportConsent: fn('evaluate', 'exportConsent({consentId}) → a FHIR R4 Consent (the patient only)', (tx, args) => {
      const a = parseArg(z.strictObject({ consentId: idSchema }), args);
      const c = getJson<Consent>(tx.stub, key('con', a.consentId));
      if (!c) throw new ContractError(`consent ${a.consentId} does not exist`);
      requirePatientSelf(tx, c.patient, 'exportConsent');
      return json(consentResource(c, tx.nowMs));
    }),

    // ---- access applications (PHDMF) --------------------------------------------------------
    apply: fn('submit', 'apply({target, purpose, actions, period, maxSensitivity?}) — a data user applies; the owner decides', (tx, args) => {
      const a = parseArg(applyArgs, args);
      let owner: string;
      if (a.target.kind === 'record') {
        const r = tx.liveRecord(a.target.recordId);
        owner = r.patient;
      } else {
        const ds = tx.dataset(a.target.datasetId);
        if (!ds) throw new ContractError(`dataset ${a.target.datasetId} does not exist`);
        if (!ds.open) throw new ContractError(`dataset ${a.target.datasetId} is closed to applications by its owner`);
        owner = ds.ownerOrg;
      }
      if (a.period.endMs <= tx.nowMs) throw new ContractError('apply: the period has already ended');
      const applicationId = `a${tx.stub.getTxID().slice(0, 32)}`;
      const app: Application = {
        applicationId, applicant: tx.creatorRef, applicantRole: tx.creator.role, target: a.target, owner, purpose: a.purpose, actions: a.actions,
        period: a.period, maxSensitivity: a.maxSensitivity, status: 'pending', appliedAtMs: tx.nowMs, decidedAtMs: null, decidedBy: null,
      };
      putJson(tx.stub, key('app', applicationId), app);
      tx.stub.putState(key('ax', 'owner', owner, applicationId), new Uint8Array(0));
      tx.stub.putState(key('ax', 'applicant', tx.creatorRef, applicationId), new Uint8Array(0));
      const isRecord = a.target.kind === 'record';
      const auditId = writeAudit(tx, {
        op: 'application.apply', actor: tx.creator, purpose: a.purpose, applicationId,
        patient: isRecord ? owner : null, recordId: a.target.kind === 'record' ? a.target.recordId : null, datasetId: a.target.kind === 'dataset' ? a.target.datasetId : null,
      });
      if (isRecord) tx.notify(owner, { auditId, kind: 'application', actor: tx.creatorRef, recordId: a.target.kind === 'record' ? a.target.recordId : null, applicationId });
      return json({ application: applicantView(app), auditId });
    }),

    decideApplication: fn('submit', "decideApplication({applicationId, approve}) — the patient (records) or the owner organisation's admin/supervisor (datasets)", (tx, args) => {
      const a = parseArg(z.strictObject({ applicationId: idSchema, approve: z.boolean() }), args);
      const app = getJson<Application>(tx.stub, key('app', a.applicationId));
      if (!app) throw new ContractError(`application ${a.applicationId} does not exist`);
      if (app.target.kind === 'record') requirePatientSelf(tx, app.owner, 'decideApplication');
      else if (!isStaffOf(tx, app.owner)) throw new ContractError(`decideApplication: only an admin or supervisor of ${app.owner} may decide`);
      if (app.status !== 'pending') throw new ContractError(`application ${a.applicationId} is already ${app.status}`);
      const decided: Application = { ...app, status: a.approve ? 'approved' : 'denied', decidedAtMs: tx.nowMs, decidedBy: app.target.kind === 'record' ? `${tx.creator.org}/patient` : tx.creatorRef };
      putJson(tx.stub, key('app', a.applicationId), decided);
      if (a.approve) {
        const [kind, id] = app.target.kind === 'record' ? ['r', app.target.recordId] as const : ['d', app.target.datasetId] as const;
        tx.stub.putState(key('perm', app.applicant, kind, id, app.applicationId), new Uint8Array(0));
      }
      const auditId = writeAudit(tx, {
        op: a.approve ? 'application.approve' : 'application.deny', actor: tx.creator, purpose: app.purpose, applicationId: app.applicationId,
        patient: app.target.kind === 'record' ? app.owner : null,
        recordId: app.target.kind === 'record' ? app.target.recordId : null,
        datasetId: app.target.kind === 'dataset' ? app.target.datasetId : null,
      });
      return json({ application: decided, auditId });
    }),

    listApplications: fn('evaluate', 'listApplications({owner} | {applicant}) — for the owner (patient / org staff) or the applicant', (tx, args) => {
      const a = parseArg(z.union([z.strictObject({ owner: z.union([pseudonymSchema, orgSchema]) }), z.strictObject({ applicant: userSchema })]), args);
      let parts: string[];
      if ('owner' in a) {
        const allowed = PSEUDONYM_RE.test(a.owner) ? tx.creatorPseudonym === a.owner : isStaffOf(tx, a.owner);
        if (!allowed) throw new ContractError('listApplications: only the owner may list applications addressed to it');
        parts = ['ax', 'owner', a.owner];
      } else {
        if (a.applicant !== tx.creatorRef) throw new ContractError('listApplications: applicants may list only their own applications');
        parts = ['ax', 'applicant', a.applicant];
      }
      const [start, end] = prefixRange(...parts);
      const apps = tx.stub.getStateByRange(start, end).map((kv) => {
        const id = kv.key.slice(kv.key.lastIndexOf(SEP) + 1);
        const app = getJson<Application>(tx.stub, key('app', id));
        if (app === undefined) throw new ContractError(`application index names a missing application ${id}`);
        return app;
      });
      return json('owner' in a ? apps : apps.map(applicantView));
    }),

    // ---- BMRS sessions ----------------------------------------------------------------------
    bmrsSession: fn('evaluate', 'bmrsSession({provider, patient} | {provider, recordId}) → the session state (for the provider, the patient, CAMS admins, the provider\'s admins/supervisors)', (tx, args) => {
      const a = parseArg(sessionArgs, args);
      const patient = sessionPatient(tx, a);
      const cfg = tx.config();
      const c = tx.creator;
      const allowed = tx.creatorRef === a.provider
        || (c.role === 'patient' && tx.creatorPseudonym === patient)
        || (cfg !== undefined && c.org === cfg.camsOrg && c.role === 'admin')
        || isStaffOf(tx, orgOf(a.provider));
      if (!allowed) throw new ContractError('bmrsSession: only the provider, the patient, CAMS admins and the provider\'s admins/supervisors may see this session');
      const s: Session = tx.session(a.provider, patient);
      return json({ ...s, stateName: BMRS_STATE_NAMES[s.state], reauthorizeBy: cfg?.camsOrg ?? null });
    }),

    bmrsReauthorize: fn('submit', "bmrsReauthorize({provider, patient} | {provider, recordId}) — CAMS (an admin of the configured CAMS organisation) revives a dead session into state 1", (tx, args) => {
      const a = parseArg(sessionArgs, args);
      const cfg = tx.config();
      if (!cfg) throw new ContractError('bmrsReauthorize: the contract is not initialized (no CAMS organisation)');
      if (tx.creator.org !== cfg.camsOrg || tx.creator.role !== 'admin') throw new ContractError(`bmrsReauthorize: only an admin of the CAMS organisation ${cfg.camsOrg} may re-authorize`);
      const patient = sessionPatient(tx, a);
      const s = tx.session(a.provider, patient);
      if (s.state !== 3) throw new ContractError(`bmrsReauthorize: the session of ${a.provider} is in state ${s.state} (${BMRS_STATE_NAMES[s.state]}), not dead`);
      tx.putSession({ ...s, state: 1, updatedAtMs: tx.nowMs });
      const auditId = writeAudit(tx, { op: 'bmrs.reauthorize', actor: tx.creator, patient, recordId: 'recordId' in a ? a.recordId : null, reasons: [`session of ${a.provider}: 3 → 1`] });
      return json({ auditId, provider: a.provider, patient, from: 3, state: 1, stateName: BMRS_STATE_NAMES[1] });
    }, ['admin']),

    // ---- datasets and statistics ------------------------------------------------------------
    registerDataset: fn('submit', "registerDataset({datasetId, name, description?, columns, cid, sizeBytes, recordCount, open?, minCohort?, queryBudget?}) — the creator's organisation owns it; minCohort (≥ the consortium floor) and queryBudget bound statistics over it", (tx, args) => {
      const a = parseArg(registerDatasetArgs, args);
      if (tx.dataset(a.datasetId)) throw new ContractError(`dataset ${a.datasetId} already exists`);
      const ds: Dataset = { ...a, ownerOrg: tx.creator.org, registeredBy: tx.creatorRef, registeredAtMs: tx.nowMs };
      putJson(tx.stub, key('ds', a.datasetId), ds);
      const auditId = writeAudit(tx, { op: 'dataset.register', actor: tx.creator, datasetId: a.datasetId, custodian: ds.ownerOrg });
      return json({ dataset: ds, auditId });
    }, ['admin', 'supervisor']),

    setDatasetAccess: fn('submit', "setDatasetAccess({datasetId, open}) — the owner organisation's admin/supervisor opens or closes the listing to applications", (tx, args) => {
      const a = parseArg(z.strictObject({ datasetId: idSchema, open: z.boolean() }), args);
      const ds = tx.dataset(a.datasetId);
      if (!ds) throw new ContractError(`dataset ${a.datasetId} does not exist`);
      if (!isStaffOf(tx, ds.ownerOrg)) throw new ContractError(`setDatasetAccess: only an admin or supervisor of ${ds.ownerOrg} may change it`);
      putJson(tx.stub, key('ds', a.datasetId), { ...ds, open: a.open });
      const auditId = writeAudit(tx, { op: 'dataset.access', actor: tx.creator, datasetId: a.datasetId, custodian: ds.ownerOrg, reasons: [a.open ? 'opened to applications' : 'closed to applications'] });
      return json({ datasetId: a.datasetId, open: a.open, auditId });
    }),

    listDatasets: fn('evaluate', 'listDatasets({pageSize?, bookmark?}) — the data market', (tx, args) => {
      const a = parseArg(pageArgs, args);
      const [start, end] = prefixRange('ds');
      if (a.bookmark !== '' && !(a.bookmark >= start && a.bookmark < end)) throw new ContractError('bookmark does not belong to this query');
      const page = tx.stub.getStateByRangeWithPagination(start, end, a.pageSize, a.bookmark);
      return json({ datasets: page.results.map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as Dataset), bookmark: page.bookmark });
    }),

    requestStatistics: fn('submit', 'requestStatistics({datasetIds, variable, purpose, histogram, minCohort?}) — needs an approved application (statistics) and query budget left for every dataset; the threshold is max(consortium floor, the owners\' minimums, minCohort)', (tx, args) => {
      const a = parseArg(statsRequestArgs, args);
      const requestId = `s${tx.stub.getTxID().slice(0, 32)}`;
      const datasets = a.datasetIds.map((datasetId) => ({ datasetId, ds: tx.dataset(datasetId), d: decide(tx.datasetFacts(tx.creator, 'statistics', a.purpose, datasetId)) }));
      // A caller may raise the threshold, never lower it (decision 1163).
      const minCohort = effectiveMinCohort([a.minCohort, ...datasets.map((x) => x.ds?.minCohort)]);
      // The query budget: each answer is one more view of the same rows (differencing), so each
      // requester has a bounded number per dataset. Only requests the rules allow are counted.
      const budgets = datasets.map((x) => {
        const budget = x.ds?.queryBudget ?? LIMITS.statsQueryBudgetDefault;
        const used = getJson<{ used: number }>(tx.stub, key('sqb', x.datasetId, tx.creatorRef))?.used ?? 0;
        return { datasetId: x.datasetId, used, budget };
      });
      const refusals = datasets.map((x, i) => {
        if (x.d.decision === 'deny') return x.d.reasons;
        const b = budgets[i]!;
        return b.used >= b.budget ? [`query budget exhausted: ${tx.creatorRef} has made all ${b.budget} statistics requests its owner allows over this dataset`] : [];
      });
      const allowed = refusals.every((r) => r.length === 0);
      datasets.forEach((x, i) => {
        const refused = refusals[i]!;
        writeAudit(tx, {
          op: 'stats.request', actor: tx.creator, purpose: a.purpose, datasetId: x.datasetId, custodian: x.ds?.ownerOrg ?? null, decision: x.d,
          ...(refused.length && x.d.decision === 'allow' ? { outcome: 'deny' as const, reasons: refused } : {}),
        });
      });
      const reasons = datasets.flatMap((x, i) => (refusals[i]!.length ? [`dataset ${x.datasetId}: ${refusals[i]!.join('; ')}`] : []));
      if (allowed) for (const b of budgets) putJson(tx.stub, key('sqb', b.datasetId, tx.creatorRef), { used: b.used + 1 });
      const inputs = datasets.map((x) => ({ datasetId: x.datasetId, cid: x.ds?.cid ?? null, ownerOrg: x.ds?.ownerOrg ?? null }));
      const budgetsAfter = budgets.map((b) => ({ ...b, used: allowed ? b.used + 1 : b.used }));
      const request = {
        requestId, requester: tx.creatorRef, datasetIds: a.datasetIds, inputs, variable: a.variable, purpose: a.purpose, histogram: a.histogram,
        minCohort, requestedMinCohort: a.minCohort ?? null, budgets: budgetsAfter,
        status: allowed ? 'requested' : 'refused', reasons, requestedAtMs: tx.nowMs, result: null, completedAtMs: null,
      };
      putJson(tx.stub, key('st', requestId), request);
      return json({ allowed, requestId, reasons, minCohort, budgets: budgetsAfter, inputs: allowed ? inputs : [] });
    }),

    recordStatisticsResult: fn('submit', 'recordStatisticsResult({requestId, result}) — the requester (or its node) records the combined result; refused unless it obeys the disclosure rule at the request\'s threshold', (tx, args) => {
      const a = parseArg(statsResultArgs, args);
      const st = getJson<{ requester: string; status: string; minCohort: number; histogram: HistogramSpec; datasetIds: string[]; purpose: Purpose }>(tx.stub, key('st', a.requestId));
      if (!st) throw new ContractError(`statistics request ${a.requestId} does not exist`);
      const requesterOrg = st.requester.slice(0, st.requester.indexOf('/'));
      if (tx.creatorRef !== st.requester && !(tx.creator.org === requesterOrg && tx.creator.role === 'peer')) throw new ContractError('recordStatisticsResult: only the requester or its node may record the result');
      if (st.status !== 'requested') throw new ContractError(`statistics request ${a.requestId} is ${st.status}`);
      // Recomputed rather than trusted: a request stored before decision 1163 may carry a minCohort under the floor.
      const minCohort = effectiveMinCohort([st.minCohort, ...st.datasetIds.map((id) => tx.dataset(id)?.minCohort)]);
      const problem = disclosureProblem(a.result, { minCohort, spec: st.histogram });
      if (problem) throw new ContractError(`recordStatisticsResult: ${problem}`);
      putJson(tx.stub, key('st', a.requestId), { ...st, status: 'completed', result: a.result, completedAtMs: tx.nowMs });
      for (const datasetId of st.datasetIds) writeAudit(tx, { op: 'stats.result', actor: tx.creator, purpose: st.purpose, datasetId });
      return json({ requestId: a.requestId, status: 'completed' });
    }),

    getStatistics: fn('evaluate', 'getStatistics({requestId}) — the request, its inputs and result', (tx, args) => {
      const a = parseArg(z.strictObject({ requestId: idSchema }), args);
      const st = getJson<{ requester: string }>(tx.stub, key('st', a.requestId));
      if (!st) throw new ContractError(`statistics request ${a.requestId} does not exist`);
      return json(st);
    }),

    // ---- audit queries ----------------------------------------------------------------------
    auditTrail: fn('evaluate', "auditTrail({kind: record|patient|org|dataset, …, pageSize?, bookmark?}) — provenance / 'who saw my data' / an organisation's trail", (tx, args) => {
      return json(auditQuery(tx, parseArg(auditQueryArgs, args)));
    }),

    exportAuditEvents: fn('evaluate', 'exportAuditEvents(same query as auditTrail) → a FHIR R4 Bundle of AuditEvent', (tx, args) => {
      const page = auditQuery(tx, parseArg(auditQueryArgs, args));
      return json({ bundle: auditEventBundle(page.entries), bookmark: page.bookmark });
    }),

    exportProvenance: fn('evaluate', "exportProvenance({recordId, pageSize?, bookmark?}) → a FHIR R4 Bundle of Provenance for the record's create/update/erase", (tx, args) => {
      const a = parseArg(z.strictObject({ recordId: idSchema }).and(pageArgs), args);
      const page = auditQuery(tx, { kind: 'record', recordId: a.recordId, pageSize: a.pageSize, bookmark: a.bookmark });
      return json({ bundle: provenanceBundle(page.entries), bookmark: page.bookmark });
    }),

    notifications: fn('evaluate', "notifications({patient, pageSize?, bookmark?}) — the patient's feed (the patient only)", (tx, args) => {
      const a = parseArg(z.strictObject({ patient: pseudonymSchema }).and(pageArgs), args);
      requirePatientSelf(tx, a.patient, 'notifications');
      const [start, end] = prefixRange('nf', a.patient);
      if (a.bookmark !== '' && !(a.bookmark >= start && a.bookmark < end)) throw new ContractError('bookmark does not belong to this query');
      const page = tx.stub.getStateByRangeWithPagination(start, end, a.pageSize, a.bookmark);
      return json({ notifications: page.results.map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as Notification), bookmark: page.bookmark });
    }),
  },
};
