// How the record service talks to the health contract *as a user*: every on-chain step (create,
// access, erase, statistics) is a transaction signed by the user's own key, so the contract's
// decision is about that user, never about the node. Two implementations: a Gateway over the
// node's endorsers (tests, demo seeding, CLI with the user's key) and any client that can submit
// signed proposals (the SDK over REST, sdk/health.ts).
import type { Bytes } from '../codec/index.ts';
import { HEALTH_CONTRACT } from '../contracts/health/index.ts';
import { Gateway, GatewayError } from '../node/gateway.ts';
import type { MedLedgerNode } from '../node/node.ts';

export interface SubmitOutcome {
  readonly txId: string;
  readonly payload: Record<string, unknown>;
}

export interface HealthCaller {
  /** "org/commonName" of the user whose key signs. */
  readonly user: string;
  evaluate(fn: string, arg: unknown): Promise<unknown>;
  submit(fn: string, arg: unknown): Promise<SubmitOutcome>;
}

export class CallerError extends Error {
  override readonly name = 'CallerError';
}

const SUBMIT_ATTEMPTS_MAX = 4;
const STALE_PEER_WAIT_MS = 150;
/**
 * Validation codes after which the same call may be proposed again: the state it read — a key
 * (MVCC) or a range such as the patient's consents (PHANTOM) — changed before the commit, so
 * nothing of it took effect and the contract re-decides on the new state. (The SDK's list.)
 */
export const RESUBMITTABLE_CODES: ReadonlySet<string> = new Set(['MVCC_READ_CONFLICT', 'PHANTOM_READ_CONFLICT']);

/** What one submission attempt reports (the Gateway's SubmitResult, as far as the retry needs it). */
export interface SubmitAttempt {
  readonly txId: string;
  readonly code: string;
  readonly reason?: string;
  readonly payload: Bytes;
}

/**
 * Submit with the retries that are safe: a read conflict (RESUBMITTABLE_CODES) is proposed again;
 * an endorsement-phase refusal or mismatch (another organisation's peer a block behind — nothing
 * was ordered) is retried after a short wait. A genuine refusal repeats and is thrown; any other
 * validation code is final.
 */
export async function submitWithResubmission(
  fn: string,
  attempt: () => Promise<SubmitAttempt>,
  waitMs: (attempt: number) => number = (n) => STALE_PEER_WAIT_MS * n,
): Promise<SubmitOutcome> {
  let lastReason = '';
  for (let n = 1; n <= SUBMIT_ATTEMPTS_MAX; n++) {
    let r: SubmitAttempt;
    try {
      r = await attempt();
    } catch (err) {
      if (err instanceof GatewayError && (err.kind === 'ENDORSEMENT_MISMATCH' || err.kind === 'ENDORSEMENT_REFUSED') && n < SUBMIT_ATTEMPTS_MAX) {
        await new Promise((res) => setTimeout(res, waitMs(n)));
        continue;
      }
      throw err;
    }
    if (r.code === 'VALID') return { txId: r.txId, payload: parsePayload(r.payload, fn) as Record<string, unknown> };
    lastReason = `${r.code}${r.reason ? `: ${r.reason}` : ''}`;
    if (!RESUBMITTABLE_CODES.has(r.code)) break;
  }
  throw new CallerError(`${fn} was not committed (${lastReason})`);
}

function parsePayload(bytes: Bytes, what: string): unknown {
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new CallerError(`${what}: the contract answered with non-JSON ${JSON.stringify(text.slice(0, 80))}`);
  }
}

/** A caller that signs with `certPem`/`keyPem` and uses `node`'s endorsers, orderer and peer. */
export function gatewayCaller(node: MedLedgerNode, certPem: string, keyPem: string, commitTimeoutMs = 20_000): HealthCaller {
  const gateway = new Gateway({
    certPem,
    keyPem,
    msp: node.msp,
    policies: node.policies(),
    endorsers: node.endorsers(),
    orderer: { broadcast: async (p) => node.broadcast(p.data) },
    commits: node,
    commitTimeoutMs,
    consortium: node.genesisHashHex,
  });
  const me = node.msp.identify(certPem);
  return {
    user: `${me.org}/${me.id}`,
    async evaluate(fn, arg) {
      return parsePayload(await gateway.evaluate(HEALTH_CONTRACT, fn, [JSON.stringify(arg)], node.org), `${fn}`);
    },
    submit(fn, arg) {
      return submitWithResubmission(fn, () => gateway.submit(HEALTH_CONTRACT, fn, [JSON.stringify(arg)]));
    },
  };
}
