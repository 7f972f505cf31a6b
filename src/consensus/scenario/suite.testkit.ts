// Registers one node:test test per script in an engine's testdata/ folder. SCENARIO_REWRITE=1
// (or RAFT_REWRITE=1, its older name) rewrites the expected outputs from the actual ones — then
// review the diff: it is the change in the engine's message flow.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { EngineScenario } from './command.testkit.ts';
import { runScript, runScriptFile } from './interpreter.testkit.ts';

export function scenarioSuite(title: string, dir: string, scenario: EngineScenario): void {
  const rewrite = process.env.SCENARIO_REWRITE === '1' || process.env.RAFT_REWRITE === '1';
  void describe(title, () => {
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.txt'))
      .sort();
    void it('has scripts', () => assert.ok(files.length > 0, `no scripts in ${dir}`));
    for (const file of files) {
      void it(file, () => {
        const r = runScriptFile(join(dir, file), scenario, rewrite);
        if (rewrite) return;
        const first = r.mismatches[0];
        if (first) {
          assert.fail(
            `${file}:${first.line} ${first.command}\n--- expected\n${first.expected}\n--- actual\n${first.actual}\n(${r.mismatches.length} mismatching blocks; SCENARIO_REWRITE=1 rewrites)`,
          );
        }
      });
    }
    void it('reports a wrong expectation (the scripts can fail)', () => {
      const r = runScript('add-nodes 4\n----\nadded 1 2 3 4\n\nstate 1\n----\nnot what happens\n', scenario);
      assert.equal(r.mismatches.length, 1);
      assert.equal(r.mismatches[0]!.command, 'state 1');
    });
  });
}
