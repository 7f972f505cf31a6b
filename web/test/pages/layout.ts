// Every page at a tablet's width (768 × 1024): no page scrolls sideways as a whole (wide tables
// scroll inside their own region, TableScroll), no text spills out of its box. The header and the
// sign-in page (where patients enrol) at a tablet's and a phone's width.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { textSpilled, type ConsoleTestbed } from '../harness.ts';

const BY_USER: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['Hospital2', 'doctor1', ['/records', '/break-the-glass', '/market', '/network', '/blocks']],
  ['Hospital1', 'patient1', ['/my-data', '/provenance']],
  ['Hospital2', 'researcher1', ['/analytics', '/lab']],
  ['Hospital1', 'admin1', ['/admin', '/people', '/market']],
];

export function layoutTests(tb: () => ConsoleTestbed): void {
  describe('tablet width', () => {
    it('every page fits 768 px without sideways scrolling', async () => {
      for (const [org, user, paths] of BY_USER) {
        const page = await tb().signIn(org, user);
        await page.setViewportSize({ width: 768, height: 1024 });
        for (const path of paths) {
          await page.goto(`${tb().url(org)}${path}`);
          await page.getByRole('heading', { level: 2 }).first().waitFor();
          if (path === '/admin') await page.getByTestId('node-info').waitFor();
          const { scrollWidth, width } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth }));
          assert.ok(scrollWidth <= width, `${path} as ${org}/${user}: the page is ${scrollWidth} px wide at ${width} px`);
          assert.deepEqual(await textSpilled(page), [], `${path} as ${org}/${user} at ${width} px`);
          // A badge in a table (a sensitivity, an outcome, a status) is never cut to "RESTRI…".
          const cut = await page.evaluate(() =>
            [...document.querySelectorAll('td .mantine-Badge-label')].filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent ?? ''),
          );
          assert.deepEqual(cut, [], `${path} as ${org}/${user}: badges cut at ${width} px`);
        }
      }
    });

    it('the header keeps Sign out whole at 768 px and on a phone (390 px); the menu says who, in which role, at whose node', async () => {
      // A patient's id is a pseudonym, the longest name the header shows; "researcher" among the
      // longest roles.
      for (const [org, user, role] of [
        ['Hospital1', 'patient1', 'patient'],
        ['Hospital2', 'researcher1', 'researcher'],
      ] as const) {
        const page = await tb().signIn(org, user);
        for (const width of [768, 390]) {
          await page.setViewportSize({ width, height: 900 });
          const signOut = page.getByRole('button', { name: 'Sign out' });
          const box = await signOut.boundingBox();
          assert.ok(box !== null && box.x >= 0 && box.x + box.width <= width, `Sign out at ${width} px as ${user}: ${JSON.stringify(box)}`);
          const shown = width === 768 ? [signOut, page.getByLabel(`role ${role}`)] : [signOut];
          for (const control of shown) {
            const clipped = await control.evaluate((el) => [el, ...el.querySelectorAll('*')].some((e) => e.scrollWidth > e.clientWidth + 1));
            assert.equal(clipped, false, `${await control.textContent()} is cut at ${width} px as ${user}`);
          }
        }
        // On a phone who is signed in, the role and the hospital's node are in the menu.
        await page.getByRole('button', { name: 'Menu' }).click();
        const menu = page.getByRole('navigation', { name: 'Pages' });
        await menu.getByText(`console of ${org} (node.${org})`).waitFor();
        await menu
          .getByTestId('whoami-menu')
          .filter({ hasText: new RegExp(`^${org}/\\S+ · ${role}$`) })
          .waitFor();
      }
    });

    it('the sign-in page, with its demo list and enrolment form, fits 768 px and a phone (390 px), where patients enrol', async () => {
      const page = await tb().open('Hospital1');
      await page.getByRole('heading', { name: 'New here? Enrol with your secret' }).waitFor();
      await page.getByRole('button', { name: 'Sign in as patient1, patient' }).waitFor();
      for (const width of [768, 390]) {
        await page.setViewportSize({ width, height: 900 });
        const { scrollWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth }));
        assert.ok(scrollWidth <= width, `the sign-in page is ${scrollWidth} px wide at ${width} px`);
        assert.deepEqual(await textSpilled(page), [], `the sign-in page at ${width} px`);
      }
    });
  });
}
