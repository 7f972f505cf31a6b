// The wire format of registration and enrolment (issue 12, item 1; decision 1252): what the node's
// routes (api/enrolment-routes.ts) validate and the SDK (sdk/enrolment.ts) parses, and their
// entries in the OpenAPI document (api/schemas.ts spreads ENROLMENT_ROUTES into its ROUTES).
import { z } from 'zod';

/** The header that carries the enrolment secret to GET /v1/enrolments/:id (never in a URL: URLs get logged). */
export const ENROLMENT_SECRET_HEADER = 'x-medledger-enrolment-secret';
export const ENROLMENT_REQUEST_BODY_BYTES_MAX = 32 * 1024;

const Name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, "a letter or digit, then up to 63 letters, digits, '.', '_', '@', '-'");
const RegistrableRole = z.enum(['admin', 'doctor', 'nurse', 'patient', 'researcher', 'insurer', 'laboratory', 'supervisor', 'device']);
const Pseudonym = z.string().regex(/^[0-9a-f]{32,64}$/, '32-64 lowercase hex');
const Id = z.string().regex(/^[0-9a-f]{32}$/, '32 lowercase hex');
const Secret = z.string().min(1).max(200);
const Pem = (max: number) => z.string().min(1).max(max);
const Iso = z.string();

export const RegistrationBody = z
  .object({
    name: Name,
    role: RegistrableRole,
    /** A patient: the pseudonym their hospital's key derives from `name` (decision 0906); nobody else has one. */
    pseudonym: Pseudonym.optional(),
  })
  .strict();
export type RegistrationBodyT = z.infer<typeof RegistrationBody>;

export const RegistrationResponse = z.object({
  id: Id,
  org: z.string(),
  name: z.string(),
  role: z.string(),
  pseudonym: z.string().nullable(),
  /** Shown once: the node keeps only its hash. */
  secret: z.string(),
  expiresAt: Iso,
  /** Certificates of earlier enrolments of the same name, still valid: revoke them once the new one is issued. */
  replacesSerials: z.array(z.string()),
});
export type RegistrationResponseT = z.infer<typeof RegistrationResponse>;

export const EnrolmentRequestBody = z.object({ secret: Secret, csrPem: Pem(16 * 1024) }).strict();
export type EnrolmentRequestBodyT = z.infer<typeof EnrolmentRequestBody>;

export const EnrolmentStatus = z.enum(['registered', 'requested', 'issued', 'collected']);

export const EnrolmentRequestResponse = z.object({ id: Id, status: EnrolmentStatus, expiresAt: Iso });
export type EnrolmentRequestResponseT = z.infer<typeof EnrolmentRequestResponse>;

export const EnrolmentParams = z.object({ id: Id }).strict();
export const PendingQuery = z.object({ status: z.literal('pending').optional() }).strict();

export const PendingEnrolment = z.object({
  id: Id,
  name: z.string(),
  role: z.string(),
  pseudonym: z.string().nullable(),
  csrPem: z.string(),
  requestedAt: Iso,
  expiresAt: Iso,
  replacesSerials: z.array(z.string()),
});
export type PendingEnrolmentT = z.infer<typeof PendingEnrolment>;
export const PendingResponse = z.object({ org: z.string(), enrolments: z.array(PendingEnrolment) });
export type PendingResponseT = z.infer<typeof PendingResponse>;

export const CertificateBody = z.object({ certPem: Pem(16 * 1024) }).strict();
export const CertificateResponse = z.object({ id: Id, status: EnrolmentStatus, serialHex: z.string(), notAfter: Iso });
export type CertificateResponseT = z.infer<typeof CertificateResponse>;

export const CollectResponse = z.object({
  id: Id,
  status: EnrolmentStatus,
  /** With status collected: the certificate, and the chain to trust (organisation CA, then root). */
  certPem: z.string().nullable(),
  caChainPem: z.string().nullable(),
});
export type CollectResponseT = z.infer<typeof CollectResponse>;

/** Identities per answer at most; the default is a page of the People page's table. */
export const IDENTITIES_PAGE_MAX = 500;
export const IDENTITIES_PAGE_DEFAULT = 100;
/** Where the next page starts: the last entry's registration time and id (`<ms>.<id>`, newest first). */
const IdentitiesCursor = z.string().regex(/^\d{1,16}\.[0-9a-f]{32}$/, 'a cursor from the last answer (next)');
export const IdentitiesQuery = z
  .object({
    org: z.string().min(1).max(64),
    pageSize: z.coerce.number().int().min(1).max(IDENTITIES_PAGE_MAX).default(IDENTITIES_PAGE_DEFAULT),
    after: IdentitiesCursor.optional(),
  })
  .strict();
export const IdentityEntry = z.object({
  registrationId: Id,
  name: z.string(),
  role: z.string(),
  /** On chain as (a patient's pseudonym, everyone else's name). */
  id: z.string(),
  status: EnrolmentStatus,
  registeredBy: z.string(),
  registeredAt: Iso,
  expiresAt: Iso,
  serialHex: z.string().nullable(),
  notAfter: Iso.nullable(),
  /** From the config in force: REVOKED, valid, or none (no certificate yet). */
  certificate: z.enum(['valid', 'revoked', 'expired', 'none']),
});
export type IdentityEntryT = z.infer<typeof IdentityEntry>;
export const IdentitiesResponse = z.object({
  org: z.string(),
  configSequence: z.number().int(),
  /** Newest registration first, at most `pageSize`. */
  identities: z.array(IdentityEntry),
  /** The cursor of the next page (`after`), null at the end. */
  next: z.string().nullable(),
});
export type IdentitiesResponseT = z.infer<typeof IdentitiesResponse>;

const ERRORS = [400, 401, 403, 404, 409, 413, 429] as const;

/** Their entries in the OpenAPI document (api/schemas.ts ROUTES). */
export const ENROLMENT_ROUTES = {
  register: {
    method: 'POST',
    path: '/v1/registrations',
    summary:
      "An admin of this node's hospital registers a person to enrol (name, role; a patient's pseudonym): answers a one-time enrolment secret (shown once, expires) — names stay off chain",
    auth: true,
    body: RegistrationBody,
    response: RegistrationResponse,
    errors: ERRORS,
  },
  enrolmentRequest: {
    method: 'POST',
    path: '/v1/enrolments',
    summary:
      'The new user (no certificate yet: no signed request) submits a PKCS#10 signing request with the enrolment secret; proof of possession and the registered name are checked. Rate-limited per address',
    auth: false,
    body: EnrolmentRequestBody,
    response: EnrolmentRequestResponse,
    errors: [...ERRORS, 410, 422],
  },
  enrolmentsPending: {
    method: 'GET',
    path: '/v1/enrolments',
    summary: "An admin of this node's hospital: signing requests waiting for a certificate (issued on the host holding the CA key)",
    auth: true,
    query: PendingQuery,
    response: PendingResponse,
    errors: ERRORS,
  },
  enrolmentCertificate: {
    method: 'PUT',
    path: '/v1/enrolments/:id/certificate',
    summary:
      "An admin uploads the certificate issued offline: it must chain to this hospital's CA in the config in force, be for the request's key, carry the registered name and role, and not be revoked",
    auth: true,
    params: EnrolmentParams,
    body: CertificateBody,
    response: CertificateResponse,
    errors: [...ERRORS, 410, 422],
  },
  enrolmentCollect: {
    method: 'GET',
    path: '/v1/enrolments/:id',
    summary: `The new user, with the secret in header ${ENROLMENT_SECRET_HEADER}: the state, and once issued the certificate and CA chain (the secret is then spent)`,
    auth: false,
    params: EnrolmentParams,
    response: CollectResponse,
    errors: [...ERRORS, 410],
  },
  identities: {
    method: 'GET',
    path: '/v1/identities',
    summary: 'An admin or supervisor of the hospital: its registrations, issued certificates and whether each is valid or revoked in the config in force',
    auth: true,
    query: IdentitiesQuery,
    response: IdentitiesResponse,
    errors: ERRORS,
  },
} as const;
