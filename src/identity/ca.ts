// Certificate authorities: the consortium root (the supervision center / CAMS of the source
// designs) and one CA per member organisation, which issues the certificates of that
// organisation's nodes and users. Keys are ECDSA P-256, generated with node:crypto.
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { checkSelfSignedCa, isValidNameValue, issueX509, keyMatchesCertificate, parseCertificate, parseP256PrivateKey, X509Error } from '../crypto/x509.ts';
import { isIssuableRole, isValidIdentityName, isValidOrgName, ROLES, type Role } from './roles.ts';

export interface CertificateAuthority {
  /** The CA certificate's common name. */
  readonly name: string;
  /** The organisation of an org CA; null for the consortium root. */
  readonly org: string | null;
  readonly certPem: string;
  /** PKCS#8 PEM. Whoever holds this can issue identities: keep it at the CA only. */
  readonly keyPem: string;
}

export interface IssuedIdentity {
  readonly certPem: string;
  /** PKCS#8 PEM of the subject's private key; '' when only a public key was supplied. */
  readonly keyPem: string;
  readonly serialHex: string;
}

const DAY_MS = 86_400_000;
export const ROOT_CA_VALIDITY_MS = 10 * 365 * DAY_MS;
export const ORG_CA_VALIDITY_MS = 5 * 365 * DAY_MS;
export const END_ENTITY_VALIDITY_MS = 365 * DAY_MS;
/**
 * Default notBefore is "now" minus this: a certificate issued on one host must already be valid
 * on a host whose clock is a little behind (Fabric's CA backdates by 5 minutes too).
 */
export const ISSUE_BACKDATE_MS = 5 * 60_000;
/** pathLenConstraint of the root: exactly one level of CAs (the org CAs) below it. */
const ROOT_PATH_LENGTH = 1;
const ORG_CA_PATH_LENGTH = 0;

function keyPairPems(): { publicKey: KeyObject; privateKey: KeyObject; keyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKey, privateKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

/** The CA's private key; a clear error when it is not held here (e.g. a root kept offline). */
function caPrivateKey(ca: CertificateAuthority): KeyObject {
  if (ca.keyPem === '') {
    throw new X509Error('INVALID_REQUEST', `the private key of CA "${ca.name}" is not available here (kept offline?)`);
  }
  return parseP256PrivateKey(ca.keyPem);
}

function defaultNotBefore(): Date {
  return new Date(Date.now() - ISSUE_BACKDATE_MS);
}

/** Default notAfter: notBefore + validity, but never past the issuer's own notAfter. */
function defaultNotAfter(notBefore: Date, validityMs: number, issuerNotAfterMs: number | null): Date {
  const wanted = notBefore.getTime() + validityMs;
  return new Date(issuerNotAfterMs === null ? wanted : Math.min(wanted, issuerNotAfterMs));
}

export async function createRootCa(opts: { commonName: string; notBefore?: Date; notAfter?: Date }): Promise<CertificateAuthority> {
  if (!isValidNameValue(opts.commonName)) {
    throw new X509Error(
      'INVALID_REQUEST',
      `root CA common name "${String(opts.commonName).slice(0, 80)}" is not allowed: 1-64 letters, digits, space, '.', '_', '@', '-'`,
    );
  }
  const keys = keyPairPems();
  const notBefore = opts.notBefore ?? defaultNotBefore();
  const notAfter = opts.notAfter ?? defaultNotAfter(notBefore, ROOT_CA_VALIDITY_MS, null);
  const { certPem } = await issueX509({
    subject: { commonName: opts.commonName },
    subjectPublicKey: keys.publicKey,
    issuerKey: keys.privateKey,
    notBefore,
    notAfter,
    ca: { pathLength: ROOT_PATH_LENGTH },
  });
  return Object.freeze({ name: opts.commonName, org: null, certPem, keyPem: keys.keyPem });
}

export function orgCaCommonName(org: string): string {
  return `${org} CA`;
}

export async function createOrgCa(root: CertificateAuthority, opts: { org: string; notBefore?: Date; notAfter?: Date }): Promise<CertificateAuthority> {
  if (root.org !== null) {
    throw new X509Error('INVALID_REQUEST', `organisation CAs are issued by the root CA, not by the CA of ${root.org}`);
  }
  if (!isValidOrgName(opts.org)) {
    throw new X509Error(
      'INVALID_REQUEST',
      `organisation name "${String(opts.org).slice(0, 80)}" is not allowed: a letter, then up to 63 letters, digits, '_' or '-'`,
    );
  }
  const rootCert = parseCertificate(root.certPem);
  const keys = keyPairPems();
  const name = orgCaCommonName(opts.org);
  const notBefore = opts.notBefore ?? defaultNotBefore();
  const notAfter = opts.notAfter ?? defaultNotAfter(notBefore, ORG_CA_VALIDITY_MS, rootCert.notAfterMs);
  const { certPem } = await issueX509({
    subject: { commonName: name, organization: opts.org },
    subjectPublicKey: keys.publicKey,
    issuerCertPem: root.certPem,
    issuerKey: caPrivateKey(root),
    notBefore,
    notAfter,
    ca: { pathLength: ORG_CA_PATH_LENGTH },
  });
  return Object.freeze({ name, org: opts.org, certPem, keyPem: keys.keyPem });
}

/**
 * An organisation CA made by the organisation itself, before it is a member (a membership
 * application, src/identity/application.ts): the same subject and extensions as createOrgCa, but
 * self-signed, so that the key never leaves the applicant. The self-signature proves possession of
 * the key; once admitted, the root certifies the same key and subject (certifyOrgCa) and every
 * certificate this CA issued meanwhile chains to the root unchanged (same issuer name, same key id).
 */
export async function createSelfSignedOrgCa(opts: { org: string; notBefore?: Date; notAfter?: Date }): Promise<CertificateAuthority> {
  if (!isValidOrgName(opts.org)) {
    throw new X509Error(
      'INVALID_REQUEST',
      `organisation name "${String(opts.org).slice(0, 80)}" is not allowed: a letter, then up to 63 letters, digits, '_' or '-'`,
    );
  }
  const keys = keyPairPems();
  const name = orgCaCommonName(opts.org);
  const notBefore = opts.notBefore ?? defaultNotBefore();
  const notAfter = opts.notAfter ?? defaultNotAfter(notBefore, ORG_CA_VALIDITY_MS, null);
  const { certPem } = await issueX509({
    subject: { commonName: name, organization: opts.org },
    subjectPublicKey: keys.publicKey,
    issuerKey: keys.privateKey,
    notBefore,
    notAfter,
    ca: { pathLength: ORG_CA_PATH_LENGTH },
  });
  return Object.freeze({ name, org: opts.org, certPem, keyPem: keys.keyPem });
}

/**
 * The root certifies an applicant's self-signed organisation CA: a certificate issued by the root
 * for the same public key and the same subject (what createOrgCa would have issued). Refused unless
 * the presented certificate is a self-signed CA of `org` named as createOrgCa names it.
 */
export async function certifyOrgCa(root: CertificateAuthority, selfSignedCaPem: string, org: string): Promise<string> {
  if (root.org !== null) throw new X509Error('INVALID_REQUEST', `organisation CAs are certified by the root CA, not by the CA of ${root.org}`);
  const presented = parseCertificate(selfSignedCaPem);
  checkSelfSignedCa(presented);
  if (!presented.isCa || presented.pathLength !== ORG_CA_PATH_LENGTH)
    throw new X509Error('INVALID_REQUEST', `"${presented.subjectDn}" is not an organisation CA certificate (a CA with path length ${ORG_CA_PATH_LENGTH})`);
  if (presented.subject.organization !== org || presented.subject.commonName !== orgCaCommonName(org) || presented.subject.organizationalUnits.length > 0)
    throw new X509Error('INVALID_REQUEST', `"${presented.subjectDn}" is not named as ${org}'s CA (CN=${orgCaCommonName(org)}, O=${org})`);
  const rootCert = parseCertificate(root.certPem);
  const notBefore = defaultNotBefore();
  const { certPem } = await issueX509({
    subject: { commonName: orgCaCommonName(org), organization: org },
    subjectPublicKey: presented.publicKey,
    issuerCertPem: root.certPem,
    issuerKey: caPrivateKey(root),
    notBefore,
    notAfter: defaultNotAfter(notBefore, ORG_CA_VALIDITY_MS, rootCert.notAfterMs),
    ca: { pathLength: ORG_CA_PATH_LENGTH },
  });
  return certPem;
}

export interface IssueCertificateOptions {
  commonName: string;
  role: Role;
  notBefore?: Date;
  notAfter?: Date;
  /** Certify an existing public key (the holder keeps its private key); keyPem in the result is ''. */
  publicKey?: KeyObject;
  /** Certify the key of this PKCS#8 PEM private key; it is returned as keyPem. */
  keyPem?: string;
  /** DNS names / IPs for subjectAltName: nodes whose certificate also serves mTLS. */
  hosts?: readonly string[];
  /** Explicit serial (hex); default random. */
  serialHex?: string;
  /**
   * A patient's pseudonym (32–64 lowercase hex): required for role patient and refused for every
   * other role. It goes into the X.520 pseudonym attribute, and the common name must equal it,
   * so a patient's on-chain identity never carries their name (decision 0906).
   */
  pseudonym?: string;
}

/** A patient pseudonym as a certificate may carry it: 128–256 bits of lowercase hex, fits a CN. */
export const PATIENT_PSEUDONYM_PATTERN = /^[0-9a-f]{32,64}$/;

/** Issue an end-entity certificate (node or user) from an organisation CA. */
export async function issueCertificate(ca: CertificateAuthority, opts: IssueCertificateOptions): Promise<IssuedIdentity> {
  if (ca.org === null) {
    throw new X509Error('INVALID_REQUEST', 'identities are issued by an organisation CA, not by the root CA');
  }
  if (!isIssuableRole(opts.role)) {
    throw new X509Error('INVALID_REQUEST', `role "${String(opts.role).slice(0, 40)}" cannot be issued; issuable roles: ${ROLES.join(', ')}`);
  }
  if (!isValidIdentityName(opts.commonName)) {
    throw new X509Error(
      'INVALID_REQUEST',
      `common name "${String(opts.commonName).slice(0, 80)}" is not allowed: a letter or digit, then up to 63 letters, digits, '.', '_', '@', '-'`,
    );
  }
  if (opts.role === 'patient') {
    if (opts.pseudonym === undefined || !PATIENT_PSEUDONYM_PATTERN.test(opts.pseudonym)) {
      throw new X509Error(
        'INVALID_REQUEST',
        `a patient certificate needs a pseudonym of 32-64 lowercase hex digits, got ${opts.pseudonym === undefined ? 'none' : `"${String(opts.pseudonym).slice(0, 80)}"`}`,
      );
    }
    if (opts.commonName !== opts.pseudonym) {
      throw new X509Error(
        'INVALID_REQUEST',
        `a patient certificate's common name must be its pseudonym, not "${opts.commonName.slice(0, 80)}" (a login name on chain would link the pseudonym to the person)`,
      );
    }
  } else if (opts.pseudonym !== undefined) {
    throw new X509Error('INVALID_REQUEST', `only patient certificates carry a pseudonym, not ${opts.role} certificates`);
  }
  let publicKey: KeyObject;
  let keyPem: string;
  if (opts.keyPem !== undefined) {
    const privateKey = parseP256PrivateKey(opts.keyPem);
    publicKey = createPublicKey(privateKey);
    if (opts.publicKey !== undefined && !opts.publicKey.equals(publicKey)) {
      throw new X509Error('INVALID_REQUEST', 'publicKey and keyPem were both given but do not belong together');
    }
    keyPem = opts.keyPem;
  } else if (opts.publicKey !== undefined) {
    if (opts.publicKey.type !== 'public') {
      throw new X509Error('INVALID_REQUEST', `publicKey must be a public key, got a ${opts.publicKey.type} key`);
    }
    publicKey = opts.publicKey;
    keyPem = '';
  } else {
    const keys = keyPairPems();
    publicKey = keys.publicKey;
    keyPem = keys.keyPem;
  }
  const caCert = parseCertificate(ca.certPem);
  const caKey = caPrivateKey(ca);
  if (!keyMatchesCertificate(caKey, caCert)) {
    throw new X509Error('INVALID_REQUEST', `the key of CA "${ca.name}" does not match its certificate`);
  }
  const notBefore = opts.notBefore ?? defaultNotBefore();
  const notAfter = opts.notAfter ?? defaultNotAfter(notBefore, END_ENTITY_VALIDITY_MS, caCert.notAfterMs);
  const issued = await issueX509({
    subject: {
      commonName: opts.commonName,
      organization: ca.org,
      organizationalUnits: [opts.role],
      ...(opts.pseudonym === undefined ? {} : { pseudonym: opts.pseudonym }),
    },
    subjectPublicKey: publicKey,
    issuerCertPem: ca.certPem,
    issuerKey: caKey,
    notBefore,
    notAfter,
    ...(opts.hosts === undefined ? {} : { hosts: opts.hosts }),
    ...(opts.serialHex === undefined ? {} : { serialHex: opts.serialHex }),
  });
  return Object.freeze({ certPem: issued.certPem, keyPem, serialHex: issued.serialHex });
}
