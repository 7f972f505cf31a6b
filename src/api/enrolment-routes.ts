// REST routes of registration and enrolment (issue 12, item 1; decision 1252), Fabric-CA's
// register/enrol with the CA key offline on the hospital admin's host — the node holds no CA key
// and never sees a user's private key:
//   POST /v1/registrations             admin of this node's hospital: a person to enrol → one-time secret (shown once)
//   POST /v1/enrolments                OPEN (no certificate yet): secret + PKCS#10 request → enrolment id
//   GET  /v1/enrolments?status=pending admin: requests waiting for a certificate
//   PUT  /v1/enrolments/:id/certificate admin: the certificate issued offline, checked against the config in force
//   GET  /v1/enrolments/:id            OPEN, secret in a header: state; once issued the certificate + CA chain (secret spent)
//   GET  /v1/identities?org=X          admin or supervisor of X: registrations and certificates, valid or revoked
// The open routes are gated by the secret (256 bits, hashed, expiring, locking after wrong tries),
// a small body limit and their own per-address and node-wide rates; every refusal is a 4xx code.
import { createPublicKey } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseCertificate, X509Error } from '../crypto/x509.ts';
import { readEnrolmentRequest } from '../identity/enrolment.ts';
import { IdentityError, type Identity } from '../identity/index.ts';
import { EnrolmentError, EnrolmentStore, type EnrolmentStoreOptions, type Registration } from '../node/enrolment-store.ts';
import type { NodeServices } from '../node/services.ts';
import {
  CertificateBody,
  ENROLMENT_REQUEST_BODY_BYTES_MAX,
  ENROLMENT_SECRET_HEADER,
  EnrolmentParams,
  EnrolmentRequestBody,
  IdentitiesQuery,
  PendingQuery,
  RegistrationBody,
  type CertificateResponseT,
  type CollectResponseT,
  type EnrolmentRequestResponseT,
  type IdentitiesResponseT,
  type PendingResponseT,
  type RegistrationResponseT,
} from '../protocol/enrolment-schemas.ts';
import { ApiError, parseInput } from './errors.ts';

const STATUS_OF: Record<EnrolmentError['code'], number> = {
  REGISTRATION_NOT_FOUND: 404,
  SECRET_INVALID: 401,
  SECRET_EXPIRED: 410,
  SECRET_LOCKED: 403,
  SECRET_SPENT: 410,
  NAME_MISMATCH: 422,
  ALREADY_REGISTERED: 409,
  ALREADY_REQUESTED: 409,
  ALREADY_ENROLLED: 409,
  NOT_REQUESTED: 409,
  TOO_MANY_REGISTRATIONS: 429,
  BAD_REGISTRATION: 400,
};

function mapError(err: unknown): never {
  if (err instanceof EnrolmentError) throw new ApiError(STATUS_OF[err.code], err.code, err.message);
  if (err instanceof X509Error) throw new ApiError(422, `CSR_${err.code}`, `signing request: ${err.message}`);
  throw err;
}

/** Token buckets by key, bounded in number (the oldest forgotten first). */
class Rate {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}
  take(key: string, nowMs: number): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= 10_000) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.burst, atMs: nowMs };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.atMs) * this.perSecond) / 1000);
    b.atMs = nowMs;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

export interface EnrolmentRoutesOptions extends EnrolmentStoreOptions {
  /** The store's SQLite file (conventionally <dataDir>/enrolment/enrolments.sqlite); opened here, closed with the server. */
  readonly storePath: string;
  readonly clock?: () => number;
  /** Open routes, per client address: sustained requests per second and burst. Default 1/s, 10. */
  readonly openRatePerSecond?: number;
  readonly openRateBurst?: number;
  /** Open routes, node-wide. Default 20/s, 100. */
  readonly openNodeRatePerSecond?: number;
  readonly openNodeRateBurst?: number;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const spki = (pem: string): Buffer => createPublicKey(pem).export({ type: 'spki', format: 'der' });

export function registerEnrolmentRoutes(
  app: FastifyInstance,
  who: (req: FastifyRequest) => Identity,
  services: NodeServices,
  opts: EnrolmentRoutesOptions,
): EnrolmentStore {
  const store = new EnrolmentStore(opts.storePath, opts);
  app.addHook('onClose', async () => store.close());
  const clock = opts.clock ?? (() => Date.now());
  const org = services.org;
  const perAddress = new Rate(opts.openRatePerSecond ?? 1, opts.openRateBurst ?? 10);
  const nodeWide = new Rate(opts.openNodeRatePerSecond ?? 20, opts.openNodeRateBurst ?? 100);
  const open = { config: { unauthenticated: true } } as const;

  const limitOpen = (req: FastifyRequest): void => {
    const now = clock();
    if (!nodeWide.take('node', now)) throw new ApiError(429, 'RATE_LIMITED', 'too many enrolment requests on this node; retry in a few seconds');
    if (!perAddress.take(req.ip, now)) throw new ApiError(429, 'RATE_LIMITED', 'too many enrolment requests from your address; retry in a few seconds');
  };
  const admin = (req: FastifyRequest): Identity => {
    const me = who(req);
    if (me.role !== 'admin' || me.org !== org)
      throw new ApiError(403, 'FORBIDDEN', `only an admin of ${org} registers and enrols its people on its node; ${me.org}/${me.id} is a ${me.role}`);
    return me;
  };
  /** Earlier certificates of the same name that the config in force still accepts. */
  const stillValid = (reg: Pick<Registration, 'id' | 'name'>): string[] =>
    store.issuedSerialsOf(reg.name, reg.id).filter((s) => !services.msp.isRevoked(org, s));

  app.post('/v1/registrations', async (req): Promise<RegistrationResponseT> => {
    const me = admin(req);
    const body = parseInput(RegistrationBody, req.body, 'body');
    if (body.role === 'patient' && body.pseudonym === undefined)
      throw new ApiError(400, 'BAD_REGISTRATION', "a patient is registered with the pseudonym their hospital's key derives from the name (decision 0906)");
    if (body.role !== 'patient' && body.pseudonym !== undefined) throw new ApiError(400, 'BAD_REGISTRATION', 'only a patient has a pseudonym');
    try {
      const { registration: r, secret } = store.register(
        { name: body.name, role: body.role, pseudonym: body.pseudonym ?? null, registeredBy: `${me.org}/${me.id}` },
        clock(),
      );
      return { id: r.id, org, name: r.name, role: r.role, pseudonym: r.pseudonym, secret, expiresAt: iso(r.expiresAtMs), replacesSerials: stillValid(r) };
    } catch (err) {
      return mapError(err);
    }
  });

  app.post('/v1/enrolments', { ...open, bodyLimit: ENROLMENT_REQUEST_BODY_BYTES_MAX }, async (req): Promise<EnrolmentRequestResponseT> => {
    limitOpen(req);
    const body = parseInput(EnrolmentRequestBody, req.body, 'body');
    try {
      // The secret first: an unknown caller costs no signature check.
      store.authenticate(body.secret, clock());
      const requested = await readEnrolmentRequest(body.csrPem);
      const r = store.bindRequest(body.secret, { csrPem: body.csrPem, ...requested }, clock());
      return { id: r.id, status: r.status, expiresAt: iso(r.expiresAtMs) };
    } catch (err) {
      return mapError(err);
    }
  });

  app.get('/v1/enrolments', async (req): Promise<PendingResponseT> => {
    admin(req);
    parseInput(PendingQuery, req.query, 'query');
    return {
      org,
      enrolments: store.pending(clock()).map((r) => ({
        id: r.id,
        name: r.name,
        role: r.role,
        pseudonym: r.pseudonym,
        csrPem: r.csrPem!,
        requestedAt: iso(r.requestedAtMs!),
        expiresAt: iso(r.expiresAtMs),
        replacesSerials: stillValid(r),
      })),
    };
  });

  app.put('/v1/enrolments/:id/certificate', async (req): Promise<CertificateResponseT> => {
    admin(req);
    const { id } = parseInput(EnrolmentParams, req.params, 'path');
    const { certPem } = parseInput(CertificateBody, req.body, 'body');
    const reg = store.get(id);
    if (!reg) throw new ApiError(404, 'REGISTRATION_NOT_FOUND', `no registration ${id} on this node`);
    if (reg.status === 'issued' || reg.status === 'collected') throw new ApiError(409, 'ALREADY_ENROLLED', `registration ${id} already has its certificate`);
    if (reg.status !== 'requested' || reg.publicKeyPem === null) throw new ApiError(409, 'NOT_REQUESTED', `registration ${id} has no signing request yet`);
    const now = clock();
    // The MSP of the config in force: chain to a member CA, validity, role profile, revocation.
    let identity: Identity;
    try {
      identity = services.msp.validate(certPem, now);
    } catch (err) {
      if (!(err instanceof IdentityError)) throw err;
      if (err.code === 'REVOKED') throw new ApiError(422, 'CERT_REVOKED', err.message);
      if (err.code === 'UNKNOWN_ORG' || err.code === 'BAD_CHAIN') throw new ApiError(422, 'CERT_NOT_FROM_ORG_CA', err.message);
      throw new ApiError(422, `CERT_${err.code}`, err.message);
    }
    if (identity.org !== org)
      throw new ApiError(
        422,
        'CERT_NOT_FROM_ORG_CA',
        `the certificate is issued by ${identity.org}'s CA; registrations of this node are enrolled by ${org}'s CA`,
      );
    if (!spki(reg.publicKeyPem).equals(identity.publicKey.export({ type: 'spki', format: 'der' })))
      throw new ApiError(422, 'KEY_MISMATCH', "the certificate is not for the signing request's public key");
    const expectedId = reg.pseudonym ?? reg.name;
    if (identity.id !== expectedId)
      throw new ApiError(422, 'NAME_MISMATCH', `the certificate names "${identity.id.slice(0, 80)}"; the registration is for "${expectedId}"`);
    if (identity.role !== reg.role) throw new ApiError(422, 'ROLE_MISMATCH', `the certificate's role is ${identity.role}; the registration's is ${reg.role}`);
    try {
      const r = store.issue(id, { certPem, serialHex: identity.serialHex }, now);
      return { id: r.id, status: r.status, serialHex: identity.serialHex, notAfter: iso(parseCertificate(certPem).notAfterMs) };
    } catch (err) {
      return mapError(err);
    }
  });

  app.get('/v1/enrolments/:id', open, async (req): Promise<CollectResponseT> => {
    limitOpen(req);
    const { id } = parseInput(EnrolmentParams, req.params, 'path');
    const secret = req.headers[ENROLMENT_SECRET_HEADER];
    if (typeof secret !== 'string' || secret.length > 200)
      throw new ApiError(401, 'SECRET_INVALID', `send the enrolment secret in header ${ENROLMENT_SECRET_HEADER}`);
    if (!secret.startsWith(`${id}.`)) throw new ApiError(401, 'SECRET_INVALID', `the secret is not the one of registration ${id}`);
    try {
      const r = store.collect(secret, clock());
      if (r.status !== 'collected') return { id: r.id, status: r.status, certPem: null, caChainPem: null };
      const { record } = services.configState();
      const caChainPem = `${services.msp.caCertPem(org).trim()}\n${record.config.rootCertPem.trim()}\n`;
      return { id: r.id, status: r.status, certPem: r.certPem, caChainPem };
    } catch (err) {
      return mapError(err);
    }
  });

  app.get('/v1/identities', async (req): Promise<IdentitiesResponseT> => {
    const me = who(req);
    const q = parseInput(IdentitiesQuery, req.query, 'query');
    if (me.org !== q.org || (me.role !== 'admin' && me.role !== 'supervisor'))
      throw new ApiError(403, 'FORBIDDEN', `only an admin or supervisor of ${q.org} lists its identities; ${me.org}/${me.id} is a ${me.role}`);
    if (q.org !== org) throw new ApiError(404, 'NOT_FOUND', `${q.org}'s registrations are kept on its own node; this is ${org}'s`);
    const now = clock();
    const [afterMs, afterId] = q.after === undefined ? [] : q.after.split('.');
    // One more than asked: whether a next page exists, without a count over the whole table.
    const rows = store.list(q.pageSize + 1, afterMs !== undefined && afterId !== undefined ? { registeredAtMs: Number(afterMs), id: afterId } : undefined);
    const page = rows.slice(0, q.pageSize);
    const last = page[page.length - 1];
    const next = rows.length > q.pageSize && last !== undefined ? `${last.registeredAtMs}.${last.id}` : null;
    const identities = page.map((r) => {
      let certificate: 'valid' | 'revoked' | 'expired' | 'none' = 'none';
      let notAfter: string | null = null;
      if (r.certPem !== null && r.serialHex !== null) {
        const notAfterMs = parseCertificate(r.certPem).notAfterMs;
        notAfter = iso(notAfterMs);
        certificate = services.msp.isRevoked(org, r.serialHex) ? 'revoked' : notAfterMs < now ? 'expired' : 'valid';
      }
      return {
        registrationId: r.id,
        name: r.name,
        role: r.role,
        id: r.pseudonym ?? r.name,
        status: r.status,
        registeredBy: r.registeredBy,
        registeredAt: iso(r.registeredAtMs),
        expiresAt: iso(r.expiresAtMs),
        serialHex: r.serialHex,
        notAfter,
        certificate,
      };
    });
    return { org, configSequence: services.configState().record.sequence, identities, next };
  });

  return store;
}
