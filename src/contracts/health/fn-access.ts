// The audited access path: every decision on a record is recorded by the transaction that made it;
// the custodian confirms what it served. Part of the health contract (contract.ts composes the
// areas).
import { type ContractFunction, ContractError } from '../runtime.ts';
import { accessRequestSchema, readBatchArgs, requesterSchema, sensitivityRank, type Actor, type RecordEntry, type Sensitivity } from './model.ts';
import { decide, releasableLevel } from './rules.ts';
import { getJson, key, pad, type AccessTicket, type AuditEntry } from './state.ts';
import {
  CONTENT_ACTIONS,
  parseArg,
  json,
  verdict,
  decideRecordAccess,
  recordTarget,
  missingTarget,
  liveOrMissing,
  clampTo,
  partsUpTo,
  fn,
} from './contract-support.ts';

export const accessFunctions: Readonly<Record<string, ContractFunction>> = {
  access: fn(
    'submit',
    'access({recordId, action, purpose, reason?, sensitivity?, version?}) — decide, apply BMRS, audit; an allowed read or share releases the parts (without sensitivity: every part the rules allow, the others withheld with their reasons)',
    (tx, args) => {
      const a = parseArg(accessRequestSchema, args);
      const r = liveOrMissing(tx, a.recordId);
      if (!r) {
        const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, a.action, a.purpose, a.reason ?? null, missingTarget(a.recordId), {});
        return verdict(decision, auditId, { session });
      }
      let v: RecordEntry = r;
      if (a.version !== undefined && a.version !== r.version) {
        const old = getJson<RecordEntry>(tx.stub, key('recv', r.recordId, pad(a.version, 6)));
        if (!old) throw new ContractError(`record ${r.recordId} has no version ${a.version}`);
        v = old;
      }
      const releases = CONTENT_ACTIONS.includes(a.action);
      let wanted: Sensitivity;
      let withheld: Array<{ sensitivity: Sensitivity; reasons: string[] }>;
      if (releases && a.sensitivity === undefined) {
        // No level asked: "everything I may see". Release up to the highest level the rules allow
        // and say why each part above it is withheld; an honest request is never refused whole
        // for one part outside consent (decision 0901). Nothing allowed: decided (and denied) at
        // the lowest level, whose reasons say why not even that part is released.
        const levels = v.parts.map((p) => p.sensitivity);
        const best = releasableLevel(tx.recordFacts(tx.creator, a.action, a.purpose, a.reason ?? null, recordTarget(r, v.sensitivity)), levels);
        wanted = best.level ?? levels.reduce((low, s) => (sensitivityRank(s) < sensitivityRank(low) ? s : low));
        withheld = best.level === null ? [] : best.withheld;
      } else {
        wanted = clampTo(v, a.sensitivity);
        withheld = releases
          ? v.parts
              .filter((p) => sensitivityRank(p.sensitivity) > sensitivityRank(wanted))
              .map((p) => ({ sensitivity: p.sensitivity, reasons: [`not requested (parts up to ${wanted} were asked for)`] }))
          : [];
      }
      const notes = withheld.map((w) => `withheld the ${w.sensitivity} part: ${w.reasons.join('; ')}`);
      // Patient, custodian and category come from the current entry; the parts from the version asked for.
      const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, a.action, a.purpose, a.reason ?? null, recordTarget(r, wanted), {
        version: v.version,
        notes,
      });
      if (decision.decision === 'deny' || !releases) return verdict(decision, auditId, { session });
      const parts = partsUpTo(v, wanted);
      // The ticket is what the custodian's node may later record as served, and all it may name
      // (decision 1153): only reads that cross organisations are served by another node.
      if (v.custodian !== tx.creator.org && parts.length > 0) {
        const ticket: AccessTicket = { auditId, custodian: v.custodian, released: parts.map((p) => p.sensitivity), recorded: {} };
        tx.putTicket(tx.stub.getTxID(), ticket);
      }
      return verdict(decision, auditId, {
        session,
        record: { recordId: r.recordId, version: v.version, custodian: v.custodian, category: r.category, parts },
        withheld,
      });
    },
  ),

  recordReads: fn(
    'submit',
    "recordReads([{ticket, sensitivity, servedDecision, eventId}]) — the custodian node's confirmation of the parts it served under access tickets; each (ticket, part) is recorded once",
    (tx, args) => {
      const events = parseArg(readBatchArgs, args);
      const results: unknown[] = [];
      for (const e of events) {
        // Who read, which record, why and on which basis come from the ticket and its access
        // transaction's audit entry — never from the submitter (decision 1153). The access
        // transaction already drove the reader's BMRS session and notified the patient.
        const t = tx.ticket(e.ticket);
        if (!t)
          throw new ContractError(
            `recordReads: transaction ${e.ticket} left no access ticket; only parts released to another organisation by an allowed access can be recorded as served`,
          );
        if (t.custodian !== tx.creator.org)
          throw new ContractError(`recordReads: ticket ${e.ticket} is for a record held by ${t.custodian}; only its custodian's node records its reads`);
        if (!t.released.includes(e.sensitivity))
          throw new ContractError(`recordReads: access ${e.ticket} released no ${e.sensitivity} part (it released: ${t.released.join(', ')})`);
        const earlier = t.recorded[e.sensitivity];
        if (earlier) {
          results.push({ ticket: e.ticket, sensitivity: e.sensitivity, eventId: e.eventId, duplicate: true, auditId: earlier.auditId });
          continue;
        }
        const access = getJson<AuditEntry>(tx.stub, key('au', t.auditId));
        if (!access) throw new ContractError(`recordReads: ticket ${e.ticket} names a missing audit entry ${t.auditId}`);
        const auditId = tx.audit({
          op: access.op,
          actor: access.actor,
          recordedBy: tx.creator,
          outcome: e.servedDecision,
          purpose: access.purpose,
          patient: access.patient,
          recordId: access.recordId,
          version: access.version,
          // A dataset download's ticket (decision 1260) names the dataset; a record's, none.
          datasetId: access.datasetId ?? null,
          consentId: null,
          applicationId: null,
          custodian: access.custodian,
          reasons:
            e.servedDecision === 'deny'
              ? [`the custodian held no intact copy of the ${e.sensitivity} part (erased, missing or corrupt): nothing was released`]
              : [],
          // This entry notifies nobody: the access transaction did, once per read.
          flags: access.flags.filter((f) => f !== 'notify-patient'),
          basis: access.basis,
          securityAlert: access.securityAlert,
          bmrs: null,
          servedDecision: null,
          ticket: e.ticket,
          part: e.sensitivity,
          ...(access.selection !== undefined ? { selection: access.selection } : {}),
        });
        tx.putTicket(e.ticket, { ...t, recorded: { ...t.recorded, [e.sensitivity]: { auditId, eventId: e.eventId } } });
        results.push({
          ticket: e.ticket,
          sensitivity: e.sensitivity,
          eventId: e.eventId,
          recordId: access.recordId,
          datasetId: access.datasetId ?? null,
          requester: `${access.actor.org}/${access.actor.id}`,
          outcome: e.servedDecision,
          auditId,
        });
      }
      return json(results);
    },
    ['peer'],
  ),
  checkAccess: fn(
    'evaluate',
    'checkAccess({recordId, action, purpose, reason?, sensitivity?} & {requester?}) — the decision, without recording it (custodian nodes pass the requester)',
    (tx, args) => {
      const a = parseArg(accessRequestSchema.extend({ requester: requesterSchema.optional() }), args);
      if (a.requester && !['peer', 'admin'].includes(tx.creator.role))
        throw new ContractError('checkAccess: only node or admin identities may ask on behalf of another requester');
      const requester: Actor = a.requester ?? tx.creator;
      const r = liveOrMissing(tx, a.recordId);
      const d = decide(
        tx.recordFacts(requester, a.action, a.purpose, a.reason ?? null, r ? recordTarget(r, clampTo(r, a.sensitivity)) : missingTarget(a.recordId)),
      );
      return json({ allowed: d.decision === 'allow', ...d });
    },
  ),
};
