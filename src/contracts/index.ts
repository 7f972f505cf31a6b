export * from './determinism.ts';
export * from './keys.ts';
export * from './stub.ts';
export * from './runtime.ts';
