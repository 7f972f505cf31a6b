// `medledger init`: everything a consortium needs to start, for a real multi-host deployment or
// the local one `medledger up` runs — the root CA (supervision center / CAMS), one CA per
// hospital, node and demo user certificates, the genesis block (consortium configuration with
// every node's endpoints, contracts and endorsement policies, consensus settings) and one
// node.yaml per hospital.
//
// Layout:
//   <dir>/crypto/…                 identities (see src/identity/consortium.ts); keys mode 0600
//   <dir>/crypto/<org>/pseudonym.key  each hospital's pseudonymisation key: its patients'
//                                  certificates are issued to HMAC(key, "<org>/<login>") (decision 0906)
//   <dir>/genesis.block            block 0, DAG-CBOR
//   <dir>/<org>/node.yaml          the hospital's node configuration (paths relative to it)
//   <dir>/<org>/data/              its ledger, orderer chain and consensus WAL (created on start)
import { majority } from '../ledger/membership.ts';
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { createConsortium, parsePolicy, saveConsortium, type Consortium, type ConsortiumUserSpec, type Role } from '../identity/index.ts';
import { newPseudonymKey, patientPseudonymOf, savePseudonymKey } from '../identity/pseudonym.ts';
import { encodeBlock } from '../ledger/block.ts';
import { genesisBlock, type ConsortiumConfig, type NodeEndpointConfig, type OrderingConfig } from '../ledger/config.ts';
import { ENGINE_NAMES } from './config.ts';
import { NODE_RAFT_OPTIONS } from './raft-options.ts';
import { HEALTH_CONTRACT } from '../contracts/health/contract.ts';
import { makeDirectory } from '../files/directory.ts';

export type EngineName = (typeof ENGINE_NAMES)[number];

/** The five hospitals of the Raft paper's network, with positions for gpbft's grouping. */
const SITES: ReadonlyArray<{ lat: number; lon: number }> = [
  { lat: 45.5017, lon: -73.5673 }, // Montréal
  { lat: 45.4215, lon: -75.6972 }, // Ottawa
  { lat: 43.6532, lon: -79.3832 }, // Toronto
  { lat: 46.8139, lon: -71.208 }, // Québec
  { lat: 44.2312, lon: -76.486 }, // Kingston
];

/** Demo users every hospital gets (issue 6 adds patients and researchers to the same list). */
export const DEMO_USERS: ReadonlyArray<{ commonName: string; role: Role }> = [
  { commonName: 'admin1', role: 'admin' },
  { commonName: 'supervisor1', role: 'supervisor' },
  { commonName: 'doctor1', role: 'doctor' },
  { commonName: 'doctor2', role: 'doctor' },
  { commonName: 'nurse1', role: 'nurse' },
  { commonName: 'patient1', role: 'patient' },
  { commonName: 'patient2', role: 'patient' },
  { commonName: 'researcher1', role: 'researcher' },
  { commonName: 'auditor1', role: 'supervisor' },
];

/**
 * The demo users of one hospital, its patients with their pseudonyms: HMAC under the hospital's
 * pseudonymisation key of "<org>/<login>", so the hospital (and only it) can recompute a
 * patient's pseudonym when it re-issues their certificate.
 */
export function demoUsersOf(org: string, pseudonymKey: string): ConsortiumUserSpec[] {
  return DEMO_USERS.map((u) => (u.role === 'patient' ? { ...u, pseudonym: patientPseudonymOf(pseudonymKey, org, u.commonName) } : { ...u }));
}

export interface InitOptions {
  readonly dir: string;
  readonly orgs: number;
  readonly engine: EngineName;
  /** First port; node i listens p2p on basePort + 2i and serves its API on basePort + 2i + 1. */
  readonly basePort: number;
  readonly host?: string;
  readonly consortiumName?: string;
  /** Raft tick length; elections take 10–20 ticks. */
  readonly tickMs?: number;
  /** Engine options merged over the defaults (tests: e.g. raft snapshotEntries to force snapshots). */
  readonly engineOptions?: Readonly<Record<string, unknown>>;
  /**
   * Endorsement policy of the `assets` contract (the benchmark's): 'majority' (the default),
   * 'any' (one peer of any organisation), or a policy expression.
   */
  readonly assetsPolicy?: string;
  /**
   * Where node i listens and how the others reach it, when that is not `host` and basePort + 2i
   * (the fault suite: each node in its own network namespace, p2p traffic through a fault proxy).
   */
  readonly addresses?: (
    index: number,
    ports: { p2pPort: number; apiPort: number },
  ) => { listenHost: string; p2pUrl: string; apiUrl: string; certHosts: readonly string[] };
}

export interface InitResult {
  readonly dir: string;
  readonly genesisPath: string;
  readonly nodes: ReadonlyArray<NodeEndpointConfig & { readonly configPath: string }>;
  readonly consortium: Consortium;
}

export const ORGS_MAX = 32;

export function orgName(index: number): string {
  return `Hospital${index + 1}`;
}

/** The console listener's port: the API port + 1000 (7401 → 8401). */
export function consolePortOf(apiPort: number): number {
  return apiPort + CONSOLE_PORT_OFFSET;
}
export const CONSOLE_PORT_OFFSET = 1000;

export function nodeIdOf(org: string): string {
  return `node.${org}`;
}

/** The default endorsement policy (a majority of the organisations' peers) lives with the config transforms. */
export { majority };

/** One peer of any of the organisations. */
export function anyOrg(orgs: readonly string[]): string {
  return `OutOf(1, ${orgs.map((o) => `'${o}.peer'`).join(', ')})`;
}

/** 'majority', 'any', or a policy expression (checked by parsePolicy). */
export function assetsPolicyText(choice: string | undefined, orgs: readonly string[]): string {
  if (choice === undefined || choice === 'majority') return majority(orgs);
  if (choice === 'any') return anyOrg(orgs);
  parsePolicy(choice);
  return choice;
}

export function engineOptions(engine: EngineName, nodes: readonly NodeEndpointConfig[]): Record<string, unknown> {
  switch (engine) {
    case 'raft':
      return { ...NODE_RAFT_OPTIONS };
    case 'gpbft':
      return {
        coordinates: Object.fromEntries(nodes.map((n) => [n.id, n.location ?? { lat: 0, lon: 0 }])),
        ratings: Object.fromEntries(nodes.map((n) => [n.id, Math.round((n.rating ?? 0.5) * 100)])),
      };
    default:
      return {};
  }
}

/**
 * Write <dir>/<org>/node.yaml for a node whose identity is in <dir>/crypto (paths relative to
 * the file, so the consortium directory can be moved or copied to another host).
 */
export function writeNodeYaml(o: {
  dir: string;
  org: string;
  nodeId: string;
  roles: readonly ('peer' | 'orderer')[];
  host: string;
  p2pPort: number;
  apiPort: number;
  tickMs: number;
}): string {
  const cryptoDir = join(o.dir, 'crypto');
  const nodeDir = join(o.dir, o.org);
  makeDirectory(nodeDir);
  const identityDir = join(cryptoDir, o.org, o.nodeId);
  const rel = (p: string): string => relative(nodeDir, p);
  const yaml = {
    node: { id: o.nodeId, org: o.org, roles: o.roles, dataDir: './data' },
    // The console listener is plain HTTP on loopback whatever the API host (decision 1200).
    listen: { p2p: { host: o.host, port: o.p2pPort }, api: { host: o.host, port: o.apiPort }, console: { host: '127.0.0.1', port: consolePortOf(o.apiPort) } },
    identity: {
      cert: rel(join(identityDir, 'cert.pem')),
      key: rel(join(identityDir, 'key.pem')),
      orgCa: rel(join(cryptoDir, o.org, 'ca.pem')),
      rootCa: rel(join(cryptoDir, 'root-ca.pem')),
    },
    genesis: rel(join(o.dir, 'genesis.block')),
    limits: { requestBodyBytesMax: 1024 * 1024, p2pMessageBytesMax: 16 * 1024 * 1024, tickMs: o.tickMs },
    log: { level: 'info' },
  };
  const configPath = join(nodeDir, 'node.yaml');
  writeFileSync(configPath, `# MedLedger node configuration for ${o.org} (generated by medledger)\n${toYaml(yaml)}`);
  return configPath;
}

export async function initConsortium(options: InitOptions): Promise<InitResult> {
  if (!Number.isInteger(options.orgs) || options.orgs < 1 || options.orgs > ORGS_MAX) throw new RangeError(`--orgs must be 1..${ORGS_MAX}`);
  if (!(ENGINE_NAMES as readonly string[]).includes(options.engine)) throw new RangeError(`unknown consensus ${options.engine}`);
  const highestPort = options.basePort + 2 * options.orgs + CONSOLE_PORT_OFFSET;
  if (!Number.isInteger(options.basePort) || options.basePort < 1024 || highestPort > 65535)
    throw new RangeError(`--base-port must leave room below 65536 for ${2 * options.orgs} ports and the consoles (API port + ${CONSOLE_PORT_OFFSET})`);
  if (existsSync(join(options.dir, 'genesis.block')))
    throw new RangeError(`${options.dir} already holds a consortium (genesis.block exists); choose another --dir`);
  const host = options.host ?? '127.0.0.1';
  const orgs = Array.from({ length: options.orgs }, (_, i) => orgName(i));
  const portsOf = (i: number): { p2pPort: number; apiPort: number } => ({ p2pPort: options.basePort + 2 * i, apiPort: options.basePort + 2 * i + 1 });
  const addressOf = (i: number): { listenHost: string; p2pUrl: string; apiUrl: string } =>
    options.addresses?.(i, portsOf(i)) ?? { listenHost: host, p2pUrl: `wss://${host}:${portsOf(i).p2pPort}`, apiUrl: `https://${host}:${portsOf(i).apiPort}` };
  const pseudonymKeys = new Map(orgs.map((org) => [org, newPseudonymKey()]));
  const consortium = await createConsortium({
    orgs,
    users: orgs.flatMap((org) => demoUsersOf(org, pseudonymKeys.get(org)!).map((u) => ({ org, ...u }))),
    nodeHosts: (org) => {
      const i = orgs.indexOf(org);
      return options.addresses ? [...options.addresses(i, portsOf(i)).certHosts, 'localhost'] : [host, 'localhost'];
    },
  });
  makeDirectory(options.dir);
  const cryptoDir = join(options.dir, 'crypto');
  saveConsortium(consortium, cryptoDir);
  for (const [org, key] of pseudonymKeys) savePseudonymKey(cryptoDir, org, key);

  const nodes: NodeEndpointConfig[] = orgs.map((org, i) => ({
    id: nodeIdOf(org),
    org,
    roles: ['peer', 'orderer'],
    p2pUrl: addressOf(i).p2pUrl,
    apiUrl: addressOf(i).apiUrl,
    location: SITES[i % SITES.length]!,
    rating: Math.round((0.9 - (i % 5) * 0.1) * 100) / 100,
  }));
  const ordering: OrderingConfig = {
    engine: options.engine,
    countMax: 200,
    sizeBytesMax: 4 * 1024 * 1024,
    timeoutTicks: 2,
    pendingMax: 50_000,
    tickMs: options.tickMs ?? 50,
    clockSkewMsMax: 5 * 60_000,
    options: { ...engineOptions(options.engine, nodes), ...options.engineOptions },
  };
  const config: ConsortiumConfig = {
    name: options.consortiumName ?? 'medledger-demo',
    createdAtMs: Date.now(),
    rootCertPem: consortium.root.certPem,
    orgs: orgs.map((org) => ({ org, caCertPem: consortium.orgCas.get(org)!.certPem })),
    orderers: orgs.map((org) => ({ id: nodeIdOf(org), org, certPem: consortium.nodes.get(org)!.certPem })),
    contracts: [
      { name: 'assets', version: '1', endorsementPolicy: assetsPolicyText(options.assetsPolicy, orgs) },
      { name: HEALTH_CONTRACT, version: '1', endorsementPolicy: majority(orgs) },
    ],
    ordering,
    nodes,
    // A new consortium requires every proposal to name it (decision 1389): no transaction of
    // another consortium, nor an unbound one, is ever committed here.
    capabilities: ['proposals-name-consortium'],
  };
  const genesisPath = join(options.dir, 'genesis.block');
  writeFileSync(genesisPath, encodeBlock(genesisBlock(config)));

  const written = nodes.map((n, i) => {
    const configPath = writeNodeYaml({
      dir: options.dir,
      org: n.org,
      nodeId: n.id,
      roles: n.roles,
      host: addressOf(i).listenHost,
      ...portsOf(i),
      tickMs: ordering.tickMs,
    });
    return { ...n, configPath };
  });
  return { dir: options.dir, genesisPath, nodes: written, consortium };
}
