// Running a consortium: `init` (generate it), `node start` (run one node), `up` (a whole local
// consortium, one process per hospital), `down` (stop it).
import { Option, type Command } from 'commander';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ENGINE_NAMES, ConfigError, loadNodeConfig, readPem } from '../../node/config.ts';
// The node, its API server and the consortium generator are imported by the action that needs
// them (decision 1700): `up` on an existing directory, `down` and every --help start without them.
import type { EngineName } from '../../node/init.ts';
import type { MedLedgerNode } from '../../node/node.ts';
import type { ApiServer } from '../../api/index.ts';
import { isAlive, nodeDirs, readPid, spawnNode, stopProcesses, tailLog, waitUntilReady, type NodeStatusFile } from '../../node/supervisor.ts';
import { CliError, makeOutput, parsePositiveInt, UP_RUNNING_LINE } from '../output.ts';
import { CONSOLE_DIST_DIR, ensureConsoleBuilt } from '../console-build.ts';
import type { CommandContext } from '../context.ts';

const DEFAULT_DIR = '.medledger/network';
const DEFAULT_BASE_PORT = 7400;
const READY_TIMEOUT_MS = 180_000;

function parseEngine(text: string): EngineName {
  if (!(ENGINE_NAMES as readonly string[]).includes(text)) throw new CliError(`--consensus must be one of ${ENGINE_NAMES.join(', ')}, got "${text}"`, 2);
  return text as EngineName;
}

function describeNodes(statuses: readonly NodeStatusFile[]): string {
  const lines = [
    '',
    'hospital      node                 p2p                      API (REST + OpenAPI at /openapi.json)   web console (open in a browser on this machine)',
  ];
  for (const s of statuses)
    lines.push(
      `${s.org.padEnd(13)} ${s.nodeId.padEnd(20)} ${s.p2pUrl.padEnd(24)} ${s.apiUrl.padEnd(39)} ${s.consoleUrl ? `console: ${s.consoleUrl}` : 'console: not listening (see node.log)'}`,
    );
  const leader = statuses.find((s) => s.consensus?.leader)?.consensus?.leader;
  if (leader) lines.push('', `consensus: ${statuses[0]?.consensus?.engine}, leader ${leader}; height ${Math.max(...statuses.map((s) => s.height))}`);
  return lines.join('\n');
}

async function startNodeCommand(configPath: string): Promise<void> {
  let config;
  try {
    config = loadNodeConfig(configPath);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, 2);
    throw err;
  }
  process.env.MEDLEDGER_LOG_LEVEL ??= config.log.level;
  const [{ MedLedgerNode, NodeStartError }, { apiLimitsOf, startApiServer }, { registerHealthRoutes }, { RecordService }, { registerEnrolmentRoutes }] =
    await Promise.all([
      import('../../node/node.ts'),
      import('../../api/index.ts'),
      import('../../api/health-routes.ts'),
      import('../../records/service.ts'),
      import('../../api/enrolment-routes.ts'),
    ]);
  let node: MedLedgerNode;
  try {
    node = await MedLedgerNode.start(config);
  } catch (err) {
    if (err instanceof NodeStartError || err instanceof ConfigError) throw new CliError(err.message, 1);
    throw new CliError(`node ${config.node.id} failed to start: ${(err as Error).message}`, 1);
  }
  const nodeDir = dirname(resolve(configPath));
  const p2pUrl = `wss://${config.listen.p2p.host}:${config.listen.p2p.port}`;
  // The console is served from web/dist; build it if this checkout has none (or a stale one). A
  // failed build leaves the node running: the console page then says how to build it.
  await ensureConsoleBuilt().catch((err: unknown) =>
    node.log.warn({ reason: (err as Error).message }, 'console: build failed; the node serves the API without it'),
  );
  let api: ApiServer;
  try {
    // The off-chain record service (issue 6): blobs, keys, 'records'/'stats' channels, REST routes.
    const records = RecordService.attach(node);
    api = await startApiServer(node, {
      routes: [
        (app, who) => registerHealthRoutes(app, who, records),
        // Registration and enrolment (decision 1252): node-local, under the data dir.
        (app, who) => void registerEnrolmentRoutes(app, who, node, { storePath: join(config.node.dataDir, 'enrolment', 'enrolments.sqlite') }),
      ],
      host: config.listen.api.host,
      port: config.listen.api.port,
      tls: {
        certChainPem: `${readPem(config.identity.cert, 'node certificate').trim()}\n${readPem(config.identity.orgCa, 'organisation CA certificate').trim()}\n`,
        keyPem: readPem(config.identity.key, 'node key'),
      },
      bodyLimitBytes: config.limits.requestBodyBytesMax,
      limits: apiLimitsOf(config),
      logger: node.log,
      console: {
        assetsDir: CONSOLE_DIST_DIR,
        // Demo consortia only (medledger up --demo): the node's own hospital's users, on loopback.
        demoUsers: config.console.demoUsers ? { cryptoDir: dirname(config.identity.rootCa), org: config.node.org } : null,
        ...(config.listen.console ? { listen: config.listen.console } : {}),
      },
    });
  } catch (err) {
    await node.stop();
    throw new CliError(`cannot serve the API on ${config.listen.api.host}:${config.listen.api.port}: ${(err as Error).message}`, 1);
  }
  node.reportStatusTo(join(nodeDir, 'node.status.json'), { pid: process.pid, p2pUrl, apiUrl: api.url, consoleUrl: api.consoleUrl });
  // A failed durable write stops the process (exit 74, EX_IOERR):
  // what was written durably is recovered at the next start; nothing half-written is served.
  node.onFatal(() => {
    process.exitCode = 74;
    setTimeout(() => process.exit(74), 100).unref();
  });
  await new Promise<void>((resolveStop) => {
    const stop = (signal: string): void => {
      node.log.info({ signal }, 'stopping');
      api
        .close()
        .then(() => node.stop())
        .then(resolveStop, resolveStop);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * Remove what a failed `up` created: the directory itself, or what it wrote into an empty one.
 * Best effort: when the directory could not be made at all (a file in its path, a path under
 * /proc) removing it fails too, and that second error must not hide the first.
 */
function removeCreated(dir: string, created: 'dir' | 'contents'): void {
  try {
    if (created === 'dir') rmSync(dir, { recursive: true, force: true });
    else for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  } catch {
    // Nothing was created where nothing can be removed.
  }
}

/** The lowest p2p port of an existing consortium's nodes (what --base-port was), or null if unreadable. */
function existingBasePort(dir: string): number | null {
  const ports: number[] = [];
  for (const d of nodeDirs(dir)) {
    try {
      ports.push(loadNodeConfig(join(d, 'node.yaml')).listen.p2p.port);
    } catch {
      // A node.yaml that does not load is reported when that node starts.
    }
  }
  return ports.length > 0 ? Math.min(...ports) : null;
}

export function register(program: Command, ctx: CommandContext): void {
  program
    .command('init')
    .description('Generate a consortium: root CA (CAMS), hospital CAs, node and demo user certificates, genesis block, node.yaml per hospital')
    .option('--orgs <n>', 'number of hospitals', '5')
    .option('--consensus <engine>', `ordering engine (${ENGINE_NAMES.join('|')})`, 'raft')
    .option('--dir <dir>', 'where to write it', DEFAULT_DIR)
    .option('--base-port <port>', 'first port: hospital i listens on base+2i (p2p) and base+2i+1 (API)', String(DEFAULT_BASE_PORT))
    .option('--host <host>', 'address the nodes listen on and are reached at', '127.0.0.1')
    .option('--assets-policy <policy>', "endorsement policy of the assets contract (the benchmark's): majority, any, or a policy expression", 'majority')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { orgs: string; consensus: string; dir: string; basePort: string; host: string; assetsPolicy: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const { initConsortium, ORGS_MAX } = await import('../../node/init.ts');
      const orgs = parsePositiveInt('orgs', flags.orgs, ORGS_MAX);
      const engine = parseEngine(flags.consensus);
      const basePort = parsePositiveInt('base-port', flags.basePort, 65535);
      const dir = resolve(flags.dir);
      if (existsSync(join(dir, 'genesis.block'))) throw new CliError(`${dir} already holds a consortium; choose another --dir`, 2);
      out.info(`creating ${orgs} hospitals (${engine}) in ${dir} …`);
      const result = await initConsortium({ dir, orgs, engine, basePort, host: flags.host, assetsPolicy: flags.assetsPolicy }).catch((err: unknown) => {
        throw new CliError((err as Error).message, 2);
      });
      const summary = {
        dir,
        genesis: result.genesisPath,
        engine,
        nodes: result.nodes.map((n) => ({ id: n.id, org: n.org, p2pUrl: n.p2pUrl, apiUrl: n.apiUrl, config: n.configPath })),
      };
      out.result(summary, () =>
        [
          `consortium written to ${dir}`,
          ...summary.nodes.map((n) => `  ${n.org.padEnd(12)} ${n.config}`),
          '',
          'start one node per host with:  medledger node start --config <dir>/<org>/node.yaml',
          'or all of them here with:      medledger up --dir ' + flags.dir,
        ].join('\n'),
      );
    });

  const node = program.command('node').description('Run a MedLedger node, or test its connections to the others (node check)');
  node
    .command('start')
    .description('Run one node (peer + orderer by default) from its YAML configuration')
    .requiredOption('--config <file>', 'the node.yaml written by medledger init')
    .action(async (flags: { config: string }) => {
      await startNodeCommand(flags.config);
    });

  // The connection options of the other node commands (tx.ts withConnectOptions), spelled out
  // here: importing tx.ts would load the SDK for every `up` / `node start` (decision 1700).
  node
    .command('check')
    .description(
      'Connection test: for every other node of the config in force, whether it is reachable, the TLS identity it presents (checked against the config), its height and round-trip latency',
    )
    .addOption(new Option('--dir <dir>', 'consortium directory written by medledger init / up / org join').env('MEDLEDGER_DIR').default('.medledger/network'))
    .addOption(new Option('--org <org>', 'the hospital whose node is checked from (its users sign)').env('MEDLEDGER_ORG').default('Hospital1'))
    .addOption(new Option('--user <name>', 'the user whose key in <dir>/crypto/<org>/<name>/ signs').env('MEDLEDGER_USER').default('admin1'))
    .option('--url <url>', "this node's API URL (default: the org's node from the directory)")
    .option('--cert <file>', 'client certificate (PEM) instead of --dir/--org/--user')
    .option('--key <file>', 'client private key (PEM), with --cert')
    .option('--ca <file>', 'consortium root CA certificate (PEM), with --cert')
    .option('--timeout <ms>', 'per node', '5000')
    .option('--json', 'print the result as JSON')
    .action(
      async (flags: { dir?: string; org?: string; user?: string; url?: string; cert?: string; key?: string; ca?: string; timeout: string; json?: boolean }) => {
        const out = makeOutput(flags.json ?? false);
        const timeoutMs = parsePositiveInt('timeout', flags.timeout, 120_000);
        const [{ checkNodes, describeCheck }, { resolveClient, readPemFile }, { userCredentials, MedLedgerApiError }] = await Promise.all([
          import('../node-check.ts'),
          import('./tx.ts'),
          import('../../sdk/index.ts'),
        ]);
        const client = resolveClient(flags);
        try {
          let creds;
          try {
            creds = flags.cert
              ? { certPem: readPemFile(flags.cert, 'cert'), keyPem: readPemFile(flags.key ?? '', 'key'), caPem: readPemFile(flags.ca ?? '', 'ca') }
              : userCredentials(resolve(flags.dir ?? '.medledger/network'), flags.org ?? 'Hospital1', flags.user ?? 'admin1');
          } catch (err) {
            if (err instanceof MedLedgerApiError) throw new CliError(err.message, 2);
            throw err;
          }
          let result;
          try {
            result = await checkNodes(client, creds, timeoutMs);
          } catch (err) {
            if (err instanceof MedLedgerApiError) throw new CliError(`this node does not answer (${err.code}): ${err.message}`, 1);
            throw err;
          }
          out.result(result, () => describeCheck(result));
          if (!result.ok) ctx.exitCode = 1;
        } finally {
          client.close();
        }
      },
    );

  // gpbft's node update (paper 002, decision 1280), signed by an admin: `node rate`, `node leave`.
  const adminConnect = (cmd: Command): Command =>
    cmd
      .addOption(new Option('--dir <dir>', 'consortium directory written by medledger init / up / org join').env('MEDLEDGER_DIR').default('.medledger/network'))
      .addOption(new Option('--org <org>', "the admin's hospital (its node receives the request)").env('MEDLEDGER_ORG').default('Hospital1'))
      .addOption(new Option('--user <name>', 'the admin whose key in <dir>/crypto/<org>/<name>/ signs').env('MEDLEDGER_USER').default('admin1'))
      .option('--url <url>', "the node's API URL (default: the org's node from the directory)")
      .option('--cert <file>', 'client certificate (PEM) instead of --dir/--org/--user')
      .option('--key <file>', 'client private key (PEM), with --cert')
      .option('--ca <file>', 'consortium root CA certificate (PEM), with --cert')
      .option('--json', 'print the result as JSON');
  type AdminFlags = { dir?: string; org?: string; user?: string; url?: string; cert?: string; key?: string; ca?: string; json?: boolean };
  const gpbftOp = async (
    flags: AdminFlags,
    run: (client: import('../../sdk/index.ts').MedLedgerClient) => Promise<{ op: string; nodeId: string; clientId: string; seq: number }>,
  ): Promise<void> => {
    const out = makeOutput(flags.json ?? false);
    const [{ resolveClient }, { MedLedgerApiError }] = await Promise.all([import('./tx.ts'), import('../../sdk/index.ts')]);
    const client = resolveClient(flags);
    try {
      const result = await run(client);
      out.result(
        result,
        () => `${result.op} of ${result.nodeId} submitted for ordering as ${result.clientId}#${result.seq}; it takes effect in the block that decides it`,
      );
    } catch (err) {
      if (err instanceof MedLedgerApiError) throw new CliError(`refused (${err.code}): ${err.message}`, 1);
      throw err;
    } finally {
      client.close();
    }
  };
  adminConnect(
    node
      .command('rate')
      .description(
        "gpbft: rate another hospital's node (the paper's comprehensive rating, 0–100); below the consortium's rating threshold it is removed. Signed by an admin",
      )
      .argument('<hospital>', 'the rated hospital (e.g. Hospital2) or its node id (node.Hospital2)')
      .argument('<rating>', 'the rating, 0–100'),
  ).action(async (hospital: string, ratingText: string, flags: AdminFlags) => {
    const rating = Number(ratingText);
    if (ratingText.trim() === '' || !Number.isFinite(rating) || rating < 0 || rating > 100)
      throw new CliError(`<rating> must be a number from 0 to 100, got "${ratingText}"`, 2);
    const nodeId = hospital.startsWith('node.') ? hospital : `node.${hospital}`;
    // The signature names the consortium (decision 1387): a client of a consortium directory
    // pins its genesis block (clientFromDir), so a node cannot make it sign for another.
    await gpbftOp(flags, (client) => client.gpbftRate(nodeId, rating));
  });
  adminConnect(
    node
      .command('leave')
      .description("gpbft: ask your hospital's node to leave the consortium (the paper's signed quit request). Signed by an admin of that hospital"),
  ).action(async (flags: AdminFlags) => {
    await gpbftOp(flags, (client) => client.gpbftLeave());
  });

  program
    .command('up')
    .description('Start a whole local consortium: one node process per hospital on loopback ports')
    .option('--orgs <n>', 'number of hospitals (when creating)', '5')
    .option('--consensus <engine>', `ordering engine when creating (${ENGINE_NAMES.join('|')})`, 'raft')
    .option('--dir <dir>', 'consortium directory (created with init if empty)', DEFAULT_DIR)
    .option(
      '--base-port <port>',
      'first port when creating (an existing directory keeps its ports: a different --base-port is refused)',
      String(DEFAULT_BASE_PORT),
    )
    .option(
      '--assets-policy <policy>',
      "endorsement policy of the assets contract (the benchmark's; when creating): majority, any, or a policy expression",
      'majority',
    )
    .option('--detach', 'return once the network is ready, leaving the nodes running (stop with medledger down)')
    .option('--demo', "demo mode: each node's console offers its hospital's users for one-click sign-in (never on a real consortium)")
    .option('--cpu-prof <dir>', 'profile every node process (node --cpu-prof); profiles are written to <dir> when the nodes stop')
    .option('--json', 'print the endpoints as JSON')
    .action(
      async (
        flags: {
          orgs: string;
          consensus: string;
          dir: string;
          basePort: string;
          assetsPolicy: string;
          detach?: boolean;
          demo?: boolean;
          cpuProf?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const out = makeOutput(flags.json ?? false);
        const dir = resolve(flags.dir);
        // What this run creates, it removes again if the run fails (issue 17: a failed `up` left a
        // half-created directory, which the next `up` then took for a consortium).
        let created: 'dir' | 'contents' | null = null;
        if (!existsSync(join(dir, 'genesis.block'))) {
          const { initConsortium, ORGS_MAX } = await import('../../node/init.ts');
          const orgs = parsePositiveInt('orgs', flags.orgs, ORGS_MAX);
          const engine = parseEngine(flags.consensus);
          const basePort = parsePositiveInt('base-port', flags.basePort, 65535);
          if (existsSync(dir) && readdirSync(dir).length > 0)
            throw new CliError(`${dir} is not empty and holds no consortium (no genesis.block); choose an empty or new --dir`, 2);
          created = existsSync(dir) ? 'contents' : 'dir';
          out.info(`creating a consortium of ${orgs} hospitals (${engine}) in ${dir} …`);
          try {
            await initConsortium({ dir, orgs, engine, basePort, assetsPolicy: flags.assetsPolicy });
          } catch (err) {
            removeCreated(dir, created);
            throw new CliError(`could not create the consortium in ${dir} (nothing was left behind): ${(err as Error).message}`, 1);
          }
        } else if (cmd.getOptionValueSource('basePort') === 'cli') {
          // Ports are fixed when a consortium is created (they are in every node.yaml and the genesis
          // configuration): an explicit --base-port that differs would be silently ignored. Refuse.
          const ports = existingBasePort(dir);
          const asked = parsePositiveInt('base-port', flags.basePort, 65535);
          if (ports !== null && ports !== asked)
            throw new CliError(
              `--base-port ${asked}: ${dir} already holds a consortium on ports from ${ports} (fixed when it was created). Leave out --base-port to start it, or give a new --dir to create one on other ports`,
              2,
            );
        }
        const dirs = nodeDirs(dir);
        if (dirs.length === 0) throw new CliError(`${dir} holds no node configurations (<org>/node.yaml)`, 2);
        const running = dirs.filter((d) => {
          const pid = readPid(d);
          return pid !== null && isAlive(pid);
        });
        if (running.length > 0)
          throw new CliError(
            `nodes are already running in ${dir} (${running.map((d) => d.split('/').pop()).join(', ')}); run medledger down --dir ${flags.dir} first`,
            1,
          );
        // Build the console once here, not in five node processes at the same time.
        const built = await ensureConsoleBuilt().catch((err: unknown) => {
          out.error(`the web console could not be built (the nodes run without it): ${(err as Error).message}`);
          return null;
        });
        if (built?.built) out.info(`web console built (${(built.bytes / 1024).toFixed(0)} KiB)`);
        out.info(`starting ${dirs.length} nodes …`);
        const started = dirs.map((d) => {
          const pid = spawnNode(d, {
            detached: flags.detach ?? false,
            ...(flags.demo ? { env: { MEDLEDGER_CONSOLE_DEMOUSERS: 'true' } } : {}),
            ...(flags.cpuProf ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${resolve(flags.cpuProf)}`] } : {}),
          });
          writeFileSync(join(d, 'node.pid'), `${pid}\n`);
          return { nodeDir: d, pid };
        });
        let statuses: NodeStatusFile[];
        try {
          statuses = await waitUntilReady(started, READY_TIMEOUT_MS);
        } catch (err) {
          await stopProcesses(
            started.map((s) => s.pid),
            5_000,
          );
          for (const s of started) rmSync(join(s.nodeDir, 'node.pid'), { force: true });
          if (created) removeCreated(dir, created);
          throw new CliError(`${(err as Error).message}${created ? `\n(the consortium this run created in ${dir} was removed)` : ''}`, 1);
        }
        out.result(
          {
            dir,
            nodes: statuses.map((s) => ({ org: s.org, nodeId: s.nodeId, pid: s.pid, p2pUrl: s.p2pUrl, apiUrl: s.apiUrl, consoleUrl: s.consoleUrl ?? null })),
          },
          () =>
            [`MedLedger consortium is up (${dir})`, describeNodes(statuses), '', `logs: ${dir}/<org>/node.log   stop: medledger down --dir ${flags.dir}`].join(
              '\n',
            ),
        );
        if (flags.detach) return;
        out.info(UP_RUNNING_LINE);
        await new Promise<void>((resolveWait) => {
          const stop = (): void => {
            out.info('stopping …');
            stopProcesses(started.map((s) => s.pid)).then(
              () => {
                for (const s of started) rmSync(join(s.nodeDir, 'node.pid'), { force: true });
                resolveWait();
              },
              () => resolveWait(),
            );
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          // A node that dies in the foreground run is reported, not silently ignored.
          const watch = setInterval(() => {
            for (const s of started) {
              if (!isAlive(s.pid) && existsSync(join(s.nodeDir, 'node.pid'))) {
                out.error(`node in ${s.nodeDir} exited:\n${tailLog(s.nodeDir)}`);
                rmSync(join(s.nodeDir, 'node.pid'), { force: true });
                ctx.exitCode = 1;
              }
            }
          }, 1_000);
          watch.unref();
        });
      },
    );

  program
    .command('down')
    .description('Stop the nodes of a local consortium started with medledger up')
    .option('--dir <dir>', 'consortium directory', DEFAULT_DIR)
    .option('--json', 'print the result as JSON')
    .action(async (flags: { dir: string; json?: boolean }) => {
      const out = makeOutput(flags.json ?? false);
      const dir = resolve(flags.dir);
      const dirs = nodeDirs(dir);
      if (dirs.length === 0) throw new CliError(`${dir} holds no consortium`, 2);
      const pids = dirs.map((d) => ({ d, pid: readPid(d) })).filter((x): x is { d: string; pid: number } => x.pid !== null);
      const alive = pids.filter((x) => isAlive(x.pid));
      const killed = await stopProcesses(alive.map((x) => x.pid));
      for (const x of pids) rmSync(join(x.d, 'node.pid'), { force: true });
      out.result(
        { stopped: alive.length, forced: killed.length },
        () => `stopped ${alive.length} node(s)${killed.length ? ` (${killed.length} had to be killed)` : ''}`,
      );
    });
}
