// Configuration and enrolment: the contract's one-time setup and patients registered by pseudonym
// (decision 0906). Part of the health contract (contract.ts composes the areas).
import { z } from 'zod';
import { type ContractFunction, ContractError } from '../runtime.ts';
import { orgSchema, pseudonymSchema } from './model.ts';
import { key, putJson, type Config, type Enrolment } from './state.ts';
import { parseArg, json, writeAudit, fn } from './contract-support.ts';

export const enrolmentFunctions: Readonly<Record<string, ContractFunction>> = {
  initialize: fn(
    'submit',
    'initialize({camsOrg}) — once; names the organisation acting as BMRS CAMS',
    (tx, args) => {
      const a = parseArg(z.strictObject({ camsOrg: orgSchema }), args);
      if (tx.config()) throw new ContractError('the health contract is already initialized');
      const cfg: Config = { camsOrg: a.camsOrg, initializedAtMs: tx.nowMs, initializedBy: tx.creatorRef };
      putJson(tx.stub, 'cfg', cfg);
      return json(cfg);
    },
    ['admin'],
  ),

  config: fn('evaluate', 'config() → the contract configuration', (tx) => json(tx.config() ?? null)),

  // Decision 0906: the chain learns only that this pseudonym is a patient of the admin's
  // hospital. Who the patient is stays at that hospital; the patient's certificate, issued by
  // its CA to the pseudonym, is what lets them act as its owner.
  enrolPatient: fn(
    'submit',
    'enrolPatient({pseudonym}) — an admin registers a patient pseudonym of their own hospital (no user id goes on chain)',
    (tx, args) => {
      const a = parseArg(z.strictObject({ pseudonym: pseudonymSchema }), args);
      const enrolledBy = tx.patientOrgOf(a.pseudonym);
      if (enrolledBy !== null)
        throw new ContractError(`enrolPatient: this pseudonym is already enrolled${enrolledBy === tx.creator.org ? '' : ' by another hospital'}`);
      const enrolment: Enrolment = { org: tx.creator.org, enrolledAtMs: tx.nowMs };
      putJson(tx.stub, key('pt', 'pp', a.pseudonym), enrolment);
      const auditId = writeAudit(tx, { op: 'patient.enrol', actor: tx.creator, patient: a.pseudonym });
      return json({ auditId });
    },
    ['admin'],
  ),
};
