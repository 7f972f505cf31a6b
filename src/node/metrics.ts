// A node's operational metrics in the Prometheus text format (prom-client), served by the API at
// GET /metrics for a scraper. One registry per node (tests run several nodes in one process). The
// metrics carry no health data and no identities: counts, durations, heights, roles, queue depths.
//
//   medledger_block_height                          gauge     last committed block on this node's peer
//   medledger_config_sequence                       gauge     consortium config in force
//   medledger_joining                               gauge     1 while a newly added node catches up
//   medledger_consensus_role{role}                  gauge     1 for the engine's current role
//   medledger_consensus_epoch                       gauge     Raft term / PBFT view / the engine's epoch
//   medledger_consensus_leader_known                gauge     1 when this node knows a leader/primary
//   medledger_consensus_leader_changes_total        counter   leader/primary changes seen by this node
//   medledger_consensus_epoch_changes_total         counter   term/view changes seen by this node
//   medledger_peer_connections                      gauge     live outbound links to other nodes
//   medledger_p2p_receive_pauses_total              counter   times a peer was over its receive budget (decision 1397)
//   medledger_orderer_pending_transactions          gauge     admitted, not yet in a block
//   medledger_blocks_committed_total                counter
//   medledger_transactions_committed_total{code}    counter   by validation code (VALID, MVCC_READ_CONFLICT…)
//   medledger_block_commit_seconds                  histogram validate + commit of one block
//   medledger_wal_fsync_seconds                     histogram the consensus WAL's fsync
//   medledger_endorsement_seconds                   histogram collecting endorsements for one proposal (API)
//   medledger_api_requests_total{route,status}      counter
//   medledger_api_request_seconds{route}            histogram
//   medledger_process_cpu_seconds_total{mode}       counter   CPU time of the process (user, system)
//   medledger_crypto_signs_total                    counter   ECDSA signatures made by the process
//   medledger_crypto_verifies_total                 counter   ECDSA verifications computed by the process
//   medledger_crypto_verify_cache_hits_total        counter   verifications answered by the verified-signature memo
// The last four are process-wide: nodes sharing one process (tests, in-process bench) report the same.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { cryptoCounters } from '../crypto/index.ts';

export interface MetricsSample {
  readonly height: number;
  readonly configSequence: number;
  readonly joining: boolean;
  readonly role: string | null;
  readonly epoch: number | null;
  readonly leaderKnown: boolean;
  readonly connectedPeers: number;
  readonly pendingTransactions: number;
  /** The transport's count of pauses of a peer over its receive budget. */
  readonly p2pReceivePauses: number;
}

/** Consensus roles engines report (EngineStatus.role); anything else is counted as 'other'. */
const ROLES = ['leader', 'follower', 'candidate', 'pre-candidate', 'learner', 'primary', 'backup', 'acceptor', 'verifier', 'generator', 'other'] as const;

const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class NodeMetrics {
  readonly registry = new Registry();
  readonly blocksCommitted: Counter;
  readonly transactionsCommitted: Counter<'code'>;
  readonly blockCommitSeconds: Histogram;
  readonly walFsyncSeconds: Histogram;
  readonly endorsementSeconds: Histogram;
  readonly leaderChanges: Counter;
  readonly epochChanges: Counter;
  readonly apiRequests: Counter<'route' | 'status'>;
  readonly apiRequestSeconds: Histogram<'route'>;

  constructor(sample: () => MetricsSample) {
    const r = this.registry;
    // A scrape reads the node's state once for every gauge below.
    let cached: { atMs: number; value: MetricsSample } | null = null;
    const now = (): MetricsSample => {
      const t = Date.now();
      if (!cached || t - cached.atMs > 100) cached = { atMs: t, value: sample() };
      return cached.value;
    };
    const gauge = (name: string, help: string, read: (s: MetricsSample) => number): void => {
      new Gauge({
        name,
        help,
        registers: [r],
        collect() {
          this.set(read(now()));
        },
      });
    };
    gauge('medledger_block_height', "Number of the last block committed by this node's peer", (s) => s.height);
    gauge('medledger_config_sequence', 'Sequence of the consortium configuration in force on this node (0 = genesis)', (s) => s.configSequence);
    gauge('medledger_joining', '1 while a newly added node catches up to the config update that admits it', (s) => (s.joining ? 1 : 0));
    gauge('medledger_consensus_epoch', "Raft term, PBFT view, or the engine's epoch (NaN without an orderer)", (s) => s.epoch ?? Number.NaN);
    gauge('medledger_consensus_leader_known', '1 when this node knows a leader or primary', (s) => (s.leaderKnown ? 1 : 0));
    gauge('medledger_peer_connections', 'Live outbound links to other nodes', (s) => s.connectedPeers);
    gauge('medledger_orderer_pending_transactions', 'Transactions admitted by this orderer and not yet in a block', (s) => s.pendingTransactions);
    new Gauge({
      name: 'medledger_consensus_role',
      help: '1 for the consensus role this node currently has (0 for the others)',
      labelNames: ['role'],
      registers: [r],
      collect() {
        const role = now().role;
        const current = role === null ? null : (ROLES as readonly string[]).includes(role) ? role : 'other';
        for (const x of ROLES) this.set({ role: x }, x === current ? 1 : 0);
      },
    });
    const processCounter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers: [r],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    new Counter({
      name: 'medledger_process_cpu_seconds_total',
      help: 'CPU time of this node process, user and system (process.cpuUsage)',
      labelNames: ['mode'],
      registers: [r],
      collect() {
        const u = process.cpuUsage();
        this.reset();
        this.inc({ mode: 'user' }, u.user / 1e6);
        this.inc({ mode: 'system' }, u.system / 1e6);
      },
    });
    // A count the node keeps (its transport's), read at each scrape like the process counters.
    processCounter(
      'medledger_p2p_receive_pauses_total',
      'Times reading from a peer was paused because it sent more than its receive budget (frames or bytes per second)',
      () => now().p2pReceivePauses,
    );
    processCounter('medledger_crypto_signs_total', 'ECDSA P-256 signatures made by this process', () => cryptoCounters().signs);
    processCounter('medledger_crypto_verifies_total', 'ECDSA P-256 verifications computed by this process', () => cryptoCounters().verifies);
    processCounter(
      'medledger_crypto_verify_cache_hits_total',
      'Verifications answered from the memo of signatures already verified in this process',
      () => cryptoCounters().verifyCacheHits,
    );
    this.blocksCommitted = new Counter({ name: 'medledger_blocks_committed_total', help: "Blocks committed by this node's peer", registers: [r] });
    this.transactionsCommitted = new Counter({
      name: 'medledger_transactions_committed_total',
      help: "Transactions committed by this node's peer, by validation code",
      labelNames: ['code'],
      registers: [r],
    });
    this.blockCommitSeconds = new Histogram({
      name: 'medledger_block_commit_seconds',
      help: 'Validating and committing one block',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [r],
    });
    this.walFsyncSeconds = new Histogram({
      name: 'medledger_wal_fsync_seconds',
      help: 'fsync of the consensus write-ahead log',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [r],
    });
    this.endorsementSeconds = new Histogram({
      name: 'medledger_endorsement_seconds',
      help: 'Collecting the endorsements one proposal needs (API)',
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [r],
    });
    this.leaderChanges = new Counter({ name: 'medledger_consensus_leader_changes_total', help: 'Leader or primary changes seen by this node', registers: [r] });
    this.epochChanges = new Counter({ name: 'medledger_consensus_epoch_changes_total', help: 'Term or view changes seen by this node', registers: [r] });
    this.apiRequests = new Counter({
      name: 'medledger_api_requests_total',
      help: 'API requests answered, by route pattern and HTTP status',
      labelNames: ['route', 'status'],
      registers: [r],
    });
    this.apiRequestSeconds = new Histogram({
      name: 'medledger_api_request_seconds',
      help: 'API request duration by route pattern',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [r],
    });
  }

  /** The text exposition format and its content type. */
  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
