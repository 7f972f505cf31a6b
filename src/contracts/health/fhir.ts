// FHIR R4 views of on-chain entries: Consent, AuditEvent and Provenance (in collection Bundles).
// Pure functions (they run inside evaluate functions); tests check every output with
// src/fhir/validate.ts. People are referenced by identifier only — "org/id" users, pseudonymous
// patients, organisations — never by a name, since the chain holds none.
import type { AuditEvent, Bundle, Consent as FhirConsent, Provenance } from 'fhir/r4.d.ts';
import type { Action, Consent, Sensitivity } from './model.ts';
import type { AuditEntry, AuditOp } from './state.ts';

export const SYSTEMS = {
  user: 'urn:medledger:user',
  org: 'urn:medledger:org',
  pseudonym: 'urn:medledger:patient-pseudonym',
  record: 'urn:medledger:record',
  dataset: 'urn:medledger:dataset',
  op: 'urn:medledger:audit-operation',
  purpose: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  confidentiality: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
  consentAction: 'http://terminology.hl7.org/CodeSystem/consentaction',
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  dcm: 'http://dicom.nema.org/resources/ontology/DCM',
  entityType: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
  dataOperation: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation',
  participantType: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
  resourceTypes: 'http://hl7.org/fhir/resource-types',
} as const;

const CONFIDENTIALITY: Record<Sensitivity, string> = { normal: 'N', sensitive: 'R', restricted: 'V' };
const CONSENT_ACTION: Record<Action, string> = { read: 'access', write: 'correct', share: 'disclose', statistics: 'use' };

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** FHIR ids are [A-Za-z0-9.-]{1,64}. */
function fhirId(text: string): string {
  return text.replace(/[^A-Za-z0-9.-]/g, '-').slice(0, 64);
}

export function consentResource(c: Consent, nowMs: number): FhirConsent {
  const inForce = c.status === 'active' && nowMs >= c.period.startMs && nowMs < c.period.endMs;
  const actor =
    c.grantee.kind === 'user'
      ? { identifier: { system: SYSTEMS.user, value: c.grantee.user } }
      : c.grantee.kind === 'org'
        ? { identifier: { system: SYSTEMS.org, value: c.grantee.org } }
        : { display: `role ${c.grantee.role}${c.grantee.org ? ` of ${c.grantee.org}` : ''}` };
  return {
    resourceType: 'Consent',
    id: fhirId(c.consentId),
    status: inForce ? 'active' : 'inactive',
    scope: { coding: [{ system: SYSTEMS.consentScope, code: 'patient-privacy', display: 'Privacy Consent' }] },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: { identifier: { system: SYSTEMS.pseudonym, value: c.patient } },
    dateTime: iso(c.grantedAtMs),
    policyRule: { coding: [{ system: SYSTEMS.actCode, code: 'OPTIN' }] },
    provision: {
      type: 'permit',
      period: { start: iso(c.period.startMs), end: iso(c.period.endMs) },
      actor: [
        {
          role: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'IRCP', display: 'information recipient' }] },
          reference: actor,
        },
      ],
      action: c.actions.map((a) => ({ coding: [{ system: SYSTEMS.consentAction, code: CONSENT_ACTION[a] }], text: a })),
      purpose: c.purposes.map((p) => ({ system: SYSTEMS.purpose, code: p })),
      securityLabel: (['normal', 'sensitive', 'restricted'] as const)
        .filter((s) => ['normal', 'sensitive', 'restricted'].indexOf(s) <= ['normal', 'sensitive', 'restricted'].indexOf(c.scope.maxSensitivity))
        .map((s) => ({ system: SYSTEMS.confidentiality, code: CONFIDENTIALITY[s] })),
      ...(c.scope.categories.length ? { class: c.scope.categories.map((cat) => ({ system: SYSTEMS.resourceTypes, code: cat })) } : {}),
      ...(c.scope.recordIds.length
        ? { data: c.scope.recordIds.map((id) => ({ meaning: 'instance' as const, reference: { identifier: { system: SYSTEMS.record, value: id } } })) }
        : {}),
    },
  };
}

const AUDIT_ACTION: Record<AuditOp, 'C' | 'R' | 'U' | 'D' | 'E'> = {
  'record.create': 'C',
  'record.update': 'U',
  'record.erase': 'D',
  'consent.grant': 'C',
  'consent.revoke': 'U',
  'application.apply': 'C',
  'application.approve': 'U',
  'application.deny': 'U',
  'care.start': 'C',
  'care.end': 'U',
  'patient.enrol': 'C',
  'dataset.register': 'C',
  'dataset.access': 'U',
  'dataset.update': 'U',
  'dataset.withdraw': 'U',
  'dataset.reopen': 'U',
  'dataset.delete': 'D',
  'dataset.download': 'R',
  'access.read': 'R',
  'access.write': 'U',
  'access.share': 'R',
  'access.statistics': 'E',
  'stats.request': 'E',
  'stats.result': 'E',
  'bmrs.reauthorize': 'E',
};

export function auditEventResource(e: AuditEntry): AuditEvent {
  const entity: NonNullable<AuditEvent['entity']> = [];
  if (e.recordId)
    entity.push({
      what: { identifier: { system: SYSTEMS.record, value: e.recordId } },
      type: { system: SYSTEMS.entityType, code: '2', display: 'System Object' },
    });
  if (e.datasetId)
    entity.push({
      what: { identifier: { system: SYSTEMS.dataset, value: e.datasetId } },
      type: { system: SYSTEMS.entityType, code: '2', display: 'System Object' },
    });
  if (e.patient)
    entity.push({
      what: { identifier: { system: SYSTEMS.pseudonym, value: e.patient } },
      type: { system: SYSTEMS.entityType, code: '1', display: 'Person' },
      role: { system: SYSTEMS.objectRole, code: '1', display: 'Patient' },
    });
  const agent: AuditEvent['agent'] = [
    {
      who: { identifier: { system: SYSTEMS.user, value: `${e.actor.org}/${e.actor.id}` } },
      role: [{ text: e.actor.role }],
      requestor: true,
      ...(e.purpose ? { purposeOfUse: [{ coding: [{ system: SYSTEMS.purpose, code: e.purpose }] }] } : {}),
    },
  ];
  if (e.recordedBy)
    agent.push({
      who: { identifier: { system: SYSTEMS.user, value: `${e.recordedBy.org}/${e.recordedBy.id}` } },
      role: [{ text: `custodian ${e.recordedBy.role}` }],
      requestor: false,
    });
  const detail = [e.basis ? `basis ${e.basis}` : '', ...e.flags.map((f) => `flag ${f}`), ...e.reasons].filter((s) => s !== '');
  return {
    resourceType: 'AuditEvent',
    id: fhirId(e.auditId.slice(0, 40) + e.auditId.slice(e.auditId.lastIndexOf('-'))),
    type: e.securityAlert
      ? { system: SYSTEMS.dcm, code: '110113', display: 'Security Alert' }
      : { system: SYSTEMS.dcm, code: '110110', display: 'Patient Record' },
    subtype: [{ system: SYSTEMS.op, code: e.op }],
    action: AUDIT_ACTION[e.op],
    recorded: iso(e.atMs),
    outcome: e.outcome === 'allow' ? '0' : '4',
    ...(detail.length ? { outcomeDesc: detail.join('; ').slice(0, 1000) } : {}),
    ...(e.purpose ? { purposeOfEvent: [{ coding: [{ system: SYSTEMS.purpose, code: e.purpose }] }] } : {}),
    agent,
    source: { observer: { identifier: { system: SYSTEMS.org, value: e.custodian ?? e.actor.org } } },
    ...(entity.length ? { entity } : {}),
  };
}

export function auditEventBundle(entries: readonly AuditEntry[]): Bundle {
  return { resourceType: 'Bundle', type: 'collection', entry: entries.map((e) => ({ resource: auditEventResource(e) })) };
}

const PROVENANCE_OPS: Partial<Record<AuditOp, string>> = { 'record.create': 'CREATE', 'record.update': 'UPDATE', 'record.erase': 'DELETE' };

/** One Provenance per create/update/erase of the record (reads are AuditEvents, not provenance). */
export function provenanceResource(e: AuditEntry): Provenance | null {
  const activity = PROVENANCE_OPS[e.op];
  if (!activity || !e.recordId || e.outcome !== 'allow') return null;
  return {
    resourceType: 'Provenance',
    id: fhirId(e.auditId.slice(0, 40) + e.auditId.slice(e.auditId.lastIndexOf('-'))),
    target: [{ identifier: { system: SYSTEMS.record, value: e.recordId }, ...(e.version ? { display: `version ${e.version}` } : {}) }],
    occurredDateTime: iso(e.atMs),
    recorded: iso(e.atMs),
    activity: { coding: [{ system: SYSTEMS.dataOperation, code: activity }] },
    ...(e.purpose ? { reason: [{ coding: [{ system: SYSTEMS.purpose, code: e.purpose }] }] } : {}),
    agent: [
      {
        type: { coding: [{ system: SYSTEMS.participantType, code: activity === 'CREATE' ? 'author' : 'performer' }] },
        who: { identifier: { system: SYSTEMS.user, value: `${e.actor.org}/${e.actor.id}` } },
        onBehalfOf: { identifier: { system: SYSTEMS.org, value: e.actor.org } },
      },
    ],
  };
}

export function provenanceBundle(entries: readonly AuditEntry[]): Bundle {
  const resources = entries.map(provenanceResource).filter((p): p is Provenance => p !== null);
  return { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) };
}
