// The CLI's human output helpers (issue 17): local times, shortened or named pseudonyms, one line
// per cross-hospital read, and contract validation errors said as "invalid argument" with the field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { apiErrorText } from './output.ts';
import { fhirSummary, localTime, PatientNames, shortHex, table } from './readable.ts';
import { auditTable } from './commands/audit.ts';
import { basisText, morePages, patientsTable, shellWord } from './commands/record.ts';
import { applicationTable } from './commands/access.ts';
import { consentTable } from './commands/consent.ts';
import type { Grantee } from '../sdk/health.ts';

const P = 'db61a6c94cc69365a4152a439a25d03109bbc29461fbab2a6636b279e1e2fbbd';
const noNames = new PatientNames('/nonexistent', 'Hospital1');

describe('readable output', () => {
  it('a next-page hint pastes into a shell as one word (bookmarks hold "|")', () => {
    for (const bookmark of ['aix|pp|0a1b|000001796339122790|tx-1', "it's|odd", 'plain-1.2']) {
      const word = shellWord(bookmark);
      assert.equal(execFileSync('/bin/sh', ['-c', `printf %s ${word}`], { encoding: 'utf8' }), bookmark);
      assert.equal(morePages(bookmark), `\n(more: --bookmark ${word})`);
    }
    assert.equal(shellWord('plain-1.2'), 'plain-1.2');
    assert.equal(morePages(''), '');
  });
  it('local times have no epoch milliseconds; long hex ids are cut; tables align', () => {
    const t = localTime(1_796_339_117_536);
    assert.match(t, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.equal(localTime(null), '-');
    assert.equal(shortHex(P), `${P.slice(0, 12)}…`);
    assert.equal(shortHex('h1-p1-bp'), 'h1-p1-bp');
    assert.deepEqual(table(['a', 'bb'], [['xxx', 'y'], ['why: reasons']]).split('\n'), ['a    bb', 'xxx  y', '    why: reasons']);
  });

  it("a custodian's confirmations of a served read are one note on the read (seen on a real `up` consortium), not more identical lines", () => {
    const read = {
      txId: 't1',
      atMs: 1_796_339_124_306,
      op: 'access.read',
      outcome: 'allow',
      actor: { org: 'Hospital2', id: 'doctor1', role: 'doctor' },
      recordedBy: null,
      recordId: 'h1-p1-visit',
      purpose: 'TREAT',
      reasons: [],
      securityAlert: false,
      flags: [],
    };
    const served = { ...read, txId: 't2', atMs: read.atMs + 900, recordedBy: { org: 'Hospital1', id: 'peer0', role: 'peer' }, ticket: 't1', part: 'normal' };
    const served2 = { ...served, txId: 't4', part: 'restricted' };
    const orphan = { ...served, txId: 't3', ticket: 'not-on-this-page' };
    const out = auditTable({ entries: [read, served, served2, orphan], bookmark: '' }, noNames);
    const rows = out.split('\n').filter((l) => l.includes('h1-p1-visit'));
    assert.equal(rows.length, 2, out);
    assert.match(rows[0]!, /access\.read +allow .*served by Hospital1 \(normal, restricted parts\)$/);
    assert.match(rows[1]!, /access\.read \(served\).*recorded by Hospital1 \(custodian\)/);
    assert.doesNotMatch(out, /\b1\d{12}\b/);
  });

  it('a patient actor is named when the directory knows them, else shortened', () => {
    const e = {
      txId: 't',
      atMs: 0,
      op: 'consent.grant',
      outcome: 'allow',
      actor: { org: 'Hospital1', id: P, role: 'patient' },
      recordId: null,
      purpose: null,
      reasons: [],
      securityAlert: false,
    };
    assert.match(auditTable({ entries: [e] }, noNames), new RegExp(`Hospital1/${P.slice(0, 12)}… \\(patient\\)`));
    assert.doesNotMatch(auditTable({ entries: [e] }, noNames), new RegExp(P));
  });

  it('consents and applications as tables: dates, who, what; no epoch times, no whole pseudonym, no "undefined"', () => {
    const c1 = {
      consentId: 'c1',
      patient: P,
      grantee: { kind: 'role', role: 'doctor', org: 'Hospital2' },
      actions: ['read'],
      purposes: ['TREAT'],
      period: { startMs: 1_796_339_062_521, endMs: 1_798_931_122_521 },
      scope: { recordIds: [], categories: [], maxSensitivity: 'sensitive' },
      status: 'active',
      grantedAtMs: 1_796_339_122_532,
      revokedAtMs: null,
    };
    const consents = consentTable([c1], noNames, undefined, c1.grantedAtMs);
    assert.match(consents, /^c1 +every doctor at Hospital2 +read +TREAT +all records up to sensitive +\d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d +active since /m);
    // Seen once its period is over (`consent list --ended`): when it ended, not "active".
    assert.match(consentTable([c1], noNames, undefined, c1.period.endMs), /^c1 .* ended \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
    assert.equal(consentTable([], noNames, '(no ended consents)'), '(no ended consents)');
    // Granted ahead of its period (decision 0913): from when, not "active since".
    assert.match(
      consentTable([c1], noNames, undefined, c1.period.startMs - 1),
      new RegExp(`^c1 .* not yet in force: from ${localTime(c1.period.startMs)}$`, 'm'),
    );
    const a1 = {
      applicationId: 'a1',
      applicant: 'Hospital2/researcher1',
      applicantRole: 'researcher',
      target: { kind: 'record', recordId: 'h1-p1-bp' },
      purpose: 'HRESCH',
      actions: ['read'],
      period: { startMs: 1_796_339_062_521, endMs: 1_798_931_122_521 },
      maxSensitivity: 'normal',
      status: 'approved',
      appliedAtMs: 1_796_339_122_790,
      decidedAtMs: 1_796_339_200_000,
      decidedBy: 'Hospital1/patient',
    };
    // Within its period an approval says who approved it; after it, first that it has ended.
    assert.match(applicationTable({ applications: [a1], bookmark: '' }, noNames, '', a1.decidedAtMs), / approved by Hospital1\/patient \d{4}-/);
    assert.match(
      applicationTable({ applications: [a1], bookmark: '' }, noNames, '', a1.period.endMs),
      / ended \d{4}-\d\d-\d\d \d\d:\d\d:\d\d, approved by Hospital1\/patient /,
    );
    assert.doesNotMatch(applicationTable({ applications: [{ ...a1, status: 'denied' }], bookmark: '' }, noNames, '', a1.period.endMs), / ended /);
    const apps = applicationTable(
      {
        applications: [{ ...a1, status: 'pending', decidedAtMs: null, decidedBy: null }],
        bookmark: 'ax|owner|x|t1|a1',
      },
      noNames,
      '--status pending',
      1_796_339_122_790,
    );
    assert.match(apps, /\(more: --bookmark 'ax\|owner\|x\|t1\|a1' --status pending\)$/);
    assert.equal(applicationTable({ applications: [], bookmark: '' }, noNames), '(no applications)');
    assert.match(applicationTable({ applications: [], bookmark: 'b' }, noNames), /^\(no applications on this page\)\n\(more: --bookmark b\)$/);
    assert.match(apps, /^a1 +Hospital2\/researcher1 \(researcher\) +read up to normal +record h1-p1-bp +\(the patient\) +HRESCH .* pending \(applied /m);
    for (const out of [consents, apps]) {
      assert.doesNotMatch(out, /\b1\d{12}\b|undefined/);
      assert.doesNotMatch(out, new RegExp(P));
    }
  });

  it("a clinician's patients: every basis on the patient's line, a consent not yet in force with its start, whom a consent names unless it is you, the pseudonym whole (decisions 0913, 0914)", () => {
    const consent = {
      consentId: 'c9',
      grantee: { kind: 'user', user: 'Hospital2/doctor1' } as Grantee,
      actions: ['read'],
      purposes: ['TREAT'],
      startMs: 1_796_400_000_000,
      endMs: 1_796_500_000_000,
      maxSensitivity: 'normal',
    };
    const page = {
      patients: [
        { patient: P, patientOrg: 'Hospital1', care: { startedAtMs: 1_796_339_122_532 }, consents: [consent] },
        {
          patient: 'ab'.repeat(32),
          patientOrg: null,
          care: null,
          consents: [{ ...consent, consentId: 'c8', grantee: { kind: 'role', role: 'doctor', org: 'Hospital2' } as Grantee, startMs: 1_796_300_000_000 }],
        },
      ],
      bookmark: '',
    };
    const out = patientsTable(page, noNames, 1_796_350_000_000);
    assert.match(
      out,
      new RegExp(
        `^${P} +Hospital1 +in your care since ${localTime(1_796_339_122_532)}; consent c9: read for TREAT up to normal, not yet in force: from ${localTime(consent.startMs)} until ${localTime(consent.endMs)}$`,
        'm',
      ),
    );
    assert.match(
      out,
      new RegExp(`^${'ab'.repeat(32)} +- +consent c8 to every doctor at Hospital2: read for TREAT up to normal, until ${localTime(consent.endMs)}$`, 'm'),
    );
    assert.doesNotMatch(out, /\b1\d{12}\b|undefined|null/);
    assert.equal(patientsTable({ patients: [], bookmark: '' }, noNames), '(no care relation, and no consent names you, your hospital or your role)');
    assert.match(patientsTable({ patients: [], bookmark: 'care|x' }, noNames), /^\(no patients on this page/);
  });

  it('FHIR content is summarised: type, coded name, value', () => {
    const obs = {
      resourceType: 'Observation',
      id: 'bp1',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' }] },
      valueQuantity: { value: 113, unit: 'mm[Hg]' },
    };
    assert.deepEqual(fhirSummary(obs), ['Observation bp1: Systolic blood pressure (LOINC 8480-6) = 113 mm[Hg] [final]']);
    assert.equal(fhirSummary({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: obs }] }).length, 2);
    assert.equal(basisText({ rule: 'consent', consentId: 'c1' }), 'consent c1');
    assert.equal(basisText({ rule: 'care-relation' }), 'care-relation');
  });

  it('a contract validation error says "invalid argument" first, names the field and its option', () => {
    const refused = apiErrorText(
      'ENDORSEMENT_REFUSED',
      'Hospital1 refused to endorse health.grantConsent: invalid argument — scope.maxSensitivity: Invalid option: expected one of "normal"|"sensitive"|"restricted"',
      { maxSensitivity: 'bogus' },
    );
    assert.match(
      refused,
      /^invalid argument in health\.grantConsent \(found by Hospital1 while endorsing; nothing was ordered\): scope\.maxSensitivity \(--max-sensitivity\): Invalid option/,
    );
    assert.doesNotMatch(refused, /ENDORSEMENT_REFUSED|refused to endorse/);
    assert.equal(apiErrorText('CONTRACT_REJECTED', 'invalid argument — (argument): Invalid input'), 'invalid argument: the argument as a whole: Invalid input');
    assert.equal(apiErrorText('CONTRACT_REJECTED', 'invalid argument — a.b: x; c: y'), 'invalid argument: a.b: x; c: y');
    assert.equal(apiErrorText('FORBIDDEN', 'no'), 'FORBIDDEN: no');
    assert.equal(
      apiErrorText(
        'ENDORSEMENT_REFUSED',
        'Hospital1 refused to endorse health.bmrsReauthorize: bmrsReauthorize: the session of H3/n1 is in state 1 (CAMS), not dead',
      ),
      'the session of H3/n1 is in state 1 (CAMS), not dead (health.bmrsReauthorize, refused by Hospital1 while endorsing; nothing was ordered; ENDORSEMENT_REFUSED)',
    );
  });
});
