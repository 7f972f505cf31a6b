// HTTP/1.1 for the SDK on Node.js: node:https with the consortium root CA as the only trust anchor
// and a keep-alive pool. The default is HTTP/2 (http2.ts, decision 1310); this one stays for nodes
// or proxies that speak only HTTP/1.1, and for A/B measurements (`medledger bench --http1`).
// Signing is not done here: the client signs, this only moves bytes.
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { HttpRequest, HttpResponse, HttpTransport, TransportOptions } from './transport.ts';
import { TransportError } from './transport.ts';

export function createHttp1Transport(opts: TransportOptions): HttpTransport {
  if (!opts.caPem) throw new TransportError('BAD_OPTIONS', 'on Node.js the client needs caPem: the consortium root CA, the only TLS trust anchor');
  const agent = new Agent({ ca: opts.caPem, keepAlive: true, maxSockets: opts.socketsMax ?? 64 });

  const connectionError = (err: Error, origin: string): TransportError => {
    if (err instanceof TransportError) return err;
    const code = (err as NodeJS.ErrnoException).code ?? 'CONNECTION_FAILED';
    return new TransportError(code, `cannot reach ${origin}: ${code === 'ECONNREFUSED' ? 'connection refused (is the node running?)' : err.message}`);
  };

  return {
    request(req: HttpRequest): Promise<HttpResponse> {
      return new Promise((resolve, reject) => {
        const r = httpsRequest(req.url, { method: req.method, agent, headers: req.headers, timeout: req.timeoutMs }, (res) => {
          collect(
            res,
            req.responseBytesMax,
            (body) => resolve({ status: res.statusCode ?? 0, body }),
            (err) => reject(connectionError(err, req.url.origin)),
          );
        });
        r.on('timeout', () =>
          r.destroy(new TransportError('TIMEOUT', `${req.url.origin} did not answer ${req.method} ${req.url.pathname} within ${req.timeoutMs} ms`)),
        );
        r.on('error', (err) => {
          // A kept-alive socket the server closed while idle fails the next request with
          // ECONNRESET before the server saw it (Node's documented race): the caller may retry
          // once, freshly signed (the request's nonce never reached the server).
          const e = connectionError(err, req.url.origin);
          reject(r.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' ? new TransportError(e.code, e.message, true) : e);
        });
        r.end(req.body);
      });
    },

    stream(req, onText, signal) {
      return new Promise((resolve, reject) => {
        if (signal?.aborted) return resolve({ status: 0, body: new Uint8Array(0) });
        const r = httpsRequest(req.url, { method: req.method, agent, headers: req.headers }, (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            collect(
              res,
              req.responseBytesMax,
              (body) => resolve({ status, body }),
              (err) => reject(connectionError(err, req.url.origin)),
            );
            return;
          }
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            try {
              onText(chunk);
            } catch (err) {
              r.destroy();
              reject(err);
            }
          });
          res.on('end', () =>
            signal?.aborted
              ? resolve({ status: 200, body: new Uint8Array(0) })
              : reject(new TransportError('STREAM_ENDED', `${req.url.origin} closed the event stream`)),
          );
          res.on('error', (err) => (signal?.aborted ? resolve({ status: 200, body: new Uint8Array(0) }) : reject(connectionError(err, req.url.origin))));
        });
        signal?.addEventListener(
          'abort',
          () => {
            r.destroy();
            resolve({ status: 200, body: new Uint8Array(0) });
          },
          { once: true },
        );
        r.on('error', (err) => (signal?.aborted ? resolve({ status: 200, body: new Uint8Array(0) }) : reject(connectionError(err, req.url.origin))));
        r.end();
      });
    },

    streamed(req, onText) {
      return new Promise((resolve, reject) => {
        const r = httpsRequest(req.url, { method: req.method, agent, headers: req.headers, timeout: req.timeoutMs }, (res) => {
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            collect(
              res,
              req.responseBytesMax,
              (body) => resolve({ status, body }),
              (err) => reject(connectionError(err, req.url.origin)),
            );
            return;
          }
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            try {
              onText(chunk);
            } catch (err) {
              r.destroy();
              reject(err);
            }
          });
          res.on('end', () => resolve({ status: 200, body: new Uint8Array(0) }));
          res.on('error', (err) => reject(connectionError(err, req.url.origin)));
        });
        r.on('timeout', () =>
          r.destroy(new TransportError('TIMEOUT', `${req.url.origin} did not answer ${req.method} ${req.url.pathname} within ${req.timeoutMs} ms`)),
        );
        r.on('error', (err) => reject(connectionError(err, req.url.origin)));
        r.end(req.body);
      });
    },

    close() {
      agent.destroy();
    },
  };
}

function collect(res: IncomingMessage, bytesMax: number, done: (body: Uint8Array) => void, fail: (err: Error) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (c: Buffer) => {
    size += c.byteLength;
    if (size > bytesMax) {
      res.destroy(new TransportError('RESPONSE_TOO_LARGE', `response exceeds ${bytesMax} bytes`));
      return;
    }
    chunks.push(c);
  });
  res.on('end', () => done(new Uint8Array(Buffer.concat(chunks))));
  res.on('error', fail);
}
