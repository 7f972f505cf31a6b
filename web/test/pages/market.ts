// Data market and Analytics: a researcher applies for a dataset through the catalogue, the owner
// hospital's admin approves it in their console (both on the ledger); a researcher runs the
// federated statistics and sees the histogram — the figures shown are the result recorded on the
// ledger, and finely binned requests show withheld cells, none released under the threshold; a
// request without approval is refused and says why; raw records stay out of a researcher's reach.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { assertInSight, type ConsoleTestbed } from '../harness.ts';

interface Application {
  applicationId: string;
  target: { kind: string; datasetId?: string };
  status: string;
  decidedBy: string | null;
}
interface StatsOnLedger {
  status: string;
  result: { minCohort: number; count: number | null; histogram: Array<{ count: number | null }> } | null;
}

/** An org's researcher1 applies for statistics over a dataset, for a day unless said; the application's id. */
async function applyForStatistics(tb: ConsoleTestbed, org: string, datasetId: string, endMs = Date.now() + 86_400_000): Promise<string> {
  const applied = await tb.sdk(org, 'researcher1').apply({
    target: { kind: 'dataset', datasetId },
    purpose: 'HRESCH',
    actions: ['statistics'],
    period: { startMs: endMs - 86_400_000, endMs },
    maxSensitivity: 'normal',
  });
  return (applied.payload['application'] as { applicationId: string }).applicationId;
}

/** Every application of an owner or an applicant on the ledger, the latest first, read a page at a time. */
async function applicationsOf(
  tb: ConsoleTestbed,
  org: string,
  user: string,
  query: { owner: string } | { applicant: string },
  status?: 'pending' | 'approved' | 'denied',
): Promise<Application[]> {
  const all: Application[] = [];
  let bookmark = '';
  for (let call = 0; call < 100; call++) {
    const page = (await tb
      .sdk(org, user)
      .listApplications(query, { order: 'newest', pageSize: 200, ...(status ? { status } : {}), ...(bookmark ? { bookmark } : {}) })) as {
      applications: Application[];
      bookmark: string;
    };
    all.push(...page.applications);
    bookmark = page.bookmark;
    if (bookmark === '') return all;
  }
  throw new Error('listApplications: the bookmarks did not end');
}

async function chooseOptions(page: Page, label: string, options: readonly (string | RegExp)[]): Promise<void> {
  await page.getByRole('textbox', { name: label }).click();
  for (const o of options) await page.getByRole('option', { name: o }).click();
  await page.keyboard.press('Escape');
}

async function runStatistics(page: Page, datasets: readonly RegExp[], from: number, to: number, bins: number): Promise<void> {
  await chooseOptions(page, 'Datasets', datasets);
  await page.getByRole('textbox', { name: 'Variable' }).click();
  await page.getByRole('option', { name: 'sbp', exact: true }).click();
  await page.getByLabel('From').fill(String(from));
  await page.getByLabel('To').fill(String(to));
  await page.getByLabel('Bins').fill(String(bins));
  await page.getByRole('button', { name: 'Run statistics' }).click();
}

export function marketTests(tb: () => ConsoleTestbed): void {
  describe('Data market and Analytics pages', () => {
    it("a researcher applies for a dataset in the catalogue; the owner's admin approves it; both are on the ledger", async () => {
      const researcher = await tb().signIn('Hospital1', 'researcher1');
      await researcher.getByRole('link', { name: 'Data market' }).click();
      await researcher.getByTestId('catalogue').waitFor();
      await tb().checkA11y(researcher, 'data market (researcher)');
      // Hospital2's researcher holds statistics-only approvals (the demo's): the catalogue says so
      // from the listing itself, and offers no download, which the ledger would refuse.
      const statsOnly = await tb().signIn('Hospital2', 'researcher1');
      await statsOnly.getByRole('link', { name: 'Data market' }).click();
      const bpRow = statsOnly.getByTestId('catalogue').locator('tr[data-dataset-id="bp-hospital1"]');
      await bpRow.getByTestId('standing').filter({ hasText: '(statistics)' }).waitFor({ timeout: 20_000 });
      assert.equal(await bpRow.getByRole('button', { name: 'Download bp-hospital1' }).count(), 0, 'no download for a statistics-only approval');
      await researcher.getByRole('button', { name: 'Apply for bp-hospital3' }).click();
      const dialog = researcher.getByRole('dialog');
      await dialog.getByRole('button', { name: 'Submit application' }).click();
      await researcher.getByTestId('market-notice').filter({ hasText: 'Hospital3 decides' }).waitFor({ timeout: 30_000 });
      const mine = await applicationsOf(tb(), 'Hospital1', 'researcher1', { applicant: 'Hospital1/researcher1' });
      const app = mine.find((a) => a.target.datasetId === 'bp-hospital3' && a.status === 'pending');
      assert.ok(app, 'the application is on the ledger, pending');
      await researcher.getByTestId('my-applications').getByRole('row').filter({ hasText: 'dataset bp-hospital3' }).filter({ hasText: 'pending' }).waitFor();

      const admin = await tb().signIn('Hospital3', 'admin1');
      await admin.getByRole('link', { name: 'Data market' }).click();
      await admin.getByRole('button', { name: `Approve ${app.applicationId}` }).click();
      await admin.getByTestId('decision-notice').filter({ hasText: 'Approved' }).waitFor({ timeout: 30_000 });
      await tb().checkA11y(admin, 'data market (owner)');
      await tb().screenshot(admin, 'data-market');
      const decided = (await applicationsOf(tb(), 'Hospital1', 'researcher1', { applicant: 'Hospital1/researcher1' })).find(
        (a) => a.applicationId === app.applicationId,
      );
      assert.equal(decided?.status, 'approved');
      assert.equal(decided?.decidedBy, 'Hospital3/admin1');
    });

    it('on a phone, an application approved far down the list: the outcome shows at the foot of the screen, the row stays in sight, and it is on the ledger', async () => {
      const applyFor5 = (org: string): Promise<string> => applyForStatistics(tb(), org, 'bp-hospital5');
      // Newest first: three applications after it put this one fourth, far below the list's top on a phone.
      const applicationId = await applyFor5('Hospital4');
      for (const org of ['Hospital1', 'Hospital2', 'Hospital3']) await applyFor5(org);
      const admin = await tb().signIn('Hospital5', 'admin1');
      await admin.setViewportSize({ width: 390, height: 844 });
      await admin.goto(`${tb().url('Hospital5')}/market`);
      const approve = admin.getByRole('button', { name: `Approve ${applicationId}` });
      await approve.scrollIntoViewIfNeeded();
      const row = admin.getByTestId('applications-to-decide').locator(`tr[data-application-id="${applicationId}"]`);
      await approve.click();
      const floating = admin.getByTestId('decision-notice-floating');
      await floating.filter({ hasText: 'Approved Hospital4/researcher1' }).waitFor({ timeout: 30_000 });
      await assertInSight(admin, floating, 'the outcome at the foot of the screen', true);
      await assertInSight(admin, row, 'the row approved');
      const above = await admin.getByTestId('decision-notice').evaluate((el) => el.getBoundingClientRect().bottom);
      assert.ok(above < 100, `the notice above the list is out of sight (its bottom at ${Math.round(above)} px): the page did not jump to it`);
      await tb().checkA11y(admin, 'data market, an outcome at the foot of the screen (phone)');
      const decided = (await applicationsOf(tb(), 'Hospital4', 'researcher1', { applicant: 'Hospital4/researcher1' })).find(
        (a) => a.applicationId === applicationId,
      );
      assert.equal(decided?.status, 'approved');
      await floating.getByRole('button', { name: 'Dismiss' }).click();
      await floating.waitFor({ state: 'detached' });
      // Scrolled back up, the notice above the list says it again, and nothing floats.
      await admin.getByTestId('decision-notice').scrollIntoViewIfNeeded();
      await admin.getByTestId('decision-notice').filter({ hasText: 'Approved Hospital4/researcher1' }).waitFor();
      assert.equal(await floating.count(), 0);
    });

    it("on a phone, one outcome at the foot of the screen at a time: a decision's, then an application's sent from the catalogue", async () => {
      // The test before left Hospital1's, Hospital2's and Hospital3's applications for bp-hospital5
      // pending; Hospital1's is third in the list, below the fold. A supervisor both decides and applies.
      const pending = (await applicationsOf(tb(), 'Hospital1', 'researcher1', { applicant: 'Hospital1/researcher1' })).find(
        (a) => a.target.datasetId === 'bp-hospital5' && a.status === 'pending',
      );
      assert.ok(pending, "Hospital1's application for bp-hospital5 is pending");
      const page = await tb().signIn('Hospital5', 'supervisor1');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${tb().url('Hospital5')}/market`);
      const deny = page.getByRole('button', { name: `Deny ${pending.applicationId}` });
      await deny.scrollIntoViewIfNeeded();
      await deny.click();
      const decided = page.getByTestId('decision-notice-floating');
      await decided.filter({ hasText: 'Denied Hospital1/researcher1' }).waitFor({ timeout: 30_000 });
      const apply = page.getByRole('button', { name: 'Apply for bp-hospital1' });
      await apply.scrollIntoViewIfNeeded();
      await apply.click();
      assert.equal(await decided.count(), 1, "the decision's copy is still there while the dialog is open");
      await page.getByRole('dialog').getByRole('button', { name: 'Submit application' }).click();
      const applied = page.getByTestId('market-notice-floating');
      await applied.filter({ hasText: 'Hospital1 decides' }).waitFor({ timeout: 30_000 });
      await assertInSight(page, applied, "the application's outcome at the foot of the screen", true);
      await decided.waitFor({ state: 'detached', timeout: 5_000 });
      const mine = await applicationsOf(tb(), 'Hospital5', 'supervisor1', { applicant: 'Hospital5/supervisor1' });
      assert.ok(
        mine.some((a) => a.target.datasetId === 'bp-hospital1' && a.status === 'pending'),
        'the application is on the ledger, pending',
      );
    });

    it('an owner with more applications than one load: the latest first, the older on demand, those awaiting a decision on request — as on the ledger', async () => {
      // 53 applications for Hospital4's dataset, made now: with the ones before, more than the 50
      // the page loads at once. Three of them decided, so "awaiting a decision" differs from all.
      const made: string[] = [];
      for (let batch = 0; batch < 53; batch += 10) {
        made.push(...(await Promise.all(Array.from({ length: Math.min(10, 53 - batch) }, () => applyForStatistics(tb(), 'Hospital2', 'bp-hospital4')))));
      }
      for (const id of made.slice(0, 3)) await tb().sdk('Hospital4', 'admin1').decideApplication(id, false);
      const all = await applicationsOf(tb(), 'Hospital4', 'admin1', { owner: 'Hospital4' });
      const pending = await applicationsOf(tb(), 'Hospital4', 'admin1', { owner: 'Hospital4' }, 'pending');
      assert.ok(all.length > 50 && all.length <= 100, `${all.length} applications to Hospital4`);
      assert.ok(pending.length < all.length && pending.every((a) => a.status === 'pending'));

      const page = await tb().signIn('Hospital4', 'admin1');
      await page.getByRole('link', { name: 'Data market' }).click();
      const table = page.getByTestId('applications-to-decide');
      const count = page.getByText(/^\d+–\d+ of \d+ applications$/);
      await count.filter({ hasText: 'of 50 applications' }).waitFor({ timeout: 20_000 });
      assert.equal(await table.locator('tbody tr').first().getAttribute('data-application-id'), all[0]!.applicationId, 'the latest first');
      await page.getByTestId('applications-to-decide-more').click();
      await count.filter({ hasText: `of ${all.length} applications` }).waitFor({ timeout: 20_000 });
      // The table turned to the first of the older ones.
      await table.locator(`tr[data-application-id="${all[50]!.applicationId}"]`).waitFor();
      assert.equal(await page.getByTestId('applications-to-decide-more').count(), 0, 'nothing more on the ledger');
      await tb().checkA11y(page, 'data market, older applications loaded');

      await page.getByRole('radiogroup', { name: 'Which applications' }).getByText('Awaiting a decision').click();
      await count.filter({ hasText: `of ${Math.min(pending.length, 50)} applications` }).waitFor({ timeout: 20_000 });
      const shown = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-application-id')));
      assert.deepEqual(
        shown,
        pending.slice(0, shown.length).map((a) => a.applicationId),
      );
      for (const state of await table.locator('tbody tr .mantine-Badge-label').allTextContents()) assert.equal(state, 'pending');
      for (const id of made.slice(0, 3)) assert.equal(await table.locator(`tr[data-application-id="${id}"]`).count(), 0, `${id} was denied`);
    });

    it('a filter whose whole load reads no match says more remain, shows no empty table, and the next load finds them — as on the ledger (decision 1213)', async () => {
      // One application to Hospital4 left waiting, then 1,001 made and denied: the latest 1,001
      // entries of its index, more than a load reads (20 calls of 50), none awaiting a decision.
      const admin = tb().sdk('Hospital4', 'admin1');
      const waiting = await applyForStatistics(tb(), 'Hospital2', 'bp-hospital4');
      const madeAtMs = Date.now();
      // 60 at a time: a user may have at most 64 requests in flight on a node.
      for (let batch = 0; batch < 1001; batch += 60) {
        const ids = await Promise.all(Array.from({ length: Math.min(60, 1001 - batch) }, () => applyForStatistics(tb(), 'Hospital2', 'bp-hospital4')));
        await Promise.all(ids.map((id) => admin.decideApplication(id, false)));
      }
      const pending = await applicationsOf(tb(), 'Hospital4', 'admin1', { owner: 'Hospital4' }, 'pending');
      assert.ok(
        pending.some((a) => a.applicationId === waiting),
        'the one made before awaits a decision',
      );
      console.log(`# 1,001 applications made and denied in ${Date.now() - madeAtMs} ms`);

      const page = await tb().signIn('Hospital4', 'admin1');
      await page.getByRole('link', { name: 'Data market' }).click();
      await page.getByText(/^1–\d+ of 50 applications$/).waitFor({ timeout: 20_000 });
      await page.getByRole('radiogroup', { name: 'Which applications' }).getByText('Awaiting a decision').click();
      const noneYet = page.getByTestId('applications-to-decide-more-none-yet');
      await noneYet.filter({ hasText: 'None found among the entries read so far; the ledger holds more.' }).waitFor({ timeout: 30_000 });
      assert.equal(await page.getByTestId('applications-to-decide').count(), 0, 'no empty table');
      assert.equal(await page.getByText('None awaiting a decision.').count(), 0, 'not "none": more remain');
      await tb().checkA11y(page, 'data market, a filtered load with no match yet');
      await page.getByTestId('applications-to-decide-more').click();
      const table = page.getByTestId('applications-to-decide');
      await table.locator('tbody tr').first().waitFor({ timeout: 30_000 });
      const shown = await table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-application-id')));
      assert.deepEqual(
        shown,
        pending.slice(0, shown.length).map((a) => a.applicationId),
      );
      assert.equal(await noneYet.count(), 0, 'the sentence goes once rows are shown');
    });

    it('a researcher runs the federated statistics and sees the histogram: the figures are those recorded on the ledger', async () => {
      const page = await tb().signIn('Hospital2', 'researcher1');
      await page.getByRole('link', { name: 'Analytics' }).click();
      await runStatistics(page, [/\(Hospital1\)/, /\(Hospital2\)/, /\(Hospital3\)/, /\(Hospital4\)/, /\(Hospital5\)/], 100, 170, 3);
      const result = page.getByTestId('stats-result');
      await result.waitFor({ timeout: 60_000 });
      await result.getByRole('img', { name: /Histogram of sbp/ }).waitFor();
      await tb().checkA11y(page, 'analytics');
      await tb().screenshot(page, 'analytics');
      const requestId = await result.getAttribute('data-request-id');
      assert.ok(requestId);
      const onLedger = (await tb().sdk('Hospital2', 'researcher1').evaluate('getStatistics', { requestId })) as StatsOnLedger;
      assert.equal(onLedger.status, 'completed');
      assert.ok(onLedger.result && onLedger.result.count !== null && onLedger.result.count > 0);
      assert.equal(await page.getByTestId('stats-count').textContent(), String(onLedger.result.count));
      // A screen reader is told the result in a sentence (a status region, there before it came).
      const withheldOnLedger = onLedger.result.histogram.filter((b) => b.count === null).length;
      assert.match(
        (await page.getByRole('status').filter({ hasText: 'Statistics ready' }).textContent()) ?? '',
        new RegExp(
          `^Statistics ready: ${onLedger.result.count} people, mean [0-9.]+; ${withheldOnLedger} of ${onLedger.result.histogram.length} bins withheld\\.$`,
        ),
      );
      const shown = await page.getByTestId('stats-bins').locator('tbody tr td:nth-child(2)').allTextContents();
      assert.deepEqual(
        shown,
        onLedger.result.histogram.map((b) => (b.count === null ? 'withheld' : String(b.count))),
      );
    });

    it('fine bins, on a phone: small cells are visibly withheld and no released cell is under the threshold (on the ledger); the result, below the form, is brought into sight', async () => {
      const page = await tb().signIn('Hospital2', 'researcher1');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${tb().url('Hospital2')}/analytics`);
      await runStatistics(page, [/\(Hospital1\)/], 100, 170, 70);
      const result = page.getByTestId('stats-result');
      await result.waitFor({ timeout: 60_000 });
      await assertInSight(page, result, 'the statistics');
      await page.getByTestId('stats-bins').getByText('withheld').first().waitFor();
      const onLedger = (await tb()
        .sdk('Hospital2', 'researcher1')
        .evaluate('getStatistics', { requestId: await result.getAttribute('data-request-id') })) as StatsOnLedger;
      const r = onLedger.result!;
      assert.ok(r.histogram.some((b) => b.count === null));
      for (const b of r.histogram) assert.ok(b.count === null || b.count >= r.minCohort, `released cell ${b.count} under ${r.minCohort}`);
    });

    it('an application whose period ended shows as ended, approved or not; the owner may only deny one never decided — as on the ledger', async () => {
      const endMs = Date.now() + 4000;
      const approved = await applyForStatistics(tb(), 'Hospital3', 'bp-hospital5', endMs);
      const undecided = await applyForStatistics(tb(), 'Hospital3', 'bp-hospital5', endMs);
      await tb().sdk('Hospital5', 'admin1').decideApplication(approved, true);
      await new Promise((done) => setTimeout(done, Math.max(0, endMs - Date.now()) + 100));
      // On the ledger: the approval is there, and grants nothing any more.
      const mine = await applicationsOf(tb(), 'Hospital3', 'researcher1', { applicant: 'Hospital3/researcher1' });
      assert.deepEqual(
        [approved, undecided].map((id) => mine.find((a) => a.applicationId === id)?.status),
        ['approved', 'pending'],
      );
      const listed = (await tb().sdk('Hospital3', 'researcher1').listDatasets('', 50)) as { datasets: Array<{ datasetId: string; access: string }> };
      assert.notEqual(listed.datasets.find((d) => d.datasetId === 'bp-hospital5')?.access, 'approved');

      const page = await tb().signIn('Hospital3', 'researcher1');
      await page.getByRole('link', { name: 'Data market' }).click();
      const row = (id: string) => page.getByTestId('my-applications').locator(`tr[data-application-id="${id}"]`);
      await row(approved).filter({ hasText: 'ended' }).filter({ hasText: 'approved by Hospital5/admin1' }).waitFor({ timeout: 20_000 });
      await row(undecided).filter({ hasText: 'ended' }).filter({ hasText: 'never decided' }).waitFor();

      const owner = await tb().signIn('Hospital5', 'admin1');
      await owner.getByRole('link', { name: 'Data market' }).click();
      const toDecide = owner.getByTestId('applications-to-decide').locator(`tr[data-application-id="${undecided}"]`);
      await toDecide.filter({ hasText: 'ended' }).waitFor({ timeout: 20_000 });
      assert.equal(await toDecide.getByRole('button', { name: `Approve ${undecided}` }).count(), 0, 'nothing to approve: it would grant nothing');
      await toDecide.getByRole('button', { name: `Deny ${undecided}` }).click();
      await owner.getByTestId('decision-notice').waitFor({ timeout: 30_000 });
      const after = await applicationsOf(tb(), 'Hospital5', 'admin1', { owner: 'Hospital5' });
      assert.equal(after.find((a) => a.applicationId === undecided)?.status, 'denied');
      await tb().checkA11y(owner, 'data market, an ended application');
    });

    it('without an approved application the request is refused with the reason (in sight on a phone); a researcher cannot open records', async () => {
      const page = await tb().signIn('Hospital4', 'researcher1');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${tb().url('Hospital4')}/analytics`);
      await runStatistics(page, [/\(Hospital2\)/], 100, 170, 3);
      const refused = page.getByTestId('stats-refused').filter({ hasText: /approved application|application/ });
      await refused.waitFor({ timeout: 60_000 });
      await assertInSight(page, refused, 'the refusal');
      await page.goto(`${tb().url('Hospital4')}/records/record/h1-p1-bp`);
      await page.getByRole('alert').filter({ hasText: 'Not available for your role' }).waitFor();
      // The ledger agrees: the researcher's read is refused.
      const read = await tb().sdk('Hospital4', 'researcher1').readRecord({ recordId: 'h1-p1-bp', purpose: 'HRESCH' });
      assert.equal(read.allowed, false);
      assert.equal(read.parts.length, 0);
    });
  });
}
