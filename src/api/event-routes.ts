// The block and contract event stream (server-sent events): replay from a block, then live; bounded
// per user, organisation and node; a client that does not read is cut off rather than buffered.
import { type ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { toHex, type Bytes } from '../codec/index.ts';
import { type Identity } from '../identity/index.ts';
import { blockHash, type StoredBlock } from '../ledger/block.ts';
import type { BlockCommitEvent } from '../ledger/ledger.ts';
import { parseAll, TxFormatError, type ParsedTx } from '../ledger/tx.ts';
import { type Logger } from '../log/log.ts';
import type { NodeServices } from '../node/services.ts';
import { EventsQuery, type BlockEventT, type ContractEventT } from './schemas.ts';
import { CountsByKey, type Edge } from './edge.ts';
import { ApiError, parseInput } from './errors.ts';
import type { ApiServerLimits } from './limits.ts';

const b64 = (bytes: Bytes): string => Buffer.from(bytes).toString('base64');

function storedToCommitEvent(stored: StoredBlock): BlockCommitEvent {
  const parsed = parseAll(stored.block.data);
  return {
    number: stored.block.header.number,
    blockHash: blockHash(stored.block.header),
    timestampMs: stored.block.header.timestampMs,
    stateHash: new Uint8Array(0),
    txs:
      stored.block.header.number === 0
        ? []
        : stored.validation.map((code, position) => {
            const p = parsed[position];
            const tx = p && !(p instanceof TxFormatError) ? (p as ParsedTx) : null;
            return { txId: tx?.proposal.txId ?? null, position, code, reason: '', event: tx?.response.event ?? null };
          }),
  };
}

export interface EventContext {
  readonly services: NodeServices;
  readonly limits: ApiServerLimits;
  readonly log: Logger;
  readonly edge: Edge;
}

export function registerEventRoutes(app: FastifyInstance, who: (req: FastifyRequest) => Identity, ctx: EventContext): { close(): void } {
  const { services, limits, log, edge } = ctx;
  const streams = new Set<ServerResponse>();
  const streamsByUser = new CountsByKey();
  const streamsByOrg = new CountsByKey();

  app.get('/v1/events', async (req, reply) => {
    const { from: fromQuery } = parseInput(EventsQuery, req.query, 'query');
    const me = who(req);
    const streamUser = `${me.org}/${me.id}`;
    if (streamsByUser.get(streamUser) >= limits.eventStreamsPerUserMax)
      throw new ApiError(
        429,
        'TOO_MANY_STREAMS',
        `${streamUser} already has ${limits.eventStreamsPerUserMax} event streams open on this node (at most ${limits.eventStreamsPerUserMax} per user); close one first`,
      );
    if (streamsByOrg.get(me.org) >= limits.eventStreamsPerOrgMax)
      throw new ApiError(
        429,
        'TOO_MANY_STREAMS',
        `the users of ${me.org} already have ${limits.eventStreamsPerOrgMax} event streams open on this node (at most ${limits.eventStreamsPerOrgMax} per organisation)`,
      );
    if (streams.size >= limits.eventStreamsMax)
      throw new ApiError(503, 'TOO_MANY_STREAMS', `${limits.eventStreamsMax} event streams are open on this node; retry later`);
    const from = fromQuery ?? services.height() + 1;
    const raw = reply.raw;
    let next = from;
    let replaying = true;
    let closed = false;
    const pending: BlockCommitEvent[] = [];
    const write = (event: string, data: unknown): void => {
      if (closed) return;
      raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      if (raw.writableLength > limits.eventStreamBufferBytesMax) {
        // A client that does not read must not make the node buffer without limit.
        log.warn({ client: edge.identityOf(req)?.id }, 'api: closing an event stream whose client does not read');
        raw.end(
          `event: error\ndata: ${JSON.stringify({ code: 'SLOW_CONSUMER', message: 'the client did not keep up; reconnect with from=<next block>' })}\n\n`,
        );
        close();
      }
    };
    const emit = (ev: BlockCommitEvent): void => {
      const blockEvent: BlockEventT = {
        number: ev.number,
        hashHex: toHex(ev.blockHash),
        timestampMs: ev.timestampMs,
        txs: ev.txs.map((t) => ({ txId: t.txId, position: t.position, code: t.code })),
      };
      write('block', blockEvent);
      for (const t of ev.txs) {
        if (t.code !== 'VALID' || !t.event) continue;
        const ce: ContractEventT = { blockNumber: ev.number, txId: t.txId, position: t.position, name: t.event.name, payload: b64(t.event.payload) };
        write('contract', ce);
      }
      next = ev.number + 1;
    };
    /** Stored blocks up to `upTo` that this stream has not sent yet. */
    const fill = (upTo: number): void => {
      while (!closed && next <= upTo) {
        const stored = services.getBlock(next);
        if (!stored) break;
        emit(storedToCommitEvent(stored));
      }
    };
    const onBlock = (ev: BlockCommitEvent): void => {
      if (closed) return;
      if (replaying) {
        if (pending.length < 10_000) pending.push(ev);
        return;
      }
      if (ev.number < next) return;
      fill(ev.number - 1);
      if (ev.number === next) emit(ev);
    };
    let unsubscribe: () => void;
    try {
      // Subscribed before the stored blocks are replayed (events meanwhile wait in `pending`).
      unsubscribe = services.subscribeBlocks(from, onBlock);
    } catch (err) {
      throw new ApiError(503, 'NO_PEER', `this node cannot stream blocks: ${(err as Error).message}`);
    }
    reply.hijack();
    edge.releaseSlot(req);
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      // HTTP/2 forbids connection-specific headers (its streams are multiplexed on one session).
      ...(req.raw.httpVersionMajor === 2 ? {} : { connection: 'keep-alive' }),
      'x-accel-buffering': 'no',
    });
    streams.add(raw);
    streamsByUser.add(streamUser);
    streamsByOrg.add(me.org);
    const heartbeat = setInterval(() => {
      if (!closed) raw.write(': keep-alive\n\n');
    }, limits.eventStreamHeartbeatMs);
    heartbeat.unref();
    function close(): void {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(raw);
      streamsByUser.remove(streamUser);
      streamsByOrg.remove(me.org);
    }
    raw.on('close', close);
    raw.on('error', close);
    raw.write(': medledger events\n\n');
    fill(services.height());
    replaying = false;
    for (const ev of pending.splice(0)) onBlock(ev);
  });

  return {
    close() {
      for (const s of streams) s.end();
      streams.clear();
    },
  };
}
