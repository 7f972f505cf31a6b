// Consensus lab: a researcher runs a PBFT campaign with crashes on the node, follows its progress
// and reads the verdict — the same job the node reports through the API; a doctor may not use the
// lab; the paper's charts are drawn.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { MedLedgerApiError } from '../../../src/sdk/client.ts';
import { waitOrExplain, type ConsoleTestbed } from '../harness.ts';

/**
 * The engines' figures are read down their columns, engine against engine: on a phone the table
 * keeps its columns (it is not turned into cards, as lists are), scrolls, shades the side out of
 * sight and says so, until scrolled; wide enough again, neither.
 */
async function phoneKeepsColumns(page: Page, tb: ConsoleTestbed): Promise<void> {
  await page.setViewportSize({ width: 390, height: 900 });
  const region = page.getByRole('region', { name: 'Engines compared' });
  const frame = page.locator('.ml-table-frame', { has: region });
  assert.equal(await frame.evaluate((el) => el.hasAttribute('data-stacked')), false, 'the figures shown as cards');
  // The shade's opacity (a pseudo-element, so read from its computed style once its fade ends).
  const shade = async (pseudo: '::before' | '::after', want: '0' | '1'): Promise<void> => {
    let got = '';
    for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      got = await frame.evaluate((el, p) => getComputedStyle(el, p).opacity, pseudo);
      if (got === want) return;
    }
    assert.fail(`the ${pseudo} shade's opacity is ${got}, expected ${want}`);
  };
  // The last column (messages per decided block) is out of sight: the right side is shaded and said.
  const last = region.getByTestId('compare-messages-per-block').first();
  const inSight = async (): Promise<boolean> => {
    const [box, view] = [await last.boundingBox(), await region.boundingBox()];
    return box !== null && view !== null && box.x >= view.x && box.x + box.width <= view.x + view.width + 1;
  };
  assert.equal(await inSight(), false, 'the last column is in sight at 390 px: the test proves nothing');
  await page.getByText('More columns to the right: scroll sideways').waitFor();
  // Keyboard users scroll it too: a Tab stop while it scrolls, none once it fits.
  assert.equal(await region.getAttribute('tabindex'), '0');
  await shade('::after', '1');
  await shade('::before', '0');
  await tb.checkA11y(page, 'a table of figures wider than a phone');
  // Scrolled to its end: the left is shaded and said, the last column in sight.
  await region.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
  await page.getByText('More columns to the left: scroll back').waitFor();
  await shade('::before', '1');
  await shade('::after', '0');
  assert.equal(await inSight(), true, 'the last column, scrolled to');
  // Wide enough again (a desktop): no shade, no line.
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.getByText(/^More columns to the/).waitFor({ state: 'detached' });
  await shade('::after', '0');
  assert.equal(await region.getAttribute('tabindex'), null);
}

export function labTests(tb: () => ConsoleTestbed): void {
  describe('Consensus lab page', () => {
    it('runs a simulation campaign on the node with progress and shows its verdict and messages; the paper charts are drawn', async () => {
      const page = await tb().signIn('Hospital2', 'researcher1');
      await page.getByRole('link', { name: 'Consensus lab' }).click();
      await page.getByLabel('Seeds').fill('2');
      await page.getByLabel('Simulated seconds per seed').fill('5');
      await page.getByRole('button', { name: 'Run simulation' }).click();
      // On failure these say what the page showed instead (an error alert, a form left unsent).
      await waitOrExplain(page, page.getByTestId('lab-progress'), 60_000);
      const result = page.getByTestId('lab-result');
      await waitOrExplain(page, result, 120_000);
      assert.equal(await page.getByTestId('lab-verdict').textContent(), 'no violation');
      const job = await tb()
        .sdk('Hospital2', 'researcher1')
        .client.labJob((await result.getAttribute('data-job-id'))!);
      assert.equal(job.state, 'done');
      assert.deepEqual(
        { engine: job.request.engine, nodes: job.request.nodes, faults: job.request.faults, seeds: job.request.seeds },
        { engine: 'pbft', nodes: 4, faults: 'crash', seeds: 2 },
      );
      assert.equal(await page.getByTestId('lab-blocks').textContent(), String(job.summary?.['decidedBlocks']));
      await result.getByRole('img', { name: /Messages by type/ }).waitFor();
      await page.getByRole('img', { name: /Messages per decision against nodes/ }).waitFor();
      await page.getByRole('img', { name: /Probability that an attacker catches up/ }).waitFor();
      assert.match((await page.getByTestId('complexity-table').textContent()) ?? '', /16495/);
      await tb().checkA11y(page, 'consensus lab');
      await tb().screenshot(page, 'consensus-lab');
    });

    it('compares engines on the same campaign, one after another; each row is the job the node ran', async () => {
      const page = await tb().signIn('Hospital2', 'researcher1');
      await page.getByRole('link', { name: 'Consensus lab' }).click();
      const form = page.getByRole('form', { name: 'Compare engines' });
      await form.getByLabel('Simulated seconds (each run)').fill('3');
      await form.getByRole('button', { name: 'Compare' }).click();
      const table = page.getByTestId('compare-table');
      await waitOrExplain(page, table, 60_000);
      const rows = table.locator('tbody tr');
      // Raft and PBFT are checked by default; both campaigns run to the end.
      await waitOrExplain(page, rows.nth(1).getByTestId('compare-verdict'), 180_000);
      assert.equal(await rows.count(), 2);
      const client = tb().sdk('Hospital2', 'researcher1').client;
      for (const [i, engine] of ['raft', 'pbft'].entries()) {
        const row = rows.nth(i);
        assert.equal(await row.getAttribute('data-engine'), engine);
        assert.equal(await row.getByTestId('compare-verdict').textContent(), 'no violation');
        const job = await client.labJob((await row.getAttribute('data-job-id'))!);
        assert.deepEqual(
          { engine: job.request.engine, state: job.state, nodes: job.request.nodes, faults: job.request.faults, seeds: job.request.seeds },
          { engine, state: 'done', nodes: 4, faults: 'crash', seeds: 1 },
        );
        const summary = job.summary as unknown as { decidedBlocks: number; messagesByType: Record<string, { count: number }> };
        assert.equal(await row.getByTestId('compare-blocks').textContent(), String(summary.decidedBlocks));
        const messages = Object.values(summary.messagesByType).reduce((n, m) => n + m.count, 0);
        assert.equal(await row.getByTestId('compare-messages-per-block').textContent(), (messages / summary.decidedBlocks).toFixed(1));
      }
      await page.getByRole('img', { name: /Messages per decided block by engine/ }).waitFor();
      await tb().checkA11y(page, 'consensus lab: compare');
      await table.scrollIntoViewIfNeeded();
      await tb().screenshot(page, 'consensus-lab-compare');
      await phoneKeepsColumns(page, tb());

      // Outside an engine's fault model the row says so instead of a result: Raft and Byzantine nodes.
      await form.getByRole('checkbox', { name: 'PBFT', exact: true }).uncheck();
      await form.getByRole('textbox', { name: 'Faults (each engine)' }).click();
      await page.getByRole('option', { name: 'Byzantine nodes' }).click();
      await form.getByRole('button', { name: 'Compare' }).click();
      await waitOrExplain(page, rows.first().getByText(/crash-fault tolerant/), 60_000);
      assert.equal(await rows.count(), 1);
      assert.equal(await rows.first().getByTestId('compare-verdict').count(), 0);
    });

    it('is not for a doctor: the node refuses the lab', async () => {
      await assert.rejects(
        tb().sdk('Hospital2', 'doctor1').client.labStart({ engine: 'raft', nodes: 3, faults: 'none', seeds: 1 }),
        (e: unknown) => e instanceof MedLedgerApiError && e.status === 403,
      );
    });
  });
}
