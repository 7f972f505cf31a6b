// Tests and demo: a real consortium (initConsortium + MedLedgerNode per org over mTLS, Raft) with a
// RecordService attached to every node, and callers that sign as the consortium's demo users.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Identity } from '../identity/index.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerEnrolmentRoutes, type EnrolmentRoutesOptions } from '../api/enrolment-routes.ts';
import { registerHealthRoutes } from '../api/health-routes.ts';
import { startApiServer, type ApiServer } from '../api/server.ts';
import { loadNodeConfig, readPem } from '../node/config.ts';
import { createLogger } from '../log/log.ts';
import { initConsortium, type EngineName } from '../node/init.ts';
import { MedLedgerNode } from '../node/node.ts';
import { gatewayCaller, type HealthCaller } from '../records/caller.ts';
import { RecordService, type RecordServiceOptions } from '../records/service.ts';
import { freeBasePort } from '../node/ports.ts';

export { patientPseudonym, pseudonymOf } from '../identity/pseudonym.ts';

export interface RecordsNetwork {
  readonly dir: string;
  readonly orgs: readonly string[];
  readonly nodes: ReadonlyMap<string, MedLedgerNode>;
  readonly services: ReadonlyMap<string, RecordService>;
  readonly apis: ReadonlyMap<string, ApiServer>;
  /** org → http://127.0.0.1:<port> of its console listener (with `console`). */
  readonly consoleUrls: ReadonlyMap<string, string>;
  caller(org: string, user: string, viaOrg?: string): HealthCaller;
  /**
   * Restart one organisation's node and record service from the same data directory (its
   * journal, keys and ledger survive). `crash: true` closes the service without a last flush.
   * Not with `api: true` (the API server would keep the old service).
   */
  restart(org: string, opts?: { crash?: boolean; service?: (node: MedLedgerNode) => RecordServiceOptions }): Promise<RecordService>;
  stop(): Promise<void>;
}

export async function waitForLeader(nodes: readonly MedLedgerNode[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const leader = nodes
      .map((n) => n.status().consensus as { leader?: string | null } | null)
      .find((c) => c && typeof c.leader === 'string' && c.leader !== '');
    if (leader) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no leader elected within ${timeoutMs} ms`);
}

export async function startRecordsNetwork(
  opts: {
    orgs?: number;
    /** Custodians journal and record served reads on chain (default false: only `access` audits a read). */
    recordServedReads?: boolean;
    api?: boolean;
    /** With `api`: also the registration and enrolment routes (decision 1252), each node's store under its data dir. */
    enrolment?: boolean | Omit<EnrolmentRoutesOptions, 'storePath'>;
    /**
     * With `api`: also serve the web console (built into `assetsDir`) on a loopback plain-HTTP
     * listener per node (RecordsNetwork.consoleUrls), optionally offering the demo users.
     */
    console?: { readonly assetsDir: string; readonly demoUsers?: boolean };
    /** Per-organisation service options (override the above). */
    service?: (org: string, node: MedLedgerNode) => RecordServiceOptions;
    /** The ordering engine (default raft) and its options (e.g. gpbft's ratingThreshold). */
    engine?: EngineName;
    engineOptions?: Readonly<Record<string, unknown>>;
  } = {},
): Promise<RecordsNetwork> {
  const dir = mkdtempSync(join(tmpdir(), 'medledger-records-'));
  const basePort = await freeBasePort(opts.orgs ?? 3);
  const init = await initConsortium({
    dir,
    orgs: opts.orgs ?? 3,
    engine: opts.engine ?? 'raft',
    basePort,
    tickMs: 20,
    ...(opts.engineOptions ? { engineOptions: opts.engineOptions } : {}),
  });
  const nodes = new Map<string, MedLedgerNode>();
  const services = new Map<string, RecordService>();
  const apis = new Map<string, ApiServer>();
  const consoleUrls = new Map<string, string>();
  const stop = async (): Promise<void> => {
    for (const a of apis.values()) await a.close();
    for (const s of services.values()) await s.close();
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  const caller = (org: string, user: string, viaOrg?: string): HealthCaller => {
    const node = nodes.get(viaOrg ?? org);
    if (!node) throw new Error(`no node for ${viaOrg ?? org}`);
    return gatewayCaller(
      node,
      readFileSync(join(dir, 'crypto', org, user, 'cert.pem'), 'utf8'),
      readFileSync(join(dir, 'crypto', org, user, 'key.pem'), 'utf8'),
    );
  };
  try {
    for (const n of init.nodes) {
      const config = loadNodeConfig(n.configPath);
      const node = await MedLedgerNode.start(config);
      nodes.set(n.org, node);
      const records = RecordService.attach(node, { recordServedReads: opts.recordServedReads ? {} : false, ...opts.service?.(n.org, node) });
      services.set(n.org, records);
      if (opts.api) {
        apis.set(
          n.org,
          await startApiServer(node, {
            host: config.listen.api.host,
            port: config.listen.api.port,
            tls: {
              certChainPem: `${readPem(config.identity.cert, 'cert').trim()}\n${readPem(config.identity.orgCa, 'org CA').trim()}\n`,
              keyPem: readPem(config.identity.key, 'key'),
            },
            bodyLimitBytes: 8 * 1024 * 1024,
            logger: createLogger('api', { node: node.nodeId }),
            routes: [
              (app, who) => registerHealthRoutes(app, who, records),
              ...(opts.enrolment
                ? [
                    (app: FastifyInstance, who: (req: FastifyRequest) => Identity) =>
                      void registerEnrolmentRoutes(app, who, node, {
                        ...(typeof opts.enrolment === 'object' ? opts.enrolment : {}),
                        storePath: join(config.node.dataDir, 'enrolment', 'enrolments.sqlite'),
                      }),
                  ]
                : []),
            ],
            ...(opts.console
              ? {
                  console: {
                    assetsDir: opts.console.assetsDir,
                    demoUsers: opts.console.demoUsers ? { cryptoDir: join(dir, 'crypto'), org: n.org } : null,
                    listen: { host: '127.0.0.1', port: 0 },
                  },
                }
              : {}),
          }),
        );
        const consoleUrl = apis.get(n.org)!.consoleUrl;
        if (opts.console && !consoleUrl) throw new Error(`the console of ${n.org} is not listening`);
        if (consoleUrl) consoleUrls.set(n.org, consoleUrl);
      }
    }
    await waitForLeader([...nodes.values()]);
  } catch (err) {
    await stop();
    throw err;
  }
  const restart = async (org: string, r: { crash?: boolean; service?: (node: MedLedgerNode) => RecordServiceOptions } = {}): Promise<RecordService> => {
    if (apis.size > 0) throw new Error('restart is not supported with api: true');
    const n = init.nodes.find((x) => x.org === org);
    const node = nodes.get(org);
    if (!n || !node) throw new Error(`no node for ${org}`);
    await services.get(org)?.close({ flush: r.crash !== true });
    services.delete(org);
    await node.stop();
    nodes.delete(org);
    const again = await MedLedgerNode.start(loadNodeConfig(n.configPath));
    nodes.set(org, again);
    const records = RecordService.attach(again, { recordServedReads: opts.recordServedReads ? {} : false, ...r.service?.(again) });
    services.set(org, records);
    // The others may still follow the stopped node as leader: wait until all agree on one, so the
    // next transaction does not wait out an election.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const leaders = [...nodes.values()].map((x) => (x.status().consensus as { leader?: string | null } | null)?.leader ?? '');
      if (leaders.every((l) => l !== '' && l === leaders[0])) break;
      if (Date.now() > deadline) throw new Error(`nodes do not agree on a leader after restarting ${org}: ${leaders.join(', ')}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    return records;
  };
  return { dir, orgs: init.nodes.map((n) => n.org), nodes, services, apis, consoleUrls, caller, restart, stop };
}
