// The simulator's library API. Importing it registers every built-in engine.
import '../consensus/engines.ts';

export type {
  CampaignFailure,
  CampaignOptions,
  CampaignSummary,
  CheckerName,
  CryptoMode,
  FaultMode,
  MessageStats,
  NetworkOptions,
  SimMetrics,
  ScheduledFault,
  SimOptions,
  SimResult,
  Violation,
  WorkloadOptions,
} from './types.ts';
export { FAULT_MODES } from './types.ts';
export { runSimulation, planSimulation } from './simulator.ts';
export { runCampaign, CampaignAggregator, checkCampaignRange, CAMPAIGN_FAILURES_KEPT } from './campaign.ts';
export { SimOptionsError, resolveOptions, smallestTolerating } from './options.ts';
export { SimNetwork, DEFAULT_NETWORK, type NetworkConfig } from './network.ts';
export { planFaults, describeFault, type FaultAction, type TimedFault, type ByzantineBehaviour } from './faults.ts';
