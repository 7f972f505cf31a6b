// The `medledger` command. Each subcommand lives in ./commands/<name>.ts and exports
// `register(program, ctx)`; commands set ctx.exitCode rather than exiting the process.
import { Command, CommanderError } from 'commander';
import { CliError } from './output.ts';
import type { CommandContext } from './context.ts';

export interface CommandModule {
  register(program: Command, ctx: CommandContext): void;
}

/**
 * Every command module, with the top-level commands it registers and their one-line descriptions.
 * Only the module of the command being run is imported (decision 1700): importing all of them
 * pulled the node, the API server, fastify, the SDK and the crypto stack through tsx for every
 * `medledger --help`, 2–3 s. The descriptions here are what `medledger --help` lists without
 * importing anything; main.test.ts checks they are the ones the modules register.
 */
export const COMMAND_MODULES: ReadonlyArray<{ readonly commands: Readonly<Record<string, string>>; readonly load: () => Promise<CommandModule> }> = [
  {
    commands: { lab: "Reproduce the source papers' claims: communication complexity, attack probability, engine comparison" },
    load: () => import('./commands/lab.ts'),
  },
  {
    commands: { dev: 'Run the transaction lifecycle (endorse → order → validate → commit) with N hospitals in one process' },
    load: () => import('./commands/dev.ts'),
  },
  { commands: { ledger: "Inspect and audit a node's ledger" }, load: () => import('./commands/ledger.ts') },
  {
    commands: {
      init: 'Generate a consortium: root CA (CAMS), hospital CAs, node and demo user certificates, genesis block, node.yaml per hospital',
      node: 'Run a MedLedger node, or test its connections to the others (node check)',
      up: 'Start a whole local consortium: one node process per hospital on loopback ports',
      down: 'Stop the nodes of a local consortium started with medledger up',
    },
    load: () => import('./commands/network.ts'),
  },
  {
    commands: { sim: 'Run consensus engines in the deterministic simulator with fault injection and safety/liveness checkers' },
    load: () => import('./commands/sim.ts'),
  },
  { commands: { tx: "Submit or evaluate contract functions through a node's gateway" }, load: () => import('./commands/tx.ts') },
  { commands: { block: "Read committed blocks through a node's gateway" }, load: () => import('./commands/block.ts') },
  {
    commands: { status: "Every node of the consortium: roles, leader/primary, height and last block hash (through each node's gateway)" },
    load: () => import('./commands/status.ts'),
  },
  {
    commands: {
      bench:
        'Drive real nodes through the REST gateway: committed tx/s, latency p50/p99, and the signature ceiling of this machine. `medledger bench --ordering` measures the ordering service alone against etcd (see its --help)',
    },
    load: () => import('./commands/bench.ts'),
  },
  { commands: { record: 'Health records: encrypted off chain at the custodian, registered on chain' }, load: () => import('./commands/record.ts') },
  { commands: { consent: "Patient consent (FHIR Consent): who may do what with the patient's records" }, load: () => import('./commands/consent.ts') },
  { commands: { access: 'Access applications (apply / approve / deny) and break-the-glass reads' }, load: () => import('./commands/access.ts') },
  { commands: { audit: "Audit queries: a record's provenance, a patient's access log, an organisation's trail" }, load: () => import('./commands/audit.ts') },
  { commands: { dataset: 'Datasets in the data market (CSV columns or FHIR Observation sets)' }, load: () => import('./commands/dataset.ts') },
  { commands: { stats: 'Privacy-preserving statistics (count, mean, sd, histogram; min/max as bins)' }, load: () => import('./commands/stats.ts') },
  {
    commands: {
      org: 'Add or remove a hospital of a running consortium (config transactions); apply, review and join as a new hospital',
      config: 'The consortium configuration, and config updates signed by admins on their own hosts',
    },
    load: () => import('./commands/org.ts'),
  },
  { commands: { user: 'Enrol, list and revoke the people and devices of a hospital (certificates from its CA)' }, load: () => import('./commands/user.ts') },
  {
    commands: { whoami: "Who you are to the consortium: organisation, user, role (checked by the node), and a patient's pseudonym" },
    load: () => import('./commands/whoami.ts'),
  },
];

/** The command a command line runs: its first word that is not an option (`help <cmd>`: that command). */
function commandWord(args: readonly string[]): string | undefined {
  const words = args.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

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
  const word = commandWord(argv.slice(2));
  const owner = COMMAND_MODULES.find((m) => word !== undefined && Object.hasOwn(m.commands, word));
  if (word === 'bench' && (argv.includes('--ordering') || argv.slice(2).filter((a) => !a.startsWith('-'))[1] === 'ordering')) {
    // `bench --ordering` / `bench ordering`: the ordering service against etcd (its own module).
    (await import('./commands/bench-ordering.ts')).register(program, ctx);
  } else if (owner) {
    (await owner.load()).register(program, ctx);
  } else {
    // `medledger`, `medledger --help`, an unknown command: the list of commands (and commander's
    // "did you mean") needs only their names and descriptions, not their modules.
    for (const m of COMMAND_MODULES) for (const [name, description] of Object.entries(m.commands)) program.command(name).description(description);
  }
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
    if (isSystemError(err)) {
      // A file system or network refusal (ENOENT, ENOTDIR, EACCES, EADDRINUSE, …) on a path or
      // address the user gave: its message names both; a stack trace would only hide it.
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
  return ctx.exitCode;
}

/** An error Node raised for a failed system call: it carries the call's code and name. */
function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string; syscall: string } {
  return (
    err instanceof Error &&
    typeof (err as NodeJS.ErrnoException).code === 'string' &&
    /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code!) &&
    typeof (err as NodeJS.ErrnoException).syscall === 'string'
  );
}
