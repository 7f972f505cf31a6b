// How an EH-BFT in-process cluster (consensus/cluster.ts) is set up for the tests and the lab's
// quorum demonstration: members n0…, P-256 identities, one seeded random source that forks every
// engine's and picks the delivery order, optional twins and per-identity options.
import { ecdsaIdentities, type KeyPair } from '../../crypto/index.ts';
import type { ClusterConfig } from '../cluster.ts';
import { DEFAULT_CUTTER_CONFIG, type CutterConfig } from '../cutter.ts';
import { SeededRng } from '../rng.ts';
import './index.ts';

export interface EhbftClusterSetup {
  readonly nodes: number;
  readonly options?: Readonly<Record<string, unknown>>;
  readonly cutter?: CutterConfig;
  readonly seed?: number;
  /** Identities that run as two twin instances (`<id>` and `<id>'`). */
  readonly twins?: readonly string[];
  /** Options for single identities, merged over `options` (e.g. a leader that skips a check). */
  readonly nodeOptions?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export function ehbftClusterConfig(setup: EhbftClusterSetup, keys?: Map<string, KeyPair>): ClusterConfig {
  const ids = Array.from({ length: setup.nodes }, (_, i) => `n${i}`);
  const rng = new SeededRng(setup.seed ?? 1);
  return {
    engine: 'ehbft',
    ids,
    identities: ecdsaIdentities(ids, keys),
    cutter: setup.cutter ?? { ...DEFAULT_CUTTER_CONFIG, timeoutTicks: 1 },
    ...(setup.options ? { options: setup.options } : {}),
    ...(setup.nodeOptions ? { nodeOptions: setup.nodeOptions } : {}),
    ...(setup.twins ? { twins: setup.twins } : {}),
    rng: () => rng.fork(),
    order: rng,
  };
}
