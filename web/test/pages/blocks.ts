// Blocks page: latest blocks, a block's header/certificate/transactions, search by transaction id,
// verify the chain in the browser, read/write sets for auditors only.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitOrExplain, type ConsoleTestbed } from '../harness.ts';

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
      await detail.getByText(r.txId.slice(0, 16)).waitFor();
      await detail.getByText('assets.create').first().waitFor();
      await detail.getByText(/raft-leader: 1 signature by node\.Hospital\d/).waitFor();
      await detail.getByText('recomputed here').waitFor();
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
      await tb().screenshot(page, 'blocks');
    });
  });
}
