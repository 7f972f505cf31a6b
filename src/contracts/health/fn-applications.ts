// Access applications (PHDMF): a data user applies, the owner decides. Part of the health contract
// (contract.ts composes the areas).
import { z } from 'zod';
import { type ContractFunction, ContractError } from '../runtime.ts';
import { applyArgs, idSchema, listApplicationsArgs, PSEUDONYM_RE, type Application } from './model.ts';
import { appliedKeyPart, getJson, key, pageIndex, putJson } from './state.ts';
import { parseArg, json, writeAudit, requirePatientSelf, applicantView, isErased, isStaffOf, fn } from './contract-support.ts';
import { DATASET_CODES, datasetError, refuseDeleted, statusOf } from './dataset-support.ts';

export const applicationFunctions: Readonly<Record<string, ContractFunction>> = {
  apply: fn('submit', 'apply({target, purpose, actions, period, maxSensitivity?}) — a data user applies; the owner decides', (tx, args) => {
    const a = parseArg(applyArgs, args);
    let owner: string;
    if (a.target.kind === 'record') {
      const r = tx.liveRecord(a.target.recordId);
      owner = r.patient;
    } else {
      const ds = tx.dataset(a.target.datasetId);
      if (!ds) throw datasetError(DATASET_CODES.notFound, `dataset ${a.target.datasetId} does not exist`);
      refuseDeleted(ds);
      if (statusOf(ds) === 'withdrawn')
        throw datasetError(DATASET_CODES.withdrawn, `dataset ${a.target.datasetId} is withdrawn from the market by its owner: it cannot be applied for`);
      if (!ds.open) throw new ContractError(`dataset ${a.target.datasetId} is closed to applications by its owner`);
      owner = ds.ownerOrg;
    }
    if (a.period.endMs <= tx.nowMs) throw new ContractError('apply: the period has already ended');
    const applicationId = `a${tx.stub.getTxID().slice(0, 32)}`;
    const app: Application = {
      applicationId,
      applicant: tx.creatorRef,
      applicantRole: tx.creator.role,
      target: a.target,
      owner,
      purpose: a.purpose,
      actions: a.actions,
      period: a.period,
      maxSensitivity: a.maxSensitivity,
      status: 'pending',
      appliedAtMs: tx.nowMs,
      decidedAtMs: null,
      decidedBy: null,
    };
    putJson(tx.stub, key('app', applicationId), app);
    tx.stub.putState(key('ax', 'owner', owner, appliedKeyPart(tx.nowMs), applicationId), new Uint8Array(0));
    tx.stub.putState(key('ax', 'applicant', tx.creatorRef, appliedKeyPart(tx.nowMs), applicationId), new Uint8Array(0));
    const isRecord = a.target.kind === 'record';
    const auditId = writeAudit(tx, {
      op: 'application.apply',
      actor: tx.creator,
      purpose: a.purpose,
      applicationId,
      patient: isRecord ? owner : null,
      recordId: a.target.kind === 'record' ? a.target.recordId : null,
      datasetId: a.target.kind === 'dataset' ? a.target.datasetId : null,
    });
    if (isRecord)
      tx.notify(owner, { auditId, kind: 'application', actor: tx.creatorRef, recordId: a.target.kind === 'record' ? a.target.recordId : null, applicationId });
    return json({ application: applicantView(app), auditId });
  }),

  decideApplication: fn(
    'submit',
    "decideApplication({applicationId, approve}) — the patient (records) or the owner organisation's admin/supervisor (datasets)",
    (tx, args) => {
      const a = parseArg(z.strictObject({ applicationId: idSchema, approve: z.boolean() }), args);
      const app = getJson<Application>(tx.stub, key('app', a.applicationId));
      if (!app) throw new ContractError(`application ${a.applicationId} does not exist`);
      if (app.target.kind === 'record') requirePatientSelf(tx, app.owner, 'decideApplication');
      else if (!isStaffOf(tx, app.owner)) throw new ContractError(`decideApplication: only an admin or supervisor of ${app.owner} may decide`);
      if (app.status !== 'pending') throw new ContractError(`application ${a.applicationId} is already ${app.status}`);
      // Approving after the period asked for would grant nothing (the rules count an approval only
      // within it); a denial stays possible, to close the request.
      if (a.approve && app.period.endMs <= tx.nowMs)
        throw new ContractError(
          `application ${a.applicationId} asked for a period that has ended (${new Date(app.period.endMs).toISOString()}): approving it would grant nothing; the applicant may apply again`,
        );
      // Nor on a record erased meanwhile: its content is gone, the approval would open nothing.
      if (a.approve && app.target.kind === 'record') {
        const r = tx.record(app.target.recordId);
        if (r === undefined || isErased(r))
          throw new ContractError(`record ${app.target.recordId} was erased: approving application ${a.applicationId} would grant nothing; deny it`);
      }
      // No new permission on a listing its owner took off the market or deleted (decision 1260); denying stays possible.
      if (a.approve && app.target.kind === 'dataset') {
        const ds = tx.dataset(app.target.datasetId);
        if (ds) refuseDeleted(ds);
        if (ds && statusOf(ds) === 'withdrawn')
          throw datasetError(DATASET_CODES.withdrawn, `dataset ${ds.datasetId} is withdrawn: reopen it before approving applications for it`);
      }
      const decided: Application = {
        ...app,
        status: a.approve ? 'approved' : 'denied',
        decidedAtMs: tx.nowMs,
        decidedBy: app.target.kind === 'record' ? `${tx.creator.org}/patient` : tx.creatorRef,
      };
      putJson(tx.stub, key('app', a.applicationId), decided);
      if (a.approve) {
        const [kind, id] = app.target.kind === 'record' ? (['r', app.target.recordId] as const) : (['d', app.target.datasetId] as const);
        tx.stub.putState(key('perm', app.applicant, kind, id, app.applicationId), new Uint8Array(0));
      }
      const auditId = writeAudit(tx, {
        op: a.approve ? 'application.approve' : 'application.deny',
        actor: tx.creator,
        purpose: app.purpose,
        applicationId: app.applicationId,
        patient: app.target.kind === 'record' ? app.owner : null,
        recordId: app.target.kind === 'record' ? app.target.recordId : null,
        datasetId: app.target.kind === 'dataset' ? app.target.datasetId : null,
      });
      return json({ application: decided, auditId });
    },
  ),

  listApplications: fn(
    'evaluate',
    'listApplications({owner} | {applicant}, status?: pending|approved|denied, order?: oldest|newest, pageSize?, bookmark?) → {applications, bookmark} — for the owner (patient / org staff) or the applicant',
    (tx, args) => {
      const a = parseArg(listApplicationsArgs, args);
      let parts: string[];
      if (a.owner !== undefined) {
        const allowed = PSEUDONYM_RE.test(a.owner) ? tx.creatorPseudonym === a.owner : isStaffOf(tx, a.owner);
        if (!allowed) throw new ContractError('listApplications: only the owner may list applications addressed to it');
        parts = ['ax', 'owner', a.owner];
      } else {
        if (a.applicant !== tx.creatorRef) throw new ContractError('listApplications: applicants may list only their own applications');
        parts = ['ax', 'applicant', a.applicant];
      }
      // A page reads at most pageSize index entries; with a status filter it may hold fewer
      // matches (even none) and still carry a bookmark — as listDatasets does.
      const page = pageIndex(tx.stub, parts, a.pageSize, a.bookmark, a.order === 'newest' ? 'descending' : 'ascending');
      const apps: Application[] = [];
      for (const id of page.ids) {
        const app = getJson<Application>(tx.stub, key('app', id));
        if (app === undefined) throw new ContractError(`application index names a missing application ${id}`);
        if (a.status === undefined || app.status === a.status) apps.push(app);
      }
      return json({ applications: a.owner !== undefined ? apps : apps.map(applicantView), bookmark: page.bookmark });
    },
  ),
};
