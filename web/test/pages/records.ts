// Records and Break the glass: a doctor finds a consenting patient of another hospital, opens a
// record through the audited decision and sees it verified and rendered; writes a record from FHIR
// JSON; a doctor without a basis is refused; break-the-glass asks a reason and notifies the
// patient. Every outcome is checked on the ledger through the SDK.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { patientPseudonym } from '../../../src/identity/pseudonym.ts';
import { textSpilled, type ConsoleTestbed } from '../harness.ts';

interface AuditEntry {
  readonly op: string;
  readonly outcome: string;
  readonly actor: { org: string; id: string };
  readonly recordId: string | null;
  readonly atMs: number;
  readonly flags: readonly string[];
  readonly recordedBy: unknown;
}

async function patientLog(tb: ConsoleTestbed, org: string, user: string): Promise<AuditEntry[]> {
  const pp = patientPseudonym(tb.net.dir, org, user);
  const out: AuditEntry[] = [];
  let bookmark = '';
  for (let i = 0; i < 20; i++) {
    const page = (await tb.sdk(org, user).auditTrail({ kind: 'patient', patient: pp, pageSize: 100, ...(bookmark ? { bookmark } : {}) })) as {
      entries: AuditEntry[];
      bookmark: string;
    };
    out.push(...page.entries);
    bookmark = page.bookmark;
    if (!bookmark) break;
  }
  return out;
}

export function recordsTests(tb: () => ConsoleTestbed): void {
  describe('Records and Break the glass pages', () => {
    it("a doctor opens a consented record held by another hospital: decision, verification and the FHIR content; the read is in the patient's log on the ledger", async () => {
      const startMs = Date.now();
      const page = await tb().signIn('Hospital2', 'doctor1');
      await page.getByRole('link', { name: 'Records', exact: true }).click();
      const pp = patientPseudonym(tb().net.dir, 'Hospital1', 'patient1');
      const mine = page.getByTestId('my-patients');
      await mine.waitFor();
      await mine.getByText('Hospital1').first().waitFor();
      await tb().checkA11y(page, 'records: find a patient');
      // On a phone the pseudonym's field takes the form's width, the button under it.
      await page.setViewportSize({ width: 390, height: 844 });
      const widths = await page
        .getByRole('form', { name: 'Find a patient by pseudonym' })
        .evaluate((form) => ({ form: form.getBoundingClientRect().width, input: form.querySelector('input')!.getBoundingClientRect().width }));
      assert.ok(widths.input >= 0.95 * widths.form, `the pseudonym field at 390 px: ${JSON.stringify(widths)}`);
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.getByRole('link', { name: `Records of patient ${pp.slice(0, 16)}…` }).click();
      await page.getByTestId('records').getByRole('link', { name: 'h1-p1-visit' }).click();
      await page.getByRole('button', { name: 'Open record' }).click();
      await page.getByTestId('decision').filter({ hasText: 'Access allowed' }).waitFor({ timeout: 30_000 });
      await page.getByTestId('verified').waitFor({ timeout: 30_000 });
      // The Bundle rendered for a clinician: the observation and the (sensitive) condition.
      await page.getByText('Heart rate').first().waitFor();
      // The Bundle's Condition (ICD-10 F32: mental health) is a restricted part: withheld, with the reason.
      await page.getByTestId('withheld').filter({ hasText: 'The restricted part' }).waitFor();
      await tb().checkA11y(page, 'records: an opened record');
      await tb().screenshot(page, 'record');
      // On a ward's tablet the decision's ids and hashes stay inside their cards.
      await page.setViewportSize({ width: 768, height: 1024 });
      assert.deepEqual(await textSpilled(page, '[data-testid="read-outcome"]'), [], 'the opened record at 768 px');
      // On a phone the checks wrap onto several lines: each badge stays beside its check's first line.
      await page.setViewportSize({ width: 390, height: 900 });
      const offsets = await page
        .getByTestId('verification')
        .locator('li')
        .evaluateAll((items) =>
          items.map((li) => {
            const badge = li.querySelector('.mantine-Badge-root')!.getBoundingClientRect();
            const text = li.getBoundingClientRect();
            return { lines: Math.round(text.height / 20), badgeBelowTopPx: Math.round(badge.top - text.top) };
          }),
        );
      assert.ok(
        offsets.some((o) => o.lines >= 3),
        `a check wraps at 390 px (else this proves nothing): ${JSON.stringify(offsets)}`,
      );
      assert.ok(
        offsets.every((o) => o.badgeBelowTopPx <= 4),
        `badges beside their check's first line: ${JSON.stringify(offsets)}`,
      );
      await page.setViewportSize({ width: 1280, height: 800 });
      const log = await patientLog(tb(), 'Hospital1', 'patient1');
      assert.ok(
        log.some(
          (e) =>
            e.op === 'access.read' &&
            e.outcome === 'allow' &&
            e.actor.org === 'Hospital2' &&
            e.actor.id === 'doctor1' &&
            e.recordId === 'h1-p1-visit' &&
            e.atMs >= startMs - 5_000,
        ),
        "the read is on the ledger, in the patient's access log",
      );
    });

    it('a consent granted ahead of its period is listed "not yet in force" with its start, and opens nothing before it (decision 0913)', async () => {
      const patient = tb().sdk('Hospital3', 'patient1');
      const pp = patientPseudonym(tb().net.dir, 'Hospital3', 'patient1');
      const startMs = Date.now() + 2 * 86_400_000;
      const granted = await patient.grantConsent({
        patient: pp,
        grantee: { kind: 'user', user: 'Hospital5/nurse1' },
        actions: ['read'],
        purposes: ['TREAT'],
        period: { startMs, endMs: startMs + 86_400_000 },
        scope: { maxSensitivity: 'normal' },
      });
      const consentId = (granted.payload['consent'] as { consentId: string }).consentId;
      try {
        const page = await tb().signIn('Hospital5', 'nurse1');
        await page.getByRole('link', { name: 'Records', exact: true }).click();
        const line = page.getByTestId('my-patients').locator(`[data-consent-id="${consentId}"]`);
        await line.filter({ hasText: 'not yet in force' }).waitFor({ timeout: 20_000 });
        const shownStart = await page.evaluate((ms) => new Date(ms).toLocaleString(), startMs);
        const text = await line.textContent();
        assert.ok(text?.includes(`from ${shownStart} until`), `the start shown (${shownStart}): ${text}`);
        await tb().checkA11y(page, 'records: a consent not yet in force');
        // The start is what the ledger holds, and before it the consent opens nothing.
        const mine = await tb().sdk('Hospital5', 'nurse1').myPatients({});
        assert.equal(mine.patients.find((p) => p.patient === pp)?.consents.find((c) => c.consentId === consentId)?.startMs, startMs);
        const read = await tb().sdk('Hospital5', 'nurse1').readRecord({ recordId: 'h3-p1-bp', purpose: 'TREAT' });
        assert.equal(read.allowed, false, 'a read before the start is refused');
        assert.match(JSON.stringify(read.decision), /not yet in force/);
        // The patient's own list says so too.
        const own = await tb().signIn('Hospital3', 'patient1');
        await own.getByRole('link', { name: 'My data' }).click();
        await own.getByRole('tab', { name: 'My consents' }).click();
        await own.getByTestId('consents').locator(`tr[data-consent-id="${consentId}"]`).filter({ hasText: '(not yet in force)' }).waitFor();
      } finally {
        await patient.revokeConsent(consentId);
      }
    });

    it('a consent to every nurse at a hospital reaches its nurses\' "Your patients", saying whom it names; its records open from there (decision 0914)', async () => {
      const patient = tb().sdk('Hospital2', 'patient1');
      const pp = patientPseudonym(tb().net.dir, 'Hospital2', 'patient1');
      const granted = await patient.grantConsent({
        patient: pp,
        grantee: { kind: 'role', role: 'nurse', org: 'Hospital5' },
        actions: ['read'],
        purposes: ['TREAT'],
        period: { startMs: Date.now() - 60_000, endMs: Date.now() + 86_400_000 },
        scope: { maxSensitivity: 'normal' },
      });
      const consentId = (granted.payload['consent'] as { consentId: string }).consentId;
      try {
        const onLedger = await tb().sdk('Hospital5', 'nurse1').myPatients({});
        assert.deepEqual(onLedger.patients.find((p) => p.patient === pp)?.consents.find((c) => c.consentId === consentId)?.grantee, {
          kind: 'role',
          role: 'nurse',
          org: 'Hospital5',
        });
        const page = await tb().signIn('Hospital5', 'nurse1');
        await page.getByRole('link', { name: 'Records', exact: true }).click();
        await page
          .getByTestId('my-patients')
          .locator(`[data-consent-id="${consentId}"]`)
          .filter({ hasText: /^consent to every nurse at Hospital5: read for TREAT, up to normal, until / })
          .waitFor({ timeout: 20_000 });
        await page.getByRole('link', { name: `Records of patient ${pp.slice(0, 16)}…` }).click();
        await page.getByTestId('records').getByRole('link', { name: 'h2-p1-bp' }).waitFor({ timeout: 20_000 });
      } finally {
        await patient.revokeConsent(consentId);
      }
    });

    it("a doctor who has had more than 200 patients in care still finds every patient in their care now (the ledger's answer, all pages)", async () => {
      // 210 patients taken into Hospital4's doctor2's care, 206 discharged; of the four still in
      // care, two lie beyond the care index's first 200 keys.
      const admin = tb().sdk('Hospital4', 'admin1');
      const stillInCare: string[] = [];
      const pseudonyms = Array.from({ length: 210 }, (_, i) => createHash('sha256').update(`records-test-care-${i}-${Date.now()}`).digest('hex'));
      for (let i = 0; i < pseudonyms.length; i += 30) {
        const batch = pseudonyms.slice(i, i + 30);
        await Promise.all(batch.map((p) => admin.enrolPatient(p)));
        await Promise.all(batch.map((p) => admin.startCare('Hospital4/doctor2', p)));
      }
      // The index is in pseudonym order: the two greatest lie beyond any first 200 keys.
      const sorted = [...pseudonyms].sort();
      stillInCare.push(sorted[0]!, sorted[100]!, sorted[208]!, sorted[209]!);
      const discharged = pseudonyms.filter((p) => !stillInCare.includes(p));
      for (let i = 0; i < discharged.length; i += 30) await Promise.all(discharged.slice(i, i + 30).map((p) => admin.endCare('Hospital4/doctor2', p)));
      // The ledger's answer, every page, merged by patient.
      const onLedger = new Set<string>();
      let bookmark = '';
      for (let call = 0; call < 50; call++) {
        const page = await tb()
          .sdk('Hospital4', 'doctor2')
          .myPatients({ pageSize: 50, ...(bookmark ? { bookmark } : {}) });
        for (const p of page.patients) onLedger.add(p.patient);
        bookmark = page.bookmark;
        if (bookmark === '') break;
      }
      for (const p of stillInCare) assert.ok(onLedger.has(p), `${p} in care on the ledger`);

      const page = await tb().signIn('Hospital4', 'doctor2');
      await page.getByRole('link', { name: 'Records', exact: true }).click();
      const mine = page.getByTestId('my-patients');
      await page.getByText(new RegExp(`^1–\\d+ of ${onLedger.size} patients$`)).waitFor({ timeout: 20_000 });
      const shown = new Set<string>();
      for (let n = 1; n <= Math.ceil(onLedger.size / 10); n++) {
        if (n > 1) {
          await page.getByRole('button', { name: 'next page of patients' }).click();
          await page.getByText(new RegExp(`^${(n - 1) * 10 + 1}–\\d+ of ${onLedger.size} patients$`)).waitFor();
        }
        for (const title of await mine.locator('tbody tr td:first-child [title]').evaluateAll((els) => els.map((e) => e.getAttribute('title'))))
          if (title) shown.add(title);
      }
      assert.deepEqual([...shown].sort(), [...onLedger].sort(), 'the page lists exactly the patients on the ledger');
      assert.equal(await page.getByTestId('my-patients-more').count(), 0, 'all of them in one load');
    });

    it('a doctor writes a record from FHIR JSON for a patient in their care; it is on the ledger at their hospital and opens rendered', async () => {
      const page = await tb().signIn('Hospital2', 'doctor1');
      const pp = patientPseudonym(tb().net.dir, 'Hospital2', 'patient2');
      await page.goto(`${tb().url('Hospital2')}/records/patient/${pp}`);
      await page.getByRole('button', { name: 'New record' }).click();
      const recordId = `console-allergy-${Date.now().toString(36)}`;
      const dialog = page.getByRole('dialog', { name: 'New record' });
      await dialog.getByLabel('Record id').fill(recordId);
      const allergy = {
        resourceType: 'AllergyIntolerance',
        id: 'a1',
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' }] },
        patient: { reference: 'Patient/p2' },
        criticality: 'high',
        code: { coding: [{ system: 'http://snomed.info/sct', code: '764146007', display: 'Penicillin' }] },
        reaction: [{ manifestation: [{ text: 'Anaphylaxis' }], severity: 'severe' }],
      };
      await dialog.getByLabel('FHIR resource or Bundle (JSON)').fill(JSON.stringify(allergy));
      await tb().checkA11y(page, 'records: new record form');
      await dialog.getByRole('button', { name: 'Create record' }).click();
      await page
        .getByRole('heading', { name: `Record ${recordId}` })
        .waitFor({ timeout: 30_000 })
        .catch(async (err: unknown) => {
          throw new Error(`${(err as Error).message}\npage says: ${await page.locator('body').innerText()}`);
        });
      const meta = (await tb().sdk('Hospital2', 'doctor1').evaluate('getRecord', { recordId })) as {
        custodian: string;
        version: number;
        patient: string;
        author: string;
      };
      assert.deepEqual(
        { custodian: meta.custodian, version: meta.version, patient: meta.patient, author: meta.author },
        { custodian: 'Hospital2', version: 1, patient: pp, author: 'Hospital2/doctor1' },
      );
      await page.getByRole('button', { name: 'Open record' }).click();
      await page.getByTestId('verified').waitFor({ timeout: 30_000 });
      await page.getByText('high criticality').waitFor();
      await page.getByText(/Anaphylaxis — severe/).waitFor();
    });

    it('a nurse files a CSV record with a sensitivity; a supervisor of the custodian erases it: both on the ledger', async (t) => {
      const pp = patientPseudonym(tb().net.dir, 'Hospital2', 'patient1');
      const work = mkdtempSync(join(tmpdir(), 'medledger-console-csv-'));
      t.after(() => rmSync(work, { recursive: true, force: true }));
      const csv = join(work, 'labs.csv');
      writeFileSync(csv, 'test,value,unit\nHbA1c,6.1,%\nLDL,3.2,mmol/L\n');
      const doctor = await tb().signIn('Hospital2', 'doctor1');
      await doctor.goto(`${tb().url('Hospital2')}/records/patient/${pp}`);
      await doctor.getByRole('button', { name: 'New record' }).click();
      const dialog = doctor.getByRole('dialog', { name: 'New record' });
      const recordId = `console-csv-${Date.now().toString(36)}`;
      await dialog.getByLabel('Record id').fill(recordId);
      await dialog.getByText('File (CSV, PDF, image)').click();
      const [chooser] = await Promise.all([doctor.waitForEvent('filechooser'), dialog.getByRole('button', { name: 'File' }).click()]);
      await chooser.setFiles(csv);
      await dialog.getByRole('textbox', { name: 'Sensitivity' }).click();
      await doctor.getByRole('option', { name: 'sensitive' }).click();
      await dialog.getByRole('button', { name: 'Create record' }).click();
      await doctor.getByRole('heading', { name: `Record ${recordId}` }).waitFor({ timeout: 30_000 });
      const meta = (await tb().sdk('Hospital2', 'supervisor1').evaluate('getRecord', { recordId })) as {
        sensitivity: string;
        parts: Array<{ mediaType: string }>;
      };
      assert.equal(meta.sensitivity, 'sensitive');
      assert.deepEqual(
        meta.parts.map((p) => p.mediaType),
        ['text/csv'],
      );
      await doctor.getByRole('button', { name: 'Open record' }).click();
      await doctor.getByTestId('record-part').getByRole('cell', { name: 'HbA1c' }).waitFor({ timeout: 30_000 });

      const supervisor = await tb().signIn('Hospital2', 'supervisor1');
      await supervisor.goto(`${tb().url('Hospital2')}/records/record/${recordId}`);
      await supervisor.getByRole('button', { name: 'Erase…' }).click();
      await supervisor.getByRole('dialog').getByRole('button', { name: 'Erase record' }).click();
      await supervisor.getByTestId('notice').filter({ hasText: 'Erased' }).waitFor({ timeout: 30_000 });
      const after = (await tb().sdk('Hospital2', 'supervisor1').evaluate('getRecord', { recordId })) as Record<string, unknown>;
      assert.equal(after['parts'], undefined, 'only a tombstone stays on the ledger');
    });

    it('a doctor without consent or care is refused in plain words; the refusal is on the ledger', async () => {
      const startMs = Date.now();
      const page = await tb().signIn('Hospital3', 'doctor1');
      await page.goto(`${tb().url('Hospital3')}/records/record/h1-p1-bp`);
      await page.getByRole('button', { name: 'Open record' }).click();
      const denied = page.getByTestId('decision').filter({ hasText: 'Access denied' });
      await denied.waitFor({ timeout: 30_000 });
      assert.equal(await page.getByTestId('record-part').count(), 0, 'nothing is shown');
      const log = await patientLog(tb(), 'Hospital1', 'patient1');
      assert.ok(
        log.some(
          (e) =>
            e.op === 'access.read' &&
            e.outcome === 'deny' &&
            e.actor.org === 'Hospital3' &&
            e.actor.id === 'doctor1' &&
            e.recordId === 'h1-p1-bp' &&
            e.atMs >= startMs - 5_000,
        ),
      );
    });

    it('break the glass needs a reason and the acknowledgement; the read is flagged, audited as a security alert and the patient notified', async () => {
      const startMs = Date.now();
      const page = await tb().signIn('Hospital5', 'doctor1');
      await page.getByRole('link', { name: 'Break the glass', exact: true }).click();
      await page.getByLabel('Record id').fill('h1-p1-bp');
      await page.getByRole('button', { name: 'Break the glass and open the record' }).click();
      await page.getByRole('alert').filter({ hasText: 'A reason is required' }).waitFor();
      await page.getByRole('textbox', { name: 'Reason' }).click();
      await page.getByRole('option', { name: 'Patient unconscious, no proxy reachable' }).click();
      await page.getByRole('button', { name: 'Break the glass and open the record' }).click();
      await page.getByRole('alert').filter({ hasText: 'Confirm that you understand' }).waitFor();
      await page.getByLabel(/I understand that this read is audited/).check();
      await tb().checkA11y(page, 'break the glass');
      await page.getByRole('button', { name: 'Break the glass and open the record' }).click();
      await page.getByTestId('decision').filter({ hasText: 'break-the-glass' }).waitFor({ timeout: 30_000 });
      await page.getByTestId('verified').waitFor({ timeout: 30_000 });
      const log = await patientLog(tb(), 'Hospital1', 'patient1');
      const entry = log.find(
        (e) => e.op === 'access.read' && e.actor.org === 'Hospital5' && e.actor.id === 'doctor1' && e.atMs >= startMs - 5_000 && e.recordedBy === null,
      );
      assert.ok(entry, 'the break-the-glass read is on the ledger');
      assert.ok(entry.flags.includes('break-the-glass'));
      const pp = patientPseudonym(tb().net.dir, 'Hospital1', 'patient1');
      const notes = (await tb().sdk('Hospital1', 'patient1').notifications(pp)) as
        { notifications?: Array<{ kind: string; actor: string; atMs?: number }> } | Array<{ kind: string; actor: string }>;
      const list = Array.isArray(notes) ? notes : (notes.notifications ?? []);
      assert.ok(
        list.some((n) => n.kind === 'break-the-glass' && n.actor === 'Hospital5/doctor1'),
        'the patient is notified',
      );
    });
  });
}
