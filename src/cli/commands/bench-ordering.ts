// `medledger bench --ordering` (also `medledger bench ordering`): the ordering service alone
// against etcd 3.4 (or another checkout's orderer, --against), measured in the same run
// (src/bench/ordering.ts, decision 1350). main.ts
// routes `bench` here instead of to bench.ts when the command line asks for the ordering bench.
import type { Command } from 'commander';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  againstCheckout,
  type AgainstCheckout,
  ORDERING_CONCURRENCY_DEFAULT,
  ORDERING_SLICE_SECONDS_DEFAULT,
  renderOrderingReport,
  runOrderingBench,
} from '../../bench/ordering.ts';
import { CliError, jsonReplacer, makeOutput, parseIntList, parseNonNegativeInt, parsePositiveInt } from '../output.ts';
import type { CommandContext } from '../context.ts';
import { makeDirectory } from '../../files/directory.ts';

interface Flags {
  readonly ordering?: boolean;
  readonly concurrency: string;
  readonly seconds: string;
  readonly warmup: string;
  readonly slice: string;
  readonly ops?: string;
  readonly etcd: boolean;
  readonly etcdBinary?: string;
  readonly against?: string;
  readonly drive: string;
  readonly eagerCut: string;
  readonly tickMs: string;
  readonly syncCommit?: boolean;
  readonly timeline?: string;
  readonly json?: boolean | string;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('bench')
    .description('The ordering service alone (3 Raft orderer processes, fsync on) against etcd 3.4 in the same run: payloads ordered/s, p50/p99')
    .argument('[what]', '"ordering" (same as --ordering)')
    .option('--ordering', 'run the ordering benchmark')
    .option('--concurrency <list>', 'payloads in flight, one level each (comma-separated)', ORDERING_CONCURRENCY_DEFAULT.join(','))
    .option('--seconds <n>', 'measured seconds per level', '5')
    .option(
      '--warmup <n>',
      'unmeasured seconds per level before it (the orderers are Node processes: their code reaches its optimized tier in the first seconds, decision 1412)',
      '5',
    )
    .option(
      '--slice <seconds>',
      'the measured seconds are taken in slices this long, MedLedger and etcd in turns, both running throughout (decision 1413); --slice equal to --seconds: one slice each',
      String(ORDERING_SLICE_SECONDS_DEFAULT),
    )
    .option('--ops <n>', 'stop each level after this many measured payloads (small runs)')
    .option('--no-etcd', 'measure MedLedger alone even when etcd is installed')
    .option('--etcd-binary <path>', 'the etcd binary (default: etcd on PATH, or $MEDLEDGER_ETCD)')
    .option(
      '--against <checkout>',
      'instead of etcd, measure the orderer of another MedLedger checkout (its packages installed) in turns with this one: an A/B of two versions; `--against .` measures this one twice, the noise of a comparison',
    )
    .option('--drive <mode>', 'MedLedger driver: immediate (drive after each input, as the node does) | coalesced (once per event-loop turn)', 'immediate')
    .option(
      '--eager-cut <n>',
      'Raft eagerCutUncommittedMax: cut a partial batch at once while fewer entries are uncommitted (0: wait for the cutter timeout)',
      '1',
    )
    .option('--sync-commit', "Raft syncCommitIndex true: a commit-only hard state is fsync'd before delivery (the default before decision 1361)")
    .option('--tick-ms <ms>', 'Raft tick (election timeout 10 ticks, heartbeat 1: etcd’s defaults at 100 ms)', '100')
    .option(
      '--timeline <dir>',
      "at --concurrency 1: the MedLedger orderers write each round's timeline to <dir>, and the report adds where a round's time goes, stage by stage, by latency band",
    )
    .option('--json [file]', 'print the report as JSON, or write it to this file (e.g. docs/results/bench-ordering.json) and print the table')
    .action(async (what: string | undefined, flags: Flags) => {
      const toStdout = flags.json === true;
      const out = makeOutput(toStdout);
      if (what !== undefined && what !== 'ordering') throw new CliError(`unknown benchmark "${what}" (this form runs: bench ordering, or bench --ordering)`, 2);
      if (flags.drive !== 'immediate' && flags.drive !== 'coalesced') throw new CliError(`--drive must be immediate or coalesced, got "${flags.drive}"`, 2);
      const concurrency = parseIntList('concurrency', flags.concurrency, 10_000);
      const seconds = parsePositiveInt('seconds', flags.seconds, 3600);
      const warmup = parseNonNegativeInt('warmup', flags.warmup, 600);
      const slice = parsePositiveInt('slice', flags.slice, 3600);
      let timelineDir: string | undefined;
      if (flags.timeline !== undefined) {
        if (concurrency.length !== 1 || concurrency[0] !== 1) throw new CliError('--timeline needs --concurrency 1 (it follows one round at a time)', 2);
        timelineDir = resolve(flags.timeline);
        outputDirectory('timeline', flags.timeline, timelineDir, 'it');
      }
      const jsonPath = typeof flags.json === 'string' ? jsonFile(flags.json) : null;
      let against: AgainstCheckout | undefined;
      if (flags.against !== undefined) {
        try {
          against = againstCheckout(flags.against);
        } catch (err) {
          throw new CliError((err as Error).message, 2);
        }
      }
      const report = await runOrderingBench({
        concurrency,
        seconds,
        warmupSeconds: warmup,
        sliceSeconds: slice,
        ...(flags.ops !== undefined ? { opsMax: parsePositiveInt('ops', flags.ops, 100_000_000) } : {}),
        noEtcd: !flags.etcd,
        ...(flags.etcdBinary !== undefined ? { etcdBinary: flags.etcdBinary } : {}),
        ...(against ? { against } : {}),
        drive: flags.drive,
        eagerCut: parseNonNegativeInt('eager-cut', flags.eagerCut, 1_000_000),
        tickMs: parsePositiveInt('tick-ms', flags.tickMs, 10_000),
        syncCommit: flags.syncCommit === true,
        ...(timelineDir !== undefined ? { timelineDir } : {}),
        progress: (line) => {
          if (!toStdout) process.stderr.write(`${line}\n`);
        },
      });
      if (jsonPath !== null) {
        writeFileSync(jsonPath, `${JSON.stringify({ command: `medledger ${process.argv.slice(2).join(' ')}`, ...report }, jsonReplacer, 2)}\n`);
        out.info(`results written to ${jsonPath}`);
      }
      out.result(report, () => renderOrderingReport(report));
      const broken = [report.medledger, ...(report.etcd ? [report.etcd] : []), ...(report.against ? [report.against] : [])].flatMap((s) =>
        s.levels.filter((l) => l.ops === 0 || l.duplicates > 0 || l.ordered < l.submitted - l.errors).map((l) => `${s.system} at ${l.concurrency} in flight`),
      );
      if (broken.length > 0) {
        out.error(`payloads lost, duplicated or none ordered: ${broken.join(', ')}`);
        ctx.exitCode = 1;
      }
    });
}

/**
 * Make the directory an output option needs before the run (minutes of measuring must not end on a
 * path that cannot be written): `--timeline <dir>` itself, `--json <file>`'s folder. A refusal
 * names the option and the part of the path that is wrong.
 */
function outputDirectory(option: string, given: string, dir: string, what: 'it' | 'its directory'): void {
  try {
    makeDirectory(dir);
  } catch (err) {
    const { code, path } = err as NodeJS.ErrnoException;
    if (code === 'ENOTDIR')
      throw new CliError(path === resolve(given) ? `--${option} ${given}: not a directory` : `--${option} ${given}: ${path ?? dir} is not a directory`, 2);
    throw new CliError(`--${option} ${given}: cannot create ${what} (${code ?? (err as Error).message})`, 2);
  }
}

/** Where --json writes: a file (not a directory) whose folder exists or is made now. */
function jsonFile(given: string): string {
  const file = resolve(given);
  if (existsSync(file) && statSync(file).isDirectory()) throw new CliError(`--json ${given}: is a directory; give a file name`, 2);
  outputDirectory('json', given, dirname(file), 'its directory');
  return file;
}
