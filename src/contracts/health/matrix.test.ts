// The authorization matrix. Its oracle is written from one sentence of the brief — "patients
// decide who may see what" — and not from rules.ts: each clause names WHO DECIDED that this
// requester may do this (decision 0903):
//   - the patient: it is their own record; a doctor they put in their care; their consent; an
//     application they approved (the applications matrix below);
//   - the patient's own hospital (the one that enrolled the pseudonym), under a documented
//     clinical rule: it admitted the patient into the care of one of ITS doctors; its supervisor
//     reads, for its operations, the records it holds of its own patients;
//   - an emergency: break-the-glass (a doctor, an emergency purpose, a reason; flagged, the
//     patient notified).
// Nobody else decides: not the requester's own hospital (a care relation it started between its
// doctor and another hospital's patient), not a hospital that merely holds a record of another
// hospital's patient, not the requester's role alone.
//
// The whole product runs against the pure engine; one case per (role, consent state, purpose) —
// chosen by a fixed-seed generator — also runs end to end through the contract on a real world
// state: the setup is made of the very transactions that establish who decided (enrolment, care
// started by the patient or by staff, consent granted and revoked by the patient), and a care
// relation that nobody entitled started is attempted and must be refused.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Consent } from './model.ts';
import { decide, type AccessFacts } from './rules.ts';
import type { AuditEntry } from './state.ts';
import { DAY_MS, partFor, pseudonymFor, TestChain } from './testkit.ts';

const ROLES = ['doctor', 'nurse', 'supervisor', 'admin', 'patient', 'researcher', 'insurer'] as const;
/** The patient's own hospital is H1; H2 and H3 are other hospitals. */
const PATIENT_HOSPITAL = 'H1';
const REQUESTER_ORGS = ['H1', 'H2', 'H3'] as const;
/** Who holds the record: the patient's hospital, or another one (a record one of its doctors wrote). */
const CUSTODIANS = ['H1', 'H2'] as const;
/** The requester's care relation with the patient, and who started it. */
const CARE = ['none', 'by-patient', 'by-staff'] as const;
const CONSENT_STATES = ['none', 'active', 'expired', 'not-yet', 'revoked', 'wrong-scope', 'wrong-sensitivity', 'wrong-grantee'] as const;
const ACTIONS = ['read', 'write', 'share', 'statistics'] as const;
const PURPOSES = [
  { purpose: 'TREAT', reason: null },
  { purpose: 'HRESCH', reason: null },
  { purpose: 'HOPERAT', reason: null },
  { purpose: 'ETREAT', reason: 'cardiac-arrest' },
  { purpose: 'BTG', reason: 'unconscious-no-proxy' },
  { purpose: 'BTG', reason: null },
] as const;
const SENSITIVITIES = ['sensitive', 'restricted'] as const;

interface Case {
  readonly role: (typeof ROLES)[number];
  readonly requesterOrg: (typeof REQUESTER_ORGS)[number];
  readonly custodian: (typeof CUSTODIANS)[number];
  /**
   * The requester's certificate carries this patient's pseudonym. It makes them the patient only
   * for role patient at the patient's own hospital (another hospital's CA cannot issue the
   * patient's identity); for every other role the engine must ignore it.
   */
  readonly self: boolean;
  readonly care: (typeof CARE)[number];
  readonly consent: (typeof CONSENT_STATES)[number];
  readonly action: (typeof ACTIONS)[number];
  readonly purpose: (typeof PURPOSES)[number];
  readonly sensitivity: (typeof SENSITIVITIES)[number];
}

function allCases(): Case[] {
  const out: Case[] = [];
  for (const role of ROLES)
    for (const requesterOrg of REQUESTER_ORGS)
      for (const custodian of CUSTODIANS)
        for (const self of [true, false])
          for (const care of CARE)
            for (const consent of CONSENT_STATES)
              for (const action of ACTIONS)
                for (const purpose of PURPOSES)
                  for (const sensitivity of SENSITIVITIES) {
                    out.push({ role, requesterOrg, custodian, self, care, consent, action, purpose, sensitivity });
                  }
  return out;
}

function label(k: Case): string {
  return `${k.role}@${k.requesterOrg} custodian=${k.custodian} self=${k.self} care=${k.care} consent=${k.consent} ${k.action} ${k.purpose.purpose}${k.purpose.reason ? '+reason' : ''} ${k.sensitivity}`;
}

// The consent every non-'none' state starts from: to the requester, for read/share/statistics,
// for TREAT/HRESCH/ETREAT (not HOPERAT, not BTG), Observations, up to restricted.
const CONSENT_ACTIONS = ['read', 'share', 'statistics'];
const CONSENT_PURPOSES = ['TREAT', 'HRESCH', 'ETREAT'];

// ---- the oracle: "patients decide who may see what" -------------------------------------------

type Rule = 'own-record' | 'care-relation' | 'supervisor-own-hospital' | 'consent' | 'break-the-glass';
/**
 * When several decisions allow, the audit names the most direct one (decision 0903's order), and
 * break-the-glass only when nothing else allows, so its flag marks real emergency overrides.
 */
const BASIS_ORDER: readonly Rule[] = ['own-record', 'care-relation', 'supervisor-own-hospital', 'consent', 'break-the-glass'];

interface Expected {
  readonly allow: boolean;
  readonly rule: Rule | null;
  readonly governed: boolean;
}

function oracle(k: Case): Expected {
  const a = k.action;
  const p = k.purpose.purpose;
  const restricted = k.sensitivity === 'restricted';
  const isPatient = k.role === 'patient' && k.self && k.requesterOrg === PATIENT_HOSPITAL;
  // Care lets a doctor treat: read and write, for treatment; a care relation does not disclose
  // restricted data (that takes the patient's explicit consent, or an emergency).
  const careCovers = k.role === 'doctor' && (a === 'read' || a === 'write') && (p === 'TREAT' || p === 'ETREAT') && (a === 'write' || !restricted);
  const decided = new Set<Rule>();

  // 1. The patient decided.
  //    They are the patient: they read their records and share them, at every sensitivity.
  if (isPatient && (a === 'read' || a === 'share')) decided.add('own-record');
  //    They put this doctor in their care (any doctor, at any hospital).
  if (k.care === 'by-patient' && careCovers) decided.add('care-relation');
  //    They consented: in force, to this requester, covering the action, purpose, category and sensitivity.
  if (k.consent === 'active' && CONSENT_ACTIONS.includes(a) && CONSENT_PURPOSES.includes(p)) decided.add('consent');

  // 2. The patient's own hospital decided, under its clinical rules.
  //    It admitted the patient into the care of one of its own doctors (the patient is notified).
  if (k.care === 'by-staff' && k.requesterOrg === PATIENT_HOSPITAL && careCovers) decided.add('care-relation');
  //    Its supervisor reads the records it holds of its own patients, for treatment oversight or
  //    operations, short of restricted data.
  if (
    k.role === 'supervisor' &&
    k.requesterOrg === PATIENT_HOSPITAL &&
    k.custodian === PATIENT_HOSPITAL &&
    a === 'read' &&
    (p === 'TREAT' || p === 'ETREAT' || p === 'HOPERAT') &&
    !restricted
  )
    decided.add('supervisor-own-hospital');

  // 3. An emergency: a doctor, an emergency purpose, a stated reason, a read.
  if (k.role === 'doctor' && (p === 'ETREAT' || p === 'BTG') && k.purpose.reason !== null && a === 'read') decided.add('break-the-glass');

  // Nobody else: a care relation another hospital's staff started, a hospital that only holds the
  // record, the role alone (admin, nurse, researcher, insurer) — deny.
  const governed = !isPatient;
  const rule = BASIS_ORDER.find((r) => decided.has(r)) ?? null;
  return { allow: rule !== null, rule, governed };
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
    case 'active':
      return [base];
    case 'expired':
      return [{ ...base, period: { startMs: NOW - 2 * DAY_MS, endMs: NOW - DAY_MS } }];
    case 'not-yet':
      return [{ ...base, period: { startMs: NOW + DAY_MS, endMs: NOW + 2 * DAY_MS } }];
    case 'revoked':
      return [{ ...base, status: 'revoked', revokedAtMs: NOW - 1 }];
    case 'wrong-scope':
      return [{ ...base, scope: { ...base.scope, categories: ['Condition'] } }];
    case 'wrong-sensitivity':
      return [{ ...base, scope: { ...base.scope, maxSensitivity: 'normal' } }];
    case 'wrong-grantee':
      return [{ ...base, grantee: { kind: 'user', user: 'H3/someone-else' } }];
  }
}

/** The requester's pseudonym as the state layer establishes it (state.ts pseudonymOfActor). */
function requesterPseudonym(k: Case): string | null {
  if (k.role !== 'patient') return k.self ? PP : null; // passed anyway: the engine must ignore it
  if (!k.self) return pseudonymFor('another-patient');
  return k.requesterOrg === PATIENT_HOSPITAL ? PP : null; // another hospital's certificate owns nothing
}

function factsFor(k: Case): AccessFacts {
  const id = `${k.role}1`;
  return {
    nowMs: NOW,
    requester: { org: k.requesterOrg, id, role: k.role, pseudonym: requesterPseudonym(k) },
    action: k.action,
    purpose: k.purpose.purpose,
    reason: k.purpose.reason,
    subject: {
      kind: 'record',
      recordId: 'r1',
      exists: true,
      patient: PP,
      patientOrg: PATIENT_HOSPITAL,
      custodian: k.custodian,
      category: 'Observation',
      sensitivity: k.sensitivity,
      isNew: false,
    },
    // Passed for every role: the engine must ignore a "care relation" of a non-doctor.
    care: k.care === 'none' ? null : { startedByPatient: k.care === 'by-patient' },
    consents: consentFor(k, `${k.requesterOrg}/${id}`),
    applications: [],
    session: 0,
  };
}

describe('authorization matrix (pure rule engine, full product)', () => {
  const cases = allCases();

  it(`decides all ${cases.length} cases as the oracle does`, () => {
    assert.equal(cases.length, 7 * 3 * 2 * 2 * 3 * 8 * 4 * 6 * 2);
    const wrong: string[] = [];
    let allowed = 0;
    const byRule = new Map<string, number>();
    for (const k of cases) {
      const want = oracle(k);
      const got = decide(factsFor(k));
      const rule = got.basis?.rule ?? null;
      if ((got.decision === 'allow') !== want.allow || rule !== want.rule || (got.bmrs !== null) !== want.governed) {
        wrong.push(
          `${label(k)}: engine ${got.decision}/${rule}/${got.bmrs ? 'governed' : 'self'}, oracle ${want.allow ? 'allow' : 'deny'}/${want.rule}/${want.governed ? 'governed' : 'self'} — ${got.reasons.join('; ')}`,
        );
      }
      if (got.decision === 'allow') allowed += 1;
      byRule.set(rule ?? 'deny', (byRule.get(rule ?? 'deny') ?? 0) + 1);
      // Flags: break-the-glass exactly when BTG is the basis; only requests the requester cannot
      // honestly make are violations (the pure facts carry no revocation marker).
      assert.equal(got.flags.includes('break-the-glass'), rule === 'break-the-glass', label(k));
      assert.equal(got.flags.includes('bmrs-violation'), violation(k, false), label(k));
      if (got.decision === 'deny') assert.ok(got.reasons.length > 0, `a denial explains itself: ${label(k)}`);
    }
    assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} cases differ`);
    // The matrix is not degenerate: every rule fires somewhere and most cases are denied.
    for (const rule of ['own-record', 'care-relation', 'supervisor-own-hospital', 'consent', 'break-the-glass', 'deny'])
      assert.ok((byRule.get(rule) ?? 0) > 0, rule);
    assert.ok(allowed > 3000 && allowed < cases.length / 2, `allowed ${allowed}`);
  });

  it("the exact holes of issue 16: care another hospital started, and the holding hospital's supervisor, open nothing", () => {
    // Every case where the only thing going for the requester is one of them is denied.
    for (const k of cases) {
      const foreignCare = k.care === 'by-staff' && k.requesterOrg !== PATIENT_HOSPITAL;
      const holderSupervisor = k.role === 'supervisor' && k.custodian === k.requesterOrg && k.requesterOrg !== PATIENT_HOSPITAL;
      if (!foreignCare && !holderSupervisor) continue;
      if (k.consent === 'active' || k.purpose.reason !== null || (k.role === 'patient' && k.self)) continue;
      assert.equal(decide(factsFor(k)).decision, 'deny', label(k));
    }
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
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/**
 * One random case per (role, consent state, purpose), plus — so that no decision is left to
 * chance — for each role, one random case of every outcome the oracle gives that role.
 */
function sampleCases(seed: number): Case[] {
  const next = rng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const out: Case[] = [];
  for (const role of ROLES)
    for (const consent of CONSENT_STATES)
      for (const purpose of PURPOSES) {
        out.push({
          role,
          consent,
          purpose,
          requesterOrg: pick(REQUESTER_ORGS),
          custodian: pick(CUSTODIANS),
          self: pick([true, false]),
          care: pick(CARE),
          action: pick(ACTIONS),
          sensitivity: pick(SENSITIVITIES),
        });
      }
  const byOutcome = new Map<string, Case[]>();
  for (const k of allCases()) {
    const key = `${k.role} ${oracle(k).rule ?? 'deny'}`;
    byOutcome.set(key, [...(byOutcome.get(key) ?? []), k]);
  }
  for (const key of [...byOutcome.keys()].sort()) out.push(pick(byOutcome.get(key)!));
  return out;
}

describe('authorization matrix (through the contract on world state)', () => {
  const chain = new TestChain(NOW);
  after(() => chain.close());
  chain.submit('H1/admin:admin', 'initialize', { camsOrg: 'H1' });
  const cases = sampleCases(20260601);

  it(`runs ${cases.length} sampled cases as transactions and matches the oracle, BMRS and audit`, () => {
    const wrong: string[] = [];
    const covered = new Set<string>();
    cases.forEach((k, i) => {
      const pp = pseudonymFor(`case-${i}`);
      // The patient: enrolled by their own hospital, acting with the certificate it issued to the pseudonym.
      chain.submit('H1/admin:admin', 'enrolPatient', { pseudonym: pp });
      const patient = `H1/${pp}:patient`;
      // The record's custodian: a doctor of that hospital wrote it, in the patient's care — put
      // there by the patient's hospital (its own doctor) or by the patient (another hospital's).
      const author = `${k.custodian}/setupdoc${i}`;
      chain.submit(k.custodian === PATIENT_HOSPITAL ? 'H1/admin:admin' : patient, 'startCare', { doctor: author, patient: pp });
      const recordId = `rec-${i}`;
      const parts = k.sensitivity === 'restricted' ? (['normal', 'restricted'] as const) : (['normal', 'sensitive'] as const);
      const created = chain.submit<{ allowed: boolean }>(`${author}:doctor`, 'createRecord', {
        recordId,
        patient: pp,
        category: 'Observation',
        parts: parts.map((s) => partFor(recordId, s)),
      });
      assert.equal(created.allowed, true);
      // The requester: a certificate issued by requesterOrg; "self" = issued to this patient's pseudonym.
      const requesterRef = `${k.requesterOrg}/${k.self ? pp : `${k.role}${i}`}`;
      const requester = `${requesterRef}:${k.role}`;
      if (k.care === 'by-patient') chain.submit(patient, 'startCare', { doctor: requesterRef, patient: pp });
      if (k.care === 'by-staff') {
        // Staff: the patient's hospital for its own people; otherwise the requester's own
        // hospital tries (the probe of issue 16) and must be refused — no relation results.
        const staff = `${k.requesterOrg}/admin:admin`;
        const started = chain.try('submit', staff, 'startCare', { doctor: requesterRef, patient: pp });
        assert.equal(started.status, k.requesterOrg === PATIENT_HOSPITAL ? 200 : 400, `${label(k)}: startCare by ${staff}: ${started.message}`);
        if (started.status === 200) chain.nowMs += 1;
      }
      let accessAt = chain.nowMs + 10;
      if (k.consent !== 'none') {
        const now = chain.nowMs;
        const period =
          k.consent === 'expired'
            ? { startMs: now, endMs: now + 5 }
            : k.consent === 'not-yet'
              ? { startMs: now + DAY_MS, endMs: now + 2 * DAY_MS }
              : { startMs: now, endMs: now + DAY_MS };
        const g = chain.submit<{ consent: { consentId: string } }>(patient, 'grantConsent', {
          patient: pp,
          grantee: { kind: 'user', user: k.consent === 'wrong-grantee' ? 'H3/someone-else' : requesterRef },
          actions: CONSENT_ACTIONS,
          purposes: CONSENT_PURPOSES,
          period,
          scope: {
            categories: [k.consent === 'wrong-scope' ? 'Condition' : 'Observation'],
            maxSensitivity: k.consent === 'wrong-sensitivity' ? 'normal' : 'restricted',
          },
        });
        if (k.consent === 'revoked') chain.submit(patient, 'revokeConsent', { consentId: g.consent.consentId });
        accessAt = chain.nowMs + 10;
      }
      // The level is asked for explicitly: the case's sensitivity is what is decided (without one,
      // a read releases whatever lower part the rules allow and withholds the rest).
      const request = {
        recordId,
        action: k.action,
        purpose: k.purpose.purpose,
        sensitivity: k.sensitivity,
        ...(k.purpose.reason ? { reason: k.purpose.reason } : {}),
      };
      const v = chain.submit<{ allowed: boolean; basis: { rule: string } | null; auditId: string; flags: string[] }>(requester, 'access', request, accessAt);
      chain.nowMs = accessAt + 1;
      const want = oracle(k);
      covered.add(want.rule ?? 'deny');
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
      const notified = chain.db
        .range('health', `nf|${pp}|`, `nf|${pp}}`, 100)
        .some((e) => Buffer.from(e.value).toString('utf8').includes('"kind":"break-the-glass"'));
      assert.equal(notified, want.rule === 'break-the-glass', label(k));
    });
    assert.deepEqual(wrong, []);
    // The sample reaches every decision, so the end-to-end half is not vacuous.
    for (const rule of ['own-record', 'care-relation', 'supervisor-own-hospital', 'consent', 'break-the-glass', 'deny'])
      assert.ok(covered.has(rule), `sample covers ${rule}`);
  });
});

// ---- applications (PHDMF): role × application state × target × action × purpose ---------------

const APP_STATES = ['none', 'approved', 'pending', 'denied', 'expired', 'other-applicant', 'other-target'] as const;

describe('authorization matrix: approved applications (pure rule engine)', () => {
  it('matches the oracle for every role × application state × target × action × purpose × sensitivity', () => {
    let n = 0;
    const wrong: string[] = [];
    for (const role of ROLES)
      for (const state of APP_STATES)
        for (const target of ['record', 'dataset'] as const)
          for (const action of ACTIONS)
            for (const purpose of ['HRESCH', 'TREAT'] as const)
              for (const sensitivity of ['normal', 'restricted'] as const) {
                n += 1;
                const org = 'H2';
                const id = `${role}1`;
                const base = {
                  applicationId: 'a1',
                  applicant: `${org}/${id}`,
                  applicantRole: role,
                  target: target === 'record' ? { kind: 'record' as const, recordId: 'r1' } : { kind: 'dataset' as const, datasetId: 'ds1' },
                  owner: target === 'record' ? PP : 'H1',
                  purpose: 'HRESCH' as const,
                  actions: ['read', 'statistics'] as ('read' | 'statistics')[],
                  period: { startMs: NOW - DAY_MS, endMs: NOW + DAY_MS },
                  maxSensitivity: 'sensitive' as const,
                  status: 'approved' as const,
                  appliedAtMs: NOW - DAY_MS,
                  decidedAtMs: NOW - DAY_MS,
                  decidedBy: 'x',
                };
                const apps =
                  state === 'none'
                    ? []
                    : [
                        {
                          ...base,
                          ...(state === 'pending' ? { status: 'pending' as const } : {}),
                          ...(state === 'denied' ? { status: 'denied' as const } : {}),
                          ...(state === 'expired' ? { period: { startMs: NOW - 2 * DAY_MS, endMs: NOW - DAY_MS } } : {}),
                          ...(state === 'other-applicant' ? { applicant: 'H3/someone' } : {}),
                          ...(state === 'other-target'
                            ? { target: target === 'record' ? { kind: 'record' as const, recordId: 'r2' } : { kind: 'dataset' as const, datasetId: 'ds2' } }
                            : {}),
                        },
                      ];
                const facts: AccessFacts = {
                  nowMs: NOW,
                  requester: { org, id, role, pseudonym: role === 'patient' ? pseudonymFor('not-the-owner') : null },
                  action,
                  purpose,
                  reason: null,
                  subject:
                    target === 'record'
                      ? {
                          kind: 'record',
                          recordId: 'r1',
                          exists: true,
                          patient: PP,
                          patientOrg: PATIENT_HOSPITAL,
                          custodian: 'H1',
                          category: 'Observation',
                          sensitivity,
                          isNew: false,
                        }
                      : { kind: 'dataset', datasetId: 'ds1', exists: true, ownerOrg: 'H1' },
                  care: null,
                  consents: [],
                  applications: apps,
                  session: 0,
                };
                // Oracle: the owner decided — the patient approved this requester's application (a
                // record), or the owner hospital approved it (a dataset: a cohort, used for statistics).
                // With no care, no own hospital and no consent, only that approval, in force, for this
                // target, covering the action and the exact purpose, allows — and for records only up to
                // the approved maxSensitivity (sensitive here).
                const want =
                  state === 'approved' &&
                  (action === 'read' || action === 'statistics') &&
                  purpose === 'HRESCH' &&
                  (target === 'dataset' || sensitivity !== 'restricted');
                const got = decide(facts);
                if ((got.decision === 'allow') !== want)
                  wrong.push(`${role} ${state} ${target} ${action} ${purpose} ${sensitivity}: ${got.decision} — ${got.reasons.join('; ')}`);
                if (want) assert.deepEqual(got.basis, { rule: 'application', applicationId: 'a1' });
                // Datasets are not a patient's data: no BMRS session for them.
                assert.equal(got.bmrs === null, target === 'dataset');
              }
    assert.equal(n, 7 * 7 * 2 * 4 * 2 * 2);
    assert.deepEqual(wrong.slice(0, 10), []);
  });
});
