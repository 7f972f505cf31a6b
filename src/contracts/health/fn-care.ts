// Care relations: who starts and ends a doctor's care of a patient (decision 0903). Part of the
// health contract (contract.ts composes the areas).
import { z } from 'zod';
import { type ContractFunction, ContractError } from '../runtime.ts';
import { orgOf, pseudonymSchema, userSchema, type CareRelation } from './model.ts';
import { getJson, key, putJson } from './state.ts';
import { parseArg, json, writeAudit, isStaffOf, fn } from './contract-support.ts';

export const careFunctions: Readonly<Record<string, ContractFunction>> = {
  // A care relation lets a doctor read and write the patient's records: it is a decision about
  // who may see the patient's data, so it is the patient's (any doctor, any hospital) or, as
  // an admission, their own hospital's for one of its own doctors (decision 0903). The
  // doctor's hospital cannot bring another hospital's patient into its care: that would be a
  // consent under another name.
  startCare: fn(
    'submit',
    "startCare({doctor, patient}) — by the patient, or by an admin or supervisor of the patient's own hospital for one of its doctors",
    (tx, args) => {
      const a = parseArg(z.strictObject({ doctor: userSchema, patient: pseudonymSchema }), args);
      const patientOrg = tx.patientOrgOf(a.patient);
      if (patientOrg === null) throw new ContractError('startCare: no patient is enrolled under this pseudonym');
      const doctorOrg = orgOf(a.doctor);
      const byPatient = tx.creatorPseudonym === a.patient;
      if (!byPatient && !(isStaffOf(tx, patientOrg) && doctorOrg === patientOrg)) {
        throw new ContractError(
          `startCare: a care relation is started by the patient, or by an admin or supervisor of the patient's own hospital for one of its own doctors — not by ${tx.creator.role} of ${tx.creator.org} for ${a.doctor}`,
        );
      }
      const k = key('care', a.doctor, a.patient);
      const existing = getJson<CareRelation>(tx.stub, k);
      if (existing?.active) throw new ContractError(`startCare: ${a.doctor} already cares for this patient`);
      const relation: CareRelation = {
        doctor: a.doctor,
        patient: a.patient,
        active: true,
        startedAtMs: tx.nowMs,
        startedBy: tx.creatorRef,
        startedByPatient: byPatient,
        endedAtMs: null,
        endedBy: null,
      };
      putJson(tx.stub, k, relation);
      const auditId = writeAudit(tx, { op: 'care.start', actor: tx.creator, patient: a.patient });
      if (!byPatient) tx.notify(a.patient, { auditId, kind: 'care', actor: tx.creatorRef, recordId: null, applicationId: null });
      return json({ auditId });
    },
  ),

  // Ending a relation only takes access away, so more parties may: the patient, the doctor,
  // staff of the doctor's hospital (withdrawing its doctor) and of the patient's own hospital.
  endCare: fn(
    'submit',
    "endCare({doctor, patient}) — by the patient, the doctor, or an admin or supervisor of the doctor's or the patient's hospital",
    (tx, args) => {
      const a = parseArg(z.strictObject({ doctor: userSchema, patient: pseudonymSchema }), args);
      const doctorOrg = orgOf(a.doctor);
      const patientOrg = tx.patientOrgOf(a.patient);
      const byPatient = tx.creatorPseudonym === a.patient;
      if (!byPatient && !isStaffOf(tx, doctorOrg) && !(patientOrg !== null && isStaffOf(tx, patientOrg)) && tx.creatorRef !== a.doctor) {
        throw new ContractError(
          "endCare: only the patient, the doctor, or an admin or supervisor of the doctor's or the patient's hospital may end this care relation",
        );
      }
      const k = key('care', a.doctor, a.patient);
      const existing = getJson<Record<string, unknown> & { active: boolean }>(tx.stub, k);
      if (!existing?.active) throw new ContractError(`endCare: ${a.doctor} has no active care relation with this patient`);
      putJson(tx.stub, k, { ...existing, active: false, endedAtMs: tx.nowMs, endedBy: tx.creatorRef });
      return json({ auditId: writeAudit(tx, { op: 'care.end', actor: tx.creator, patient: a.patient }) });
    },
  ),
};
