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
  });
  const me = node.msp.identify(certPem);
  return {
    user: `${me.org}/${me.id}`,
    async evaluate(fn, arg) {
      return parsePayload(await gateway.evaluate(HEALTH_CONTRACT, fn, [JSON.stringify(arg)], node.org), `${fn}`);
    },
    async submit(fn, arg) {
      let lastReason = '';
      // MVCC conflicts (two transactions on the same patient in one block) are expected under
      // concurrency: the contract re-decides on resubmission, so retrying is safe.
      for (let attempt = 1; attempt <= SUBMIT_ATTEMPTS_MAX; attempt++) {
        let r;
        try {
          r = await gateway.submit(HEALTH_CONTRACT, fn, [JSON.stringify(arg)]);
        } catch (err) {
          // Another organisation's peer may not have committed the previous block yet (it then
          // refuses, or answers differently): give it a moment. A genuine refusal repeats and is thrown.
          if (err instanceof GatewayError && (err.kind === 'ENDORSEMENT_MISMATCH' || err.kind === 'ENDORSEMENT_REFUSED') && attempt < SUBMIT_ATTEMPTS_MAX) {
            await new Promise((r) => setTimeout(r, STALE_PEER_WAIT_MS * attempt));
            continue;
          }
          throw err;
        }
        if (r.code === 'VALID') return { txId: r.txId, payload: parsePayload(r.payload, fn) as Record<string, unknown> };
        lastReason = `${r.code}${r.reason ? `: ${r.reason}` : ''}`;
        if (!r.code.includes('MVCC')) break;
      }
      throw new CallerError(`${fn} was not committed (${lastReason})`);
    },
  };
}
