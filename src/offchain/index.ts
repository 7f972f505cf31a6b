export * from './cid.ts';
export * from './envelope.ts';
export * from './blobstore.ts';
