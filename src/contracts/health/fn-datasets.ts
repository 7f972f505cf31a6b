// Datasets and statistics: the data market and federated statistics under disclosure control. Part
// of the health contract (contract.ts composes the areas).
import { z } from 'zod';
import { disclosureProblem, effectiveMinCohort, type HistogramSpec } from '../../analytics/aggregate.ts';
import { type ContractFunction, ContractError } from '../runtime.ts';
import { idSchema, LIMITS, registerDatasetArgs, statsRequestArgs, statsResultArgs, type Dataset, type Purpose } from './model.ts';
import { decide } from './rules.ts';
import { getJson, key, putJson } from './state.ts';
import { putDatasetVersion, refuseDeleted, refuseExpiredDataset } from './dataset-support.ts';
import { parseArg, json, writeAudit, isStaffOf, fn } from './contract-support.ts';

export const datasetFunctions: Readonly<Record<string, ContractFunction>> = {
  registerDataset: fn(
    'submit',
    "registerDataset({datasetId, name, description?, columns, cid, sizeBytes, recordCount, open?, minCohort?, queryBudget?}) — the creator's organisation owns it; minCohort (≥ the consortium floor) and queryBudget bound statistics over it",
    (tx, args) => {
      const { notAfterMs, ...a } = parseArg(registerDatasetArgs, args);
      refuseExpiredDataset(tx, a.datasetId, notAfterMs);
      if (tx.dataset(a.datasetId)) throw new ContractError(`dataset ${a.datasetId} already exists`);
      const ds: Dataset = {
        ...a,
        ownerOrg: tx.creator.org,
        registeredBy: tx.creatorRef,
        registeredAtMs: tx.nowMs,
        version: 1,
        status: 'listed',
        updatedAtMs: tx.nowMs,
        txId: tx.stub.getTxID(),
      };
      putJson(tx.stub, key('ds', a.datasetId), ds);
      putDatasetVersion(tx, ds);
      const auditId = writeAudit(tx, { op: 'dataset.register', actor: tx.creator, datasetId: a.datasetId, custodian: ds.ownerOrg, version: 1 });
      return json({ dataset: ds, auditId });
    },
    ['admin', 'supervisor'],
  ),

  setDatasetAccess: fn(
    'submit',
    "setDatasetAccess({datasetId, open}) — the owner organisation's admin/supervisor opens or closes the listing to applications",
    (tx, args) => {
      const a = parseArg(z.strictObject({ datasetId: idSchema, open: z.boolean() }), args);
      const ds = tx.dataset(a.datasetId);
      if (!ds) throw new ContractError(`dataset ${a.datasetId} does not exist`);
      if (!isStaffOf(tx, ds.ownerOrg)) throw new ContractError(`setDatasetAccess: only an admin or supervisor of ${ds.ownerOrg} may change it`);
      refuseDeleted(ds);
      putJson(tx.stub, key('ds', a.datasetId), { ...ds, open: a.open });
      const auditId = writeAudit(tx, {
        op: 'dataset.access',
        actor: tx.creator,
        datasetId: a.datasetId,
        custodian: ds.ownerOrg,
        reasons: [a.open ? 'opened to applications' : 'closed to applications'],
      });
      return json({ datasetId: a.datasetId, open: a.open, auditId });
    },
  ),

  requestStatistics: fn(
    'submit',
    "requestStatistics({datasetIds, variable, purpose, histogram, minCohort?}) — needs an approved application (statistics) and query budget left for every dataset; the threshold is max(consortium floor, the owners' minimums, minCohort)",
    (tx, args) => {
      const a = parseArg(statsRequestArgs, args);
      const requestId = `s${tx.stub.getTxID().slice(0, 32)}`;
      const datasets = a.datasetIds.map((datasetId) => ({
        datasetId,
        ds: tx.dataset(datasetId),
        d: decide(tx.datasetFacts(tx.creator, 'statistics', a.purpose, datasetId)),
      }));
      // A caller may raise the threshold, never lower it (decision 1163).
      const minCohort = effectiveMinCohort([a.minCohort, ...datasets.map((x) => x.ds?.minCohort)]);
      // The query budget: each answer is one more view of the same rows (differencing), so each
      // requester has a bounded number per dataset. Only requests the rules allow are counted.
      const budgets = datasets.map((x) => {
        const budget = x.ds?.queryBudget ?? LIMITS.statsQueryBudgetDefault;
        const used = getJson<{ used: number }>(tx.stub, key('sqb', x.datasetId, tx.creatorRef))?.used ?? 0;
        return { datasetId: x.datasetId, used, budget };
      });
      const refusals = datasets.map((x, i) => {
        if (x.d.decision === 'deny') return x.d.reasons;
        const b = budgets[i]!;
        return b.used >= b.budget
          ? [`query budget exhausted: ${tx.creatorRef} has made all ${b.budget} statistics requests its owner allows over this dataset`]
          : [];
      });
      const allowed = refusals.every((r) => r.length === 0);
      datasets.forEach((x, i) => {
        const refused = refusals[i]!;
        writeAudit(tx, {
          op: 'stats.request',
          actor: tx.creator,
          purpose: a.purpose,
          datasetId: x.datasetId,
          custodian: x.ds?.ownerOrg ?? null,
          decision: x.d,
          ...(refused.length && x.d.decision === 'allow' ? { outcome: 'deny' as const, reasons: refused } : {}),
        });
      });
      const reasons = datasets.flatMap((x, i) => (refusals[i]!.length ? [`dataset ${x.datasetId}: ${refusals[i]!.join('; ')}`] : []));
      if (allowed) for (const b of budgets) putJson(tx.stub, key('sqb', b.datasetId, tx.creatorRef), { used: b.used + 1 });
      const inputs = datasets.map((x) => ({ datasetId: x.datasetId, cid: x.ds?.cid ?? null, ownerOrg: x.ds?.ownerOrg ?? null }));
      const budgetsAfter = budgets.map((b) => ({ ...b, used: allowed ? b.used + 1 : b.used }));
      const request = {
        requestId,
        requester: tx.creatorRef,
        datasetIds: a.datasetIds,
        inputs,
        variable: a.variable,
        purpose: a.purpose,
        histogram: a.histogram,
        minCohort,
        requestedMinCohort: a.minCohort ?? null,
        budgets: budgetsAfter,
        status: allowed ? 'requested' : 'refused',
        reasons,
        requestedAtMs: tx.nowMs,
        result: null,
        completedAtMs: null,
      };
      putJson(tx.stub, key('st', requestId), request);
      return json({ allowed, requestId, reasons, minCohort, budgets: budgetsAfter, inputs: allowed ? inputs : [] });
    },
  ),

  recordStatisticsResult: fn(
    'submit',
    "recordStatisticsResult({requestId, result}) — the requester (or its node) records the combined result; refused unless it obeys the disclosure rule at the request's threshold",
    (tx, args) => {
      const a = parseArg(statsResultArgs, args);
      const st = getJson<{ requester: string; status: string; minCohort: number; histogram: HistogramSpec; datasetIds: string[]; purpose: Purpose }>(
        tx.stub,
        key('st', a.requestId),
      );
      if (!st) throw new ContractError(`statistics request ${a.requestId} does not exist`);
      const requesterOrg = st.requester.slice(0, st.requester.indexOf('/'));
      if (tx.creatorRef !== st.requester && !(tx.creator.org === requesterOrg && tx.creator.role === 'peer'))
        throw new ContractError('recordStatisticsResult: only the requester or its node may record the result');
      if (st.status !== 'requested') throw new ContractError(`statistics request ${a.requestId} is ${st.status}`);
      // Recomputed rather than trusted: a request stored before decision 1163 may carry a minCohort under the floor.
      const minCohort = effectiveMinCohort([st.minCohort, ...st.datasetIds.map((id) => tx.dataset(id)?.minCohort)]);
      const problem = disclosureProblem(a.result, { minCohort, spec: st.histogram });
      if (problem) throw new ContractError(`recordStatisticsResult: ${problem}`);
      putJson(tx.stub, key('st', a.requestId), { ...st, status: 'completed', result: a.result, completedAtMs: tx.nowMs });
      for (const datasetId of st.datasetIds) writeAudit(tx, { op: 'stats.result', actor: tx.creator, purpose: st.purpose, datasetId });
      return json({ requestId: a.requestId, status: 'completed' });
    },
  ),

  getStatistics: fn('evaluate', 'getStatistics({requestId}) — the request, its inputs and result', (tx, args) => {
    const a = parseArg(z.strictObject({ requestId: idSchema }), args);
    const st = getJson<{ requester: string }>(tx.stub, key('st', a.requestId));
    if (!st) throw new ContractError(`statistics request ${a.requestId} does not exist`);
    return json(st);
  }),
};
