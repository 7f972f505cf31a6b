export {
  MedLedgerClient,
  MedLedgerApiError,
  OutcomeUnknownError,
  CborRequestBody,
  type MedLedgerClientOptions,
  type PreparedTx,
  type SubmitBatchOptions,
  type SubmitOptions,
  type SubmitResult,
  type LedgerEvent,
} from './client.ts';
export type {
  StatusResponseT as NodeStatusJson,
  BlockResponseT as BlockJson,
  TxStatusT as TxStatusJson,
  BlockEventT,
  ContractEventT,
} from '../protocol/schemas.ts';
export {
  clientFromDir,
  consortiumEndpoints,
  consortiumIdOf,
  readConsortiumConfig,
  userCredentials,
  type NodeEndpoint,
  type UserCredentials,
} from './consortium.ts';
