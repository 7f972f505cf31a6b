// The web console in real Chromium against a real five-hospital consortium (harness.ts). Each
// page's tests live in pages/<page>.ts and share one consortium and one browser.
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import { chromiumAvailable, CHROMIUM_PATH, startTestbed, type ConsoleTestbed } from './harness.ts';
import { adminTests } from './pages/admin.ts';
import { blocksTests } from './pages/blocks.ts';
import { datasetTests } from './pages/datasets.ts';
import { labTests } from './pages/lab.ts';
import { layoutTests } from './pages/layout.ts';
import { marketTests } from './pages/market.ts';
import { myDataTests } from './pages/mydata.ts';
import { networkTests } from './pages/network.ts';
import { peopleTests } from './pages/people.ts';
import { provenanceTests } from './pages/provenance.ts';
import { recordsTests } from './pages/records.ts';
import { shellTests } from './pages/shell.ts';

process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

// CI installs Debian's chromium (.ci/run); elsewhere a missing browser skips with a reason.
const skip =
  !chromiumAvailable() && process.env.CI !== 'true' ? `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set MEDLEDGER_CHROMIUM)` : false;

describe('web console in Chromium (5 hospitals, demo data)', { skip, timeout: 900_000 }, () => {
  let tb: ConsoleTestbed | null = null;
  const testbed = (): ConsoleTestbed => {
    if (!tb) throw new Error('testbed not started');
    return tb;
  };
  before(async () => {
    tb = await startTestbed();
  });
  after(async () => {
    const problems = tb?.problems ?? [];
    await tb?.stop();
    // Any CSP violation, uncaught page error or console file that failed to load (a missing asset,
    // the tab icon) anywhere in the run fails it.
    assert.deepEqual(problems, [], `the browser reported:\n${problems.join('\n')}`);
  });

  // MEDLEDGER_CONSOLE_SUITES=records,blocks runs only those suites (the shell's sign-in always
  // runs): the inner loop while building one page. CI runs them all.
  const only = (process.env.MEDLEDGER_CONSOLE_SUITES ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const suites: ReadonlyArray<readonly [string, (tb: () => ConsoleTestbed) => void]> = [
    ['network', networkTests],
    ['blocks', blocksTests],
    ['records', recordsTests],
    ['mydata', myDataTests],
    ['market', marketTests],
    ['datasets', datasetTests],
    ['people', peopleTests],
    ['provenance', provenanceTests],
    ['lab', labTests],
    ['layout', layoutTests],
    // Last: it changes the membership (adds a sixth hospital, whose node never starts).
    ['admin', adminTests],
  ];
  shellTests(testbed);
  for (const [name, suite] of suites) if (only.length === 0 || only.includes(name)) suite(testbed);
});
