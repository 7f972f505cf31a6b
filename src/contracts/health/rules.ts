// THE access rule engine: one pure function from on-chain facts and a request to a decision.
// Every path that touches health data — the `access` function, the custodian's batched read
// events, record creation and update, statistics requests — collects its facts from world state
// (state.ts loadFacts) and calls decide(). Nothing else grants access.
//
// Order of evaluation:
//   1. hard refusals: the target does not exist (or was erased); the requester's BMRS session with
//      the patient is dead (state 3) — nothing passes until CAMS re-authorizes;
//   2. allow rules, first match wins (the basis is recorded): own record (patient), care relation
//      (doctor), own hospital (supervisor), patient consent, approved application, break-the-glass;
//      each says who decided (decision 0903): the patient (own record, a care relation they
//      started, consent, approving an application), the patient's own hospital under a clinical
//      rule (a care relation it started for its own doctor, its supervisor reading the records it
//      holds of its own patients), or an emergency (break-the-glass, flagged and notified);
//   3. otherwise deny, with one reason per rule explaining why it did not apply.
// For patient data the requester's BMRS session is then driven (bmrs.ts bmrsDrive): an allowed
// access is a Permission; a denial is a Violation only when the request is one the requester
// cannot honestly make (violationOf) — an honest request the rules do not cover is refused and
// audited but leaves the session alone (decision 0901). A patient acting on their own data is the
// BMRS "user", not a service provider: no session is kept for them.
import { bmrsDrive, type BmrsRun, type BmrsState } from './bmrs.ts';
import {
  DEVICE_CATEGORIES,
  EMERGENCY_PURPOSES,
  LAB_CATEGORIES,
  sensitivityRank,
  type Action,
  type Application,
  type Consent,
  type Grantee,
  type Purpose,
  type Sensitivity,
} from './model.ts';

export interface Requester {
  readonly org: string;
  readonly id: string;
  readonly role: string;
  /**
   * The pseudonym this requester owns: an enrolled patient's certificate is issued to it and
   * comes from the hospital that enrolled it (decision 0906); null for everyone else.
   */
  readonly pseudonym: string | null;
}

/** An active care relation between the requester (as doctor) and the record's patient. */
export interface CareFact {
  /** The patient started it; otherwise staff of a hospital did. */
  readonly startedByPatient: boolean;
}

/** What is being accessed. */
export type Subject =
  | {
      readonly kind: 'record';
      readonly recordId: string;
      /** False when the record does not exist or was erased. */
      readonly exists: boolean;
      readonly patient: string;
      /** The patient's own hospital: the organisation that enrolled the pseudonym ('' if unknown). */
      readonly patientOrg: string;
      readonly custodian: string;
      readonly category: string;
      /** Highest sensitivity among the parts requested (or being written). */
      readonly sensitivity: Sensitivity;
      /** True for a record being created (consents scoped to record ids cannot name it yet). */
      readonly isNew: boolean;
      /** Who wrote the current version ('<org>/<id>'); '' or absent for a record being created. */
      readonly author?: string;
    }
  | { readonly kind: 'dataset'; readonly datasetId: string; readonly exists: boolean; readonly ownerOrg: string };

export interface AccessFacts {
  readonly nowMs: number;
  readonly requester: Requester;
  readonly action: Action;
  readonly purpose: Purpose;
  readonly reason: string | null;
  readonly subject: Subject;
  /** The active care relation between requester (as doctor) and the subject's patient, or null. */
  readonly care: CareFact | null;
  /** The patient's consents (active index; expiry is checked here against nowMs). */
  readonly consents: readonly Consent[];
  /** The requester's approved applications for this subject. */
  readonly applications: readonly Application[];
  /** The requester's BMRS session state with the subject's patient (0 when none). */
  readonly session: BmrsState;
  /**
   * The patient revoked a consent that named this requester (and has granted them none since):
   * acting on the patient's data anyway is a Violation. Absent: none.
   */
  readonly revokedConsent?: { readonly consentId: string; readonly revokedAtMs: number } | null;
}

export type Basis =
  | { readonly rule: 'own-record' }
  | { readonly rule: 'care-relation' }
  | { readonly rule: 'supervisor-own-hospital' }
  | { readonly rule: 'lab-result' }
  | { readonly rule: 'lab-own-result' }
  | { readonly rule: 'device-observation' }
  | { readonly rule: 'consent'; readonly consentId: string }
  | { readonly rule: 'application'; readonly applicationId: string }
  | { readonly rule: 'break-the-glass' };

export type Flag = 'break-the-glass' | 'security-alert' | 'notify-patient' | 'bmrs-violation' | 'bmrs-dead';

export interface Decision {
  readonly decision: 'allow' | 'deny';
  readonly reasons: readonly string[];
  readonly flags: readonly Flag[];
  readonly basis: Basis | null;
  /** Present when the access concerns a patient's data and the requester is a service provider. */
  readonly bmrs: BmrsRun | null;
}

/** Role rules (paper 000): which actions and purposes each role's built-in rule covers. */
export const CARE_ACTIONS: readonly Action[] = ['read', 'write'];
export const CARE_PURPOSES: readonly Purpose[] = ['TREAT', 'ETREAT'];
export const SUPERVISOR_ACTIONS: readonly Action[] = ['read'];
export const SUPERVISOR_PURPOSES: readonly Purpose[] = ['TREAT', 'ETREAT', 'HOPERAT'];
export const PATIENT_ACTIONS: readonly Action[] = ['read', 'share'];
/** A laboratory adds and corrects results, and reads back what it wrote (decision 1253). */
export const LAB_ACTIONS: readonly Action[] = ['read', 'write'];
export const LAB_PURPOSES: readonly Purpose[] = ['TREAT'];
export const DEVICE_PURPOSES: readonly Purpose[] = ['TREAT'];
/** Role rules stop below this level for reads/shares: restricted needs explicit consent or BTG. */
export const ROLE_RULE_CEILING: Sensitivity = 'sensitive';

export function granteeMatches(grantee: Grantee, r: Requester): boolean {
  switch (grantee.kind) {
    case 'user':
      return grantee.user === `${r.org}/${r.id}`;
    case 'org':
      // "Everyone at Hospital2" is the people who work there: its other patients hold
      // certificates of Hospital2 too, and a patient consenting to a hospital does not open their
      // records to them (decision 0916). A consent to the role "patient" still can, by name.
      return grantee.org === r.org && r.role !== 'patient';
    case 'role':
      return grantee.role === r.role && (grantee.org === undefined || grantee.org === r.org);
  }
}

function inPeriod(nowMs: number, p: { readonly startMs: number; readonly endMs: number }): boolean {
  return nowMs >= p.startMs && nowMs < p.endMs;
}

/** Role-rule ceilings apply to disclosure (read, share, statistics), not to writing. */
function withinCeiling(action: Action, s: Sensitivity, ceiling: Sensitivity): boolean {
  return action === 'write' || sensitivityRank(s) <= sensitivityRank(ceiling);
}

/** Why a consent does not cover the request, or null when it does. */
export function consentMismatch(c: Consent, f: AccessFacts): string | null {
  const s = f.subject;
  if (s.kind !== 'record') return 'consents cover patient records, not datasets';
  if (c.patient !== s.patient) return 'for another patient';
  if (c.status !== 'active') return 'revoked';
  if (f.nowMs < c.period.startMs) return 'not yet in force';
  if (f.nowMs >= c.period.endMs) return 'expired';
  if (!granteeMatches(c.grantee, f.requester)) return 'granted to someone else';
  if (!c.actions.includes(f.action)) return `does not allow ${f.action}`;
  if (!c.purposes.includes(f.purpose)) return `does not allow purpose ${f.purpose}`;
  if (c.scope.recordIds.length > 0 && (s.isNew || !c.scope.recordIds.includes(s.recordId))) return 'scoped to other records';
  if (c.scope.categories.length > 0 && !c.scope.categories.includes(s.category)) return 'scoped to other categories';
  if (sensitivityRank(s.sensitivity) > sensitivityRank(c.scope.maxSensitivity))
    return `covers sensitivity up to ${c.scope.maxSensitivity}, not ${s.sensitivity}`;
  return null;
}

export function applicationMismatch(a: Application, f: AccessFacts): string | null {
  const s = f.subject;
  if (a.status !== 'approved') return a.status;
  if (a.applicant !== `${f.requester.org}/${f.requester.id}`) return 'made by someone else';
  if (
    s.kind === 'record' ? a.target.kind !== 'record' || a.target.recordId !== s.recordId : a.target.kind !== 'dataset' || a.target.datasetId !== s.datasetId
  ) {
    return 'for another target';
  }
  if (!inPeriod(f.nowMs, a.period)) return f.nowMs < a.period.startMs ? 'not yet in force' : 'expired';
  if (!a.actions.includes(f.action)) return `does not allow ${f.action}`;
  if (a.purpose !== f.purpose) return `approved for purpose ${a.purpose}, not ${f.purpose}`;
  if (s.kind === 'record' && f.action !== 'write' && sensitivityRank(s.sensitivity) > sensitivityRank(a.maxSensitivity)) {
    return `approved up to sensitivity ${a.maxSensitivity}, not ${s.sensitivity}`;
  }
  return null;
}

/** The rules without the BMRS session: which rule allows, or why none does. */
export function evaluateRules(f: AccessFacts): { basis: Basis | null; reasons: string[] } {
  const r = f.requester;
  const s = f.subject;
  const reasons: string[] = [];
  // Laboratories and devices have exactly their own rule (decision 1253): no consent, application
  // or break-the-glass widens it, so they return here whatever it says.
  if (r.role === 'laboratory') return laboratoryRule(f);
  if (r.role === 'device') return deviceRule(f);
  if (s.kind === 'record') {
    if (r.role === 'patient') {
      if (r.pseudonym !== null && r.pseudonym === s.patient) {
        if (PATIENT_ACTIONS.includes(f.action)) return { basis: { rule: 'own-record' }, reasons: [] };
        reasons.push(`own record: patients may ${PATIENT_ACTIONS.join(' and ')} their records, not ${f.action}`);
      } else {
        reasons.push("own record: not this patient's record");
      }
    }
    if (r.role === 'doctor') {
      if (f.care === null) reasons.push("care relation: the patient is not in this doctor's care");
      // Only the patient, or the patient's own hospital for one of its own doctors, can put a
      // patient in a doctor's care; a relation started by anyone else (before this rule, another
      // hospital's admin for its own doctor) would be a consent the patient never gave.
      else if (!f.care.startedByPatient && r.org !== s.patientOrg) reasons.push('care relation: neither the patient nor their own hospital started it');
      else if (!CARE_ACTIONS.includes(f.action)) reasons.push(`care relation: covers ${CARE_ACTIONS.join(' and ')}, not ${f.action}`);
      else if (!CARE_PURPOSES.includes(f.purpose)) reasons.push(`care relation: covers purposes ${CARE_PURPOSES.join(', ')}, not ${f.purpose}`);
      else if (!withinCeiling(f.action, s.sensitivity, ROLE_RULE_CEILING))
        reasons.push(`care relation: ${s.sensitivity} data needs explicit consent or break-the-glass`);
      else return { basis: { rule: 'care-relation' }, reasons: [] };
    }
    if (r.role === 'supervisor') {
      if (s.isNew || s.custodian !== r.org) reasons.push('own hospital: the record is held by another organisation');
      // A hospital holding a record of another hospital's patient holds it because the patient
      // let one of its doctors write it; that does not let its supervisor read it too.
      else if (s.patientOrg !== r.org) reasons.push('own hospital: the patient is registered with another hospital (their consent is needed)');
      else if (!SUPERVISOR_ACTIONS.includes(f.action)) reasons.push(`own hospital: supervisors may read, not ${f.action}`);
      else if (!SUPERVISOR_PURPOSES.includes(f.purpose)) reasons.push(`own hospital: covers purposes ${SUPERVISOR_PURPOSES.join(', ')}, not ${f.purpose}`);
      else if (!withinCeiling(f.action, s.sensitivity, ROLE_RULE_CEILING)) reasons.push(`own hospital: ${s.sensitivity} data needs explicit consent`);
      else return { basis: { rule: 'supervisor-own-hospital' }, reasons: [] };
    }
    // Why each consent naming the requester does not cover the request, by its id. Consents that
    // name someone else are not the requester's business: a refusal does not say whether the
    // patient has any, how many, or their ids (decision 0915).
    const consentWhy: string[] = [];
    for (const c of f.consents) {
      const why = consentMismatch(c, f);
      if (why === null) return { basis: { rule: 'consent', consentId: c.consentId }, reasons: [] };
      if (granteeMatches(c.grantee, r)) consentWhy.push(`${c.consentId} ${why}`);
    }
    reasons.push(consentWhy.length === 0 ? 'consent: no consent of the patient names the requester' : `consent: ${consentWhy.slice(0, 5).join('; ')}`);
  }
  const appWhy: string[] = [];
  for (const a of f.applications) {
    const why = applicationMismatch(a, f);
    if (why === null) return { basis: { rule: 'application', applicationId: a.applicationId }, reasons: [] };
    appWhy.push(`${a.applicationId} ${why}`);
  }
  reasons.push(f.applications.length === 0 ? 'application: no approved access application' : `application: ${appWhy.slice(0, 5).join('; ')}`);
  if (s.kind === 'record' && r.role === 'doctor' && EMERGENCY_PURPOSES.includes(f.purpose)) {
    if (f.action !== 'read') reasons.push(`break-the-glass: allows read, not ${f.action}`);
    else if (f.reason === null || f.reason === '') reasons.push('break-the-glass: a reason is required');
    else return { basis: { rule: 'break-the-glass' }, reasons: [] };
  }
  return { basis: null, reasons };
}

/**
 * A hospital's laboratory: adds results (LAB_CATEGORIES) for patients registered with its own
 * hospital — the order that asked for them lives in the hospital's own systems, the chain checks
 * the patient is the hospital's — and reads or corrects only the current version it wrote.
 * Never datasets, never another writer's record, never a share.
 */
function laboratoryRule(f: AccessFacts): { basis: Basis | null; reasons: string[] } {
  const r = f.requester;
  const s = f.subject;
  const deny = (why: string) => ({ basis: null, reasons: [`laboratory: ${why}`] });
  if (s.kind !== 'record') return deny('laboratories write and read results, not datasets');
  if (!LAB_ACTIONS.includes(f.action)) return deny(`may ${LAB_ACTIONS.join(' and ')} results, not ${f.action}`);
  if (!LAB_PURPOSES.includes(f.purpose)) return deny(`covers purpose ${LAB_PURPOSES.join(', ')}, not ${f.purpose}`);
  if (s.isNew) {
    if (!LAB_CATEGORIES.includes(s.category)) return deny(`adds results (${LAB_CATEGORIES.join(', ')}), not ${s.category}`);
    if (s.patientOrg !== r.org) return deny(`the patient is not registered with ${r.org}`);
    return { basis: { rule: 'lab-result' }, reasons: [] };
  }
  if (s.author !== `${r.org}/${r.id}` || s.custodian !== r.org) return deny('reads and corrects only the results it wrote');
  return { basis: { rule: 'lab-own-result' }, reasons: [] };
}

/**
 * A device (a sensor): appends observations (DEVICE_CATEGORIES) for patients registered with its
 * own hospital; it reads, changes, shares nothing.
 */
function deviceRule(f: AccessFacts): { basis: Basis | null; reasons: string[] } {
  const r = f.requester;
  const s = f.subject;
  const deny = (why: string) => ({ basis: null, reasons: [`device: ${why}`] });
  if (s.kind !== 'record' || !s.isNew || f.action !== 'write')
    return deny(
      `a device only appends new observations; it may not ${s.kind === 'record' && !s.isNew && f.action === 'write' ? 'change a record' : f.action} anything`,
    );
  if (!DEVICE_CATEGORIES.includes(s.category)) return deny(`appends ${DEVICE_CATEGORIES.join(', ')} records, not ${s.category}`);
  if (!DEVICE_PURPOSES.includes(f.purpose)) return deny(`covers purpose ${DEVICE_PURPOSES.join(', ')}, not ${f.purpose}`);
  if (s.patientOrg !== r.org) return deny(`the patient is not registered with ${r.org}`);
  return { basis: { rule: 'device-observation' }, reasons: [] };
}

/**
 * Why a request the rules deny is a BMRS Violation — a request its requester cannot honestly
 * make — or null for an honest request that is simply not covered (decision 0901):
 *  - break-the-glass misuse: claiming an emergency purpose (ETREAT/BTG) without being entitled to
 *    break the glass (only doctors may, and only to read);
 *  - acting after revocation: the patient revoked a consent that named this requester.
 * Not violations: no consent or care relation, a level or purpose the consent does not cover, an
 * expired consent or application, a missing break-the-glass reason code (an incomplete request).
 */
export function violationOf(f: AccessFacts): string | null {
  if (f.subject.kind !== 'record') return null;
  if (EMERGENCY_PURPOSES.includes(f.purpose)) {
    if (f.requester.role !== 'doctor')
      return `break-the-glass misuse: a ${f.requester.role} claimed an emergency (${f.purpose}); only doctors may break the glass`;
    if (f.action !== 'read') return `break-the-glass misuse: an emergency opens reading, not ${f.action}`;
  }
  if (f.revokedConsent) return `acting after revocation: the patient revoked consent ${f.revokedConsent.consentId}, which named this requester`;
  return null;
}

/**
 * "Everything I may see": the highest of `levels` (the sensitivities of the record's parts) that
 * the rules allow this request, and for each higher level why it is withheld. `level` is null when
 * not even the lowest is allowed. Rules only (no BMRS): the caller then decides at `level`.
 */
export function releasableLevel(
  f: AccessFacts,
  levels: readonly Sensitivity[],
): { level: Sensitivity | null; withheld: Array<{ sensitivity: Sensitivity; reasons: string[] }> } {
  const s = f.subject;
  if (s.kind !== 'record') throw new TypeError('releasableLevel: a record subject is required');
  const descending = [...new Set(levels)].sort((a, b) => sensitivityRank(b) - sensitivityRank(a));
  const withheld: Array<{ sensitivity: Sensitivity; reasons: string[] }> = [];
  for (const level of descending) {
    const rules = evaluateRules({ ...f, subject: { ...s, sensitivity: level } });
    if (rules.basis !== null) return { level, withheld };
    withheld.push({ sensitivity: level, reasons: rules.reasons });
  }
  return { level: null, withheld };
}

export function decide(f: AccessFacts): Decision {
  const s = f.subject;
  if (!s.exists) {
    const what = s.kind === 'record' ? `record ${s.recordId}` : `dataset ${s.datasetId}`;
    return { decision: 'deny', reasons: [`${what} does not exist or was erased`], flags: [], basis: null, bmrs: null };
  }
  // The patient on their own data is BMRS's "user" (state 0 actor), not a service provider.
  const governed = s.kind === 'record' && !(f.requester.role === 'patient' && f.requester.pseudonym === s.patient);
  const rules = evaluateRules(f);
  if (!governed) {
    return rules.basis
      ? { decision: 'allow', reasons: [], flags: [], basis: rules.basis, bmrs: null }
      : { decision: 'deny', reasons: rules.reasons, flags: [], basis: null, bmrs: null };
  }
  const violation = rules.basis === null ? violationOf(f) : null;
  const run = bmrsDrive(f.session, rules.basis !== null ? 'permission' : violation !== null ? 'violation' : 'denial');
  if (f.session === 3) {
    return {
      decision: 'deny',
      reasons: ['BMRS session is dead (state 3): every action is refused until CAMS re-authorizes', ...(violation ? [violation] : []), ...rules.reasons],
      flags: ['bmrs-dead', 'security-alert'],
      basis: null,
      bmrs: run,
    };
  }
  if (rules.basis === null) {
    // A Violation is misconduct against the patient's data: always a security alert. An honest
    // denial is audited and answered with its reasons, nothing more.
    if (violation !== null)
      return { decision: 'deny', reasons: [violation, ...rules.reasons], flags: ['bmrs-violation', 'security-alert'], basis: null, bmrs: run };
    return { decision: 'deny', reasons: rules.reasons, flags: [], basis: null, bmrs: run };
  }
  const flags: Flag[] = rules.basis.rule === 'break-the-glass' ? ['break-the-glass', 'security-alert', 'notify-patient'] : [];
  return { decision: 'allow', reasons: [], flags, basis: rules.basis, bmrs: run };
}
