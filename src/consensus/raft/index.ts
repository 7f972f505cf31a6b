// Registers the 'raft' engine. See raft.ts and docs/architecture/raft.md.
import { registerEngine } from '../registry.ts';
import { RaftEngine, verifyRaftCertificate } from './engine.ts';
import type { RaftMessage } from './messages.ts';

export { RaftEngine, verifyRaftCertificate, certificateBytes } from './engine.ts';
export type { RaftStatus, RaftRole, ConfChangeRequest, ConfChangeResult } from './engine.ts';
export type { RaftMessage, Entry, Snapshot, ConfState } from './messages.ts';
export { parseRaftOptions, type RaftOptions } from './options.ts';

registerEngine<RaftMessage>({
  name: 'raft',
  faultModel: 'crash',
  nodesMin: 1,
  faultsTolerated: (nodes) => Math.floor((nodes - 1) / 2),
  create: (ctx) => new RaftEngine(ctx),
  verifyCertificate: (block, _members, verifier) => verifyRaftCertificate(block, verifier),
});
