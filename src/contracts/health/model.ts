// The on-chain data model of the health contract: codes, identifiers, and the zod schemas that
// every argument passes before the contract looks at it. The shapes are deliberately closed:
// identifiers and codes match narrow patterns and every list and string is bounded, so nothing
// that could carry free-text clinical content fits on chain (DESIGN §6: health data stays off
// chain). The only human-written strings are a dataset listing's name and description (a
// catalogue entry, not patient data) and they are bounded too.
import { z } from 'zod';
import { HISTOGRAM_BINS_MAX, MIN_COHORT_MAX, STATISTICS_MIN_COHORT_FLOOR, statisticsSchema } from '../../analytics/aggregate.ts';
import { parseCid } from '../../codec/index.ts';

// ---- codes ----------------------------------------------------------------------------------

export const SENSITIVITIES = ['normal', 'sensitive', 'restricted'] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

export function sensitivityRank(s: Sensitivity): number {
  return SENSITIVITIES.indexOf(s);
}

export function maxSensitivity(list: readonly Sensitivity[]): Sensitivity {
  let best: Sensitivity = 'normal';
  for (const s of list) if (sensitivityRank(s) > sensitivityRank(best)) best = s;
  return best;
}

/** What a request wants to do with health data. */
export const ACTIONS = ['read', 'write', 'share', 'statistics'] as const;
export type Action = (typeof ACTIONS)[number];

/**
 * HL7 v3 PurposeOfUse codes MedLedger accepts (system http://terminology.hl7.org/CodeSystem/v3-ActReason).
 * FHIR validation does not check value sets (src/fhir/validate.ts), so this list is the check.
 */
export const PURPOSES = [
  'TREAT', // treatment
  'ETREAT', // emergency treatment
  'BTG', // break the glass
  'HOPERAT', // healthcare operations
  'CAREMGT', // care management
  'HPAYMT', // healthcare payment
  'HRESCH', // healthcare research
  'CLINTRCH', // clinical trial research
  'PUBHLTH', // public health
  'PATRQT', // patient requested
  'FAMRQT', // family requested
  'PWATRNY', // power of attorney
  'HLEGAL', // legal
  'COVERAGE', // coverage under policy or program
] as const;
export type Purpose = (typeof PURPOSES)[number];

/** Purposes that open break-the-glass for a doctor who states a reason. */
export const EMERGENCY_PURPOSES: readonly Purpose[] = ['ETREAT', 'BTG'];

export const USER_ROLES = ['doctor', 'nurse', 'patient', 'researcher', 'insurer', 'laboratory', 'supervisor', 'admin', 'peer', 'device'] as const;
export type UserRole = (typeof USER_ROLES)[number];
/**
 * Roles a consent may name. Not 'laboratory' or 'device': their access is fixed by their own
 * rules (decision 1253) and a consent never widens it, so a consent naming them would mislead.
 */
export const GRANTEE_ROLES = ['doctor', 'nurse', 'patient', 'researcher', 'insurer', 'supervisor', 'admin', 'peer'] as const;
/** Record categories (FHIR resource types) a hospital's laboratory writes: its results. */
export const LAB_CATEGORIES: readonly string[] = ['Observation', 'DiagnosticReport', 'Specimen'];
/** Record categories a device (a sensor) appends: observations only. */
export const DEVICE_CATEGORIES: readonly string[] = ['Observation'];

// ---- identifiers ----------------------------------------------------------------------------

/** Organisation names as the identity layer issues them (src/identity/roles.ts ORG_NAME_PATTERN). */
export const ORG_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
/** Identity common names (src/identity/roles.ts IDENTITY_NAME_PATTERN). */
export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** A user is named "org/commonName" — unique across the consortium. */
export const USER_RE = /^[A-Za-z][A-Za-z0-9_-]{0,63}\/[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/**
 * A pseudonymous patient id: lowercase hex of 128–256 bits, e.g. HMAC-SHA256(the hospital's
 * pseudonymisation key, patient id) computed off chain. Requiring hex keeps names, MRNs and
 * e-mail addresses from being stored as "patient ids" by mistake. At most 64 characters because
 * it is also the common name of the patient's certificate (decision 0906).
 */
export const PSEUDONYM_RE = /^[0-9a-f]{32,64}$/;
/** Record, dataset, consent and application ids. */
export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A record category: a FHIR resource type (PascalCase) or 'file'. */
export const CATEGORY_RE = /^(?:[A-Z][A-Za-z]{1,63}|file)$/;
export const MEDIA_TYPE_RE = /^[a-z]+\/[a-z0-9][a-z0-9.+-]{0,99}$/;
/** HMAC-SHA256 commitment (src/offchain/envelope.ts commit), hex. */
export const COMMITMENT_RE = /^[0-9a-f]{64}$/;
/** Break-the-glass justification: a short code, not prose (no room for clinical narrative). */
export const REASON_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
/** Dataset column / variable codes (e.g. LOINC "8480-6", or a CSV header "systolic_bp"). */
export const CODE_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function userRef(org: string, id: string): string {
  return `${org}/${id}`;
}

export function orgOf(user: string): string {
  return user.slice(0, user.indexOf('/'));
}

export const LIMITS = {
  partsMax: 8,
  versionsMax: 500,
  consentsActiveMax: 100,
  consentRecordIdsMax: 50,
  consentCategoriesMax: 20,
  /** Served-read events per `recordReads` (each reads a ticket and an audit entry, no range scan). */
  readBatchMax: 40,
  datasetColumnsMax: 200,
  /** Versions a dataset may have (each is a sealed copy kept at its custodian, decision 1260). */
  datasetVersionsMax: 100,
  datasetTagsMax: 10,
  /** Entries `listDatasets` examines per call when it filters (a page may then hold fewer matches: follow the bookmark). */
  datasetListScanMax: 500,
  /** Applications of one applicant `listDatasets` reads to say "pending" (a bounded scan). */
  datasetListApplicationsMax: 500,
  /**
   * Pages (of LEDGER_LIMITS.rangeResultsMax keys) of one user's approvals a listing reads to mark a
   * page of targets approved (`preloadApprovals`): 20,000 approvals among one page's targets.
   */
  approvalPagesMax: 20,
  /** Rows a download selection may name as a range bound. */
  datasetRowsMax: 1_000_000,
  datasetsPerStatsMax: 20,
  /**
   * Statistics requests one requester may make over one dataset, unless its owner set another
   * budget at registration (decision 1163): each answer is a new view of the same rows, and
   * differences between views can isolate small groups.
   */
  statsQueryBudgetDefault: 20,
  statsQueryBudgetMax: 1000,
  pageSizeMax: 200,
  pageSizeDefault: 50,
  partSizeBytesMax: 64 * 1024 * 1024 * 1024,
  /** Consents and applications last at most ~10 years. */
  periodMsMax: 10 * 366 * 24 * 3600 * 1000,
} as const;

// ---- schemas --------------------------------------------------------------------------------

const cidString = z
  .string()
  .max(200)
  .refine((text) => {
    try {
      const cid = parseCid(text);
      // Raw blocks (≤ 256 KiB) and UnixFS roots (dag-pb, 0x70) — what src/offchain/cid.ts produces.
      return cid.version === 1 && (cid.code === 0x55 || cid.code === 0x70) && cid.multihash.code === 0x12;
    } catch {
      return false;
    }
  }, 'must be a CIDv1 (raw or dag-pb, sha2-256)');

export const sensitivitySchema = z.enum(SENSITIVITIES);
export const actionSchema = z.enum(ACTIONS);
export const purposeSchema = z.enum(PURPOSES);
export const userSchema = z.string().regex(USER_RE, 'must be "org/commonName"');
export const orgSchema = z.string().regex(ORG_RE, 'must be an organisation name');
export const pseudonymSchema = z.string().regex(PSEUDONYM_RE, 'must be a pseudonym: 32–64 lowercase hex characters');
export const idSchema = z.string().regex(ID_RE, 'must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
export const categorySchema = z.string().regex(CATEGORY_RE, "must be a FHIR resource type or 'file'");
export const reasonSchema = z.string().regex(REASON_RE, 'must be a short reason code (lowercase letters, digits, dashes; at most 64)');
const timeMs = z.number().int().min(0).max(8.64e15);

export const partSchema = z.strictObject({
  sensitivity: sensitivitySchema,
  cid: cidString,
  sizeBytes: z.number().int().min(0).max(LIMITS.partSizeBytesMax),
  mediaType: z.string().regex(MEDIA_TYPE_RE, 'must be a media type such as application/fhir+json'),
  commitment: z.string().regex(COMMITMENT_RE, 'must be a 64-hex-digit keyed commitment (HMAC-SHA256)'),
});
export type Part = z.infer<typeof partSchema>;

const partsSchema = z
  .array(partSchema)
  .min(1)
  .max(LIMITS.partsMax)
  .refine((parts) => new Set(parts.map((p) => p.sensitivity)).size === parts.length, 'at most one part per sensitivity level');

/**
 * When the custodian's prepared content of this version expires (its `expiresAtMs`): a write
 * timestamped later is refused, so a late submission cannot commit parts the custodian may have
 * swept (decision 1160). Optional: writers that prepared nothing off chain omit it.
 */
const notAfterMsSchema = timeMs.optional();

export const createRecordArgs = z.strictObject({
  recordId: idSchema,
  patient: pseudonymSchema,
  category: categorySchema,
  parts: partsSchema,
  purpose: purposeSchema.default('TREAT'),
  notAfterMs: notAfterMsSchema,
});

export const updateRecordArgs = z.strictObject({
  recordId: idSchema,
  parts: partsSchema,
  purpose: purposeSchema.default('TREAT'),
  notAfterMs: notAfterMsSchema,
});

export const periodSchema = z
  .strictObject({ startMs: timeMs, endMs: timeMs })
  .refine((p) => p.startMs < p.endMs && p.endMs - p.startMs <= LIMITS.periodMsMax, 'period needs startMs < endMs and at most ~10 years');
export type Period = z.infer<typeof periodSchema>;

export const granteeSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('user'), user: userSchema }),
  z.strictObject({ kind: z.literal('org'), org: orgSchema }),
  z.strictObject({ kind: z.literal('role'), role: z.enum(GRANTEE_ROLES), org: orgSchema.optional() }),
]);
export type Grantee = z.infer<typeof granteeSchema>;

const uniqueList = <T extends z.ZodType>(item: T, max: number) =>
  z
    .array(item)
    .max(max)
    .refine((list) => new Set(list).size === list.length, 'must not repeat entries');

export const grantConsentArgs = z.strictObject({
  patient: pseudonymSchema,
  grantee: granteeSchema,
  actions: uniqueList(actionSchema, ACTIONS.length).refine((a) => a.length > 0, 'at least one action'),
  purposes: uniqueList(purposeSchema, PURPOSES.length).refine((a) => a.length > 0, 'at least one purpose'),
  period: periodSchema,
  scope: z.strictObject({
    recordIds: uniqueList(idSchema, LIMITS.consentRecordIdsMax).default([]),
    categories: uniqueList(categorySchema, LIMITS.consentCategoriesMax).default([]),
    maxSensitivity: sensitivitySchema,
  }),
});

export const targetSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('record'), recordId: idSchema }),
  z.strictObject({ kind: z.literal('dataset'), datasetId: idSchema }),
]);
export type Target = z.infer<typeof targetSchema>;

export const applyArgs = z.strictObject({
  target: targetSchema,
  purpose: purposeSchema,
  actions: uniqueList(actionSchema, ACTIONS.length).refine((a) => a.length > 0, 'at least one action'),
  period: periodSchema,
  maxSensitivity: sensitivitySchema.default('sensitive'),
});

/** One access (request or recorded event) as the rule engine sees it. */
export const accessRequestSchema = z.strictObject({
  recordId: idSchema,
  action: actionSchema,
  purpose: purposeSchema,
  reason: reasonSchema.optional(),
  /** Highest sensitivity of the parts wanted; default: every part of the record. */
  sensitivity: sensitivitySchema.optional(),
  /** An earlier version (default: the current one). */
  version: z.number().int().min(1).max(LIMITS.versionsMax).optional(),
});
export type AccessRequestArgs = z.infer<typeof accessRequestSchema>;

/**
 * A served-read event's stable id, assigned once by the custodian's journal (decision 1152). The
 * contract records each (ticket, part) at most once and keeps the id of the event that recorded
 * it, so replaying a journal after a crash between "audit committed" and "journal entry deleted"
 * is answered as a duplicate instead of being audited twice.
 */
export const READ_EVENT_ID_RE = /^[0-9a-f]{32}$/;
/** A transaction id (sha-256, hex): an access transaction named as a ticket. */
export const TX_ID_RE = /^[0-9a-f]{64}$/;

/**
 * One served part as a custodian's node records it (decision 1153). It names only the access
 * transaction that authorised the read (its on-chain ticket) and the part's level: who read, what
 * and why come from the ticket and that transaction's audit entry, never from the submitter.
 */
export const readEventSchema = z.strictObject({
  ticket: z.string().regex(TX_ID_RE, 'must be the txId (64 hex) of the access transaction that released the part'),
  sensitivity: sensitivitySchema,
  /** allow: the part was released; deny: the custodian held no intact copy (erased, missing, corrupt). */
  servedDecision: z.enum(['allow', 'deny']),
  eventId: z.string().regex(READ_EVENT_ID_RE),
});
export type ReadEvent = z.infer<typeof readEventSchema>;
export const readBatchArgs = z.array(readEventSchema).min(1).max(LIMITS.readBatchMax);

/** Who a custodian node may ask `checkAccess` about (an actor as certificates name them). */
export const requesterSchema = z.strictObject({ org: orgSchema, id: z.string().regex(NAME_RE), role: z.enum(USER_ROLES) });

/** An X25519 public key (32 bytes, hex) a node publishes so custodians can wrap data keys to it (decision 1150). */
export const HPKE_PUBLIC_KEY_RE = /^[0-9a-f]{64}$/;
export const publishNodeKeyArgs = z.strictObject({ org: orgSchema, nodeId: z.string().regex(NAME_RE), publicKey: z.string().regex(HPKE_PUBLIC_KEY_RE) });
export const nodeKeyArgs = z.strictObject({ org: orgSchema, nodeId: z.string().regex(NAME_RE) });

export interface NodeKeyEntry {
  readonly org: string;
  readonly nodeId: string;
  /** X25519 public key, hex (HPKE DHKEM(X25519, HKDF-SHA256)). */
  readonly publicKey: string;
  readonly publishedAtMs: number;
  readonly txId: string;
}

/** Control characters other than tab/newline (allowed in descriptions only). */
function hasControl(s: string, allowLines: boolean): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 || c === 0x7f) && !(allowLines && (c === 0x09 || c === 0x0a))) return true;
  }
  return false;
}

export const DATASET_MEDIA_TYPES = ['text/csv', 'application/fhir+json'] as const;
export type DatasetMediaType = (typeof DATASET_MEDIA_TYPES)[number];
/** The catalogue's "type" filter: csv or fhir (from the media type). */
export const DATASET_TYPES = ['csv', 'fhir'] as const;
export function datasetTypeOf(mediaType: string | undefined): (typeof DATASET_TYPES)[number] | null {
  return mediaType === 'text/csv' ? 'csv' : mediaType === 'application/fhir+json' ? 'fhir' : null;
}
/** A listing's state (decision 1260): listed (default), withdrawn from the market, or deleted (crypto-shredded). */
export const DATASET_STATUSES = ['listed', 'withdrawn', 'deleted'] as const;
export type DatasetStatus = (typeof DATASET_STATUSES)[number];
/** Catalogue tags: short codes, like column codes (no free text on chain beyond name and description). */
export const datasetTagsSchema = uniqueList(z.string().regex(CODE_RE, 'tags must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,63}'), LIMITS.datasetTagsMax);
const datasetColumnsSchema = uniqueList(z.string().regex(CODE_RE, 'column codes must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,63}'), LIMITS.datasetColumnsMax).refine(
  (c) => c.length > 0,
  'at least one column',
);

export const registerDatasetArgs = z.strictObject({
  datasetId: idSchema,
  name: z
    .string()
    .min(1)
    .max(128)
    .refine((s) => !hasControl(s, false), 'must be printable text'),
  description: z
    .string()
    .max(1000)
    .refine((s) => !hasControl(s, true), 'must be printable text')
    .default(''),
  columns: datasetColumnsSchema,
  cid: cidString,
  sizeBytes: z.number().int().min(0).max(LIMITS.partSizeBytesMax),
  recordCount: z.number().int().min(0).max(1e9),
  /** Keyed commitment to the plaintext (decision 1100): a downloader checks the content against it (decision 1260). */
  commitment: z.string().regex(COMMITMENT_RE, 'must be a 64-hex-digit keyed commitment (HMAC-SHA256)').optional(),
  mediaType: z.enum(DATASET_MEDIA_TYPES).optional(),
  tags: datasetTagsSchema.default([]),
  notAfterMs: timeMs.optional(),
  open: z.boolean().default(true),
  /** The owner's own minimum cohort for statistics over this dataset (never below the consortium floor). */
  minCohort: z
    .number()
    .int()
    .min(STATISTICS_MIN_COHORT_FLOOR, `minCohort cannot be below the consortium floor ${STATISTICS_MIN_COHORT_FLOOR}`)
    .max(MIN_COHORT_MAX)
    .default(STATISTICS_MIN_COHORT_FLOOR),
  /** Statistics requests each requester may make over this dataset. */
  queryBudget: z.number().int().min(1).max(LIMITS.statsQueryBudgetMax).default(LIMITS.statsQueryBudgetDefault),
});

/** A new version of a dataset's content, prepared (sealed) at its custodian (decision 1260). */
export const updateDatasetArgs = z.strictObject({
  datasetId: idSchema,
  columns: datasetColumnsSchema,
  cid: cidString,
  sizeBytes: z.number().int().min(0).max(LIMITS.partSizeBytesMax),
  recordCount: z.number().int().min(0).max(1e9),
  commitment: z.string().regex(COMMITMENT_RE, 'must be a 64-hex-digit keyed commitment (HMAC-SHA256)'),
  mediaType: z.enum(DATASET_MEDIA_TYPES),
  notAfterMs: timeMs.optional(),
});

/**
 * Which part of a dataset a download asks for: columns (CSV header names / Observation codes) and
 * a 1-based inclusive range of data rows (CSV rows / Bundle entries). Absent: the whole dataset.
 */
export const datasetSelectionSchema = z.strictObject({
  columns: uniqueList(z.string().regex(CODE_RE, 'column codes must match [A-Za-z0-9][A-Za-z0-9_.:-]{0,63}'), LIMITS.datasetColumnsMax)
    .refine((c) => c.length > 0, 'at least one column')
    .optional(),
  rows: z
    .strictObject({ from: z.number().int().min(1).max(LIMITS.datasetRowsMax), to: z.number().int().min(1).max(LIMITS.datasetRowsMax) })
    .refine((r) => r.from <= r.to, 'rows needs from <= to')
    .optional(),
});
export type DatasetSelection = z.infer<typeof datasetSelectionSchema>;

export const downloadDatasetArgs = z.strictObject({
  datasetId: idSchema,
  purpose: purposeSchema,
  /** An earlier version (default: the current one). */
  version: z.number().int().min(1).max(LIMITS.datasetVersionsMax).optional(),
  selection: datasetSelectionSchema.optional(),
});

export const listDatasetsArgs = z.strictObject({
  pageSize: z.number().int().min(1).max(LIMITS.pageSizeMax).default(LIMITS.pageSizeDefault),
  bookmark: z.string().max(1024).default(''),
  /** Case-insensitive text search over name, description and tags. */
  q: z
    .string()
    .max(100)
    .refine((s) => !hasControl(s, false), 'must be printable text')
    .optional(),
  ownerOrg: orgSchema.optional(),
  /** Default: listed only (withdrawn and deleted listings are hidden from the catalogue); 'all': every state. */
  status: z.enum([...DATASET_STATUSES, 'all']).default('listed'),
  type: z.enum(DATASET_TYPES).optional(),
  tag: z.string().regex(CODE_RE).optional(),
});

export const histogramSchema = z
  .strictObject({
    min: z.number().finite(),
    max: z.number().finite(),
    bins: z.number().int().min(1).max(HISTOGRAM_BINS_MAX),
  })
  .refine((h) => h.min < h.max && Number.isFinite(h.max - h.min), 'histogram needs min < max (and a finite width)');

export const statsRequestArgs = z.strictObject({
  datasetIds: uniqueList(idSchema, LIMITS.datasetsPerStatsMax).refine((d) => d.length > 0, 'at least one dataset'),
  variable: z.string().regex(CODE_RE, 'variable must be a column code'),
  purpose: purposeSchema,
  histogram: histogramSchema,
  /** The caller may raise the threshold; the contract uses max(consortium floor, the owners' minimums, this). */
  minCohort: z.number().int().min(1).max(MIN_COHORT_MAX).optional(),
});

/** A released result (src/analytics/aggregate.ts Statistics); the contract then checks the disclosure rule (disclosureProblem). */
export const statsResultArgs = z.strictObject({
  requestId: idSchema,
  result: statisticsSchema,
});

export const pageArgs = z.strictObject({
  pageSize: z.number().int().min(1).max(LIMITS.pageSizeMax).default(LIMITS.pageSizeDefault),
  bookmark: z.string().max(1024).default(''),
});

/**
 * The direction of a time-ordered list (an audit trail, a patient's notifications): oldest first
 * (a story; the default) or newest first (what happened lately). Either reads only the page asked
 * for, so a list of any length shows its latest entries at once (decision 0907).
 */
export const orderArgs = z.strictObject({ order: z.enum(['oldest', 'newest']).default('oldest') });

/** `myPatients`: up to `pageSize` index keys a call (default and most: 200), from `bookmark` on. */
export const myPatientsArgs = z.strictObject({
  pageSize: z.number().int().min(1).max(LIMITS.pageSizeMax).default(LIMITS.pageSizeMax),
  bookmark: z.string().max(1024).default(''),
});

/**
 * An owner's (a patient's pseudonym, or an organisation for its datasets) or an applicant's
 * applications, a page at a time in the order they were made; `status` keeps one state only.
 */
export const listApplicationsArgs = z
  .strictObject({
    owner: z.union([pseudonymSchema, orgSchema]).optional(),
    applicant: userSchema.optional(),
    status: z.enum(['pending', 'approved', 'denied']).optional(),
    ...pageArgs.shape,
    ...orderArgs.shape,
  })
  .refine((a) => (a.owner === undefined) !== (a.applicant === undefined), 'give exactly one of owner or applicant');

// ---- stored entities ------------------------------------------------------------------------

export interface Actor {
  readonly org: string;
  readonly id: string;
  readonly role: string;
}

export interface RecordEntry {
  readonly recordId: string;
  readonly patient: string;
  readonly custodian: string;
  readonly category: string;
  readonly sensitivity: Sensitivity;
  readonly parts: readonly Part[];
  readonly version: number;
  readonly author: string;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
  readonly txId: string;
}

export interface ErasedEntry {
  readonly recordId: string;
  readonly erased: true;
  readonly erasedAtMs: number;
  /** The organisation that held it (not identifying; lets its auditors find the proof). */
  readonly custodian: string;
  /** Staff: "org/id"; a patient erasing their own record is recorded as "org/patient" only (no pseudonym in the proof). */
  readonly erasedBy: string;
  readonly versions: number;
  /** sha256 over the canonical encoding of every former version's commitments (hex). */
  readonly commitmentsDigest: string;
}

export interface CareRelation {
  readonly doctor: string;
  readonly patient: string;
  readonly active: boolean;
  readonly startedAtMs: number;
  readonly startedBy: string;
  /** The patient started it (else staff of the patient's own hospital, for one of its doctors). */
  readonly startedByPatient: boolean;
  readonly endedAtMs: number | null;
  readonly endedBy: string | null;
}

export interface Consent {
  readonly consentId: string;
  readonly patient: string;
  readonly grantee: Grantee;
  readonly actions: readonly Action[];
  readonly purposes: readonly Purpose[];
  readonly period: Period;
  readonly scope: { readonly recordIds: readonly string[]; readonly categories: readonly string[]; readonly maxSensitivity: Sensitivity };
  readonly status: 'active' | 'revoked';
  readonly grantedAtMs: number;
  readonly revokedAtMs: number | null;
}

/** One patient of `myPatients`: the caller's active care relation with them and the unexpired consents naming the caller. */
export interface MyPatient {
  readonly patient: string;
  readonly patientOrg: string | null;
  care: { readonly startedAtMs: number } | null;
  readonly consents: Array<{
    consentId: string;
    /** Whom the consent names: the caller, their organisation or their role (decision 0914). */
    grantee: Grantee;
    actions: readonly string[];
    purposes: readonly string[];
    startMs: number;
    endMs: number;
    maxSensitivity: string;
  }>;
}

export interface Application {
  readonly applicationId: string;
  readonly applicant: string;
  readonly applicantRole: string;
  readonly target: Target;
  /** Who decides: the patient pseudonym (records) or the owner organisation (datasets). */
  readonly owner: string;
  readonly purpose: Purpose;
  readonly actions: readonly Action[];
  readonly period: Period;
  readonly maxSensitivity: Sensitivity;
  readonly status: 'pending' | 'approved' | 'denied';
  readonly appliedAtMs: number;
  readonly decidedAtMs: number | null;
  readonly decidedBy: string | null;
}

export interface Dataset {
  readonly datasetId: string;
  readonly name: string;
  readonly description: string;
  readonly ownerOrg: string;
  readonly columns: readonly string[];
  readonly cid: string;
  readonly sizeBytes: number;
  readonly recordCount: number;
  /** PHDMF's permission configuration: whether third parties may apply for access. */
  readonly open: boolean;
  /** The owner's minimum cohort for statistics (absent on datasets registered before decision 1163: the floor). */
  readonly minCohort?: number;
  /** Statistics requests per requester (absent before decision 1163: LIMITS.statsQueryBudgetDefault). */
  readonly queryBudget?: number;
  readonly registeredBy: string;
  readonly registeredAtMs: number;
  // Lifecycle (decision 1260); absent on datasets registered before it: version 1, listed.
  readonly version?: number;
  readonly commitment?: string;
  readonly mediaType?: DatasetMediaType;
  readonly tags?: readonly string[];
  readonly status?: DatasetStatus;
  readonly updatedAtMs?: number;
  readonly txId?: string;
  readonly deletedAtMs?: number;
  readonly deletedBy?: string;
}

/** One version of a dataset's content as listed on chain (`dsv|<datasetId>|<version 6>`); kept after deletion. */
export interface DatasetVersion {
  readonly datasetId: string;
  readonly version: number;
  readonly cid: string;
  /** Absent for a version registered before decision 1260 (the CID is then the only proof). */
  readonly commitment: string | null;
  readonly mediaType: DatasetMediaType | null;
  readonly columns: readonly string[];
  readonly sizeBytes: number;
  readonly recordCount: number;
  readonly txId: string;
  readonly by: string;
  readonly atMs: number;
}
