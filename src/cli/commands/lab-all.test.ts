import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstDifference, runLabAll, LAB_REPORTS } from './lab-all.ts';

describe('lab all: the check names the stale figure', () => {
  it('names the first differing line of a markdown file, and the column of a CSV', () => {
    assert.equal(firstDifference('a.md', 'x\ny\n', 'x\ny\n'), null);
    const md = firstDifference('a.md', 'x\ny\nz\n', 'x\nY\nz\n')!;
    assert.equal(md.line, 2);
    assert.match(md.message, /line 2\n {4}committed: y\n {4}computed: {2}Y/);
    const csv = firstDifference('c.csv', 'engine,nodes,total\npbft,16,480\n', 'engine,nodes,total\npbft,16,481\n')!;
    assert.match(csv.message, /line 2, column total \(row pbft,16,480\): committed 480, computed 481/);
    assert.match(firstDifference('b.md', null, 'x')!.message, /missing/);
    assert.match(firstDifference('b.md', 'x', 'x\nmore')!.message, /committed: \(end of file\)/);
  });

  it('ignores a "Generated …" line explicitly, nothing else', () => {
    assert.equal(firstDifference('a.md', '# t\nGenerated 2026-01-01 on a\nx\n', '# t\nGenerated 2027-02-02 on b\nx\n'), null);
    assert.notEqual(firstDifference('a.md', '# t\nx\n', '# t\n x\n'), null);
  });

  it('refuses an unknown report name (usage error)', async () => {
    await assert.rejects(
      runLabAll(
        { only: 'nope', check: true, quick: true },
        () => {},
        () => {},
      ),
      /--only: "nope" is not a lab report/,
    );
  });
});

describe('lab all --quick --check (what CI runs)', () => {
  it(`every quick report in docs/results/quick matches what the code computes now (${LAB_REPORTS.length} reports)`, async () => {
    const out: string[] = [];
    const err: string[] = [];
    const { code, result } = await runLabAll(
      { check: true, quick: true },
      (s) => out.push(s),
      (s) => err.push(s),
    );
    assert.equal(code, 0, `${out.join('')}\n(regenerate: node bin/medledger.js lab all --quick, review and commit docs/results/quick)`);
    assert.deepEqual(
      result.reports.map((r) => r.name),
      LAB_REPORTS.map((r) => r.name),
    );
    assert.ok(
      err.some((l) => /\[1\/\d+\] complexity/.test(l)),
      'progress lines on stderr',
    );
  });
});
