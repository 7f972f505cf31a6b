export * from './engine.ts';
export * from './digest.ts';
export * from './rng.ts';
export * from './cutter.ts';
export * from './dedup.ts';
export * from './memory-storage.ts';
export * from './ready-queue.ts';
