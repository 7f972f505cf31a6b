// The identity lifecycle from a program (issue 12, item 1; decision 1252). Node.js only.
//
// The hospital admin's side (`EnrolmentAdmin`, over a signed MedLedgerClient of an admin):
// register a person (→ one-time secret), list the signing requests waiting, issue their
// certificates HERE with the hospital's CA key (it never leaves this host) and upload them, list
// the hospital's identities, and revoke: a revocation list signed here by the CA key, committed as
// a config update that the hospital's admin alone signs (decision 1206).
//
// The new user's side (`requestEnrolment`, `collectEnrolment`): no certificate yet, so these
// requests are not signed; the enrolment secret gates them. The private key is made and kept on
// the user's side (identity/enrolment.ts createEnrolmentRequest); only the request travels.
import { createPublicKey, X509Certificate } from 'node:crypto';
import { z } from 'zod';
import { utf8 } from '../codec/index.ts';
import { createRevocationList, isIssuableRole, type CertificateAuthority } from '../identity/index.ts';
import { enrolFromRequest } from '../identity/enrolment.ts';
import { patientPseudonymOf } from '../identity/pseudonym.ts';
import { configWithRevocation, type ConfigSigner } from '../ledger/config-update.ts';
import {
  CertificateResponse,
  CollectResponse,
  ENROLMENT_SECRET_HEADER,
  EnrolmentRequestResponse,
  IdentitiesResponse,
  PendingResponse,
  RegistrationResponse,
  type CertificateResponseT,
  type CollectResponseT,
  type EnrolmentRequestResponseT,
  type IdentitiesResponseT,
  type PendingEnrolmentT,
  type RegistrationBodyT,
  type RegistrationResponseT,
} from '../protocol/enrolment-schemas.ts';
import { ErrorBody } from '../protocol/schemas.ts';
import { MedLedgerApiError, type MedLedgerClient } from './client.ts';
import { submitConfigUpdate, type ConfigUpdateOutcome } from './config-update.ts';
import { createHttpTransport } from './http.ts';
import { TransportError } from './transport.ts';

function check<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new MedLedgerApiError(502, 'BAD_RESPONSE', `the node's answer does not match the API: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

export interface IssuedEnrolment {
  readonly id: string;
  readonly name: string;
  readonly role: string;
  /** On chain as: a patient's pseudonym, anyone else's name. */
  readonly onChainId: string;
  readonly serialHex: string;
  readonly certPem: string;
  /** Earlier certificates of the same name still valid (a re-enrolment): revoke them (`revoke`). */
  readonly replacesSerials: readonly string[];
}

export interface IssueRefusal {
  readonly id: string;
  readonly name: string;
  readonly code: string;
  readonly message: string;
}

export class EnrolmentAdmin {
  constructor(readonly client: MedLedgerClient) {}

  /** Register a person to enrol; `secret` is shown once (give it to them by a channel of your choice). */
  async register(input: { name: string; role: string; pseudonym?: string }): Promise<RegistrationResponseT> {
    const body: RegistrationBodyT = {
      name: input.name,
      role: input.role as RegistrationBodyT['role'],
      ...(input.pseudonym !== undefined ? { pseudonym: input.pseudonym } : {}),
    };
    return check(RegistrationResponse, await this.client.call('POST', '/v1/registrations', body));
  }

  /** Register a patient: their pseudonym is derived here with the hospital's pseudonymisation key (decision 0906). */
  registerPatient(name: string, org: string, pseudonymKey: string): Promise<RegistrationResponseT> {
    return this.register({ name, role: 'patient', pseudonym: patientPseudonymOf(pseudonymKey, org, name) });
  }

  async pending(): Promise<PendingEnrolmentT[]> {
    return check(PendingResponse, await this.client.call('GET', '/v1/enrolments?status=pending')).enrolments;
  }

  async uploadCertificate(id: string, certPem: string): Promise<CertificateResponseT> {
    return check(CertificateResponse, await this.client.call('PUT', `/v1/enrolments/${encodeURIComponent(id)}/certificate`, { certPem }));
  }

  /** A page of the hospital's identities, newest registration first; `next` of an answer asks for the page after it. */
  async identities(org: string, page: { pageSize?: number; after?: string } = {}): Promise<IdentitiesResponseT> {
    const query = new URLSearchParams({
      org,
      ...(page.pageSize !== undefined ? { pageSize: String(page.pageSize) } : {}),
      ...(page.after ? { after: page.after } : {}),
    });
    return check(IdentitiesResponse, await this.client.call('GET', `/v1/identities?${query.toString()}`));
  }

  /**
   * Issue every pending request (or those of `ids`) with `ca` on this host and upload the
   * certificates. The role and name are the registration's; a patient's pseudonym is recomputed
   * with `pseudonymKey` and must equal the registered one (the node's record is not trusted to
   * choose whom a certificate names). One refusal does not stop the others.
   */
  async issuePending(
    ca: CertificateAuthority,
    opts: { pseudonymKey?: string; ids?: readonly string[] } = {},
  ): Promise<{ issued: IssuedEnrolment[]; refused: IssueRefusal[] }> {
    if (ca.keyPem === '') throw new MedLedgerApiError(0, 'NO_CA_KEY', "this host does not hold the organisation CA's key: issue where it is kept");
    const issued: IssuedEnrolment[] = [];
    const refused: IssueRefusal[] = [];
    for (const p of await this.pending()) {
      if (opts.ids && !opts.ids.includes(p.id)) continue;
      try {
        if (!isIssuableRole(p.role)) throw new MedLedgerApiError(0, 'BAD_ROLE', `registered role ${p.role} cannot be issued`);
        let pseudonym: string | undefined;
        if (p.role === 'patient') {
          if (opts.pseudonymKey === undefined)
            throw new MedLedgerApiError(0, 'NO_PSEUDONYM_KEY', "a patient's certificate needs the hospital's pseudonymisation key");
          if (ca.org === null) throw new MedLedgerApiError(0, 'NOT_AN_ORG_CA', "patients are issued by their hospital's CA, not the consortium root");
          pseudonym = patientPseudonymOf(opts.pseudonymKey, ca.org, p.name);
          if (p.pseudonym !== pseudonym)
            throw new MedLedgerApiError(
              0,
              'PSEUDONYM_MISMATCH',
              `the node's registration of ${p.name} carries another pseudonym than this hospital's key gives`,
            );
        }
        const cert = await enrolFromRequest(ca, p.csrPem, { role: p.role, ...(pseudonym ? { pseudonym, commonName: pseudonym } : {}) });
        const up = await this.uploadCertificate(p.id, cert.certPem);
        issued.push({
          id: p.id,
          name: p.name,
          role: p.role,
          onChainId: cert.commonName,
          serialHex: up.serialHex,
          certPem: cert.certPem,
          replacesSerials: p.replacesSerials,
        });
      } catch (err) {
        const e = err as { code?: unknown; message?: string };
        refused.push({ id: p.id, name: p.name, code: typeof e.code === 'string' ? e.code : 'ERROR', message: e.message ?? String(err) });
      }
    }
    return { issued, refused };
  }

  /**
   * Revoke certificates of `ca`'s organisation: the list is signed here with the CA key; the
   * config update is signed by `signers` (the organisation's admin alone suffices, decision 1206;
   * the first must be this client's identity). Every node refuses them from the next block.
   */
  revoke(ca: CertificateAuthority, serials: readonly string[], signers: readonly ConfigSigner[], nowMs = Date.now()): Promise<ConfigUpdateOutcome> {
    return revokeCertificates(this.client, { ca, serials, signers, nowMs });
  }
}

/** A signed revocation list of `ca`'s organisation, committed through the config-update route. */
export async function revokeCertificates(
  client: MedLedgerClient,
  opts: { ca: CertificateAuthority; serials: readonly string[]; signers: readonly ConfigSigner[]; nowMs?: number; waitMs?: number },
): Promise<ConfigUpdateOutcome> {
  if (opts.ca.keyPem === '') throw new MedLedgerApiError(0, 'NO_CA_KEY', "this host does not hold the organisation CA's key: revoke where it is kept");
  if (opts.serials.length === 0) throw new MedLedgerApiError(0, 'NOTHING_TO_REVOKE', 'no serials to revoke');
  const list = createRevocationList(opts.ca, opts.serials, opts.nowMs ?? Date.now());
  return submitConfigUpdate(
    client,
    () => opts.signers,
    (config) => configWithRevocation(config, list),
    opts.waitMs,
  );
}

// ---- the new user's side: no certificate yet, so nothing is signed ----

export interface EnrolmentEndpoint {
  /** https://host:port of the API of the node of the hospital that registered the user. */
  readonly url: string;
  /** The consortium root CA (PEM): the only TLS trust anchor. */
  readonly caPem: string;
  readonly timeoutMs?: number;
}

async function openCall(at: EnrolmentEndpoint, method: 'GET' | 'POST', path: string, body?: unknown, headers: Record<string, string> = {}): Promise<unknown> {
  let base: URL;
  try {
    base = new URL(at.url);
  } catch {
    throw new MedLedgerApiError(0, 'BAD_URL', `not a URL: ${String(at.url).slice(0, 200)}`);
  }
  if (base.protocol !== 'https:') throw new MedLedgerApiError(0, 'BAD_URL', `the node API is HTTPS only, got ${base.protocol}//${base.host}`);
  const transport = createHttpTransport({ caPem: at.caPem, socketsMax: 1 });
  try {
    const bytes = body === undefined ? new Uint8Array(0) : utf8(JSON.stringify(body));
    const res = await transport.request({
      method,
      url: new URL(path, base),
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: bytes,
      timeoutMs: at.timeoutMs ?? 30_000,
      responseBytesMax: 1024 * 1024,
    });
    const text = new TextDecoder().decode(res.body);
    if (res.status < 200 || res.status >= 300) {
      const parsed = ErrorBody.safeParse(
        (() => {
          try {
            return JSON.parse(text) as unknown;
          } catch {
            return null;
          }
        })(),
      );
      if (parsed.success) throw new MedLedgerApiError(res.status, parsed.data.error.code, parsed.data.error.message);
      throw new MedLedgerApiError(res.status, 'HTTP_ERROR', `${base.origin} answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${base.origin} answered with invalid JSON`);
    }
  } catch (err) {
    if (err instanceof TransportError) throw new MedLedgerApiError(0, err.code, err.message);
    throw err;
  } finally {
    transport.close();
  }
}

/** Submit a signing request (made on this side) with the enrolment secret; the answer names the enrolment. */
export async function requestEnrolment(at: EnrolmentEndpoint, input: { secret: string; csrPem: string }): Promise<EnrolmentRequestResponseT> {
  return check(EnrolmentRequestResponse, await openCall(at, 'POST', '/v1/enrolments', { secret: input.secret, csrPem: input.csrPem }));
}

/**
 * The enrolment's state; once issued, the certificate and the CA chain (the secret is then
 * spent: keep the certificate). With `keyPem`, the certificate must be for that key.
 */
export async function collectEnrolment(at: EnrolmentEndpoint, input: { id: string; secret: string; keyPem?: string }): Promise<CollectResponseT> {
  const r = check(
    CollectResponse,
    await openCall(at, 'GET', `/v1/enrolments/${encodeURIComponent(input.id)}`, undefined, { [ENROLMENT_SECRET_HEADER]: input.secret }),
  );
  if (r.certPem !== null && input.keyPem !== undefined) {
    const certKey = new X509Certificate(r.certPem).publicKey.export({ type: 'spki', format: 'der' });
    const ownKey = createPublicKey(input.keyPem).export({ type: 'spki', format: 'der' });
    if (!certKey.equals(ownKey)) throw new MedLedgerApiError(0, 'KEY_MISMATCH', 'the certificate the node returned is not for this key');
  }
  return r;
}
