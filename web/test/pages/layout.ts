// Every page at a tablet's width (768 × 1024): no page scrolls sideways as a whole (wide tables
// scroll inside their own region, TableScroll).
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
  });
}
