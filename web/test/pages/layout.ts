// Every page at a tablet's width (768 × 1024): no page scrolls sideways as a whole (wide tables
// scroll inside their own region, TableScroll), no text spills out of its box. The header and the
// sign-in page (where patients enrol) at a tablet's and a phone's width.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { patientPseudonym } from '../../../src/identity/pseudonym.ts';
import { textSpilled, type ConsoleTestbed } from '../harness.ts';

const BY_USER: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['Hospital2', 'doctor1', ['/records', '/break-the-glass', '/market', '/network', '/blocks']],
  ['Hospital1', 'patient1', ['/my-data', '/provenance']],
  ['Hospital2', 'researcher1', ['/analytics', '/lab']],
  ['Hospital1', 'admin1', ['/admin', '/people', '/market']],
];

/** The pages of BY_USER that show a list with rows in the demo data. */
const TABLES_AT: ReadonlySet<string> = new Set(['/records', '/market', '/network', '/blocks', '/my-data', '/admin']);

/** Each page of BY_USER at one size, signed in as its user, once its heading is shown. */
async function eachPage(
  tb: () => ConsoleTestbed,
  size: { width: number; height: number },
  check: (page: Page, path: string, where: string) => Promise<void>,
): Promise<void> {
  for (const [org, user, paths] of BY_USER) {
    const page = await tb().signIn(org, user);
    await page.setViewportSize(size);
    for (const path of paths) {
      await page.goto(`${tb().url(org)}${path}`);
      await page.getByRole('heading', { level: 2 }).first().waitFor();
      await check(page, path, `${path} as ${org}/${user} at ${size.width} px`);
    }
  }
}

export function layoutTests(tb: () => ConsoleTestbed): void {
  describe('tablet width', () => {
    it('every page fits 768 px without sideways scrolling', async () => {
      await eachPage(tb, { width: 768, height: 1024 }, async (page, path, where) => {
        if (path === '/admin') await page.getByTestId('node-info').waitFor();
        const { scrollWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth }));
        assert.ok(scrollWidth <= 768, `${where}: the page is ${scrollWidth} px wide`);
        assert.deepEqual(await textSpilled(page), [], where);
        // A badge in a table (a sensitivity, an outcome, a status) is never cut to "RESTRI…".
        const cut = await page.evaluate(() =>
          [...document.querySelectorAll('td .mantine-Badge-label')].filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent ?? ''),
        );
        assert.deepEqual(cut, [], `${where}: badges cut`);
      });
    });

    it('at 1280 px no table hides a column (the transactions of a block keep their Validation in sight beside the block list)', async () => {
      await eachPage(tb, { width: 1280, height: 800 }, async (page, path, where) => {
        // The lists' rows, loaded: an empty table would fit whatever its columns.
        if (path === '/blocks') await page.getByTestId('block-txs').locator('tbody tr td .mantine-Badge-root').first().waitFor();
        else if (TABLES_AT.has(path))
          await page
            .locator('.ml-table-scroll tbody tr')
            .first()
            .waitFor()
            .catch((e: unknown) => assert.fail(`${where}: no list rows (${String(e).split('\n')[0]})`));
        const hidden = await page
          .locator('.ml-table-scroll')
          .evaluateAll((regions) =>
            regions.filter((r) => r.scrollWidth > r.clientWidth + 1).map((r) => `${r.getAttribute('aria-label')}: ${r.scrollWidth} px in ${r.clientWidth}`),
          );
        assert.deepEqual(hidden, [], `${where}: tables wider than their region`);
        assert.equal(await page.locator('.ml-table-more').count(), 0, `${where}: a "more columns" line`);
      });
    });

    it("at 1280 px a record's timeline fits, even with a reason that names a consent by its id", async () => {
      // A read asking for the restricted part of a record whose consent covers up to sensitive: the
      // part is withheld, and the reason names the consent.
      const read = await tb().sdk('Hospital2', 'doctor1').readRecord({ recordId: 'h1-p1-visit', purpose: 'TREAT', sensitivity: 'restricted' });
      assert.ok(read.txId);
      const page = await tb().signIn('Hospital1', 'supervisor1');
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.goto(`${tb().url('Hospital1')}/provenance`);
      await page.getByLabel('Record id').fill('h1-p1-visit');
      await page.getByRole('button', { name: 'Show timeline' }).click();
      const timeline = page.getByRole('region', { name: 'Timeline' });
      await timeline
        .getByText(/consent: [0-9a-f]{16,} covers/)
        .first()
        .waitFor();
      const { scrollWidth, clientWidth } = await timeline.evaluate((el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
      assert.ok(scrollWidth <= clientWidth + 1, `the timeline is ${scrollWidth} px wide in ${clientWidth}`);
    });

    it('a table wider than its region (a phone) shades the side out of sight and says so, until scrolled', async () => {
      const page = await tb().signIn('Hospital2', 'doctor1');
      await page.setViewportSize({ width: 390, height: 900 });
      await page.goto(`${tb().url('Hospital2')}/market`);
      const region = page.getByRole('region', { name: 'Datasets' });
      await region.locator('tbody tr').first().waitFor();
      const frame = page.locator('.ml-table-frame', { has: region });
      // The shade's opacity (a pseudo-element, so read from its computed style once its fade ends).
      const shade = async (pseudo: '::before' | '::after', want: '0' | '1'): Promise<void> => {
        let got = '';
        for (const until = Date.now() + 5_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
          got = await frame.evaluate((el, p) => getComputedStyle(el, p).opacity, pseudo);
          if (got === want) return;
        }
        assert.fail(`the ${pseudo} shade's opacity is ${got}, expected ${want}`);
      };
      // The Apply buttons (the last column) are out of sight: the right side is shaded and said.
      const apply = region.getByRole('button', { name: 'Apply' }).first();
      const inSight = async (): Promise<boolean> => {
        const [box, view] = [await apply.boundingBox(), await region.boundingBox()];
        return box !== null && view !== null && box.x >= view.x && box.x + box.width <= view.x + view.width + 1;
      };
      assert.equal(await inSight(), false, 'the Apply button is in sight at 390 px: the test proves nothing');
      await page.getByText('More columns to the right: scroll sideways').waitFor();
      await shade('::after', '1');
      await shade('::before', '0');
      await tb().checkA11y(page, 'a table wider than a phone');
      // Scrolled to its end: the left is shaded and said, the Apply button in sight.
      await region.evaluate((el) => el.scrollTo({ left: el.scrollWidth }));
      await page.getByText('More columns to the left: scroll back').waitFor();
      await shade('::before', '1');
      await shade('::after', '0');
      assert.equal(await inSight(), true, 'the Apply button, scrolled to');
      // Wide enough again (a desktop): no shade, no line.
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.getByText(/^More columns to the/).waitFor({ state: 'detached' });
      await shade('::after', '0');
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

    it('the menu folded behind the burger is out of the tab order; a page chosen from the menu opens at its top with the focus in it', async () => {
      const page = await tb().signIn('Hospital1', 'admin1');
      const focused = (): Promise<string> =>
        page.evaluate(() => {
          const el = document.activeElement;
          if (!el || el === document.body) return 'body';
          return `${el.closest('.ml-navbar') ? 'menu' : el.closest('main') ? 'main' : 'elsewhere'}: ${el.tagName} ${(el.textContent ?? '').trim().slice(0, 40)}`;
        });
      await page.setViewportSize({ width: 768, height: 900 });
      await page.getByRole('heading', { level: 2 }).first().waitFor();
      // Folded: Tab from the top of the page walks the header and the page, never the hidden menu.
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      const walked: string[] = [];
      for (let i = 0; i < 12; i++) {
        await page.keyboard.press('Tab');
        walked.push(await focused());
      }
      assert.ok(
        walked.some((f) => f.startsWith('main')),
        `Tab reached the page: ${walked.join(' | ')}`,
      );
      assert.deepEqual(
        walked.filter((f) => f.startsWith('menu')),
        [],
        'Tab stopped on links of the folded menu',
      );
      // Opened, a page chosen with the keyboard: the menu folds, the focus is in the page.
      await page.getByRole('button', { name: 'Menu' }).click();
      await page.getByRole('link', { name: 'Network' }).press('Enter');
      await page.getByRole('heading', { name: 'Network', level: 2 }).waitFor();
      assert.match(await focused(), /^main: MAIN/);
      await page.keyboard.press('Tab');
      assert.match(await focused(), /^main: /, 'the next Tab stays in the page');
      // On a desktop the page chosen opens at its top, not where the last one was scrolled to.
      await page.setViewportSize({ width: 1280, height: 600 });
      await page.getByRole('link', { name: 'Administration' }).click();
      await page.getByTestId('node-info').waitFor();
      await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      assert.ok((await page.evaluate(() => window.scrollY)) > 0, 'the Administration page is taller than 600 px');
      await page.getByRole('link', { name: 'Blocks' }).click();
      await page.getByRole('heading', { name: 'Blocks', level: 2 }).waitFor();
      assert.equal(await page.evaluate(() => window.scrollY), 0);
      assert.match(await focused(), /^main: MAIN/);
    });

    it('a link inside a page (a patient, then a record) takes the focus into the page it opens; a reload leaves Tab at Skip to content', async () => {
      const page = await tb().signIn('Hospital2', 'doctor1');
      const inMain = (): Promise<boolean> => page.evaluate(() => document.activeElement?.tagName === 'MAIN');
      const pp = patientPseudonym(tb().net.dir, 'Hospital1', 'patient1');
      await page.getByRole('link', { name: `Records of patient ${pp.slice(0, 16)}…` }).press('Enter');
      await page.getByRole('heading', { name: /^Records of patient / }).waitFor();
      assert.equal(await inMain(), true, 'after opening a patient the focus is in the page');
      await page.getByRole('link', { name: 'h1-p1-visit' }).press('Enter');
      await page.getByRole('heading', { name: 'Record h1-p1-visit' }).waitFor();
      assert.equal(await inMain(), true, 'after opening a record the focus is in the page');
      await page.reload();
      await page.getByRole('heading', { name: 'Record h1-p1-visit' }).waitFor();
      await page.keyboard.press('Tab');
      assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    });

    it('fields side by side line up, whether or not one has a description under its label (1280 and 768 px)', async () => {
      for (const [org, user, paths] of [
        ['Hospital2', 'researcher1', ['/lab', '/analytics']],
        ['Hospital1', 'admin1', ['/admin']],
      ] as const) {
        const page = await tb().signIn(org, user);
        for (const width of [1280, 768]) {
          await page.setViewportSize({ width, height: 900 });
          for (const path of paths) {
            await page.goto(`${tb().url(org)}${path}`);
            // .mantine-Input-input: the control itself (an <input>, or a file input's button).
            await page.locator('.ml-fields .mantine-Input-input').first().waitFor();
            const uneven = await page.locator('.ml-fields').evaluateAll((grids) =>
              grids.flatMap((grid) => {
                const columns = getComputedStyle(grid).gridTemplateColumns.split(' ').length;
                // The grid's cells: a Select keeps a hidden <input> of its value beside it, in no cell.
                const cells = [...grid.children].filter((cell) => cell.getClientRects().length > 0);
                const bottoms = cells.map((cell) => cell.querySelector('.mantine-Input-input')?.getBoundingClientRect().bottom ?? null);
                const rows: string[] = [];
                for (let i = 0; i < bottoms.length; i += columns) {
                  const row = bottoms.slice(i, i + columns).filter((b): b is number => b !== null);
                  if (row.length > 1 && Math.max(...row) - Math.min(...row) > 1)
                    rows.push(`${grid.textContent?.slice(0, 40)}: ${row.map((b) => b.toFixed(0)).join(', ')}`);
                }
                return rows;
              }),
            );
            assert.deepEqual(uneven, [], `${path} as ${org}/${user} at ${width} px: the inputs of a row end at different heights`);
          }
        }
      }
    });

    it('a doctor breaks the glass from a phone (390 px): the warning and the form fit', async () => {
      const page = await tb().signIn('Hospital2', 'doctor1');
      await page.setViewportSize({ width: 390, height: 900 });
      await page.goto(`${tb().url('Hospital2')}/break-the-glass`);
      const button = page.getByRole('button', { name: 'Break the glass and open the record' });
      await button.waitFor();
      const { scrollWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth }));
      assert.ok(scrollWidth <= 390, `Break the glass is ${scrollWidth} px wide at 390 px`);
      assert.deepEqual(await textSpilled(page), [], 'Break the glass at 390 px');
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
