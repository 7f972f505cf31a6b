// What the client needs from HTTP, whatever runs it: node:https on Node.js (http.ts) or fetch in
// a browser (http.browser.ts). Bytes in, bytes out; the client signs and parses.
import type { Bytes } from '../codec/index.ts';

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Bytes;
  readonly timeoutMs: number;
  readonly responseBytesMax: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly body: Bytes;
}

export interface HttpTransport {
  request(req: HttpRequest): Promise<HttpResponse>;
  /**
   * A streaming GET: `onText` receives the body's text as it arrives while the status is 200;
   * resolves when `signal` aborts, or with the status and body of a non-200 answer; rejects when
   * the stream breaks (TransportError) or `onText` throws.
   */
  stream(req: HttpRequest, onText: (chunk: string) => void, signal?: AbortSignal): Promise<HttpResponse>;
  /**
   * A request whose answer arrives in pieces (NDJSON lines, one per transaction as it commits):
   * `onText` receives the body's text as it arrives while the status is 200, and the promise
   * resolves (empty body) when the answer ends; a non-200 answer resolves with its status and
   * body; a broken stream rejects (TransportError, as `request`), and so does `onText` throwing.
   */
  streamed(req: HttpRequest, onText: (chunk: string) => void): Promise<HttpResponse>;
  close(): void;
}

export interface TransportOptions {
  /** The consortium root CA (PEM): on Node.js the only TLS trust anchor; a browser uses its own. */
  readonly caPem?: string;
  readonly socketsMax?: number;
  /** Node.js: 'h2' (default, one persistent HTTP/2 session per node) or 'http1' (a keep-alive pool). */
  readonly protocol?: 'h2' | 'http1';
  /** HTTP/2: requests in flight on one node's session at most (more wait for a free stream); default 100. */
  readonly streamsMax?: number;
}

/** No HTTP answer: `code` names why (ECONNREFUSED, TIMEOUT, …); `retryable` when resending is safe. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: string,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
  }
}
