export * from './codec.ts';
export * from './nesting.ts';
