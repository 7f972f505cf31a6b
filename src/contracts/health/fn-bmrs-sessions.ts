// BMRS sessions: the session state machine's queries and CAMS re-authorisation. Part of the health
// contract (contract.ts composes the areas).
import { type ContractFunction, ContractError } from '../runtime.ts';
import { BMRS_STATE_NAMES } from './bmrs.ts';
import { orgOf } from './model.ts';
import { type Session } from './state.ts';
import { parseArg, json, writeAudit, sessionArgs, sessionPatient, isStaffOf, fn } from './contract-support.ts';

export const bmrsSessionFunctions: Readonly<Record<string, ContractFunction>> = {
  bmrsSession: fn(
    'evaluate',
    "bmrsSession({provider, patient} | {provider, recordId}) → the session state (for the provider, the patient, CAMS admins, the provider's admins/supervisors)",
    (tx, args) => {
      const a = parseArg(sessionArgs, args);
      const patient = sessionPatient(tx, a);
      const cfg = tx.config();
      const c = tx.creator;
      const allowed =
        tx.creatorRef === a.provider ||
        (c.role === 'patient' && tx.creatorPseudonym === patient) ||
        (cfg !== undefined && c.org === cfg.camsOrg && c.role === 'admin') ||
        isStaffOf(tx, orgOf(a.provider));
      if (!allowed)
        throw new ContractError("bmrsSession: only the provider, the patient, CAMS admins and the provider's admins/supervisors may see this session");
      const s: Session = tx.session(a.provider, patient);
      return json({ ...s, stateName: BMRS_STATE_NAMES[s.state], reauthorizeBy: cfg?.camsOrg ?? null });
    },
  ),

  bmrsReauthorize: fn(
    'submit',
    'bmrsReauthorize({provider, patient} | {provider, recordId}) — CAMS (an admin of the configured CAMS organisation) revives a dead session into state 1',
    (tx, args) => {
      const a = parseArg(sessionArgs, args);
      const cfg = tx.config();
      if (!cfg) throw new ContractError('bmrsReauthorize: the contract is not initialized (no CAMS organisation)');
      if (tx.creator.org !== cfg.camsOrg || tx.creator.role !== 'admin')
        throw new ContractError(`bmrsReauthorize: only an admin of the CAMS organisation ${cfg.camsOrg} may re-authorize`);
      const patient = sessionPatient(tx, a);
      const s = tx.session(a.provider, patient);
      if (s.state !== 3)
        throw new ContractError(`bmrsReauthorize: the session of ${a.provider} is in state ${s.state} (${BMRS_STATE_NAMES[s.state]}), not dead`);
      tx.putSession({ ...s, state: 1, updatedAtMs: tx.nowMs });
      const auditId = writeAudit(tx, {
        op: 'bmrs.reauthorize',
        actor: tx.creator,
        patient,
        recordId: 'recordId' in a ? a.recordId : null,
        reasons: [`session of ${a.provider}: 3 → 1`],
      });
      return json({ auditId, provider: a.provider, patient, from: 3, state: 1, stateName: BMRS_STATE_NAMES[1] });
    },
    ['admin'],
  ),
};
