// A whole consortium's identities in one step — the root CA, one CA per organisation, one node
// identity per organisation and any users — plus saving/loading them as PEM files. This is
// what `medledger init` / `medledger up` and tests use.
//
// The node identity has role 'peer'. The same identity also runs the organisation's orderer:
// the ordering service authenticates its consenters by their certificates (the consenter set in
// the channel configuration), not by the 'orderer' role, so a policy principal 'Org.orderer'
// does NOT match it. Issue a separate identity with role 'orderer' if a policy needs one.
//
// On-disk layout (all PEM; private keys mode 0600):
//   <dir>/consortium.json          manifest: format, root name, orgs → node + users, revocations
//   <dir>/root-ca.pem              root CA certificate
//   <dir>/root-ca-key.pem          root CA key (move it offline in a real deployment)
//   <dir>/<org>/ca.pem             organisation CA certificate
//   <dir>/<org>/ca-key.pem         organisation CA key
//   <dir>/<org>/<name>/cert.pem    node / user certificate
//   <dir>/<org>/<name>/key.pem     node / user key
//   <dir>/<org>/pseudonym.key      the hospital's pseudonymisation key (written by `medledger init`)
// Org names cannot contain '.', so an org directory never collides with the top-level files.
//
// <name> is the identity's name in this directory — what `--user` names, a login name. It is
// the certificate's common name for every role but patient: a patient's certificate is issued
// to their pseudonym (CN = X.520 pseudonym attribute, decision 0906), so the login name →
// pseudonym mapping stays here, at the patient's hospital, and never reaches the chain.
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { keyMatchesCertificate, parseCertificate, parseP256PrivateKey, X509Error } from '../crypto/x509.ts';
import { createOrgCa, createRootCa, issueCertificate, type CertificateAuthority, type IssuedIdentity } from './ca.ts';
import { IdentityError, Msp, type MspConfig } from './msp.ts';
import { IDENTITY_NAME_PATTERN, isValidIdentityName, isValidOrgName, ORG_NAME_PATTERN, ROLES, type Role } from './roles.ts';
import { makeDirectory } from '../files/directory.ts';

export interface ConsortiumIdentity extends IssuedIdentity {
  readonly org: string;
  /** The identity's name in the consortium directory (its login name); the certificate CN except for patients. */
  readonly commonName: string;
  readonly role: Role;
  /** A patient's pseudonym (their certificate's CN and pseudonym attribute); null for other roles. */
  readonly pseudonym: string | null;
}

/** A user to issue: `pseudonym` is required for role patient (decision 0906) and refused otherwise. */
export interface ConsortiumUserSpec {
  readonly commonName: string;
  readonly role: Role;
  readonly pseudonym?: string;
}

export interface Consortium {
  readonly root: CertificateAuthority;
  /** org → organisation CA, in the order the orgs were given. */
  readonly orgCas: ReadonlyMap<string, CertificateAuthority>;
  /** org → the organisation's node identity (role 'peer', also its orderer; see the header). */
  readonly nodes: ReadonlyMap<string, ConsortiumIdentity>;
  readonly users: readonly ConsortiumIdentity[];
  readonly mspConfig: MspConfig;
}

export interface CreateConsortiumOptions {
  orgs: string[];
  users?: Array<ConsortiumUserSpec & { org: string }>;
  /** Common name of each org's node; default `node.<org>`. */
  nodeCommonName?: (org: string) => string;
  /** subjectAltName hosts of each org's node certificate (mTLS); default localhost, 127.0.0.1. */
  nodeHosts?: (org: string) => string[];
  rootCommonName?: string;
  notBefore?: Date;
  notAfter?: Date;
}

export const CONSORTIUM_ORGS_MAX = 64;
export const CONSORTIUM_USERS_MAX = 10_000;
const MANIFEST_FORMAT = 'medledger-consortium/v1';
const MANIFEST_FILE = 'consortium.json';
const PEM_FILE_SIZE_BYTES_MAX = 64 * 1024;
const MANIFEST_SIZE_BYTES_MAX = 4 * 1024 * 1024;
/** Names that would collide with files in an org directory (compared case-insensitively). */
const RESERVED_NAMES = new Set(['ca.pem', 'ca-key.pem', 'pseudonym.key']);

export function defaultNodeCommonName(org: string): string {
  return `node.${org}`;
}

function invalid(message: string): X509Error {
  return new X509Error('INVALID_REQUEST', message);
}

function checkIdentityName(org: string, name: string, seen: Set<string>): void {
  if (!isValidIdentityName(name)) {
    throw invalid(
      `identity name "${String(name).slice(0, 80)}" in ${org} is not allowed: a letter or digit, then up to 63 letters, digits, '.', '_', '@', '-'`,
    );
  }
  const folded = name.toLowerCase();
  if (RESERVED_NAMES.has(folded)) throw invalid(`identity name "${name}" in ${org} is reserved (it is a file name in the org directory)`);
  // Case-insensitive: on macOS/Windows file systems two such names would share a directory.
  if (seen.has(folded)) throw invalid(`identity name "${name}" appears twice in ${org} (names are compared case-insensitively)`);
  seen.add(folded);
}

/** Issue one user: a patient's certificate is issued to their pseudonym, filed under their name. */
async function issueUser(
  ca: CertificateAuthority,
  org: string,
  user: ConsortiumUserSpec,
  validity: { notBefore?: Date; notAfter?: Date },
): Promise<ConsortiumIdentity> {
  const pseudonym = user.pseudonym ?? null;
  const issued = await issueCertificate(ca, {
    commonName: pseudonym ?? user.commonName,
    role: user.role,
    ...(pseudonym === null ? {} : { pseudonym }),
    ...validity,
  });
  return Object.freeze({ ...issued, org, commonName: user.commonName, role: user.role, pseudonym });
}

export async function createConsortium(opts: CreateConsortiumOptions): Promise<Consortium> {
  const { orgs } = opts;
  const users = opts.users ?? [];
  if (!Array.isArray(orgs) || orgs.length === 0) throw invalid('a consortium needs at least one organisation');
  if (orgs.length > CONSORTIUM_ORGS_MAX) throw invalid(`${orgs.length} organisations, at most ${CONSORTIUM_ORGS_MAX} allowed`);
  if (users.length > CONSORTIUM_USERS_MAX) throw invalid(`${users.length} users, at most ${CONSORTIUM_USERS_MAX} allowed`);
  const foldedOrgs = new Set<string>();
  const namesByOrg = new Map<string, Set<string>>();
  for (const org of orgs) {
    if (!isValidOrgName(org))
      throw invalid(`organisation name "${String(org).slice(0, 80)}" is not allowed: a letter, then up to 63 letters, digits, '_' or '-'`);
    if (foldedOrgs.has(org.toLowerCase())) throw invalid(`organisation "${org}" appears twice (names are compared case-insensitively)`);
    foldedOrgs.add(org.toLowerCase());
    namesByOrg.set(org, new Set());
  }
  const nodeName = opts.nodeCommonName ?? defaultNodeCommonName;
  const nodeNames = new Map<string, string>();
  for (const org of orgs) {
    const name = nodeName(org);
    checkIdentityName(org, name, namesByOrg.get(org) ?? new Set());
    nodeNames.set(org, name);
  }
  const pseudonyms = new Set<string>();
  for (const user of users) {
    const seen = namesByOrg.get(user.org);
    if (seen === undefined)
      throw invalid(`user "${String(user.commonName).slice(0, 80)}" belongs to "${String(user.org).slice(0, 80)}", which is not one of the organisations`);
    checkIdentityName(user.org, user.commonName, seen);
    if (!(ROLES as readonly string[]).includes(user.role))
      throw invalid(`user "${user.commonName}" has role "${String(user.role)}"; issuable roles: ${ROLES.join(', ')}`);
    if (user.pseudonym !== undefined) {
      // One pseudonym names one patient: two certificates with it would be one person on chain.
      if (pseudonyms.has(user.pseudonym))
        throw invalid(`user "${user.commonName}" of ${user.org}: pseudonym ${user.pseudonym.slice(0, 16)}… is already another patient's`);
      pseudonyms.add(user.pseudonym);
    }
  }

  const validity = {
    ...(opts.notBefore === undefined ? {} : { notBefore: opts.notBefore }),
    ...(opts.notAfter === undefined ? {} : { notAfter: opts.notAfter }),
  };
  const root = await createRootCa({ commonName: opts.rootCommonName ?? 'MedLedger Consortium Root CA', ...validity });
  const orgCas = new Map<string, CertificateAuthority>();
  const nodes = new Map<string, ConsortiumIdentity>();
  for (const org of orgs) {
    const ca = await createOrgCa(root, { org, ...validity });
    orgCas.set(org, ca);
    const commonName = nodeNames.get(org) ?? defaultNodeCommonName(org);
    const issued = await issueCertificate(ca, {
      commonName,
      role: 'peer',
      hosts: opts.nodeHosts?.(org) ?? ['localhost', '127.0.0.1'],
      ...validity,
    });
    nodes.set(org, Object.freeze({ ...issued, org, commonName, role: 'peer' as const, pseudonym: null }));
  }
  const issuedUsers: ConsortiumIdentity[] = [];
  for (const user of users) {
    const ca = orgCas.get(user.org);
    if (ca === undefined) throw new Error(`unreachable: no CA for ${user.org}`);
    issuedUsers.push(await issueUser(ca, user.org, user, validity));
  }
  return Object.freeze({
    root,
    orgCas,
    nodes,
    users: Object.freeze(issuedUsers),
    mspConfig: {
      rootCertPem: root.certPem,
      orgs: orgs.map((org) => ({ org, caCertPem: orgCas.get(org)?.certPem ?? '' })),
    },
  });
}

/**
 * A new organisation for an existing consortium (a hospital joining at runtime): its CA is
 * issued by the consortium root — which is why the root key must be at hand — with its node
 * and users. Returns the consortium with the organisation appended; existing identities are
 * kept as they are. The consortium's on-chain config learns of it through a config update.
 */
export async function addOrganisation(
  consortium: Consortium,
  opts: { org: string; users?: ReadonlyArray<ConsortiumUserSpec>; nodeHosts?: string[] },
): Promise<Consortium> {
  const { org } = opts;
  if (!isValidOrgName(org))
    throw invalid(`organisation name "${String(org).slice(0, 80)}" is not allowed: a letter, then up to 63 letters, digits, '_' or '-'`);
  if ([...consortium.orgCas.keys()].some((o) => o.toLowerCase() === org.toLowerCase())) throw invalid(`organisation "${org}" is already in the consortium`);
  if (consortium.orgCas.size >= CONSORTIUM_ORGS_MAX)
    throw invalid(`the consortium has ${consortium.orgCas.size} organisations, at most ${CONSORTIUM_ORGS_MAX} allowed`);
  const users = opts.users ?? [];
  const seen = new Set<string>();
  const commonName = defaultNodeCommonName(org);
  checkIdentityName(org, commonName, seen);
  for (const u of users) {
    checkIdentityName(org, u.commonName, seen);
    if (!(ROLES as readonly string[]).includes(u.role))
      throw invalid(`user "${u.commonName}" has role "${String(u.role)}"; issuable roles: ${ROLES.join(', ')}`);
  }
  const ca = await createOrgCa(consortium.root, { org });
  const node = await issueCertificate(ca, { commonName, role: 'peer', hosts: opts.nodeHosts ?? ['localhost', '127.0.0.1'] });
  const issuedUsers: ConsortiumIdentity[] = [];
  for (const u of users) issuedUsers.push(await issueUser(ca, org, u, {}));
  const orgCas = new Map(consortium.orgCas).set(org, ca);
  const nodes = new Map(consortium.nodes).set(org, Object.freeze({ ...node, org, commonName, role: 'peer' as const, pseudonym: null }));
  return Object.freeze({
    root: consortium.root,
    orgCas,
    nodes,
    users: Object.freeze([...consortium.users, ...issuedUsers]),
    mspConfig: { rootCertPem: consortium.root.certPem, orgs: [...consortium.mspConfig.orgs, { org, caCertPem: ca.certPem }] },
  });
}

/** Every identity (nodes first, in org order, then users) of a consortium. */
export function consortiumIdentities(consortium: Consortium): ConsortiumIdentity[] {
  return [...consortium.nodes.values(), ...consortium.users];
}

/** Find an identity by org and its name in the directory (the login name; a patient's CN is their pseudonym). */
export function findIdentity(consortium: Consortium, org: string, commonName: string): ConsortiumIdentity | undefined {
  return consortiumIdentities(consortium).find((i) => i.org === org && i.commonName === commonName);
}

// ---------------------------------------------------------------------------------------------
// Files

const ManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  rootName: z.string().min(1).max(64),
  orgs: z
    .array(
      z.object({
        org: z.string().regex(ORG_NAME_PATTERN),
        node: z.string().regex(IDENTITY_NAME_PATTERN),
        users: z.array(z.object({ name: z.string().regex(IDENTITY_NAME_PATTERN), role: z.enum(ROLES as [Role, ...Role[]]) })).max(CONSORTIUM_USERS_MAX),
      }),
    )
    .min(1)
    .max(CONSORTIUM_ORGS_MAX),
  revokedSerials: z
    .array(z.object({ org: z.string().regex(ORG_NAME_PATTERN), serialHex: z.string().regex(/^[0-9a-f]{1,64}$/) }))
    .max(1_000_000)
    .optional(),
});
type Manifest = z.infer<typeof ManifestSchema>;

export interface SaveConsortiumOptions {
  /** Replace files of an existing consortium directory (default false: refuse, never clobber keys). */
  overwrite?: boolean;
  /** Write root-ca-key.pem (default true). A real deployment keeps the root key offline. */
  includeRootKey?: boolean;
}

function writeFile(path: string, content: string, mode: number, overwrite: boolean): void {
  writeFileSync(path, content, { mode, flag: overwrite ? 'w' : 'wx' });
  // `mode` applies only when the file is created; make it true for overwritten files too.
  chmodSync(path, mode);
}

export function saveConsortium(consortium: Consortium, dir: string, options: SaveConsortiumOptions = {}): void {
  const overwrite = options.overwrite ?? false;
  if (!overwrite && existsSync(join(dir, MANIFEST_FILE))) {
    throw invalid(`${join(dir, MANIFEST_FILE)} already exists; refusing to overwrite a consortium (pass overwrite)`);
  }
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    rootName: consortium.root.name,
    orgs: [...consortium.orgCas.keys()].map((org) => {
      const node = consortium.nodes.get(org);
      if (node === undefined) throw invalid(`organisation ${org} has no node identity`);
      return {
        org,
        node: node.commonName,
        users: consortium.users.filter((u) => u.org === org).map((u) => ({ name: u.commonName, role: u.role })),
      };
    }),
    ...(consortium.mspConfig.revokedSerials === undefined ? {} : { revokedSerials: [...consortium.mspConfig.revokedSerials] }),
  };
  ManifestSchema.parse(manifest);
  makeDirectory(dir, { mode: 0o755 });
  writeFile(join(dir, 'root-ca.pem'), consortium.root.certPem, 0o644, overwrite);
  if ((options.includeRootKey ?? true) && consortium.root.keyPem !== '') {
    writeFile(join(dir, 'root-ca-key.pem'), consortium.root.keyPem, 0o600, overwrite);
  }
  for (const [org, ca] of consortium.orgCas) {
    const orgDir = join(dir, org);
    makeDirectory(orgDir, { mode: 0o755 });
    writeFile(join(orgDir, 'ca.pem'), ca.certPem, 0o644, overwrite);
    if (ca.keyPem !== '') writeFile(join(orgDir, 'ca-key.pem'), ca.keyPem, 0o600, overwrite);
  }
  for (const identity of consortiumIdentities(consortium)) {
    const idDir = join(dir, identity.org, identity.commonName);
    makeDirectory(idDir, { mode: 0o700 });
    writeFile(join(idDir, 'cert.pem'), identity.certPem, 0o644, overwrite);
    if (identity.keyPem !== '') writeFile(join(idDir, 'key.pem'), identity.keyPem, 0o600, overwrite);
  }
  // The manifest last: its presence marks a complete consortium directory.
  writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, 0o644, overwrite);
}

function readText(path: string, sizeBytesMax: number): string {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    throw new IdentityError('MALFORMED', `missing file ${path}`);
  }
  if (size > sizeBytesMax) throw new IdentityError('MALFORMED', `${path} is ${size} bytes, at most ${sizeBytesMax} allowed`);
  return readFileSync(path, 'utf8');
}

function readOptional(path: string): string {
  return existsSync(path) ? readText(path, PEM_FILE_SIZE_BYTES_MAX) : '';
}

function checkKeyPair(certPem: string, keyPem: string, what: string): void {
  if (keyPem === '') return;
  let matches: boolean;
  try {
    matches = keyMatchesCertificate(parseP256PrivateKey(keyPem), parseCertificate(certPem));
  } catch (err) {
    throw new IdentityError('MALFORMED', `${what}: ${(err as Error).message}`);
  }
  if (!matches) throw new IdentityError('MALFORMED', `${what}: the private key does not belong to the certificate`);
}

/**
 * Load a consortium directory written by saveConsortium. Checks the manifest, that every org CA
 * chains to the root, that every identity chains to its org CA with the role the manifest says,
 * and that every key belongs to its certificate. Validity periods are NOT checked (a directory
 * with expired certificates still loads; the MSP rejects them when used). Missing key files
 * load as keyPem ''. Throws IdentityError naming the file and the problem.
 */
export function loadConsortium(dir: string): Consortium {
  const manifestPath = join(dir, MANIFEST_FILE);
  let manifest: Manifest;
  try {
    manifest = ManifestSchema.parse(JSON.parse(readText(manifestPath, MANIFEST_SIZE_BYTES_MAX)));
  } catch (err) {
    if (err instanceof IdentityError) throw err;
    const detail =
      err instanceof z.ZodError
        ? err.issues
            .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
            .slice(0, 5)
            .join('; ')
        : (err as Error).message;
    throw new IdentityError('MALFORMED', `${manifestPath}: ${detail}`);
  }
  const root: CertificateAuthority = Object.freeze({
    name: manifest.rootName,
    org: null,
    certPem: readText(join(dir, 'root-ca.pem'), PEM_FILE_SIZE_BYTES_MAX),
    keyPem: readOptional(join(dir, 'root-ca-key.pem')),
  });
  checkKeyPair(root.certPem, root.keyPem, join(dir, 'root-ca-key.pem'));
  const orgCas = new Map<string, CertificateAuthority>();
  for (const { org } of manifest.orgs) {
    if (orgCas.has(org)) throw new IdentityError('MALFORMED', `${manifestPath}: organisation ${org} is listed twice`);
    const ca: CertificateAuthority = Object.freeze({
      name: '',
      org,
      certPem: readText(join(dir, org, 'ca.pem'), PEM_FILE_SIZE_BYTES_MAX),
      keyPem: readOptional(join(dir, org, 'ca-key.pem')),
    });
    checkKeyPair(ca.certPem, ca.keyPem, join(dir, org, 'ca-key.pem'));
    let name: string;
    try {
      name = parseCertificate(ca.certPem).subject.commonName ?? '';
    } catch (err) {
      throw new IdentityError('MALFORMED', `${join(dir, org, 'ca.pem')}: ${(err as Error).message}`);
    }
    orgCas.set(org, Object.freeze({ ...ca, name }));
  }
  const mspConfig: MspConfig = {
    rootCertPem: root.certPem,
    orgs: [...orgCas].map(([org, ca]) => ({ org, caCertPem: ca.certPem })),
    ...(manifest.revokedSerials === undefined ? {} : { revokedSerials: manifest.revokedSerials }),
  };
  const msp = new Msp(mspConfig); // checks every org CA against the root
  const load = (org: string, commonName: string, role: Role): ConsortiumIdentity => {
    const idDir = join(dir, org, commonName);
    const certPem = readText(join(idDir, 'cert.pem'), PEM_FILE_SIZE_BYTES_MAX);
    const keyPem = readOptional(join(idDir, 'key.pem'));
    let identity;
    try {
      identity = msp.identify(certPem);
    } catch (err) {
      throw new IdentityError((err as IdentityError).code ?? 'MALFORMED', `${join(idDir, 'cert.pem')}: ${(err as Error).message}`);
    }
    // A patient's certificate is issued to their pseudonym (the MSP checked CN = pseudonym), filed under their name.
    const expectedId = role === 'patient' ? identity.pseudonym : commonName;
    if (identity.org !== org || identity.id !== expectedId || identity.role !== role) {
      throw new IdentityError(
        'MALFORMED',
        `${join(idDir, 'cert.pem')}: certificate is ${identity.org}/${identity.id} (${identity.role}), manifest says ${org}/${commonName} (${role})`,
      );
    }
    checkKeyPair(certPem, keyPem, join(idDir, 'key.pem'));
    return Object.freeze({ certPem, keyPem, serialHex: identity.serialHex, org, commonName, role, pseudonym: identity.pseudonym });
  };
  const nodes = new Map<string, ConsortiumIdentity>();
  const users: ConsortiumIdentity[] = [];
  for (const entry of manifest.orgs) {
    nodes.set(entry.org, load(entry.org, entry.node, 'peer'));
    for (const user of entry.users) users.push(load(entry.org, user.name, user.role));
  }
  return Object.freeze({ root, orgCas, nodes, users: Object.freeze(users), mspConfig });
}
