// `medledger block get <n>`: one committed block as a node's peer stores it (header hashes, and
// per transaction its id, contract call, creator and validation code).
import type { Command } from 'commander';
import type { BlockJson } from '../../sdk/index.ts';
import { makeOutput, parseNonNegativeInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { localTime } from '../readable.ts';
import { apiFailure, resolveClient, withConnectOptions, type ConnectFlags } from './tx.ts';

function human(b: BlockJson): string {
  const lines = [
    `block ${b.number}`,
    `  hash        ${b.hashHex}`,
    `  previous    ${b.previousHashHex}`,
    `  data hash   ${b.dataHashHex}`,
    `  time        ${localTime(b.timestampMs)} (local)`,
    `  ordered by  ${b.orderers.join(', ') || '(genesis)'}${b.engine ? ` (${b.engine})` : ''}`,
    `  txs         ${b.txs.length}`,
  ];
  for (const t of b.txs) {
    lines.push(
      `  ${String(t.position).padStart(4)} ${(t.code ?? '').padEnd(27)} ${t.txId ?? '(undecodable)'} ${t.contract ?? ''}.${t.fn ?? ''} by ${t.creatorOrg ?? '?'}/${t.creatorId ?? '?'}`,
    );
  }
  return lines.join('\n');
}

export function register(program: Command, _ctx: CommandContext): void {
  const block = program.command('block').description("Read committed blocks through a node's gateway");
  withConnectOptions(
    block
      .command('get')
      .description("Show block <n>: header hashes and each transaction's id, call, creator and validation code")
      .argument('<n>', 'block number (0 is the genesis block)'),
  ).action(async (n: string, flags: ConnectFlags) => {
    const out = makeOutput(flags.json ?? false);
    const number = parseNonNegativeInt('<n>', n);
    const client = resolveClient(flags);
    try {
      const b = await client.block(number);
      out.result(b, () => human(b));
    } catch (err) {
      apiFailure(err);
    } finally {
      client.close();
    }
  });
}
