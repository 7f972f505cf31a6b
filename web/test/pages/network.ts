// Network page: every node with its role, leader, height and reachability; live updates as
// blocks commit (server-sent events) and the committed-tx/s chart.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsoleTestbed } from '../harness.ts';
import { NODE_PROTOCOL } from '../../../src/node/protocol.ts';

export function networkTests(tb: () => ConsoleTestbed): void {
  describe('Network page', () => {
    it('shows all five nodes reachable, one leader, and follows new blocks live', async () => {
      const page = await tb().signIn('Hospital1', 'admin1');
      await page.getByRole('link', { name: 'Network' }).click();
      await page.getByTestId('reachable-count').filter({ hasText: '5 of 5 nodes reachable' }).waitFor({ timeout: 20_000 });
      const rows = page.getByTestId('network-table').locator('tbody tr');
      assert.equal(await rows.count(), 5);
      const leaders = new Set<string>();
      for (let i = 0; i < 5; i++) leaders.add(((await rows.nth(i).locator('td').nth(5).textContent()) ?? '').trim());
      assert.equal(leaders.size, 1, `one leader for all: ${[...leaders].join(', ')}`);
      // Each node's config column names the protocol it speaks (decision 1386); all speak the same one.
      for (let i = 0; i < 5; i++)
        assert.match((await rows.nth(i).locator('td').nth(9).textContent()) ?? '', new RegExp(`seq \\d+ · ${NODE_PROTOCOL.replace('.', '\\.')}$`));
      assert.equal(await page.getByTestId('protocol-warning').count(), 0);
      await tb().checkA11y(page, 'network page');

      // A transaction committed now (through the SDK) appears live: the height shown reaches it.
      const sdk = tb().sdk('Hospital1', 'admin1');
      const r = await sdk.client.submit('assets', 'create', [`console-net-${Date.now()}`, 'patient-x', '1']);
      assert.equal(r.code, 'VALID');
      await page.getByText(`height ${r.blockNumber}`, { exact: false }).first().waitFor({ timeout: 15_000 });
      // The chart's per-second series is redrawn every second: its summary counts the block.
      await page
        .getByRole('img', { name: /Committed transactions per second: [1-9]\d* valid transactions committed in the last 60 seconds/ })
        .waitFor({ timeout: 10_000 });
      await tb().screenshot(page, 'network');
    });
  });
}
