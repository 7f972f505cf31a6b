// Registers the 'gpbft' engine (paper 002's grouped two-layer PBFT). See engine.ts and
// docs/architecture/gpbft.md.
import { registerEngine } from '../registry.ts';
import { gpbftByzantine } from './byzantine.ts';
import { GpbftEngine, gpbftFaultsTolerated } from './engine.ts';
import type { GpbftMessage } from './messages.ts';
import { membershipStepOf } from './config.ts';

export { GpbftEngine, gpbftFaultsTolerated } from './engine.ts';
export { gpbftByzantine } from './byzantine.ts';
export { parseGpbftOptions, gpbftOptionsSchema, type GpbftOptions } from './options.ts';
export type { GpbftMessage } from './messages.ts';
export {
  CONTROL_CLIENT_PREFIX,
  MEMBERSHIP_CLIENT_ID,
  decodeControl,
  encodeControl,
  leaveSignedBytes,
  rateClientId,
  rateSignedBytes,
  ratingSignedBytesOf,
  RATING_SIGNED_FORM,
  type ControlOp,
  type RateOp,
  type RatingAuth,
  type RatingAuthority,
} from './config.ts';

registerEngine<GpbftMessage>({
  name: 'gpbft',
  faultModel: 'byzantine',
  nodesMin: 4,
  faultsTolerated: (nodes) => gpbftFaultsTolerated(nodes),
  create: (ctx) => new GpbftEngine(ctx),
  byzantine: gpbftByzantine,
  membershipStep: membershipStepOf,
});
