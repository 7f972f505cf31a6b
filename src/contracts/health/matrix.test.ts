// The authorization matrix: every role × relationship × consent state × action × purpose ×
// sensitivity, decided by the rule engine and compared with an independent oracle written here
// from the rules as stated in the issue (not from rules.ts). The whole product runs against the
// pure engine; one case per (role, consent state, purpose) — chosen by a fixed-seed generator —
// also runs end to end through the contract on a real world state (setup transactions, the
// audited `access`, BMRS session, audit entry and notification checked).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Consent } from './model.ts';
import { decide, type AccessFacts } from './rules.ts';
import type { AuditEntry } from './state.ts';
import { DAY_MS, partFor, pseudonymFor, TestChain } from './testkit.ts';

const ROLES = ['doctor', 'nurse', 'supervisor', 'admin', 'patient', 'researcher', 'insurer'] as const;
const CONSENT_STATES = ['none', 'active', 'expired', 'not-yet', 'revoked', 'wrong-scope', 'wrong-sensitivity', 'wrong-grantee'] as const;
const ACTIONS = ['read', 'write', 'share', 'statistics'] as const;
const PURPOSES = [
  { purpose: 'TREAT', reason: null },
  { purpose: 'HRESCH', reason: null },
  { purpose: 'ETREAT', reason: 'cardiac-arrest' },
  { purpose: 'BTG', reason: 'unconscious-no-proxy' },
  { purpose: 'BTG', reason: null },
] as const;
const SENSITIVITIES = ['sensitive', 'restricted'] as const;

interface Case {
  readonly role: (typeof ROLES)[number];
  /** The requester works at (or, for a patient, is registered with) the record's custodian. */
  readonly sameOrg: boolean;
  /** Doctor/nurse/…: a care relation with the patient; patient: the record is their own. */
  readonly link: boolean;
  readonly consent: (typeof CONSENT_STATES)[number];
  readonly action: (typeof ACTIONS)[number];
  readonly purpose: (typeof PURPOSES)[number];
  readonly sensitivity: (typeof SENSITIVITIES)[number];
}

function allCases(): Case[] {
  const out: Case[] = [];
  for (const role of ROLES) for (const sameOrg of [true, false]) for (const link of [true, false])
    for (const consent of CONSENT_STATES) for (const action of ACTIONS) for (const purpose of PURPOSES) for (const sensitivity of SENSITIVITIES) {
      out.push({ role, sameOrg, link, consent, action, purpose, sensitivity });
    }
  return out;
}

function label(k: Case): string {
  return `${k.role} sameOrg=${k.sameOrg} link=${k.link} consent=${k.consent} ${k.action} ${k.purpose.purpose}${k.purpose.reason ? '+reason' : ''} ${k.sensitivity}`;
}

// The consent every non-'none' state starts from: to the requester, for read/share/statistics,
// for TREAT/HRESCH/ETREAT (not BTG), Observations, up to restricted.
const CONSENT_ACTIONS = ['read', 'share', 'statistics'];
const CONSENT_PURPOSES = ['TREAT', 'HRESCH', 'ETREAT'];

// ---- the oracle: the rules, written plainly -----------------------------------------

interface Expected { readonly allow: boolean; readonly rule: string | null; readonly governed: boolean }

function oracle(k: Case): Expected {
  const a = k.action;
  const p = k.purpose.purpose;
  const restricted = k.sensitivity === 'restricted';
  const governed = !(k.role === 'patient' && k.link);
  const allow = (rule: string): Expected => ({ allow: true, rule, governed });
  // Patients read (and share) their own records, at every sensitivity.
  if (k.role === 'patient' && k.link && (a === 'read' || a === 'share')) return allow('own-record');
  // Doctors read and write records of patients in their care, for treatment; restricted reads need more.
  if (k.role === 'doctor' && k.link && (a === 'read' || a === 'write') && (p === 'TREAT' || p === 'ETREAT') && (a === 'write' || !restricted)) return allow('care-relation');
  // Supervisors read records their own hospital holds; restricted needs more.
  if (k.role === 'supervisor' && k.sameOrg && a === 'read' && (p === 'TREAT' || p === 'ETREAT') && !restricted) return allow('supervisor-own-hospital');
  // A consent in force, to this requester, covering the action, purpose, category and sensitivity.
  if (k.consent === 'active' && CONSENT_ACTIONS.includes(a) && CONSENT_PURPOSES.includes(p)) return allow('consent');
  // Break-the-glass: doctors only, emergency purpose, a reason, reads only.
  if (k.role === 'doctor' && (p === 'ETREAT' || p === 'BTG') && k.purpose.reason !== null && a === 'read') return allow('break-the-glass');
  // Admins, nurses, researchers, insurers: nothing without consent or an application.
  return { allow: false, rule: null, governed };
}

/**
 * A BMRS Violation (decision 0901): a governed request, denied, that its requester cannot honestly
 * make — an emergency claimed by anyone but a doctor, or for anything but reading; or, on chain
 * (`afterRevocation`), acting on the data after the patient revoked the consent naming them.
 */
function violation(k: Case, afterRevocation: boolean): boolean {
  const want = oracle(k);
  if (want.allow || !want.governed) return false;
  const emergency = k.purpose.purpose === 'ETREAT' || k.purpose.purpose === 'BTG';
  return (emergency && (k.role !== 'doctor' || k.action !== 'read')) || (afterRevocation && k.consent === 'revoked');
}

// ---- the pure engine over hand-built facts ----------------------------------------------------

const NOW = Date.UTC(2026, 5, 1);
const PP = pseudonymFor('matrix-patient');

function consentFor(k: Case, requester: string): Consent[] {
  if (k.consent === 'none') return [];
  const base: Consent = {
    consentId: 'c1',
    patient: PP,
    grantee: { kind: 'user', user: requester },
    actions: ['read', 'share', 'statistics'],
    purposes: ['TREAT', 'HRESCH', 'ETREAT'],
    period: { startMs: NOW - DAY_MS, endMs: NOW + DAY_MS },
    scope: { recordIds: [], categories: ['Observation'], maxSensitivity: 'restricted' },
    status: 'active',
    grantedAtMs: NOW - DAY_MS,
    revokedAtMs: null,
  };
  switch (k.consent) {
    case 'active': return [base];
    case 'expired': return [{ ...base, period: { startMs: NOW - 2 * DAY_MS, endMs: NOW - DAY_MS } }];
    case 'not-yet': return [{ ...base, period: { startMs: NOW + DAY_MS, endMs: NOW + 2 * DAY_MS } }];
    case 'revoked': return [{ ...base, status: 'revoked', revokedAtMs: NOW - 1 }];
    case 'wrong-scope': return [{ ...base, scope: { ...base.scope, categories: ['Condition'] } }];
    case 'wrong-sensitivity': return [{ ...base, scope: { ...base.scope, maxSensitivity: 'normal' } }];
    case 'wrong-grantee': return [{ ...base, grantee: { kind: 'user', user: 'H3/someone-else' } }];
  }
}

function factsFor(k: Case): AccessFacts {
  const org = k.sameOrg ? 'H1' : 'H2';
  const id = `${k.role}1`;
  return {
    nowMs: NOW,
    requester: { org, id, role: k.role, pseudonym: k.role === 'patient' ? (k.link ? PP : pseudonymFor('another-patient')) : null },
    action: k.action,
    purpose: k.purpose.purpose,
    reason: k.purpose.reason,
    subject: { kind: 'record', recordId: 'r1', exists: true, patient: PP, custodian: 'H1', category: 'Observation', sensitivity: k.sensitivity, isNew: false },
    // Passed for every role: the engine must ignore a "care relation" of a non-doctor.
    inCare: k.role !== 'patient' && k.link,
    consents: consentFor(k, `${org}/${id}`),
    applications: [],
    session: 0,
  };
}

describe('authorization matrix (pure rule engine, full product)', () => {
  const cases = allCases();

  it(`decides all ${cases.length} cases as the oracle does`, () => {
    assert.equal(cases.length, 7 * 2 * 2 * 8 * 4 * 5 * 2);
    const wrong: string[] = [];
    let allowed = 0;
    const byRule = new Map<string, number>();
    for (const k of cases) {
      const want = oracle(k);
      const got = decide(factsFor(k));
      const rule = got.basis?.rule ?? null;
      if ((got.decision === 'allow') !== want.allow || rule !== want.rule || (got.bmrs !== null) !== want.governed) {
        wrong.push(`${label(k)}: engine ${got.decision}/${rule}/${got.bmrs ? 'governed' : 'self'}, oracle ${want.allow ? 'allow' : 'deny'}/${want.rule}/${want.governed ? 'governed' : 'self'} — ${got.reasons.join('; ')}`);
      }
      if (got.decision === 'allow') allowed += 1;
      byRule.set(rule ?? 'deny', (byRule.get(rule ?? 'deny') ?? 0) + 1);
      // Flags: break-the-glass exactly when BTG is the basis; only requests the requester cannot
      // honestly make are violations (the pure facts carry no revocation marker).
      assert.equal(got.flags.includes('break-the-glass'), rule === 'break-the-glass', label(k));
      assert.equal(got.flags.includes('bmrs-violation'), violation(k, false), label(k));
      if (got.decision === 'deny') assert.ok(got.reasons.length > 0, `a denial explains itself: ${label(k)}`);
    }
    assert.deepEqual(wrong.slice(0, 10), []);
    // The matrix is not degenerate: every rule fires somewhere and most cases are denied.
    for (const rule of ['own-record', 'care-relation', 'supervisor-own-hospital', 'consent', 'break-the-glass', 'deny']) assert.ok((byRule.get(rule) ?? 0) > 0, rule);
    assert.ok(allowed > 300 && allowed < cases.length / 2, `allowed ${allowed}`);
  });

  it('a dead BMRS session denies every case, even those the rules allow', () => {
    for (const k of cases) {
      if (!oracle(k).governed) continue;
      const d = decide({ ...factsFor(k), session: 3 });
      assert.equal(d.decision, 'deny', label(k));
      assert.equal(d.bmrs?.to, 3);
    }
  });
});

// ---- end to end through the contract --------------------------------------------------------

/** xorshift32: a fixed-seed choice of one case per stratum. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

function sampleCases(seed: number): Case[] {
  const next = rng(seed);
  const out: Case[] = [];
  for (const role of ROLES) for (const consent of CONSENT_STATES) for (const purpose of PURPOSES) {
    const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
    out.push({ role, consent, purpose, sameOrg: pick([true, false]), link: pick([true, false]), action: pick(ACTIONS), sensitivity: pick(SENSITIVITIES) });
  }
  return out;
}

describe('authorization matrix (through the contract on world state)', () => {
  const chain = new TestChain(NOW);
  after(() => chain.close());
  chain.submit('H1/admin:admin', 'initialize', { camsOrg: 'H1' });
  const cases = sampleCases(20260601);

  it(`runs ${cases.length} sampled cases as transactions and matches the oracle, BMRS and audit`, () => {
    const wrong: string[] = [];
    cases.forEach((k, i) => {
      const org = k.sameOrg ? 'H1' : 'H2';
      const admin = `${org}/admin:admin`;
      const pp = pseudonymFor(`case-${i}`);
      // The patient: for "own record" the requester is the patient, registered with `org`.
      const patientRef = k.role === 'patient' && k.link ? `${org}/case${i}` : `H1/owner${i}`;
      chain.submit(`${patientRef.split('/')[0]}/admin:admin`, 'enrolPatient', { user: patientRef, pseudonym: pp });
      const patient = `${patientRef}:patient`;
      chain.submit('H1/admin:admin', 'startCare', { doctor: 'H1/setupdoc', patient: pp });
      const recordId = `rec-${i}`;
      const parts = k.sensitivity === 'restricted' ? ['normal', 'restricted'] as const : ['normal', 'sensitive'] as const;
      const created = chain.submit<{ allowed: boolean }>('H1/setupdoc:doctor', 'createRecord', { recordId, patient: pp, category: 'Observation', parts: parts.map((s) => partFor(recordId, s)) });
      assert.equal(created.allowed, true);
      const requesterRef = k.role === 'patient' && k.link ? patientRef : `${org}/${k.role}${i}`;
      const requester = `${requesterRef}:${k.role}`;
      if (k.link && k.role !== 'patient') chain.submit(admin, 'startCare', { doctor: requesterRef, patient: pp });
      let accessAt = chain.nowMs + 10;
      if (k.consent !== 'none') {
        const now = chain.nowMs;
        const period = k.consent === 'expired' ? { startMs: now, endMs: now + 5 } : k.consent === 'not-yet' ? { startMs: now + DAY_MS, endMs: now + 2 * DAY_MS } : { startMs: now, endMs: now + DAY_MS };
        const g = chain.submit<{ consent: { consentId: string } }>(patient, 'grantConsent', {
          patient: pp,
          grantee: { kind: 'user', user: k.consent === 'wrong-grantee' ? 'H3/someone-else' : requesterRef },
          actions: CONSENT_ACTIONS,
          purposes: CONSENT_PURPOSES,
          period,
          scope: { categories: [k.consent === 'wrong-scope' ? 'Condition' : 'Observation'], maxSensitivity: k.consent === 'wrong-sensitivity' ? 'normal' : 'restricted' },
        });
        if (k.consent === 'revoked') chain.submit(patient, 'revokeConsent', { consentId: g.consent.consentId });
        accessAt = chain.nowMs + 10;
      }
      // The level is asked for explicitly: the case's sensitivity is what is decided (without one,
      // a read releases whatever lower part the rules allow and withholds the rest).
      const request = { recordId, action: k.action, purpose: k.purpose.purpose, sensitivity: k.sensitivity, ...(k.purpose.reason ? { reason: k.purpose.reason } : {}) };
      const v = chain.submit<{ allowed: boolean; basis: { rule: string } | null; auditId: string; flags: string[] }>(requester, 'access', request, accessAt);
      chain.nowMs = accessAt + 1;
      const want = oracle(k);
      if (v.allowed !== want.allow || (v.basis?.rule ?? null) !== want.rule) {
        wrong.push(`${label(k)}: contract ${v.allowed}/${v.basis?.rule ?? null}, oracle ${want.allow}/${want.rule}`);
        return;
      }
      // The decision is on chain: the audit entry, the BMRS session, the patient's notification
      // (read straight from the committed world state).
      const stored = (k2: string): string | undefined => {
        const e = chain.db.get('health', k2);
        return e ? Buffer.from(e.value).toString('utf8') : undefined;
      };
      const entry = JSON.parse(stored(`au|${v.auditId}`) ?? 'null') as AuditEntry | null;
      assert.equal(entry?.outcome, want.allow ? 'allow' : 'deny', label(k));
      assert.equal(entry?.op, `access.${k.action}`, label(k));
      assert.equal(entry?.patient, pp);
      const session = JSON.parse(stored(`bmrs|${requesterRef}|${pp}`) ?? '{"state":0}') as { state: number };
      // Authenticated (→ 1), then Permission or Violation (→ 2); an honest denial stays at 1.
      const expectedState = !want.governed ? 0 : want.allow || violation(k, true) ? 2 : 1;
      assert.equal(session.state, expectedState, `BMRS after one access: ${label(k)}`);
      const notified = chain.db.range('health', `nf|${pp}|`, `nf|${pp}}`, 100).some((e) => Buffer.from(e.value).toString('utf8').includes('"kind":"break-the-glass"'));
      assert.equal(notified, want.rule === 'break-the-glass', label(k));
    });
    assert.deepEqual(wrong, []);
  });
});

// ---- applications (PHDMF): role × application state × target × action × purpose ---------------

const APP_STATES = ['none', 'approved', 'pending', 'denied', 'expired', 'other-applicant', 'other-target'] as const;

describe('authorization matrix: approved applications (pure rule engine)', () => {
  it('matches the oracle for every role × application state × target × action × purpose × sensitivity', () => {
    let n = 0;
    const wrong: string[] = [];
    for (const role of ROLES) for (const state of APP_STATES) for (const target of ['record', 'dataset'] as const)
      for (const action of ACTIONS) for (const purpose of ['HRESCH', 'TREAT'] as const) for (const sensitivity of ['normal', 'restricted'] as const) {
        n += 1;
        const org = 'H2';
        const id = `${role}1`;
        const base = {
          applicationId: 'a1', applicant: `${org}/${id}`, applicantRole: role,
          target: target === 'record' ? { kind: 'record' as const, recordId: 'r1' } : { kind: 'dataset' as const, datasetId: 'ds1' },
          owner: target === 'record' ? PP : 'H1', purpose: 'HRESCH' as const, actions: ['read', 'statistics'] as ('read' | 'statistics')[],
          period: { startMs: NOW - DAY_MS, endMs: NOW + DAY_MS }, maxSensitivity: 'sensitive' as const,
          status: 'approved' as const, appliedAtMs: NOW - DAY_MS, decidedAtMs: NOW - DAY_MS, decidedBy: 'x',
        };
        const apps = state === 'none' ? [] : [{
          ...base,
          ...(state === 'pending' ? { status: 'pending' as const } : {}),
          ...(state === 'denied' ? { status: 'denied' as const } : {}),
          ...(state === 'expired' ? { period: { startMs: NOW - 2 * DAY_MS, endMs: NOW - DAY_MS } } : {}),
          ...(state === 'other-applicant' ? { applicant: 'H3/someone' } : {}),
          ...(state === 'other-target' ? { target: target === 'record' ? { kind: 'record' as const, recordId: 'r2' } : { kind: 'dataset' as const, datasetId: 'ds2' } } : {}),
        }];
        const facts: AccessFacts = {
          nowMs: NOW,
          requester: { org, id, role, pseudonym: role === 'patient' ? pseudonymFor('not-the-owner') : null },
          action, purpose, reason: null,
          subject: target === 'record'
            ? { kind: 'record', recordId: 'r1', exists: true, patient: PP, custodian: 'H1', category: 'Observation', sensitivity, isNew: false }
            : { kind: 'dataset', datasetId: 'ds1', exists: true, ownerOrg: 'H1' },
          inCare: false, consents: [], applications: apps, session: 0,
        };
        // Oracle: with no care, no own hospital and no consent, only an approved, in-force application
        // of this requester, for this target, covering the action and the exact purpose, allows —
        // and for records only up to its maxSensitivity (sensitive here).
        const want = state === 'approved' && (action === 'read' || action === 'statistics') && purpose === 'HRESCH' && (target === 'dataset' || sensitivity !== 'restricted');
        const got = decide(facts);
        if ((got.decision === 'allow') !== want) wrong.push(`${role} ${state} ${target} ${action} ${purpose} ${sensitivity}: ${got.decision} — ${got.reasons.join('; ')}`);
        if (want) assert.deepEqual(got.basis, { rule: 'application', applicationId: 'a1' });
        // Datasets are not a patient's data: no BMRS session for them.
        assert.equal(got.bmrs === null, target === 'dataset');
      }
    assert.equal(n, 7 * 7 * 2 * 4 * 2 * 2);
    assert.deepEqual(wrong.slice(0, 10), []);
  });
});
