// The TypeScript client of a MedLedger node's REST gateway (src/api), for Node.js and browsers.
// It builds and signs proposals and transactions locally with the user's key (the gateway never
// sees the key), signs every request for the node it addresses (src/protocol/request-signing.ts),
// and checks that the transaction the gateway asks it to sign is exactly its own proposal with the
// endorsed result before signing it. HTTP is http.ts (node:https, the consortium root CA as the
// only trust anchor) or, in the browser build, http.browser.ts (fetch).
import { z } from 'zod';
import { bytesEqual, encode, fromBase64, randomBytes, toBase64, utf8, type Bytes } from '../codec/index.ts';
import { buildProposal, decodeResponse, decodeTxPayload, encodeEnvelope, encodeSignedProposal, proposalHash, TxFormatError } from '../ledger/tx.ts';
import { signRequest, type RequestSigner } from '../protocol/request-signing.ts';
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
  NetworkResponse,
  RawBlockResponse,
  WhoAmIResponse,
  TxStatus,
  type BlockEventT,
  type BlockResponseT,
  type ContractEventT,
  type StatusResponseT,
  type NetworkResponseT,
  type WhoAmIResponseT,
  type TxStatusT,
} from '../protocol/schemas.ts';
import { createHttpTransport } from './http.ts';
import { pemSigner } from './signer.ts';
import { TransportError, type HttpTransport } from './transport.ts';

export interface MedLedgerClientOptions {
  /** https://host:port of a node's API (in a browser: the page's origin, http on loopback allowed). */
  readonly url: string;
  /** The user's certificate (PEM), issued by a consortium organisation CA. */
  readonly certPem: string;
  /** The user's private key (PEM; Node.js), or `signer` holding it (e.g. a non-extractable WebCrypto key). */
  readonly keyPem?: string;
  readonly signer?: RequestSigner;
  /** The consortium root CA certificate: the only TLS trust anchor (Node.js; a browser uses its own). */
  readonly caPem?: string;
  /** The id of the node at `url`, if known; otherwise asked once from GET /v1/health. */
  readonly nodeId?: string;
  /** HTTP underneath (default: node:https on Node.js, fetch in the browser build). */
  readonly transport?: HttpTransport;
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

const RESPONSE_BYTES_MAX = 64 * 1024 * 1024;
const SSE_EVENT_BYTES_MAX = 4 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 75_000;
const DEFAULT_WAIT_MS = 30_000;

const fromB64 = (s: string): Bytes => {
  const bytes = fromBase64(s);
  if (!bytes) throw new MedLedgerApiError(502, 'BAD_RESPONSE', 'the node sent bytes that are not canonical base64');
  return bytes;
};
const toB64 = toBase64;
const decoder = new TextDecoder();
const isLoopback = (host: string): boolean => host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);

export class MedLedgerClient {
  readonly url: string;
  readonly certPem: string;
  private readonly base: URL;
  private readonly signer: RequestSigner;
  private readonly transport: HttpTransport;
  private readonly timeoutMs: number;
  private audience: Promise<string> | null;

  constructor(options: MedLedgerClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new MedLedgerApiError(0, 'BAD_URL', `not a URL: ${String(options.url).slice(0, 200)}`);
    }
    // Plain http only to a loopback console listener (a browser on the same machine; decision 1200).
    if (base.protocol !== 'https:' && !(base.protocol === 'http:' && isLoopback(base.hostname))) throw new MedLedgerApiError(0, 'BAD_URL', `the node API is HTTPS only (plain http only on loopback), got ${base.protocol}//${base.host}`);
    this.base = base;
    this.url = base.origin;
    this.certPem = options.certPem;
    try {
      if (options.signer) this.signer = options.signer;
      else if (options.keyPem !== undefined) this.signer = pemSigner(options.certPem, options.keyPem);
      else throw new Error('give keyPem or signer');
    } catch (err) {
      throw new MedLedgerApiError(0, 'BAD_KEY', `client key: ${(err as Error).message}`);
    }
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    try {
      this.transport = options.transport ?? createHttpTransport({ ...(options.caPem !== undefined ? { caPem: options.caPem } : {}), ...(options.socketsMax !== undefined ? { socketsMax: options.socketsMax } : {}) });
    } catch (err) {
      throw new MedLedgerApiError(0, err instanceof TransportError ? err.code : 'BAD_OPTIONS', (err as Error).message);
    }
    this.audience = options.nodeId !== undefined ? Promise.resolve(options.nodeId) : null;
  }

  /** Release pooled connections. */
  close(): void {
    this.transport.close();
  }

  /** The id of the node this client talks to (requests are signed for it alone). */
  nodeId(): Promise<string> {
    if (!this.audience) {
      const asked = this.health().then((h) => h.nodeId);
      // A failed lookup is not cached: the next request asks again.
      asked.catch(() => {
        if (this.audience === asked) this.audience = null;
      });
      this.audience = asked;
    }
    return this.audience;
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

  /** Who the node authenticates this client as (organisation, id, role). */
  async whoami(): Promise<WhoAmIResponseT> {
    return this.check(WhoAmIResponse, await this.call('GET', '/v1/whoami'));
  }

  /** Every node of the consortium as this client's node sees it (reachable, status). */
  async network(): Promise<NetworkResponseT> {
    return this.check(NetworkResponse, await this.call('GET', '/v1/network'));
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

  private async newSignedProposal(contract: string, fn: string, args: readonly string[]): Promise<{ txId: string; proposalBytes: Bytes; body: { signedProposal: string } }> {
    let proposal;
    try {
      proposal = buildProposal({ contract, fn, args, creator: this.certPem, nonce: randomBytes(24), timestampMs: Date.now() });
    } catch (err) {
      throw new MedLedgerApiError(0, 'BAD_PROPOSAL', (err as Error).message);
    }
    const proposalBytes = encode(proposal);
    const signed = { proposal: proposalBytes, signature: await this.signer.sign(proposalBytes) };
    return { txId: proposal.txId, proposalBytes, body: { signedProposal: toB64(encodeSignedProposal(signed)) } };
  }

  /** Run a read-only function on the node's peer; the contract's result bytes. */
  async evaluate(contract: string, fn: string, args: readonly string[]): Promise<Bytes> {
    const { body } = await this.newSignedProposal(contract, fn, args);
    return fromB64(this.check(EvaluateResponse, await this.call('POST', '/v1/evaluate', body)).payload);
  }

  /** Endorse, check, sign and submit a transaction; by default wait for its validation code. */
  async submit(contract: string, fn: string, args: readonly string[], opts: SubmitOptions = {}): Promise<SubmitResult> {
    const { txId, proposalBytes, body } = await this.newSignedProposal(contract, fn, args);
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
    const envelope = encodeEnvelope({ payload: txPayload, signature: await this.signer.sign(txPayload) });
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

  /** A block's bytes and this node's validation codes (admins and supervisors). */
  async rawBlock(n: number): Promise<{ number: number; block: Bytes; validation: readonly string[] }> {
    if (!Number.isSafeInteger(n) || n < 0) throw new MedLedgerApiError(0, 'BAD_REQUEST', `block number must be a non-negative integer, got ${n}`);
    const r = this.check(RawBlockResponse, await this.call('GET', `/v1/blocks/${n}/raw`));
    return { number: r.number, block: fromB64(r.blockBase64), validation: r.validation };
  }

  /**
   * Follow committed blocks (from block `from`, default: the next one) and contract events until
   * `signal` aborts (resolves) or the stream fails (rejects with MedLedgerApiError).
   */
  async events(from: number | null, onEvent: (event: LedgerEvent) => void, signal?: AbortSignal): Promise<void> {
    const path = `/v1/events${from !== null ? `?from=${from}` : ''}`;
    if (signal?.aborted) return;
    const headers = await signRequest({ audience: await this.nodeId(), method: 'GET', pathAndQuery: path, body: new Uint8Array(0), signer: this.signer });
    let buffer = '';
    const onText = (chunk: string): void => {
      buffer += chunk;
      if (buffer.length > SSE_EVENT_BYTES_MAX) throw new MedLedgerApiError(502, 'BAD_STREAM', `an event exceeds ${SSE_EVENT_BYTES_MAX} bytes`);
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
        let value: unknown;
        try {
          value = JSON.parse(data);
        } catch (err) {
          throw new MedLedgerApiError(502, 'BAD_STREAM', `malformed event: ${(err as Error).message}`);
        }
        const parsed = name === 'block' ? BlockEvent.safeParse(value) : name === 'contract' ? ContractEventData.safeParse(value) : name === 'error' ? z.object({ code: z.string(), message: z.string() }).safeParse(value) : null;
        if (parsed === null) continue;
        if (!parsed.success) throw new MedLedgerApiError(502, 'BAD_STREAM', `malformed ${name} event: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`);
        if (name === 'block') onEvent({ type: 'block', block: parsed.data as BlockEventT });
        else if (name === 'contract') onEvent({ type: 'contract', event: parsed.data as ContractEventT });
        else {
          const e = parsed.data as { code: string; message: string };
          throw new MedLedgerApiError(503, e.code, e.message);
        }
      }
    };
    let res;
    try {
      res = await this.transport.stream({ method: 'GET', url: new URL(path, this.base), headers: { ...headers, accept: 'text/event-stream' }, body: new Uint8Array(0), timeoutMs: this.timeoutMs, responseBytesMax: RESPONSE_BYTES_MAX }, onText, signal);
    } catch (err) {
      throw err instanceof TransportError ? new MedLedgerApiError(0, err.code, err.message) : err;
    }
    if (res.status !== 200 && !signal?.aborted) throw this.errorFrom(res.status, decoder.decode(res.body));
  }

  private check<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
    const r = schema.safeParse(value);
    if (!r.success) throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${this.url} answered with an unexpected body: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`);
    return r.data;
  }

  private errorFrom(status: number, text: string): MedLedgerApiError {
    try {
      const body = ErrorBody.parse(JSON.parse(text));
      return new MedLedgerApiError(status, body.error.code, body.error.message);
    } catch {
      return new MedLedgerApiError(status, 'HTTP_ERROR', `${this.url} answered HTTP ${status}: ${text.slice(0, 200)}`);
    }
  }

  /**
   * One request (signed for this node unless `signed` is false); the JSON answer, or
   * MedLedgerApiError. Public for the SDK's other clients (HealthClient's content routes).
   */
  async call(method: 'GET' | 'POST', path: string, body?: unknown, signed = true): Promise<unknown> {
    const bytes = body === undefined ? new Uint8Array(0) : utf8(JSON.stringify(body));
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = signed ? await signRequest({ audience: await this.nodeId(), method, pathAndQuery: path, body: bytes, signer: this.signer }) : {};
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res;
      try {
        res = await this.transport.request({ method, url: new URL(path, this.base), headers, body: bytes, timeoutMs: this.timeoutMs, responseBytesMax: RESPONSE_BYTES_MAX });
      } catch (err) {
        if (err instanceof TransportError) {
          // The request never reached the server (a dropped kept-alive socket): resend once, freshly signed.
          if (err.retryable && attempt === 1) continue;
          throw new MedLedgerApiError(0, err.code, err.message);
        }
        throw err;
      }
      const text = decoder.decode(res.body);
      if (res.status < 200 || res.status >= 300) throw this.errorFrom(res.status, text);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${this.url} answered with invalid JSON`);
      }
    }
  }
}
