// Enrolling a person (or a device) without the hospital ever holding their private key: the
// future holder makes a key pair and a PKCS#10 certificate signing request on their own machine
// (`medledger user request`), sends only the request; the hospital's CA admin checks the request's
// own signature (proof that the requester holds the key) and issues a certificate for that public
// key with the role the hospital decides (`medledger user enrol`). Re-enrolling is the same with a
// new key (key rotation); the old certificate is then revoked (revocation.ts, decision 1206).
import { createPublicKey, webcrypto } from 'node:crypto';
import { peculiarX509 as px, X509Error } from '../crypto/x509.ts';
import { issueCertificate, type CertificateAuthority, type IssuedIdentity } from './ca.ts';
import { isIssuableRole, isValidIdentityName, type Role } from './roles.ts';

export const ENROLMENT_REQUEST_PEM_BYTES_MAX = 16 * 1024;

type CryptoKeyPairLike = Parameters<typeof px.Pkcs10CertificateRequestGenerator.create>[0]['keys'];

/** A new key pair and a request for it (PEM). The key never leaves the caller. */
export async function createEnrolmentRequest(commonName: string): Promise<{ csrPem: string; keyPem: string }> {
  if (!isValidIdentityName(commonName))
    throw new X509Error(
      'INVALID_REQUEST',
      `name "${commonName.slice(0, 80)}" is not allowed: a letter or digit, then up to 63 letters, digits, '.', '_', '@', '-'`,
    );
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const csr = await px.Pkcs10CertificateRequestGenerator.create(
    { name: `CN=${commonName}`, keys: keys as unknown as CryptoKeyPairLike, signingAlgorithm: algorithm },
    webcrypto as unknown as Parameters<typeof px.Pkcs10CertificateRequestGenerator.create>[1],
  );
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').trim()}\n-----END PRIVATE KEY-----\n`;
  return { csrPem: csr.toString('pem'), keyPem };
}

/** What a request asks for, after checking that its signature proves possession of the key. */
export async function readEnrolmentRequest(csrPem: string): Promise<{ commonName: string; publicKeyPem: string }> {
  if (typeof csrPem !== 'string' || csrPem.length > ENROLMENT_REQUEST_PEM_BYTES_MAX)
    throw new X509Error('MALFORMED', `an enrolment request is a PEM of at most ${ENROLMENT_REQUEST_PEM_BYTES_MAX} bytes`);
  let csr: px.Pkcs10CertificateRequest;
  try {
    csr = new px.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new X509Error('MALFORMED', `not a PKCS#10 certificate request: ${(err as Error).message}`);
  }
  if (!(await csr.verify(webcrypto as unknown as Parameters<typeof csr.verify>[0])))
    throw new X509Error('BAD_SIGNATURE', 'the request is not signed by the key it names (proof of possession failed)');
  const cn = csr.subjectName.getField('CN')[0];
  if (cn === undefined || !isValidIdentityName(cn))
    throw new X509Error('INVALID_REQUEST', `the request's common name "${String(cn ?? '').slice(0, 80)}" is not an allowed name`);
  const spki = Buffer.from(csr.publicKey.rawData);
  let publicKeyPem: string;
  try {
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new Error('not an ECDSA P-256 key');
    publicKeyPem = key.export({ format: 'pem', type: 'spki' }).toString();
  } catch (err) {
    throw new X509Error('NOT_P256', `the request's key: ${(err as Error).message}`);
  }
  return { commonName: cn, publicKeyPem };
}

/**
 * Issue a certificate for a checked request. The CA decides the role; a patient's certificate is
 * issued to their pseudonym (decision 0906), so the request's name must be it.
 */
export async function enrolFromRequest(
  ca: CertificateAuthority,
  csrPem: string,
  opts: { role: Role; pseudonym?: string; commonName?: string; notAfter?: Date },
): Promise<IssuedIdentity & { commonName: string }> {
  if (!isIssuableRole(opts.role)) throw new X509Error('INVALID_REQUEST', `role "${String(opts.role).slice(0, 40)}" cannot be issued`);
  const requested = await readEnrolmentRequest(csrPem);
  // The CA decides the subject: the requested name, or (a patient) the pseudonym it maps to.
  const commonName = opts.commonName ?? requested.commonName;
  const publicKeyPem = requested.publicKeyPem;
  const issued = await issueCertificate(ca, {
    commonName,
    role: opts.role,
    publicKey: createPublicKey(publicKeyPem),
    ...(opts.pseudonym !== undefined ? { pseudonym: opts.pseudonym } : {}),
    ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
  });
  return { ...issued, commonName };
}
