// Registers the EH-BFT engine ('ehbft'). Options: see ./options.ts (quorum: 'paper' | 'safe').
import { registerEngine } from '../registry.ts';
import { ehbftByzantine } from './byzantine.ts';
import { EhbftEngine, verifyEhbftCertificate } from './engine.ts';
import type { EhbftMessage } from './messages.ts';
import { faultsTolerated } from './quorum.ts';

export { EhbftEngine, CERT_SCHEME, verifyEhbftCertificate } from './engine.ts';
export type { EhbftStats } from './engine.ts';
export type { EhbftMessage } from './messages.ts';
export { parseEhbftOptions, DEFAULT_EHBFT_OPTIONS } from './options.ts';
export type { EhbftOptions } from './options.ts';
export { ehbftByzantine } from './byzantine.ts';
export { defaultRecordKey } from './records.ts';
export { sliceFormula, sliceSchedule, quorumSize } from './quorum.ts';

registerEngine<EhbftMessage>({
  name: 'ehbft',
  faultModel: 'byzantine',
  nodesMin: 1,
  // Under the default 'safe' quorums; with quorum: 'paper' Byzantine faults are NOT tolerated
  // (see docs/decisions/0702-ehbft-paper-vs-safe-quorum.md).
  faultsTolerated,
  create: (ctx) => new EhbftEngine(ctx),
  byzantine: ehbftByzantine,
  verifyCertificate: verifyEhbftCertificate,
});
