export * from './model.ts';
export * from './bmrs.ts';
export * from './rules.ts';
export * from './state.ts';
export * from './fhir.ts';
export * from './contract.ts';
