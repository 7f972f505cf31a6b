// The operator's side of a membership application (issue 12 item 3; decision 1250):
//
//   applicant:  apply     its CA (self-signed), node and users made here; the signed application
//                         file to send; <dir>/applicant.json remembers where its node will listen
//   admins:     review    the file checked (signature, certificates) and against the config in force
//               propose   the root certifies the applicant's CA key; the config update that adds
//                         it goes through config sign / submit like any other (majority of admins)
//   applicant:  join      from any member node: the config in force (which must hold *its* CA key),
//                         the genesis block and the root certificate it was given out of band;
//                         the directory becomes a one-hospital consortium directory + node.yaml
//
// The logic lives here; src/cli/commands/org.ts holds the commands.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { parseCertificate } from '../crypto/x509.ts';
import {
  ApplicationError,
  createApplication,
  encodeApplicationFile,
  publicKeyFingerprintHex,
  saveApplicantIdentities,
  verifyApplication,
  type VerifiedApplication,
} from '../identity/application.ts';
import { certifyOrgCa, Msp, ROLES, saveConsortium, type CertificateAuthority, type ConsortiumIdentity, type Role } from '../identity/index.ts';
import { newPseudonymKey, savePseudonymKey } from '../identity/pseudonym.ts';
import { blockHash, decodeBlock } from '../ledger/block.ts';
import { toHex } from '../codec/index.ts';
import { configOfGenesis, type ConsortiumConfig, type NodeEndpointConfig } from '../ledger/config.ts';
import { RUNTIME_MEMBERSHIP_ENGINES } from '../ledger/config-update.ts';
import type { HospitalEntry } from '../ledger/membership.ts';
import { demoUsersOf, writeNodeYaml } from '../node/init.ts';
import { CliError } from './output.ts';

/** Where an applicant's node listens and who its users are: written by apply, read by join. */
const ApplicantStateSchema = z
  .object({
    format: z.literal('medledger-applicant/v1'),
    org: z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/),
    nodeId: z.string().min(1).max(64),
    listenHost: z.string().min(1).max(255),
    p2pPort: z.number().int().min(1).max(65535),
    apiPort: z.number().int().min(1).max(65535),
    users: z.array(z.object({ name: z.string().min(1).max(64), role: z.enum(ROLES as [Role, ...Role[]]) }).strict()).max(1000),
  })
  .strict();
type ApplicantState = z.infer<typeof ApplicantStateSchema>;

export const APPLICANT_FILE = 'applicant.json';
export const APPLICATION_FILE = 'application.json';

function applicationFailure(err: unknown, what: string): never {
  if (err instanceof ApplicationError) throw new CliError(`${what}: refused (${err.code}): ${err.message}`, err.code === 'MALFORMED' ? 2 : 1);
  throw err;
}

/** Read and check an application file (size first: it comes from outside). */
export function readApplicationFile(path: string): VerifiedApplication {
  if (!existsSync(path)) throw new CliError(`application ${path}: no such file`, 2);
  const size = statSync(path).size;
  if (size > 64 * 1024) throw new CliError(`application ${path}: refused (MALFORMED): ${size} bytes, an application file is at most 65536`, 2);
  try {
    return verifyApplication(readFileSync(path, 'utf8'), Date.now());
  } catch (err) {
    applicationFailure(err, `application ${path}`);
  }
}

export interface ApplyOptions {
  readonly dir: string;
  readonly org: string;
  /** Host the other nodes reach this node at (in its URLs and its certificate). */
  readonly host: string;
  readonly listenHost: string;
  readonly p2pPort: number;
  readonly apiPort: number;
  readonly contact: { name: string; email: string; phone?: string };
  readonly note?: string;
  /** Issue the demo users (doctors, nurses, patients …) besides admin1. */
  readonly demoUsers: boolean;
  readonly out: string;
}

export async function applyForMembership(o: ApplyOptions): Promise<{ application: string; fingerprint: string; cryptoDir: string }> {
  if (existsSync(join(o.dir, 'genesis.block'))) throw new CliError(`--dir ${o.dir} already holds a consortium; an application is made in a new directory`, 2);
  if (existsSync(join(o.dir, APPLICANT_FILE)) || existsSync(join(o.dir, 'crypto', o.org)))
    throw new CliError(`--dir ${o.dir} already holds an application of ${o.org} (keys are never overwritten); use another directory`, 2);
  const cryptoDir = join(o.dir, 'crypto');
  const pseudonymKey = newPseudonymKey();
  const users = o.demoUsers ? demoUsersOf(o.org, pseudonymKey) : [{ commonName: 'admin1', role: 'admin' as const }];
  const hosts = [...new Set([o.host, 'localhost', ...(o.listenHost === '0.0.0.0' || o.listenHost === '::' ? [] : [o.listenHost])])];
  let created;
  try {
    created = await createApplication({
      org: o.org,
      hosts,
      p2pUrl: `wss://${o.host}:${o.p2pPort}`,
      apiUrl: `https://${o.host}:${o.apiPort}`,
      contact: o.contact,
      ...(o.note === undefined ? {} : { note: o.note }),
      users,
    });
  } catch (err) {
    applicationFailure(err, 'application');
  }
  saveApplicantIdentities(cryptoDir, created);
  savePseudonymKey(cryptoDir, o.org, pseudonymKey);
  const state: ApplicantState = {
    format: 'medledger-applicant/v1',
    org: o.org,
    nodeId: created.node.commonName,
    listenHost: o.listenHost,
    p2pPort: o.p2pPort,
    apiPort: o.apiPort,
    users: created.users.map((u) => ({ name: u.commonName, role: u.role })),
  };
  writeFileSync(join(o.dir, APPLICANT_FILE), `${JSON.stringify(state, null, 2)}\n`, { flag: 'wx' });
  const text = encodeApplicationFile(created.file);
  writeFileSync(join(o.dir, APPLICATION_FILE), text, { flag: 'wx' });
  if (o.out !== join(o.dir, APPLICATION_FILE)) writeFileSync(o.out, text);
  return { application: o.out, fingerprint: publicKeyFingerprintHex(parseCertificate(created.ca.certPem).publicKey), cryptoDir };
}

/**
 * What stands in the way of admitting the applicant under `config`: an empty list when nothing.
 * (The config update's own validation would refuse most of these too, but only after the admins
 * signed; a reviewer should hear it first.)
 */
export function conflictsWithConfig(v: VerifiedApplication, config: ConsortiumConfig): string[] {
  const a = v.application;
  const problems: string[] = [];
  if (config.orgs.some((o) => o.org.toLowerCase() === a.org.toLowerCase())) problems.push(`${a.org} is already a member of the consortium`);
  for (const n of config.nodes ?? []) {
    if (n.id === a.nodeId) problems.push(`node id ${a.nodeId} is already ${n.org}'s`);
    if (n.p2pUrl === a.p2pUrl || n.apiUrl === a.apiUrl) problems.push(`${n.id} already uses ${n.p2pUrl === a.p2pUrl ? a.p2pUrl : a.apiUrl}`);
  }
  for (const o of config.orgs) {
    if (publicKeyFingerprintHex(parseCertificate(o.caCertPem).publicKey) === v.caKeyFingerprintHex) problems.push(`the CA key is already ${o.org}'s`);
  }
  return problems;
}

/** The roles the applicant's node gets: it orders too where the engine's orderer set can change at runtime. */
export function rolesFor(engine: string): NodeEndpointConfig['roles'] {
  return RUNTIME_MEMBERSHIP_ENGINES.has(engine) ? ['peer', 'orderer'] : ['peer'];
}

/** The config entry of an admitted applicant, with its CA as the root certified it. */
export function hospitalFromApplication(v: VerifiedApplication, certifiedCaPem: string, engine: string): HospitalEntry {
  const a = v.application;
  return {
    org: a.org,
    caCertPem: certifiedCaPem,
    nodeCertPem: a.nodeCertPem,
    endpoint: { id: a.nodeId, org: a.org, roles: rolesFor(engine), p2pUrl: a.p2pUrl, apiUrl: a.apiUrl },
  };
}

/**
 * The applicant's CA certified by the root: issued here with the root key, or given (`givenPem`,
 * certified where the root key is) and then checked to be the applicant's key and name under
 * `rootCertPem`.
 */
export async function certifiedCa(v: VerifiedApplication, rootCertPem: string, source: { rootKeyPem: string } | { givenPem: string }): Promise<string> {
  const org = v.application.org;
  let pem: string;
  if ('rootKeyPem' in source) {
    const root: CertificateAuthority = {
      name: parseCertificate(rootCertPem).subject.commonName ?? '',
      org: null,
      certPem: rootCertPem,
      keyPem: source.rootKeyPem,
    };
    try {
      pem = await certifyOrgCa(root, v.application.caCertPem, org);
    } catch (err) {
      throw new CliError(`cannot certify ${org}'s CA: ${(err as Error).message}`, 1);
    }
  } else {
    pem = source.givenPem;
  }
  let cert;
  try {
    cert = parseCertificate(pem);
    new Msp({ rootCertPem, orgs: [{ org, caCertPem: pem }] });
  } catch (err) {
    throw new CliError(`--org-ca: not ${org}'s CA certified by the consortium root: ${(err as Error).message}`, 1);
  }
  if (publicKeyFingerprintHex(cert.publicKey) !== v.caKeyFingerprintHex)
    throw new CliError(`--org-ca: certifies another key than the application's CA key (${v.caKeyFingerprintHex.slice(0, 16)}…)`, 1);
  return pem;
}

/** The text a reviewer reads: everything derived from the checked file. */
export function describeApplication(v: VerifiedApplication): string[] {
  const a = v.application;
  return [
    `application of ${a.org} (made ${new Date(a.createdAtMs).toISOString()})`,
    `  node        ${a.nodeId}`,
    `  p2p         ${a.p2pUrl}`,
    `  API         ${a.apiUrl}`,
    `  contact     ${a.contact.name} <${a.contact.email}>${a.contact.phone ? `, ${a.contact.phone}` : ''}`,
    ...(a.note ? [`  note        ${a.note}`] : []),
    `  CA key      sha256:${v.caKeyFingerprintHex}`,
    '  signature   valid (signed by that CA key); CA self-signed for ' + a.org + '; node certificate issued by it for its URLs',
    '  compare the CA key fingerprint with the one the hospital gave you by another channel (phone, letter) before signing',
  ];
}

export interface JoinPlan {
  readonly config: ConsortiumConfig;
  readonly sequence: number;
  readonly certifiedCaPem: string;
  readonly endpoint: NodeEndpointConfig;
  readonly genesisBytes: Uint8Array;
}

export function readApplicantState(dir: string): ApplicantState {
  const path = join(dir, APPLICANT_FILE);
  if (!existsSync(path)) throw new CliError(`--dir ${dir}: no application was made here (${APPLICANT_FILE} missing; run medledger org apply)`, 2);
  try {
    return ApplicantStateSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new CliError(`${path}: ${(err as Error).message.slice(0, 300)}`, 2);
  }
}

/**
 * Check what a member node sent against what this applicant knows: the config in force lists
 * this hospital with this CA key (not another applicant's of the same name) and this node's
 * URLs; the genesis block belongs to the consortium of `rootCertPem` (given out of band).
 */
export function planJoin(
  dir: string,
  state: ApplicantState,
  live: { sequence: number; config: ConsortiumConfig },
  genesisBytes: Uint8Array,
  rootCertPem: string,
  genesisHashHex?: string,
): JoinPlan {
  const own = verifyApplicationIn(dir);
  const { config } = live;
  if (config.rootCertPem.trim() !== rootCertPem.trim())
    throw new CliError("the node's consortium has another root CA than --root-ca: not the consortium you applied to", 1);
  const entry = config.orgs.find((o) => o.org === state.org);
  if (!entry)
    throw new CliError(
      `${state.org} is not admitted yet: the config in force (sequence ${live.sequence}) lists ${config.orgs.map((o) => o.org).join(', ')}; the admins must commit the update (config propose --application, sign, submit)`,
      1,
    );
  if (publicKeyFingerprintHex(parseCertificate(entry.caCertPem).publicKey) !== own.caKeyFingerprintHex)
    throw new CliError(`the consortium admitted a ${state.org} with another CA key than this directory's: not this application`, 1);
  const endpoint = (config.nodes ?? []).find((n) => n.id === state.nodeId);
  if (!endpoint || endpoint.p2pUrl !== own.application.p2pUrl || endpoint.apiUrl !== own.application.apiUrl)
    throw new CliError(`the config in force does not list ${state.nodeId} at ${own.application.p2pUrl} / ${own.application.apiUrl}`, 1);
  let genesisRoot: string;
  let sentHashHex: string;
  try {
    const genesis = decodeBlock(genesisBytes);
    genesisRoot = configOfGenesis(genesis).rootCertPem;
    sentHashHex = toHex(blockHash(genesis.header));
  } catch (err) {
    throw new CliError(`block 0 from the node is not a genesis block: ${(err as Error).message}`, 1);
  }
  if (genesisRoot.trim() !== rootCertPem.trim()) throw new CliError('the genesis block the node sent belongs to another root CA than --root-ca', 1);
  // Another consortium under the same root (a test network, a second consortium of the same
  // hospitals) would pass the checks above; the genesis hash given out of band tells them apart.
  if (genesisHashHex !== undefined && sentHashHex !== genesisHashHex.toLowerCase())
    throw new CliError(`the genesis block the node sent has hash ${sentHashHex}, not the --genesis-hash ${genesisHashHex}: another consortium`, 1);
  return { config, sequence: live.sequence, certifiedCaPem: entry.caCertPem, endpoint, genesisBytes };
}

function verifyApplicationIn(dir: string): VerifiedApplication {
  return readApplicationFile(join(dir, APPLICATION_FILE));
}

/**
 * Make the applicant's directory a consortium directory for its one hospital: the certified CA
 * (the self-signed one kept as ca-selfsigned.pem), the root certificate, the manifest, the genesis
 * block and <dir>/<org>/node.yaml. Returns the node.yaml path.
 */
export function configureJoined(dir: string, state: ApplicantState, plan: JoinPlan, rootCertPem: string): string {
  const cryptoDir = join(dir, 'crypto');
  const orgDir = join(cryptoDir, state.org);
  const read = (p: string): string => readFileSync(p, 'utf8');
  if (!existsSync(join(orgDir, 'ca-selfsigned.pem'))) renameSync(join(orgDir, 'ca.pem'), join(orgDir, 'ca-selfsigned.pem'));
  writeFileSync(join(orgDir, 'ca.pem'), plan.certifiedCaPem, { mode: 0o644 });
  const load = (name: string, role: Role): ConsortiumIdentity => {
    const certPem = read(join(orgDir, name, 'cert.pem'));
    const keyPem = read(join(orgDir, name, 'key.pem'));
    return Object.freeze({
      certPem,
      keyPem,
      serialHex: parseCertificate(certPem).serialHex,
      org: state.org,
      commonName: name,
      role,
      pseudonym: parseCertificate(certPem).subject.pseudonym,
    });
  };
  const ca: CertificateAuthority = { name: `${state.org} CA`, org: state.org, certPem: plan.certifiedCaPem, keyPem: read(join(orgDir, 'ca-key.pem')) };
  const root: CertificateAuthority = { name: parseCertificate(rootCertPem).subject.commonName ?? 'root', org: null, certPem: rootCertPem, keyPem: '' };
  saveConsortium(
    {
      root,
      orgCas: new Map([[state.org, ca]]),
      nodes: new Map([[state.org, load(state.nodeId, 'peer')]]),
      users: state.users.map((u) => load(u.name, u.role)),
      mspConfig: { rootCertPem, orgs: [{ org: state.org, caCertPem: plan.certifiedCaPem }] },
    },
    cryptoDir,
    { overwrite: true, includeRootKey: false },
  );
  // Block 0 as the consortium has it, byte for byte: its hash anchors the chain the node will sync.
  writeFileSync(join(dir, 'genesis.block'), plan.genesisBytes);
  return writeNodeYaml({
    dir,
    org: state.org,
    nodeId: state.nodeId,
    roles: plan.endpoint.roles,
    host: state.listenHost,
    p2pPort: state.p2pPort,
    apiPort: state.apiPort,
    tickMs: plan.config.ordering.tickMs,
  });
}
