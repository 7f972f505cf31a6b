// The `health` system contract: records registry, care relations, consents, access applications,
// BMRS sessions, the audited `access` path, datasets and statistics — in ONE contract namespace,
// because the rule engine must see all of them in one transaction (a stub reads only its own
// contract's namespace) and a read's audit entry must be written by the very transaction that
// made the decision.
//
// Conventions:
//   - every function takes one argument: a JSON object checked by a zod schema (model.ts); a bad
//     argument is a ContractError (status 400, not endorsed) naming the field;
//   - a request the rule engine DENIES is not an error: the transaction commits the denial (audit
//     entry, and for a request the requester cannot honestly make the BMRS Violation and a
//     security alert) and returns {"allowed": false, …}. Otherwise a denied attempt would leave no
//     trace, and a Violation could never reach the dead state;
//   - who-may-do-what questions about health data are answered only by rules.ts decide().
//     Administrative acts (enrolment, care relations, consent, approvals, erasure) have their own
//     simple actor rules here, each stated next to its function.
//
// Each area's functions live in their own file (fn-*.ts); the helpers they share in
// contract-support.ts. This file is the one registry: the order here is the order of the
// functions in the contract.
import type { Contract, ContractFunction } from '../runtime.ts';
import { ROLES } from '../../identity/roles.ts';
import { HEALTH_CONTRACT } from './contract-support.ts';
import { enrolmentFunctions } from './fn-enrolment.ts';
import { careFunctions } from './fn-care.ts';
import { recordFunctions } from './fn-records.ts';
import { accessFunctions } from './fn-access.ts';
import { nodeKeyFunctions } from './fn-node-keys.ts';
import { consentFunctions } from './fn-consents.ts';
import { applicationFunctions } from './fn-applications.ts';
import { bmrsSessionFunctions } from './fn-bmrs-sessions.ts';
import { datasetFunctions } from './fn-datasets.ts';
import { datasetLifecycleFunctions } from './fn-dataset-lifecycle.ts';
import { auditFunctions } from './fn-audit.ts';

export { HEALTH_CONTRACT } from './contract-support.ts';

/**
 * The only functions a laboratory or a device may call (decision 1253); the rule engine then
 * narrows each call further. Everything else — consents, care, applications, datasets,
 * statistics, audit, enrolment — is refused to them by the endorsing peers' ACL (403 FORBIDDEN).
 * `config` and `nodeKey` are public configuration (no health data) a client needs to write.
 */
export const RESTRICTED_ROLE_FUNCTIONS: Readonly<Record<'laboratory' | 'device', readonly string[]>> = {
  laboratory: ['createRecord', 'updateRecord', 'access', 'getRecord', 'listPatientRecords', 'recordVersions', 'config', 'nodeKey'],
  device: ['createRecord', 'config', 'nodeKey'],
};

/** Every function open to all roles gets an explicit list without the restricted roles it does not grant. */
function restrictRoles(functions: Readonly<Record<string, ContractFunction>>): Readonly<Record<string, ContractFunction>> {
  const restricted = Object.keys(RESTRICTED_ROLE_FUNCTIONS) as Array<keyof typeof RESTRICTED_ROLE_FUNCTIONS>;
  const out: Record<string, ContractFunction> = {};
  for (const [name, def] of Object.entries(functions)) {
    if (def.roles) {
      out[name] = def;
      continue;
    }
    const roles = ROLES.filter(
      (role) => !(restricted as readonly string[]).includes(role) || RESTRICTED_ROLE_FUNCTIONS[role as 'laboratory' | 'device'].includes(name),
    );
    out[name] = { ...def, roles };
  }
  return out;
}

export const healthContract: Contract = {
  name: HEALTH_CONTRACT,
  version: '1.0',
  functions: restrictRoles({
    ...enrolmentFunctions,
    ...careFunctions,
    ...recordFunctions,
    ...accessFunctions,
    ...nodeKeyFunctions,
    ...consentFunctions,
    ...applicationFunctions,
    ...bmrsSessionFunctions,
    ...datasetFunctions,
    ...datasetLifecycleFunctions,
    ...auditFunctions,
  }),
};
