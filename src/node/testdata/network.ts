// Test harness for multi-process tests: a real consortium in a temporary directory, one
// `medledger node start` process per hospital on loopback ports, SDK clients signing as the demo
// users. Everything here uses the product's own commands and files; nothing is mocked.
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConsortium, findIdentity } from '../../identity/index.ts';
import { loadNodeConfig } from '../config.ts';
import { initConsortium, type EngineName } from '../init.ts';
import { isAlive, readStatusFile, spawnNode, stopProcesses, waitUntilReady, type NodeStatusFile } from '../supervisor.ts';
import { MedLedgerClient } from '../../sdk/index.ts';
import { freeBasePort } from '../ports.ts';
import { tempDirRemovedAtExit } from '../../testing/temp-dir.ts';

export interface TestNetwork {
  readonly dir: string;
  readonly orgs: string[];
  readonly pids: Map<string, number>;
  nodeDir(org: string): string;
  client(org: string, user?: string, viaOrg?: string): MedLedgerClient;
  status(org: string): NodeStatusFile | null;
  kill(org: string, signal?: NodeJS.Signals): void;
  restart(org: string): number;
  liveOrgs(): string[];
  waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestNetwork(opts: { orgs: number; engine: EngineName; start?: readonly string[]; engineOptions?: Record<string, unknown> }): Promise<TestNetwork> {
  // Tests read the nodes' files after stop() (ledger verification): the directory goes at exit.
  const dir = tempDirRemovedAtExit(`medledger-net-${opts.engine}-`);
  const basePort = await freeBasePort(opts.orgs);
  const init = await initConsortium({ dir, orgs: opts.orgs, engine: opts.engine, basePort, tickMs: 50, ...(opts.engineOptions ? { engineOptions: opts.engineOptions } : {}) });
  let consortium = loadConsortium(join(dir, 'crypto'));
  const orgs = init.nodes.map((n) => n.org);
  const pids = new Map<string, number>();
  const env = { MEDLEDGER_LOG_LEVEL: 'info' };
  const toStart = opts.start ?? orgs;
  for (const org of toStart) pids.set(org, spawnNode(join(dir, org), { detached: false, env }));
  const clients: MedLedgerClient[] = [];
  const net: TestNetwork = {
    dir,
    orgs,
    pids,
    nodeDir: (org) => join(dir, org),
    client(org, user = 'doctor1', viaOrg = org) {
      // A hospital added at runtime (membership tests) has its identities and node.yaml on disk only.
      if (!findIdentity(consortium, org, user)) consortium = loadConsortium(join(dir, 'crypto'));
      const id = findIdentity(consortium, org, user);
      if (!id) throw new Error(`no identity ${user} in ${org}`);
      const node = init.nodes.find((n) => n.org === viaOrg);
      let apiUrl = node?.apiUrl;
      if (!apiUrl) {
        const c = loadNodeConfig(join(dir, viaOrg, 'node.yaml'));
        apiUrl = `https://${c.listen.api.host}:${c.listen.api.port}`;
      }
      const c = new MedLedgerClient({ url: apiUrl, certPem: id.certPem, keyPem: id.keyPem, caPem: consortium.root.certPem, timeoutMs: 20_000 });
      clients.push(c);
      return c;
    },
    status: (org) => readStatusFile(join(dir, org)),
    kill(org, signal = 'SIGKILL') {
      const pid = pids.get(org);
      if (pid !== undefined) process.kill(pid, signal);
    },
    restart(org) {
      const pid = spawnNode(join(dir, org), { detached: false, env });
      pids.set(org, pid);
      return pid;
    },
    liveOrgs: () => orgs.filter((o) => {
      const pid = pids.get(o);
      return pid !== undefined && isAlive(pid);
    }),
    async waitFor(what, condition, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await sleep(200);
      }
    },
    async stop() {
      for (const c of clients) c.close();
      await stopProcesses([...pids.values()].filter(isAlive), 10_000);
    },
  };
  try {
    await waitUntilReady(toStart.map((org) => ({ nodeDir: join(dir, org), pid: pids.get(org)! })), 120_000);
  } catch (err) {
    await net.stop();
    throw err;
  }
  return net;
}
