// Consents: the patient grants and revokes; a clinician finds their patients through their basis.
// Part of the health contract (contract.ts composes the areas).
import { z } from 'zod';
import { type ContractFunction, ContractError } from '../runtime.ts';
import { bmrsTakePermission } from './bmrs.ts';
import { consentResource } from './fhir.ts';
import { grantConsentArgs, idSchema, LIMITS, myPatientsArgs, pageArgs, pseudonymSchema, type CareRelation, type Consent, type MyPatient } from './model.ts';
import { ANY_ORG, endedConsentKey, getJson, granteeIndexKey, key, prefixRange, putJson, SEP, type AuditEntry, type RevocationMarker } from './state.ts';
import { granteeMatches } from './rules.ts';
import { parseArg, json, writeAudit, requirePatientSelf, fn } from './contract-support.ts';

export const consentFunctions: Readonly<Record<string, ContractFunction>> = {
  grantConsent: fn(
    'submit',
    'grantConsent({patient, grantee, actions, purposes, period, scope}) — the patient only',
    (tx, args) => {
      const a = parseArg(grantConsentArgs, args);
      requirePatientSelf(tx, a.patient, 'grantConsent');
      if (a.period.endMs <= tx.nowMs) throw new ContractError('grantConsent: the period has already ended');
      // Consents whose period ended leave the in-force index here, for the ended one (decision
      // 0911): they never allow anything again, and left in place they counted against the limit
      // and were read by every access check on the patient's data.
      let inForce = 0;
      for (const c of tx.consentsOf(a.patient)) {
        if (c.period.endMs > tx.nowMs) {
          inForce += 1;
          // A consent to an organisation or a role granted before those were indexed (decision
          // 0914) is indexed at the patient's next grant, so its grantees find the patient too.
          const indexKey = granteeIndexKey(c);
          if (c.grantee.kind !== 'user' && tx.stub.getState(indexKey) === undefined) tx.stub.putState(indexKey, new Uint8Array(0));
        } else {
          tx.stub.deleteState(key('cx', a.patient, c.consentId));
          tx.stub.putState(endedConsentKey(c), new Uint8Array(0));
          // Nor does it name its grantees any more: one key fewer for their myPatients to page past.
          tx.stub.deleteState(granteeIndexKey(c));
        }
      }
      if (inForce >= LIMITS.consentsActiveMax)
        throw new ContractError(`grantConsent: at most ${LIMITS.consentsActiveMax} consents in force (granted, not revoked, not ended); revoke some first`);
      const consentId = `c${tx.stub.getTxID().slice(0, 32)}`;
      // A new consent to a user the patient once revoked: acting on the patient's data is no
      // longer "after revocation" for them (decision 0901).
      if (a.grantee.kind === 'user' && tx.stub.getStateText(key('rv', a.patient, a.grantee.user)) !== undefined)
        tx.stub.deleteState(key('rv', a.patient, a.grantee.user));
      const consent: Consent = {
        consentId,
        patient: a.patient,
        grantee: a.grantee,
        actions: a.actions,
        purposes: a.purposes,
        period: a.period,
        scope: a.scope,
        status: 'active',
        grantedAtMs: tx.nowMs,
        revokedAtMs: null,
      };
      putJson(tx.stub, key('con', consentId), consent);
      tx.stub.putState(key('cx', a.patient, consentId), new Uint8Array(0));
      // The grantees' side of the consent (myPatients): whoever it names — a user, everyone at an
      // organisation, everyone with a role — finds the patient without being told a pseudonym out
      // of band (decisions 0909, 0914).
      tx.stub.putState(granteeIndexKey(consent), new Uint8Array(0));
      const auditId = writeAudit(tx, { op: 'consent.grant', actor: tx.creator, patient: a.patient, consentId });
      return json({ consent, auditId });
    },
    ['patient'],
  ),

  revokeConsent: fn(
    'submit',
    'revokeConsent({consentId}) — the patient only',
    (tx, args) => {
      const a = parseArg(z.strictObject({ consentId: idSchema }), args);
      const c = getJson<Consent>(tx.stub, key('con', a.consentId));
      if (!c) throw new ContractError(`consent ${a.consentId} does not exist`);
      requirePatientSelf(tx, c.patient, 'revokeConsent');
      if (c.status === 'revoked') throw new ContractError(`consent ${a.consentId} is already revoked`);
      putJson(tx.stub, key('con', a.consentId), { ...c, status: 'revoked', revokedAtMs: tx.nowMs });
      tx.stub.deleteState(key('cx', c.patient, a.consentId));
      tx.stub.deleteState(endedConsentKey(c));
      tx.stub.deleteState(granteeIndexKey(c));
      // A consent naming a user, their last one from this patient: remember the revocation (acting
      // on the data after it is a Violation) and take the permission back from their session —
      // Algorithm 1's state-2 Permission edge, "take permission" (2 → 1). Org and role grantees
      // name no session; a user who still holds another consent of this patient keeps it.
      let bmrs: AuditEntry['bmrs'] = null;
      const grantee = c.grantee.kind === 'user' ? c.grantee.user : null;
      const stillConsented =
        grantee !== null &&
        tx
          .consentsOf(c.patient)
          .some((o) => o.consentId !== a.consentId && o.grantee.kind === 'user' && o.grantee.user === grantee && o.period.endMs > tx.nowMs);
      if (grantee !== null && !stillConsented) {
        putJson(tx.stub, key('rv', c.patient, grantee), { consentId: a.consentId, revokedAtMs: tx.nowMs } satisfies RevocationMarker);
        const s = tx.session(grantee, c.patient);
        const run = bmrsTakePermission(s.state);
        if (run.to !== s.state) {
          tx.putSession({ ...s, state: run.to, updatedAtMs: tx.nowMs });
          bmrs = { from: run.from, to: run.to, actions: run.steps.map((x) => x.action) };
        }
      }
      return json({ auditId: writeAudit(tx, { op: 'consent.revoke', actor: tx.creator, patient: c.patient, consentId: a.consentId, bmrs }) });
    },
    ['patient'],
  ),

  listConsents: fn(
    'evaluate',
    "listConsents({patient}) — the patient's consents in force: granted, not revoked, their period not ended (or not begun) — the patient only; at most 100",
    (tx, args) => {
      const a = parseArg(z.strictObject({ patient: pseudonymSchema }), args);
      requirePatientSelf(tx, a.patient, 'listConsents');
      return json(tx.consentsOf(a.patient).filter((c) => c.period.endMs > tx.nowMs));
    },
  ),

  listEndedConsents: fn(
    'evaluate',
    "listEndedConsents({patient, pageSize?, bookmark?}) → {consents, bookmark} — the patient's consents whose period ended (not revoked), the latest ended first; the first page also holds those ended since the patient's last grant — the patient only",
    (tx, args) => {
      const a = parseArg(z.strictObject({ patient: pseudonymSchema }).and(pageArgs), args);
      requirePatientSelf(tx, a.patient, 'listEndedConsents');
      const [start, end] = prefixRange('cxe', a.patient);
      if (a.bookmark !== '' && !(a.bookmark >= start && a.bookmark < end)) throw new ContractError('bookmark does not belong to this query');
      // Ended since the last grant, still in the in-force index: later than every swept one.
      const recent =
        a.bookmark === ''
          ? tx
              .consentsOf(a.patient)
              .filter((c) => c.period.endMs <= tx.nowMs)
              .sort((x, y) => y.period.endMs - x.period.endMs || (x.consentId < y.consentId ? 1 : -1))
          : [];
      const page = tx.stub.getStateByRangeWithPagination(start, end, a.pageSize, a.bookmark, 'descending');
      const swept = page.results.map((kv) => {
        const id = kv.key.slice(kv.key.lastIndexOf(SEP) + 1);
        const c = getJson<Consent>(tx.stub, key('con', id));
        if (c === undefined) throw new ContractError(`ended-consent index names a missing consent ${id}`);
        return c;
      });
      return json({ consents: [...recent, ...swept], bookmark: page.bookmark });
    },
  ),

  // A clinician's starting point (the console's "find a patient"): the patients the caller has
  // a basis for — their active care relations and the unexpired consents naming them, as a user,
  // as someone at their organisation or as someone with their role (decision 0914). Only
  // pseudonyms: who a patient is stays at their hospital (decision 0906). Paged (decision 0909):
  // the care index keeps ended relations and the grantee indexes expired consents, so a fixed scan
  // of the first keys silently lost active patients once a clinician had had enough of them.
  myPatients: fn(
    'evaluate',
    "myPatients({pageSize?, bookmark?}) → {patients: [{patient, patientOrg, care, consents: [{consentId, grantee, actions, purposes, startMs, endMs, maxSensitivity}]}], bookmark} — the caller's active care relations, then the unexpired consents naming them, their organisation or their role (one not begun yet too: its startMs is ahead); a patient may appear on several pages (merge by patient)",
    (tx, args) => {
      const a = parseArg(myPatientsArgs, args);
      const me = tx.creator;
      // As the access rules see the caller: a consent is theirs by the rules' own test.
      const requester = { ...me, pseudonym: null };
      const byPatient = new Map<string, MyPatient>();
      const entry = (patient: string): MyPatient => {
        let e = byPatient.get(patient);
        if (!e) {
          e = { patient, patientOrg: tx.patientOrgOf(patient), care: null, consents: [] };
          byPatient.set(patient, e);
        }
        return e;
      };
      // The caller's care relations, then the consents to them, to their organisation, to their
      // role there and to their role anywhere: read in this order, each index a key range.
      const ranges: Array<[string, string]> = [
        prefixRange('care', tx.creatorRef),
        prefixRange('cg', tx.creatorRef),
        prefixRange('cgo', me.org),
        prefixRange('cgr', me.role, me.org),
        prefixRange('cgr', me.role, ANY_ORG),
      ];
      let from = 0;
      if (a.bookmark !== '') {
        from = ranges.findIndex(([start, end]) => a.bookmark >= start && a.bookmark < end);
        if (from < 0) throw new ContractError('bookmark does not belong to this query');
      }
      const done = (bookmark: string): string => json({ patients: [...byPatient.values()], bookmark });
      // Each call reads at most pageSize index keys in all.
      let budget = a.pageSize;
      for (let r = from; r < ranges.length; r++) {
        const [start, end] = ranges[r]!;
        const page = tx.stub.getStateByRangeWithPagination(start, end, budget, r === from ? a.bookmark : '');
        for (const kv of page.results) {
          if (r === 0) {
            const relation = JSON.parse(Buffer.from(kv.value).toString('utf8')) as CareRelation;
            if (relation.active) entry(relation.patient).care = { startedAtMs: relation.startedAtMs };
            continue;
          }
          const c = getJson<Consent>(tx.stub, key('con', kv.key.slice(kv.key.lastIndexOf(SEP) + 1)));
          if (!c || c.status !== 'active' || c.period.endMs <= tx.nowMs || !granteeMatches(c.grantee, requester)) continue;
          entry(c.patient).consents.push({
            consentId: c.consentId,
            grantee: c.grantee,
            actions: c.actions,
            purposes: c.purposes,
            // A consent may be granted ahead of its period: the grantee sees it now with the time it
            // opens access, not as a basis they already have (decision 0913).
            startMs: c.period.startMs,
            endMs: c.period.endMs,
            maxSensitivity: c.scope.maxSensitivity,
          });
        }
        budget -= page.results.length;
        if (page.bookmark !== '') return done(page.bookmark);
        // The next index starts on the next page when this one is full (its start is its bookmark).
        if (budget === 0) return done(r + 1 < ranges.length ? ranges[r + 1]![0] : '');
      }
      return done('');
    },
  ),

  exportConsent: fn('evaluate', 'exportConsent({consentId}) → a FHIR R4 Consent (the patient only)', (tx, args) => {
    const a = parseArg(z.strictObject({ consentId: idSchema }), args);
    const c = getJson<Consent>(tx.stub, key('con', a.consentId));
    if (!c) throw new ContractError(`consent ${a.consentId} does not exist`);
    requirePatientSelf(tx, c.patient, 'exportConsent');
    return json(consentResource(c, tx.nowMs));
  }),
};
