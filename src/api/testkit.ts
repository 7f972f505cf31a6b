// Tests only: a real consortium (initConsortium + MedLedgerNode per org, mTLS between them) with
// each node's REST gateway listening on its configured API port, inside one process.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNodeConfig, readPem } from '../node/config.ts';
import { initConsortium, type EngineName } from '../node/init.ts';
import { createLogger } from '../node/log.ts';
import { MedLedgerNode } from '../node/node.ts';
import { startApiServer, type ApiServer, type ApiServerOptions } from './server.ts';

export interface TestNetwork {
  readonly dir: string;
  readonly nodes: MedLedgerNode[];
  readonly apis: ApiServer[];
  readonly caPem: string;
  user(org: string, name: string): { certPem: string; keyPem: string };
  stop(): Promise<void>;
}

// Quiet unless asked: node logs would drown the test report.
process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

export async function startTestNetwork(opts: { orgs?: number; engine?: EngineName; api?: Partial<Pick<ApiServerOptions, 'bodyLimitBytes' | 'limits' | 'clock'>> } = {}): Promise<TestNetwork> {
  const dir = mkdtempSync(join(tmpdir(), 'medledger-api-'));
  const basePort = 20_000 + Math.floor(Math.random() * 20_000);
  const init = await initConsortium({ dir, orgs: opts.orgs ?? 3, engine: opts.engine ?? 'raft', basePort, tickMs: 20 });
  const nodes: MedLedgerNode[] = [];
  const apis: ApiServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(apis.map((a) => a.close()));
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const n of init.nodes) {
      const config = loadNodeConfig(n.configPath);
      const node = await MedLedgerNode.start(config);
      nodes.push(node);
      const cert = readPem(config.identity.cert, 'cert');
      const orgCa = readPem(config.identity.orgCa, 'org CA');
      apis.push(await startApiServer(node, {
        host: config.listen.api.host,
        port: config.listen.api.port,
        tls: { certChainPem: `${cert.trim()}\n${orgCa.trim()}\n`, keyPem: readPem(config.identity.key, 'key') },
        bodyLimitBytes: opts.api?.bodyLimitBytes ?? config.limits.requestBodyBytesMax,
        logger: createLogger('api', { node: node.nodeId }),
        ...(opts.api?.limits ? { limits: opts.api.limits } : {}),
        ...(opts.api?.clock ? { clock: opts.api.clock } : {}),
      }));
    }
    await waitForLeader(nodes);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    nodes,
    apis,
    caPem: readFileSync(join(dir, 'crypto', 'root-ca.pem'), 'utf8'),
    user: (org, name) => ({
      certPem: readFileSync(join(dir, 'crypto', org, name, 'cert.pem'), 'utf8'),
      keyPem: readFileSync(join(dir, 'crypto', org, name, 'key.pem'), 'utf8'),
    }),
    stop,
  };
}

async function waitForLeader(nodes: readonly MedLedgerNode[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leader = nodes.map((n) => n.status().consensus as { leader?: string | null } | null).find((c) => c && typeof c.leader === 'string' && c.leader !== '');
    if (leader) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no leader elected within 20 s');
}
