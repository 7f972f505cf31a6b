// World-state layout of the health contract and the one place facts for the rule engine are
// gathered from it.
//
// Keys are simple keys "type|part|part…" (not Fabric composite keys) so that long indexes can be
// paged with getStateByRangeWithPagination, which refuses composite keys. Every part is checked
// by a pattern that excludes '|', so "prefix|" … "prefix}" ('}' follows '|') is exactly the range
// of one prefix. Times inside keys are zero-padded to 15 digits so they sort numerically.
//
//   cfg                                  contract configuration (CAMS organisation)
//   pt|pp|<pseudonym> → {org}            patient enrolment: the pseudonym's own hospital (decision
//                                        0906: no user id; the patient acts as "<org>/<pseudonym>")
//   rec|<recordId>                       current RecordEntry, or ErasedEntry after erasure
//   recv|<recordId>|<version 6>          every version (deleted on erasure)
//   rx|pp|<pseudonym>|<recordId>         a patient's records (deleted on erasure)
//   care|<doctor org/id>|<pseudonym>     CareRelation (kept after it ends: its history is the log)
//   con|<consentId>                      Consent
//   cx|<pseudonym>|<consentId>           a patient's non-revoked consents not ended at their last grant
//                                        (the rule engine's scan; at most 100 in force, decision 0911)
//   cxe|<pseudonym>|<end t16>|<consentId>  consents whose period ended, moved from cx at the next grant
//   app|<applicationId>                  Application
//   ax|owner|<owner>|t<t15>|<applicationId>   applications awaiting / decided by an owner, in the
//   ax|applicant|<org/id>|t<t15>|<applicationId>  order they were made (appliedKeyPart; entries
//                                        written before time was keyed, ax|…|<applicationId>, sort oldest)
//   perm|<org/id>|<r|d>|<targetId>|<applicationId>   approved applications (scanned per target, decision 0910)
//   ds|<datasetId>                       Dataset listing (its current version; status listed/withdrawn/deleted)
//   dsv|<datasetId>|<version 6>          every version of a dataset's content: CID, keyed commitment, tx
//                                        (kept after deletion: the history stays provable, decision 1260)
//   st|<requestId>                       statistics request and, later, its result
//   sqb|<datasetId>|<requester org/id>   statistics requests made so far (the query budget, decision 1163)
//   bmrs|<provider org/id>|<pseudonym>   BMRS session {state, …}
//   au|<auditId>                         AuditEntry (auditId = <txId>-<n>)
//   aix|rec|<recordId>|<t15>|<auditId>   indexes (empty values) for the audit queries
//   aix|pp|<pseudonym>|<t15>|<auditId>
//   aix|org|<org>|<t15>|<auditId>
//   aix|ds|<datasetId>|<t15>|<auditId>
//   nf|<pseudonym>|<t15>|<auditId>       the patient's notification feed
//   nk|<org>|<nodeId>                    a node's published HPKE X25519 public key (decision 1150)
//   rr|<custodian org>|<eventId>         a served-read event audited before tickets (decision 1152; no longer written)
//   tk|<access txId>                     the ticket an allowed cross-hospital read leaves: what its
//                                        custodian may record as served (decision 1153)
//   rv|<pseudonym>|<org/id>              the patient revoked a consent naming this user (BMRS, decision 0901)
import { LEDGER_LIMITS } from '../../ledger/limits.ts';
import type { ChaincodeStub } from '../stub.ts';
import { ContractError } from '../runtime.ts';
import { isBmrsState, type BmrsState } from './bmrs.ts';
import type { Action, Actor, Application, CareRelation, Consent, Dataset, DatasetSelection, ErasedEntry, Purpose, RecordEntry, Sensitivity } from './model.ts';
import { LIMITS, PSEUDONYM_RE } from './model.ts';
import type { AccessFacts, Decision, Requester } from './rules.ts';

/** What the chain knows of an enrolled pseudonym: the hospital that enrolled it, nothing else. */
export interface Enrolment {
  readonly org: string;
  readonly enrolledAtMs: number;
}

export const SEP = '|';

export function key(...parts: readonly (string | number)[]): string {
  for (const p of parts) {
    if (typeof p === 'string' && (p.includes(SEP) || p.length === 0))
      throw new ContractError(`key part ${JSON.stringify(p.slice(0, 40))} is empty or contains '${SEP}'`);
  }
  return parts.join(SEP);
}

export function pad(n: number, width = 15): string {
  return String(n).padStart(width, '0');
}

/**
 * The time part of an application index key (decision 0908): 't' and the zero-padded time, so the
 * index pages in the order applications were made. Entries written before it was keyed end in the
 * bare application id ('a…'), and 'a' < 't' sorts them before every newer one — oldest, as they are.
 */
export function appliedKeyPart(atMs: number): string {
  return `t${pad(atMs)}`;
}

/** Where a consent whose period ended is kept once its patient's next grant moved it (decision 0911). */
export function endedConsentKey(c: Consent): string {
  return key('cxe', c.patient, pad(c.period.endMs, 16), c.consentId);
}

/**
 * The grantee index key of a consent, through which its grantees find the patient (myPatients):
 * `cg|<org/id>|<consentId>` for a user (decision 0909), `cgo|<org>|<consentId>` for everyone at
 * an organisation and `cgr|<role>|<org or *>|<consentId>` for everyone with a role, at one
 * organisation or at any (decision 0914; '*' is no organisation's name).
 */
export function granteeIndexKey(c: Pick<Consent, 'grantee' | 'consentId'>): string {
  const g = c.grantee;
  if (g.kind === 'user') return key('cg', g.user, c.consentId);
  if (g.kind === 'org') return key('cgo', g.org, c.consentId);
  return key('cgr', g.role, g.org ?? ANY_ORG, c.consentId);
}

/** The role index's organisation part of a consent to everyone with a role, wherever they work. */
export const ANY_ORG = '*';

/** [start, end) covering every key that starts with prefix + '|'. */
export function prefixRange(...parts: readonly string[]): [string, string] {
  const p = key(...parts);
  return [`${p}${SEP}`, `${p}}`];
}

export function getJson<T>(stub: ChaincodeStub, k: string): T | undefined {
  const text = stub.getStateText(k);
  return text === undefined ? undefined : (JSON.parse(text) as T);
}

export function putJson(stub: ChaincodeStub, k: string, value: unknown): void {
  stub.putState(k, JSON.stringify(value));
}

export function scanJson<T>(stub: ChaincodeStub, parts: readonly string[]): T[] {
  const [start, end] = prefixRange(...parts);
  return stub.getStateByRange(start, end).map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as T);
}

export function scanKeys(stub: ChaincodeStub, parts: readonly string[]): string[] {
  const [start, end] = prefixRange(...parts);
  return stub.getStateByRange(start, end).map((kv) => kv.key);
}

export interface Config {
  readonly camsOrg: string;
  readonly initializedAtMs: number;
  readonly initializedBy: string;
}

export interface Session {
  readonly provider: string;
  readonly patient: string;
  readonly state: BmrsState;
  readonly violations: number;
  readonly updatedAtMs: number;
}

/**
 * What an allowed `access` that released parts held by another organisation leaves on chain, keyed
 * by its txId (decision 1153): the only thing a custodian's `recordReads` can name. Who read what,
 * for which purpose and on which basis stays in the access's own audit entry (`auditId`); the
 * ticket adds only the released levels and which of them the custodian has recorded as served —
 * each at most once.
 */
export interface AccessTicket {
  readonly auditId: string;
  readonly custodian: string;
  /** The sensitivity levels of the parts the access released (one part per level). */
  readonly released: readonly Sensitivity[];
  /** Levels the custodian recorded as served: the served-read audit entry and the journal's event id. */
  readonly recorded: Readonly<Partial<Record<Sensitivity, { readonly auditId: string; readonly eventId: string }>>>;
}

/** A consent naming this user was revoked (rv|<pseudonym>|<org/id>). */
export interface RevocationMarker {
  readonly consentId: string;
  readonly revokedAtMs: number;
}

export type AuditOp =
  | 'record.create'
  | 'record.update'
  | 'record.erase'
  | 'consent.grant'
  | 'consent.revoke'
  | 'application.apply'
  | 'application.approve'
  | 'application.deny'
  | 'care.start'
  | 'care.end'
  | 'patient.enrol'
  | 'dataset.register'
  | 'dataset.access'
  | 'dataset.update'
  | 'dataset.withdraw'
  | 'dataset.reopen'
  | 'dataset.delete'
  | 'dataset.download'
  | 'access.read'
  | 'access.write'
  | 'access.share'
  | 'access.statistics'
  | 'stats.request'
  | 'stats.result'
  | 'bmrs.reauthorize';

export interface AuditEntry {
  readonly auditId: string;
  readonly txId: string;
  readonly atMs: number;
  readonly op: AuditOp;
  /** Who acted (for batched read events: the requester the custodian served). */
  readonly actor: Actor;
  /** The custodian identity that recorded a batched read event (else null). */
  readonly recordedBy: Actor | null;
  readonly outcome: 'allow' | 'deny';
  readonly purpose: Purpose | null;
  readonly patient: string | null;
  readonly recordId: string | null;
  readonly version: number | null;
  readonly datasetId: string | null;
  readonly consentId: string | null;
  readonly applicationId: string | null;
  readonly custodian: string | null;
  readonly reasons: readonly string[];
  readonly flags: readonly string[];
  readonly basis: string | null;
  readonly securityAlert: boolean;
  readonly bmrs: { readonly from: number; readonly to: number; readonly actions: readonly string[] } | null;
  /** Batched read events before tickets: the node's decision when it served the request, if it differs. */
  readonly servedDecision: 'allow' | 'deny' | null;
  /** A custodian's served-read entry: the access transaction (ticket) that authorised the read. */
  readonly ticket?: string | null;
  /** A custodian's served-read entry: the level of the part it served (or could not serve). */
  readonly part?: Sensitivity | null;
  /** A dataset download: the columns / rows asked for (null: the whole version; decision 1260). */
  readonly selection?: DatasetSelection | null;
}

export interface Notification {
  readonly auditId: string;
  readonly atMs: number;
  readonly kind: 'break-the-glass' | 'consent' | 'application' | 'security-alert' | 'erasure' | 'care';
  readonly actor: string;
  readonly recordId: string | null;
  readonly applicationId: string | null;
}

/**
 * One transaction's view: the stub plus what this transaction already wrote that later steps of
 * the same transaction must see (the stub reads committed state only, as in Fabric).
 */
export class HealthTx {
  private auditSeq = 0;
  private readonly sessions = new Map<string, Session>();
  private readonly tickets = new Map<string, AccessTicket>();
  private readonly consentCache = new Map<string, Consent[]>();
  /** Approved application ids per `user|kind|target`: what the `perm|` index holds for that target. */
  private readonly permCache = new Map<string, string[]>();

  constructor(readonly stub: ChaincodeStub) {}

  get nowMs(): number {
    return this.stub.getTxTimestampMs();
  }

  get creator(): Actor {
    const c = this.stub.getCreator();
    return { org: c.org, id: c.id, role: c.role };
  }

  get creatorRef(): string {
    const c = this.stub.getCreator();
    return `${c.org}/${c.id}`;
  }

  config(): Config | undefined {
    return getJson<Config>(this.stub, 'cfg');
  }

  /** The hospital that enrolled this pseudonym (the patient's own hospital), or null. */
  patientOrgOf(pseudonym: string): string | null {
    return getJson<Enrolment>(this.stub, key('pt', 'pp', pseudonym))?.org ?? null;
  }

  /**
   * The pseudonym an actor owns, or null (decision 0906). A patient's certificate is issued to
   * their pseudonym (CN = X.520 pseudonym attribute, checked by the MSP), so "<org>/<pseudonym>"
   * with role patient IS the patient — provided <org> is the hospital that enrolled that
   * pseudonym: another hospital's CA cannot issue a certificate that owns it.
   */
  pseudonymOfActor(actor: Actor): string | null {
    if (actor.role !== 'patient' || !PSEUDONYM_RE.test(actor.id)) return null;
    return this.patientOrgOf(actor.id) === actor.org ? actor.id : null;
  }

  /** The pseudonym the transaction's creator owns (null unless the creator is an enrolled patient). */
  get creatorPseudonym(): string | null {
    return this.pseudonymOfActor(this.creator);
  }

  record(recordId: string): RecordEntry | ErasedEntry | undefined {
    return getJson<RecordEntry | ErasedEntry>(this.stub, key('rec', recordId));
  }

  liveRecord(recordId: string): RecordEntry {
    const r = this.record(recordId);
    if (r === undefined) throw new ContractError(`record ${recordId} does not exist`);
    if ('erased' in r) throw new ContractError(`record ${recordId} was erased`);
    return r;
  }

  dataset(datasetId: string): Dataset | undefined {
    return getJson<Dataset>(this.stub, key('ds', datasetId));
  }

  session(provider: string, patient: string): Session {
    const k = key('bmrs', provider, patient);
    const cached = this.sessions.get(k);
    if (cached) return cached;
    const stored = getJson<Session>(this.stub, k);
    if (stored !== undefined && !isBmrsState(stored.state)) throw new ContractError(`corrupt BMRS session ${k}`);
    return stored ?? { provider, patient, state: 0, violations: 0, updatedAtMs: 0 };
  }

  putSession(s: Session): void {
    const k = key('bmrs', s.provider, s.patient);
    this.sessions.set(k, s);
    putJson(this.stub, k, s);
  }

  /** The ticket of access transaction `txId` (this transaction's own updates included). */
  ticket(txId: string): AccessTicket | undefined {
    const k = key('tk', txId);
    return this.tickets.get(k) ?? getJson<AccessTicket>(this.stub, k);
  }

  putTicket(txId: string, t: AccessTicket): void {
    const k = key('tk', txId);
    this.tickets.set(k, t);
    putJson(this.stub, k, t);
  }

  /** Gather the facts for one access to a record (existing or being created). */
  recordFacts(
    requester: Actor,
    action: Action,
    purpose: Purpose,
    reason: string | null,
    target: {
      recordId: string;
      patient: string;
      custodian: string;
      category: string;
      sensitivity: Sensitivity;
      isNew: boolean;
      exists: boolean;
      author?: string;
    },
  ): AccessFacts {
    const ref = `${requester.org}/${requester.id}`;
    const req: Requester = { ...requester, pseudonym: this.pseudonymOfActor(requester) };
    if (!target.exists) {
      return {
        nowMs: this.nowMs,
        requester: req,
        action,
        purpose,
        reason,
        subject: { kind: 'record', ...target, patientOrg: '' },
        care: null,
        consents: [],
        applications: [],
        session: 0,
      };
    }
    const patientOrg = this.patientOrgOf(target.patient) ?? '';
    const relation = requester.role === 'doctor' ? getJson<CareRelation>(this.stub, key('care', ref, target.patient)) : undefined;
    // Relations written before the care rule of decision 0903 (issue 16) lack startedByPatient:
    // they count as started by staff, which the engine accepts for a doctor of the patient's own
    // hospital alone.
    const care = relation?.active === true ? { startedByPatient: relation.startedByPatient === true } : null;
    const consents = this.consentsOf(target.patient);
    const applications = target.isNew ? [] : this.approvedApplications(ref, 'r', target.recordId);
    const selfPatient = req.pseudonym !== null && req.pseudonym === target.patient;
    const revokedConsent = selfPatient ? null : (getJson<RevocationMarker>(this.stub, key('rv', target.patient, ref)) ?? null);
    return {
      nowMs: this.nowMs,
      requester: req,
      action,
      purpose,
      reason,
      subject: { kind: 'record', ...target, patientOrg },
      care,
      consents,
      applications,
      session: selfPatient ? 0 : this.session(ref, target.patient).state,
      revokedConsent,
    };
  }

  datasetFacts(requester: Actor, action: Action, purpose: Purpose, datasetId: string): AccessFacts {
    const ref = `${requester.org}/${requester.id}`;
    const ds = this.dataset(datasetId);
    return {
      nowMs: this.nowMs,
      requester: { ...requester, pseudonym: null },
      action,
      purpose,
      reason: null,
      // A deleted dataset is gone for every rule (its content is crypto-shredded, decision 1260).
      subject: { kind: 'dataset', datasetId, exists: ds !== undefined && ds.status !== 'deleted', ownerOrg: ds?.ownerOrg ?? '' },
      care: null,
      consents: [],
      applications: ds ? this.approvedApplications(ref, 'd', datasetId) : [],
      session: 0,
    };
  }

  /**
   * The patient's non-revoked consents — one range scan per patient per transaction (a
   * transaction may make at most LEDGER_LIMITS.rangeQueriesMax scans; batches and listings ask
   * about the same patient many times). Caching is exact: reads see committed state only.
   */
  consentsOf(patient: string): Consent[] {
    const cached = this.consentCache.get(patient);
    if (cached) return cached;
    const consents = scanKeys(this.stub, ['cx', patient]).map((k) => {
      const consentId = k.slice(k.lastIndexOf(SEP) + 1);
      const c = getJson<Consent>(this.stub, key('con', consentId));
      if (c === undefined) throw new ContractError(`consent index names a missing consent ${consentId}`);
      return c;
    });
    this.consentCache.set(patient, consents);
    return consents;
  }

  /**
   * The user's approved applications for one target: one scan of that target's `perm|` keys, so a
   * user's approvals elsewhere — every one ever made, none removed when it expires — never weigh on
   * this check. Listings that check many targets call `preloadApprovals` first (a transaction may
   * make at most LEDGER_LIMITS.rangeQueriesMax scans).
   */
  approvedApplications(user: string, kind: 'r' | 'd', targetId: string): Application[] {
    const cacheKey = key(user, kind, targetId);
    let ids = this.permCache.get(cacheKey);
    if (!ids) {
      ids = scanKeys(this.stub, ['perm', user, kind, targetId]).map((k) => k.slice(k.lastIndexOf(SEP) + 1));
      this.permCache.set(cacheKey, ids);
    }
    return ids.map((id) => {
      const a = getJson<Application>(this.stub, key('app', id));
      if (a === undefined) throw new ContractError(`permission index names a missing application ${id}`);
      return a;
    });
  }

  /**
   * The approvals of many targets in a few scans, for a listing that checks a page of them: the
   * `perm|<user>|<kind>|` keys from the first target's to the last target's, read a page of
   * LEDGER_LIMITS.rangeResultsMax at a time, at most LIMITS.approvalPagesMax pages. The window is
   * taken over the keys as they sort ('|' after every id character, so an id that is a prefix of
   * another sorts after it here), not over the ids, and keys of targets outside the set are skipped.
   */
  preloadApprovals(user: string, kind: 'r' | 'd', targetIds: readonly string[]): void {
    const wanted = new Set(targetIds.filter((t) => !this.permCache.has(key(user, kind, t))));
    if (wanted.size === 0) return;
    const prefix = `${key('perm', user, kind)}${SEP}`;
    // Each target's keys begin "<target>|": the window runs from the lowest such beginning to the
    // end of the highest target's keys ("<target>}").
    const beginnings = [...wanted].map((t) => `${t}${SEP}`);
    const lowest = beginnings.reduce((low, b) => (b < low ? b : low));
    const highest = beginnings.reduce((high, b) => (b > high ? b : high));
    const start = `${prefix}${lowest}`;
    const end = `${prefix}${highest.slice(0, -SEP.length)}}`;
    const found = new Map<string, string[]>([...wanted].map((t) => [t, []]));
    let bookmark = '';
    for (let pages = 0; ; pages++) {
      if (pages === LIMITS.approvalPagesMax)
        throw new ContractError(
          `${user} has more than ${LIMITS.approvalPagesMax * LEDGER_LIMITS.rangeResultsMax} approved applications among the targets of this page: ask for a smaller page`,
        );
      const page = this.stub.getStateByRangeWithPagination(start, end, LEDGER_LIMITS.rangeResultsMax, bookmark);
      for (const kv of page.results) {
        const rest = kv.key.slice(prefix.length);
        const cut = rest.indexOf(SEP);
        found.get(rest.slice(0, cut))?.push(rest.slice(cut + 1));
      }
      bookmark = page.bookmark;
      if (bookmark === '') break;
    }
    for (const [t, ids] of found) this.permCache.set(key(user, kind, t), ids);
  }

  /** Persist what a decision changes in the requester's BMRS session. */
  applyBmrs(provider: string, patient: string, d: Decision): void {
    if (!d.bmrs) return;
    const before = this.session(provider, patient);
    const violations = before.violations + d.bmrs.steps.filter((s) => s.action === 'Violation').length;
    if (d.bmrs.to === before.state && violations === before.violations && before.updatedAtMs !== 0) return;
    this.putSession({ provider, patient, state: d.bmrs.to, violations, updatedAtMs: this.nowMs });
  }

  /** Write one audit entry and its indexes; returns its id. */
  audit(entry: Omit<AuditEntry, 'auditId' | 'txId' | 'atMs'>): string {
    const auditId = `${this.stub.getTxID()}-${this.auditSeq++}`;
    const full: AuditEntry = { auditId, txId: this.stub.getTxID(), atMs: this.nowMs, ...entry };
    putJson(this.stub, key('au', auditId), full);
    const t = pad(this.nowMs);
    const empty = new Uint8Array(0);
    if (full.recordId) this.stub.putState(key('aix', 'rec', full.recordId, t, auditId), empty);
    if (full.datasetId) this.stub.putState(key('aix', 'ds', full.datasetId, t, auditId), empty);
    if (full.patient) this.stub.putState(key('aix', 'pp', full.patient, t, auditId), empty);
    const orgs = new Set([full.actor.org, ...(full.custodian ? [full.custodian] : []), ...(full.recordedBy ? [full.recordedBy.org] : [])]);
    for (const org of orgs) this.stub.putState(key('aix', 'org', org, t, auditId), empty);
    return auditId;
  }

  notify(patient: string, n: Omit<Notification, 'atMs'>): void {
    putJson(this.stub, key('nf', patient, pad(this.nowMs), n.auditId), { ...n, atMs: this.nowMs });
  }
}

/** A page of values under an index prefix (index values are empty; entries live at au|id). */
export function pageIndex(
  stub: ChaincodeStub,
  parts: readonly string[],
  pageSize: number,
  bookmark: string,
  order: 'ascending' | 'descending' = 'ascending',
): { ids: string[]; bookmark: string } {
  const [start, end] = prefixRange(...parts);
  if (bookmark !== '' && !(bookmark >= start && bookmark < end)) throw new ContractError('bookmark does not belong to this query');
  const page = stub.getStateByRangeWithPagination(start, end, Math.min(pageSize, LIMITS.pageSizeMax), bookmark, order);
  return { ids: page.results.map((kv) => kv.key.slice(kv.key.lastIndexOf(SEP) + 1)), bookmark: page.bookmark };
}
