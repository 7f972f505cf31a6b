// Audit queries: provenance, "who saw my data", FHIR AuditEvent and Provenance exports,
// notifications. Part of the health contract (contract.ts composes the areas).
import { z } from 'zod';
import { type ContractFunction, ContractError } from '../runtime.ts';
import { auditEventBundle, provenanceBundle } from './fhir.ts';
import { idSchema, orderArgs, pageArgs, pseudonymSchema } from './model.ts';
import { prefixRange, type Notification } from './state.ts';
import { parseArg, json, requirePatientSelf, auditQueryArgs, auditQuery, fn } from './contract-support.ts';

export const auditFunctions: Readonly<Record<string, ContractFunction>> = {
  auditTrail: fn(
    'evaluate',
    "auditTrail({kind: record|patient|org|dataset, …, order?: oldest|newest, pageSize?, bookmark?}) — provenance / 'who saw my data' (or, with org, what that organisation's trail holds about a patient) / an organisation's trail",
    (tx, args) => {
      return json(auditQuery(tx, parseArg(auditQueryArgs, args)));
    },
  ),

  exportAuditEvents: fn('evaluate', 'exportAuditEvents(same query as auditTrail) → a FHIR R4 Bundle of AuditEvent', (tx, args) => {
    const page = auditQuery(tx, parseArg(auditQueryArgs, args));
    return json({ bundle: auditEventBundle(page.entries), bookmark: page.bookmark });
  }),

  exportProvenance: fn(
    'evaluate',
    "exportProvenance({recordId, pageSize?, bookmark?}) → a FHIR R4 Bundle of Provenance for the record's create/update/erase",
    (tx, args) => {
      const a = parseArg(z.strictObject({ recordId: idSchema }).and(pageArgs), args);
      const page = auditQuery(tx, { kind: 'record', recordId: a.recordId, pageSize: a.pageSize, bookmark: a.bookmark, order: 'oldest' });
      return json({ bundle: provenanceBundle(page.entries), bookmark: page.bookmark });
    },
  ),

  notifications: fn('evaluate', "notifications({patient, order?: oldest|newest, pageSize?, bookmark?}) — the patient's feed (the patient only)", (tx, args) => {
    const a = parseArg(z.strictObject({ patient: pseudonymSchema }).and(pageArgs).and(orderArgs), args);
    requirePatientSelf(tx, a.patient, 'notifications');
    const [start, end] = prefixRange('nf', a.patient);
    if (a.bookmark !== '' && !(a.bookmark >= start && a.bookmark < end)) throw new ContractError('bookmark does not belong to this query');
    const page = tx.stub.getStateByRangeWithPagination(start, end, a.pageSize, a.bookmark, a.order === 'newest' ? 'descending' : 'ascending');
    return json({ notifications: page.results.map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as Notification), bookmark: page.bookmark });
  }),
};
