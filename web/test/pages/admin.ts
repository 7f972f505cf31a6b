// Administration: node information and the configuration in force, a connection test that agrees
// with the SDK's view, and the whole config-update flow in three browsers: Hospital1's admin
// proposes adding a hospital (signing first), Hospital2's and Hospital3's admins each open the
// file in their own console and sign, the proposer submits — and the ledger's config in force then
// names the new hospital. This suite changes the membership, so it runs last.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { prepareHospital } from '../../../src/cli/membership.ts';
import { decodeConfigDraft, encodeConfigDraft, startConfigDraft } from '../../../src/ledger/config-update.ts';
import type { ConsoleTestbed } from '../harness.ts';

async function chooseFile(page: Page, label: string, path: string): Promise<void> {
  const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByRole('button', { name: label }).click()]);
  await chooser.setFiles(path);
}

async function savedDownload(page: Page, click: () => Promise<void>, dir: string, name: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  const path = join(dir, name);
  await download.saveAs(path);
  return path;
}

async function signAs(tb: ConsoleTestbed, org: string, file: string, dir: string): Promise<string> {
  const page = await tb.signIn(org, 'admin1');
  await page.getByRole('link', { name: 'Administration' }).click();
  await chooseFile(page, 'Open an update file to sign or submit', file);
  await page.getByTestId('draft').waitFor();
  const out = await savedDownload(page, () => page.getByRole('button', { name: 'Sign (and download the file)' }).click(), dir, `signed-by-${org}.medledger`);
  await page.getByTestId('draft-signers').filter({ hasText: org }).waitFor();
  return out;
}

export function adminTests(tb: () => ConsoleTestbed): void {
  describe('Administration page', () => {
    it('shows this node and the configuration in force, and tests the connection to every node', async () => {
      const page = await tb().signIn('Hospital1', 'admin1');
      await page.getByRole('link', { name: 'Administration' }).click();
      await page.getByTestId('node-info').getByText('node.Hospital1').waitFor();
      const status = await tb().sdk('Hospital1', 'admin1').client.status();
      assert.match(status.genesisHashHex ?? '', /^[0-9a-f]{64}$/);
      await page.getByTestId('genesis-hash').getByText(status.genesisHashHex!, { exact: true }).waitFor();
      const config = await tb().sdk('Hospital1', 'admin1').client.config();
      await page.getByTestId('config').getByText(`Sequence ${config.sequence}`).waitFor();
      assert.deepEqual(config.capabilities, ['proposals-name-consortium']);
      await page.getByTestId('capabilities').getByText('Capabilities: proposals-name-consortium').waitFor();
      await page.getByRole('button', { name: 'Test connections' }).click();
      const table = page.getByTestId('connection-test');
      await table.waitFor({ timeout: 30_000 });
      const sdkView = await tb().sdk('Hospital1', 'admin1').client.network();
      assert.equal(await table.getByText('reachable', { exact: true }).count(), sdkView.nodes.filter((n) => n.reachable).length);
      assert.equal(sdkView.nodes.filter((n) => n.reachable).length, 5);
      await tb().checkA11y(page, 'administration');
      await tb().screenshot(page, 'administration');
    });

    it('adds a hospital through propose → sign by two more admins in their consoles → submit; the config in force names it', async (t) => {
      const work = mkdtempSync(join(tmpdir(), 'medledger-console-admin-'));
      t.after(() => rmSync(work, { recursive: true, force: true }));
      const before = await tb().sdk('Hospital1', 'admin1').client.config();
      const h = await prepareHospital(tb().net.dir, { org: 'Hospital6', tickMs: 20, engine: before.engine });
      writeFileSync(join(work, 'ca.pem'), h.caCertPem);
      writeFileSync(join(work, 'node.pem'), h.nodeCertPem);

      const proposer = await tb().signIn('Hospital1', 'admin1');
      await proposer.getByRole('link', { name: 'Administration' }).click();
      await proposer.getByLabel("New hospital's name").fill('Hospital6');
      await chooseFile(proposer, 'Its CA certificate (PEM)', join(work, 'ca.pem'));
      await chooseFile(proposer, 'Its node certificate (PEM)', join(work, 'node.pem'));
      await proposer.getByLabel('Node-to-node address').fill(h.endpoint.p2pUrl);
      await proposer.getByLabel('API address').fill(h.endpoint.apiUrl);
      const proposed = await savedDownload(proposer, () => proposer.getByRole('button', { name: 'Propose and sign' }).click(), work, 'proposed.medledger');
      await proposer.getByTestId('draft-signers').filter({ hasText: 'Signed by admins of: Hospital1 (3 of 5 needed)' }).waitFor();

      const second = await signAs(tb(), 'Hospital2', proposed, work);
      const third = await signAs(tb(), 'Hospital3', second, work);

      await chooseFile(proposer, 'Open an update file to sign or submit', third);
      await proposer.getByTestId('draft-signers').filter({ hasText: 'Hospital1, Hospital2, Hospital3' }).waitFor();
      await proposer.getByRole('button', { name: 'Submit to the ledger' }).click();
      await proposer.getByTestId('config-committed').waitFor({ timeout: 60_000 });

      const after = await tb().sdk('Hospital1', 'admin1').client.config();
      assert.equal(after.sequence, before.sequence + 1);
      assert.ok(after.orgs.includes('Hospital6'), 'the config in force names the new hospital');

      // The proposal named this consortium (decision 1389); an update built for another one is shown so and cannot be signed.
      const { summary } = decodeConfigDraft(new Uint8Array(readFileSync(third)));
      assert.equal(summary.consortium, await tb().sdk('Hospital1', 'admin1').client.consortium());
      const foreign = startConfigDraft({
        state: after.state,
        next: after.state.record.config,
        creatorCertPem: summary.creator,
        nonce: new Uint8Array(24).fill(7),
        timestampMs: Date.now(),
        consortium: 'cd'.repeat(32),
      });
      const foreignFile = join(work, 'foreign.medledger');
      writeFileSync(foreignFile, encodeConfigDraft(foreign.draft));
      const reviewer = await tb().signIn('Hospital2', 'admin1');
      await reviewer.getByRole('link', { name: 'Administration' }).click();
      await chooseFile(reviewer, 'Open an update file to sign or submit', foreignFile);
      await reviewer.getByTestId('draft-foreign').waitFor();
      assert.ok(await reviewer.getByRole('button', { name: 'Sign (and download the file)' }).isDisabled());
    });
  });
}
