// The gateway's routes (Fabric's flow at the edge, decisions 1001, 1006, 1007): evaluate, endorse
// (the endorsers chosen among the reachable ones, replaced when they fail, hedged when silent),
// submit with an honest outcome, commit status by txId, and blocks.
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { encode, toHex, type Bytes } from '../codec/index.ts';
import { verify } from '../crypto/index.ts';
import { evaluatePolicy, type Identity } from '../identity/index.ts';
import { blockHash, encodeBlock, type StoredBlock } from '../ledger/block.ts';
import {
  decodeProposal,
  decodeSignedProposal,
  parseAll,
  parseTx,
  TxFormatError,
  type ParsedTx,
  type SignedProposal,
  type TxPayload,
  type TxProposal,
} from '../ledger/tx.ts';
import { collectEndorsements, GatewayError, type EndorserClient } from '../node/gateway.ts';
import { RateLimitedLog, type Logger } from '../log/log.ts';
import type { BroadcastResult, KnownTx } from '../node/orderer.ts';
import type { NodeServices } from '../node/services.ts';
import {
  BlockParams,
  SignedProposalRequest,
  EndorseBatchCborRequest,
  EndorseBatchRequest,
  SubmitBatchCborRequest,
  SubmitBatchRequest,
  SubmitRequest,
  TxStatusesRequest,
  TxStatusParams,
  WaitQuery,
  type TxResultT,
  type BlockResponseT,
  type EndorseResponseT,
  type EndorseBatchResponseT,
  type SubmitBatchResponseT,
  type TxStatusT,
  type RawBlockResponseT,
} from './schemas.ts';
import { ApiError, gatewayError, parseInput, peerError } from './errors.ts';
import { AuthError, authenticateSignedBody } from './auth.ts';
import { CborBody, sendCbor, wantsCbor } from './bodies.ts';
import type { Edge } from './edge.ts';
import type { ApiServerLimits } from './limits.ts';
import { verifyBatchable } from '../crypto/batch-signature.ts';

function fromBase64(text: string, what: string): Bytes {
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  // Buffer.from ignores junk; a round trip proves the text was canonical base64.
  if (Buffer.from(bytes).toString('base64') !== text) throw new ApiError(400, 'BAD_REQUEST', `${what} is not canonical base64`);
  return bytes;
}

const b64 = (bytes: Bytes): string => Buffer.from(bytes).toString('base64');

/** Fabric's rule, enforced at the edge: a client may only send its own proposals and transactions. */
function checkCreator(creatorPem: string, who: Identity, what: string): void {
  if (creatorPem.trim() !== who.certPem.trim()) {
    throw new ApiError(403, 'CREATOR_MISMATCH', `the ${what} was created by another certificate than the one that signed this request`);
  }
}

/**
 * Decoded once per request: a signed-body route's authenticator (edge) decodes the body and the
 * handler reuses it. Keyed by the parsed body object, so nothing outlives the request.
 */
const decodedBodies = new WeakMap<object, unknown>();

function decodeOnce<T>(body: unknown, decode: (body: unknown) => T): T {
  if (typeof body === 'object' && body !== null) {
    const known = decodedBodies.get(body);
    if (known !== undefined) return known as T;
    const value = decode(body);
    decodedBodies.set(body, value);
    return value;
  }
  return decode(body);
}

function decodeSignedProposalInput(body: unknown): { signed: SignedProposal; proposal: TxProposal } {
  return decodeOnce(body, (b) => {
    const { signedProposal } = parseInput(SignedProposalRequest, b, 'body');
    try {
      const signed = decodeSignedProposal(fromBase64(signedProposal, 'signedProposal'));
      return { signed, proposal: decodeProposal(signed.proposal) };
    } catch (err) {
      if (err instanceof TxFormatError) throw new ApiError(400, 'MALFORMED_PROPOSAL', err.message);
      throw err;
    }
  });
}

function decodeSubmitInput(body: unknown): { envelope: Bytes; tx: ParsedTx; waitMs: number } {
  return decodeOnce(body, (b) => {
    const parsed = parseInput(SubmitRequest, b, 'body');
    const envelope = fromBase64(parsed.envelope, 'envelope');
    try {
      return { envelope, tx: parseTx(envelope), waitMs: parsed.waitMs ?? 0 };
    } catch (err) {
      if (err instanceof TxFormatError) throw new ApiError(400, 'MALFORMED_TRANSACTION', err.message);
      throw err;
    }
  });
}

function certificateToJson(proof: StoredBlock['block']['metadata']['consensus']): BlockResponseT['certificate'] {
  const cert = proof?.certificate;
  if (!proof || !cert) return null;
  const fields: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(cert.fields)) fields[k] = typeof v === 'number' || typeof v === 'string' ? v : toHex(v);
  return { scheme: cert.scheme, signers: cert.signatures.map((s) => s.nodeId), fields, digestHex: toHex(proof.digest) };
}

/** A block as the API shows it: hashes hex, per transaction its id, call, creator and code. */
export function blockToJson(stored: StoredBlock, services: Pick<NodeServices, 'msp'>): BlockResponseT {
  const { block, validation } = stored;
  const isTxBlock = block.header.number > 0 && validation.length === block.data.length;
  const parsed = isTxBlock ? parseAll(block.data) : [];
  return {
    number: block.header.number,
    hashHex: toHex(blockHash(block.header)),
    previousHashHex: toHex(block.header.previousHash),
    dataHashHex: toHex(block.header.dataHash),
    timestampMs: block.header.timestampMs,
    orderers: block.metadata.signatures.map((s) => s.ordererId),
    engine: block.metadata.consensus?.engine ?? null,
    certificate: certificateToJson(block.metadata.consensus),
    txs: parsed.map((p, i) => {
      const code = validation[i]!;
      if (p instanceof TxFormatError) return { position: i, txId: null, contract: null, fn: null, creatorOrg: null, creatorId: null, code };
      let creator: Identity | null = null;
      try {
        creator = services.msp.identify(p.proposal.creator);
      } catch {
        creator = null; // a foreign or malformed creator: the validator already marked the tx
      }
      return {
        position: i,
        txId: p.proposal.txId,
        contract: p.proposal.contract,
        fn: p.proposal.fn,
        creatorOrg: creator?.org ?? null,
        creatorId: creator?.id ?? null,
        code,
      };
    }),
  };
}

export interface GatewayContext {
  /** The edge's registry of routes whose signed body authenticates the caller (decision 1300). */
  readonly signedBodyRoute?: Edge['signedBodyRoute'];
  readonly services: NodeServices;
  readonly limits: ApiServerLimits;
  readonly clock: () => number;
  readonly log: Logger;
}

export function registerGatewayRoutes(app: FastifyInstance, who: (req: FastifyRequest) => Identity, ctx: GatewayContext): void {
  const { services, limits, clock, log } = ctx;
  // A signed proposal or envelope is its own proof of who sent it: no request signature needed
  // (decision 1300). Checked here before the handler runs; the handler reuses the decoded body.
  ctx.signedBodyRoute?.('/v1/endorse', (body, nowMs) => {
    const { signed, proposal } = decodeSignedProposalInput(body);
    return authenticateSignedBody({
      creatorPem: proposal.creator,
      message: signed.proposal,
      signature: signed.signature,
      what: 'proposal',
      msp: services.msp,
      nowMs,
      timestampMs: proposal.timestampMs,
    });
  });
  ctx.signedBodyRoute?.('/v1/submit', (body, nowMs) => {
    const { tx } = decodeSubmitInput(body);
    return authenticateSignedBody({
      creatorPem: tx.proposal.creator,
      message: tx.envelope.payload,
      signature: tx.envelope.signature,
      what: 'transaction',
      msp: services.msp,
      nowMs,
    });
  });
  // Operator-visible, but bounded: a dead peer fails every endorsement sent its way.
  const opsLog = new RateLimitedLog(log, 3, 60_000);
  const endorserDownUntil = new Map<string, number>();
  let rotation = 0;

  app.post('/v1/evaluate', async (req) => {
    const { signed, proposal } = decodeSignedProposalInput(req.body);
    checkCreator(proposal.creator, who(req), 'proposal');
    if (!services.policies().has(proposal.contract))
      throw new ApiError(404, 'UNKNOWN_CONTRACT', `contract "${proposal.contract}" is not defined in the consortium configuration`);
    const res = await services.evaluate(signed);
    if (res.status !== 200) throw peerError(res.status, res.message);
    return { payload: b64(res.payload) };
  });

  /**
   * This node's peer first, then the others in rotation; the shortest prefix that can satisfy the
   * policy, and the rest as spares. Peers known to be down (transport link down, or unreachable
   * within endorserBackoffMs) are not chosen: they come last among the spares.
   */
  const chooseEndorsers = (policy: Parameters<typeof evaluatePolicy>[0], nowMs: number): { chosen: EndorserClient[]; spares: EndorserClient[] } => {
    const all = services.endorsers();
    const [local, ...others] = all;
    const isUp = (e: EndorserClient): boolean => e.available?.() !== false && (endorserDownUntil.get(e.org) ?? 0) <= nowMs;
    const up = others.filter(isUp);
    const down = others.filter((e) => !isUp(e));
    const start = up.length > 0 ? rotation++ % up.length : 0;
    const order = [...(local ? [local] : []), ...up.slice(start), ...up.slice(0, start)];
    for (let k = 1; k <= order.length; k++) {
      const prefix = order.slice(0, k);
      if (
        evaluatePolicy(
          policy,
          prefix.map((e) => ({ org: e.org, role: 'peer' as const })),
        )
      )
        return { chosen: prefix, spares: [...order.slice(k), ...down] };
    }
    return { chosen: [...order, ...down], spares: [] };
  };
  /** Remember endorsers that could not be reached, so the retry and the next requests avoid them. */
  const tracked = (e: EndorserClient, failed: Set<string>): EndorserClient => ({
    org: e.org,
    ...(e.available ? { available: () => e.available!() } : {}),
    evaluate: (sp) => e.evaluate(sp),
    endorse: (sp) =>
      e.endorse(sp).catch((err: unknown) => {
        failed.add(e.org);
        endorserDownUntil.set(e.org, clock() + limits.endorserBackoffMs);
        opsLog.write(
          'warn',
          `endorser:${e.org}`,
          { endorser: e.org, reason: err instanceof Error ? err.message.slice(0, 200) : 'unknown', skippedForMs: limits.endorserBackoffMs },
          'endorser unreachable; routing endorsements around it',
        );
        throw err;
      }),
  });

  app.post('/v1/endorse', async (req): Promise<EndorseResponseT> => {
    const { signed, proposal } = decodeSignedProposalInput(req.body);
    checkCreator(proposal.creator, who(req), 'proposal');
    const r = await endorseOne(signed, proposal);
    return { txId: r.txId, payload: b64(r.payload), txPayload: b64(r.txPayload), endorsers: r.endorsers };
  });

  interface Endorsed {
    readonly txId: string;
    readonly payload: Bytes;
    readonly txPayload: Bytes;
    readonly endorsers: string[];
  }

  /** Collect the endorsements `proposal`'s contract policy needs (the caller and its signature checked). */
  async function endorseOne(signed: SignedProposal, proposal: TxProposal): Promise<Endorsed> {
    const policy = services.policies().get(proposal.contract);
    if (!policy) throw new ApiError(404, 'UNKNOWN_CONTRACT', `contract "${proposal.contract}" is not defined in the consortium configuration`);
    const label = `${proposal.contract}.${proposal.fn}`;
    // Two attempts: the second without the organisations whose peer did not answer the first.
    for (let attempt = 1; ; attempt++) {
      const failed = new Set<string>();
      const choice = chooseEndorsers(policy, clock());
      const chosen = choice.chosen.map((e) => tracked(e, failed));
      const spares = choice.spares.map((e) => tracked(e, failed));
      try {
        const stopTimer = services.metrics?.endorsementSeconds.startTimer();
        const { response, payload, endorsements, signers } = await collectEndorsements({
          signed,
          label,
          policy,
          endorsers: chosen,
          spares,
          hedgeAfterMs: limits.endorseHedgeAfterMs,
          msp: services.msp,
          atMs: clock(),
        });
        stopTimer?.();
        const txPayload: TxPayload = { proposal: signed.proposal, response, endorsements };
        return { txId: proposal.txId, payload, txPayload: encode(txPayload), endorsers: signers.map((s) => s.org) };
      } catch (err) {
        if (attempt < 2 && failed.size > 0 && err instanceof GatewayError) continue;
        throw err;
      }
    }
  }

  // JSON (base64 strings) or DAG-CBOR (byte strings, decision 1320): the same checks after decoding.
  const signedProposalsOf = (b: unknown): Array<Bytes | string> =>
    b instanceof CborBody ? parseInput(EndorseBatchCborRequest, b.value, 'body').signedProposals : parseInput(EndorseBatchRequest, b, 'body').signedProposals;
  const decodeEndorseBatchInput = (body: unknown): Array<{ signed: SignedProposal; proposal: TxProposal }> =>
    decodeOnce(body, (b) =>
      signedProposalsOf(b).map((item, i) => {
        try {
          const signed = decodeSignedProposal(typeof item === 'string' ? fromBase64(item, `signedProposals[${i}]`) : item);
          return { signed, proposal: decodeProposal(signed.proposal) };
        } catch (err) {
          if (err instanceof TxFormatError) throw new ApiError(400, 'MALFORMED_PROPOSAL', `signedProposals[${i}]: ${err.message}`);
          throw err;
        }
      }),
    );
  ctx.signedBodyRoute?.('/v1/endorse/batch', (body, nowMs) => {
    const { signed, proposal } = decodeEndorseBatchInput(body)[0]!;
    return authenticateSignedBody({
      creatorPem: proposal.creator,
      message: signed.proposal,
      signature: signed.signature,
      what: 'proposal',
      msp: services.msp,
      nowMs,
      timestampMs: proposal.timestampMs,
    });
  });

  // Many proposals in one request (issue 13, decision 1312): every one must be the caller's, signed
  // by it and fresh, else none is endorsed (400/401/403 naming the first bad one); then each is
  // endorsed on its own and gets its result or error, in order.
  app.post('/v1/endorse/batch', async (req, reply): Promise<EndorseBatchResponseT | FastifyReply> => {
    const items = decodeEndorseBatchInput(req.body);
    const me = who(req);
    const nowMs = clock();
    items.forEach(({ signed, proposal }, i) => {
      try {
        checkCreator(proposal.creator, me, 'proposal');
        authenticateSignedBody({
          creatorPem: proposal.creator,
          message: signed.proposal,
          signature: signed.signature,
          what: 'proposal',
          msp: services.msp,
          nowMs,
          timestampMs: proposal.timestampMs,
        });
      } catch (err) {
        if (err instanceof ApiError) throw new ApiError(err.status, err.code, `signedProposals[${i}]: ${err.message}`);
        if (err instanceof AuthError) throw new ApiError(401, err.code, `signedProposals[${i}]: ${err.message}`);
        throw err;
      }
    });
    const settled = await Promise.allSettled(items.map(({ signed, proposal }) => endorseOne(signed, proposal)));
    const results = settled.map((r, i): Endorsed | { txId: string; error: { code: string; message: string } } => {
      if (r.status === 'fulfilled') return r.value;
      const txId = items[i]!.proposal.txId;
      const e = r.reason;
      if (e instanceof ApiError) return { txId, error: { code: e.code, message: e.message } };
      if (e instanceof GatewayError) {
        const g = gatewayError(e);
        return { txId, error: { code: g.code, message: g.message } };
      }
      log.error({ reason: (e as Error)?.message }, 'api: batch endorse item failed');
      return { txId, error: { code: 'INTERNAL', message: 'internal error (logged on the node)' } };
    });
    // Bytes as byte strings when the caller reads DAG-CBOR (decision 1320), else base64 in JSON.
    if (wantsCbor(req)) return sendCbor(reply, { results });
    return {
      results: results.map((r) => ('error' in r ? r : { txId: r.txId, payload: b64(r.payload), txPayload: b64(r.txPayload), endorsers: r.endorsers })),
    };
  });

  /** Broadcasts under way through this gateway, by txId (at most one entry per request in flight). */
  const broadcasting = new Map<string, Promise<BroadcastResult>>();
  const alreadyPending = (txId: string): TxStatusT => ({
    txId,
    status: 'SUBMITTED',
    code: null,
    blockNumber: null,
    reason: 'already pending: not broadcast again',
    duplicate: true,
  });

  const waitStatus = async (txId: string, waitMs: number): Promise<TxStatusT> => {
    try {
      const ev = await services.waitForTx(txId, waitMs);
      return { txId, status: 'COMMITTED', code: ev.code, blockNumber: ev.blockNumber, reason: ev.reason };
    } catch (err) {
      const message = (err as Error).message;
      if (/not committed within/.test(message)) {
        if (waitMs === 0) throw new ApiError(404, 'TX_NOT_FOUND', `transaction ${txId} is not committed on ${services.nodeId}`, txId);
        throw new ApiError(504, 'COMMIT_TIMEOUT', `${message}: outcome not known yet — check GET /v1/tx/${txId} on any node`, txId);
      }
      throw new ApiError(503, 'UNAVAILABLE', message, txId);
    }
  };

  /** The caller's own, correctly signed transaction, or ApiError (nothing broadcast). */
  const checkOwnTx = (tx: ParsedTx, me: Identity): void => {
    checkCreator(tx.proposal.creator, me, 'transaction');
    if (!verifyBatchable(verify, me.publicKey, tx.envelope.payload, tx.envelope.signature))
      throw new ApiError(
        400,
        'BAD_TX_SIGNATURE',
        'the envelope signature does not verify with the creator key (sign the exact txPayload bytes /v1/endorse returned)',
      );
  };

  app.post('/v1/submit', async (req): Promise<TxStatusT> => {
    const { envelope, tx, waitMs } = decodeSubmitInput(req.body);
    checkOwnTx(tx, who(req));
    return submitOne(envelope, tx, waitMs);
  });

  const decodeBatchInput = (body: unknown): { items: Array<{ envelope: Bytes; tx: ParsedTx }>; waitMs: number; stream: boolean } =>
    decodeOnce(body, (b) => {
      const parsed: { envelopes: Array<Bytes | string>; waitMs?: number | undefined; stream?: boolean | undefined } =
        b instanceof CborBody ? parseInput(SubmitBatchCborRequest, b.value, 'body') : parseInput(SubmitBatchRequest, b, 'body');
      const items = parsed.envelopes.map((item, i) => {
        const envelope = typeof item === 'string' ? fromBase64(item, `envelopes[${i}]`) : item;
        try {
          return { envelope, tx: parseTx(envelope) };
        } catch (err) {
          if (err instanceof TxFormatError) throw new ApiError(400, 'MALFORMED_TRANSACTION', `envelopes[${i}]: ${err.message}`);
          throw err;
        }
      });
      return { items, waitMs: parsed.waitMs ?? 0, stream: parsed.stream ?? false };
    });
  ctx.signedBodyRoute?.('/v1/submit/batch', (body, nowMs) => {
    const { items } = decodeBatchInput(body);
    const first = items[0]!.tx;
    return authenticateSignedBody({
      creatorPem: first.proposal.creator,
      message: first.envelope.payload,
      signature: first.envelope.signature,
      what: 'transaction',
      msp: services.msp,
      nowMs,
    });
  });

  // Many transactions in one request (issue 13): every envelope must be the caller's and verify,
  // else nothing is broadcast (400/403 naming the first bad one); then each goes its own way and
  // gets its own status or error, in order.
  app.post('/v1/submit/batch', async (req, reply): Promise<SubmitBatchResponseT | FastifyReply> => {
    const { items, waitMs, stream } = decodeBatchInput(req.body);
    const me = who(req);
    items.forEach(({ tx }, i) => {
      try {
        checkOwnTx(tx, me);
      } catch (err) {
        if (err instanceof ApiError) throw new ApiError(err.status, err.code, `envelopes[${i}]: ${err.message}`);
        throw err;
      }
    });
    const results = items.map(({ envelope, tx }) => ({ txId: tx.proposal.txId, result: submitOne(envelope, tx, waitMs) }));
    if (stream) return sendResultLines(reply, results);
    const settled = await Promise.all(
      results.map(({ txId, result }) =>
        result.then(
          (s): TxResultT => s,
          (err: unknown) => resultOfError(txId, err),
        ),
      ),
    );
    // A client that sends DAG-CBOR reads it too (decision 1320); the statuses hold no bytes.
    if (wantsCbor(req)) return sendCbor(reply, { results: settled });
    return { results: settled };
  });

  /** Why a transaction has no status in a batch answer: the ApiError's code and message (else logged, INTERNAL). */
  function resultOfError(txId: string, err: unknown): TxResultT {
    if (err instanceof ApiError) return { txId, error: { code: err.code, message: err.message } };
    log.error({ reason: (err as Error)?.message }, 'api: batch item failed');
    return { txId, error: { code: 'INTERNAL', message: 'internal error (logged on the node)' } };
  }

  /**
   * Commit status as a stream, not a poll (issue 13, decision 1311): one application/x-ndjson
   * line per transaction as soon as its result is known, the answer ending after the last. The
   * request stays in flight (and counted) until then; a client that goes away ends it.
   */
  function sendResultLines(reply: FastifyReply, results: ReadonlyArray<{ txId: string; result: Promise<TxStatusT> }>): FastifyReply {
    const out = new PassThrough();
    let left = results.length;
    // One write per line, as it settles. (Coalescing the lines of one turn into one write was
    // tried: SDKs before decision 1321 lose the first DATA frame when it arrives with the headers,
    // and a coalesced first frame then held many lines.)
    const line = (value: TxResultT): void => {
      if (!out.destroyed && !out.writableEnded) out.write(`${JSON.stringify(value)}\n`);
      left -= 1;
      if (left === 0 && !out.destroyed) out.end();
    };
    for (const { txId, result } of results)
      result.then(
        (s) => line(s),
        (err: unknown) => line(resultOfError(txId, err)),
      );
    return reply.type('application/x-ndjson').header('cache-control', 'no-store').send(out);
  }

  // Many transactions' commit status in one request, streamed as they commit (decision 1311).
  app.post('/v1/tx/statuses', async (req, reply) => {
    const { txIds, waitMs } = parseInput(TxStatusesRequest, req.body, 'body');
    return sendResultLines(
      reply,
      txIds.map((txId) => ({ txId, result: waitStatus(txId, waitMs ?? 0) })),
    );
  });

  /** Broadcast one checked transaction (or answer from its txId) and, with waitMs, wait for its commit. */
  async function submitOne(envelope: Bytes, tx: ParsedTx, waitMs: number): Promise<TxStatusT> {
    const txId = tx.proposal.txId;
    // A txId this node knows is answered with its status and not broadcast again (decision
    // 1003): resubmitting after a lost answer is safe and tells the truth; a replay cannot make
    // every hospital's ledger carry another DUPLICATE_TXID copy.
    const known = services.knownTx(txId);
    if (known?.state === 'committed') return { txId, status: 'COMMITTED', code: known.code, blockNumber: known.blockNumber, reason: '', duplicate: true };
    // Listen before broadcasting: the commit can be faster than the broadcast's answer.
    const status = waitMs > 0 ? waitStatus(txId, waitMs) : null;
    status?.catch(() => undefined);
    if (known) return status ? { ...(await status), duplicate: true } : alreadyPending(txId);
    // The same envelope already on its way through this gateway (two submits at once): share
    // that broadcast instead of racing it, possibly to another orderer.
    let broadcast = broadcasting.get(txId);
    const joined = broadcast !== undefined;
    if (!broadcast) {
      broadcast = services.broadcast(envelope);
      broadcasting.set(txId, broadcast);
      const forget = (): void => {
        broadcasting.delete(txId);
      };
      broadcast.then(forget, forget);
    }
    let accepted: BroadcastResult;
    try {
      accepted = await broadcast;
    } catch (err) {
      // The orderer was asked and did not answer: it may have ordered the transaction.
      throw new ApiError(
        503,
        'OUTCOME_UNKNOWN',
        `the ordering service did not answer for ${txId} (${(err as Error).message}); it may have been ordered — check GET /v1/tx/${txId} on any node, or resubmit the same envelope (it is never ordered twice)`,
        txId,
      );
    }
    if (!accepted.accepted && !accepted.duplicate)
      throw new ApiError(
        503,
        'ORDERING_UNAVAILABLE',
        `the ordering service did not accept ${txId}: ${accepted.reason} (not ordered; safe to submit again)`,
        txId,
      );
    const duplicate: KnownTx | undefined = accepted.accepted ? (joined ? { state: 'pending' } : undefined) : accepted.duplicate;
    if (duplicate) {
      if (status) return { ...(await status), duplicate: true };
      if (duplicate.state === 'committed')
        return { txId, status: 'COMMITTED', code: duplicate.code, blockNumber: duplicate.blockNumber, reason: '', duplicate: true };
      return alreadyPending(txId);
    }
    if (!status) return { txId, status: 'SUBMITTED', code: null, blockNumber: null, reason: '' };
    return status;
  }

  app.get('/v1/tx/:txId', async (req): Promise<TxStatusT> => {
    const { txId } = parseInput(TxStatusParams, req.params, 'path');
    const { waitMs } = parseInput(WaitQuery, req.query, 'query');
    return waitStatus(txId, waitMs ?? 0);
  });

  app.get('/v1/blocks/:n', async (req): Promise<BlockResponseT> => {
    const { n } = parseInput(BlockParams, req.params, 'path');
    const stored = n <= services.height() ? services.getBlock(n) : null;
    if (!stored) throw new ApiError(404, 'BLOCK_NOT_FOUND', `block ${n} does not exist on ${services.nodeId} (height ${services.height()})`);
    return blockToJson(stored, services);
  });

  app.get('/v1/blocks/:n/raw', async (req): Promise<RawBlockResponseT> => {
    const me = who(req);
    // Raw blocks carry every transaction's arguments and write sets (pseudonyms, consents, audit
    // entries): the consortium's auditors may read them, patients and clinicians see summaries.
    if (me.role !== 'admin' && me.role !== 'supervisor')
      throw new ApiError(403, 'FORBIDDEN', `raw blocks are for admins and supervisors (auditors); ${me.org}/${me.id} is a ${me.role}`);
    const { n } = parseInput(BlockParams, req.params, 'path');
    const stored = n <= services.height() ? services.getBlock(n) : null;
    if (!stored) throw new ApiError(404, 'BLOCK_NOT_FOUND', `block ${n} does not exist on ${services.nodeId} (height ${services.height()})`);
    return { number: n, blockBase64: b64(encodeBlock(stored.block)), validation: [...stored.validation] };
  });
}
