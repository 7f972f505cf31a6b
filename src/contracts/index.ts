export * from './determinism.ts';
export * from '../ledger/keys.ts';
export * from './stub.ts';
export * from './runtime.ts';
