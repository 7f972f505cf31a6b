// Every page at a tablet's width (768 × 1024): no page scrolls sideways as a whole (wide tables
// scroll inside their own region, TableScroll). The header at a tablet's and a phone's width.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConsoleTestbed } from '../harness.ts';

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
          const { scrollWidth, width } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, width: window.innerWidth }));
          assert.ok(scrollWidth <= width, `${path} as ${org}/${user}: the page is ${scrollWidth} px wide at ${width} px`);
        }
      }
    });

    it('the header keeps the role and Sign out whole at 768 px and on a phone (390 px); the menu says who and whose node', async () => {
      // A patient's id is a pseudonym, the longest name the header shows.
      const page = await tb().signIn('Hospital1', 'patient1');
      for (const width of [768, 390]) {
        await page.setViewportSize({ width, height: 900 });
        const signOut = page.getByRole('button', { name: 'Sign out' });
        const box = await signOut.boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= width, `Sign out at ${width} px: ${JSON.stringify(box)}`);
        for (const [what, control] of [
          ['Sign out', signOut],
          ['the role', page.getByLabel('role patient')],
        ] as const) {
          const clipped = await control.evaluate((el) => [el, ...el.querySelectorAll('*')].some((e) => e.scrollWidth > e.clientWidth + 1));
          assert.equal(clipped, false, `${what} is cut at ${width} px`);
        }
      }
      // On a phone who is signed in, and at which hospital's node, moved into the menu.
      await page.getByRole('button', { name: 'Menu' }).click();
      const menu = page.getByRole('navigation', { name: 'Pages' });
      await menu.getByText('console of Hospital1 (node.Hospital1)').waitFor();
      await menu.getByText(/^Hospital1\/[0-9a-f]{12}…$/).waitFor();
    });
  });
}
