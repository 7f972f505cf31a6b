export * from './roles.ts';
export * from './ca.ts';
export * from './msp.ts';
export * from './policy.ts';
export * from './revocation.ts';
export * from './consortium.ts';
