// My data: the patient's pseudonym, own records opened and verified, consents granted and revoked
// through the form (checked on the ledger), the access log naming the cross-hospital reader, and
// the break-the-glass notification.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { patientPseudonym } from '../../../src/identity/pseudonym.ts';
import { assertInSight, type ConsoleTestbed } from '../harness.ts';

interface Consent {
  consentId: string;
  grantee: { kind: string; user?: string };
  actions: string[];
  purposes: string[];
  scope: { maxSensitivity: string };
}

export function myDataTests(tb: () => ConsoleTestbed): void {
  describe('My data page', () => {
    it("shows the patient their pseudonym, who read their data (the other hospital's doctor, as on the ledger) and the break-the-glass alert", async () => {
      const pp = patientPseudonym(tb().net.dir, 'Hospital1', 'patient1');
      const page = await tb().signIn('Hospital1', 'patient1');
      await page.getByRole('link', { name: 'My data' }).click();
      assert.equal(await page.getByTestId('my-pseudonym').textContent(), pp);
      // The patient reads it to a doctor or shows the screen: every digit inside the page, at a
      // tablet's and a phone's width.
      for (const width of [768, 390]) {
        await page.setViewportSize({ width, height: 900 });
        const box = await page.getByTestId('my-pseudonym').boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= width - 16, `the pseudonym at ${width} px: ${JSON.stringify(box)}`);
        const hidden = await page.getByTestId('my-pseudonym').evaluate((el) => el.scrollWidth > el.clientWidth + 1);
        assert.equal(hidden, false, `part of the pseudonym is hidden at ${width} px`);
      }
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.getByRole('tab', { name: 'Who accessed my data' }).click();
      const log = page.getByTestId('access-log');
      await log.waitFor();
      // The ledger's log has the seeded cross-hospital read by Hospital2/doctor1; the page shows it.
      const onLedger = (await tb().sdk('Hospital1', 'patient1').auditTrail({ kind: 'patient', patient: pp, pageSize: 100 })) as {
        entries: Array<{ op: string; outcome: string; actor: { org: string; id: string } }>;
      };
      assert.ok(onLedger.entries.some((e) => e.op === 'access.read' && e.outcome === 'allow' && e.actor.org === 'Hospital2' && e.actor.id === 'doctor1'));
      await log.getByRole('row').filter({ hasText: 'Hospital2/doctor1' }).filter({ hasText: 'allowed' }).first().waitFor();
      await tb().checkA11y(page, 'my data: access log');
      await tb().screenshot(page, 'my-data-access-log');
      await page.getByRole('tab', { name: 'Notifications' }).click();
      await page
        .getByTestId('notifications')
        .getByText(/Hospital4\/doctor1 broke the glass to read h1-p1-visit/)
        .first()
        .waitFor();
    });

    it('shows the latest notifications first however many there are, the older ones on demand', async () => {
      // More notifications than one load holds (50): each break the glass brings one.
      const doctor = tb().sdk('Hospital4', 'doctor1');
      for (let done = 0; done < 56; done += 7)
        await Promise.all(
          Array.from({ length: 7 }, () => doctor.submit('access', { recordId: 'h1-p1-visit', action: 'read', purpose: 'BTG', reason: 'unconscious-no-proxy' })),
        );
      const pp = patientPseudonym(tb().net.dir, 'Hospital1', 'patient1');
      const patient = tb().sdk('Hospital1', 'patient1');
      const all: Array<{ auditId: string; atMs: number }> = [];
      let bookmark = '';
      do {
        const r = (await patient.notifications(pp, { pageSize: 200, ...(bookmark ? { bookmark } : {}) })) as { notifications: typeof all; bookmark: string };
        all.push(...r.notifications);
        bookmark = r.bookmark;
      } while (bookmark);
      assert.ok(all.length > 50, `${all.length} notifications`);
      const page = await tb().signIn('Hospital1', 'patient1');
      await page.getByRole('link', { name: 'My data' }).click();
      await page.getByRole('tab', { name: 'Notifications' }).click();
      const feed = page.getByTestId('notifications');
      await feed.getByRole('alert').first().waitFor({ timeout: 30_000 });
      // The first shown is the ledger's latest: its time heads the list.
      const latest = all[all.length - 1]!;
      const firstTitle = await feed.getByRole('alert').first().locator('.mantine-Alert-title').textContent();
      const shownTime = await page.evaluate((ms) => new Date(ms).toLocaleString(), latest.atMs);
      assert.equal(firstTitle, shownTime);
      await page.getByText(`1–10 of 50 notifications`).waitFor();
      await page.getByTestId('notifications-more').click();
      await page.getByText(new RegExp(`of ${Math.min(all.length, 100)} notifications`)).waitFor({ timeout: 30_000 });
      await tb().checkA11y(page, 'my data: notifications, older ones loaded');
    });

    it('opens their own record on a phone, verified, and brought into sight below the list', async () => {
      const page = await tb().signIn('Hospital1', 'patient1');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${tb().url('Hospital1')}/my-data`);
      await page.getByRole('button', { name: 'Open h1-p1-bp' }).click();
      await page.getByTestId('verified').waitFor({ timeout: 30_000 });
      await assertInSight(page, page.getByRole('heading', { name: 'h1-p1-bp', exact: true }), 'the record opened');
      await page.getByText('Systolic blood pressure').first().waitFor();
    });

    it('grants a consent through the form and revokes it; both are on the ledger', async () => {
      const pp = patientPseudonym(tb().net.dir, 'Hospital1', 'patient2');
      const sdk = tb().sdk('Hospital1', 'patient2');
      const grantee = 'Hospital3/nurse1';
      const page = await tb().signIn('Hospital1', 'patient2');
      await page.getByRole('link', { name: 'My data' }).click();
      await page.getByRole('tab', { name: 'My consents' }).click();
      await page.getByRole('button', { name: 'Grant a consent' }).click();
      const dialog = page.getByRole('dialog', { name: 'Grant a consent' });
      await dialog.getByLabel('Person (organisation/user)').fill(grantee);
      await dialog.getByRole('textbox', { name: 'Up to sensitivity' }).click();
      await page.getByRole('option', { name: 'sensitive' }).click();
      await tb().checkA11y(page, 'my data: grant form');
      await dialog.getByRole('button', { name: 'Grant consent' }).click();
      await page.getByTestId('consent-notice').filter({ hasText: 'Consent granted' }).waitFor({ timeout: 30_000 });
      const granted = ((await sdk.listConsents(pp)) as Consent[]).find((c) => c.grantee.user === grantee);
      assert.ok(granted, 'the consent is on the ledger');
      assert.deepEqual(
        { actions: granted.actions, purposes: granted.purposes, max: granted.scope.maxSensitivity },
        { actions: ['read'], purposes: ['TREAT'], max: 'sensitive' },
      );
      await page.getByTestId('consents').getByRole('row').filter({ hasText: grantee }).waitFor();
      await page.getByRole('button', { name: `Revoke consent for ${grantee}` }).click();
      await page.getByRole('dialog', { name: 'Revoke this consent?' }).getByRole('button', { name: 'Revoke consent' }).click();
      await page.getByTestId('consent-notice').filter({ hasText: 'Revoked' }).waitFor({ timeout: 30_000 });
      assert.equal(
        ((await sdk.listConsents(pp)) as Consent[]).some((c) => c.consentId === granted.consentId),
        false,
        'revoked on the ledger',
      );
    });

    it('a consent whose period ended leaves "In force" for "Ended", as on the ledger', async () => {
      const pp = patientPseudonym(tb().net.dir, 'Hospital1', 'patient2');
      const sdk = tb().sdk('Hospital1', 'patient2');
      const grantee = 'Hospital4/nurse1';
      const endMs = Date.now() + 3000;
      await sdk.grantConsent({
        patient: pp,
        grantee: { kind: 'user', user: grantee },
        actions: ['read'],
        purposes: ['TREAT'],
        period: { startMs: endMs - 60_000, endMs },
        scope: { maxSensitivity: 'normal' },
      });
      await new Promise((done) => setTimeout(done, Math.max(0, endMs - Date.now()) + 100));
      const inForce = (await sdk.listConsents(pp)) as Consent[];
      const ended = ((await sdk.listEndedConsents(pp, { pageSize: 200 })) as { consents: Consent[] }).consents;
      assert.ok(!inForce.some((c) => c.grantee.user === grantee), 'not in force on the ledger');
      const mine = ended.filter((c) => c.grantee.user === grantee);
      assert.equal(mine.length, 1, 'ended on the ledger');

      const page = await tb().signIn('Hospital1', 'patient2');
      await page.getByRole('link', { name: 'My data' }).click();
      await page.getByRole('tab', { name: 'My consents' }).click();
      const which = page.getByRole('radiogroup', { name: 'Which consents' });
      await which.waitFor();
      // In force: what the ledger holds in force, and not this one.
      await page
        .getByText(inForce.length === 0 ? 'You have no consents in force.' : `1–${Math.min(inForce.length, 10)} of ${inForce.length} consents`)
        .waitFor();
      assert.equal(await page.getByRole('row').filter({ hasText: grantee }).count(), 0);
      await which.getByText('Ended').click();
      const table = page.getByTestId('ended-consents');
      await table
        .locator(`tr[data-consent-id="${mine[0]!.consentId}"]`)
        .filter({ hasText: `${grantee}` })
        .filter({ hasText: '(ended)' })
        .waitFor();
      const shown = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-consent-id')));
      assert.deepEqual(
        shown,
        ended.slice(0, shown.length).map((c) => c.consentId),
      );
      assert.equal(await table.getByRole('button', { name: /Revoke/ }).count(), 0, 'nothing to revoke: it opens nothing');
      await tb().checkA11y(page, 'my data: ended consents');
    });
  });
}
