// People: the identity lifecycle in the console (decisions 1252, 1210, 1211). Hospital1's admin
// registers a doctor and reads the one-time secret; the new doctor, signed out, enrols from the
// sign-in page — the key pair made in the browser, non-extractable; the admin sees the request
// waiting; the certificate is issued where the CA key is (here: what `medledger user enrol`
// runs, EnrolmentAdmin.issuePending); the doctor collects it and is signed in; the admin's
// revoke dialog shows the exact command, which is what the CA host runs (revokeCertificates);
// the page, the node's identities and the doctor's next sign-in (CERT_REVOKED) all agree. A
// patient is registered with the pseudonym computed in the browser — the one the CLI derives.
// A doctor has no People page, and the node refuses them the routes; a bad secret is refused.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { parsePrivateKey, sign } from '../../../src/crypto/index.ts';
import { loadConsortium } from '../../../src/identity/index.ts';
import { loadPseudonymKey, patientPseudonymOf } from '../../../src/identity/pseudonym.ts';
import type { IdentityEntryT } from '../../../src/protocol/enrolment-schemas.ts';
import { EnrolmentAdmin, revokeCertificates } from '../../../src/sdk/enrolment.ts';
import { transitionsDone, waitOrExplain, type ConsoleTestbed } from '../harness.ts';

const ORG = 'Hospital1';

/** The CA host's tools: the organisation CA with its key and the admin's config signer (as `medledger user …` loads them). */
function caHost(tb: ConsoleTestbed) {
  const consortium = loadConsortium(join(tb.net.dir, 'crypto'));
  const ca = consortium.orgCas.get(ORG)!;
  const admin = consortium.users.find((u) => u.org === ORG && u.commonName === 'admin1')!;
  const key = parsePrivateKey(admin.keyPem);
  const client = tb.sdk(ORG, 'admin1').client;
  return { ca, client, signer: { certPem: admin.certPem, signer: { sign: (m: Uint8Array) => sign(key, m) } }, enrolment: new EnrolmentAdmin(client) };
}

async function identity(tb: ConsoleTestbed, name: string): Promise<IdentityEntryT | undefined> {
  return (await caHost(tb).enrolment.identities(ORG)).identities.find((i) => i.name === name);
}

async function openPeople(tb: ConsoleTestbed): Promise<Page> {
  const admin = await tb.signIn(ORG, 'admin1');
  await admin.getByRole('link', { name: 'People' }).click();
  await waitOrExplain(admin, admin.getByRole('heading', { name: 'Register a person' }));
  return admin;
}

export function peopleTests(tb: () => ConsoleTestbed): void {
  describe('People page (identity lifecycle)', () => {
    it('register → enrol in the browser (non-extractable key) → issued on the CA host → collected, signed in → revoked with the shown command: refused', async () => {
      const admin = await openPeople(tb());
      await admin.getByRole('textbox', { name: 'Name', exact: true }).fill('doctor7');
      await admin.getByRole('button', { name: 'Register', exact: true }).click();
      await waitOrExplain(admin, admin.getByTestId('registration-result'));
      const secret = (await admin.getByTestId('registration-secret').textContent())!.trim();
      assert.match(secret, /^[0-9a-f]{32}\./);
      const registered = await identity(tb(), 'doctor7');
      assert.equal(registered?.status, 'registered');
      assert.equal(registered?.role, 'doctor');
      assert.equal(registered?.certificate, 'none');
      await tb().checkA11y(admin, 'people (admin, registered)');
      await tb().screenshot(admin, 'people');

      // The new doctor, signed out, at the same hospital's console.
      const user = await tb().open(ORG);
      await user.getByRole('textbox', { name: 'Your name as registered' }).fill('doctor7');
      await user.getByLabel('Enrolment secret').fill(secret);
      await user.getByRole('button', { name: 'Make my key and request a certificate' }).click();
      const entry = user.getByTestId('enrolled-entry').filter({ hasText: `${ORG}/doctor7` });
      await waitOrExplain(user, entry);
      await tb().checkA11y(user, 'sign-in page with an enrolment');
      await tb().screenshot(user, 'enrol');
      const keys = await user.evaluate(
        () =>
          new Promise<Array<{ extractable: boolean; type: string }>>((resolve, reject) => {
            const req = indexedDB.open('medledger-console');
            req.onerror = () => reject(new Error('no IndexedDB'));
            req.onsuccess = () => {
              const all = req.result.transaction('enrolled').objectStore('enrolled').getAll();
              all.onsuccess = () => resolve((all.result as Array<{ key: CryptoKey }>).map((e) => ({ extractable: e.key.extractable, type: e.key.type })));
            };
          }),
      );
      assert.deepEqual(keys, [{ extractable: false, type: 'private' }], 'the only copy of the key: a non-extractable private CryptoKey');

      await admin.getByRole('button', { name: 'Refresh' }).click();
      await waitOrExplain(admin, admin.getByTestId('pending-enrolments').locator('tr[data-name="doctor7"]'));
      assert.equal((await identity(tb(), 'doctor7'))?.status, 'requested');

      // Not issued yet: collecting says so.
      await entry.getByRole('button', { name: 'Collect my certificate and sign in' }).click();
      await waitOrExplain(user, user.getByTestId('enrol-status').filter({ hasText: 'Not issued yet' }));

      // On the host with Hospital1's CA key: what `medledger user enrol --org Hospital1 --pending` runs.
      const host = caHost(tb());
      const pending = (await host.enrolment.pending()).find((p) => p.name === 'doctor7');
      assert.ok(pending);
      const { issued, refused } = await host.enrolment.issuePending(host.ca, { ids: [pending.id] });
      assert.deepEqual(refused, []);
      const serial = issued[0]!.serialHex;

      await entry.getByRole('button', { name: 'Collect my certificate and sign in' }).click();
      await waitOrExplain(user, user.getByTestId('whoami').filter({ hasText: `${ORG}/doctor7` }));
      await user.getByRole('link', { name: 'Records' }).waitFor();

      await admin.getByRole('button', { name: 'Check again' }).click();
      const row = admin.getByTestId('identities').locator('tr[data-name="doctor7"]');
      await waitOrExplain(admin, row.getByTestId('certificate-state').filter({ hasText: 'valid' }));
      await row.getByRole('button', { name: 'Revoke doctor7' }).click();
      assert.equal(await admin.getByTestId('revoke-command').textContent(), `npx medledger user revoke --org ${ORG} --serial ${serial}`);
      await transitionsDone(admin);
      await tb().checkA11y(admin, 'people (revoke dialog)');
      // What that command runs on the CA host (`user revoke`: the list signed with the CA key, the update by the admin).
      await revokeCertificates(host.client, { ca: host.ca, serials: [serial], signers: [host.signer] });
      await admin.getByRole('button', { name: 'I ran it — check again' }).click();
      await waitOrExplain(admin, row.getByTestId('certificate-state').filter({ hasText: 'revoked' }));
      await admin
        .getByTestId('revoked-serials')
        .filter({ hasText: serial.slice(0, 12) })
        .waitFor();
      assert.equal((await identity(tb(), 'doctor7'))?.certificate, 'revoked');

      // The doctor's browser: the session no longer restores, and signing in again is refused by the node.
      await user.reload();
      const again = user.getByTestId('enrolled-entry').filter({ hasText: `${ORG}/doctor7` });
      await waitOrExplain(user, again);
      await again.getByRole('button', { name: 'Sign in as doctor7' }).click();
      await waitOrExplain(user, again.getByRole('alert').filter({ hasText: 'CERT_REVOKED' }));
    });

    it('registers a patient with the pseudonym computed in the browser from pseudonym.key: the pseudonym the CLI derives', async () => {
      const admin = await openPeople(tb());
      await admin.getByRole('textbox', { name: 'Name', exact: true }).fill('patient9');
      await admin.getByRole('textbox', { name: 'Role' }).click();
      await admin.getByRole('option', { name: 'patient' }).click();
      const [chooser] = await Promise.all([
        admin.waitForEvent('filechooser'),
        admin.getByRole('button', { name: 'Pseudonymisation key (pseudonym.key)' }).click(),
      ]);
      await chooser.setFiles(join(tb().net.dir, 'crypto', ORG, 'pseudonym.key'));
      await admin.getByRole('button', { name: 'Register', exact: true }).click();
      await waitOrExplain(admin, admin.getByTestId('registration-result'));
      const expected = patientPseudonymOf(loadPseudonymKey(join(tb().net.dir, 'crypto'), ORG), ORG, 'patient9');
      assert.equal(await admin.getByTestId('registration-pseudonym').textContent(), expected);
      const onNode = await identity(tb(), 'patient9');
      assert.equal(onNode?.role, 'patient');
      assert.equal(onNode?.id, expected, 'the node registered the pseudonym, not the name');
    });

    it('offers the laboratory and device roles and registers a sensor as a device (decision 1253)', async () => {
      const admin = await openPeople(tb());
      await admin.getByRole('textbox', { name: 'Name', exact: true }).fill('sensor7');
      await admin.getByRole('textbox', { name: 'Role' }).click();
      await admin.getByRole('option', { name: 'laboratory' }).waitFor();
      await admin.getByRole('option', { name: 'device' }).click();
      await admin.getByRole('button', { name: 'Register', exact: true }).click();
      await waitOrExplain(admin, admin.getByTestId('registration-result'));
      assert.equal((await identity(tb(), 'sensor7'))?.role, 'device');
    });

    it('a doctor has no People page and the node refuses them; a supervisor sees the lists without actions; a wrong secret is refused', async () => {
      const doctor = await tb().signIn(ORG, 'doctor1');
      assert.equal(await doctor.getByRole('link', { name: 'People' }).count(), 0);
      await doctor.goto(`${tb().url(ORG)}/people`);
      await doctor.getByRole('alert').filter({ hasText: 'Not available for your role' }).waitFor();
      const asDoctor = tb().sdk(ORG, 'doctor1').client;
      await assert.rejects(asDoctor.call('GET', `/v1/identities?org=${ORG}`), (e: { status?: number }) => e.status === 403);
      await assert.rejects(asDoctor.call('POST', '/v1/registrations', { name: 'intruder', role: 'admin' }), (e: { status?: number }) => e.status === 403);

      const supervisor = await tb().signIn(ORG, 'supervisor1');
      await supervisor.getByRole('link', { name: 'People' }).click();
      await waitOrExplain(supervisor, supervisor.getByTestId('identities'));
      assert.equal(await supervisor.getByRole('heading', { name: 'Register a person' }).count(), 0);
      // What the page says matches what a supervisor may do: look, not register or revoke.
      assert.match(
        (await supervisor.getByTestId('people-intro').textContent()) ?? '',
        /Registering people and revoking certificates is for Hospital\d's administrators/,
      );
      assert.equal(await supervisor.getByText(/^Register people to enrol/).count(), 0);
      assert.equal(await supervisor.getByRole('button', { name: /^Revoke / }).count(), 0);
      await tb().checkA11y(supervisor, 'people (supervisor)');

      const stranger = await tb().open(ORG);
      await stranger.getByRole('textbox', { name: 'Your name as registered' }).fill('nobody');
      await stranger.getByLabel('Enrolment secret').fill(`${'0'.repeat(32)}.${'A'.repeat(43)}`);
      await stranger.getByRole('button', { name: 'Make my key and request a certificate' }).click();
      await waitOrExplain(stranger, stranger.getByRole('alert').filter({ hasText: 'The request was not accepted' }));
      assert.equal(await stranger.getByTestId('enrolled-entry').count(), 0, 'nothing is kept for a refused request');
    });
  });
}
