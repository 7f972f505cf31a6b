// Records: create, update, erase and read the registry entries of off-chain health records. Part of
// the health contract (contract.ts composes the areas).
import { z } from 'zod';
import { type ContractFunction, ContractError } from '../runtime.ts';
import {
  accessRequestSchema,
  createRecordArgs,
  idSchema,
  LIMITS,
  maxSensitivity,
  pageArgs,
  pseudonymSchema,
  updateRecordArgs,
  type ErasedEntry,
  type RecordEntry,
} from './model.ts';
import { decide } from './rules.ts';
import { key, pad, prefixRange, putJson, SEP } from './state.ts';
import {
  parseArg,
  json,
  isErased,
  verdict,
  writeAudit,
  decideRecordAccess,
  recordTarget,
  missingTarget,
  liveOrMissing,
  refuseExpiredPreparation,
  isStaffOf,
  commitmentsDigest,
  fn,
} from './contract-support.ts';

export const recordFunctions: Readonly<Record<string, ContractFunction>> = {
  createRecord: fn('submit', "createRecord({recordId, patient, category, parts, purpose?}) — the creator's organisation becomes the custodian", (tx, args) => {
    const a = parseArg(createRecordArgs, args);
    refuseExpiredPreparation(tx, a.recordId, a.notAfterMs);
    if (tx.record(a.recordId) !== undefined) throw new ContractError(`record ${a.recordId} already exists`);
    if (tx.patientOrgOf(a.patient) === null) throw new ContractError('createRecord: no patient is enrolled under this pseudonym');
    const sensitivity = maxSensitivity(a.parts.map((p) => p.sensitivity));
    const target = { recordId: a.recordId, patient: a.patient, custodian: tx.creator.org, category: a.category, sensitivity, isNew: true, exists: true };
    const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, 'write', a.purpose, null, target, { op: 'record.create', version: 1 });
    if (decision.decision === 'deny') return verdict(decision, auditId, { session });
    const entry: RecordEntry = {
      recordId: a.recordId,
      patient: a.patient,
      custodian: tx.creator.org,
      category: a.category,
      sensitivity,
      parts: a.parts,
      version: 1,
      author: tx.creatorRef,
      createdAtMs: tx.nowMs,
      updatedAtMs: tx.nowMs,
      txId: tx.stub.getTxID(),
    };
    putJson(tx.stub, key('rec', a.recordId), entry);
    putJson(tx.stub, key('recv', a.recordId, pad(1, 6)), entry);
    tx.stub.putState(key('rx', 'pp', a.patient, a.recordId), new Uint8Array(0));
    return verdict(decision, auditId, { session, record: entry });
  }),

  updateRecord: fn('submit', 'updateRecord({recordId, parts, purpose?}) — a new version; earlier versions stay queryable', (tx, args) => {
    const a = parseArg(updateRecordArgs, args);
    refuseExpiredPreparation(tx, a.recordId, a.notAfterMs);
    const r = liveOrMissing(tx, a.recordId);
    const sensitivity = maxSensitivity(a.parts.map((p) => p.sensitivity));
    if (!r) {
      const { decision, auditId, session } = decideRecordAccess(tx, tx.creator, 'write', a.purpose, null, missingTarget(a.recordId), {});
      return verdict(decision, auditId, { session });
    }
    if (r.version >= LIMITS.versionsMax) throw new ContractError(`record ${a.recordId} has reached ${LIMITS.versionsMax} versions`);
    const { decision, auditId, session } = decideRecordAccess(
      tx,
      tx.creator,
      'write',
      a.purpose,
      null,
      recordTarget(r, maxSensitivity([sensitivity, r.sensitivity])),
      { op: 'record.update', version: r.version + 1 },
    );
    if (decision.decision === 'deny') return verdict(decision, auditId, { session });
    const entry: RecordEntry = {
      ...r,
      parts: a.parts,
      sensitivity,
      version: r.version + 1,
      author: tx.creatorRef,
      updatedAtMs: tx.nowMs,
      txId: tx.stub.getTxID(),
    };
    putJson(tx.stub, key('rec', a.recordId), entry);
    putJson(tx.stub, key('recv', a.recordId, pad(entry.version, 6)), entry);
    return verdict(decision, auditId, { session, record: entry });
  }),

  eraseRecord: fn(
    'submit',
    'eraseRecord({recordId}) — by the patient, or an admin/supervisor of the custodian; keeps only a non-identifying proof',
    (tx, args) => {
      const a = parseArg(z.strictObject({ recordId: idSchema }), args);
      const r = tx.liveRecord(a.recordId);
      const byPatient = tx.creatorPseudonym === r.patient;
      if (!byPatient && !isStaffOf(tx, r.custodian))
        throw new ContractError(`eraseRecord: only the patient or an admin/supervisor of ${r.custodian} may erase record ${a.recordId}`);
      const tombstone: ErasedEntry = {
        recordId: r.recordId,
        erased: true,
        erasedAtMs: tx.nowMs,
        custodian: r.custodian,
        // A patient acts as "<org>/<pseudonym>" (decision 0906): record the role only, so the
        // proof of erasure names no patient.
        erasedBy: byPatient ? `${tx.creator.org}/patient` : tx.creatorRef,
        versions: r.version,
        commitmentsDigest: commitmentsDigest(tx.stub, r.recordId, r.version),
      };
      putJson(tx.stub, key('rec', a.recordId), tombstone);
      for (let v = 1; v <= r.version; v++) tx.stub.deleteState(key('recv', a.recordId, pad(v, 6)));
      tx.stub.deleteState(key('rx', 'pp', r.patient, a.recordId));
      const auditId = writeAudit(tx, {
        op: 'record.erase',
        actor: tx.creator,
        patient: r.patient,
        recordId: r.recordId,
        custodian: r.custodian,
        version: r.version,
      });
      if (!byPatient) tx.notify(r.patient, { auditId, kind: 'erasure', actor: tx.creatorRef, recordId: r.recordId, applicationId: null });
      return json({ erased: tombstone, auditId });
    },
  ),

  getRecord: fn(
    'evaluate',
    'getRecord({recordId, purpose?}) → metadata (tombstone if erased) when the caller may read it; CIDs are released only by `access`',
    (tx, args) => {
      const a = parseArg(z.strictObject({ recordId: idSchema, purpose: accessRequestSchema.shape.purpose.default('TREAT') }), args);
      const r = tx.record(a.recordId);
      if (!r) throw new ContractError(`record ${a.recordId} does not exist`);
      if (isErased(r)) return json(r);
      const d = decide(tx.recordFacts(tx.creator, 'read', a.purpose, null, recordTarget(r, 'normal')));
      const self = tx.creatorPseudonym === r.patient;
      if (d.decision !== 'allow' && !self && !isStaffOf(tx, r.custodian)) throw new ContractError(`getRecord: not allowed — ${d.reasons.join('; ')}`);
      const { parts, ...meta } = r;
      return json({ ...meta, parts: parts.map((p) => ({ sensitivity: p.sensitivity, sizeBytes: p.sizeBytes, mediaType: p.mediaType })) });
    },
  ),

  listPatientRecords: fn(
    'evaluate',
    "listPatientRecords({patient, purpose?, reason?, pageSize?, bookmark?}) → {records, bookmark}: the patient's records the caller has a basis to read (metadata only)",
    (tx, args) => {
      const a = parseArg(
        z
          .strictObject({ patient: pseudonymSchema, purpose: accessRequestSchema.shape.purpose.default('TREAT'), reason: accessRequestSchema.shape.reason })
          .and(pageArgs),
        args,
      );
      const [start, end] = prefixRange('rx', 'pp', a.patient);
      if (a.bookmark !== '' && !(a.bookmark >= start && a.bookmark < end)) throw new ContractError('bookmark does not belong to this query');
      const page = tx.stub.getStateByRangeWithPagination(start, end, a.pageSize, a.bookmark);
      const out: unknown[] = [];
      const ids = page.results.map((kv) => kv.key.slice(kv.key.lastIndexOf(SEP) + 1));
      // A page of up to 200 records: their approvals in a few scans, not one each.
      tx.preloadApprovals(tx.creatorRef, 'r', ids);
      for (const id of ids) {
        const r = tx.liveRecord(id);
        const d = decide(tx.recordFacts(tx.creator, 'read', a.purpose, a.reason ?? null, recordTarget(r, 'normal')));
        if (d.decision === 'allow')
          out.push({
            recordId: r.recordId,
            category: r.category,
            sensitivity: r.sensitivity,
            version: r.version,
            custodian: r.custodian,
            updatedAtMs: r.updatedAtMs,
          });
      }
      return json({ records: out, bookmark: page.bookmark });
    },
  ),

  recordVersions: fn(
    'evaluate',
    'recordVersions({recordId, purpose?}) → the metadata of every version, for the patient, the custodian staff, or a reader of every part',
    (tx, args) => {
      const a = parseArg(z.strictObject({ recordId: idSchema, purpose: accessRequestSchema.shape.purpose.default('TREAT') }), args);
      const r = tx.liveRecord(a.recordId);
      const self = tx.creatorPseudonym === r.patient;
      const d = decide(tx.recordFacts(tx.creator, 'read', a.purpose, null, recordTarget(r)));
      if (!self && !isStaffOf(tx, r.custodian) && d.decision !== 'allow') throw new ContractError(`recordVersions: not allowed — ${d.reasons.join('; ')}`);
      const [start, end] = prefixRange('recv', a.recordId);
      // Metadata only: content addresses are released (and audited) by `access` with `version`.
      return json(
        tx.stub.getStateByRange(start, end).map((kv) => {
          const { parts, ...meta } = JSON.parse(Buffer.from(kv.value).toString('utf8')) as RecordEntry;
          return { ...meta, parts: parts.map((p) => ({ sensitivity: p.sensitivity, sizeBytes: p.sizeBytes, mediaType: p.mediaType })) };
        }),
      );
    },
  ),
};
