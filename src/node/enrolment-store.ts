// A hospital node's registrations of people to enrol (issue 12, item 1; decision 1252): Fabric-CA's
// register/enrol with the CA key kept offline on the admin's host. The admin registers a name and
// a role (a patient: the pseudonym the admin's host derived, decision 0906) and receives a
// one-time enrolment secret; the new user submits a signing request with that secret; the admin's
// host fetches the pending requests, issues the certificates locally and uploads them; the user
// collects the certificate with the secret, which is then spent.
//
// Node-local and never on chain (names are personal data): SQLite under the node's data dir
// (WAL, synchronous=FULL, mode 0600). The secret is stored only as its SHA-256 (it is 256 random
// bits, so a hash is enough: nothing to brute-force), expires, and a registration locks after a
// few wrong secrets. Registrations not yet collected are bounded in number. The store holds no
// key and decides nothing about certificates: the API checks an uploaded certificate against the
// MSP of the config in force before `issue` records it.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { makeDirectory } from '../files/directory.ts';

export const ENROLMENT_SECRET_TTL_MS_DEFAULT = 7 * 24 * 3600 * 1000;
export const OPEN_REGISTRATIONS_MAX_DEFAULT = 1000;
export const SECRET_ATTEMPTS_MAX = 5;
/** Finished or expired registrations without a certificate are forgotten this long after they expire. */
const EXPIRED_KEPT_MS = 30 * 24 * 3600 * 1000;

export type RegistrationStatus = 'registered' | 'requested' | 'issued' | 'collected';

export type EnrolmentErrorCode =
  | 'REGISTRATION_NOT_FOUND'
  | 'SECRET_INVALID'
  | 'SECRET_EXPIRED'
  | 'SECRET_LOCKED'
  | 'SECRET_SPENT'
  | 'NAME_MISMATCH'
  | 'ALREADY_REGISTERED'
  | 'ALREADY_REQUESTED'
  | 'ALREADY_ENROLLED'
  | 'NOT_REQUESTED'
  | 'TOO_MANY_REGISTRATIONS'
  | 'BAD_REGISTRATION';

export class EnrolmentError extends Error {
  override readonly name = 'EnrolmentError';
  constructor(
    readonly code: EnrolmentErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Registration {
  readonly id: string;
  /** The name the person asks with (a patient: their login name; the certificate names the pseudonym). */
  readonly name: string;
  readonly role: string;
  readonly pseudonym: string | null;
  readonly registeredBy: string;
  readonly registeredAtMs: number;
  readonly expiresAtMs: number;
  readonly status: RegistrationStatus;
  readonly csrPem: string | null;
  readonly publicKeyPem: string | null;
  readonly requestedAtMs: number | null;
  readonly certPem: string | null;
  readonly serialHex: string | null;
  readonly issuedAtMs: number | null;
  readonly collectedAtMs: number | null;
}

interface Row {
  id: string;
  name: string;
  role: string;
  pseudonym: string | null;
  registered_by: string;
  registered_at_ms: number;
  expires_at_ms: number;
  secret_hash: Buffer | null;
  failed_attempts: number;
  status: RegistrationStatus;
  csr_pem: string | null;
  public_key_pem: string | null;
  requested_at_ms: number | null;
  cert_pem: string | null;
  serial_hex: string | null;
  issued_at_ms: number | null;
  collected_at_ms: number | null;
}

const toRegistration = (r: Row): Registration => ({
  id: r.id,
  name: r.name,
  role: r.role,
  pseudonym: r.pseudonym,
  registeredBy: r.registered_by,
  registeredAtMs: r.registered_at_ms,
  expiresAtMs: r.expires_at_ms,
  status: r.status,
  csrPem: r.csr_pem,
  publicKeyPem: r.public_key_pem,
  requestedAtMs: r.requested_at_ms,
  certPem: r.cert_pem,
  serialHex: r.serial_hex,
  issuedAtMs: r.issued_at_ms,
  collectedAtMs: r.collected_at_ms,
});

const ID_RE = /^[0-9a-f]{32}$/;
const SECRET_RE = /^([0-9a-f]{32})\.([A-Za-z0-9_-]{43})$/;
const hashOf = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

/** The registration id a secret names (`<id>.<256 random bits, base64url>`), or null when it is not one. */
export function registrationIdOfSecret(secret: string): string | null {
  return SECRET_RE.exec(secret)?.[1] ?? null;
}

export interface EnrolmentStoreOptions {
  readonly secretTtlMs?: number;
  /** Registrations not yet collected (and not expired) at once; beyond: TOO_MANY_REGISTRATIONS. */
  readonly openRegistrationsMax?: number;
}

export class EnrolmentStore {
  private readonly db: Database.Database;
  private readonly secretTtlMs: number;
  private readonly openMax: number;
  private closed = false;

  constructor(
    readonly path: string,
    opts: EnrolmentStoreOptions = {},
  ) {
    this.secretTtlMs = opts.secretTtlMs ?? ENROLMENT_SECRET_TTL_MS_DEFAULT;
    this.openMax = opts.openRegistrationsMax ?? OPEN_REGISTRATIONS_MAX_DEFAULT;
    if (!Number.isSafeInteger(this.secretTtlMs) || this.secretTtlMs < 1000) throw new RangeError('secretTtlMs must be an integer >= 1000');
    if (!Number.isSafeInteger(this.openMax) || this.openMax < 1) throw new RangeError('openRegistrationsMax must be a positive integer');
    // Names of people and their roles: readable by the node's user only. The file is made 0600
    // before SQLite opens it, so its -wal and -shm files (which SQLite creates with the database
    // file's mode) are too; the directory is the node's own.
    makeDirectory(dirname(path), { mode: 0o700 });
    if (!existsSync(path)) writeFileSync(path, '', { mode: 0o600, flag: 'wx' });
    chmodSync(path, 0o600);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS registrations (
      id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, pseudonym TEXT,
      registered_by TEXT NOT NULL, registered_at_ms INTEGER NOT NULL, expires_at_ms INTEGER NOT NULL,
      secret_hash BLOB, failed_attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL,
      csr_pem TEXT, public_key_pem TEXT, requested_at_ms INTEGER,
      cert_pem TEXT, serial_hex TEXT, issued_at_ms INTEGER, collected_at_ms INTEGER)`);
    this.db.exec('CREATE INDEX IF NOT EXISTS registrations_name ON registrations (name)');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the enrolment store is closed');
  }

  private row(id: string): Row | undefined {
    return ID_RE.test(id) ? (this.db.prepare('SELECT * FROM registrations WHERE id = ?').get(id) as Row | undefined) : undefined;
  }

  /** Open = not collected and not expired (what counts against the bound, and what blocks a second registration of a name). */
  private openCount(nowMs: number): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM registrations WHERE status != 'collected' AND expires_at_ms > ?").get(nowMs) as { n: number }).n;
  }

  /**
   * Record a registration; the secret is returned here once and kept only as its hash. A name
   * with an open registration is refused (ALREADY_REGISTERED); a name enrolled before may be
   * registered again (re-enrolment: a new key, the old certificate then revoked).
   */
  register(
    input: { name: string; role: string; pseudonym: string | null; registeredBy: string },
    nowMs: number,
  ): { registration: Registration; secret: string } {
    this.assertOpen();
    this.prune(nowMs);
    const open = this.db.prepare("SELECT id FROM registrations WHERE name = ? AND status != 'collected' AND expires_at_ms > ?").get(input.name, nowMs) as
      { id: string } | undefined;
    if (open)
      throw new EnrolmentError(
        'ALREADY_REGISTERED',
        `${input.name} already has an open registration (${open.id}); it is collected or expires first (or register again after it expires)`,
      );
    if (this.openCount(nowMs) >= this.openMax)
      throw new EnrolmentError(
        'TOO_MANY_REGISTRATIONS',
        `${this.openMax} registrations are open on this node (not yet collected and not expired); at most ${this.openMax}`,
      );
    const id = randomBytes(16).toString('hex');
    const secret = `${id}.${randomBytes(32).toString('base64url')}`;
    this.db
      .prepare(
        "INSERT INTO registrations (id, name, role, pseudonym, registered_by, registered_at_ms, expires_at_ms, secret_hash, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'registered')",
      )
      .run(id, input.name, input.role, input.pseudonym, input.registeredBy, nowMs, nowMs + this.secretTtlMs, hashOf(secret));
    return { registration: toRegistration(this.row(id)!), secret };
  }

  /**
   * The registration a secret opens, or EnrolmentError: REGISTRATION_NOT_FOUND, SECRET_LOCKED
   * (too many wrong secrets), SECRET_INVALID (counted), SECRET_SPENT (collected), SECRET_EXPIRED.
   */
  authenticate(secret: string, nowMs: number): Registration {
    this.assertOpen();
    const id = registrationIdOfSecret(secret);
    if (id === null) throw new EnrolmentError('SECRET_INVALID', 'not an enrolment secret (the string your administrator gave you: <id>.<secret>)');
    const row = this.row(id);
    if (!row) throw new EnrolmentError('REGISTRATION_NOT_FOUND', `no registration ${id} on this node (ask the node of the hospital that registered you)`);
    if (row.status === 'collected' || row.secret_hash === null)
      throw new EnrolmentError('SECRET_SPENT', `registration ${id} was enrolled and its certificate collected: the secret is spent`);
    if (row.failed_attempts >= SECRET_ATTEMPTS_MAX)
      throw new EnrolmentError(
        'SECRET_LOCKED',
        `registration ${id} is locked after ${SECRET_ATTEMPTS_MAX} wrong secrets: ask your administrator to register you again`,
      );
    const given = hashOf(secret);
    if (!timingSafeEqual(given, row.secret_hash)) {
      this.db.prepare('UPDATE registrations SET failed_attempts = failed_attempts + 1 WHERE id = ?').run(id);
      throw new EnrolmentError('SECRET_INVALID', `wrong secret for registration ${id}`);
    }
    if (row.expires_at_ms <= nowMs)
      throw new EnrolmentError(
        'SECRET_EXPIRED',
        `the secret of registration ${id} expired at ${new Date(row.expires_at_ms).toISOString()}: ask to be registered again`,
      );
    return toRegistration(row);
  }

  /**
   * Bind a checked signing request (proof of possession verified by the caller) to the
   * registration the secret opens. The request must name the registered name.
   */
  bindRequest(secret: string, request: { csrPem: string; commonName: string; publicKeyPem: string }, nowMs: number): Registration {
    const reg = this.authenticate(secret, nowMs);
    if (reg.status === 'requested') throw new EnrolmentError('ALREADY_REQUESTED', `registration ${reg.id} already has a signing request waiting to be issued`);
    if (reg.status !== 'registered') throw new EnrolmentError('ALREADY_ENROLLED', `registration ${reg.id} is already enrolled (a certificate was issued)`);
    if (request.commonName !== reg.name)
      throw new EnrolmentError(
        'NAME_MISMATCH',
        `the request asks for "${request.commonName.slice(0, 80)}", but the secret is for the registration of "${reg.name}"`,
      );
    const changed = this.db
      .prepare("UPDATE registrations SET status = 'requested', csr_pem = ?, public_key_pem = ?, requested_at_ms = ? WHERE id = ? AND status = 'registered'")
      .run(request.csrPem, request.publicKeyPem, nowMs, reg.id).changes;
    if (changed !== 1) throw new EnrolmentError('ALREADY_REQUESTED', `registration ${reg.id} already has a signing request`);
    return toRegistration(this.row(reg.id)!);
  }

  get(id: string): Registration | null {
    this.assertOpen();
    const row = this.row(id);
    return row ? toRegistration(row) : null;
  }

  /** Requests waiting for their certificate (not expired), oldest first. */
  pending(nowMs: number): Registration[] {
    this.assertOpen();
    return (this.db.prepare("SELECT * FROM registrations WHERE status = 'requested' AND expires_at_ms > ? ORDER BY requested_at_ms").all(nowMs) as Row[]).map(
      toRegistration,
    );
  }

  /** Record the issued certificate (checked by the caller against the MSP and this registration). */
  issue(id: string, cert: { certPem: string; serialHex: string }, nowMs: number): Registration {
    this.assertOpen();
    const row = this.row(id);
    if (!row) throw new EnrolmentError('REGISTRATION_NOT_FOUND', `no registration ${id.slice(0, 64)} on this node`);
    if (row.status === 'issued' || row.status === 'collected') throw new EnrolmentError('ALREADY_ENROLLED', `registration ${id} already has its certificate`);
    if (row.status !== 'requested') throw new EnrolmentError('NOT_REQUESTED', `registration ${id} has no signing request yet`);
    if (row.expires_at_ms <= nowMs) throw new EnrolmentError('SECRET_EXPIRED', `registration ${id} expired: register the person again`);
    const changed = this.db
      .prepare("UPDATE registrations SET status = 'issued', cert_pem = ?, serial_hex = ?, issued_at_ms = ? WHERE id = ? AND status = 'requested'")
      .run(cert.certPem, cert.serialHex, nowMs, id).changes;
    if (changed !== 1) throw new EnrolmentError('ALREADY_ENROLLED', `registration ${id} already has its certificate`);
    return toRegistration(this.row(id)!);
  }

  /** The user takes the certificate: the secret is spent (its hash erased). Before issue: the state only. */
  collect(secret: string, nowMs: number): Registration {
    const reg = this.authenticate(secret, nowMs);
    if (reg.status !== 'issued') return reg;
    this.db
      .prepare("UPDATE registrations SET status = 'collected', secret_hash = NULL, collected_at_ms = ? WHERE id = ? AND status = 'issued'")
      .run(nowMs, reg.id);
    return toRegistration(this.row(reg.id)!);
  }

  /**
   * Registrations newest first, `limit` at most, after `after` (the last one of the page before):
   * a hospital's people read a page at a time, never all at once.
   */
  list(limit: number, after?: { readonly registeredAtMs: number; readonly id: string }): Registration[] {
    this.assertOpen();
    const n = Math.max(1, Math.floor(limit));
    const rows = after
      ? this.db
          .prepare('SELECT * FROM registrations WHERE registered_at_ms < ? OR (registered_at_ms = ? AND id > ?) ORDER BY registered_at_ms DESC, id LIMIT ?')
          .all(after.registeredAtMs, after.registeredAtMs, after.id, n)
      : this.db.prepare('SELECT * FROM registrations ORDER BY registered_at_ms DESC, id LIMIT ?').all(n);
    return (rows as Row[]).map(toRegistration);
  }

  /** Serials of the certificates issued to earlier registrations of `name` (what a re-enrolment replaces). */
  issuedSerialsOf(name: string, exceptId?: string): string[] {
    this.assertOpen();
    return (
      this.db.prepare('SELECT id, serial_hex FROM registrations WHERE name = ? AND serial_hex IS NOT NULL ORDER BY issued_at_ms').all(name) as Array<{
        id: string;
        serial_hex: string;
      }>
    )
      .filter((r) => r.id !== exceptId)
      .map((r) => r.serial_hex);
  }

  /** Forget registrations that expired without a certificate long ago (the bound stays meaningful). */
  private prune(nowMs: number): void {
    this.db.prepare('DELETE FROM registrations WHERE serial_hex IS NULL AND expires_at_ms < ?').run(nowMs - EXPIRED_KEPT_MS);
  }
}
