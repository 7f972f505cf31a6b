// Serving, security headers, signing in (file picker, demo list, wrong key), the role-filtered
// menu, a page opened by URL for another role, the session across a reload, sign-out, and the key
// stored non-extractable.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ConsoleTestbed } from '../harness.ts';

export function shellTests(tb: () => ConsoleTestbed): void {
  describe('serving and signing in', () => {
    it('serves the page with a strict CSP and security headers; every request stays on the node', async () => {
      const res = await fetch(`${tb().url('Hospital1')}/`);
      assert.equal(res.status, 200);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'self'(;|$)/, 'no inline or foreign scripts');
      assert.match(csp, /style-src 'self' 'nonce-[A-Za-z0-9+/=]+'/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('x-frame-options'), 'DENY');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      const html = await res.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc="\/assets\/)/, 'the only script is the bundle from /assets/');
      assert.doesNotMatch(html, /https?:\/\//, 'no absolute URLs (no CDN, no external fonts)');
      // Two loads, two nonces.
      const again = await fetch(`${tb().url('Hospital1')}/`);
      assert.notEqual(again.headers.get('content-security-policy'), csp);

      const page = await tb().open('Hospital1');
      const foreign: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(tb().url('Hospital1')) && !/^(data|blob):/.test(r.url())) foreign.push(r.url());
      });
      await page.reload();
      await page.getByRole('heading', { name: 'MedLedger console' }).waitFor();
      // The tab names the page and the hospital (five consoles open side by side are told apart).
      await page.waitForFunction((t) => document.title === t, 'Sign in · Hospital1 · MedLedger');
      await tb().checkA11y(page, 'sign-in page');
      await tb().screenshot(page, 'sign-in');
      assert.deepEqual(foreign, []);
    });

    it('signs in through the file picker: the header names the user, organisation and role; the menu offers what the role may use', async () => {
      const page = await tb().signIn('Hospital2', 'doctor1');
      assert.equal(await page.getByTestId('whoami').textContent(), 'Hospital2/doctor1');
      await page.getByLabel('role doctor').waitFor();
      const nav = page.getByRole('navigation', { name: 'Pages' });
      assert.ok(await nav.getByRole('link', { name: 'Network' }).isVisible());
      // The tab follows the page: the role's first page, then the one chosen in the menu.
      await page.waitForFunction((t) => document.title === t, 'Records · Hospital2 · MedLedger');
      await nav.getByRole('link', { name: 'Network' }).click();
      await page.waitForFunction((t) => document.title === t, 'Network · Hospital2 · MedLedger');
      // The same session over the SDK: the node authenticated the browser-signed request as this user.
      const me = await tb().sdk('Hospital2', 'doctor1').client.whoami();
      assert.deepEqual({ org: me.org, id: me.id, role: me.role }, { org: 'Hospital2', id: 'doctor1', role: 'doctor' });
    });

    it('keeps the session across a reload with the key non-extractable in IndexedDB; sign-out forgets it', async () => {
      const page = await tb().signIn('Hospital1', 'supervisor1');
      await page.reload();
      await page.getByTestId('whoami').filter({ hasText: 'Hospital1/supervisor1' }).waitFor();
      const stored = await page.evaluate(async () => {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const r = indexedDB.open('medledger-console');
          r.onsuccess = () => resolve(r.result);
          r.onerror = () => reject(r.error);
        });
        const entries = await new Promise<Array<{ key: CryptoKey; certPem: string }>>((resolve, reject) => {
          const r = db.transaction('sessions').objectStore('sessions').getAll();
          r.onsuccess = () => resolve(r.result as Array<{ key: CryptoKey; certPem: string }>);
          r.onerror = () => reject(r.error);
        });
        db.close();
        const key = entries[0]!.key;
        let exported = 'exported';
        try {
          await crypto.subtle.exportKey('pkcs8', key);
        } catch (e) {
          exported = (e as Error).name;
        }
        return {
          count: entries.length,
          extractable: key.extractable,
          type: key.type,
          usages: key.usages,
          exported,
          pemKeyInStorage: JSON.stringify(localStorage).includes('PRIVATE KEY') || JSON.stringify(sessionStorage).includes('PRIVATE KEY'),
        };
      });
      assert.deepEqual(stored, { count: 1, extractable: false, type: 'private', usages: ['sign'], exported: 'InvalidAccessError', pemKeyInStorage: false });
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'MedLedger console' }).waitFor();
      await page.reload();
      await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    });

    it('refuses a key that does not belong to the certificate, in plain words', async () => {
      const page = await tb().open('Hospital1');
      const crypto = join(tb().net.dir, 'crypto', 'Hospital1');
      await page.getByTestId('credential-files').setInputFiles([join(crypto, 'doctor1', 'cert.pem'), join(crypto, 'nurse1', 'key.pem')]);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      const alert = page.getByRole('alert', { name: 'Sign-in failed' });
      await alert.waitFor();
      assert.match((await alert.textContent()) ?? '', /Sign-in failed.*does not verify for Hospital1\/doctor1/s);
    });

    it('while the demo users load, the sign-in page passes the accessibility check (the loader is a named status)', async () => {
      const context = await tb().browser.newContext();
      try {
        const page = await context.newPage();
        let release: () => void = () => undefined;
        const held = new Promise<void>((resolve) => (release = resolve));
        await page.route('**/console/demo-users', async (route) => {
          await held;
          await route.continue();
        });
        await page.goto(tb().url('Hospital3'));
        await page.getByRole('heading', { name: 'MedLedger console' }).waitFor();
        await page.getByLabel('Loading demo users').waitFor();
        await tb().checkA11y(page, 'sign-in page, demo users loading');
        release();
        await page.getByRole('button', { name: /Sign in as researcher1, researcher/ }).waitFor();
      } finally {
        await context.close();
      }
    });

    it('offers the demo users of its own hospital on a demo node, and signs in with one click', async () => {
      const page = await tb().open('Hospital3');
      await page.getByRole('button', { name: /Sign in as researcher1, researcher/ }).click();
      await page.getByTestId('whoami').filter({ hasText: 'Hospital3/researcher1' }).waitFor();
    });

    it('a node that does not answer at first is asked again; one that keeps failing says so, with Try again', async () => {
      const context = await tb().browser.newContext();
      try {
        // Two connections reset, then the node answers: the sign-in page comes, no reload needed.
        const page = await context.newPage();
        let refused = 0;
        await page.route('**/console/config.json', (route) => (refused++ < 2 ? route.abort('connectionreset') : route.continue()));
        await page.goto(tb().url('Hospital1'));
        await page.getByTestId('credential-files').waitFor({ state: 'attached', timeout: 30_000 });
        assert.equal(refused, 3, 'asked three times');
        // Unavailable every time: after its attempts the console says so, and Try again starts over.
        const down = await context.newPage();
        let asked = 0;
        await down.route('**/console/config.json', (route) => (asked++, route.fulfill({ status: 503, body: 'restarting' })));
        await down.goto(tb().url('Hospital1'));
        await down.getByText('The console cannot start').waitFor({ timeout: 30_000 });
        await down.getByText('HTTP 503').waitFor();
        assert.equal(asked, 5, 'five attempts before giving up');
        await tb().checkA11y(down, 'the console cannot start');
        await down.unroute('**/console/config.json');
        await down.getByRole('button', { name: 'Try again' }).click();
        await down.getByTestId('credential-files').waitFor({ state: 'attached', timeout: 30_000 });
      } finally {
        await context.close();
      }
    });

    it('an address that is no page says so, with a way back', async () => {
      const page = await tb().signIn('Hospital1', 'patient1');
      await page.goto(`${tb().url('Hospital1')}/no-such-page`);
      await page.getByRole('heading', { name: 'Page not found' }).waitFor();
    });
  });
}
