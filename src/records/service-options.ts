// How a node's record service is configured, and what it reports about its served-read audit.
import { type HealthCaller } from './caller.ts';
import { type CsvLimits, type CsvSplitConfig } from './csv.ts';
import { type PreparedLimits } from './prepared.ts';
import { type SensitivityRule } from './sensitivity.ts';

export interface ServedReadAuditOptions {
  /** Who signs `recordReads` (default: this node's own identity). */
  readonly caller?: HealthCaller;
  /** How long a lone event may wait for company before it is flushed. */
  readonly flushMs?: number;
  /** Events per `recordReads` transaction (≤ the contract's 40). */
  readonly batchMax?: number;
  /** Pending events at which the node refuses to serve (fail closed). */
  readonly journalCapacity?: number;
  /** First retry delay after a failed flush; doubles per failure up to retryMaxMs. */
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
}

/** TypeScript's Partial (the name `Partial` is the analytics partial aggregate here). */
type Some<T> = { [K in keyof T]?: T[K] };

export interface RecordServiceOptions {
  /** Where blobs, keys, the KEK, the node's HPKE key and the served-read journal live (default: <node data dir>/records). */
  readonly dir?: string;
  readonly rules?: readonly SensitivityRule[];
  /** Column rules and row-key patterns for splitting CSV files (default DEFAULT_CSV_SPLIT; decision 1161). */
  readonly csvSplit?: CsvSplitConfig;
  /** Size limits of a CSV record (default CSV_LIMITS_DEFAULT). */
  readonly csvLimits?: Some<CsvLimits>;
  /** Bounds of prepared, not yet committed versions (default PREPARED_LIMITS_DEFAULT; decision 1160). */
  readonly preparedLimits?: Some<PreparedLimits>;
  /** Bounds of prepared, not yet registered datasets (default PREPARED_DATASET_LIMITS_DEFAULT). */
  readonly preparedDatasetLimits?: Some<PreparedLimits>;
  /** How often expired prepared versions and datasets are swept (default 60 s). */
  readonly preparedSweepMs?: number;
  /**
   * Record served cross-hospital reads in `recordReads` (the custodian's own audit), through a
   * durable journal (decision 1152). Default: on, signed by this node's identity. `false` turns
   * it off: reads are then audited only by the requester's `access` transaction.
   */
  readonly recordServedReads?: false | ServedReadAuditOptions;
  /** Signs this node's own transactions (its key publication; default audit caller). Default: the node certificate and key of its configuration. */
  readonly nodeCaller?: HealthCaller;
  /** Publish this node's HPKE key on chain at start-up when missing or changed (default true). */
  readonly publishNodeKey?: boolean;
}

export interface AuditBacklog {
  readonly enabled: boolean;
  readonly pending: number;
  readonly capacity: number;
  /** Consecutive failed flush attempts (0 after a success). */
  readonly failures: number;
  /** Events whose audit transaction committed since start. */
  readonly recorded: number;
}
