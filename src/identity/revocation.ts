// Revocation lists that go on chain: `{ org, serials, issuedAtMs, signature }`, signed by the
// organisation's CA key (ECDSA P-256, 64-byte P1363 signature) over the canonical DAG-CBOR
// encoding of `{ type, org, serials, issuedAtMs }`. Semantics are a UNION: applying a list
// revokes every serial in it, permanently; applying an old or repeated list changes nothing. So
// the result does not depend on the order lists are applied in, which every peer replaying the
// chain needs. (An X.509 CRL would also do, but its generator is async and its parsing needs a
// second code path; a dozen lines of CBOR are easier to audit.)
import { decode, encode, type Bytes } from '../codec/index.ts';
import { sign, SIGNATURE_SIZE_BYTES, verify } from '../crypto/index.ts';
import { normalizeSerialHex, parseCertificate, parseP256PrivateKey, X509Error } from '../crypto/x509.ts';
import type { CertificateAuthority } from './ca.ts';
import { IdentityError, type Msp } from './msp.ts';
import { isValidOrgName } from './roles.ts';

export interface RevocationList {
  readonly org: string;
  /** Normalised (lowercase, no leading zeros), sorted, unique. */
  readonly serials: readonly string[];
  readonly issuedAtMs: number;
  readonly signature: Bytes;
}

export const REVOCATION_LIST_SERIALS_MAX = 10_000;
export const REVOCATION_LIST_SIZE_BYTES_MAX = 1024 * 1024;
const SIGNED_TYPE = 'medledger/revocation-list/v1';

function canonicalSerials(serials: readonly string[]): string[] {
  if (!Array.isArray(serials)) throw new IdentityError('MALFORMED', 'revocation list: serials must be an array');
  if (serials.length > REVOCATION_LIST_SERIALS_MAX) {
    throw new IdentityError('MALFORMED', `revocation list: ${serials.length} serials, at most ${REVOCATION_LIST_SERIALS_MAX} allowed`);
  }
  const normalised = serials.map((serial) => {
    if (typeof serial !== 'string') throw new IdentityError('MALFORMED', 'revocation list: every serial must be a hex string');
    try {
      return normalizeSerialHex(serial);
    } catch (err) {
      throw new IdentityError('MALFORMED', `revocation list: ${(err as Error).message}`);
    }
  });
  return [...new Set(normalised)].sort();
}

/** The exact bytes that are signed. The type tag keeps this signature from meaning anything else. */
export function revocationListSigningBytes(list: Pick<RevocationList, 'org' | 'serials' | 'issuedAtMs'>): Bytes {
  return encode({ type: SIGNED_TYPE, org: list.org, serials: [...list.serials], issuedAtMs: list.issuedAtMs });
}

function checkFields(org: unknown, issuedAtMs: unknown): void {
  if (typeof org !== 'string' || !isValidOrgName(org)) {
    throw new IdentityError('MALFORMED', `revocation list: organisation "${String(org).slice(0, 80)}" is not a valid name`);
  }
  if (typeof issuedAtMs !== 'number' || !Number.isSafeInteger(issuedAtMs) || issuedAtMs < 0) {
    throw new IdentityError('MALFORMED', `revocation list: issuedAtMs must be a non-negative integer, got ${String(issuedAtMs)}`);
  }
}

/** Build and sign a revocation list with an organisation CA. */
export function createRevocationList(ca: CertificateAuthority, serials: readonly string[], issuedAtMs: number): RevocationList {
  if (ca.org === null) throw new IdentityError('MALFORMED', 'revocation lists are signed by an organisation CA, not the root');
  checkFields(ca.org, issuedAtMs);
  const canonical = canonicalSerials(serials);
  let key;
  try {
    key = parseP256PrivateKey(ca.keyPem);
  } catch (err) {
    throw new IdentityError('MALFORMED', `revocation list: CA key: ${(err as X509Error).message}`);
  }
  const unsigned = { org: ca.org, serials: canonical, issuedAtMs };
  return Object.freeze({ ...unsigned, signature: sign(key, revocationListSigningBytes(unsigned)) });
}

/**
 * Verify a revocation list against the organisation CA certificate. Throws IdentityError:
 * MALFORMED (shape), BAD_CHAIN (wrong organisation or bad signature).
 */
export function verifyRevocationList(list: RevocationList, caCertPem: string): void {
  checkFields(list.org, list.issuedAtMs);
  const canonical = canonicalSerials(list.serials);
  if (canonical.length !== list.serials.length || canonical.some((s, i) => s !== list.serials[i])) {
    throw new IdentityError('MALFORMED', 'revocation list: serials are not normalised, sorted and unique');
  }
  if (!(list.signature instanceof Uint8Array) || list.signature.byteLength !== SIGNATURE_SIZE_BYTES) {
    throw new IdentityError('MALFORMED', `revocation list: signature must be ${SIGNATURE_SIZE_BYTES} bytes`);
  }
  let caOrg: string | null;
  let caKey;
  try {
    const ca = parseCertificate(caCertPem);
    caOrg = ca.subject.organization;
    caKey = ca.publicKey;
  } catch (err) {
    throw new IdentityError('MALFORMED', `revocation list: CA certificate: ${(err as Error).message}`);
  }
  if (caOrg !== list.org) {
    throw new IdentityError('BAD_CHAIN', `revocation list of "${list.org}" checked against the CA of "${caOrg ?? '(none)'}"`);
  }
  if (!verify(caKey, revocationListSigningBytes(list), list.signature)) {
    throw new IdentityError('BAD_CHAIN', `revocation list of "${list.org}": signature does not verify with the organisation CA key`);
  }
}

/** Verify against the MSP's CA of list.org, then revoke every serial in it. Returns how many were new. */
export function applyRevocationList(msp: Msp, list: RevocationList): number {
  verifyRevocationList(list, msp.caCertPem(list.org));
  let added = 0;
  for (const serial of list.serials) {
    if (!msp.isRevoked(list.org, serial)) {
      msp.revoke(list.org, serial);
      added++;
    }
  }
  return added;
}

export function encodeRevocationList(list: RevocationList): Bytes {
  return encode({ org: list.org, serials: [...list.serials], issuedAtMs: list.issuedAtMs, signature: list.signature });
}

/** Decode and check the shape (not the signature: use verifyRevocationList). */
export function decodeRevocationList(bytes: Bytes): RevocationList {
  if (bytes.byteLength > REVOCATION_LIST_SIZE_BYTES_MAX) {
    throw new IdentityError('MALFORMED', `revocation list: ${bytes.byteLength} bytes, at most ${REVOCATION_LIST_SIZE_BYTES_MAX} allowed`);
  }
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (err) {
    throw new IdentityError('MALFORMED', `revocation list: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new IdentityError('MALFORMED', 'revocation list: not a map');
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort().join(',');
  if (keys !== 'issuedAtMs,org,serials,signature') {
    throw new IdentityError('MALFORMED', `revocation list: expected fields issuedAtMs, org, serials, signature; got ${keys}`);
  }
  const { org, serials, issuedAtMs, signature } = record;
  checkFields(org, issuedAtMs);
  if (!Array.isArray(serials) || !serials.every((s): s is string => typeof s === 'string')) {
    throw new IdentityError('MALFORMED', 'revocation list: serials must be an array of strings');
  }
  if (!(signature instanceof Uint8Array)) throw new IdentityError('MALFORMED', 'revocation list: signature must be bytes');
  return Object.freeze({ org: org as string, serials, issuedAtMs: issuedAtMs as number, signature });
}
