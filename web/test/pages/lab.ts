// Consensus lab: a researcher runs a PBFT campaign with crashes on the node, follows its progress
// and reads the verdict — the same job the node reports through the API; a doctor may not use the
// lab; the paper's charts are drawn.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MedLedgerApiError } from '../../../src/sdk/client.ts';
import { waitOrExplain, type ConsoleTestbed } from '../harness.ts';

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

    it('is not for a doctor: the node refuses the lab', async () => {
      await assert.rejects(
        tb().sdk('Hospital2', 'doctor1').client.labStart({ engine: 'raft', nodes: 3, faults: 'none', seeds: 1 }),
        (e: unknown) => e instanceof MedLedgerApiError && e.status === 403,
      );
    });
  });
}
