// HTTP/2 for the SDK on Node.js (decision 1310): one persistent TLS session per node (per origin),
// with the consortium root CA as the only trust anchor, and many requests in flight on it as
// streams — at most `streamsMax` at once per node; more wait here for a free stream rather than
// being refused by the node. The session is opened at the first request, replaced when the node
// closes it (GOAWAY: streams already open finish on the old one), and does not keep the process
// alive while no request is in flight (as an idle keep-alive socket of node:https does not).
//
// What a failure means for the caller (issue 11's honest outcomes, client.ts): a stream the node
// refused unprocessed (REFUSED_STREAM, or a session already going away when the request was made)
// is `retryable` — nothing reached a handler; ECONNREFUSED means nothing was written; any other
// break after the request left (a reset connection, a timeout) may have been acted on.
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { StringDecoder } from 'node:string_decoder';
import type { HttpRequest, HttpResponse, HttpTransport, TransportOptions } from './transport.ts';
import { TransportError } from './transport.ts';

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = constants;
const STREAMS_MAX_DEFAULT = 100;
const EMPTY = new Uint8Array(0);

/** One node's session and the requests in flight on it. */
interface Origin {
  session: ClientHttp2Session | null;
  active: number;
  readonly waiting: Array<() => void>;
}

/** How a stream's answer is consumed: collected whole, or as text while the status is 200. */
type Consumer =
  | { readonly kind: 'collect' }
  | { readonly kind: 'text'; readonly onText: (chunk: string) => void; readonly endIsError: boolean; readonly signal?: AbortSignal };

export function createHttp2Transport(opts: TransportOptions): HttpTransport {
  if (!opts.caPem) throw new TransportError('BAD_OPTIONS', 'on Node.js the client needs caPem: the consortium root CA, the only TLS trust anchor');
  const caPem = opts.caPem;
  const streamsMax = opts.streamsMax ?? STREAMS_MAX_DEFAULT;
  if (!Number.isInteger(streamsMax) || streamsMax < 1) throw new TransportError('BAD_OPTIONS', `streamsMax must be a positive integer, got ${streamsMax}`);
  const origins = new Map<string, Origin>();

  const originOf = (key: string): Origin => {
    let o = origins.get(key);
    if (!o) {
      o = { session: null, active: 0, waiting: [] };
      origins.set(key, o);
    }
    return o;
  };
  const acquire = (o: Origin): Promise<void> => {
    if (o.active < streamsMax) {
      o.active += 1;
      if (o.active === 1) o.session?.ref();
      return Promise.resolve();
    }
    return new Promise((resolve) => o.waiting.push(resolve));
  };
  const release = (o: Origin): void => {
    const next = o.waiting.shift();
    if (next) return next(); // the slot passes on: `active` is unchanged
    o.active -= 1;
    if (o.active === 0) o.session?.unref();
  };
  const sessionOf = (url: URL, o: Origin): ClientHttp2Session => {
    const current = o.session;
    if (current && !current.closed && !current.destroyed) return current;
    const fresh = connect(url.origin, { ca: caPem, minVersion: 'TLSv1.2', settings: { enablePush: false } });
    // Each stream reports the failure it suffered; an idle session's error only ends the session.
    fresh.on('error', () => undefined);
    const forget = (): void => {
      if (o.session === fresh) o.session = null;
    };
    fresh.once('close', forget);
    // Going away: new requests open a new session; the streams already open finish on this one.
    fresh.once('goaway', forget);
    o.session = fresh;
    return fresh;
  };

  const failureOf = (err: Error, stream: ClientHttp2Stream | null, req: HttpRequest): TransportError => {
    const origin = req.url.origin;
    if (stream?.rstCode === NGHTTP2_REFUSED_STREAM)
      return new TransportError('REFUSED_STREAM', `${origin} refused ${req.method} ${req.url.pathname} before handling it`, true);
    if (err instanceof TransportError) return err;
    // A stream still pending when its session failed to connect is cancelled "caused by" the
    // connection's error: that error (ECONNREFUSED: nothing was written) is what happened.
    const cause = (err as { cause?: unknown }).cause;
    const causeCode = cause instanceof Error ? (cause as NodeJS.ErrnoException).code : undefined;
    const code = causeCode ?? (err as NodeJS.ErrnoException).code ?? 'CONNECTION_FAILED';
    return new TransportError(code, `cannot reach ${origin}: ${code === 'ECONNREFUSED' ? 'connection refused (is the node running?)' : err.message}`);
  };

  async function perform(req: HttpRequest, consumer: Consumer): Promise<HttpResponse> {
    const o = originOf(req.url.origin);
    await acquire(o);
    try {
      return await new Promise<HttpResponse>((resolve, reject) => {
        const signal = consumer.kind === 'text' ? consumer.signal : undefined;
        if (signal?.aborted) return resolve({ status: 200, body: EMPTY });
        const hasBody = req.method !== 'GET' || req.body.byteLength > 0;
        let stream: ClientHttp2Stream;
        try {
          stream = sessionOf(req.url, o).request(
            { ':method': req.method, ':path': `${req.url.pathname}${req.url.search}`, ...req.headers },
            { endStream: !hasBody },
          );
        } catch (err) {
          // The session closed between the check and the request (GOAWAY): nothing was sent.
          const code = (err as NodeJS.ErrnoException).code ?? 'SESSION_CLOSED';
          return reject(new TransportError(code, `${req.url.origin} closed the connection: ${(err as Error).message}`, true));
        }
        let settled = false;
        const settle = (fn: () => void): void => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          fn();
        };
        const cancel = (): void => {
          if (!stream.closed) stream.close(NGHTTP2_CANCEL);
        };
        function onAbort(): void {
          settle(() => resolve({ status: 200, body: EMPTY }));
          cancel();
        }
        signal?.addEventListener('abort', onAbort, { once: true });
        // An event stream lives as long as its reader wants; any other answer must keep arriving.
        if (!(consumer.kind === 'text' && consumer.endIsError))
          stream.setTimeout(req.timeoutMs, () => {
            settle(() =>
              reject(new TransportError('TIMEOUT', `${req.url.origin} did not answer ${req.method} ${req.url.pathname} within ${req.timeoutMs} ms`)),
            );
            cancel();
          });
        let status = 0;
        let asText = false;
        // Node emits 'response' on the next tick but may push DATA that arrived in the same read
        // at once: bytes before the status is known wait here, then go where the status says
        // (they were dropped before, losing the first NDJSON lines of a stream — issue 13).
        let early: Buffer[] | null = [];
        let text: StringDecoder | null = null;
        const chunks: Buffer[] = [];
        let size = 0;
        const take = (c: Buffer): void => {
          if (settled) return;
          if (asText && consumer.kind === 'text') {
            try {
              const piece = text!.write(c);
              if (piece.length > 0) consumer.onText(piece);
            } catch (err) {
              settle(() => reject(err));
              cancel();
            }
            return;
          }
          size += c.byteLength;
          if (size > req.responseBytesMax) {
            settle(() => reject(new TransportError('RESPONSE_TOO_LARGE', `response exceeds ${req.responseBytesMax} bytes`)));
            cancel();
            return;
          }
          chunks.push(c);
        };
        stream.on('response', (headers) => {
          status = Number(headers[':status'] ?? 0);
          asText = consumer.kind === 'text' && status === 200;
          if (asText) text = new StringDecoder('utf8');
          const waiting = early ?? [];
          early = null;
          for (const c of waiting) take(c);
        });
        stream.on('data', (chunk: Buffer) => {
          if (early) early.push(chunk);
          else take(chunk);
        });
        stream.on('end', () => {
          // Not expected ('response' is queued first), but never lose bytes: collect them as they are.
          const waiting = early ?? [];
          early = null;
          for (const c of waiting) take(c);
          settle(() => {
            if (asText && consumer.kind === 'text' && consumer.endIsError)
              reject(new TransportError('STREAM_ENDED', `${req.url.origin} closed the event stream`));
            else resolve({ status, body: asText ? EMPTY : new Uint8Array(Buffer.concat(chunks)) });
          });
        });
        stream.on('error', (err) => settle(() => reject(failureOf(err, stream, req))));
        // Closed without an error or an end: reset by the node (REFUSED_STREAM: not handled).
        stream.on('close', () =>
          settle(() =>
            reject(failureOf(new TransportError('STREAM_RESET', `${req.url.origin} reset the stream (code ${stream.rstCode ?? 'none'})`), stream, req)),
          ),
        );
        if (hasBody) stream.end(req.body);
      });
    } finally {
      release(o);
    }
  }

  return {
    request: (req) => perform(req, { kind: 'collect' }),
    stream: (req, onText, signal) => perform(req, { kind: 'text', onText, endIsError: true, ...(signal ? { signal } : {}) }),
    streamed: (req, onText) => perform(req, { kind: 'text', onText, endIsError: false }),
    close() {
      for (const o of origins.values()) {
        o.session?.destroy();
        o.session = null;
      }
    },
  };
}
