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
//
// The node's own peer is batched the same way (EndorseBatcher.local), without the transport: a
// peer endorsing several proposals at once signs their endorsements with one batch signature
// (decision 1384), so every process that checks them verifies one signature per batch.
import { z } from 'zod';
import { decode, encode, type Bytes } from '../codec/index.ts';
import { decodeSignedProposal, encodeSignedProposal, type SignedProposal } from '../ledger/tx.ts';
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

/** A peer endorsing proposals in one go: one result per proposal, in order (an Error: that proposal could not be handled). */
export type EndorseMany = (signed: readonly SignedProposal[]) => ReadonlyArray<ProposalResponse | Error>;

export class EndorseBatcher {
  private queue: Waiting[] = [];
  private scheduled = false;
  private batchUnsupported = false;
  private constructor(
    private readonly sendOne: (signed: SignedProposal) => Promise<ProposalResponse>,
    private readonly sendMany: (signed: readonly SignedProposal[]) => Promise<readonly EndorseBatchItem[]>,
  ) {}

  /** Batches for a remote node, over its request channels. */
  static remote(request: RequestFn): EndorseBatcher {
    return new EndorseBatcher(
      (signed) => request('endorse', encodeSignedProposal(signed)).then((bytes) => decode<ProposalResponse>(bytes)),
      async (signed) => {
        const parsed = answerSchema.safeParse(decode(await request(ENDORSE_BATCH_CHANNEL, encode(signed.map((sp) => encodeSignedProposal(sp))))));
        if (!parsed.success || parsed.data.length !== signed.length) throw new Error(`malformed ${ENDORSE_BATCH_CHANNEL} answer`);
        return parsed.data as EndorseBatchItem[];
      },
    );
  }

  /** Batches for this node's own peer: no transport, no encoding. */
  static local(endorseMany: EndorseMany): EndorseBatcher {
    const many = (signed: readonly SignedProposal[]): EndorseBatchItem[] => itemsOf(signed.length, () => endorseMany(signed));
    return new EndorseBatcher(
      async (signed) => {
        const [item] = many([signed]);
        if (item && 'ok' in item) return item.ok;
        throw new Error(item?.error ?? 'no endorsement');
      },
      async (signed) => many(signed),
    );
  }

  endorse(signed: SignedProposal): Promise<ProposalResponse> {
    if (this.batchUnsupported) return this.sendOne(signed);
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

  private flush(): void {
    this.scheduled = false;
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += ENDORSE_BATCH_MAX) void this.send(all.slice(i, i + ENDORSE_BATCH_MAX));
  }

  private async send(batch: readonly Waiting[]): Promise<void> {
    if (batch.length === 1 || this.batchUnsupported) {
      for (const w of batch) this.sendOne(w.signed).then(w.resolve, w.reject);
      return;
    }
    let items: readonly EndorseBatchItem[];
    try {
      items = await this.sendMany(batch.map((w) => w.signed));
    } catch (err) {
      if (err instanceof Error && err.message.includes(`unknown request channel ${ENDORSE_BATCH_CHANNEL}`)) {
        this.batchUnsupported = true;
        for (const w of batch) this.sendOne(w.signed).then(w.resolve, w.reject);
        return;
      }
      for (const w of batch) w.reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    batch.forEach((w, i) => {
      const item = items[i]!;
      if ('ok' in item) w.resolve(item.ok);
      else w.reject(new Error(item.error));
    });
  }
}

/** endorseMany's results as answer items; a throw fails every item with its message. */
function itemsOf(count: number, endorseMany: () => ReadonlyArray<ProposalResponse | Error>): EndorseBatchItem[] {
  let results: ReadonlyArray<ProposalResponse | Error>;
  try {
    results = endorseMany();
    if (results.length !== count) throw new Error(`${results.length} endorsement results for ${count} proposals`);
  } catch (err) {
    const error = (err as Error)?.message ?? String(err);
    return Array.from({ length: count }, () => ({ error }));
  }
  return results.map((r) => (r instanceof Error ? { error: r.message } : { ok: r }));
}

/**
 * The remote side: the signed proposals of a request, endorsed together (each simulated
 * independently, in order; one that cannot be decoded gets an error of its own).
 */
export function serveEndorseBatch(payload: Bytes, endorseMany: EndorseMany): Bytes {
  const parsed = requestSchema.safeParse(decode(payload));
  if (!parsed.success) throw new Error(`${ENDORSE_BATCH_CHANNEL} needs 1..${ENDORSE_BATCH_MAX} encoded signed proposals`);
  const decoded = parsed.data.map((bytes): SignedProposal | Error => {
    try {
      return decodeSignedProposal(bytes);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  });
  const good = decoded.filter((d): d is SignedProposal => !(d instanceof Error));
  const endorsed = itemsOf(good.length, () => endorseMany(good));
  let next = 0;
  return encode(decoded.map((d): EndorseBatchItem => (d instanceof Error ? { error: d.message } : endorsed[next++]!)));
}
