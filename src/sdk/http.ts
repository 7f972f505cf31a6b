// HTTP for the SDK on Node.js: HTTP/2 by default (http2.ts: one persistent session per node, many
// requests in flight on it), HTTP/1.1 when asked (http1.ts). The browser build swaps this file for
// http.browser.ts (fetch; the browser negotiates h2 itself), same exports.
import { createHttp1Transport } from './http1.ts';
import { createHttp2Transport } from './http2.ts';
import type { HttpTransport, TransportOptions } from './transport.ts';

export function createHttpTransport(opts: TransportOptions): HttpTransport {
  return opts.protocol === 'http1' ? createHttp1Transport(opts) : createHttp2Transport(opts);
}
