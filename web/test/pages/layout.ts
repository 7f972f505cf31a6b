// Every role's pages at a desktop's (1280 px), a tablet's (768 px) and a phone's (390 px) width: no
// page scrolls sideways as a whole (a list too wide for its region shows its rows as cards,
// TableScroll; a choice whose options do not fit lists them one under another, Choice), no text
// spills out of its box, no column or option out of sight. The header, the sign-in page (where
// patients enrol) and the keyboard's way through the shell.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Locator, Page } from 'playwright-core';
import { patientPseudonym } from '../../../src/identity/pseudonym.ts';
import { textSpilled, type ConsoleTestbed } from '../harness.ts';

const BY_USER: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['Hospital2', 'doctor1', ['/records', '/break-the-glass', '/market', '/network', '/blocks']],
  ['Hospital1', 'patient1', ['/my-data', '/provenance']],
  ['Hospital2', 'researcher1', ['/analytics', '/lab']],
  ['Hospital1', 'admin1', ['/admin', '/people', '/market']],
  ['Hospital1', 'supervisor1', ['/provenance']],
];

/** The pages of BY_USER that show a list with rows in the demo data. */
const TABLES_AT: ReadonlySet<string> = new Set(['/records', '/market', '/network', '/blocks', '/my-data', '/admin']);

/** The options of a choice (SegmentedControl) cut short or out of their control's box. */
function optionsCut(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('.mantine-SegmentedControl-root')].flatMap((root) => {
      const box = root.getBoundingClientRect();
      return [...root.querySelectorAll('.mantine-SegmentedControl-label')]
        .filter((label) => {
          const r = label.getBoundingClientRect();
          return label.scrollWidth > label.clientWidth + 1 || r.left < box.left - 1 || r.right > box.right + 1 || r.right > window.innerWidth;
        })
        .map((label) => label.textContent ?? '');
    }),
  );
}

/** Fields whose placeholder (a hint such as "Choose datasets first") is cut by the field's width. */
function placeholdersCut(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const context = document.createElement('canvas').getContext('2d');
    if (!context) return ['no canvas to measure with'];
    return [...document.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>('input[placeholder], textarea[placeholder]')]
      .filter((field) => {
        if (field.value !== '' || field.offsetParent === null) return false;
        const style = getComputedStyle(field);
        context.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
        const room = field.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
        return field.tagName === 'INPUT' && context.measureText(field.placeholder).width > room + 1;
      })
      .map((field) => field.placeholder);
  });
}

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

/**
 * Short hashes (hex digits cut with an ellipsis, as `shortHex` writes them) broken over two lines:
 * a value made short to be read at a glance must not wrap ("16fdc1982882ea8" over "7…").
 */
async function shortHashesBroken(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const broken: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of (node.textContent ?? '').matchAll(/[0-9a-f]{6,}…/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lineTops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
        if (lineTops.size > 1) broken.push(m[0]);
      }
    }
    return broken;
  });
}

/** The page at `widthPx`, its lists loaded: no wider than the window, no text spilled, no placeholder cut, no short hash broken. */
async function assertFits(page: Page, path: string, where: string, widthPx: number): Promise<void> {
  if (path === '/admin') await page.getByTestId('node-info').waitFor();
  if (TABLES_AT.has(path)) await page.locator('.ml-table-scroll tbody tr').first().waitFor();
  const { scrollWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth }));
  assert.ok(scrollWidth <= widthPx, `${where}: the page is ${scrollWidth} px wide`);
  assert.deepEqual(await textSpilled(page), [], where);
  assert.deepEqual(await placeholdersCut(page), [], `${where}: placeholders cut`);
  assert.deepEqual(await shortHashesBroken(page), [], `${where}: short hashes broken over two lines`);
}

export function layoutTests(tb: () => ConsoleTestbed): void {
  describe('layout at a desktop, a tablet and a phone, and the keyboard', () => {
    it('every page fits 768 px without sideways scrolling', async () => {
      await eachPage(tb, { width: 768, height: 1024 }, async (page, path, where) => {
        await assertFits(page, path, where, 768);
        // A badge in a table (a sensitivity, an outcome, a status) is never cut to "RESTRI…".
        const cut = await page.evaluate(() =>
          [...document.querySelectorAll('td .mantine-Badge-label')].filter((el) => el.scrollWidth > el.clientWidth + 1).map((el) => el.textContent ?? ''),
        );
        assert.deepEqual(cut, [], `${where}: badges cut`);
      });
    });

    it('every page fits a small laptop (1024 px, the menu beside the page): nothing scrolls sideways, no placeholder cut', async () => {
      await eachPage(tb, { width: 1024, height: 768 }, async (page, path, where) => {
        await assertFits(page, path, where, 1024);
      });
    });

    it('every page fits a phone (390 px): nothing scrolls sideways, no text spills, every option of a choice is in sight', async () => {
      await eachPage(tb, { width: 390, height: 900 }, async (page, path, where) => {
        await assertFits(page, path, where, 390);
        assert.deepEqual(await optionsCut(page), [], `${where}: options of a choice cut`);
        // A chart's legend wraps onto several lines on a phone: the chart grows, so its plot is not a strip.
        const chartHeights = await page.locator('.ml-chart').evaluateAll((charts) => charts.map((c) => c.getBoundingClientRect().height));
        assert.ok(
          chartHeights.every((h) => h >= 260),
          `${where}: charts ${JSON.stringify(chartHeights)} px tall`,
        );
      });
    });

    it("a choice whose options do not fit side by side lists them one under another (a supervisor's provenance, a new record's content kind on a phone)", async () => {
      const page = await tb().signIn('Hospital1', 'supervisor1');
      await page.setViewportSize({ width: 390, height: 900 });
      await page.goto(`${tb().url('Hospital1')}/provenance`);
      const kinds = page.getByRole('radiogroup', { name: 'Timeline of' });
      await kinds.waitFor();
      assert.deepEqual(await optionsCut(page), [], 'the timeline kinds at 390 px');
      const tops = async (): Promise<number[]> =>
        kinds.locator('.mantine-SegmentedControl-label').evaluateAll((labels) => labels.map((l) => Math.round(l.getBoundingClientRect().top)));
      assert.equal(new Set(await tops()).size, 4, `one option a line: ${JSON.stringify(await tops())}`);
      // The last option, out of reach side by side, is chosen and does its work.
      await kinds.getByText('My organisation').click();
      await page.getByRole('button', { name: 'Show timeline' }).click();
      await page.getByRole('region', { name: 'Timeline' }).locator('tbody tr').first().waitFor();
      await tb().checkA11y(page, 'provenance on a phone');
      // A desktop: side by side again.
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.waitForFunction(() => document.querySelector('.mantine-SegmentedControl-root[data-orientation="horizontal"]') !== null);
      assert.equal(new Set(await tops()).size, 1, `side by side at 1280 px: ${JSON.stringify(await tops())}`);
      // A doctor's new record from a phone: its content kind (FHIR JSON or a file) whole in the dialog.
      const doctor = await tb().signIn('Hospital1', 'doctor1');
      await doctor.setViewportSize({ width: 390, height: 900 });
      await doctor.goto(`${tb().url('Hospital1')}/records`);
      await doctor
        .getByRole('link', { name: /^Records of patient / })
        .first()
        .click();
      await doctor.getByRole('button', { name: 'New record' }).click();
      await doctor.getByRole('radiogroup', { name: 'Content kind' }).waitFor();
      assert.deepEqual(await optionsCut(doctor), [], 'the content kind at 390 px');
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
        assert.equal(await page.locator('.ml-table-frame[data-stacked]').count(), 0, `${where}: a list shown as cards on a desktop`);
        assert.deepEqual(await placeholdersCut(page), [], `${where}: placeholders cut`);
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

    it('a list too wide for its region shows each row as a card of headings and values: a phone, a tablet; a desktop keeps the table', async () => {
      const page = await tb().signIn('Hospital2', 'doctor1');
      /** Each card's lines as "heading: value", read as the eye sees them (the heading is CSS). */
      const cards = (region: Locator): Promise<string[][]> =>
        region.locator('tbody tr').evaluateAll((rows) =>
          rows.map((tr) =>
            [...tr.querySelectorAll('td')].map((td) => {
              const heading = getComputedStyle(td, '::before').content;
              return `${heading === 'none' ? '' : heading.split(' / ')[0]!.replace(/^"|"$/g, '')}: ${(td.textContent ?? '').trim()}`;
            }),
          ),
        );
      const stacked = (region: Locator): Promise<boolean> => page.locator('.ml-table-frame', { has: region }).evaluate((el) => el.hasAttribute('data-stacked'));

      // A phone: the data market's catalogue (eight columns, its Apply buttons last).
      await page.setViewportSize({ width: 390, height: 900 });
      await page.goto(`${tb().url('Hospital2')}/market`);
      const datasets = page.getByRole('region', { name: 'Datasets' });
      await datasets.locator('tbody tr').first().waitFor();
      await page.waitForFunction(() => document.querySelector('.ml-table-frame[data-stacked]') !== null);
      const dims = await datasets.evaluate((el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
      assert.ok(dims.scrollWidth <= dims.clientWidth + 1, `the catalogue's cards are ${dims.scrollWidth} px wide in ${dims.clientWidth}`);
      const market = await cards(datasets);
      assert.ok(market.length >= 5, `${market.length} dataset cards`);
      const hospital1 = market.find((c) => c[1] === 'Owner: Hospital1');
      assert.ok(hospital1, JSON.stringify(market));
      assert.deepEqual(
        hospital1.map((line) => line.split(':')[0]),
        ['Dataset', 'Owner', 'Columns', 'Rows', 'Version', 'Listing', 'You', ''],
        "each value under its column's heading; the buttons' column has none",
      );
      assert.ok(hospital1.includes('Rows: 22'), JSON.stringify(hospital1));
      // A card reads as a short form: its values start in one column, just after its longest
      // heading (not a fixed share of the card, which cut values short on a phone), and its first
      // line — what the row is — heads the card, set off from the lines under it.
      const forms = await datasets.locator('tbody tr').evaluateAll((rows) => {
        const context = document.createElement('canvas').getContext('2d')!;
        return rows.map((tr) => {
          const lines = [...tr.querySelectorAll('td')].filter((td) => td.dataset['label'] !== '');
          const headingPx = Math.max(
            ...lines.map((td) => {
              const before = getComputedStyle(td, '::before');
              context.font = `${before.fontWeight} ${before.fontSize} ${before.fontFamily}`;
              return context.measureText(td.dataset['label'] ?? '').width;
            }),
          );
          const valueLefts = lines.map((td) => {
            const range = document.createRange();
            range.selectNodeContents(td);
            return Math.round(range.getClientRects()[0]!.left - td.getBoundingClientRect().left - parseFloat(getComputedStyle(td).paddingLeft));
          });
          const first = getComputedStyle(lines[0]!);
          return {
            headingPx,
            gapPx: parseFloat(getComputedStyle(tr).columnGap),
            valueLefts,
            title: first.borderBottomStyle === 'solid' && Number(first.fontWeight) >= 600,
          };
        });
      });
      for (const form of forms) {
        assert.equal(new Set(form.valueLefts).size, 1, `the values of a card in one column: ${JSON.stringify(form)}`);
        assert.ok(Math.abs(form.valueLefts[0]! - (form.headingPx + form.gapPx)) <= 2, `the values just after the longest heading: ${JSON.stringify(form)}`);
        assert.ok(form.title, `a card's first line heads it: ${JSON.stringify(form)}`);
      }
      // Every Apply button in sight, inside its card, without scrolling.
      const view = await datasets.boundingBox();
      for (const apply of await datasets.getByRole('button', { name: 'Apply' }).all()) {
        const box = await apply.boundingBox();
        assert.ok(
          box && view && box.x >= view.x && box.x + box.width <= view.x + view.width,
          `an Apply button at ${JSON.stringify(box)} in ${JSON.stringify(view)}`,
        );
      }
      assert.equal(await page.locator('.ml-table-more').count(), 0, 'no "more columns" line');
      // Nothing to scroll: the region is no Tab stop.
      assert.equal(await datasets.getAttribute('tabindex'), null, 'a Tab stop with nothing to scroll');
      // A screen reader still meets a table: its column headings name each cell.
      const headers = await datasets.getByRole('columnheader').allTextContents();
      assert.deepEqual(headers.slice(0, 3), ['Dataset', 'Owner', 'Columns']);
      assert.equal(await datasets.getByRole('row').count(), market.length + 1);
      await tb().checkA11y(page, 'a list as cards on a phone');
      await tb().screenshot(page, 'data-market-phone');

      // A desktop: the same list is a table again, its headings row in sight.
      await page.setViewportSize({ width: 1280, height: 800 });
      await page.waitForFunction(() => document.querySelector('.ml-table-frame[data-stacked]') === null);
      assert.equal(await datasets.locator('thead').evaluate((el) => getComputedStyle(el).display), 'table-header-group');
      assert.equal(
        await datasets
          .locator('tbody tr')
          .first()
          .evaluate((el) => getComputedStyle(el).display),
        'table-row',
      );

      // A tablet: the network's ten columns do not fit 768 px; each node's card shows its Config.
      await page.setViewportSize({ width: 768, height: 1024 });
      await page.goto(`${tb().url('Hospital2')}/network`);
      const nodes = page.getByRole('region', { name: 'Nodes table' });
      await nodes.locator('tbody tr').first().waitFor();
      await page.waitForFunction(() => document.querySelector('.ml-table-frame[data-stacked]') !== null);
      assert.equal(await stacked(nodes), true);
      const network = await cards(nodes);
      assert.equal(network.length, 5);
      for (const card of network) assert.match(card.at(-1)!, /^Config: seq \d+/, JSON.stringify(card));
      const config = nodes.locator('tbody tr').first().locator('td').last();
      const [box, region] = [await config.boundingBox(), await nodes.boundingBox()];
      assert.ok(box && region && box.x + box.width <= region.x + region.width, 'the Config line in sight');
      // Side by side where the width allows: two cards a row at a tablet's width.
      const tops = await nodes.locator('tbody tr').evaluateAll((rows) => rows.map((tr) => Math.round(tr.getBoundingClientRect().top)));
      assert.equal(tops[0], tops[1], `the first two cards side by side: ${JSON.stringify(tops)}`);
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
      await page.getByRole('link', { name: 'Data market' }).press('Enter');
      await page.getByRole('heading', { name: 'Data market', level: 2 }).waitFor();
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
