// `medledger dev`: the whole execute–order–validate lifecycle with N hospitals in one process
// (one peer each, a solo orderer), writing each node's ledger under <dir>/<org>/. It submits a
// workload of the sample `assets` contract that deliberately includes conflicting transactions,
// then prints the blocks, the transactions per validation code, the elapsed time and whether all
// peers ended with the same state hash. Exits 1 if they did not (or a peer rejected a block).
import type { Command } from 'commander';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SingleBar } from 'cli-progress';
import { toHex } from '../../codec/index.ts';
import { blockHash } from '../../ledger/block.ts';
import { VALIDATION_CODES } from '../../ledger/codes.ts';
import { InProcessNetwork, majorityPolicy, orgNames, runDevWorkload } from '../../node/inprocess.ts';
import { CliError, makeOutput, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';

interface DevFlags {
  orgs: string;
  tx: string;
  dir: string;
  blockSize: string;
  seed: string;
  json?: boolean;
}

const MARKER = '.medledger-dev';
const BLOCK_LINES_MAX = 30;

/** A dev directory is wiped and reused; any other non-empty directory is refused. */
function prepareDir(dir: string): void {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new CliError(`--dir ${dir} is not empty and was not created by \`medledger dev\`; choose another directory`, 2);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('dev')
    .description('Run the transaction lifecycle (endorse → order → validate → commit) with N hospitals in one process')
    .option('--orgs <n>', 'number of hospitals (1-16)', '3')
    .option('--tx <n>', 'transactions to submit (1-100000)', '1000')
    .option('--dir <dir>', "where to write each node's ledger (<dir>/<org>/)", '.medledger/dev')
    .option('--block-size <n>', 'max transactions per block (1-10000)', '100')
    .option('--seed <n>', 'seed of the workload mix', '1')
    .option('--json', 'print the result as JSON')
    .action(async (flags: DevFlags) => {
      const out = makeOutput(flags.json ?? false);
      const orgCount = parsePositiveInt('orgs', flags.orgs, 16);
      const txCount = parsePositiveInt('tx', flags.tx, 100_000);
      const blockSize = parsePositiveInt('block-size', flags.blockSize, 10_000);
      const seed = parsePositiveInt('seed', flags.seed, 2 ** 31);
      const dir = resolve(flags.dir);
      prepareDir(dir);
      const orgs = orgNames(orgCount);
      out.info(
        `MedLedger dev: ${orgCount} hospital${orgCount > 1 ? 's' : ''} (${orgs.join(', ')}), solo orderer, contract "assets", policy ${majorityPolicy(orgs)}`,
      );
      out.info('creating identities (root CA, one CA, node and users per hospital)…');
      const setupStarted = Date.now();
      const net = await InProcessNetwork.create({ dir, orgs, ordering: { countMax: blockSize } });
      writeFileSync(join(dir, MARKER), 'created by `medledger dev`; wiped by the next run\n');
      const setupMs = Date.now() - setupStarted;
      try {
        const bar =
          process.stderr.isTTY && !out.json
            ? new SingleBar({ format: 'transactions [{bar}] {value}/{total} | {duration_formatted}', stream: process.stderr, hideCursor: true })
            : null;
        bar?.start(txCount, 0);
        const result = await runDevWorkload(net, { transactions: txCount, seed, onSettled: (n) => bar?.update(n) });
        bar?.stop();
        const height = net.orderer.height;
        await net.waitForHeight(height, 30_000);
        const blocks: { number: number; transactions: number; valid: number; hash: string }[] = [];
        for (let n = 1; n <= height; n++) {
          const stored = net.peers[0]!.ledger.getBlock(n);
          blocks.push({
            number: n,
            transactions: stored.block.data.length,
            valid: stored.validation.filter((c) => c === 'VALID').length,
            hash: toHex(blockHash(stored.block.header)).slice(0, 16),
          });
        }
        const peers = net.peers.map((p) => ({ org: p.org, height: p.height, stateHash: toHex(p.ledger.stateHash()), dir: join(dir, p.org) }));
        const identical = new Set(peers.map((p) => `${p.height}:${p.stateHash}`)).size === 1;
        const codes: Record<string, number> = {};
        for (const code of VALIDATION_CODES) if (result.codes[code]) codes[code] = result.codes[code];
        const summary = {
          orgs,
          dir,
          transactions: txCount,
          blocks: height,
          codes,
          notSubmitted: result.notSubmitted,
          setupMs,
          elapsedMs: result.elapsedMs,
          txPerSecond: Math.round((txCount * 1000) / Math.max(1, result.elapsedMs)),
          peers,
          statesIdentical: identical,
          deliveryErrors: net.errors.map((e) => e.message),
          blockList: blocks,
        };
        out.result(summary, () => {
          const lines: string[] = [];
          lines.push(`blocks (${height}):`);
          for (const b of blocks.slice(0, BLOCK_LINES_MAX))
            lines.push(`  #${String(b.number).padStart(4)}  ${String(b.transactions).padStart(5)} tx  ${String(b.valid).padStart(5)} valid  ${b.hash}…`);
          if (blocks.length > BLOCK_LINES_MAX) lines.push(`  … ${blocks.length - BLOCK_LINES_MAX} more`);
          lines.push(`transactions by validation code:`);
          for (const [code, n] of Object.entries(codes)) lines.push(`  ${code.padEnd(28)} ${String(n).padStart(6)}`);
          for (const [kind, n] of Object.entries(result.notSubmitted)) lines.push(`  not submitted: ${kind.padEnd(13)} ${String(n).padStart(6)}`);
          lines.push(
            `${txCount} transactions in ${(result.elapsedMs / 1000).toFixed(2)} s (${summary.txPerSecond} tx/s; setup ${(setupMs / 1000).toFixed(2)} s)`,
          );
          for (const p of peers) lines.push(`  ${p.org.padEnd(12)} height ${p.height}  state ${p.stateHash.slice(0, 16)}…`);
          lines.push(identical ? 'all peers hold the same state hash' : 'PEERS DIVERGE: state hashes differ');
          for (const e of summary.deliveryErrors) lines.push(`delivery error: ${e}`);
          lines.push(`ledgers under ${dir}/<org>/ — audit one with: medledger ledger verify --dir ${join(dir, orgs[0]!)}`);
          return lines.join('\n');
        });
        if (!identical || summary.deliveryErrors.length > 0) ctx.exitCode = 1;
      } finally {
        net.close();
      }
    });
}
