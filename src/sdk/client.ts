// The TypeScript client of a MedLedger node's REST gateway (src/api), for Node.js and browsers.
// It builds and signs proposals and transactions locally with the user's key (the gateway never
// sees the key), signs every request for the node it addresses (src/protocol/request-signing.ts) —
// except /v1/endorse and /v1/submit, whose bodies (the signed proposal, the signed envelope) already
// prove who sends them (decision 1300) —
// and checks that the transaction the gateway asks it to sign is exactly its own proposal with the
// endorsed result before signing it. HTTP is http.ts (node:https, the consortium root CA as the
// only trust anchor) or, in the browser build, http.browser.ts (fetch).
import { z } from 'zod';
import { bytesEqual, decode, encode, fromBase64, fromHex, randomBytes, toBase64, utf8, type Bytes } from '../codec/index.ts';
import { signBatchAsync } from '../crypto/batch-signature.ts';
import { buildProposal, encodeEnvelope, encodeSignedProposal, parseTx, proposalHash, TxFormatError } from '../ledger/tx.ts';
import { requestAudience, signRequest, type RequestSigner } from '../protocol/request-signing.ts';
import { rateSignedBytes } from '../consensus/gpbft/config.ts';
import { decodeConfig } from '../ledger/config.ts';
import type { ConfigState } from '../ledger/config-update.ts';
import {
  ConfigResponse,
  type ConfigResponseT,
  BlockEvent,
  BlockResponse,
  ContractEventData,
  EndorseResponse,
  EndorseBatchResponse,
  EndorseBatchCborResponse,
  ENDORSE_BATCH_MAX,
  CBOR_MEDIA_TYPE,
  ErrorBody,
  EvaluateResponse,
  HealthResponse,
  LabJob,
  StatusResponse,
  NetworkResponse,
  RawBlockResponse,
  WhoAmIResponse,
  GpbftOpResponse,
  type GpbftOpResponseT,
  TxStatus,
  SubmitBatchResponse,
  SUBMIT_BATCH_MAX,
  TX_STATUSES_MAX,
  TxResult,
  type TxResultT,
  type SubmitBatchResponseT,
  type BlockEventT,
  type LabJobT,
  type LabSimulationBodyT,
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
  /**
   * The consortium's genesis block hash (hex) every proposal names (decision 1389), pinned by a
   * caller who knows it (e.g. from its consortium directory); otherwise asked once from the node.
   */
  readonly consortium?: string;
  /** HTTP underneath (default: node:https on Node.js, fetch in the browser build). */
  readonly transport?: HttpTransport;
  /** Per request (the server waits at most 60 s for a commit); default 75 s. */
  readonly timeoutMs?: number;
  /** HTTP/1.1 only: concurrent connections to the node; default 64. */
  readonly socketsMax?: number;
  /** Node.js: 'h2' (default: one persistent HTTP/2 session per node, decision 1310) or 'http1'. */
  readonly protocol?: 'h2' | 'http1';
  /** HTTP/2: requests in flight on one node's session at most (more wait their turn); default 100. */
  readonly streamsMax?: number;
  /**
   * Other nodes to resubmit a transaction to when this node leaves its outcome unknown (issue
   * 11): their API URLs, or 'discover' to learn them from this node's consortium configuration
   * at the first submission. None by default (a browser page may only reach its own node).
   */
  readonly failover?: readonly string[] | 'discover';
  /**
   * How the batch routes' bodies travel (decision 1320): 'cbor' (default: DAG-CBOR, bytes as
   * byte strings, and a DAG-CBOR answer from POST /v1/endorse/batch) or 'json' (base64 in JSON).
   */
  readonly batchBodies?: 'cbor' | 'json';
}

/**
 * Every failure: `status` is the HTTP status (0: no answer), `code` a stable machine-readable
 * name, `txId` the transaction concerned when there is one (for a submission whose outcome is
 * unknown: the id to check). `maybeSent` is false only when the request certainly never reached
 * the node (connection refused before anything was written).
 */
/** A request body to send as DAG-CBOR (decision 1320; the batch routes), not JSON. */
export class CborRequestBody {
  constructor(readonly value: unknown) {}
}

/** What an endorsement returned, bytes decoded (from base64 in JSON, or DAG-CBOR byte strings). */
interface EndorsedBytes {
  readonly txId: string;
  readonly payload: Bytes;
  readonly txPayload: Bytes;
  readonly endorsers: readonly string[];
}

/**
 * Proposal nonces (24 random bytes each) cut from a buffer filled once per 512 proposals: one
 * call into the system's CSPRNG instead of one per proposal (issue 13: ~10 µs each on the bench
 * client). Every byte is handed out once, as a copy.
 */
const NONCE_BYTES = 24;
const NONCE_POOL_BYTES = NONCE_BYTES * 512;
let noncePool: Bytes = new Uint8Array(0);
let nonceOffset = 0;
function proposalNonce(): Bytes {
  if (nonceOffset + NONCE_BYTES > noncePool.byteLength) {
    noncePool = randomBytes(NONCE_POOL_BYTES);
    nonceOffset = 0;
  }
  const nonce = noncePool.slice(nonceOffset, nonceOffset + NONCE_BYTES);
  nonceOffset += NONCE_BYTES;
  return nonce;
}

function fieldsOf(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) throw new TxFormatError(`${what} is not a map`);
  return value as Record<string, unknown>;
}

function bytesField(map: Record<string, unknown>, key: string): Bytes {
  const v = map[key];
  if (!(v instanceof Uint8Array)) throw new TxFormatError(`${key} is not bytes`);
  return v;
}

export class MedLedgerApiError extends Error {
  override readonly name: string = 'MedLedgerApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly txId: string | null = null,
    readonly maybeSent = true,
  ) {
    super(message);
  }
}

/**
 * A submission that may or may not have been ordered: the node died or timed out after the
 * transaction left this client, and no other node could say. The transaction is not lost track
 * of: `txId` names it; `medledger tx status <txId>` (GET /v1/tx/<txId>) on any node tells, and
 * resubmitting the same signed envelope is safe (a duplicate txId is never ordered twice).
 */
export class OutcomeUnknownError extends MedLedgerApiError {
  override readonly name = 'OutcomeUnknownError';
  constructor(txId: string, cause: string) {
    super(
      0,
      'OUTCOME_UNKNOWN',
      `outcome unknown: transaction ${txId} may have committed (${cause}); check it with \`medledger tx status ${txId}\` or GET /v1/tx/${txId} on any node — resubmitting the same envelope is safe`,
      txId,
    );
  }
}

/** 5xx answers in which the node says it did not pass the transaction on (a refusal, not unknown). */
const NOT_ORDERED_CODES = new Set(['ORDERING_UNAVAILABLE']);

/** Worth resubmitting elsewhere: no answer, or a server-side failure (never a 4xx refusal). */
function retryElsewhere(err: MedLedgerApiError): boolean {
  return err.status === 0 || err.status >= 500;
}

/** Whether the transaction may have been ordered despite this failure. */
function mayHaveOrdered(err: MedLedgerApiError): boolean {
  if (err.status === 0) return err.maybeSent;
  return !NOT_ORDERED_CODES.has(err.code);
}

export interface SubmitOptions {
  /** Wait up to this long for the commit; 0 returns once the ordering service accepted. Default 30 s. */
  readonly waitMs?: number;
}

/** An endorsed transaction this client checked and signed, ready to submit. */
export interface PreparedTx {
  readonly txId: string;
  readonly envelope: Bytes;
  readonly payload: Bytes;
  readonly endorsers: readonly string[];
}

export interface SubmitBatchOptions extends SubmitOptions {
  /**
   * The envelopes' txIds when the caller knows them (prepare() returned them): spares decoding
   * every envelope to learn them. A line for a txId not given here is a BAD_STREAM error.
   */
  readonly txIds?: readonly string[];
  /**
   * Hear each transaction's result as soon as the node knows it (the answer is streamed,
   * application/x-ndjson); `index` is its position in the request.
   */
  readonly onResult?: (index: number, result: TxResultT) => void;
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
  /** What requests are signed for: this node and its consortium (decision 1398), once known. */
  private signedFor: Promise<string> | null = null;
  private readonly pinnedConsortium: string | undefined;
  /** The consortium's genesis hash, once known (undefined: a node older than decision 1389 does not say). */
  private consortiumName: Promise<string | undefined> | null;
  private readonly failover: MedLedgerClientOptions['failover'];
  /** Other nodes' API URLs (learned once when failover is 'discover'). */
  private alternates: Promise<readonly string[]> | null = null;
  /** 'json' from the first 415 of a node that predates CBOR bodies (decision 1320) on. */
  private batchBodies: 'cbor' | 'json';

  constructor(options: MedLedgerClientOptions) {
    let base: URL;
    try {
      base = new URL(options.url);
    } catch {
      throw new MedLedgerApiError(0, 'BAD_URL', `not a URL: ${String(options.url).slice(0, 200)}`);
    }
    // Plain http only to a loopback console listener (a browser on the same machine; decision 1200).
    if (base.protocol !== 'https:' && !(base.protocol === 'http:' && isLoopback(base.hostname)))
      throw new MedLedgerApiError(0, 'BAD_URL', `the node API is HTTPS only (plain http only on loopback), got ${base.protocol}//${base.host}`);
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
      this.transport =
        options.transport ??
        createHttpTransport({
          ...(options.caPem !== undefined ? { caPem: options.caPem } : {}),
          ...(options.socketsMax !== undefined ? { socketsMax: options.socketsMax } : {}),
          ...(options.protocol !== undefined ? { protocol: options.protocol } : {}),
          ...(options.streamsMax !== undefined ? { streamsMax: options.streamsMax } : {}),
        });
    } catch (err) {
      throw new MedLedgerApiError(0, err instanceof TransportError ? err.code : 'BAD_OPTIONS', (err as Error).message);
    }
    this.audience = options.nodeId !== undefined ? Promise.resolve(options.nodeId) : null;
    this.consortiumName = options.consortium !== undefined ? Promise.resolve(options.consortium) : null;
    this.pinnedConsortium = options.consortium;
    this.failover = options.failover;
    this.batchBodies = options.batchBodies ?? 'cbor';
  }

  /** This user, at another node of the consortium (failover): same identity, transport and timeout. */
  private at(url: string): MedLedgerClient {
    return new MedLedgerClient({ url, certPem: this.certPem, signer: this.signer, transport: this.transport, timeoutMs: this.timeoutMs });
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

  /**
   * The audience every request is signed for: this node's id and its consortium's genesis hash
   * (decisions 1005, 1398). A pinned `consortium` option is used as given — a client set up for
   * one consortium that reaches a node of another is then refused, not served.
   */
  private requestAudience(): Promise<string> {
    if (!this.signedFor) {
      const asked = (async () => {
        // One GET /v1/health answers both unless they were given.
        const health = this.audience === null || this.pinnedConsortium === undefined ? this.health() : null;
        const [nodeId, consortium] = await Promise.all([
          this.audience ?? health!.then((h) => h.nodeId),
          this.pinnedConsortium ?? health!.then((h) => h.genesisHashHex),
        ]);
        if (consortium === undefined)
          throw new MedLedgerApiError(
            0,
            'NODE_TOO_OLD',
            `${this.url} does not report its consortium (GET /v1/health genesisHashHex), which requests are signed for: upgrade it`,
          );
        return requestAudience(nodeId, consortium);
      })();
      // A failed lookup is not cached: the next request asks again.
      asked.catch(() => {
        if (this.signedFor === asked) this.signedFor = null;
      });
      this.signedFor = asked;
    }
    return this.signedFor;
  }

  /**
   * The consortium this client's transactions are for: its genesis block hash (hex), which every
   * proposal names so it cannot be committed in another consortium (decision 1389). Pinned by
   * the `consortium` option, else asked once from the node's status; undefined from a node older
   * than that (its proposals then name none, as an older client's).
   */
  consortium(): Promise<string | undefined> {
    if (!this.consortiumName) {
      const asked = this.askConsortium();
      // A failed lookup is not cached: the next proposal asks again.
      asked.then(
        (name) => {
          if (name === undefined && this.consortiumName === asked) this.consortiumName = null;
        },
        () => {
          if (this.consortiumName === asked) this.consortiumName = null;
        },
      );
      this.consortiumName = asked;
    }
    return this.consortiumName;
  }

  /**
   * GET /v1/health (open, cheap) of this node, or — when it cannot be reached — of the next one
   * (every node of a consortium has the same genesis), as endorsement does. No answer: undefined,
   * so the proposal goes out unbound and endorsement reports what is wrong, as before 1389.
   */
  private async askConsortium(): Promise<string | undefined> {
    if (this.failover === 'discover' && this.alternates === null) this.alternates = this.discoverAlternates();
    const ask = async (node: MedLedgerClient): Promise<string | undefined> => {
      try {
        return (await node.health()).genesisHashHex;
      } catch {
        return undefined; // unreachable, or an answer that is no health report
      }
    };
    const mine = await ask(this);
    if (mine !== undefined) return mine;
    for (const url of await (this.alternates ?? Promise.resolve(Array.isArray(this.failover) ? this.failover : []))) {
      const name = await ask(this.at(url));
      if (name !== undefined) return name;
    }
    return undefined;
  }

  async health(): Promise<z.infer<typeof HealthResponse>> {
    return HealthResponse.parse(await this.call('GET', '/v1/health', undefined, false));
  }

  /** The node's Prometheus metrics (GET /metrics, open: no identities, no health data) as text. */
  async metricsText(): Promise<string> {
    let res;
    try {
      res = await this.transport.request({
        method: 'GET',
        url: new URL('/metrics', this.base),
        headers: {},
        body: new Uint8Array(0),
        timeoutMs: this.timeoutMs,
        responseBytesMax: RESPONSE_BYTES_MAX,
      });
    } catch (err) {
      throw err instanceof TransportError ? new MedLedgerApiError(0, err.code, err.message) : err;
    }
    const text = decoder.decode(res.body);
    if (res.status !== 200) throw this.errorFrom(res.status, text);
    return text;
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

  /**
   * gpbft's node update (decision 1280), as an admin, through this client's node's orderer: rate
   * another hospital's orderer (0–100; below the consortium's rating threshold it is removed).
   */
  async gpbftRate(nodeId: string, rating: number, options: { readonly nowMs?: number; readonly genesisHashHex?: string } = {}): Promise<GpbftOpResponseT> {
    // The admin signs the rating itself (decision 1281): the entry carries this signature and the
    // certificate, and every member of the consortium checks them before voting for it. The
    // signature names the consortium (decision 1387): the genesis block hash the caller pins
    // (e.g. from its consortium directory), or else the one its node reports.
    const genesisHashHex = options.genesisHashHex ?? (await this.consortium());
    if (genesisHashHex !== undefined && !/^[0-9a-f]{64}$/.test(genesisHashHex))
      throw new MedLedgerApiError(
        0,
        'BAD_GENESIS_HASH',
        `genesisHashHex must be 64 lowercase hex digits (a SHA-256 hash), got "${genesisHashHex.slice(0, 80)}"`,
        null,
        false,
      );
    if (genesisHashHex === undefined)
      throw new MedLedgerApiError(
        0,
        'NODE_TOO_OLD',
        "the node does not report its consortium's genesis hash (GET /v1/status genesisHashHex), which a rating's signature names: upgrade it",
        null,
        false,
      );
    const nonce = Math.floor(options.nowMs ?? Date.now());
    const signature = toBase64(await this.signer.sign(rateSignedBytes({ consortium: fromHex(genesisHashHex), id: nodeId, rating, nonce })));
    return this.check(GpbftOpResponse, await this.call('POST', '/v1/admin/gpbft/ops', { op: 'rate', nodeId, rating, nonce, signature }));
  }

  /** gpbft: as an admin of this client's node's hospital, ask that node to leave the consortium (its signed quit request). */
  async gpbftLeave(): Promise<GpbftOpResponseT> {
    return this.check(GpbftOpResponse, await this.call('POST', '/v1/admin/gpbft/ops', { op: 'leave' }));
  }

  /** Every node of the consortium as this client's node sees it (reachable, status). */
  async network(): Promise<NetworkResponseT> {
    return this.check(NetworkResponse, await this.call('GET', '/v1/network'));
  }

  /** Start a consensus-lab campaign on the node (researchers, admins, supervisors; one at a time per node). */
  async labStart(request: LabSimulationBodyT): Promise<LabJobT> {
    return this.check(LabJob, await this.call('POST', '/v1/lab/simulations', request));
  }

  /** A lab campaign of yours: progress, then its summary. */
  async labJob(jobId: string): Promise<LabJobT> {
    return this.check(LabJob, await this.call('GET', `/v1/lab/simulations/${encodeURIComponent(jobId)}`));
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
    let txId: string;
    try {
      txId = parseTx(envelope).proposal.txId;
    } catch (err) {
      throw new MedLedgerApiError(0, 'MALFORMED_TRANSACTION', `not a transaction envelope: ${(err as Error).message}`);
    }
    return this.deliver(envelope, txId, opts.waitMs ?? DEFAULT_WAIT_MS);
  }

  /**
   * Send a signed envelope to this node; when the outcome is unknown (no answer, or the node could
   * not tell), resubmit the identical envelope to the other nodes in turn — the same txId, so it is
   * ordered at most once — and only when none can tell, throw OutcomeUnknownError with the txId.
   * A refusal (4xx) is final and thrown as it is.
   */
  private async deliver(envelope: Bytes, txId: string, waitMs: number): Promise<TxStatusT> {
    const body = { envelope: toB64(envelope), waitMs };
    if (this.failover === 'discover' && this.alternates === null) this.alternates = this.discoverAlternates();
    let first: MedLedgerApiError;
    try {
      return this.check(TxStatus, await this.call('POST', '/v1/submit', body, false));
    } catch (err) {
      if (!(err instanceof MedLedgerApiError) || !retryElsewhere(err)) throw err;
      first = err;
    }
    let unknown = mayHaveOrdered(first);
    let lastCause = `${this.url}: ${first.message}`;
    for (const url of await (this.alternates ?? Promise.resolve(Array.isArray(this.failover) ? this.failover : []))) {
      const other = this.at(url);
      try {
        return other.check(TxStatus, await other.call('POST', '/v1/submit', body, false));
      } catch (err) {
        if (!(err instanceof MedLedgerApiError) || !retryElsewhere(err)) throw err;
        unknown ||= mayHaveOrdered(err);
        lastCause = `${url}: ${err.message}`;
      }
    }
    // Nothing left this client, or every node refused the connection before reading it: the
    // transaction was certainly not ordered, and saying "unknown" would be a lie the other way.
    if (!unknown)
      throw new MedLedgerApiError(
        first.status,
        first.code,
        `not ordered: ${first.message} (transaction ${txId}; no node passed it on — it is safe to submit again)`,
        txId,
        false,
      );
    throw new OutcomeUnknownError(txId, lastCause);
  }

  /**
   * Endorsement through this node, or — when it cannot be reached at all — through the next one
   * (with failover configured). Nothing is ordered at this stage, so asking another node is
   * always safe; a refusal (any HTTP answer) is final.
   */
  private async endorseAnywhere(body: unknown): Promise<unknown> {
    if (this.failover === 'discover' && this.alternates === null) this.alternates = this.discoverAlternates();
    try {
      return await this.call('POST', '/v1/endorse', body, false);
    } catch (err) {
      if (!(err instanceof MedLedgerApiError) || err.status !== 0) throw err;
      let last: MedLedgerApiError = err;
      for (const url of await (this.alternates ?? Promise.resolve(Array.isArray(this.failover) ? this.failover : []))) {
        const other = this.at(url);
        try {
          return await other.call('POST', '/v1/endorse', body, false);
        } catch (e) {
          if (!(e instanceof MedLedgerApiError) || e.status !== 0) throw e;
          last = e;
        }
      }
      throw last;
    }
  }

  /** The other nodes' API URLs from this node's consortium configuration (peers only). */
  private async discoverAlternates(): Promise<readonly string[]> {
    try {
      const body = this.check(ConfigResponse, await this.call('GET', '/v1/config'));
      return body.nodes.filter((n) => n.roles.includes('peer') && n.apiUrl && new URL(n.apiUrl).origin !== this.url).map((n) => n.apiUrl!);
    } catch {
      return [];
    }
  }

  private async newSignedProposal(
    contract: string,
    fn: string,
    args: readonly string[],
  ): Promise<{ txId: string; proposalBytes: Bytes; signedProposal: Bytes }> {
    const [signed] = await this.newSignedProposals([{ contract, fn, args }]);
    return signed!;
  }

  /** Proposals for several calls, signed together: one batch signature (decision 1384) when more than one. */
  private async newSignedProposals(
    calls: ReadonlyArray<{ readonly contract: string; readonly fn: string; readonly args: readonly string[] }>,
  ): Promise<Array<{ txId: string; proposalBytes: Bytes; signedProposal: Bytes }>> {
    const consortium = await this.consortium();
    const built = calls.map(({ contract, fn, args }) => {
      try {
        return buildProposal({
          contract,
          fn,
          args,
          creator: this.certPem,
          nonce: proposalNonce(),
          timestampMs: Date.now(),
          ...(consortium === undefined ? {} : { consortium }),
        });
      } catch (err) {
        throw new MedLedgerApiError(0, 'BAD_PROPOSAL', (err as Error).message);
      }
    });
    const proposalBytes = built.map((p) => encode(p));
    const signatures = await signBatchAsync(proposalBytes, (m) => this.signer.sign(m));
    return built.map((p, i) => ({
      txId: p.txId,
      proposalBytes: proposalBytes[i]!,
      signedProposal: encodeSignedProposal({ proposal: proposalBytes[i]!, signature: signatures[i]! }),
    }));
  }

  /** Run a read-only function on the node's peer; the contract's result bytes. */
  async evaluate(contract: string, fn: string, args: readonly string[]): Promise<Bytes> {
    const { signedProposal } = await this.newSignedProposal(contract, fn, args);
    return fromB64(this.check(EvaluateResponse, await this.call('POST', '/v1/evaluate', { signedProposal: toB64(signedProposal) })).payload);
  }

  /** Endorse, check, sign and submit a transaction; by default wait for its validation code. */
  async submit(contract: string, fn: string, args: readonly string[], opts: SubmitOptions = {}): Promise<SubmitResult> {
    const prepared = await this.prepare(contract, fn, args);
    const status = await this.deliver(prepared.envelope, prepared.txId, opts.waitMs ?? DEFAULT_WAIT_MS);
    return { ...status, payload: prepared.payload, endorsers: prepared.endorsers };
  }

  /**
   * Submit several envelopes this client signed (prepare()) in one request (POST
   * /v1/submit/batch, at most SUBMIT_BATCH_MAX): one status or error per envelope, in order. No
   * failover: an item whose outcome is unknown says so, and resubmitting it is safe.
   */
  async submitBatch(envelopes: readonly Bytes[], opts: SubmitBatchOptions = {}): Promise<SubmitBatchResponseT['results']> {
    if (envelopes.length === 0 || envelopes.length > SUBMIT_BATCH_MAX)
      throw new MedLedgerApiError(0, 'BAD_REQUEST', `a batch holds 1 to ${SUBMIT_BATCH_MAX} envelopes, got ${envelopes.length}`);
    const waitMs = opts.waitMs ?? DEFAULT_WAIT_MS;
    if (opts.onResult) {
      if (opts.txIds !== undefined && opts.txIds.length !== envelopes.length)
        throw new MedLedgerApiError(0, 'BAD_REQUEST', `txIds: ${opts.txIds.length} given for ${envelopes.length} envelopes`);
      const txIds =
        opts.txIds ??
        envelopes.map((e, i) => {
          try {
            return parseTx(e).proposal.txId;
          } catch (err) {
            throw new MedLedgerApiError(0, 'MALFORMED_TRANSACTION', `envelopes[${i}] is not a transaction envelope: ${(err as Error).message}`);
          }
        });
      const onResult = opts.onResult;
      return this.cborOrJson(
        () => this.resultLines('/v1/submit/batch', new CborRequestBody({ envelopes, waitMs, stream: true }), false, txIds, onResult),
        () => this.resultLines('/v1/submit/batch', { envelopes: envelopes.map((e) => toB64(e)), waitMs, stream: true }, false, txIds, onResult),
      );
    }
    const r = this.check(
      SubmitBatchResponse,
      await this.cborOrJson(
        () => this.call('POST', '/v1/submit/batch', new CborRequestBody({ envelopes, waitMs }), false),
        () => this.call('POST', '/v1/submit/batch', { envelopes: envelopes.map((e) => toB64(e)), waitMs }, false),
      ),
    );
    if (r.results.length !== envelopes.length)
      throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${this.url} answered ${r.results.length} results for ${envelopes.length} envelopes`);
    return r.results;
  }

  /**
   * The commit status of many transactions in one request (POST /v1/tx/statuses, at most
   * TX_STATUSES_MAX), streamed: `onResult` hears each as it commits, or its error (COMMIT_TIMEOUT
   * after `waitMs`; TX_NOT_FOUND with waitMs 0). Resolves with one result per txId, in order.
   */
  async txStatuses(txIds: readonly string[], opts: SubmitBatchOptions = {}): Promise<TxResultT[]> {
    if (txIds.length === 0 || txIds.length > TX_STATUSES_MAX)
      throw new MedLedgerApiError(0, 'BAD_REQUEST', `ask about 1 to ${TX_STATUSES_MAX} transactions, got ${txIds.length}`);
    return this.resultLines('/v1/tx/statuses', { txIds, waitMs: opts.waitMs ?? 0 }, true, txIds, opts.onResult ?? (() => undefined));
  }

  /**
   * One streamed request whose answer is a TxResult line per transaction of `txIds`. Every
   * transaction gets a result: the node's line, or — when the stream breaks or ends before its
   * line — OUTCOME_UNKNOWN (the request reached the node) or the transport's code (it certainly
   * did not: nothing was ordered), each with its txId (issue 11).
   */
  private async resultLines(
    path: string,
    body: unknown,
    signed: boolean,
    txIds: readonly string[],
    onResult: (index: number, result: TxResultT) => void,
  ): Promise<TxResultT[]> {
    const results: Array<TxResultT | undefined> = Array.from({ length: txIds.length }, () => undefined);
    // A txId may appear twice (the same envelope twice in a batch): each line fills the next gap.
    const slots = new Map<string, number[]>();
    txIds.forEach((txId, i) => {
      const list = slots.get(txId);
      if (list) list.push(i);
      else slots.set(txId, [i]);
    });
    let buffer = '';
    const onText = (chunk: string): void => {
      buffer += chunk;
      if (buffer.length > SSE_EVENT_BYTES_MAX) throw new MedLedgerApiError(502, 'BAD_STREAM', `a result line exceeds ${SSE_EVENT_BYTES_MAX} bytes`);
      let cut: number;
      while ((cut = buffer.indexOf('\n')) >= 0) {
        const text = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 1);
        if (text.trim() === '') continue;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (err) {
          throw new MedLedgerApiError(502, 'BAD_STREAM', `malformed result line: ${(err as Error).message} in ${JSON.stringify(text.slice(0, 120))}`);
        }
        const result = this.check(TxResult, value);
        const index = slots.get(result.txId)?.shift();
        if (index === undefined)
          throw new MedLedgerApiError(502, 'BAD_STREAM', `${this.url} answered for transaction ${result.txId}, which was not asked about`);
        results[index] = result;
        onResult(index, result);
      }
    };
    let failure: MedLedgerApiError | null = null;
    try {
      await this.call('POST', path, body, signed, onText);
    } catch (err) {
      if (!(err instanceof MedLedgerApiError)) throw err;
      // An answer (4xx/5xx) before any line: the whole request was refused, nothing happened.
      if (err.status !== 0 && results.every((r) => r === undefined)) throw err;
      failure = err;
    }
    return results.map((r, i) => {
      if (r !== undefined) return r;
      const txId = txIds[i]!;
      const cause = failure ? failure.message : `${this.url} ended the answer without it`;
      const missing: TxResultT =
        failure && !mayHaveOrdered(failure)
          ? { txId, error: { code: failure.code, message: `not sent: ${cause}` } }
          : {
              txId,
              error: {
                code: 'OUTCOME_UNKNOWN',
                message: `outcome unknown (${cause}); check GET /v1/tx/${txId} on any node — resubmitting the same envelope is safe`,
              },
            };
      onResult(i, missing);
      return missing;
    });
  }

  /** Endorse and check a transaction, and sign it, without submitting it (submitEnvelope, submitBatch). */
  async prepare(contract: string, fn: string, args: readonly string[]): Promise<PreparedTx> {
    const { txId, proposalBytes, signedProposal } = await this.newSignedProposal(contract, fn, args);
    const r = this.check(EndorseResponse, await this.endorseAnywhere({ signedProposal: toB64(signedProposal) }));
    return this.signEndorsed(txId, proposalBytes, { txId: r.txId, payload: fromB64(r.payload), txPayload: fromB64(r.txPayload), endorsers: r.endorsers });
  }

  /**
   * prepare() for several calls in one request (POST /v1/endorse/batch, at most
   * ENDORSE_BATCH_MAX; decision 1312): each call's prepared transaction, or the error that stopped
   * it (the others are unaffected). Nothing is ordered at this stage.
   */
  async prepareBatch(
    calls: ReadonlyArray<{ readonly contract: string; readonly fn: string; readonly args: readonly string[] }>,
  ): Promise<Array<PreparedTx | MedLedgerApiError>> {
    if (calls.length === 0 || calls.length > ENDORSE_BATCH_MAX)
      throw new MedLedgerApiError(0, 'BAD_REQUEST', `a batch holds 1 to ${ENDORSE_BATCH_MAX} proposals, got ${calls.length}`);
    const proposals = await this.newSignedProposals(calls);
    // DAG-CBOR both ways by default (decision 1320): no base64 to encode, check and decode.
    const results: ReadonlyArray<EndorsedBytes | { readonly txId: string; readonly error: { readonly code: string; readonly message: string } }> =
      await this.cborOrJson(
        async () =>
          this.check(
            EndorseBatchCborResponse,
            await this.call('POST', '/v1/endorse/batch', new CborRequestBody({ signedProposals: proposals.map((p) => p.signedProposal) }), false),
          ).results,
        async () =>
          this.check(
            EndorseBatchResponse,
            await this.call('POST', '/v1/endorse/batch', { signedProposals: proposals.map((p) => toB64(p.signedProposal)) }, false),
          ).results.map((r) => ('error' in r ? r : { txId: r.txId, payload: fromB64(r.payload), txPayload: fromB64(r.txPayload), endorsers: r.endorsers })),
      );
    if (results.length !== calls.length)
      throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${this.url} answered ${results.length} results for ${calls.length} proposals`);
    const checked = results.map((res, i): EndorsedBytes | MedLedgerApiError => {
      const p = proposals[i]!;
      if ('error' in res) return new MedLedgerApiError(0, res.error.code, res.error.message, p.txId, false);
      try {
        this.checkEndorsed(p.txId, p.proposalBytes, res);
        return res;
      } catch (err) {
        if (err instanceof MedLedgerApiError) return err;
        throw err;
      }
    });
    // The transactions this client will sign, signed together (one batch signature).
    const toSign = checked.filter((c): c is EndorsedBytes => !(c instanceof MedLedgerApiError));
    const signatures = await signBatchAsync(
      toSign.map((e) => e.txPayload),
      (m) => this.signer.sign(m),
    );
    let next = 0;
    return checked.map((c) => (c instanceof MedLedgerApiError ? c : this.envelopeOf(c, signatures[next++]!)));
  }

  /**
   * A batch request as DAG-CBOR, or as JSON when this client was told so or a node refused CBOR:
   * a node that predates decision 1320 answers 415 before reading the body (nothing done), so the
   * same request is sent again as JSON, and this client keeps to JSON from then on.
   */
  private async cborOrJson<T>(cbor: () => Promise<T>, json: () => Promise<T>): Promise<T> {
    if (this.batchBodies === 'json') return json();
    try {
      return await cbor();
    } catch (err) {
      if (!(err instanceof MedLedgerApiError) || err.status !== 415) throw err;
      this.batchBodies = 'json';
      return json();
    }
  }

  /** Check that the gateway's transaction is exactly our proposal with the endorsed result, then sign it. */
  private async signEndorsed(txId: string, proposalBytes: Bytes, endorsed: EndorsedBytes): Promise<PreparedTx> {
    this.checkEndorsed(txId, proposalBytes, endorsed);
    return this.envelopeOf(endorsed, await this.signer.sign(endorsed.txPayload));
  }

  private envelopeOf(endorsed: EndorsedBytes, signature: Bytes): PreparedTx {
    const envelope = encodeEnvelope({ payload: endorsed.txPayload, signature });
    return { txId: endorsed.txId, envelope, payload: endorsed.payload, endorsers: endorsed.endorsers };
  }

  /** Throws BAD_GATEWAY_TX unless the gateway's transaction is exactly our proposal with the endorsed result. */
  private checkEndorsed(txId: string, proposalBytes: Bytes, endorsed: EndorsedBytes): void {
    const { txPayload, payload } = endorsed;
    // Sign only what we meant: our own proposal, with a response for it carrying the result shown.
    try {
      // Only the fields this check reads are decoded (strict DAG-CBOR); every peer validates the
      // whole structure, so a gateway that garbles the rest gets an invalid transaction, not ours.
      const decoded = fieldsOf(decode(txPayload), 'txPayload');
      const response = fieldsOf(decode(bytesField(decoded, 'response')), 'response');
      const result = fieldsOf(response['result'], 'response.result');
      if (
        endorsed.txId !== txId ||
        !bytesEqual(bytesField(decoded, 'proposal'), proposalBytes) ||
        !bytesEqual(bytesField(response, 'proposalHash'), proposalHash(proposalBytes)) ||
        !bytesEqual(bytesField(result, 'payload'), payload)
      ) {
        throw new TxFormatError("it is not this client's proposal or not the endorsed result");
      }
    } catch (err) {
      throw new MedLedgerApiError(502, 'BAD_GATEWAY_TX', `the gateway returned a transaction this client will not sign: ${(err as Error).message}`);
    }
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
    const headers = await signRequest({
      audience: await this.requestAudience(),
      method: 'GET',
      pathAndQuery: path,
      body: new Uint8Array(0),
      signer: this.signer,
    });
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
        const parsed =
          name === 'block'
            ? BlockEvent.safeParse(value)
            : name === 'contract'
              ? ContractEventData.safeParse(value)
              : name === 'error'
                ? z.object({ code: z.string(), message: z.string() }).safeParse(value)
                : null;
        if (parsed === null) continue;
        if (!parsed.success)
          throw new MedLedgerApiError(
            502,
            'BAD_STREAM',
            `malformed ${name} event: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`,
          );
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
      res = await this.transport.stream(
        {
          method: 'GET',
          url: new URL(path, this.base),
          headers: { ...headers, accept: 'text/event-stream' },
          body: new Uint8Array(0),
          timeoutMs: this.timeoutMs,
          responseBytesMax: RESPONSE_BYTES_MAX,
        },
        onText,
        signal,
      );
    } catch (err) {
      throw err instanceof TransportError ? new MedLedgerApiError(0, err.code, err.message) : err;
    }
    if (res.status !== 200 && !signal?.aborted) throw this.errorFrom(res.status, decoder.decode(res.body));
  }

  private check<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
    const r = schema.safeParse(value);
    if (!r.success)
      throw new MedLedgerApiError(
        502,
        'BAD_RESPONSE',
        `${this.url} answered with an unexpected body: ${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}`,
      );
    return r.data;
  }

  private errorFrom(status: number, text: string): MedLedgerApiError {
    try {
      const body = ErrorBody.parse(JSON.parse(text));
      return new MedLedgerApiError(status, body.error.code, body.error.message, body.error.txId ?? null);
    } catch {
      return new MedLedgerApiError(status, 'HTTP_ERROR', `${this.url} answered HTTP ${status}: ${text.slice(0, 200)}`);
    }
  }

  /**
   * One request (signed for this node unless `signed` is false); the JSON answer, or
   * MedLedgerApiError. Public for the SDK's other clients (HealthClient's content routes).
   */
  async call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, signed = true, onText?: (chunk: string) => void): Promise<unknown> {
    const cbor = body instanceof CborRequestBody;
    const bytes = body === undefined ? new Uint8Array(0) : cbor ? encode(body.value) : utf8(JSON.stringify(body));
    for (let attempt = 1; ; attempt++) {
      const headers: Record<string, string> = signed
        ? await signRequest({ audience: await this.requestAudience(), method, pathAndQuery: path, body: bytes, signer: this.signer })
        : {};
      if (body !== undefined) headers['content-type'] = cbor ? CBOR_MEDIA_TYPE : 'application/json';
      // A CBOR request asks for a CBOR answer; errors still come as JSON (ErrorBody).
      if (cbor && !onText) headers.accept = `${CBOR_MEDIA_TYPE}, application/json`;
      let res;
      try {
        const req = { method, url: new URL(path, this.base), headers, body: bytes, timeoutMs: this.timeoutMs, responseBytesMax: RESPONSE_BYTES_MAX };
        res = onText ? await this.transport.streamed(req, onText) : await this.transport.request(req);
      } catch (err) {
        if (err instanceof TransportError) {
          // The request never reached the server (a dropped kept-alive socket): resend once, freshly signed.
          if (err.retryable && attempt === 1) continue;
          // Refused on the first try: nothing was written. After a retry, the first may have landed.
          throw new MedLedgerApiError(0, err.code, err.message, null, !(err.code === 'ECONNREFUSED' && attempt === 1));
        }
        throw err;
      }
      if (res.status < 200 || res.status >= 300) throw this.errorFrom(res.status, decoder.decode(res.body));
      if (onText) return undefined; // the answer went to onText
      if (cbor) {
        try {
          return decode(res.body);
        } catch {
          throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${this.url} answered with bytes that are not DAG-CBOR`);
        }
      }
      const text = decoder.decode(res.body);
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new MedLedgerApiError(502, 'BAD_RESPONSE', `${this.url} answered with invalid JSON`);
      }
    }
  }
}
