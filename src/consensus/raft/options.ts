// Raft engine options (EngineContext.options), validated the way every engine's are
// (consensus/options.ts): unknown keys are an error.
import { z } from 'zod';
import { parseEngineOptions } from '../options.ts';

export const RaftOptionsSchema = z.strictObject({
  /** Base election timeout; each node waits a random number of ticks in [electionTicks, 2·electionTicks). */
  electionTicks: z.number().int().min(2).max(10_000).default(10),
  heartbeatTicks: z.number().int().min(1).max(10_000).default(1),
  /** Pre-vote (§9.6 of Ongaro's thesis): a partitioned node cannot raise the term by campaigning. */
  preVote: z.boolean().default(true),
  /** A leader that has not heard from a quorum for an election timeout steps down; followers in a lease ignore votes. */
  checkQuorum: z.boolean().default(true),
  maxEntriesPerAppend: z.number().int().min(1).max(10_000).default(64),
  maxAppendBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /** Appends in flight per follower in replicate state. */
  maxInflight: z.number().int().min(1).max(1024).default(16),
  /** Proposals a node holds for retry (submitted here, not yet decided). */
  pendingProposalsMax: z.number().int().min(1).max(1_000_000).default(10_000),
  /** The leader stops cutting blocks when this many entries are uncommitted (backpressure). */
  uncommittedEntriesMax: z.number().int().min(1).max(1_000_000).default(1024),
  /**
   * Cut a partial batch at once, without waiting for the cutter's timeout, while fewer than this
   * many entries are uncommitted (0: never; the cutter's count/bytes/timeout rules alone). With 1
   * a proposal to an idle leader is appended immediately, and proposals arriving while an entry is
   * being replicated wait for its commit and go out together in the next entry (natural batching,
   * as in etcd's raft loop): low latency when idle, large entries under load.
   */
  eagerCutUncommittedMax: z.number().int().min(0).max(1_000_000).default(0),
  /**
   * With eagerCutUncommittedMax: cut at once only while the last entry this leader cut held at most
   * this many proposals (0: no such limit). Light load gives small entries, so the leader stays
   * eager (low latency); once the arrivals of one round fill a larger entry it waits for the
   * cutter's count or timeout again (fewer, larger blocks at peak), until its entries are small
   * again (decision 1385).
   */
  eagerCutEntryProposalsMax: z.number().int().min(0).max(1_000_000).default(0),
  /**
   * false (the default, decision 1361): a hard state that changed only its commit/applied indexes
   * is not written on its own (no fsync before the decided entries are delivered); it goes to disk
   * with the next durable write, as in etcd. Raft keeps the commit index volatile (§5, Figure 2):
   * after a crash it is learned again from the leader, and entries above the persisted `applied`
   * are replayed / re-emitted (the application skips heights it already stored, ctx.appliedHeight).
   * Term and vote changes are always written before sending. true: written before delivery.
   */
  syncCommitIndex: z.boolean().default(false),
  /**
   * true (the default, decision 1405): a leader holds back the commit notice (raft/commit) of a
   * follower that has every entry, for the driver to send a short while later (flushNotices) — by
   * then, under any load, the next entry has carried the index and the notice is not sent at all.
   * At one request in flight that halves the messages a follower handles per round. A commit
   * that takes a configuration change is told at once (a removed member must still learn it).
   * false: every notice leaves in the Ready of the commit, as before.
   */
  holdCommitNotices: z.boolean().default(true),
  /** Take a snapshot and compact the log after this many applied entries (0: never). */
  snapshotEntries: z.number().int().min(0).max(10_000_000).default(1000),
  /** Re-route a submitted proposal that is still undecided after this many ticks. */
  proposalRetryTicks: z.number().int().min(1).max(1_000_000).default(30),
  /**
   * DELIBERATELY UNSAFE (for the simulator's checkers): commit by counting replicas of entries
   * of previous terms too, which Raft §5.4.2 (Figure 8) forbids.
   */
  unsafeCommitPreviousTerm: z.boolean().default(false),
});

export type RaftOptions = z.infer<typeof RaftOptionsSchema>;

export function parseRaftOptions(raw: unknown): RaftOptions {
  return parseEngineOptions('raft', RaftOptionsSchema, raw, (o) =>
    o.heartbeatTicks < o.electionTicks ? null : `heartbeatTicks (${o.heartbeatTicks}) must be below electionTicks (${o.electionTicks})`,
  );
}
