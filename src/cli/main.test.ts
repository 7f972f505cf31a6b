// main.ts imports only the module of the command being run (decision 1700); `medledger --help`
// lists the commands from its own table. That table must say what the modules register.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { COMMAND_MODULES } from './main.ts';
import { runCli } from './testkit.ts';

describe('medledger main: one command module per run', () => {
  it('the command table names exactly the top-level commands each module registers, with their descriptions', async () => {
    for (const m of COMMAND_MODULES) {
      const program = new Command();
      (await m.load()).register(program, { exitCode: 0 });
      assert.deepEqual(Object.fromEntries(program.commands.map((c) => [c.name(), c.description()])), m.commands);
    }
    const names = COMMAND_MODULES.flatMap((m) => Object.keys(m.commands));
    assert.equal(new Set(names).size, names.length, 'no command in two modules');
  });

  it('--help lists every command; an unknown command is refused with a suggestion; help <cmd> shows that command', async () => {
    const help = await runCli(['--help']);
    assert.equal(help.code, 0);
    for (const m of COMMAND_MODULES) for (const name of Object.keys(m.commands)) assert.match(help.out, new RegExp(`^ {2}${name}\\b`, 'm'));
    const typo = await runCli(['recrod', 'list']);
    assert.equal(typo.code, 1);
    assert.match(typo.err, /unknown command 'recrod'[\s\S]*Did you mean record\?/);
    const sub = await runCli(['help', 'whoami']);
    assert.equal(sub.code, 0);
    assert.match(sub.out, /Usage: medledger whoami \[options\]/);
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.out, /^\d+\.\d+\.\d+\n$/);
  });
});
