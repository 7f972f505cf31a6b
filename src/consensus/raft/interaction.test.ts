// Runs every scenario script in testdata/ (datadriven style). Set RAFT_REWRITE=1 to rewrite the
// expected outputs from the actual ones (then review the diff!).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runScript, runScriptFile } from './interaction.testkit.ts';

const dir = join(import.meta.dirname, 'testdata');
const rewrite = process.env.RAFT_REWRITE === '1';

describe('raft scenario scripts', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const r = runScriptFile(join(dir, file), rewrite);
      if (rewrite) return;
      const first = r.mismatches[0];
      if (first) {
        assert.fail(`${file}:${first.line} ${first.command}\n--- expected\n${first.expected}\n--- actual\n${first.actual}\n(${r.mismatches.length} mismatching blocks; RAFT_REWRITE=1 rewrites)`);
      }
    });
  }

  it('the interpreter reports a wrong expectation (the scripts can fail)', () => {
    const r = runScript('add-nodes 3\n----\nadded 1 2 3\n\ncampaign 1\n----\nnot what happens\n');
    assert.equal(r.mismatches.length, 1);
    assert.equal(r.mismatches[0]!.command, 'campaign 1');
  });
});
