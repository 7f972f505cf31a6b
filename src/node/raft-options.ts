// The Raft options a node runs with, written into the genesis configuration by `medledger init`
// and taken by the ordering benchmark's orderers too (bench/ordering-node.ts), so the benchmark
// measures the engine as a node configures it.

/**
 * A node's Raft entry is a whole block (up to ~1 MB), and everything a node derives from a
 * transaction (its decoded form, verified signatures) lives as long as the log holds its bytes:
 * 500 entries let a node grow past 1.6 GB at 50,000 transactions; 64 keep it near 0.5 GB
 * (decision 1382). A follower further behind gets a snapshot and fetches the blocks.
 *
 * An idle leader cuts at once while its entries stay small (≤ 16 proposals): a lone transaction
 * commits in milliseconds, not after the cutter's 50–100 ms; under load it waits for the cutter
 * again and blocks stay large (decision 1385).
 */
export const NODE_RAFT_OPTIONS = {
  electionTicks: 10,
  heartbeatTicks: 1,
  snapshotEntries: 64,
  eagerCutUncommittedMax: 1,
  eagerCutEntryProposalsMax: 16,
} as const;
