// `medledger ledger verify --dir <node-dir>`: audit a peer's ledger (see src/ledger/verify.ts).
// Prints a summary; exits 1 naming the first bad block and why, 2 on bad options.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { VerifyInputError, verifyLedger, type VerifyReport } from '../../ledger/verify.ts';
import { CliError, makeOutput } from '../output.ts';
import type { CommandContext } from '../context.ts';

function human(r: VerifyReport): string {
  const lines: string[] = [];
  lines.push(`ledger ${r.ledgerDir}`);
  lines.push(`  genesis      ${r.genesisHash ?? '(none)'}`);
  lines.push(`  blocks       ${r.blocksVerified} verified (hash links, data hashes, orderer signatures, ${r.certificatesChecked} consensus certificates)`);
  lines.push(`  transactions ${r.transactions} re-validated${r.configUpdates > 0 ? ` (${r.configUpdates} config updates applied in order)` : ''}`);
  for (const [code, n] of Object.entries(r.codes)) if (n > 0) lines.push(`    ${code.padEnd(28)} ${n}`);
  lines.push(`  last block   ${r.lastBlockHash ?? '(none)'}`);
  if (r.stateHash) lines.push(`  state        ${r.stateHash} (${r.stateKeys} keys, replayed and compared)`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  if (r.problem) {
    lines.push(r.problem.block === null ? `FAILED: world state: ${r.problem.reason}` : `FAILED at block ${r.problem.block}: ${r.problem.reason}`);
  } else {
    lines.push('OK: the chain and the world state are consistent');
  }
  return lines.join('\n');
}

export function register(program: Command, ctx: CommandContext): void {
  const ledger = program.command('ledger').description("Inspect and audit a node's ledger");
  ledger
    .command('verify')
    .description('Walk the whole chain: hash links, data hashes, signatures, re-validation, replay vs stored state')
    .requiredOption('--dir <node-dir>', 'a node directory (<dir>/ledger) or a ledger directory (<dir>/blocks)')
    .option('--json', 'print the report as JSON')
    .action(async (flags: { dir: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = resolve(flags.dir);
      if (!existsSync(dir)) throw new CliError(`--dir ${flags.dir}: no such directory`, 2);
      let report: VerifyReport;
      try {
        report = await verifyLedger(dir);
      } catch (err) {
        if (err instanceof VerifyInputError) throw new CliError(err.message, 2);
        throw err;
      }
      out.result(report, () => human(report));
      if (!report.ok) ctx.exitCode = 1;
    });
}
