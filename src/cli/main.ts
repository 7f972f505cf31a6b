// The `medledger` command. Each subcommand lives in ./commands/<name>.ts and exports
// `register(program, ctx)`; commands set ctx.exitCode rather than exiting the process.
import { Command, CommanderError } from 'commander';
import { CliError } from './output.ts';
import type { CommandContext } from './context.ts';

const COMMAND_MODULES: ReadonlyArray<() => Promise<{ register(program: Command, ctx: CommandContext): void }>> = [
  // One line per command module (keep sorted).
  () => import('./commands/lab.ts'),
  () => import('./commands/dev.ts'),
  () => import('./commands/ledger.ts'),
  () => import('./commands/network.ts'),
  () => import('./commands/sim.ts'),
  () => import('./commands/tx.ts'),
  () => import('./commands/block.ts'),
  () => import('./commands/status.ts'),
  () => import('./commands/bench.ts'),
  () => import('./commands/record.ts'),
  () => import('./commands/consent.ts'),
  () => import('./commands/access.ts'),
  () => import('./commands/audit.ts'),
  () => import('./commands/dataset.ts'),
  () => import('./commands/stats.ts'),
  () => import('./commands/org.ts'),
  () => import('./commands/user.ts'),
  () => import('./commands/whoami.ts'),
];

export async function main(argv: readonly string[]): Promise<number> {
  const ctx: CommandContext = { exitCode: 0 };
  const program = new Command();
  program
    .name('medledger')
    .description('MedLedger: a permissioned blockchain for sharing health records across a hospital consortium')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // Subcommand options such as `record get --version <n>` must reach the subcommand: without
    // positional options commander consumes the program's own --version anywhere on the line.
    .enablePositionalOptions()
    .exitOverride();
  for (const load of COMMAND_MODULES) (await load()).register(program, ctx);
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help / --version end with a "zero" CommanderError.
      return err.exitCode;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  return ctx.exitCode;
}
