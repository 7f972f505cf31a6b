// `medledger tx submit|evaluate`: run a contract function through a node's REST gateway as one of
// the consortium's users. The connection is either a consortium directory (--dir, --org, --user:
// the org's node from the genesis configuration, the user's certificate and key, the root CA) or
// explicit (--url, --cert, --key, --ca). Shared by `block` and `status`.
import { Option, type Command } from 'commander';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { clientFromDir, MedLedgerApiError, MedLedgerClient } from '../../sdk/index.ts';
import { apiErrorText, CliError, makeOutput, parseNonNegativeInt } from '../output.ts';
import type { CommandContext } from '../context.ts';

export const DEFAULT_CONSORTIUM_DIR = '.medledger/network';

export interface ConnectFlags {
  dir?: string;
  org?: string;
  user?: string;
  url?: string;
  cert?: string;
  key?: string;
  ca?: string;
  json?: boolean;
}

export const DEFAULT_ORG = 'Hospital1';
export const DEFAULT_USER = 'admin1';

/**
 * The connection options of every command that talks to a node (issue 17: `tx`/`config` took
 * --url and defaulted to Hospital1/admin1 while the health commands took --api-url and required
 * --org/--user). One set, one set of defaults, documented once in the README:
 *   --dir (default .medledger/network, or $MEDLEDGER_DIR), --org (Hospital1, or $MEDLEDGER_ORG),
 *   --user (admin1, or $MEDLEDGER_USER), --url (the org's node from the directory),
 *   --cert/--key/--ca (a certificate outside any directory), --json.
 * `--api-url` stays as a hidden alias of --url for scripts written against the health commands,
 * except where a command gives --api-url another meaning (config propose: the new hospital's API).
 */
export function withConnectOptions(cmd: Command, opts: { apiUrlAlias?: boolean } = {}): Command {
  cmd
    .addOption(
      new Option('--dir <dir>', 'consortium directory written by medledger init / up / npm start').env('MEDLEDGER_DIR').default(DEFAULT_CONSORTIUM_DIR),
    )
    .addOption(new Option('--org <org>', 'organisation of the user (and of the node asked), e.g. Hospital2').env('MEDLEDGER_ORG').default(DEFAULT_ORG))
    .addOption(new Option('--user <name>', 'the user whose key in <dir>/crypto/<org>/<name>/ signs, e.g. doctor1').env('MEDLEDGER_USER').default(DEFAULT_USER))
    .option('--url <url>', "node API URL (https://host:port); default: the org's node from the consortium directory")
    .option('--cert <file>', 'client certificate (PEM) instead of --dir/--org/--user')
    .option('--key <file>', 'client private key (PEM), with --cert')
    .option('--ca <file>', 'consortium root CA certificate (PEM), with --cert')
    .option('--json', 'print the result as JSON');
  if (opts.apiUrlAlias !== false) {
    cmd.addOption(new Option('--api-url <url>', 'the same as --url (older spelling)').hideHelp());
    cmd.hook('preAction', (_program, action) => {
      const o = action.opts<{ url?: string; apiUrl?: string }>();
      if (o.apiUrl !== undefined && o.url === undefined) action.setOptionValue('url', o.apiUrl);
    });
  }
  return cmd;
}

export function readPemFile(path: string, option: string): string {
  const p = resolve(path);
  if (!existsSync(p)) throw new CliError(`--${option} ${path}: no such file`, 2);
  if (statSync(p).size > 1024 * 1024) throw new CliError(`--${option} ${path}: larger than 1 MiB, not a PEM file`, 2);
  return readFileSync(p, 'utf8');
}

export function apiFailure(err: unknown): never {
  if (err instanceof MedLedgerApiError) {
    const where = err.status > 0 ? `HTTP ${err.status} ${err.code}` : err.code;
    // Exit 3: the transaction may have committed — a script must check, not resubmit blindly.
    if (err.code === 'OUTCOME_UNKNOWN' || err.code === 'COMMIT_TIMEOUT')
      throw new CliError(`${err.message} (${where})${err.txId && !err.message.includes('tx status') ? `\n  check: medledger tx status ${err.txId}` : ''}`, 3);
    // A contract's validation error: say "invalid argument" first, not the endorsement refusal around it.
    const text = apiErrorText(err.code, err.message);
    throw new CliError(text.startsWith('invalid argument') ? `${text} (${where})` : `${err.message} (${where})`, 1);
  }
  throw err;
}

export function resolveClient(flags: ConnectFlags): MedLedgerClient {
  try {
    if (flags.cert || flags.key || flags.ca) {
      if (!flags.cert || !flags.key || !flags.ca || !flags.url)
        throw new CliError('--cert, --key, --ca and --url go together (or use --dir with --org and --user)', 2);
      return new MedLedgerClient({
        url: flags.url,
        certPem: readPemFile(flags.cert, 'cert'),
        keyPem: readPemFile(flags.key, 'key'),
        caPem: readPemFile(flags.ca, 'ca'),
        failover: 'discover',
      });
    }
    const dir = resolve(flags.dir ?? DEFAULT_CONSORTIUM_DIR);
    if (!existsSync(dir))
      throw new CliError(`--dir ${flags.dir ?? DEFAULT_CONSORTIUM_DIR}: no such directory (run medledger up, or pass --url/--cert/--key/--ca)`, 2);
    return clientFromDir(dir, flags.org ?? 'Hospital1', flags.user ?? 'admin1', flags.url);
  } catch (err) {
    if (err instanceof MedLedgerApiError) throw new CliError(err.message, 2);
    throw err;
  }
}

function resultText(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function register(program: Command, ctx: CommandContext): void {
  const tx = program.command('tx').description("Submit or evaluate contract functions through a node's gateway");
  withConnectOptions(
    tx
      .command('submit')
      .description('Endorse (by the organisations the contract policy needs), sign, order and commit a transaction')
      .argument('<contract>', 'contract name, e.g. assets or health')
      .argument('<fn>', 'function name')
      .argument('[args...]', 'string arguments')
      .option('--wait-ms <ms>', 'wait up to this long for the commit (0: return once ordered)', '30000'),
  ).action(async (contract: string, fn: string, args: string[], flags: ConnectFlags & { waitMs: string }) => {
    const out = makeOutput(flags.json ?? false);
    const waitMs = parseNonNegativeInt('wait-ms', flags.waitMs, 60_000);
    const client = resolveClient(flags);
    try {
      const r = await client.submit(contract, fn, args, { waitMs });
      const result = {
        txId: r.txId,
        status: r.status,
        code: r.code,
        blockNumber: r.blockNumber,
        endorsers: r.endorsers,
        result: Buffer.from(r.payload).toString('utf8'),
      };
      out.result(result, () =>
        [
          `tx ${r.txId}`,
          `  status     ${r.status}${r.code ? ` ${r.code}` : ''}${r.blockNumber !== null ? ` in block ${r.blockNumber}` : ''}`,
          `  endorsers  ${r.endorsers.join(', ')}`,
          `  result     ${resultText(r.payload)}`,
        ].join('\n'),
      );
      if (r.code !== null && r.code !== 'VALID') {
        out.error(`transaction ${r.txId} was committed as ${r.code}: it changed nothing`);
        ctx.exitCode = 1;
      }
    } catch (err) {
      apiFailure(err);
    } finally {
      client.close();
    }
  });
  withConnectOptions(
    tx
      .command('evaluate')
      .description("Run a read-only function on the node's peer (nothing is ordered or committed)")
      .argument('<contract>', 'contract name')
      .argument('<fn>', 'function name')
      .argument('[args...]', 'string arguments'),
  ).action(async (contract: string, fn: string, args: string[], flags: ConnectFlags) => {
    const out = makeOutput(flags.json ?? false);
    const client = resolveClient(flags);
    try {
      const payload = await client.evaluate(contract, fn, args);
      out.result({ result: Buffer.from(payload).toString('utf8') }, () => resultText(payload));
    } catch (err) {
      apiFailure(err);
    } finally {
      client.close();
    }
  });
}
