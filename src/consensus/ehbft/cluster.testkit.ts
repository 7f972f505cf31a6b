// The EH-BFT tests' cluster: the one in-process cluster (consensus/cluster.ts) with EH-BFT's test
// defaults — members n0…, real P-256 identities (cached per id: generating keys is the slow part),
// one seeded random source that both forks every engine's and picks the delivery order, and twins
// (a Byzantine identity running as two instances, `<id>` and `<id>'`).
import type { KeyPair } from '../../crypto/index.ts';
import { ehbftClusterConfig, type EhbftClusterSetup } from './cluster-config.ts';
import { Cluster as BaseCluster } from '../cluster.ts';
import type { EhbftEngine } from './engine.ts';
import type { EhbftMessage } from './messages.ts';

const keyCache = new Map<string, KeyPair>();

export class Cluster extends BaseCluster<EhbftEngine, EhbftMessage> {
  constructor(setup: EhbftClusterSetup) {
    super(ehbftClusterConfig(setup, keyCache));
  }

  get members(): readonly string[] {
    return this.ids;
  }

  run(ticks: number): void {
    this.tick(ticks);
  }
}
