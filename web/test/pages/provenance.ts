// Provenance: an auditor (supervisor) of the custodian sees a record's whole timeline as the
// ledger holds it, including the cross-hospital read and the break-the-glass, and downloads it as
// FHIR AuditEvent and Provenance Bundles; another hospital's supervisor is refused with the reason.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { HealthClient } from '../../../src/sdk/health.ts';
import { assertInSight, waitOrExplain, type ConsoleTestbed } from '../harness.ts';

interface Entry {
  op: string;
  outcome: string;
  actor: { org: string; id: string };
  flags: string[];
  txId: string;
  recordId: string | null;
}

/** A whole audit trail as the contract answers it, every page joined. */
async function wholeTrail(sdk: HealthClient, query: Record<string, string>): Promise<Entry[]> {
  const entries: Entry[] = [];
  let bookmark = '';
  do {
    const r = (await sdk.auditTrail({ ...query, pageSize: 200, ...(bookmark ? { bookmark } : {}) })) as { entries: Entry[]; bookmark: string };
    entries.push(...r.entries);
    bookmark = r.bookmark;
  } while (bookmark);
  return entries;
}

/** Events loaded at once (Provenance.tsx `EVENTS_PER_LOAD`); the rest on demand. */
const EVENTS_PER_LOAD = 100;

/** What the page says of a trail of `total` events shown in `order`. */
function countText(total: number, order: 'newest' | 'oldest' = 'newest'): string {
  if (total <= EVENTS_PER_LOAD) return `${total} events, ${order} first`;
  return `${EVENTS_PER_LOAD} events loaded, ${order} first; ${order === 'newest' ? 'older' : 'later'} ones are on the ledger`;
}

export function provenanceTests(tb: () => ConsoleTestbed): void {
  describe('Provenance page', () => {
    it("shows a record's timeline as on the ledger and downloads it as FHIR AuditEvent and Provenance Bundles", async () => {
      const page = await tb().signIn('Hospital1', 'supervisor1');
      await page.getByRole('link', { name: 'Provenance' }).click();
      await page.getByLabel('Record id').fill('h1-p1-visit');
      // Read as a story, from the record's creation (other suites' reads make its trail long).
      await page.getByRole('radiogroup', { name: 'Order of the timeline' }).getByText('Oldest first').click();
      await page.getByRole('button', { name: 'Show timeline' }).click();
      const timeline = page.getByTestId('timeline');
      await timeline.waitFor({ timeout: 30_000 });
      const entries = await wholeTrail(tb().sdk('Hospital1', 'supervisor1'), { kind: 'record', recordId: 'h1-p1-visit' });
      assert.equal(await page.getByTestId('timeline-count').textContent(), countText(entries.length, 'oldest'));
      assert.ok(entries.some((e) => e.op === 'record.create'));
      await timeline.getByRole('row').filter({ hasText: 'created' }).first().waitFor();
      assert.ok(entries.some((e) => e.flags.includes('break-the-glass') && e.actor.org === 'Hospital4'));
      // The break-the-glass read may be on a later page of the timeline: page until it shows.
      const btg = timeline.getByRole('row').filter({ hasText: 'break the glass' }).filter({ hasText: 'Hospital4/doctor1' });
      for (let i = 0; i < 10 && (await btg.count()) === 0; i++) {
        const next = page.getByRole('button', { name: `events, page ${i + 2}`, exact: true });
        if ((await next.count()) === 0) break;
        await next.click();
      }
      assert.ok((await btg.count()) > 0, 'the break-the-glass read is on the timeline');
      await tb().checkA11y(page, 'provenance');
      await tb().screenshot(page, 'provenance');

      const [audit] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download FHIR AuditEvent Bundle' }).click()]);
      const bundle = JSON.parse(readFileSync((await audit.path())!, 'utf8')) as { resourceType: string; entry: Array<{ resource: { resourceType: string } }> };
      assert.equal(bundle.resourceType, 'Bundle');
      assert.equal(bundle.entry.length, entries.length);
      assert.ok(bundle.entry.every((e) => e.resource.resourceType === 'AuditEvent'));
      const [prov] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download FHIR Provenance Bundle' }).click()]);
      const provenance = JSON.parse(readFileSync((await prov.path())!, 'utf8')) as {
        resourceType: string;
        entry: Array<{ resource: { resourceType: string } }>;
      };
      assert.equal(provenance.resourceType, 'Bundle');
      assert.ok(provenance.entry.length >= 1 && provenance.entry.every((e) => e.resource.resourceType === 'Provenance'));
    });

    it("leads from the organisation's timeline to a record's own and to a transaction's block; a timeline has an address", async () => {
      const sdk = tb().sdk('Hospital1', 'supervisor1');
      const page = await tb().signIn('Hospital1', 'supervisor1');
      // A timeline's address opens it: the organisation's, as a bookmark would.
      await page.goto(`${tb().url('Hospital1')}/provenance?org`);
      const timeline = page.getByTestId('timeline');
      await timeline.waitFor({ timeout: 30_000 });
      const org = await wholeTrail(sdk, { kind: 'org', org: 'Hospital1' });
      assert.equal(await page.getByTestId('timeline-count').textContent(), countText(org.length));
      // Newest first: the first row is the trail's latest event.
      const latest = org[org.length - 1]!;
      assert.equal(await timeline.getByRole('row').nth(1).locator(`a[title="${latest.txId}"]`).count(), 1, `the first row is ${latest.op} of ${latest.txId}`);

      // A record named on it opens the record's own timeline, its address the page's.
      await timeline.getByRole('link', { name: 'record h1-p1-visit v1' }).first().click();
      const record = await wholeTrail(sdk, { kind: 'record', recordId: 'h1-p1-visit' });
      await page
        .getByTestId('timeline-count')
        .filter({ hasText: countText(record.length) })
        .waitFor({ timeout: 30_000 });
      assert.ok(record.length < org.length, `the record's ${record.length} events, not the organisation's ${org.length}`);
      assert.equal(new URL(page.url()).search, '?record=h1-p1-visit');
      assert.equal(await page.getByLabel('Record id').inputValue(), 'h1-p1-visit');
      assert.equal(await timeline.getByRole('link', { name: /^record h1-p1-visit/ }).count(), 0, 'the record shown is no link to itself');
      await tb().checkA11y(page, 'a record timeline opened from the organisation');
      // Back: the organisation's timeline again.
      await page.goBack();
      await page
        .getByTestId('timeline-count')
        .filter({ hasText: countText(org.length) })
        .waitFor({ timeout: 30_000 });
      assert.equal(new URL(page.url()).search, '?org');

      // A transaction opens the block that holds it, as on the ledger: the latest event's, in the first row.
      const status = await sdk.client.txStatus(latest.txId);
      assert.ok(status.blockNumber !== null);
      await timeline.locator(`a[title="${latest.txId}"]`).first().click();
      await page.getByRole('heading', { name: `Block ${status.blockNumber}`, exact: true }).waitFor({ timeout: 30_000 });
      assert.equal(await page.getByLabel(/Find a block/).inputValue(), latest.txId);
      assert.ok((await page.getByText(latest.txId.slice(0, 10)).count()) > 0, "the transaction in the block's list");
    });

    it("on a phone, a record's timeline opened from far down the organisation's shows from its top", async () => {
      const page = await tb().signIn('Hospital1', 'supervisor1');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${tb().url('Hospital1')}/provenance?org`);
      const timeline = page.getByTestId('timeline');
      await timeline.waitFor({ timeout: 30_000 });
      const count = page.getByTestId('timeline-count');
      const orgCount = await count.textContent();
      // The last record named on the first page: fifteen cards down.
      const link = timeline.getByRole('link', { name: /^record / }).last();
      const recordId = /^record (\S+)/.exec((await link.textContent()) ?? '')![1]!;
      await link.click();
      await page.waitForURL((url) => url.search === `?record=${recordId}`);
      await waitOrExplain(page, count.filter({ hasNotText: orgCount ?? '' }));
      await assertInSight(page, count, `record ${recordId}'s timeline`);
    });

    it('shows the latest events of a long trail at once and loads the older ones on demand, in either order', async () => {
      // A record read more times than one load holds: 100 events, then the rest when asked.
      const doctor = tb().sdk('Hospital1', 'doctor1');
      const reads = EVENTS_PER_LOAD + 6;
      for (let done = 0; done < reads; done += 8)
        await Promise.all(
          Array.from({ length: Math.min(8, reads - done) }, () => doctor.submit('access', { recordId: 'h1-p1-bp', action: 'read', purpose: 'TREAT' })),
        );
      const trail = await wholeTrail(tb().sdk('Hospital1', 'supervisor1'), { kind: 'record', recordId: 'h1-p1-bp' });
      assert.ok(trail.length > EVENTS_PER_LOAD, `${trail.length} events`);
      const page = await tb().signIn('Hospital1', 'supervisor1');
      await page.goto(`${tb().url('Hospital1')}/provenance?record=h1-p1-bp`);
      const timeline = page.getByTestId('timeline');
      await timeline.waitFor({ timeout: 30_000 });
      const count = page.getByTestId('timeline-count');
      assert.equal(await count.textContent(), countText(trail.length));
      assert.equal(
        await timeline
          .getByRole('row')
          .nth(1)
          .locator(`a[title="${trail[trail.length - 1]!.txId}"]`)
          .count(),
        1,
        'the latest read first',
      );
      assert.equal(await timeline.getByRole('row').filter({ hasText: 'created' }).count(), 0, 'the creation is among the older events');
      await tb().checkA11y(page, 'a long timeline, newest first');
      // Load older events: the rest of the trail, the table turned to the first of them.
      await page.getByTestId('timeline-more').click();
      await count.filter({ hasText: `${trail.length} events, newest first` }).waitFor({ timeout: 30_000 });
      assert.equal(await page.getByTestId('timeline-more').count(), 0, 'nothing more on the ledger');
      const firstNew = trail[trail.length - 1 - EVENTS_PER_LOAD]!;
      await assertInSight(page, timeline.locator(`a[title="${firstNew.txId}"]`).first(), 'the first of the older events');
      const last = page.getByRole('button', { name: `events, page ${Math.ceil(trail.length / 15)}`, exact: true });
      await last.click();
      await timeline.getByRole('row').filter({ hasText: 'created' }).first().waitFor();
      // Oldest first: the timeline on screen turns round at once, the creation heading its first page.
      await page.getByRole('radiogroup', { name: 'Order of the timeline' }).getByText('Oldest first').click();
      await count.filter({ hasText: `${EVENTS_PER_LOAD} events loaded, oldest first; later ones are on the ledger` }).waitFor({ timeout: 30_000 });
      await timeline.getByRole('row').nth(1).filter({ hasText: 'created' }).waitFor();
    });

    it("refuses another hospital's supervisor the record's trail, saying why", async () => {
      const page = await tb().signIn('Hospital3', 'supervisor1');
      await page.getByRole('link', { name: 'Provenance' }).click();
      await page.getByLabel('Record id').fill('h1-p1-visit');
      await page.getByRole('button', { name: 'Show timeline' }).click();
      await page
        .getByRole('alert')
        .filter({ hasText: /only the patient, the custodian's admins\/supervisors/ })
        .waitFor({ timeout: 30_000 });
    });
  });
}
