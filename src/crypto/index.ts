export * from './ecdsa.ts';
export * from './x509.ts';
export * from './keyed-hash.ts';
