// The contracts every MedLedger node installs. A contract is callable only if it is also defined
// (with its endorsement policy) in the consortium configuration.
import { ContractRegistry } from './runtime.ts';
import { assetsContract } from './samples/assets.ts';
import { healthContract } from './health/contract.ts';

export function builtinContracts(): ContractRegistry {
  return new ContractRegistry().register(assetsContract).register(healthContract);
}
