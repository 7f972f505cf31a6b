// The membership service provider (MSP): maps a certificate to (organisation, role, id), or
// rejects it with a reason. Trust is the consortium root plus the org CAs listed in the
// configuration (which later lives on chain); nothing else.
//
// Cost model: chain verification (signatures, names, CA flags, role) does not depend on time, so
// its outcome is cached per certificate PEM (bounded, least-recently-used eviction). Validity
// periods and revocation DO depend on the moment and on later revocations, so they are checked
// on every call.
import type { KeyObject } from 'node:crypto';
import { checkIssuedBy, checkSelfSignedCa, checkValidityAt, normalizeSerialHex, parseCertificate, X509Error, type ParsedCertificate } from '../crypto/x509.ts';
import { PATIENT_PSEUDONYM_PATTERN } from './ca.ts';
import { isIssuableRole, isValidOrgName, PRINCIPAL_ROLES, ROLES, type Role } from './roles.ts';

export type IdentityErrorCode = 'MALFORMED' | 'UNKNOWN_ORG' | 'BAD_CHAIN' | 'EXPIRED' | 'NOT_YET_VALID' | 'REVOKED' | 'NO_ROLE' | 'PSEUDONYM' | 'NOT_P256';

export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Identity {
  readonly org: string;
  readonly role: Role;
  /**
   * The subject common name. Unique within an org by convention; serialHex identifies the
   * certificate. For a patient it is their pseudonym (decision 0906), never a login name.
   */
  readonly id: string;
  /** A patient's pseudonym, as their CA attested it (X.520 pseudonym attribute = CN); null for every other role. */
  readonly pseudonym: string | null;
  readonly certPem: string;
  readonly serialHex: string;
  readonly publicKey: KeyObject;
}

export interface MspConfig {
  rootCertPem: string;
  orgs: ReadonlyArray<{ org: string; caCertPem: string }>;
  revokedSerials?: ReadonlyArray<{ org: string; serialHex: string }>;
}

export const MSP_CACHE_ENTRIES_MAX = 1024;
export const MSP_ORGS_MAX = 256;
export const REVOKED_SERIALS_MAX = 1_000_000;

interface OrgEntry {
  readonly org: string;
  readonly ca: ParsedCertificate;
}

type CacheEntry =
  | { readonly ok: true; readonly identity: Identity; readonly leaf: ParsedCertificate; readonly orgEntry: OrgEntry }
  | { readonly ok: false; readonly code: IdentityErrorCode; readonly message: string };

/** Map a crypto-layer error to the MSP's vocabulary, prefixing what was being checked. */
function toIdentityError(err: unknown, context: string): IdentityError {
  if (err instanceof IdentityError) return err;
  if (err instanceof X509Error) {
    switch (err.code) {
      case 'MALFORMED':
      case 'INVALID_REQUEST':
        return new IdentityError('MALFORMED', `${context}: ${err.message}`);
      case 'NOT_P256':
        return new IdentityError('NOT_P256', `${context}: ${err.message}`);
      case 'EXPIRED':
        return new IdentityError('EXPIRED', `${context}: ${err.message}`);
      case 'NOT_YET_VALID':
        return new IdentityError('NOT_YET_VALID', `${context}: ${err.message}`);
      default:
        return new IdentityError('BAD_CHAIN', `${context}: ${err.message}`);
    }
  }
  throw err;
}

export class Msp {
  readonly rootCertPem: string;
  private readonly root: ParsedCertificate;
  private readonly byOrg = new Map<string, OrgEntry>();
  /** Issuer Name DER (hex) → org: how a presented certificate finds its CA. */
  private readonly byIssuerName = new Map<string, OrgEntry>();
  private readonly revoked = new Map<string, Set<string>>();
  private revokedCount = 0;
  private readonly cache = new Map<string, CacheEntry>();

  constructor(config: MspConfig) {
    if (typeof config !== 'object' || config === null) throw new IdentityError('MALFORMED', 'MSP config must be an object');
    try {
      this.root = parseCertificate(config.rootCertPem);
      checkSelfSignedCa(this.root);
    } catch (err) {
      throw toIdentityError(err, 'MSP config: root certificate');
    }
    this.rootCertPem = config.rootCertPem;
    if (!Array.isArray(config.orgs)) throw new IdentityError('MALFORMED', 'MSP config: orgs must be an array');
    if (config.orgs.length > MSP_ORGS_MAX) {
      throw new IdentityError('MALFORMED', `MSP config: ${config.orgs.length} orgs, at most ${MSP_ORGS_MAX} allowed`);
    }
    for (const { org, caCertPem } of config.orgs) {
      if (typeof org !== 'string' || !isValidOrgName(org)) {
        throw new IdentityError('MALFORMED', `MSP config: organisation name "${String(org).slice(0, 80)}" is not valid`);
      }
      if (this.byOrg.has(org)) throw new IdentityError('MALFORMED', `MSP config: organisation "${org}" is listed twice`);
      let ca: ParsedCertificate;
      try {
        ca = parseCertificate(caCertPem);
        checkIssuedBy(ca, this.root);
      } catch (err) {
        throw toIdentityError(err, `MSP config: CA certificate of "${org}"`);
      }
      if (!ca.isCa) throw new IdentityError('BAD_CHAIN', `MSP config: certificate of "${org}" is not a CA certificate`);
      if (ca.subject.organization !== org) {
        throw new IdentityError('BAD_CHAIN', `MSP config: CA certificate listed for "${org}" belongs to organisation "${ca.subject.organization ?? '(none)'}"`);
      }
      const issuerKey = Buffer.from(ca.subjectNameDer).toString('hex');
      if (this.byIssuerName.has(issuerKey)) {
        throw new IdentityError('MALFORMED', `MSP config: two organisations have a CA named "${ca.subjectDn}"`);
      }
      const entry: OrgEntry = { org, ca };
      this.byOrg.set(org, entry);
      this.byIssuerName.set(issuerKey, entry);
    }
    for (const { org, serialHex } of config.revokedSerials ?? []) this.revoke(org, serialHex);
  }

  /** Entries in the validation cache (at most MSP_CACHE_ENTRIES_MAX). */
  get cacheSize(): number {
    return this.cache.size;
  }

  orgs(): string[] {
    return [...this.byOrg.keys()];
  }

  hasOrg(org: string): boolean {
    return this.byOrg.has(org);
  }

  /** The CA certificate PEM of an organisation (e.g. to verify its revocation lists). */
  caCertPem(org: string): string {
    const entry = this.byOrg.get(org);
    if (entry === undefined) throw new IdentityError('UNKNOWN_ORG', `organisation "${org}" is not a member of this MSP`);
    return entry.ca.pem;
  }

  /** Revoke a certificate serial of an organisation. Idempotent; revocation is permanent. */
  revoke(org: string, serialHex: string): void {
    if (!this.byOrg.has(org)) throw new IdentityError('UNKNOWN_ORG', `cannot revoke for organisation "${org}": not a member of this MSP`);
    let serial: string;
    try {
      serial = normalizeSerialHex(serialHex);
    } catch (err) {
      throw toIdentityError(err, 'revocation');
    }
    let set = this.revoked.get(org);
    if (set === undefined) {
      set = new Set();
      this.revoked.set(org, set);
    }
    if (set.has(serial)) return;
    if (this.revokedCount >= REVOKED_SERIALS_MAX) {
      throw new IdentityError('MALFORMED', `revocation: more than ${REVOKED_SERIALS_MAX} revoked serials`);
    }
    set.add(serial);
    this.revokedCount++;
  }

  isRevoked(org: string, serialHex: string): boolean {
    const set = this.revoked.get(org);
    if (set === undefined) return false;
    try {
      return set.has(normalizeSerialHex(serialHex));
    } catch {
      return false;
    }
  }

  revokedSerials(): Array<{ org: string; serialHex: string }> {
    const out: Array<{ org: string; serialHex: string }> = [];
    for (const [org, set] of this.revoked) for (const serialHex of [...set].sort()) out.push({ org, serialHex });
    return out;
  }

  /**
   * Validate a certificate at time `atMs` (ms since the epoch; on the ledger, the block's or
   * transaction's timestamp — never the local clock, so that every peer decides alike).
   * Returns the identity or throws IdentityError whose message names the reason.
   */
  validate(certPem: string, atMs: number): Identity {
    if (!Number.isFinite(atMs)) throw new RangeError(`validation time must be a finite number of ms, got ${atMs}`);
    if (typeof certPem !== 'string') throw new IdentityError('MALFORMED', `certificate must be PEM text, got ${typeof certPem}`);
    const entry = this.structural(certPem);
    if (!entry.ok) throw new IdentityError(entry.code, entry.message);
    const { identity, leaf, orgEntry } = entry;
    if (this.isRevoked(identity.org, identity.serialHex)) {
      throw new IdentityError('REVOKED', `certificate "${leaf.subjectDn}" (serial ${identity.serialHex}) of ${identity.org} has been revoked`);
    }
    try {
      checkValidityAt(leaf, atMs, 'certificate');
      checkValidityAt(orgEntry.ca, atMs, `CA certificate of ${orgEntry.org}`);
      checkValidityAt(this.root, atMs, 'root CA certificate');
    } catch (err) {
      throw toIdentityError(err, `identity ${identity.org}/${identity.id}`);
    }
    return identity;
  }

  /**
   * Chain and role only — NO validity-period or revocation check. For tooling (listing or
   * loading a consortium whose certificates may have expired); never for authorising anything.
   */
  identify(certPem: string): Identity {
    if (typeof certPem !== 'string') throw new IdentityError('MALFORMED', `certificate must be PEM text, got ${typeof certPem}`);
    const entry = this.structural(certPem);
    if (!entry.ok) throw new IdentityError(entry.code, entry.message);
    return entry.identity;
  }

  /** The time-independent part of validation, cached (bounded, LRU). */
  private structural(certPem: string): CacheEntry {
    const cached = this.cache.get(certPem);
    if (cached !== undefined) {
      // Refresh recency: Map iteration order is insertion order, so re-inserting moves it last.
      this.cache.delete(certPem);
      this.cache.set(certPem, cached);
      return cached;
    }
    let entry: CacheEntry;
    try {
      entry = this.verifyStructure(certPem);
    } catch (err) {
      const identityError = toIdentityError(err, 'certificate');
      entry = { ok: false, code: identityError.code, message: identityError.message };
    }
    if (this.cache.size >= MSP_CACHE_ENTRIES_MAX) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    this.cache.set(certPem, entry);
    return entry;
  }

  private verifyStructure(certPem: string): CacheEntry {
    const leaf = parseCertificate(certPem);
    const orgEntry = this.byIssuerName.get(Buffer.from(leaf.issuerNameDer).toString('hex'));
    if (orgEntry === undefined) {
      throw new IdentityError(
        'UNKNOWN_ORG',
        `certificate "${leaf.subjectDn}" was issued by "${leaf.issuerDn}", which is not the CA of any member organisation (${this.orgs().join(', ')})`,
      );
    }
    try {
      checkIssuedBy(leaf, orgEntry.ca);
    } catch (err) {
      throw toIdentityError(err, `certificate "${leaf.subjectDn}" claims issuer CA of ${orgEntry.org}`);
    }
    if (leaf.isCa) {
      throw new IdentityError('BAD_CHAIN', `certificate "${leaf.subjectDn}" is a CA certificate, not a node or user identity`);
    }
    if (leaf.keyUsage !== null && (leaf.keyUsage & 1) === 0) {
      throw new IdentityError('BAD_CHAIN', `certificate "${leaf.subjectDn}" key usage does not allow digitalSignature`);
    }
    if (leaf.subject.organization !== orgEntry.org) {
      throw new IdentityError(
        'BAD_CHAIN',
        `certificate "${leaf.subjectDn}" names organisation "${leaf.subject.organization ?? '(none)'}" but was issued by the CA of ${orgEntry.org}`,
      );
    }
    const id = leaf.subject.commonName;
    if (id === null || id === '') throw new IdentityError('MALFORMED', `certificate "${leaf.subjectDn}" has no subject common name`);
    const ous = leaf.subject.organizationalUnits;
    const roleOus = ous.filter((ou) => (PRINCIPAL_ROLES as readonly string[]).includes(ou));
    if (roleOus.length === 0) {
      throw new IdentityError('NO_ROLE', `certificate "${leaf.subjectDn}" carries no role: its subject OU must be one of ${ROLES.join(', ')}`);
    }
    if (roleOus.length > 1) {
      throw new IdentityError('NO_ROLE', `certificate "${leaf.subjectDn}" carries ${roleOus.length} roles (${roleOus.join(', ')}); exactly one is allowed`);
    }
    const role = roleOus[0];
    if (role === undefined || !isIssuableRole(role)) {
      throw new IdentityError(
        'NO_ROLE',
        `certificate "${leaf.subjectDn}" carries role "${String(role)}", which is only a policy principal and cannot be issued`,
      );
    }
    const pseudonym = leaf.subject.pseudonym;
    // The patient profile (decision 0906): a patient is known on chain by their pseudonym only.
    // A patient certificate whose CN is anything else (a login name) could put that name next to
    // the pseudonym in every transaction the patient signs, so it is not an identity at all.
    if (role === 'patient') {
      if (pseudonym === null || !PATIENT_PSEUDONYM_PATTERN.test(pseudonym) || pseudonym !== id) {
        throw new IdentityError(
          'PSEUDONYM',
          `patient certificate "${leaf.subjectDn}" must carry a pseudonym (32-64 lowercase hex) as both its pseudonym attribute and its common name`,
        );
      }
    } else if (pseudonym !== null) {
      throw new IdentityError(
        'PSEUDONYM',
        `certificate "${leaf.subjectDn}" carries a pseudonym but its role is ${role}: only patient certificates are pseudonymous`,
      );
    }
    const identity: Identity = Object.freeze({
      org: orgEntry.org,
      role,
      id,
      pseudonym,
      certPem,
      serialHex: leaf.serialHex,
      publicKey: leaf.publicKey,
    });
    return { ok: true, identity, leaf, orgEntry };
  }
}

/**
 * The principals of a set of validated identities, one per distinct certificate (org + serial),
 * in first-seen order: the `signers` argument evaluatePolicy expects. The same endorser
 * signing twice must count once.
 */
export function distinctPrincipals(identities: readonly Identity[]): Array<{ org: string; role: Role }> {
  const seen = new Set<string>();
  const out: Array<{ org: string; role: Role }> = [];
  for (const identity of identities) {
    const key = `${identity.org}/${identity.serialHex}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ org: identity.org, role: identity.role });
  }
  return out;
}
