// Test support: run the health contract through the real runtime (invoke: determinism guard, stub,
// read/write sets) against a real SQLite world state, committing each successful submit as its
// own block — the execute and commit halves of the ledger without ordering or endorsement.
import { rawCid, sha256, toHex, utf8 } from '../../codec/index.ts';
import { StateDb } from '../../ledger/state.ts';
import { invoke, STATUS_OK, type Contract } from '../runtime.ts';
import { healthContract } from './contract.ts';
import type { Part, Sensitivity } from './model.ts';

export interface CallResult {
  readonly status: number;
  readonly message: string;
  readonly text: string;
  /** Parsed JSON payload (undefined when the call failed). */
  readonly body: unknown;
}

export class TestChain {
  readonly db = new StateDb(':memory:');
  height = 0;
  nowMs: number;
  /** The txId of the latest call (a submitted access's ticket is keyed by it). */
  lastTxId = '';
  private seq = 0;

  constructor(
    startMs = Date.UTC(2026, 0, 1),
    readonly contract: Contract = healthContract,
  ) {
    this.nowMs = startMs;
    this.db.applyBlock({ number: 0, blockHash: new Uint8Array(32), writes: [], txIndex: [] });
  }

  private call(kind: 'submit' | 'evaluate', who: string, fn: string, arg: unknown, atMs?: number): CallResult {
    const [org, rest] = who.split('/') as [string, string];
    const [id, role] = rest.split(':') as [string, string];
    const def = this.contract.functions[fn];
    if (!def) throw new Error(`no function ${fn}`);
    if (def.kind !== kind) throw new Error(`${fn} is ${def.kind}, called as ${kind}`);
    if (def.roles && !def.roles.includes(role)) return { status: 403, message: `ACL: role ${role} may not call ${fn}`, text: '', body: undefined };
    const txId = toHex(sha256(`tx-${++this.seq}`));
    this.lastTxId = txId;
    const r = invoke({
      contract: this.contract,
      fn,
      args: [typeof arg === 'string' ? arg : JSON.stringify(arg)],
      txId,
      timestampMs: atMs ?? this.nowMs,
      creator: { org, id, role, certPem: 'PEM' },
      state: this.db,
    });
    const text = Buffer.from(r.result.payload).toString('utf8');
    if (r.result.status === STATUS_OK && kind === 'submit') {
      // Each block one millisecond after the last, so audit entries (ordered by time) keep tx order.
      if (atMs === undefined) this.nowMs += 1;
      this.height += 1;
      this.db.applyBlock({
        number: this.height,
        blockHash: sha256(`block-${this.height}`),
        writes: r.rwset.namespaces.flatMap((ns) => ns.writes.map((w) => ({ ns: ns.namespace, key: w.key, isDelete: w.isDelete, value: w.value, tx: 0 }))),
        txIndex: [],
      });
    }
    return { status: r.result.status, message: r.result.message, text, body: r.result.status === STATUS_OK && text !== '' ? JSON.parse(text) : undefined };
  }

  /** who = "Org/id:role". Throws unless the call succeeded (status 200). */
  submit<T = Record<string, unknown>>(who: string, fn: string, arg: unknown, atMs?: number): T {
    const r = this.call('submit', who, fn, arg, atMs);
    if (r.status !== STATUS_OK) throw new Error(`${fn} by ${who} failed (${r.status}): ${r.message}`);
    return r.body as T;
  }

  evaluate<T = unknown>(who: string, fn: string, arg: unknown, atMs?: number): T {
    const r = this.call('evaluate', who, fn, arg, atMs);
    if (r.status !== STATUS_OK) throw new Error(`${fn} by ${who} failed (${r.status}): ${r.message}`);
    return r.body as T;
  }

  /** The raw outcome, for tests that expect a refusal. */
  try(kind: 'submit' | 'evaluate', who: string, fn: string, arg: unknown, atMs?: number): CallResult {
    return this.call(kind, who, fn, arg, atMs);
  }

  /** Every (key, value text) in the contract's namespace. */
  dump(ns = 'health'): Array<{ key: string; value: string }> {
    const rows = this.db.range(ns, '', '', 1_000_000);
    return rows.map((r) => ({ key: r.key, value: Buffer.from(r.value).toString('utf8') }));
  }

  close(): void {
    this.db.close();
  }
}

export function pseudonymFor(label: string): string {
  return toHex(sha256(`pseudonym:${label}`));
}

export function partFor(label: string, sensitivity: Sensitivity): Part {
  const bytes = utf8(`ciphertext of ${label}/${sensitivity}`);
  return {
    sensitivity,
    cid: rawCid(bytes).toString(),
    sizeBytes: bytes.byteLength,
    mediaType: 'application/fhir+json',
    commitment: toHex(sha256(`commitment:${label}/${sensitivity}`)),
  };
}

export const HOUR_MS = 3600_000;
export const DAY_MS = 24 * HOUR_MS;
