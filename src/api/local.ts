// A whole consortium inside one process: initConsortium, one MedLedgerNode per organisation
// (real mTLS between them, real disks) and each node's REST gateway on its configured port.
// Used by `medledger bench` (when not pointed at a running consortium) and by the API tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNodeConfig, readPem } from '../node/config.ts';
import { initConsortium, type EngineName } from '../node/init.ts';
import { createLogger } from '../log/log.ts';
import { MedLedgerNode } from '../node/node.ts';
import { apiLimitsOf, startApiServer, type ApiServer, type ApiServerOptions } from './server.ts';
import { freeBasePort } from '../node/ports.ts';

export interface LocalConsortium {
  readonly dir: string;
  readonly nodes: readonly MedLedgerNode[];
  readonly apis: readonly ApiServer[];
  stop(): Promise<void>;
}

export interface LocalConsortiumOptions {
  readonly orgs: number;
  readonly engine: EngineName;
  /** Default: a fresh temporary directory, removed by stop(). */
  readonly dir?: string;
  readonly basePort?: number;
  readonly tickMs?: number;
  /** Endorsement policy of the assets contract: majority (default), any, or an expression (node/init.ts). */
  readonly assetsPolicy?: string;
  readonly api?: Partial<Pick<ApiServerOptions, 'bodyLimitBytes' | 'limits' | 'clock'>>;
  readonly readyTimeoutMs?: number;
}

const PORT_ATTEMPTS_MAX = 4;

export async function startLocalConsortium(opts: LocalConsortiumOptions): Promise<LocalConsortium> {
  // A random port range can be taken on a shared machine: with our own directory and ports,
  // try a few other ranges before giving up.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      const retry = opts.dir === undefined && opts.basePort === undefined && /EADDRINUSE/.test((err as Error).message) && attempt < PORT_ATTEMPTS_MAX;
      if (!retry) throw err;
    }
  }
}

async function startOnce(opts: LocalConsortiumOptions): Promise<LocalConsortium> {
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'medledger-local-'));
  const basePort = opts.basePort ?? (await freeBasePort(opts.orgs));
  const init = await initConsortium({
    dir,
    orgs: opts.orgs,
    engine: opts.engine,
    basePort,
    ...(opts.tickMs ? { tickMs: opts.tickMs } : {}),
    ...(opts.assetsPolicy !== undefined ? { assetsPolicy: opts.assetsPolicy } : {}),
  });
  const nodes: MedLedgerNode[] = [];
  const apis: ApiServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(apis.map((a) => a.close()));
    await Promise.all(nodes.map((n) => n.stop()));
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of init.nodes) {
      const config = loadNodeConfig(n.configPath);
      const node = await MedLedgerNode.start(config);
      nodes.push(node);
      apis.push(
        await startApiServer(node, {
          host: config.listen.api.host,
          port: config.listen.api.port,
          tls: {
            certChainPem: `${readPem(config.identity.cert, 'node certificate').trim()}\n${readPem(config.identity.orgCa, 'organisation CA certificate').trim()}\n`,
            keyPem: readPem(config.identity.key, 'node key'),
          },
          bodyLimitBytes: opts.api?.bodyLimitBytes ?? config.limits.requestBodyBytesMax,
          logger: createLogger('api', { node: node.nodeId }),
          limits: { ...apiLimitsOf(config), ...opts.api?.limits },
          ...(opts.api?.clock ? { clock: opts.api.clock } : {}),
        }),
      );
    }
    await waitForLeader(nodes, opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { dir, nodes, apis, stop };
}

/** Every node knows a leader/primary (engines without one report themselves or null: then any). */
async function waitForLeader(nodes: readonly MedLedgerNode[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const views = nodes.map((n) => n.status().consensus);
    if (views.every((c) => c !== null && typeof c.leader === 'string' && c.leader !== '')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the consortium did not agree on a leader within ${timeoutMs} ms`);
}
