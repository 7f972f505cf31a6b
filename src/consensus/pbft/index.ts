// PBFT (Castro–Liskov) registered as consensus engine 'pbft'.
import { registerEngine } from '../registry.ts';
import { pbftByzantine } from './byzantine.ts';
import { faultsTolerated, verifyPbftCertificate } from './certificate.ts';
import { PbftEngine } from './engine.ts';
import type { PbftMessage } from './messages.ts';

export { PbftEngine, GENESIS_STATE_DIGEST, NULL_DIGEST, type PbftStats, type PbftInspection, type DropReason } from './engine.ts';
export { verifyPbftCertificate, quorumSize, faultsTolerated, PBFT_CERT_SCHEME } from './certificate.ts';
export { pbftByzantine } from './byzantine.ts';
export { parsePbftOptions, DEFAULT_PBFT_OPTIONS, type PbftOptions } from './options.ts';
export type * from './messages.ts';

registerEngine<PbftMessage>({
  name: 'pbft',
  faultModel: 'byzantine',
  nodesMin: 4,
  faultsTolerated,
  create: (ctx) => new PbftEngine(ctx),
  byzantine: pbftByzantine,
  verifyCertificate: (block, members, verifier) => block.certificate !== null && verifyPbftCertificate(block, block.certificate, verifier, members),
});
