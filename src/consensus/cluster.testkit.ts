// The generic in-process cluster's test defaults (cluster.ts), shared by the tests that run every
// engine alike: members n0…, keyed-hash identities (cheap, as the simulator's 'fast' crypto), an
// immediate cutter, one seeded random source per identity and restart.
import { keyedHashIdentities } from '../crypto/index.ts';
import type { ClusterConfig } from './cluster.ts';
import { DEFAULT_CUTTER_CONFIG } from './cutter.ts';
import { SeededRng } from './rng.ts';
import './engines.ts';

/** Every shipped engine with the cluster size its generic tests use (the smallest that shows it working). */
export const ENGINE_TEST_SIZES = [
  ['solo', 1],
  ['raft', 3],
  ['pbft', 4],
  ['gpbft', 4],
  ['ehbft', 4],
  ['hashgen', 4],
  ['hashgen-bft', 4],
] as const;

export function clusterConfig(engine: string, n: number, extra: Partial<ClusterConfig> = {}): ClusterConfig {
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  return {
    engine,
    ids,
    identities: keyedHashIdentities(ids),
    cutter: { ...DEFAULT_CUTTER_CONFIG, timeoutTicks: 1 },
    rng: (inst) => new SeededRng(ids.indexOf(inst.identity) + 1 + 100 * inst.restarts),
    ...extra,
  };
}
