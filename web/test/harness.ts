// Browser tests of the web console: real Chromium (Debian's, driven by playwright-core) against a
// real consortium — five hospitals in this process over mTLS with Raft, each node serving the
// console on its loopback listener, seeded with the `npm start` demo data. Users sign in through
// the file picker with their own certificate and key, as a person would; results are asserted on
// the ledger through the SDK, not only on the screen. Every page gets an axe-core check, and any
// Content-Security-Policy violation the browser reports fails the run.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { CONSOLE_DIST_DIR, ensureConsoleBuilt, REPO_DIR } from '../../src/cli/console-build.ts';
import { demoOrgs, seedDemo, type SeedResult } from '../../src/cli/demo.ts';
import type { EngineName } from '../../src/node/init.ts';
import { startRecordsNetwork, type RecordsNetwork } from '../../src/testing/records-network.ts';
import { connectAs, type HealthClient } from '../../src/sdk/health.ts';

export const CHROMIUM_PATH = process.env.MEDLEDGER_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT_DIR = join(REPO_DIR, 'docs', 'console');
const require = createRequire(import.meta.url);

export interface ConsoleTestbed {
  readonly net: RecordsNetwork;
  /** The demo data (null when the testbed was started without it). */
  readonly seeded: SeedResult | null;
  readonly browser: Browser;
  /** Content-Security-Policy violations and page errors seen in any page so far. */
  readonly problems: string[];
  url(org: string): string;
  /** A fresh browser context (own storage) at `org`'s console, signed in as `user` of `userOrg` through the file picker. */
  signIn(org: string, user: string, userOrg?: string): Promise<Page>;
  /** A fresh page at `org`'s console, signed out. */
  open(org: string): Promise<Page>;
  /** The SDK as `org/user`, through `org`'s own node: to assert on the ledger. */
  sdk(org: string, user: string): HealthClient;
  /** axe-core on the current page: no serious or critical violation. */
  checkA11y(page: Page, label: string): Promise<void>;
  /** Save docs/console/<name>.png when MEDLEDGER_SCREENSHOTS=1 (how the committed screenshots are made). */
  screenshot(page: Page, name: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Wait for `locator`; on a timeout, fail with what the page showed instead (its visible text and
 * alerts), so a failure in CI says why rather than only what was missing.
 */
export async function waitOrExplain(page: Page, locator: Locator, timeoutMs = 30_000): Promise<void> {
  try {
    await locator.waitFor({ timeout: timeoutMs });
  } catch (err) {
    const shown = await page
      .locator('main')
      .innerText({ timeout: 2_000 })
      .catch((e: unknown) => `(page text unavailable: ${(e as Error).message})`);
    throw new Error(`${(err as Error).message}\n--- the page showed (${page.url()}):\n${shown.slice(0, 3_000)}`);
  }
}

/**
 * Assert that what `locator` names is brought into sight (within a few seconds: the console
 * scrolls in the frame after it lays an outcome out): its top below the page's header — or, in a
 * dialog, below the dialog's title bar — and a quarter of the view, or all of it if shorter (with
 * `whole`: all of it), above the bottom of the view.
 */
export async function assertInSight(page: Page, locator: Locator, what: string, whole = false): Promise<void> {
  const element = await locator.elementHandle();
  assert.ok(element, `${what}: on the page`);
  const deadline = Date.now() + 5_000;
  for (;;) {
    const v = await element.evaluate((el) => {
      const dialog = el.closest('.mantine-Modal-content');
      const frame = dialog?.getBoundingClientRect();
      const box = el.getBoundingClientRect();
      return {
        viewTop: dialog
          ? (dialog.querySelector('.mantine-Modal-header')?.getBoundingClientRect().bottom ?? frame!.top)
          : (document.querySelector('header')?.getBoundingClientRect().bottom ?? 0),
        viewBottom: frame ? Math.min(frame.bottom, innerHeight) : innerHeight,
        top: box.top,
        bottom: box.bottom,
      };
    });
    const shown = whole ? v.bottom - v.top : Math.min(v.bottom - v.top, (v.viewBottom - v.viewTop) / 4);
    if (v.top >= v.viewTop - 1 && v.top + shown <= v.viewBottom + 1) return;
    if (Date.now() > deadline) {
      assert.fail(
        `${what} is not in sight: it spans ${Math.round(v.top)}–${Math.round(v.bottom)} px, the view ${Math.round(v.viewTop)}–${Math.round(v.viewBottom)} px`,
      );
    }
    await page.waitForTimeout(100);
  }
}

/**
 * Wait until Mantine's transitions are over: no menu dropdown on screen (a closing one is an
 * empty `role="menu"`) and every open dialog fully opaque (a fading one fails contrast checks).
 * Call before checkA11y after opening or closing a menu or a modal.
 */
export async function transitionsDone(page: Page): Promise<void> {
  await page.waitForFunction(
    () =>
      document.querySelectorAll('.mantine-Menu-dropdown').length === 0 &&
      [...document.querySelectorAll('.mantine-Modal-content')].every((e) => getComputedStyle(e).opacity === '1'),
  );
}

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** The default: the `npm start` consortium (five hospitals, Raft) with its demo data. */
export interface TestbedOptions {
  readonly orgs?: number;
  readonly engine?: EngineName;
  readonly engineOptions?: Readonly<Record<string, unknown>>;
  /** Seed the `npm start` demo data (default true; it expects the five demo hospitals). */
  readonly demoData?: boolean;
}

export async function startTestbed(options: TestbedOptions = {}): Promise<ConsoleTestbed> {
  await ensureConsoleBuilt();
  const orgs = demoOrgs();
  const net = await startRecordsNetwork({
    orgs: options.orgs ?? orgs.length,
    api: true,
    recordServedReads: true,
    enrolment: true,
    console: { assetsDir: CONSOLE_DIST_DIR, demoUsers: true },
    ...(options.engine ? { engine: options.engine } : {}),
    ...(options.engineOptions ? { engineOptions: options.engineOptions } : {}),
  });
  const clients: HealthClient[] = [];
  const contexts: BrowserContext[] = [];
  let browser: Browser | null = null;
  try {
    const seeded = options.demoData === false ? null : await seedDemo(net.dir, orgs, () => undefined);
    browser = await chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-gpu',
        '--disable-dev-shm-usage',
      ],
    });
    const b = browser;
    const problems: string[] = [];
    const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
    const url = (org: string): string => {
      const u = net.consoleUrls.get(org);
      if (!u) throw new Error(`no console for ${org}`);
      return u;
    };
    const open = async (org: string): Promise<Page> => {
      const context = await b.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
      contexts.push(context);
      const page = await context.newPage();
      page.on('console', (m) => {
        if (/Content.Security.Policy|Refused to (apply|load|execute)/i.test(m.text())) problems.push(`${page.url()}: ${m.text()}`);
        // A file of the console itself that did not load (a missing asset, the tab's icon); the
        // API's refusals (/v1/…, 403 on a denied read) are answers the pages show, not problems.
        const from = m.location().url;
        if (/Failed to load resource/i.test(m.text()) && !new URL(from, page.url()).pathname.startsWith('/v1/'))
          problems.push(`${page.url()}: ${m.text()}: ${from}`);
      });
      page.on('pageerror', (e) => problems.push(`${page.url()}: page error: ${e.message}`));
      await page.goto(url(org));
      return page;
    };
    const testbed: ConsoleTestbed = {
      net,
      seeded,
      browser: b,
      problems,
      url,
      open,
      async signIn(org, user, userOrg = org) {
        const page = await open(org);
        const dir = join(net.dir, 'crypto', userOrg, user);
        await page.getByTestId('credential-files').setInputFiles([join(dir, 'cert.pem'), join(dir, 'key.pem')]);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        // Patients' on-chain id is their pseudonym (decision 0906), not the login name.
        await page
          .getByTestId('whoami')
          .filter({ hasText: `${userOrg}/` })
          .waitFor({ timeout: 30_000 });
        return page;
      },
      sdk(org, user) {
        const c = connectAs(net.dir, org, user, net.apis.get(org)!.url);
        clients.push(c);
        return c;
      },
      async checkA11y(page, label) {
        // Evaluated through the DevTools protocol, which the page's CSP does not govern (no
        // inline script is ever needed by the console itself).
        await page.evaluate(axeSource);
        const result = await page.evaluate(async () => {
          const axe = (
            globalThis as unknown as {
              axe: {
                run(
                  ctx: unknown,
                  opts: unknown,
                ): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown }> }> }>;
              };
            }
          ).axe;
          const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
          return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
        });
        const bad = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
        assert.deepEqual(
          bad,
          [],
          `${label}: accessibility violations:\n${bad.map((v) => `  ${v.impact} ${v.id}: ${v.help} at ${v.targets.join(', ')}`).join('\n')}`,
        );
      },
      async screenshot(page, name) {
        if (process.env.MEDLEDGER_SCREENSHOTS !== '1') return;
        mkdirSync(SCREENSHOT_DIR, { recursive: true });
        await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: false });
      },
      async stop() {
        for (const c of clients) c.close();
        for (const c of contexts) await c.close().catch(() => undefined);
        await b.close().catch(() => undefined);
        await net.stop();
      },
    };
    return testbed;
  } catch (err) {
    for (const c of clients) c.close();
    await browser?.close().catch(() => undefined);
    await net.stop();
    throw err;
  }
}

/**
 * Text that spills out of its box over its neighbour's (a node id and a hash in a grid of four too
 * narrow did): every block under `selector` whose overflow shows must have room for its content.
 * Tables scroll in their own region and are left out.
 */
export async function textSpilled(page: Page, selector = 'body'): Promise<string[]> {
  return page.evaluate(
    (root) =>
      [...document.querySelectorAll(`${root} *`)]
        .filter((el) => {
          const style = getComputedStyle(el);
          return (
            style.overflowX === 'visible' &&
            style.display !== 'inline' &&
            el.closest('table') === null &&
            // Text only: an icon a few pixels wider than its box (a number field's chevrons) is not.
            (el.textContent ?? '').trim() !== '' &&
            el.clientWidth > 0 &&
            el.scrollWidth > el.clientWidth + 1
          );
        })
        .map((el) => `${el.scrollWidth} px of content in ${el.clientWidth}: "${(el.textContent ?? '').slice(0, 60)}"`),
    selector,
  );
}
