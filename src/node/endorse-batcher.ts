// Endorsement requests to one remote peer, coalesced (issue 13). A gateway endorsing a batch of
// proposals (POST /v1/endorse/batch, or many clients at once) asks each remote endorser once per
// proposal; each ask was one transport request — a frame, a TLS record, a timer and a pending
// entry on each side. The batcher gathers the asks made in one turn of the event loop and sends
// them as one `endorse-batch` request of up to ENDORSE_BATCH_MAX signed proposals; the remote node
// endorses each independently and answers one result per proposal, in order.
//
// Semantics per proposal stay those of a single request: a result is the peer's ProposalResponse;
// a proposal the remote could not handle, or a batch that failed as a whole (timeout, peer down),
// rejects that proposal's promise like a failed request, so the gateway's spare-endorser logic is
// unchanged. A remote node that does not know the channel (an older version during a rolling
// upgrade) is asked one proposal per request from then on.
import { z } from 'zod';
import { decode, encode, type Bytes } from '../codec/index.ts';
import { encodeSignedProposal, type SignedProposal } from '../ledger/tx.ts';
import type { ProposalResponse } from './peer.ts';

/** Signed proposals per `endorse-batch` request (the API's batch endorse takes 64 too). */
export const ENDORSE_BATCH_MAX = 64;
/** Asks waiting for their batch to leave, per remote node: callers beyond it are refused at once. */
export const ENDORSE_QUEUE_MAX = 4_096;
export const ENDORSE_BATCH_CHANNEL = 'endorse-batch';

/** One item of an `endorse-batch` answer: the peer's response, or why it could not produce one. */
export type EndorseBatchItem = { readonly ok: ProposalResponse } | { readonly error: string };

const answerSchema = z.array(z.union([z.object({ ok: z.unknown() }).strict(), z.object({ error: z.string().max(4096) }).strict()])).max(ENDORSE_BATCH_MAX);
const requestSchema = z.array(z.instanceof(Uint8Array)).min(1).max(ENDORSE_BATCH_MAX);

export type RequestFn = (channel: string, payload: Bytes) => Promise<Bytes>;

interface Waiting {
  readonly signed: SignedProposal;
  readonly resolve: (r: ProposalResponse) => void;
  readonly reject: (err: Error) => void;
}

export class EndorseBatcher {
  private queue: Waiting[] = [];
  private scheduled = false;
  private batchUnsupported = false;

  constructor(private readonly request: RequestFn) {}

  endorse(signed: SignedProposal): Promise<ProposalResponse> {
    if (this.batchUnsupported) return this.single(signed);
    if (this.queue.length >= ENDORSE_QUEUE_MAX) return Promise.reject(new Error(`more than ${ENDORSE_QUEUE_MAX} endorsements queued for this peer`));
    return new Promise<ProposalResponse>((resolve, reject) => {
      this.queue.push({ signed, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        // setImmediate, not a microtask: the proposals of one batch request reach the gateway's
        // endorsers over several promise hops; this runs after all of them in this loop turn.
        setImmediate(() => this.flush());
      }
    });
  }

  private single(signed: SignedProposal): Promise<ProposalResponse> {
    return this.request('endorse', encodeSignedProposal(signed)).then((bytes) => decode<ProposalResponse>(bytes));
  }

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += ENDORSE_BATCH_MAX) void this.send(all.slice(i, i + ENDORSE_BATCH_MAX));
  }

  private async send(batch: readonly Waiting[]): Promise<void> {
    if (batch.length === 1 || this.batchUnsupported) {
      for (const w of batch) this.single(w.signed).then(w.resolve, w.reject);
      return;
    }
    let items: unknown[];
    try {
      const bytes = await this.request(ENDORSE_BATCH_CHANNEL, encode(batch.map((w) => encodeSignedProposal(w.signed))));
      const parsed = answerSchema.safeParse(decode(bytes));
      if (!parsed.success || parsed.data.length !== batch.length) throw new Error(`malformed ${ENDORSE_BATCH_CHANNEL} answer`);
      items = parsed.data;
    } catch (err) {
      if (err instanceof Error && err.message.includes(`unknown request channel ${ENDORSE_BATCH_CHANNEL}`)) {
        this.batchUnsupported = true;
        for (const w of batch) this.single(w.signed).then(w.resolve, w.reject);
        return;
      }
      for (const w of batch) w.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    batch.forEach((w, i) => {
      const item = items[i] as EndorseBatchItem;
      if ('ok' in item) w.resolve(item.ok);
      else w.reject(new Error(item.error));
    });
  }
}

/** The remote side: endorse each signed proposal of a request independently, in order. */
export function serveEndorseBatch(payload: Bytes, endorse: (signedProposalBytes: Bytes) => ProposalResponse): Bytes {
  const parsed = requestSchema.safeParse(decode(payload));
  if (!parsed.success) throw new Error(`${ENDORSE_BATCH_CHANNEL} needs 1..${ENDORSE_BATCH_MAX} encoded signed proposals`);
  const items: EndorseBatchItem[] = parsed.data.map((bytes) => {
    try {
      return { ok: endorse(bytes) };
    } catch (err) {
      return { error: (err as Error)?.message ?? String(err) };
    }
  });
  return encode(items);
}
