// What every area of the health contract shares (contract.ts composes the areas): argument
// parsing, the audited decision on a record, audit entries, BMRS notices, audit queries and the
// `fn` wrapper that gives each function its HealthTx.
import { z } from 'zod';
import { hashValue, toHex } from '../../codec/index.ts';
import type { ChaincodeStub } from '../stub.ts';
import { ContractError, type ContractFunction } from '../runtime.ts';
import { BMRS_STATE_NAMES } from './bmrs.ts';
import {
  idSchema,
  orderArgs,
  orgSchema,
  pageArgs,
  pseudonymSchema,
  sensitivityRank,
  userSchema,
  type Action,
  type Actor,
  type Application,
  type ErasedEntry,
  type Purpose,
  type RecordEntry,
  type Sensitivity,
} from './model.ts';
import { decide, type Decision } from './rules.ts';
import { getJson, HealthTx, key, pad, pageIndex, type AuditEntry, type AuditOp } from './state.ts';

export const HEALTH_CONTRACT = 'health';
export const STAFF_ADMIN_ROLES = ['admin', 'supervisor'];
/** Actions whose allowed `access` releases content (CIDs, commitments): a write or statistics permission is not a licence to read. */
export const CONTENT_ACTIONS: readonly Action[] = ['read', 'share'];

export function parseArg<T extends z.ZodType>(schema: T, args: readonly string[]): z.output<T> {
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

export function json(value: unknown): string {
  return JSON.stringify(value);
}

export function isErased(r: RecordEntry | ErasedEntry): r is ErasedEntry {
  return 'erased' in r;
}

/** The outcome a denied/allowed access returns to the caller. */
export function verdict(d: Decision, auditId: string, extra: Record<string, unknown> = {}): string {
  return json({
    allowed: d.decision === 'allow',
    decision: d.decision,
    reasons: d.reasons,
    flags: d.flags,
    basis: d.basis,
    bmrs: d.bmrs ? { from: d.bmrs.from, to: d.bmrs.to, steps: d.bmrs.steps } : null,
    auditId,
    ...extra,
  });
}

/**
 * What a governed requester is told about their BMRS session with the patient (decision 0901):
 * its state, and — when a violation is recorded, the session dies, or it is already dead — what
 * happened and how CAMS re-authorizes it (`reauthorizeArgs`: bmrsReauthorize's exact argument —
 * the record, or for a record being created the patient the writer named). Null for accesses
 * outside BMRS (a patient's own data).
 */
export function sessionNotice(
  tx: HealthTx,
  d: Decision,
  provider: string,
  target: { recordId: string; patient: string; isNew: boolean },
): Record<string, unknown> | null {
  if (!d.bmrs) return null;
  const camsOrg = tx.config()?.camsOrg ?? null;
  const reauthorizeArgs = target.isNew ? { provider, patient: target.patient } : { provider, recordId: target.recordId };
  const argText = target.isNew
    ? `{"provider": "${provider}", "patient": "${target.patient}"}`
    : `{"provider": "${provider}", "recordId": "${target.recordId}"}`;
  const revive = `CAMS re-authorizes it: an admin of ${camsOrg ?? 'the CAMS organisation'} submits bmrsReauthorize(${argText})`;
  let notice: string | null = null;
  if (d.bmrs.from === 3) notice = `your BMRS session with this patient is dead (state 3): every request is refused, break-the-glass included, until ${revive}`;
  else if (d.bmrs.to === 3)
    notice = `this violation ended your BMRS session with this patient (state 3, dead): every further request is refused, break-the-glass included, until ${revive}`;
  else if (d.flags.includes('bmrs-violation'))
    notice = 'recorded as a BMRS violation (a security alert the patient is notified of): one more ends your session with this patient';
  return { provider, state: d.bmrs.to, stateName: BMRS_STATE_NAMES[d.bmrs.to], dead: d.bmrs.to === 3, reauthorizeBy: camsOrg, reauthorizeArgs, notice };
}

export function bmrsSummary(d: Decision): AuditEntry['bmrs'] {
  return d.bmrs ? { from: d.bmrs.from, to: d.bmrs.to, actions: d.bmrs.steps.map((s) => s.action) } : null;
}

export function basisText(d: Decision): string | null {
  if (!d.basis) return null;
  if (d.basis.rule === 'consent') return `consent:${d.basis.consentId}`;
  if (d.basis.rule === 'application') return `application:${d.basis.applicationId}`;
  return d.basis.rule;
}

export const ACCESS_OPS: Record<Action, AuditOp> = { read: 'access.read', write: 'access.write', share: 'access.share', statistics: 'access.statistics' };

export interface AuditBase {
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
  /** A dataset download's part (decision 1260). */
  readonly selection?: AuditEntry['selection'];
}

export function writeAudit(tx: HealthTx, a: AuditBase): string {
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
    ...(a.selection !== undefined ? { selection: a.selection } : {}),
  });
}

/**
 * Decide one access to a record, apply its BMRS steps, write its audit entry and the patient's
 * notification (break-the-glass, a Violation, a session's death). Used by `access`, createRecord
 * and updateRecord. `notes` (what an allowed read withheld, and why) join the audit entry's reasons.
 */
export function decideRecordAccess(
  tx: HealthTx,
  requester: Actor,
  action: Action,
  purpose: Purpose,
  reason: string | null,
  target: {
    recordId: string;
    patient: string;
    custodian: string;
    category: string;
    sensitivity: Sensitivity;
    isNew: boolean;
    exists: boolean;
    author?: string;
  },
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

export function recordTarget(r: RecordEntry, sensitivity?: Sensitivity) {
  return {
    recordId: r.recordId,
    patient: r.patient,
    custodian: r.custodian,
    category: r.category,
    sensitivity: sensitivity ?? r.sensitivity,
    isNew: false,
    exists: true,
    author: r.author,
  };
}

export function missingTarget(recordId: string) {
  return { recordId, patient: '', custodian: '', category: 'file', sensitivity: 'normal' as Sensitivity, isNew: false, exists: false };
}

export function liveOrMissing(tx: HealthTx, recordId: string): RecordEntry | null {
  const r = tx.record(recordId);
  return r === undefined || isErased(r) ? null : r;
}

/** A request for "up to restricted" on a record that holds nothing above normal is decided as normal. */
export function clampTo(r: RecordEntry, s: Sensitivity | undefined): Sensitivity {
  return s === undefined || sensitivityRank(s) > sensitivityRank(r.sensitivity) ? r.sensitivity : s;
}

/**
 * A write of content prepared off chain must be timestamped before that content expires at the
 * custodian (decision 1160): after it, the custodian may sweep the blobs and keys.
 */
export function refuseExpiredPreparation(tx: HealthTx, recordId: string, notAfterMs: number | undefined): void {
  if (notAfterMs !== undefined && tx.nowMs > notAfterMs) {
    throw new ContractError(
      `the prepared content of record ${recordId} expired at ${new Date(notAfterMs).toISOString()} (the custodian may have deleted it): prepare it again`,
    );
  }
}

/** The parts a caller receives: those at or below the sensitivity it was allowed. */
export function partsUpTo(r: RecordEntry, s: Sensitivity) {
  return r.parts.filter((p) => sensitivityRank(p.sensitivity) <= sensitivityRank(s));
}

/** A BMRS session is named by its provider and the patient, or a record of that patient. */
export const sessionArgs = z.union([
  z.strictObject({ provider: userSchema, patient: pseudonymSchema }),
  z.strictObject({ provider: userSchema, recordId: idSchema }),
]);

export function sessionPatient(tx: HealthTx, a: z.output<typeof sessionArgs>): string {
  return 'patient' in a ? a.patient : tx.liveRecord(a.recordId).patient;
}

export function requirePatientSelf(tx: HealthTx, patient: string, what: string): void {
  if (tx.creatorPseudonym !== patient) throw new ContractError(`${what}: only the patient may do this`);
}

/**
 * An application as its applicant sees it: for a record, without the owner — the patient's
 * pseudonym is the patient's to reveal, and an applicant needs only the application's status.
 */
export function applicantView(app: Application): Application | Omit<Application, 'owner'> {
  if (app.target.kind !== 'record') return app;
  const { owner: _owner, ...view } = app;
  return view;
}

export function isStaffOf(tx: HealthTx, org: string): boolean {
  return tx.creator.org === org && STAFF_ADMIN_ROLES.includes(tx.creator.role);
}

export function loadAudit(stub: ChaincodeStub, ids: readonly string[]): AuditEntry[] {
  return ids.map((id) => {
    const e = getJson<AuditEntry>(stub, key('au', id));
    if (!e) throw new ContractError(`audit index names a missing entry ${id}`);
    return e;
  });
}

export function commitmentsDigest(stub: ChaincodeStub, recordId: string, versions: number): string {
  const all: string[][] = [];
  for (let v = 1; v <= versions; v++) {
    const e = getJson<RecordEntry>(stub, key('recv', recordId, pad(v, 6)));
    if (e) all.push(e.parts.map((p) => p.commitment));
  }
  return toHex(hashValue(all));
}

export const auditQueryArgs = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('record'), recordId: idSchema }),
    // `org`: what that organisation's trail holds about the patient, for its admins and
    // supervisors; without it, the patient's own log, for the patient alone.
    z.strictObject({ kind: z.literal('patient'), patient: pseudonymSchema, org: orgSchema.optional() }),
    z.strictObject({ kind: z.literal('org'), org: orgSchema }),
    z.strictObject({ kind: z.literal('dataset'), datasetId: idSchema }),
  ])
  .and(pageArgs)
  .and(orderArgs);
export type AuditQuery = z.output<typeof auditQueryArgs>;

/** Who may read which audit trail (decision 0905). Throws when the caller may not. */
export function auditQuery(tx: HealthTx, q: AuditQuery): { entries: AuditEntry[]; bookmark: string } {
  const c = tx.creator;
  let parts: string[];
  let keep: ((e: AuditEntry) => boolean) | null = null;
  if (q.kind === 'record') {
    const r = tx.record(q.recordId);
    if (!r) throw new ContractError(`record ${q.recordId} does not exist`);
    let allowed = isStaffOf(tx, r.custodian);
    if (!allowed && !isErased(r)) {
      allowed = tx.creatorPseudonym === r.patient || decide(tx.recordFacts(c, 'read', 'TREAT', null, recordTarget(r, 'normal'))).decision === 'allow';
    }
    if (!allowed)
      throw new ContractError(`provenance of record ${q.recordId}: only the patient, the custodian's admins/supervisors and readers of the record may see it`);
    parts = ['aix', 'rec', q.recordId];
  } else if (q.kind === 'patient') {
    if (q.org === undefined) requirePatientSelf(tx, q.patient, 'access log');
    else {
      const org = q.org;
      if (!isStaffOf(tx, org)) throw new ContractError(`audit trail of ${org}: only its admins and supervisors may see it`);
      // The entries of the org's trail (indexed there, state.ts `audit`) that are about this patient.
      keep = (e) => e.actor.org === org || e.custodian === org || e.recordedBy?.org === org;
    }
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
  const page = pageIndex(tx.stub, parts, q.pageSize, q.bookmark, q.order === 'newest' ? 'descending' : 'ascending');
  const entries = loadAudit(tx.stub, page.ids);
  // Filtered, a page reads pageSize entries and returns those kept: it may be short, even empty,
  // while its bookmark says more follow — the read stays bounded by the page size either way.
  return { entries: keep ? entries.filter(keep) : entries, bookmark: page.bookmark };
}

export function fn(
  kind: 'submit' | 'evaluate',
  description: string,
  handler: (tx: HealthTx, args: readonly string[]) => string,
  roles?: readonly string[],
): ContractFunction {
  return { kind, description, ...(roles ? { roles } : {}), handler: (stub, args) => handler(new HealthTx(stub), args) };
}
