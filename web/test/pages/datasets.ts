// The dataset lifecycle on the Data market page (decision 1260): the owner hospital's admin
// publishes a new version, withdraws and reopens the listing and finally deletes the dataset
// (crypto-shred) — each checked on the ledger; a withdrawn dataset is out of the default catalogue
// and cannot be applied for (the button is disabled, and the contract refuses it); a researcher
// with an approved read application downloads an earlier version by columns and rows, verified,
// and the ledger's audit trail records exactly that selection; a researcher without one sees "not
// authorised" and the ledger refuses their download; after deletion every download is refused.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { assertInSight, textSpilled, transitionsDone, waitOrExplain, type ConsoleTestbed } from '../harness.ts';

const DATASET = 'lc-hospital2';
const V1 = 'age,sbp,bmi\n41,120,22.5\n52,135,27.1\n63,142,30.2\n38,118,21.9\n70,150,28.4\n';
const V2 = 'age,sbp,bmi,hr\n41,121,22.5,70\n52,136,27.1,75\n63,143,30.2,80\n';

interface Listed {
  datasetId: string;
  status: string;
  access: string;
  version: number;
  name: string;
  ownerOrg: string;
  grantedActions?: string[];
}
interface Versions {
  status: string;
  currentVersion: number;
  versions: Array<{ version: number; cid: string }>;
}
interface AuditEntry {
  op: string;
  outcome?: string;
  actor: { org: string; id: string };
  selection?: unknown;
  version?: number;
}

async function row(page: Page, datasetId: string): Promise<ReturnType<Page['locator']>> {
  const r = page.getByTestId('catalogue').locator(`tr[data-dataset-id="${datasetId}"]`);
  await waitOrExplain(page, r);
  return r;
}

async function manage(page: Page, item: string): Promise<void> {
  await page.getByRole('button', { name: `Manage ${DATASET}` }).click();
  await page.getByRole('menuitem', { name: item }).click();
}

async function listedAs(tb: ConsoleTestbed, org: string, user: string): Promise<Listed | undefined> {
  const page = (await tb.sdk(org, user).listDatasets('', 100, { status: 'all', q: 'lifecycle' })) as { datasets: Listed[] };
  return page.datasets.find((d) => d.datasetId === DATASET);
}

/**
 * The Analytics picker of a researcher with approvals, over a catalogue of more than one load: the
 * first 100 datasets, then all the ledger lists, the approved ones (statistics granted) in a group
 * of their own.
 */
async function analyticsPickerLoadsAll(tb: ConsoleTestbed): Promise<void> {
  const researcher = tb.sdk('Hospital2', 'researcher1');
  const onLedger: Listed[] = [];
  let bookmark = '';
  do {
    const listed = (await researcher.listDatasets(bookmark, 200)) as { datasets: Listed[]; bookmark: string };
    onLedger.push(...listed.datasets);
    bookmark = listed.bookmark;
  } while (bookmark !== '');
  assert.ok(onLedger.length > 100, `${onLedger.length} listed datasets`);
  const label = (d: Listed): string => `${d.name} (${d.ownerOrg})`;
  const approved = onLedger.filter((d) => d.grantedActions?.includes('statistics')).map(label);
  assert.ok(approved.length > 0, 'the seeded researcher holds approvals');

  const page = await tb.signIn('Hospital2', 'researcher1');
  await page.getByRole('link', { name: 'Analytics' }).click();
  const picker = page.getByRole('textbox', { name: 'Datasets' });
  const options = async (): Promise<string[]> => {
    await picker.click();
    await page.getByRole('option').first().waitFor();
    const shown = await page.getByRole('option').allTextContents();
    await page.keyboard.press('Escape');
    return shown;
  };
  await waitOrExplain(page, page.getByText('The first 100 datasets of the catalogue; load more to choose among the others.'));
  assert.equal((await options()).length, 100);
  await page.getByTestId('analytics-datasets-more').click();
  // Everything loaded: nothing more is offered.
  await page.getByTestId('analytics-datasets-more').waitFor({ state: 'detached' });
  assert.deepEqual((await options()).sort(), onLedger.map(label).sort());
  await picker.click();
  const group = page.getByRole('group', { name: 'Approved for statistics' });
  assert.deepEqual((await group.getByRole('option').allTextContents()).sort(), approved.sort());
  await page.keyboard.press('Escape');
  await tb.checkA11y(page, 'analytics-picker');
}

export function datasetTests(tb: () => ConsoleTestbed): void {
  describe('Data market: the dataset lifecycle', () => {
    const work = mkdtempSync(join(tmpdir(), 'medledger-console-datasets-'));
    after(() => rmSync(work, { recursive: true, force: true }));
    before(async () => {
      // A dataset of its own, so that the other suites' datasets (and their statistics) stay as seeded.
      await tb()
        .sdk('Hospital2', 'admin1')
        .registerDataset({
          datasetId: DATASET,
          name: 'Lifecycle cohort',
          description: 'lifecycle test data',
          data: Buffer.from(V1),
          mediaType: 'text/csv',
          tags: ['lifecycle'],
        });
      writeFileSync(join(work, 'v2.csv'), V2);
    });

    it('the owner publishes a new version, withdraws (no applications then) and reopens the listing: each on the ledger', async () => {
      const admin = await tb().signIn('Hospital2', 'admin1');
      await admin.getByRole('link', { name: 'Data market' }).click();
      await admin.getByRole('textbox', { name: 'Search', exact: true }).fill('lifecycle');
      await admin.getByRole('button', { name: 'Search', exact: true }).click();
      const r = await row(admin, DATASET);
      assert.equal(await r.getByTestId('standing').textContent(), 'owner');

      await manage(admin, 'Publish a new version');
      const [chooser] = await Promise.all([admin.waitForEvent('filechooser'), admin.getByRole('dialog').getByRole('button', { name: 'CSV file' }).click()]);
      await chooser.setFiles(join(work, 'v2.csv'));
      await admin.getByRole('button', { name: 'Publish version' }).click();
      await waitOrExplain(admin, admin.getByTestId('catalogue-notice').filter({ hasText: 'Published version 2' }));
      const versions = (await tb().sdk('Hospital2', 'admin1').datasetVersions(DATASET)) as Versions;
      assert.equal(versions.currentVersion, 2);
      assert.deepEqual(
        versions.versions.map((v) => v.version),
        [1, 2],
        'both versions are in the history',
      );

      await manage(admin, 'Withdraw listing');
      await waitOrExplain(admin, admin.getByTestId('catalogue-notice').filter({ hasText: `Withdrew ${DATASET}` }));
      assert.equal((await listedAs(tb(), 'Hospital2', 'admin1'))?.status, 'withdrawn');

      // A researcher: not in the default catalogue; under "withdrawn" the Apply button is disabled.
      const researcher = await tb().signIn('Hospital1', 'researcher1');
      await researcher.getByRole('link', { name: 'Data market' }).click();
      await waitOrExplain(researcher, researcher.getByTestId('catalogue'));
      assert.equal(await researcher.getByTestId('catalogue').locator(`tr[data-dataset-id="${DATASET}"]`).count(), 0, 'hidden from the default catalogue');
      await researcher.getByRole('textbox', { name: 'Status' }).click();
      await researcher.getByRole('option', { name: 'withdrawn' }).click();
      await researcher.getByRole('button', { name: 'Search', exact: true }).click();
      const withdrawn = await row(researcher, DATASET);
      assert.equal(await withdrawn.getByTestId('standing').textContent(), 'withdrawn');
      assert.ok(await withdrawn.getByRole('button', { name: `Apply for ${DATASET}` }).isDisabled(), 'Apply is disabled for a withdrawn dataset');
      await tb().checkA11y(researcher, 'data market (filtered, withdrawn)');
      // The ledger refuses it anyway.
      const now = Date.now();
      await assert.rejects(
        tb()
          .sdk('Hospital1', 'researcher1')
          .apply({
            target: { kind: 'dataset', datasetId: DATASET },
            purpose: 'HRESCH',
            actions: ['read'],
            period: { startMs: now - 60_000, endMs: now + 86_400_000 },
            maxSensitivity: 'normal',
          }),
        /DATASET_WITHDRAWN/,
      );

      // The owner finds it under "withdrawn" (or "all") and reopens it.
      await admin.getByRole('textbox', { name: 'Status' }).click();
      await admin.getByRole('option', { name: 'all' }).click();
      await admin.getByRole('button', { name: 'Search', exact: true }).click();
      await waitOrExplain(admin, (await row(admin, DATASET)).getByText('withdrawn', { exact: true }));
      await manage(admin, 'Reopen listing');
      await waitOrExplain(admin, admin.getByTestId('catalogue-notice').filter({ hasText: `Reopened ${DATASET}` }));
      assert.equal((await listedAs(tb(), 'Hospital2', 'admin1'))?.status, 'listed');
    });

    it('an authorised researcher downloads version 1 by columns and rows, verified; the audit trail on the ledger records that selection; others are refused', async () => {
      // The researcher's read application, approved by the owner (the Applications flow has its own test).
      const now = Date.now();
      const app = await tb()
        .sdk('Hospital1', 'researcher1')
        .apply({
          target: { kind: 'dataset', datasetId: DATASET },
          purpose: 'HRESCH',
          actions: ['read'],
          period: { startMs: now - 60_000, endMs: now + 86_400_000 },
          maxSensitivity: 'normal',
        });
      await tb()
        .sdk('Hospital2', 'admin1')
        .decideApplication((app.payload['application'] as { applicationId: string }).applicationId, true);

      const page = await tb().signIn('Hospital1', 'researcher1');
      await page.getByRole('link', { name: 'Data market' }).click();
      const r = await row(page, DATASET);
      await waitOrExplain(page, r.getByTestId('standing').filter({ hasText: 'authorised (read)' }));
      // On a phone, where the dialog's form fills the screen and the outcome comes below it.
      await page.setViewportSize({ width: 390, height: 844 });
      await r.getByRole('button', { name: `Download ${DATASET}` }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('textbox', { name: 'Version' }).click();
      await page.getByRole('option', { name: /^1 — / }).click();
      // Mantine's input wrapper takes the pointer over the inner field: a forced click opens the list.
      await dialog.getByRole('textbox', { name: 'Columns' }).click({ force: true });
      await page.getByRole('option', { name: 'sbp', exact: true }).click();
      await page.keyboard.press('Escape');
      await dialog.getByLabel('First row').fill('2');
      await dialog.getByLabel('Last row').fill('3');
      await dialog.getByRole('button', { name: 'Download', exact: true }).click();
      const result = page.getByTestId('download-result');
      await waitOrExplain(page, result, 60_000);
      await assertInSight(page, result, "the download's outcome, in its dialog");
      assert.deepEqual(await textSpilled(page, '[role="dialog"]'), [], 'the download at 390 px');
      await page.setViewportSize({ width: 1280, height: 800 });
      await result.getByText('CID verified').waitFor();
      await result.getByText('commitment verified').waitFor();
      await transitionsDone(page);
      await tb().checkA11y(page, 'data market (download)');
      await tb().screenshot(page, 'data-market-download');
      const cells = await result.locator('tbody td').allTextContents();
      assert.deepEqual(cells, ['135', '142'], 'rows 2–3 of version 1, column sbp');

      const auditId = await result.getAttribute('data-audit-id');
      const trail = (await tb().sdk('Hospital2', 'supervisor1').auditTrail({ kind: 'dataset', datasetId: DATASET, pageSize: 200 })) as {
        entries: Array<AuditEntry & { auditId: string }>;
      };
      const entry = trail.entries.find((e) => e.auditId === auditId);
      assert.ok(entry, 'the download is in the dataset audit trail');
      assert.equal(entry.op, 'dataset.download');
      assert.equal(`${entry.actor.org}/${entry.actor.id}`, 'Hospital1/researcher1');
      assert.equal(entry.version, 1);
      assert.deepEqual(entry.selection, { columns: ['sbp'], rows: { from: 2, to: 3 } });

      // Without an approval: "not authorised", no Download button, and the ledger refuses (audited).
      const other = await tb().signIn('Hospital3', 'researcher1');
      await other.getByRole('link', { name: 'Data market' }).click();
      const theirs = await row(other, DATASET);
      assert.equal(await theirs.getByTestId('standing').textContent(), 'not authorised');
      assert.equal(await theirs.getByRole('button', { name: `Download ${DATASET}` }).count(), 0);
      const refused = await tb().sdk('Hospital3', 'researcher1').downloadDataset({ datasetId: DATASET, purpose: 'HRESCH' });
      assert.equal(refused.allowed, false);
      assert.equal(refused.code, 'NOT_AUTHORISED');

      // A statistics approval is not a licence to download: "authorised (statistics)", no Download button; the ledger agrees.
      const stats = await tb().signIn('Hospital2', 'researcher1');
      await stats.getByRole('link', { name: 'Data market' }).click();
      const bp = await row(stats, 'bp-hospital1');
      await waitOrExplain(stats, bp.getByTestId('standing').filter({ hasText: 'authorised (statistics)' }));
      assert.equal(await bp.getByRole('button', { name: 'Download bp-hospital1' }).count(), 0);
      const statsOnly = await tb().sdk('Hospital2', 'researcher1').downloadDataset({ datasetId: 'bp-hospital1', purpose: 'HRESCH' });
      assert.equal(statsOnly.code, 'NOT_AUTHORISED');
    });

    it('the owner deletes the dataset after typing its id: deleted on the ledger, and every download is then refused', async () => {
      const admin = await tb().signIn('Hospital2', 'admin1');
      await admin.getByRole('link', { name: 'Data market' }).click();
      await row(admin, DATASET);
      await manage(admin, 'Delete…');
      const dialog = admin.getByRole('dialog');
      const confirm = dialog.getByRole('button', { name: 'Delete dataset' });
      assert.ok(await confirm.isDisabled(), 'nothing is deleted before the id is typed');
      await transitionsDone(admin);
      await tb().checkA11y(admin, 'data market (delete confirmation)');
      await dialog.getByLabel(`Type ${DATASET} to confirm`).fill(DATASET);
      await confirm.click();
      await waitOrExplain(admin, admin.getByTestId('catalogue-notice').filter({ hasText: `Deleted ${DATASET}` }));
      const versions = (await tb().sdk('Hospital2', 'admin1').datasetVersions(DATASET)) as Versions;
      assert.equal(versions.status, 'deleted');
      assert.equal(versions.versions.length, 2, 'the history stays');
      const after = await tb().sdk('Hospital1', 'researcher1').downloadDataset({ datasetId: DATASET, purpose: 'HRESCH' });
      assert.equal(after.allowed, false);
      assert.equal(after.code, 'DATASET_DELETED');
      // The owner's own download is refused too: nothing is left to serve.
      const own = await tb().sdk('Hospital2', 'admin1').downloadDataset({ datasetId: DATASET, purpose: 'HRESCH' });
      assert.equal(own.code, 'DATASET_DELETED');
    });

    it('a catalogue of more than one load shows the first 100 and loads the rest on demand — the datasets the ledger lists; so does the Analytics picker, approved ones apart', async () => {
      // 101 datasets of Hospital3's, withdrawn once the picker is checked so the other suites' catalogue stays as seeded.
      const admin = tb().sdk('Hospital3', 'admin1');
      const ids = Array.from({ length: 101 }, (_, i) => `bulk-${String(i).padStart(3, '0')}`);
      // Eight at a time: a user may hold at most 8 prepared datasets not yet on chain.
      for (let i = 0; i < ids.length; i += 8)
        await Promise.all(
          ids
            .slice(i, i + 8)
            .map((datasetId) =>
              admin.registerDataset({ datasetId, name: `Bulk cohort ${datasetId}`, data: Buffer.from(V1), mediaType: 'text/csv', tags: ['bulk'] }),
            ),
        );
      await analyticsPickerLoadsAll(tb());
      for (let i = 0; i < ids.length; i += 8) await Promise.all(ids.slice(i, i + 8).map((datasetId) => admin.withdrawDataset(datasetId)));
      const page = await tb().signIn('Hospital3', 'admin1');
      await page.getByRole('link', { name: 'Data market' }).click();
      await waitOrExplain(page, page.getByTestId('catalogue'));
      await page.getByRole('textbox', { name: 'Tag' }).fill('bulk');
      await page.getByRole('textbox', { name: 'Status' }).click();
      await page.getByRole('option', { name: 'withdrawn' }).click();
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      const count = page.getByText(/^\d+–\d+ of \d+ datasets$/);
      await waitOrExplain(page, count.filter({ hasText: 'of 100 datasets' }));
      await page.getByTestId('catalogue-more').click();
      await waitOrExplain(page, count.filter({ hasText: 'of 101 datasets' }));
      // The table turned to the one loaded last; nothing more is offered.
      await waitOrExplain(page, page.getByTestId('catalogue').locator('tr[data-dataset-id="bulk-100"]'));
      assert.equal(await page.getByTestId('catalogue-more').count(), 0);
      const onLedger: string[] = [];
      let bookmark = '';
      do {
        const listed = (await admin.listDatasets(bookmark, 200, { status: 'withdrawn', tag: 'bulk' })) as { datasets: Listed[]; bookmark: string };
        onLedger.push(...listed.datasets.map((d) => d.datasetId));
        bookmark = listed.bookmark;
      } while (bookmark !== '');
      assert.deepEqual(onLedger, ids);
    });
  });
}
