// HTTP for the SDK in a browser: fetch, under the page's origin and the browser's own TLS trust
// (the console is served by the node it talks to). Same exports as http.ts.
import type { HttpRequest, HttpResponse, HttpTransport, TransportOptions } from './transport.ts';
import { TransportError } from './transport.ts';

async function readBounded(res: Response, bytesMax: number): Promise<Uint8Array> {
  const reader = res.body?.getReader();
  if (!reader) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > bytesMax) {
      await reader.cancel();
      throw new TransportError('RESPONSE_TOO_LARGE', `response exceeds ${bytesMax} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

export function createHttpTransport(_opts: TransportOptions): HttpTransport {
  const fail = (err: unknown, req: HttpRequest): TransportError => {
    if (err instanceof TransportError) return err;
    if ((err as Error).name === 'TimeoutError')
      return new TransportError('TIMEOUT', `${req.url.origin} did not answer ${req.method} ${req.url.pathname} within ${req.timeoutMs} ms`);
    return new TransportError('CONNECTION_FAILED', `cannot reach ${req.url.origin}: ${(err as Error).message} (is the node running?)`);
  };
  return {
    async request(req) {
      try {
        const res = await fetch(req.url, {
          method: req.method,
          headers: req.headers,
          ...(req.method !== 'GET' ? { body: req.body } : {}),
          signal: AbortSignal.timeout(req.timeoutMs),
          credentials: 'omit',
        });
        return { status: res.status, body: await readBounded(res, req.responseBytesMax) };
      } catch (err) {
        throw fail(err, req);
      }
    },

    async stream(req, onText, signal): Promise<HttpResponse> {
      let res: Response;
      try {
        res = await fetch(req.url, { method: 'GET', headers: req.headers, credentials: 'omit', ...(signal ? { signal } : {}) });
      } catch (err) {
        if (signal?.aborted) return { status: 0, body: new Uint8Array(0) };
        throw fail(err, req);
      }
      if (res.status !== 200) return { status: res.status, body: await readBounded(res, req.responseBytesMax) };
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          onText(value);
        }
      } catch (err) {
        if (signal?.aborted) return { status: 200, body: new Uint8Array(0) };
        throw err instanceof TransportError || !(err instanceof Error) || err.name !== 'TypeError' ? err : fail(err, req);
      }
      if (signal?.aborted) return { status: 200, body: new Uint8Array(0) };
      throw new TransportError('STREAM_ENDED', `${req.url.origin} closed the event stream`);
    },

    async streamed(req, onText): Promise<HttpResponse> {
      let res: Response;
      try {
        res = await fetch(req.url, {
          method: req.method,
          headers: req.headers,
          ...(req.method !== 'GET' ? { body: req.body } : {}),
          signal: AbortSignal.timeout(req.timeoutMs),
          credentials: 'omit',
        });
      } catch (err) {
        throw fail(err, req);
      }
      if (res.status !== 200) return { status: res.status, body: await readBounded(res, req.responseBytesMax) };
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          onText(value);
        }
      } catch (err) {
        throw err instanceof TransportError || !(err instanceof Error) || (err.name !== 'TypeError' && err.name !== 'TimeoutError') ? err : fail(err, req);
      }
      return { status: 200, body: new Uint8Array(0) };
    },

    close() {
      // fetch keeps no pool of ours to release.
    },
  };
}
