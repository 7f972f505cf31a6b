// X.509 certificates for MedLedger: ISSUING with @peculiar/x509 (WebCrypto, asynchronous) and
// VERIFYING with node:crypto's X509Certificate (OpenSSL, synchronous — validation sits on the
// transaction-validation hot path, which must not await). ECDSA P-256 with SHA-256 only.
//
// The profile (see docs/architecture/identity.md):
//   - CA certificates: basicConstraints critical cA=TRUE with a pathLenConstraint,
//     keyUsage critical keyCertSign|cRLSign|digitalSignature, SKI, AKI (non-self-signed).
//   - End-entity certificates: basicConstraints critical cA=FALSE, keyUsage critical
//     digitalSignature, extKeyUsage serverAuth+clientAuth (node certs double as mTLS certs),
//     SKI, AKI, optional subjectAltName for hosts.
//   - Validity times are whole seconds (X.509 cannot say more); inputs are floored to seconds.
//   - Serial numbers: 16 random bytes, positive, with the top bits fixed to 01 so the DER never
//     needs a leading zero byte and the hex form is stable (lowercase, no leading zeros).
// @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import * as px from '@peculiar/x509';
import { createHash, createPrivateKey, createPublicKey, randomBytes, webcrypto, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/**
 * @peculiar/x509, loaded after the Reflect polyfill. Code elsewhere that needs the library must
 * import it from here, never from '@peculiar/x509' directly: that import fails unless the
 * polyfill ran first (the reflect-metadata import above).
 */
export { px as peculiarX509 };

export type X509ErrorCode =
  | 'MALFORMED'
  | 'NOT_P256'
  | 'BAD_SIGNATURE'
  | 'NAME_MISMATCH'
  | 'NOT_CA'
  | 'PATH_LENGTH'
  | 'KEY_USAGE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'UNTRUSTED_ROOT'
  | 'INVALID_REQUEST';

export class X509Error extends Error {
  override readonly name = 'X509Error';
  constructor(
    readonly code: X509ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A PEM certificate larger than this is rejected unparsed: ours are ~700 bytes. */
export const CERT_PEM_SIZE_BYTES_MAX = 16 * 1024;
/** Longest chain verifyChain accepts (leaf + intermediates + root). */
export const CHAIN_LENGTH_MAX = 8;
const SERIAL_SIZE_BYTES = 16;
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;
const EC_IMPORT_PARAMS = { name: 'ECDSA', namedCurve: 'P-256' } as const;
// X.509 time types: UTCTime covers 1950..2049, GeneralizedTime up to 9999.
const TIME_MIN_MS = Date.UTC(1950, 0, 1);
const TIME_MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

export const KEY_USAGE = {
  digitalSignature: px.KeyUsageFlags.digitalSignature,
  keyCertSign: px.KeyUsageFlags.keyCertSign,
  cRLSign: px.KeyUsageFlags.cRLSign,
} as const;

// ---------------------------------------------------------------------------------------------
// Names

/**
 * X.520 `pseudonym` (id-at-pseudonym, RFC 5280 §4.1.2.4): MedLedger puts a patient's pseudonym
 * here, so that the certificate itself says its subject name is a pseudonym (decision 0906).
 */
export const PSEUDONYM_ATTRIBUTE_OID = '2.5.4.65';

/** The subject fields MedLedger uses. Values are restricted to a safe character set (below). */
export interface NameSpec {
  readonly commonName: string;
  readonly organization?: string;
  readonly organizationalUnits?: readonly string[];
  readonly pseudonym?: string;
}

export interface NameFields {
  readonly commonName: string | null;
  readonly organization: string | null;
  readonly organizationalUnits: readonly string[];
  /** The X.520 pseudonym attribute, null when absent. */
  readonly pseudonym: string | null;
}

/**
 * Characters allowed in a name attribute. @peculiar/x509 parses attribute values with RFC 4514
 * string semantics (a ',' or '#' in a value silently changes the name), so only plain values are
 * allowed: letters, digits, space, '.', '_', '@', '-', not starting with a space or '#'.
 */
const NAME_VALUE_PATTERN = /^[A-Za-z0-9._@-][A-Za-z0-9 ._@-]{0,63}$/;

export function isValidNameValue(value: string): boolean {
  return NAME_VALUE_PATTERN.test(value) && !value.endsWith(' ');
}

function assertNameValue(what: string, value: string): void {
  if (!isValidNameValue(value)) {
    throw new X509Error(
      'INVALID_REQUEST',
      `${what} "${value.slice(0, 80)}" is not allowed: use 1-64 characters of letters, digits, space, '.', '_', '@', '-' (no leading/trailing space)`,
    );
  }
}

function buildName(spec: NameSpec): px.Name {
  assertNameValue('common name', spec.commonName);
  const parts: Array<Record<string, string[]>> = [{ CN: [spec.commonName] }];
  for (const ou of spec.organizationalUnits ?? []) {
    assertNameValue('organizational unit', ou);
    parts.push({ OU: [ou] });
  }
  if (spec.organization !== undefined) {
    assertNameValue('organization', spec.organization);
    parts.push({ O: [spec.organization] });
  }
  if (spec.pseudonym !== undefined) {
    assertNameValue('pseudonym', spec.pseudonym);
    parts.push({ [PSEUDONYM_ATTRIBUTE_OID]: [spec.pseudonym] });
  }
  return new px.Name(parts);
}

// ---------------------------------------------------------------------------------------------
// Serial numbers and times

/** Canonical serial form: lowercase hex without leading zeros. Throws on non-hex input. */
export function normalizeSerialHex(serialHex: string): string {
  if (!/^[0-9a-fA-F]{1,64}$/.test(serialHex)) {
    throw new X509Error('INVALID_REQUEST', `serial "${serialHex.slice(0, 80)}" is not 1-64 hex digits`);
  }
  const stripped = serialHex.toLowerCase().replace(/^0+/, '');
  return stripped === '' ? '0' : stripped;
}

export function randomSerialHex(): string {
  const bytes = randomBytes(SERIAL_SIZE_BYTES);
  // 0b01xxxxxx: positive (no sign bit) and non-zero top byte, so the DER has no padding byte.
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function toWholeSecondDate(what: string, date: Date): Date {
  const ms = date.getTime();
  if (!Number.isFinite(ms) || ms < TIME_MIN_MS || ms > TIME_MAX_MS) {
    throw new X509Error('INVALID_REQUEST', `${what} must be a valid date between 1950 and 9999, got ${String(date)}`);
  }
  return new Date(Math.floor(ms / 1000) * 1000);
}

// ---------------------------------------------------------------------------------------------
// Keys

function assertP256Key(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new X509Error(
      'NOT_P256',
      `${what} is not an ECDSA P-256 key (got ${key.asymmetricKeyType ?? 'unknown'} ${key.asymmetricKeyDetails?.namedCurve ?? ''})`.trimEnd(),
    );
  }
}

function spkiDer(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' });
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the 65-byte EC point). */
export function subjectKeyIdHex(publicKey: KeyObject): string {
  const der = spkiDer(publicKey);
  // For P-256 SPKI the EC point is always the final 65 bytes (0x04 ‖ X ‖ Y).
  const point = der.subarray(der.length - 65);
  return createHash('sha1').update(point).digest('hex');
}

async function toWebCryptoSigningKey(privateKey: KeyObject): Promise<webcrypto.CryptoKey> {
  assertP256Key(privateKey, 'signing key');
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, EC_IMPORT_PARAMS, false, ['sign']);
}

// ---------------------------------------------------------------------------------------------
// Issuing

export interface IssueX509Request {
  readonly subject: NameSpec;
  readonly subjectPublicKey: KeyObject;
  /** The issuer's certificate; omit for a self-signed certificate (then issuerKey must match subjectPublicKey). */
  readonly issuerCertPem?: string;
  readonly issuerKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Default: 16 random bytes. */
  readonly serialHex?: string;
  /** Present: a CA certificate with this pathLenConstraint. Absent: an end-entity certificate. */
  readonly ca?: { readonly pathLength: number };
  /** DNS names / IP addresses for subjectAltName (end entities used for mTLS). */
  readonly hosts?: readonly string[];
}

export interface IssuedX509 {
  readonly certPem: string;
  readonly serialHex: string;
}

const HOSTS_MAX = 16;

export async function issueX509(request: IssueX509Request): Promise<IssuedX509> {
  assertP256Key(request.subjectPublicKey, 'subject public key');
  assertP256Key(request.issuerKey, 'issuer key');
  const notBefore = toWholeSecondDate('notBefore', request.notBefore);
  const notAfter = toWholeSecondDate('notAfter', request.notAfter);
  if (notAfter.getTime() <= notBefore.getTime()) {
    throw new X509Error('INVALID_REQUEST', `notAfter (${notAfter.toISOString()}) must be after notBefore (${notBefore.toISOString()})`);
  }
  const serialHex = request.serialHex === undefined ? randomSerialHex() : normalizeSerialHex(request.serialHex);
  if (/^0+$/.test(serialHex)) throw new X509Error('INVALID_REQUEST', 'serial number must not be zero');
  if (request.ca !== undefined) {
    const { pathLength } = request.ca;
    if (!Number.isSafeInteger(pathLength) || pathLength < 0 || pathLength > 8) {
      throw new X509Error('INVALID_REQUEST', `CA pathLength must be an integer 0..8, got ${pathLength}`);
    }
  }
  const hosts = request.hosts ?? [];
  if (hosts.length > HOSTS_MAX) throw new X509Error('INVALID_REQUEST', `at most ${HOSTS_MAX} hosts, got ${hosts.length}`);
  for (const host of hosts) {
    if (isIP(host) === 0 && !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(host)) {
      throw new X509Error('INVALID_REQUEST', `host "${host.slice(0, 80)}" is neither an IP address nor a DNS name`);
    }
  }

  const subjectName = buildName(request.subject);
  const subjectSpki = spkiDer(request.subjectPublicKey);
  const subjectKeyId = subjectKeyIdHex(request.subjectPublicKey);

  let issuerName: px.Name;
  let authorityKeyId: string;
  if (request.issuerCertPem === undefined) {
    if (!spkiDer(createPublicKey(request.issuerKey)).equals(subjectSpki)) {
      throw new X509Error('INVALID_REQUEST', 'self-signed certificate: issuer key does not match the subject public key');
    }
    if (request.ca === undefined) {
      throw new X509Error('INVALID_REQUEST', 'self-signed certificates are only issued for CAs');
    }
    issuerName = subjectName;
    authorityKeyId = subjectKeyId;
  } else {
    const issuer = parseCertificate(request.issuerCertPem);
    if (!issuer.isCa) throw new X509Error('NOT_CA', `issuer "${issuer.subjectDn}" is not a CA certificate`);
    if (!spkiDer(createPublicKey(request.issuerKey)).equals(spkiDer(issuer.publicKey))) {
      throw new X509Error('INVALID_REQUEST', `issuer key does not belong to the issuer certificate "${issuer.subjectDn}"`);
    }
    issuerName = new px.Name(new Uint8Array(issuer.subjectNameDer));
    authorityKeyId = issuer.subjectKeyId ?? subjectKeyIdHex(issuer.publicKey);
  }

  const extensions: px.Extension[] = [];
  if (request.ca !== undefined) {
    extensions.push(new px.BasicConstraintsExtension(true, request.ca.pathLength, true));
    extensions.push(new px.KeyUsagesExtension(px.KeyUsageFlags.keyCertSign | px.KeyUsageFlags.cRLSign | px.KeyUsageFlags.digitalSignature, true));
  } else {
    extensions.push(new px.BasicConstraintsExtension(false, undefined, true));
    extensions.push(new px.KeyUsagesExtension(px.KeyUsageFlags.digitalSignature, true));
    extensions.push(new px.ExtendedKeyUsageExtension([px.ExtendedKeyUsage.serverAuth, px.ExtendedKeyUsage.clientAuth], false));
    if (hosts.length > 0) {
      extensions.push(
        new px.SubjectAlternativeNameExtension(
          hosts.map((host) => ({ type: isIP(host) === 0 ? ('dns' as const) : ('ip' as const), value: host })),
          false,
        ),
      );
    }
  }
  extensions.push(new px.SubjectKeyIdentifierExtension(subjectKeyId, false));
  extensions.push(new px.AuthorityKeyIdentifierExtension(authorityKeyId, false));

  const signingKey = await toWebCryptoSigningKey(request.issuerKey);
  let cert: px.X509Certificate;
  try {
    cert = await px.X509CertificateGenerator.create(
      {
        serialNumber: serialHex.length % 2 === 0 ? serialHex : `0${serialHex}`,
        subject: subjectName,
        issuer: issuerName,
        notBefore,
        notAfter,
        publicKey: new Uint8Array(subjectSpki),
        signingKey: signingKey as unknown as px.X509CertificateCreateWithKeyParams['signingKey'],
        signingAlgorithm: SIGNING_ALGORITHM,
        extensions,
      },
      webcrypto as unknown as Parameters<typeof px.X509CertificateGenerator.create>[1],
    );
  } catch (err) {
    throw new X509Error('INVALID_REQUEST', `certificate generation failed: ${(err as Error).message}`);
  }
  const certPem = cert.toString('pem');
  // Belt and braces: what we issue must parse and verify with the very code that will check it.
  const parsed = parseCertificate(certPem);
  if (parsed.serialHex !== serialHex) {
    throw new X509Error('INVALID_REQUEST', `issued serial ${parsed.serialHex} differs from requested ${serialHex}`);
  }
  return { certPem, serialHex };
}

// ---------------------------------------------------------------------------------------------
// Parsing

export interface ParsedCertificate {
  readonly pem: string;
  readonly der: Uint8Array;
  readonly node: NodeX509Certificate;
  readonly subject: NameFields;
  readonly issuer: NameFields;
  /** Human-readable DNs for messages (RFC 4514 order as stored). */
  readonly subjectDn: string;
  readonly issuerDn: string;
  /** DER of the Name structures: chaining compares these bytes. */
  readonly subjectNameDer: Uint8Array;
  readonly issuerNameDer: Uint8Array;
  readonly serialHex: string;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly isCa: boolean;
  /** pathLenConstraint of a CA, null when absent (unlimited) or for end entities. */
  readonly pathLength: number | null;
  /** keyUsage flags (see KEY_USAGE), null when the extension is absent. */
  readonly keyUsage: number | null;
  readonly subjectKeyId: string | null;
  readonly authorityKeyId: string | null;
  readonly publicKey: KeyObject;
  /** sha-256 of the DER, lowercase hex. */
  readonly fingerprintHex: string;
}

const PEM_CERT_PATTERN = /^\s*-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END CERTIFICATE-----\s*$/;

function singleField(name: px.Name, field: string, what: string): string | null {
  const values = name.getField(field);
  if (values.length > 1) throw new X509Error('MALFORMED', `${what} has ${values.length} ${field} attributes, expected at most one`);
  return values[0] ?? null;
}

function nameFields(name: px.Name, what: string): NameFields {
  return {
    commonName: singleField(name, 'CN', what),
    organization: singleField(name, 'O', what),
    organizationalUnits: name.getField('OU'),
    pseudonym: singleField(name, PSEUDONYM_ATTRIBUTE_OID, what),
  };
}

/**
 * Parse one PEM certificate. Throws X509Error MALFORMED (not exactly one well-formed
 * certificate, oversize, unsupported structure) or NOT_P256 (other key type / signature algorithm).
 */
export function parseCertificate(pem: string): ParsedCertificate {
  if (typeof pem !== 'string') throw new X509Error('MALFORMED', `certificate must be PEM text, got ${typeof pem}`);
  if (pem.length > CERT_PEM_SIZE_BYTES_MAX) {
    throw new X509Error('MALFORMED', `certificate PEM is ${pem.length} bytes, more than the ${CERT_PEM_SIZE_BYTES_MAX} allowed`);
  }
  const match = PEM_CERT_PATTERN.exec(pem);
  if (match === null || match[1] === undefined) {
    throw new X509Error('MALFORMED', 'not a single PEM "CERTIFICATE" block');
  }
  const der = new Uint8Array(Buffer.from(match[1].replace(/[\r\n]/g, ''), 'base64'));
  let node: NodeX509Certificate;
  let peculiar: px.X509Certificate;
  try {
    node = new NodeX509Certificate(der);
    peculiar = new px.X509Certificate(der);
  } catch (err) {
    throw new X509Error('MALFORMED', `certificate does not parse: ${(err as Error).message}`);
  }
  const publicKey = node.publicKey;
  assertP256Key(publicKey, 'certificate public key');
  // node:crypto does not expose the signature algorithm; read it from the parsed structure.
  // (OpenSSL itself rejects a certificate whose inner and outer signature algorithms differ.)
  const sigAlg = peculiar.signatureAlgorithm as { name?: unknown; hash?: { name?: unknown } };
  if (sigAlg.name !== 'ECDSA' || sigAlg.hash?.name !== 'SHA-256') {
    throw new X509Error('NOT_P256', `certificate is signed with ${String(sigAlg.name)}/${String(sigAlg.hash?.name)}, expected ecdsa-with-SHA256`);
  }
  const notBeforeMs = Date.parse(node.validFrom);
  const notAfterMs = Date.parse(node.validTo);
  if (!Number.isFinite(notBeforeMs) || !Number.isFinite(notAfterMs)) {
    throw new X509Error('MALFORMED', `certificate validity "${node.validFrom}" .. "${node.validTo}" does not parse`);
  }

  let basic: px.BasicConstraintsExtension | null;
  let keyUsageExt: px.KeyUsagesExtension | null;
  let ski: px.SubjectKeyIdentifierExtension | null;
  let aki: px.AuthorityKeyIdentifierExtension | null;
  let subject: NameFields;
  let issuer: NameFields;
  try {
    basic = peculiar.getExtension(px.BasicConstraintsExtension);
    keyUsageExt = peculiar.getExtension(px.KeyUsagesExtension);
    ski = peculiar.getExtension(px.SubjectKeyIdentifierExtension);
    aki = peculiar.getExtension(px.AuthorityKeyIdentifierExtension);
    subject = nameFields(peculiar.subjectName, 'subject');
    issuer = nameFields(peculiar.issuerName, 'issuer');
  } catch (err) {
    if (err instanceof X509Error) throw err;
    throw new X509Error('MALFORMED', `certificate extensions do not parse: ${(err as Error).message}`);
  }
  const isCa = basic?.ca === true;
  if (isCa !== node.ca) {
    throw new X509Error('MALFORMED', 'certificate basic constraints are read differently by the two parsers');
  }
  return {
    pem,
    der,
    node,
    subject,
    issuer,
    subjectDn: peculiar.subject,
    issuerDn: peculiar.issuer,
    subjectNameDer: new Uint8Array(peculiar.subjectName.toArrayBuffer()),
    issuerNameDer: new Uint8Array(peculiar.issuerName.toArrayBuffer()),
    serialHex: normalizeSerialHex(node.serialNumber),
    notBeforeMs,
    notAfterMs,
    isCa,
    pathLength: isCa ? (basic?.pathLength ?? null) : null,
    keyUsage: keyUsageExt === null ? null : keyUsageExt.usages,
    subjectKeyId: ski === null ? null : ski.keyId.toLowerCase(),
    authorityKeyId: aki?.keyId === undefined ? null : aki.keyId.toLowerCase(),
    publicKey,
    fingerprintHex: createHash('sha256').update(der).digest('hex'),
  };
}

// ---------------------------------------------------------------------------------------------
// Verifying

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/**
 * Checks that `child` was issued by `issuer` (time-independent): name chaining, key identifier
 * chaining, the issuer is a CA allowed to sign certificates, and the signature.
 */
export function checkIssuedBy(child: ParsedCertificate, issuer: ParsedCertificate): void {
  if (!bytesEqual(child.issuerNameDer, issuer.subjectNameDer)) {
    throw new X509Error('NAME_MISMATCH', `certificate "${child.subjectDn}" names issuer "${child.issuerDn}", not "${issuer.subjectDn}"`);
  }
  if (child.authorityKeyId !== null && issuer.subjectKeyId !== null && child.authorityKeyId !== issuer.subjectKeyId) {
    throw new X509Error(
      'NAME_MISMATCH',
      `certificate "${child.subjectDn}" has authority key id ${child.authorityKeyId}, but issuer "${issuer.subjectDn}" has key id ${issuer.subjectKeyId}`,
    );
  }
  if (!issuer.isCa) {
    throw new X509Error('NOT_CA', `issuer "${issuer.subjectDn}" is not a CA (basicConstraints cA is not set)`);
  }
  if (issuer.keyUsage === null || (issuer.keyUsage & KEY_USAGE.keyCertSign) === 0) {
    throw new X509Error('KEY_USAGE', `issuer "${issuer.subjectDn}" key usage does not allow keyCertSign`);
  }
  if (!child.node.verify(issuer.publicKey)) {
    throw new X509Error('BAD_SIGNATURE', `signature on "${child.subjectDn}" does not verify with the key of "${issuer.subjectDn}"`);
  }
  // Cross-check with OpenSSL's own issuer test (name, key ids, key usage), so that our reading
  // and OpenSSL's never silently disagree.
  if (!child.node.checkIssued(issuer.node)) {
    throw new X509Error('NAME_MISMATCH', `OpenSSL does not accept "${issuer.subjectDn}" as issuer of "${child.subjectDn}"`);
  }
}

/** Checks that `cert` is a self-signed CA (a trust anchor candidate). */
export function checkSelfSignedCa(cert: ParsedCertificate): void {
  if (!bytesEqual(cert.issuerNameDer, cert.subjectNameDer)) {
    throw new X509Error('UNTRUSTED_ROOT', `root "${cert.subjectDn}" is not self-issued (issuer "${cert.issuerDn}")`);
  }
  checkIssuedBy(cert, cert);
}

/** Validity at a moment: notBefore <= atMs <= notAfter (RFC 5280: both bounds inclusive). */
export function checkValidityAt(cert: ParsedCertificate, atMs: number, label = 'certificate'): void {
  if (!Number.isFinite(atMs)) throw new RangeError(`validation time must be a finite number of ms, got ${atMs}`);
  if (atMs < cert.notBeforeMs) {
    throw new X509Error(
      'NOT_YET_VALID',
      `${label} "${cert.subjectDn}" is not valid before ${new Date(cert.notBeforeMs).toISOString()} (checked at ${new Date(atMs).toISOString()})`,
    );
  }
  if (atMs > cert.notAfterMs) {
    throw new X509Error(
      'EXPIRED',
      `${label} "${cert.subjectDn}" expired at ${new Date(cert.notAfterMs).toISOString()} (checked at ${new Date(atMs).toISOString()})`,
    );
  }
}

export interface VerifiedChain {
  /** Leaf first, trusted root last. */
  readonly certificates: readonly ParsedCertificate[];
  readonly leaf: ParsedCertificate;
}

/**
 * Verify a chain: `chainPem` is leaf first, then intermediates, optionally ending with the root;
 * `trustedRootPem` is the trust anchor. Checks every signature, name chaining, CA flags, key
 * usage, path length constraints, and every certificate's validity at `atMs`.
 */
export function verifyChain(chainPem: readonly string[], trustedRootPem: string, atMs: number): VerifiedChain {
  if (chainPem.length === 0) throw new X509Error('MALFORMED', 'empty certificate chain');
  if (chainPem.length > CHAIN_LENGTH_MAX) {
    throw new X509Error('MALFORMED', `chain of ${chainPem.length} certificates is longer than the ${CHAIN_LENGTH_MAX} allowed`);
  }
  const root = parseCertificate(trustedRootPem);
  checkSelfSignedCa(root);
  const certs = chainPem.map((pem) => parseCertificate(pem));
  const last = certs[certs.length - 1];
  if (last !== undefined && certs.length > 1 && last.fingerprintHex === root.fingerprintHex) certs.pop();
  const full = [...certs, root];
  for (let i = 0; i + 1 < full.length; i++) {
    const child = full[i];
    const issuer = full[i + 1];
    if (child === undefined || issuer === undefined) throw new Error('unreachable: chain index');
    checkIssuedBy(child, issuer);
    // CA at full[i+1] has i intermediate CA certificates below it (the leaf full[0] does not count).
    if (issuer.pathLength !== null && i > issuer.pathLength) {
      throw new X509Error('PATH_LENGTH', `CA "${issuer.subjectDn}" allows ${issuer.pathLength} intermediate CA(s) below it, chain has ${i}`);
    }
  }
  full.forEach((cert, index) => checkValidityAt(cert, atMs, index === 0 ? 'certificate' : 'CA certificate'));
  const leaf = full[0];
  if (leaf === undefined) throw new Error('unreachable: empty chain');
  return { certificates: full, leaf };
}

/** Parse a PEM private key and check it is P-256. */
export function parseP256PrivateKey(keyPem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new X509Error('MALFORMED', `not a valid private key: ${(err as Error).message}`);
  }
  assertP256Key(key, 'private key');
  return key;
}

/** True when the private key belongs to the certificate's public key. */
export function keyMatchesCertificate(privateKey: KeyObject, cert: ParsedCertificate): boolean {
  return spkiDer(createPublicKey(privateKey)).equals(spkiDer(cert.publicKey));
}
