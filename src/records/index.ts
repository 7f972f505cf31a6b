export * from './caller.ts';
export * from './keystore.ts';
export * from './sensitivity.ts';
export * from './service.ts';
export * from './pseudonym.ts';
export * from './nodekey.ts';
export * from './readjournal.ts';
