// Tests only: a real 3-node consortium in this process (src/api/local.ts), quiet, with helpers
// to read the demo users' credentials.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineName } from '../node/init.ts';
import type { MedLedgerNode } from '../node/node.ts';
import { startLocalConsortium } from './local.ts';
import type { ApiServer, ApiServerOptions } from './server.ts';

// Quiet unless asked: node logs would drown the test report.
process.env.MEDLEDGER_LOG_LEVEL ??= 'silent';

export interface TestNetwork {
  readonly dir: string;
  readonly nodes: readonly MedLedgerNode[];
  readonly apis: readonly ApiServer[];
  readonly caPem: string;
  user(org: string, name: string): { certPem: string; keyPem: string };
  stop(): Promise<void>;
}

export async function startTestNetwork(
  opts: { orgs?: number; engine?: EngineName; api?: Partial<Pick<ApiServerOptions, 'bodyLimitBytes' | 'limits' | 'clock'>> } = {},
): Promise<TestNetwork> {
  const local = await startLocalConsortium({ orgs: opts.orgs ?? 3, engine: opts.engine ?? 'raft', tickMs: 20, ...(opts.api ? { api: opts.api } : {}) });
  return {
    ...local,
    caPem: readFileSync(join(local.dir, 'crypto', 'root-ca.pem'), 'utf8'),
    user: (org, name) => ({
      certPem: readFileSync(join(local.dir, 'crypto', org, name, 'cert.pem'), 'utf8'),
      keyPem: readFileSync(join(local.dir, 'crypto', org, name, 'key.pem'), 'utf8'),
    }),
  };
}
