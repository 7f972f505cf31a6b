// A membership application (PHDMF: application → approval → client download → configure →
// connection test; issue 12 item 3). The prospective hospital makes its own CA and node identity
// on its own machine — no private key ever leaves it — and sends a file that says who it is and
// where its node will be, signed with its new CA key:
//
//   {"format": "medledger-membership-application/v1",
//    "application": {org, nodeId, caCertPem (self-signed), nodeCertPem, p2pUrl, apiUrl,
//                    contact {name, email, phone?}, note?, createdAtMs},
//    "signatureBase64": ECDSA P-256 over APPLICATION_DOMAIN ‖ DAG-CBOR(application)}
//
// The self-signed CA certificate is the request: its self-signature proves the applicant holds the
// CA key, and the same key signs the whole application, so nothing in it can be changed on the way
// (a reviewer also compares the CA key fingerprint with the one the hospital gave by phone or
// letter: a signature only shows the file is whole, not who made it). Once admitted, the root
// certifies that very key and subject (ca.ts certifyOrgCa); the node and user certificates the
// applicant issued meanwhile then chain to the root unchanged (decision 1250).
import { createHash, type KeyObject } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { concatBytes, encode, fromBase64, toBase64, utf8 } from '../codec/index.ts';
import { parsePrivateKey, sign, verify } from '../crypto/ecdsa.ts';
import {
  CERT_PEM_SIZE_BYTES_MAX,
  checkIssuedBy,
  checkSelfSignedCa,
  checkValidityAt,
  parseCertificate,
  X509Error,
  type ParsedCertificate,
} from '../crypto/x509.ts';
import { createSelfSignedOrgCa, issueCertificate, orgCaCommonName, type CertificateAuthority } from './ca.ts';
import { defaultNodeCommonName, type ConsortiumIdentity, type ConsortiumUserSpec } from './consortium.ts';
import { ORG_NAME_PATTERN } from './roles.ts';
import { makeDirectory } from '../files/directory.ts';

export const APPLICATION_FORMAT = 'medledger-membership-application/v1';
/** The whole file: two certificates and a few short fields fit many times over. */
export const APPLICATION_FILE_BYTES_MAX = 64 * 1024;
/** Domain separation: an application signature can never be mistaken for any other signature of the CA key. */
const APPLICATION_DOMAIN = utf8('medledger membership application v1\u0000');

export type ApplicationErrorCode = 'MALFORMED' | 'UNSIGNED' | 'BAD_SIGNATURE' | 'BAD_CERTIFICATE';

export class ApplicationError extends Error {
  override readonly name = 'ApplicationError';
  constructor(
    readonly code: ApplicationErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const pem = z.string().min(1).max(CERT_PEM_SIZE_BYTES_MAX);
/** Shown to reviewers on a terminal: no control characters (no escape sequences that rewrite the screen). */
const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((t) => ![...t].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127), { message: 'printable text, one line' });
const url = (scheme: 'wss' | 'https') =>
  z
    .string()
    .max(256)
    .url()
    .refine((u) => u.startsWith(`${scheme}://`), { message: `a ${scheme}:// URL` })
    .refine((u) => /^[a-z]+:\/\/[^/?#@]+:\d{1,5}\/?$/.test(u), { message: `${scheme}://host:port, nothing else` });

export const ApplicationBodySchema = z
  .object({
    org: z.string().regex(ORG_NAME_PATTERN, "an organisation name: a letter, then up to 63 letters, digits, '_' or '-'"),
    nodeId: z.string().min(1).max(64),
    caCertPem: pem,
    nodeCertPem: pem,
    p2pUrl: url('wss'),
    apiUrl: url('https'),
    contact: z
      .object({
        name: printable(128),
        email: z
          .string()
          .max(254)
          .regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address'),
        phone: z
          .string()
          .max(40)
          .regex(/^[0-9 +().-]+$/, 'a phone number')
          .optional(),
      })
      .strict(),
    note: printable(2000).optional(),
    createdAtMs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  })
  .strict();
export type ApplicationBody = z.infer<typeof ApplicationBodySchema>;

export const ApplicationFileSchema = z
  .object({
    format: z.literal(APPLICATION_FORMAT),
    application: ApplicationBodySchema,
    signatureBase64: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64'),
  })
  .strict();
export type ApplicationFile = z.infer<typeof ApplicationFileSchema>;

/** What a reviewer is shown, derived from the checked file (never from unchecked text). */
export interface VerifiedApplication {
  readonly application: ApplicationBody;
  /** sha-256 of the CA public key (SPKI DER), hex: what the hospital reads out to the reviewers. */
  readonly caKeyFingerprintHex: string;
  readonly caCert: ParsedCertificate;
  readonly nodeCert: ParsedCertificate;
}

function signedBytes(body: ApplicationBody): Uint8Array {
  return concatBytes([APPLICATION_DOMAIN, encode(body)]);
}

export function publicKeyFingerprintHex(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** The certificate serves `host` (a DNS name or an IP address in its subjectAltName). */
function certServes(cert: ParsedCertificate, host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return isIP(bare) !== 0 ? cert.node.checkIP(bare) !== undefined : cert.node.checkHost(bare) !== undefined;
}

/** Sign an application body with the applicant's CA key. */
export function signApplication(body: ApplicationBody, caKeyPem: string): ApplicationFile {
  const parsed = ApplicationBodySchema.parse(body);
  return { format: APPLICATION_FORMAT, application: parsed, signatureBase64: toBase64(sign(parsePrivateKey(caKeyPem), signedBytes(parsed))) };
}

export function encodeApplicationFile(file: ApplicationFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}

function zodIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/**
 * Read and check an application file's text: size, JSON, schema, signature by the CA it carries,
 * the CA self-signed and named for the organisation, the node certificate issued by that CA for
 * `node.<org>` with role peer and serving the hosts of its URLs, both valid at `atMs`. Throws
 * ApplicationError naming the first problem. Says nothing about the consortium (not a member
 * yet, names free): that is checked against the config in force (cli/membership.ts).
 */
export function verifyApplication(text: string, atMs: number): VerifiedApplication {
  if (typeof text !== 'string' || text.length > APPLICATION_FILE_BYTES_MAX)
    throw new ApplicationError('MALFORMED', `an application file is JSON of at most ${APPLICATION_FILE_BYTES_MAX} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ApplicationError('MALFORMED', 'not an application file (not JSON)');
  }
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    const sig = (raw as Record<string, unknown>).signatureBase64;
    if ((raw as Record<string, unknown>).format === APPLICATION_FORMAT && (sig === undefined || sig === null || sig === ''))
      throw new ApplicationError('UNSIGNED', 'the application is not signed (no signatureBase64): it cannot be told apart from a forgery');
  }
  const parsed = ApplicationFileSchema.safeParse(raw);
  if (!parsed.success) throw new ApplicationError('MALFORMED', `not a valid application file: ${zodIssues(parsed.error)}`);
  const { application: body, signatureBase64 } = parsed.data;

  let caCert: ParsedCertificate;
  let nodeCert: ParsedCertificate;
  try {
    caCert = parseCertificate(body.caCertPem);
  } catch (err) {
    throw new ApplicationError('BAD_CERTIFICATE', `caCertPem: ${(err as Error).message}`);
  }
  // The signature first: a changed byte anywhere is "tampered", whatever else it broke.
  const signature = fromBase64(signatureBase64);
  if (signature === null) throw new ApplicationError('MALFORMED', 'signatureBase64: not base64');
  if (!verify(caCert.publicKey, signedBytes(body), signature))
    throw new ApplicationError(
      'BAD_SIGNATURE',
      "the signature does not verify with the application's CA key: the file was changed after signing, or signed by another key",
    );
  try {
    checkSelfSignedCa(caCert);
    checkValidityAt(caCert, atMs, 'CA certificate');
  } catch (err) {
    throw new ApplicationError('BAD_CERTIFICATE', `caCertPem: ${(err as Error).message}`);
  }
  if (!caCert.isCa || caCert.subject.organization !== body.org || caCert.subject.commonName !== orgCaCommonName(body.org))
    throw new ApplicationError(
      'BAD_CERTIFICATE',
      `caCertPem: "${caCert.subjectDn}" is not a CA named for ${body.org} (CN=${orgCaCommonName(body.org)}, O=${body.org})`,
    );
  try {
    nodeCert = parseCertificate(body.nodeCertPem);
    checkIssuedBy(nodeCert, caCert);
    checkValidityAt(nodeCert, atMs, 'node certificate');
  } catch (err) {
    throw new ApplicationError('BAD_CERTIFICATE', `nodeCertPem: ${err instanceof X509Error ? err.message : (err as Error).message}`);
  }
  const expectedNode = defaultNodeCommonName(body.org);
  if (body.nodeId !== expectedNode || nodeCert.subject.commonName !== expectedNode || nodeCert.subject.organization !== body.org)
    throw new ApplicationError('BAD_CERTIFICATE', `nodeCertPem: "${nodeCert.subjectDn}" is not ${expectedNode} of ${body.org}`);
  if (nodeCert.isCa || nodeCert.subject.organizationalUnits.join(',') !== 'peer')
    throw new ApplicationError('BAD_CERTIFICATE', `nodeCertPem: "${nodeCert.subjectDn}" is not a node (role peer) certificate`);
  for (const u of [body.p2pUrl, body.apiUrl]) {
    const host = new URL(u).hostname;
    if (!certServes(nodeCert, host))
      throw new ApplicationError(
        'BAD_CERTIFICATE',
        `nodeCertPem: the node certificate does not name ${host} (of ${u}); the other nodes could not authenticate it there`,
      );
  }
  return { application: body, caKeyFingerprintHex: publicKeyFingerprintHex(caCert.publicKey), caCert, nodeCert };
}

export interface CreatedApplication {
  readonly file: ApplicationFile;
  readonly ca: CertificateAuthority;
  readonly node: ConsortiumIdentity;
  readonly users: readonly ConsortiumIdentity[];
}

/**
 * Make a prospective hospital's CA (self-signed), its node identity and users, and the signed
 * application. Nothing is written; see saveApplicantIdentities.
 */
export async function createApplication(opts: {
  org: string;
  hosts: readonly string[];
  p2pUrl: string;
  apiUrl: string;
  contact: ApplicationBody['contact'];
  note?: string;
  users?: readonly ConsortiumUserSpec[];
}): Promise<CreatedApplication> {
  const ca = await createSelfSignedOrgCa({ org: opts.org });
  const nodeId = defaultNodeCommonName(opts.org);
  const node = await issueCertificate(ca, { commonName: nodeId, role: 'peer', hosts: opts.hosts });
  const users: ConsortiumIdentity[] = [];
  for (const u of opts.users ?? []) {
    const issued = await issueCertificate(ca, {
      commonName: u.pseudonym ?? u.commonName,
      role: u.role,
      ...(u.pseudonym === undefined ? {} : { pseudonym: u.pseudonym }),
    });
    users.push(Object.freeze({ ...issued, org: opts.org, commonName: u.commonName, role: u.role, pseudonym: u.pseudonym ?? null }));
  }
  const body: ApplicationBody = {
    org: opts.org,
    nodeId,
    caCertPem: ca.certPem,
    nodeCertPem: node.certPem,
    p2pUrl: opts.p2pUrl,
    apiUrl: opts.apiUrl,
    contact: opts.contact,
    ...(opts.note === undefined ? {} : { note: opts.note }),
    createdAtMs: Date.now(),
  };
  let file: ApplicationFile;
  try {
    file = signApplication(body, ca.keyPem);
  } catch (err) {
    if (err instanceof z.ZodError) throw new ApplicationError('MALFORMED', zodIssues(err));
    throw err;
  }
  return {
    file,
    ca,
    node: Object.freeze({ ...node, org: opts.org, commonName: nodeId, role: 'peer' as const, pseudonym: null }),
    users,
  };
}

/**
 * Write an applicant's identities where a consortium directory keeps them (<cryptoDir>/<org>/…,
 * keys mode 0600), never over existing files: the directory becomes a consortium directory once
 * the hospital is admitted (`medledger org join` adds the root certificate and the manifest).
 */
export function saveApplicantIdentities(cryptoDir: string, created: CreatedApplication): void {
  const org = created.ca.org ?? '';
  const orgDir = join(cryptoDir, org);
  makeDirectory(orgDir, { mode: 0o755 });
  const write = (path: string, content: string, mode: number): void => {
    writeFileSync(path, content, { mode, flag: 'wx' });
    chmodSync(path, mode);
  };
  write(join(orgDir, 'ca.pem'), created.ca.certPem, 0o644);
  write(join(orgDir, 'ca-key.pem'), created.ca.keyPem, 0o600);
  for (const id of [created.node, ...created.users]) {
    const d = join(orgDir, id.commonName);
    makeDirectory(d, { mode: 0o700 });
    write(join(d, 'cert.pem'), id.certPem, 0o644);
    write(join(d, 'key.pem'), id.keyPem, 0o600);
  }
}
