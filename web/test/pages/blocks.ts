// Blocks page: latest blocks, a block's header/certificate/transactions, search by transaction id,
// verify the chain in the browser, read/write sets for auditors only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertInSight, waitOrExplain, type ConsoleTestbed } from '../harness.ts';

export function blocksTests(tb: () => ConsoleTestbed): void {
  describe('Blocks page', () => {
    it('finds the block of a transaction by its id, shows its certificate and transactions, and verifies the chain in the browser', async () => {
      const sdk = tb().sdk('Hospital2', 'doctor1');
      const r = await sdk.client.submit('assets', 'create', [`console-blk-${Date.now()}`, 'patient-y', '2']);
      assert.equal(r.code, 'VALID');
      const page = await tb().signIn('Hospital2', 'doctor1');
      await page.getByRole('link', { name: 'Blocks' }).click();
      await page.getByLabel(/Find a block/).fill(r.txId);
      await page.getByRole('button', { name: 'Find' }).click();
      const detail = page.getByTestId('block-detail');
      await waitOrExplain(page, detail.getByRole('heading', { name: `Block ${r.blockNumber}` }));
      await detail.getByTestId('block-txs').getByText(r.txId.slice(0, 16)).waitFor();
      await detail.getByText('assets.create').first().waitFor();
      await detail.getByText(/raft-leader: 1 signature by node\.Hospital\d/).waitFor();
      await detail.getByText('recomputed here').waitFor();
      // On a desktop the latest blocks show their hashes too.
      assert.deepEqual(await page.getByTestId('block-list').locator('thead th:visible').allTextContents(), ['Block', 'Time', 'Transactions', 'Hash']);
      // Each block on one line (its time and its short hash unbroken): ten of them fit the screen.
      const linesPerHash = await page
        .getByTestId('block-list')
        .locator('tbody td:nth-child(4)')
        .evaluateAll((cells) =>
          cells.map((td) => {
            const range = document.createRange();
            range.selectNodeContents(td);
            return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
          }),
        );
      assert.ok(linesPerHash.length > 0 && linesPerHash.every((n) => n === 1), `lines per hash: ${linesPerHash.join(', ')}`);
      // On the ledger: the block the page shows holds the transaction, VALID.
      const block = await sdk.client.block(r.blockNumber!);
      assert.ok(block.txs.some((t) => t.txId === r.txId && t.code === 'VALID'));
      // A doctor sees no read/write sets.
      assert.equal(await page.getByTestId('rwset').count(), 0);
      await page.getByRole('button', { name: 'Verify chain' }).click();
      const verified = page.getByTestId('verify-result');
      await verified.waitFor({ timeout: 60_000 });
      assert.match((await verified.textContent()) ?? '', /^Chain verified: \d+ blocks/);
      await tb().checkA11y(page, 'blocks page');
    });

    it("opened by an address naming a transaction (/blocks?find=), marks its row among the block's others", async () => {
      const sdk = tb().sdk('Hospital1', 'doctor1');
      // Several at once, so that blocks of more than one transaction are cut.
      const stamp = Date.now();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => sdk.client.submit('assets', 'create', [`console-blk-many-${stamp}-${i}`, 'patient-z', '3'])),
      );
      const blocks = new Map<number, string[]>();
      for (const r of results) {
        assert.equal(r.code, 'VALID');
        blocks.set(r.blockNumber!, [...(blocks.get(r.blockNumber!) ?? []), r.txId]);
      }
      // The transaction sought: the last of the fullest block (on the ledger, not in the page).
      const [number] = [...blocks.entries()].sort((x, y) => y[1].length - x[1].length)[0]!;
      const onLedger = await sdk.client.block(number);
      const sought = onLedger.txs[onLedger.txs.length - 1]!;
      assert.ok(sought.txId);
      const page = await tb().signIn('Hospital1', 'doctor1');
      await page.goto(`${tb().url('Hospital1')}/blocks?find=${sought.txId}`);
      const detail = page.getByTestId('block-detail');
      await waitOrExplain(page, detail.getByRole('heading', { name: `Block ${number}`, exact: true }));
      const status = detail.getByTestId('sought-tx');
      await status.waitFor();
      assert.equal(
        await status.textContent(),
        `Transaction ${sought.txId.slice(0, 16)}… is #${sought.position} of this block's ${onLedger.txs.length}, marked below.`,
      );
      // One row marked, the sought one, among the block's others.
      const rows = detail.getByTestId('block-txs').locator('tbody tr');
      assert.equal(await rows.count(), onLedger.txs.length);
      const marked = detail.getByTestId('block-txs').locator('tbody tr[aria-current="true"]');
      assert.equal(await marked.count(), 1);
      assert.equal(await marked.locator('td').first().textContent(), String(sought.position));
      assert.equal(await marked.locator('td').nth(1).getAttribute('title'), sought.txId);
      assert.ok(await marked.isVisible());
      // A doctor sees no read/write sets, an auditor's test below marks the sought one's.
      assert.equal(await page.getByTestId('rwset').count(), 0);
      // Another block chosen by number: nothing marked there.
      await page.getByLabel(/Find a block/).fill('1');
      await page.getByRole('button', { name: 'Find' }).click();
      await detail.getByRole('heading', { name: 'Block 1', exact: true }).waitFor();
      assert.equal(await page.getByTestId('sought-tx').count(), 0);
      assert.equal(await detail.locator('tr[aria-current="true"]').count(), 0);
      await tb().checkA11y(page, 'blocks page, a transaction sought');
    });

    it('on a phone, brings the block asked for into sight below the list of latest blocks', async () => {
      const sdk = tb().sdk('Hospital3', 'doctor1');
      const r = await sdk.client.submit('assets', 'create', [`console-blk-phone-${Date.now()}`, 'patient-w', '4']);
      assert.equal(r.code, 'VALID');
      const page = await tb().signIn('Hospital3', 'doctor1');
      await page.setViewportSize({ width: 390, height: 844 });
      // Opened by an address: the transaction's row, though the detail comes after ten blocks.
      await page.goto(`${tb().url('Hospital3')}/blocks?find=${r.txId}`);
      const detail = page.getByTestId('block-detail');
      await waitOrExplain(page, detail.getByRole('heading', { name: `Block ${r.blockNumber}`, exact: true }));
      await page.getByTestId('sought-tx').waitFor();
      const marked = detail.locator('tbody tr[aria-current="true"]');
      // In sight once everything above it has loaded (the list of ten blocks may come after).
      const list = page.getByTestId('block-list');
      await list.locator('tbody tr').nth(9).waitFor();
      // The list itself: a compact table of ten rows on a phone (no hashes: the detail shows them
      // whole), not ten cards of four lines.
      const listRegion = page.getByRole('region', { name: 'Latest blocks table' });
      const asCards = await page.locator('.ml-table-frame', { has: listRegion }).evaluate((el) => el.hasAttribute('data-stacked'));
      assert.equal(asCards, false, 'the latest blocks on a phone: a table, not cards');
      assert.deepEqual(await list.locator('thead th:visible').allTextContents(), ['Block', 'Time', 'Transactions']);
      const dims = await listRegion.evaluate((el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
      assert.ok(dims.scrollWidth <= dims.clientWidth + 1, `the latest blocks are ${dims.scrollWidth} px wide in ${dims.clientWidth}`);
      await assertInSight(page, marked, 'the transaction sought', true);
      // Chosen from the list at the top of the page: the block's heading, below the header.
      await page.evaluate(() => window.scrollTo(0, 0));
      const second = list.locator('tbody tr').nth(1).getByRole('button');
      const label = (await second.getAttribute('aria-label'))!;
      const number = Number(/(\d+)$/.exec(label)![1]);
      await second.click();
      const heading = detail.getByRole('heading', { name: `Block ${number}`, exact: true });
      await heading.waitFor();
      await assertInSight(page, heading, `block ${number}'s heading`, true);
    });

    it('shows an auditor the read/write sets (keys and sizes, never values) and checks each data hash', async () => {
      const page = await tb().signIn('Hospital1', 'supervisor1');
      await page.getByRole('link', { name: 'Blocks' }).click();
      await page.getByLabel(/Find a block/).fill('1');
      await page.getByRole('button', { name: 'Find' }).click();
      await page.getByTestId('block-detail').getByRole('heading', { name: 'Block 1' }).waitFor();
      await page.getByText('recomputed from the transactions').waitFor();
      const rw = page.getByTestId('rwset').first();
      await rw.waitFor();
      assert.match((await rw.textContent()) ?? '', /put \S+ \(\d+ bytes, sha256 [0-9a-f]{16}…\)/);
      // Found by a record id: the transaction of the record's current version, its read/write
      // set marked among the block's (it writes the record's key).
      await page.getByLabel(/Find a block/).fill('h1-p1-visit');
      await page.getByRole('button', { name: 'Find' }).click();
      await page.getByTestId('sought-tx').waitFor();
      const markedSet = page.locator('[data-testid="rwset"][aria-current="true"]');
      assert.equal(await markedSet.count(), 1);
      assert.match((await markedSet.textContent()) ?? '', /put \S*h1-p1-visit\S* \(\d+ bytes/);
      await tb().screenshot(page, 'blocks');
    });
  });
}
