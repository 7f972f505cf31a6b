export * from './ecdsa.ts';
