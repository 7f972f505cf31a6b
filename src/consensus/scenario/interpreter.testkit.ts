// Scenario scripts in the style of etcd's raft interaction tests (datadriven): each block is a
// command, `----`, and the expected output up to a blank line; `#` lines are comments. The same
// interpreter runs every engine: the commands below plus the engine's own (EngineScenario).
import { readFileSync, writeFileSync } from 'node:fs';
import { ScenarioCluster } from './cluster.testkit.ts';
import type { Args, Command, EngineScenario, ScenarioEnv } from './command.testkit.ts';
import { addNodes } from './commands/add-nodes.testkit.ts';
import { byzantine } from './commands/byzantine.testkit.ts';
import { checkAgreement } from './commands/check-agreement.testkit.ts';
import { crash } from './commands/crash.testkit.ts';
import { decided } from './commands/decided.testkit.ts';
import { deliverMsgs } from './commands/deliver-msgs.testkit.ts';
import { dropMsgs } from './commands/drop-msgs.testkit.ts';
import { heal } from './commands/heal.testkit.ts';
import { partition } from './commands/partition.testkit.ts';
import { pendingMsgs } from './commands/pending-msgs.testkit.ts';
import { processReady } from './commands/process-ready.testkit.ts';
import { propose } from './commands/propose.testkit.ts';
import { restart } from './commands/restart.testkit.ts';
import { run } from './commands/run.testkit.ts';
import { stabilize } from './commands/stabilize.testkit.ts';
import { state } from './commands/state.testkit.ts';
import { tick } from './commands/tick.testkit.ts';

export const COMMON_COMMANDS: readonly Command[] = [
  addNodes,
  propose,
  tick,
  run,
  processReady,
  deliverMsgs,
  dropMsgs,
  pendingMsgs,
  stabilize,
  partition,
  heal,
  crash,
  restart,
  state,
  decided,
  checkAgreement,
  byzantine,
];

export class ScenarioInterpreter {
  readonly env: ScenarioEnv;
  private readonly commands = new Map<string, Command>();

  constructor(scenario: EngineScenario) {
    const cluster = new ScenarioCluster(scenario.engine, {
      certificateRequired: (node) => scenario.certificateRequired?.(node) ?? true,
    });
    this.env = { cluster, scenario };
    for (const c of [...COMMON_COMMANDS, ...(scenario.commands ?? [])]) {
      if (this.commands.has(c.name)) throw new Error(`scenario command "${c.name}" defined twice`);
      this.commands.set(c.name, c);
    }
  }

  run(line: string): string[] {
    const words = line.trim().split(/\s+/);
    const command = words.shift()!;
    const positional: string[] = [];
    const kv = new Map<string, string>();
    for (const w of words) {
      const eq = w.indexOf('=');
      if (eq > 0) kv.set(w.slice(0, eq), w.slice(eq + 1));
      else positional.push(w);
    }
    const handler = this.commands.get(command);
    if (!handler) throw new Error(`unknown command "${command}" (known: ${[...this.commands.keys()].sort().join(', ')})`);
    const args: Args = { command, positional, kv };
    return handler.run(this.env, args);
  }
}

export interface ScriptMismatch {
  readonly line: number;
  readonly command: string;
  readonly expected: string;
  readonly actual: string;
}

export interface ScriptResult {
  readonly mismatches: readonly ScriptMismatch[];
  /** The script with the actual outputs filled in. */
  readonly rewritten: string;
}

/** Run a script; returns the mismatches and the script text with actual outputs filled in. */
export function runScript(text: string, scenario: EngineScenario): ScriptResult {
  const lines = text.split('\n');
  const out: string[] = [];
  const mismatches: ScriptMismatch[] = [];
  const interpreter = new ScenarioInterpreter(scenario);
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.trim() === '' || line.startsWith('#')) {
      out.push(line);
      i += 1;
      continue;
    }
    const command = line;
    const lineNo = i + 1;
    if (lines[i + 1] !== '----') throw new Error(`line ${lineNo + 1}: expected "----" after command "${command}"`);
    i += 2;
    const expected: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') expected.push(lines[i++]!);
    let actual: string[];
    try {
      actual = interpreter.run(command);
    } catch (err) {
      actual = [`error: ${(err as Error).message}`];
    }
    if (actual.length === 0) actual = ['ok'];
    if (actual.join('\n') !== expected.join('\n')) {
      mismatches.push({ line: lineNo, command, expected: expected.join('\n'), actual: actual.join('\n') });
    }
    out.push(command, '----', ...actual);
  }
  return { mismatches, rewritten: out.join('\n') };
}

export function runScriptFile(path: string, scenario: EngineScenario, rewrite: boolean): ScriptResult {
  const text = readFileSync(path, 'utf8');
  const result = runScript(text, scenario);
  if (rewrite && result.rewritten !== text) writeFileSync(path, result.rewritten);
  return result;
}
