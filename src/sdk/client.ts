// The TypeScript client of a MedLedger node's REST gateway (src/api). It builds and signs
// proposals and transactions locally with the user's key (the gateway never sees the key), signs
// every request (src/api/auth.ts), trusts only the consortium root CA for TLS, and checks that
// the transaction the gateway asks it to sign is exactly its own proposal with the endorsed
// result before signing it.
import { randomBytes, type KeyObject } from 'node:crypto';
import { Agent, request as httpsRequest } from 'node:https';
import { z } from 'zod';
import { bytesEqual, type Bytes } from '../codec/index.ts';
import { parsePrivateKey, sign } from '../crypto/index.ts';
import { buildProposal, decodeResponse, decodeTxPayload, encodeEnvelope, encodeSignedProposal, proposalHash, signProposal, TxFormatError } from '../ledger/tx.ts';
import { signRequest } from '../api/auth.ts';
import { decodeConfig } from '../ledger/config.ts';
import type { ConfigState } from '../ledger/config-update.ts';
import {
  ConfigResponse,
  type ConfigResponseT,
  BlockEvent,
  BlockResponse,
  ContractEventData,
  EndorseResponse,
  ErrorBody,
  EvaluateResponse,
  HealthResponse,
  StatusResponse,
  TxStatus,
  type BlockEventT,
  type BlockResponseT,
  type ContractEventT,
  type StatusResponseT,
  type TxStatusT,
} from '../api/schemas.ts';

export interface MedLedgerClientOptions {
  /** https://host:port of a node's API. */
  readonly url: string;
  /** The user's certificate and private key (PEM), issued by a consortium organisation CA. */
  readonly certPem: string;
  readonly keyPem: string;
  /** The consortium root CA certificate: the only TLS trust anchor. */
  readonly caPem: string;
  /** Per request (the server waits at most 60 s for a commit); default 75 s. */
  readonly timeoutMs?: number;
  /** Concurrent connections to the node; default 64. */
  readonly socketsMax?: number;
}

/** Every failure: `status` is the HTTP status (0: no answer), `code` a stable machine-readable name. */
export class MedLedgerApiError extends Error {
  override readonly name = 'MedLedgerApiError';
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export interface SubmitOptions {
  /** Wait up to this long for the commit; 0 returns once the ordering service accepted. Default 30 s. */
  readonly waitMs?: number;
}

export interface SubmitResult extends TxStatusT {
  /** The contract's result, as endorsed. */
  readonly payload: Bytes;
  readonly endorsers: readonly string[];
}

export type LedgerEvent = { readonly type: 'block'; readonly block: BlockEventT } | { readonly type: 'contract'; readonly event: ContractEventT };

const RESPONSE_BYTES_MAX = 32 * 1024 * 1024;
const SSE_EVENT_BYTES_MAX = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 75_000;
const DEFAULT_WAIT_MS = 30_000;

const fromB64 = (s: string): Bytes => new Uint8Array(Buffer.from(s, 'base64'));
const toB64 = (b: Bytes): string => Buffer.from(b).toString('base64');

export class MedLedgerClient {
  readonly url: string;
  private readonly base: URL;
  private readonly key: KeyObject;
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(private readonly options: MedLedgerClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new MedLedgerApiError(0, 'BAD_URL', `not a URL: ${String(options.url).slice(0, 200)}`);
    }
    if (base.protocol !== 'https:') throw new MedLedgerApiError(0, 'BAD_URL', `the node API is HTTPS only, got ${base.protocol}//`);
    this.base = base;
    this.url = base.origin;
    try {
      this.key = parsePrivateKey(options.keyPem);
    } catch (err) {
      throw new MedLedgerApiError(0, 'BAD_KEY', `client key: ${(err as Error).message}`);
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.agent = new Agent({ ca: options.caPem, keepAlive: true, maxSockets: options.socketsMax ?? 64 });
  }

  /** Release pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  async health(): Promise<z.infer<typeof HealthResponse>> {
    return HealthResponse.parse(await this.call('GET', '/v1/health', undefined, false));
  }

  async openapi(): Promise<Record<string, unknown>> {
    return z.record(z.string(), z.unknown()).parse(await this.call('GET', '/openapi.json', undefined, false));
  }

  async status(): Promise<StatusResponseT> {
    return this.check(StatusResponse, await this.call('GET', '/v1/status'));
  }

  /** The consortium config in force on the node, and what a config update must build on. */
  async config(): Promise<ConfigResponseT & { readonly state: ConfigState }> {
    const body = this.check(ConfigResponse, await this.call('GET', '/v1/config'));
    let config;
    try {
      config = decodeConfig(fromB64(body.configBase64));
    } catch (err) {
      throw new MedLedgerApiError(502, 'BAD_CONFIG', `the node sent a config this client cannot read: ${(err as Error).message}`);
    }
    return { ...body, state: { record: { sequence: body.sequence, config }, version: body.version } };
  }

  /**
   * Submit a transaction this client built and signed itself (a config update with its admin
   * signatures, say). The node checks that this client is its creator.
   */
  async submitEnvelope(envelope: Bytes, opts: SubmitOptions = {}): Promise<TxStatusT> {
    return this.check(TxStatus, await this.call('POST', '/v1/submit', { envelope: toB64(envelope), waitMs: opts.waitMs ?? DEFAULT_WAIT_MS }));
  }

  private newSignedProposal(contract: string, fn: string, args: readonly string[]): { txId: string; proposalBytes: Bytes; body: { signedProposal: string } } {
    let proposal;
    try {
      proposal = buildProposal({ contract, fn, args, creator: this.options.certPem, nonce: new Uint8Array(randomBytes(24)), timestampMs: Date.now() });
    } catch (err) {
      throw new MedLedgerApiError(0, 'BAD_PROPOSAL', (err as Error).message);
    }
    const signed = signProposal(proposal, { sign: (m) => sign(this.key, m) });
    return { txId: proposal.txId, proposalBytes: signed.proposal, body: { signedProposal: toB64(encodeSignedProposal(signed)) } };
  }

  /** Run a read-only function on the node's peer; the contract's result bytes. */
  async evaluate(contract: string, fn: string, args: readonly string[]): Promise<Bytes> {
    const { body } = this.newSignedProposal(contract, fn, args);
    return fromB64(this.check(EvaluateResponse, await this.call('POST', '/v1/evaluate', body)).payload);
  }

  /** Endorse, check, sign and submit a transaction; by default wait for its validation code. */
  async submit(contract: string, fn: string, args: readonly string[], opts: SubmitOptions = {}): Promise<SubmitResult> {
    const { txId, proposalBytes, body } = this.newSignedProposal(contract, fn, args);
    const endorsed = this.check(EndorseResponse, await this.call('POST', '/v1/endorse', body));
    const txPayload = fromB64(endorsed.txPayload);
    const payload = fromB64(endorsed.payload);
    // Sign only what we meant: our own proposal, with a response for it carrying the result shown.
    try {
      const decoded = decodeTxPayload(txPayload);
      const response = decodeResponse(decoded.response);
      if (endorsed.txId !== txId || !bytesEqual(decoded.proposal, proposalBytes) || !bytesEqual(response.proposalHash, proposalHash(proposalBytes)) || !bytesEqual(response.result.payload, payload)) {
        throw new TxFormatError('it is not this client\'s proposal or not the endorsed result');
      }
    } catch (err) {
      throw new MedLedgerApiError(502, 'BAD_GATEWAY_TX', `the gateway returned a transaction this client will not sign: ${(err as Error).message}`);
    }
    const envelope = encodeEnvelope({ payload: txPayload, signature: sign(this.key, txPayload) });
    const waitMs = opts.waitMs ?? DEFAULT_WAIT_MS;
    const status = this.check(TxStatus, await this.call('POST', '/v1/submit', { envelope: toB64(envelope), waitMs }));
    return { ...status, payload, endorsers: endorsed.endorsers };
  }

  /** Commit status; with waitMs, wait for the commit (404 TX_NOT_FOUND without, 504 on timeout). */
  async txStatus(txId: string, waitMs = 0): Promise<TxStatusT> {
    return this.check(TxStatus, await this.call('GET', `/v1/tx/${encodeURIComponent(txId)}${waitMs > 0 ? `?waitMs=${waitMs}` : ''}`));
  }

  async block(n: number): Promise<BlockResponseT> {
    if (!Number.isSafeInteger(n) || n < 0) throw new MedLedgerApiError(0, 'BAD_REQUEST', `block number must be a non-negative integer, got ${n}`);
    return this.check(BlockResponse, await this.call('GET', `/v1/blocks/${n}`));
  }

  /**
   * Follow committed blocks (from block `from`, default: the next one) and contract events until
   * `signal` aborts (resolves) or the stream fails (rejects with MedLedgerApiError).
   */
  events(from: number | null, onEvent: (event: LedgerEvent) => void, signal?: AbortSignal): Promise<void> {
    const path = `/v1/events${from !== null ? `?from=${from}` : ''}`;
    const url = new URL(path, this.base);
    const headers = signRequest({ method: 'GET', pathAndQuery: path, body: new Uint8Array(0), certPem: this.options.certPem, key: this.key });
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return resolve();
      const req = httpsRequest(url, { method: 'GET', agent: this.agent, headers: { ...headers, accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          collect(res, (text) => reject(this.errorFrom(res.statusCode ?? 0, text)), reject);
          return;
        }
        res.setEncoding('utf8');
        let buffer = '';
        res.on('data', (chunk: string) => {
          buffer += chunk;
          if (buffer.length > SSE_EVENT_BYTES_MAX) {
            req.destroy();
            reject(new MedLedgerApiError(502, 'BAD_STREAM', `an event exceeds ${SSE_EVENT_BYTES_MAX} bytes`));
            return;
          }
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const raw = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let name = 'message';
            let data = '';
            for (const line of raw.split('\n')) {
              if (line.startsWith('event: ')) name = line.slice(7);
              else if (line.startsWith('data: ')) data += line.slice(6);
            }
            if (data === '') continue;
            try {
              const value: unknown = JSON.parse(data);
              if (name === 'block') onEvent({ type: 'block', block: BlockEvent.parse(value) });
              else if (name === 'contract') onEvent({ type: 'contract', event: ContractEventData.parse(value) });
              else if (name === 'error') {
                const e = z.object({ code: z.string(), message: z.string() }).parse(value);
                req.destroy();
                reject(new MedLedgerApiError(503, e.code, e.message));
                return;
              }
            } catch (err) {
              req.destroy();
              reject(new MedLedgerApiError(502, 'BAD_STREAM', `malformed event: ${(err as Error).message}`));
              return;
            }
          }
        });
        res.on('end', () => (signal?.aborted ? resolve() : reject(new MedLedgerApiError(0, 'STREAM_ENDED', `${this.url} closed the event stream`))));
        res.on('error', (err) => (signal?.aborted ? resolve() : reject(this.connectionError(err))));
      });
      const onAbort = (): void => {
        req.destroy();
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err) => (signal?.aborted ? resolve() : reject(this.connectionError(err))));
      req.end();
    });
  }

  private check<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
    const r = schema.safeParse(value);
    if (!r.success) throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${this.url} answered with an unexpected body: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
    return r.data;
  }

  private connectionError(err: Error): MedLedgerApiError {
    const code = (err as NodeJS.ErrnoException).code ?? 'CONNECTION_FAILED';
    return new MedLedgerApiError(0, code, `cannot reach ${this.url}: ${code === 'ECONNREFUSED' ? 'connection refused (is the node running?)' : err.message}`);
  }

  private errorFrom(status: number, text: string): MedLedgerApiError {
    try {
      const body = ErrorBody.parse(JSON.parse(text));
      return new MedLedgerApiError(status, body.error.code, body.error.message);
    } catch {
      return new MedLedgerApiError(status, 'HTTP_ERROR', `${this.url} answered HTTP ${status}: ${text.slice(0, 200)}`);
    }
  }

  /** One signed request; the JSON answer, or MedLedgerApiError. */
  private call(method: 'GET' | 'POST', path: string, body?: unknown, signed = true, retried = false): Promise<unknown> {
    const bytes = body === undefined ? new Uint8Array(0) : new Uint8Array(Buffer.from(JSON.stringify(body), 'utf8'));
    const headers: Record<string, string> = signed ? signRequest({ method, pathAndQuery: path, body: bytes, certPem: this.options.certPem, key: this.key }) : {};
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(bytes.byteLength);
    }
    return new Promise((resolve, reject) => {
      const req = httpsRequest(new URL(path, this.base), { method, agent: this.agent, headers, timeout: this.timeoutMs }, (res) => {
        collect(res, (text) => {
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) return reject(this.errorFrom(status, text));
          try {
            resolve(JSON.parse(text));
          } catch {
            reject(new MedLedgerApiError(502, 'BAD_RESPONSE', `${this.url} answered with invalid JSON`));
          }
        }, (err) => reject(err instanceof MedLedgerApiError ? err : this.connectionError(err)));
      });
      req.on('timeout', () => req.destroy(new MedLedgerApiError(0, 'TIMEOUT', `${this.url} did not answer ${method} ${path.split('?')[0]} within ${this.timeoutMs} ms`)));
      req.on('error', (err) => {
        // A kept-alive socket the server closed while idle fails the next request with ECONNRESET
        // before the server saw it (Node's documented race): retry once on a fresh connection,
        // freshly signed (the request's nonce never reached the server).
        if (!retried && req.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET') {
          this.call(method, path, body, signed, true).then(resolve, reject);
          return;
        }
        reject(err instanceof MedLedgerApiError ? err : this.connectionError(err));
      });
      req.end(bytes);
    });
  }
}

function collect(res: import('node:http').IncomingMessage, done: (text: string) => void, fail: (err: Error) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (c: Buffer) => {
    size += c.byteLength;
    if (size > RESPONSE_BYTES_MAX) {
      res.destroy(new MedLedgerApiError(502, 'RESPONSE_TOO_LARGE', `response exceeds ${RESPONSE_BYTES_MAX} bytes`));
      return;
    }
    chunks.push(c);
  });
  res.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
  res.on('error', fail);
}
