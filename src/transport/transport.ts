// Node-to-node transport: persistent mutually-authenticated TLS (WebSocket over HTTPS, the `ws`
// library; no hand-rolled framing). Each directed link A→B is A's outbound connection to B's
// listener: A sends on it, B receives on it. That makes every link have exactly one owner, so
// there is no duplicate-connection tie-breaking, and a peer's identity on an inbound connection
// always comes from its client certificate, never from anything it says.
//
// Limits: message size (ws maxPayload), per-peer send queue (count and bytes; when full the
// message is refused so the caller sees backpressure), reconnect with capped exponential backoff
// and jitter, pending requests with timeouts, requests from one peer being handled at once (more
// are answered with an error at once: one peer cannot pile up work here), and a count of malformed
// frames after which a peer is disconnected.
//
// What a node reads from each peer is metered too (decision 1397): frames and bytes per second per
// peer (receive-budget.ts), the bytes of the answers to its requests included. A peer over its
// budget is not read from until the budget is back — its frames wait in TCP, then in its own send
// queue, and a full queue refuses its sends — so one member, however many messages it sends,
// cannot take this node's CPU from the others. And a peer
// keeps at most `inboundConnectionsPerPeerMax` connections here: a new one beyond that replaces
// its oldest (a reconnecting peer's old connection may not have been seen to close yet).
//
// One protocol per consortium (decision 1386): each link is opened with the WebSocket subprotocol
// the node speaks (`protocol`, e.g. medledger.2), and a connection whose other end does not speak
// exactly that one is refused at both ends — a listener closes an inbound connection that did not
// offer it, a dialler fails when the listener does not echo it (a listener of an older version
// ignores the offer). Nodes whose messages one another would judge differently (batch signatures,
// decision 1384) therefore never exchange any: during an upgrade the side holding a quorum goes
// on, the other waits for its upgrade, and neither can diverge.
//
// Requests fail fast (issue 11): a request to a peer that is not connected is refused at once
// instead of waiting in the queue for its whole timeout, and requests in flight to a peer whose
// connection drops are rejected when it drops. A caller (the gateway choosing endorsers, a peer
// fetching blocks) then routes around the dead node in milliseconds, not after 10 s. The one
// exception is a link that has never connected yet and is young (node start-up): requests wait
// up to `connectGraceMs` for the first connection, so a consortium that starts together does not
// refuse its first requests.
import { createServer, type Server } from 'node:https';
import type { ConnectionOptions, TLSSocket, PeerCertificate } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { WebSocket, WebSocketServer, type ClientOptions, type RawData } from 'ws';
import { decode, encode, type Bytes } from '../codec/index.ts';
import { RateLimitedLog, type Logger } from '../log/log.ts';
import { ReceiveBudget } from './receive-budget.ts';

export type NodeId = string;

export interface TransportTls {
  /** This node's certificate followed by its organisation CA certificate (PEM). */
  readonly certChainPem: string;
  readonly keyPem: string;
  /** Trust anchors: the consortium root CA (and org CAs) in PEM. */
  readonly caPems: readonly string[];
}

export type Authenticator = (certPem: string) => { ok: true; nodeId: NodeId } | { ok: false; reason: string };

export interface TransportOptions {
  readonly selfId: NodeId;
  readonly host: string;
  readonly port: number;
  readonly tls: TransportTls;
  /** Peers this node sends to: id → wss URL. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Maps a peer certificate to a member node id, or refuses it with a reason. */
  readonly authenticate: Authenticator;
  /**
   * The protocol this node speaks, as a WebSocket subprotocol token (RFC 6455 §1.9; e.g.
   * `medledger.2`): a peer must speak exactly this one, or no connection is kept.
   */
  readonly protocol: string;
  readonly onMessage: (from: NodeId, channel: string, payload: Bytes) => void;
  /** Handles requests (see `request`); resolves to the response payload. */
  readonly onRequest?: (from: NodeId, channel: string, payload: Bytes) => Promise<Bytes>;
  readonly logger: Logger;
  readonly messageBytesMax?: number;
  readonly queueMessagesMax?: number;
  readonly queueBytesMax?: number;
  readonly reconnectInitialMs?: number;
  readonly reconnectMaxMs?: number;
  readonly requestsPendingMax?: number;
  /**
   * Requests from one peer this node handles at once; one more is answered with an error at once.
   * The default is `requestsPendingMax`'s: a peer that keeps to it never reaches this one.
   */
  readonly inboundRequestsPerPeerMax?: number;
  readonly malformedFramesMax?: number;
  /** Frames per second read from one peer before its connections are paused (decision 1397). */
  readonly receiveFramesPerSecondPerPeer?: number;
  /** Bytes per second read from one peer before its connections are paused (decision 1397). */
  readonly receiveBytesPerSecondPerPeer?: number;
  /** Inbound connections one peer keeps here; one more replaces its oldest. */
  readonly inboundConnectionsPerPeerMax?: number;
  /** How long a new link's requests may wait for its first connection (start-up). */
  readonly connectGraceMs?: number;
  /** Clock for the grace window (tests). */
  readonly clock?: () => number;
}

interface Frame {
  /** channel */
  readonly c: string;
  readonly p: Bytes;
  /** request id (requests and responses) */
  readonly i?: number;
  /** 1 = response, 2 = error response */
  readonly r?: number;
}

interface OutboundLink {
  readonly peerId: NodeId;
  url: string;
  socket: WebSocket | null;
  connected: boolean;
  queue: Bytes[];
  queueBytes: number;
  backoffMs: number;
  timer: NodeJS.Timeout | null;
  closed: boolean;
  readonly createdAtMs: number;
  everConnected: boolean;
}

interface HeldFrame {
  readonly ws: WebSocket;
  readonly data: RawData;
  readonly isBinary: boolean;
}

interface PausedPeer {
  /** Frames read from the peer's connections after they were paused, in order. */
  readonly held: HeldFrame[];
  readonly pausedAtMs: number;
  timer: NodeJS.Timeout;
}

interface PendingRequest {
  /** The peer asked: only its answer settles the request (another peer cannot answer for it). */
  readonly to: NodeId;
  resolve(value: Bytes): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class TransportError extends Error {
  override readonly name: string = 'TransportError';
}

/**
 * The peer is not connected (`sent` false: the request never left this node), or its connection
 * dropped while the request was in flight (`sent` true: the peer may have acted on it).
 */
export class PeerUnavailableError extends TransportError {
  override readonly name = 'PeerUnavailableError';
  constructor(
    readonly peerId: NodeId,
    message: string,
    readonly sent = false,
  ) {
    super(message);
  }
}

export interface TransportStats {
  readonly sentMessages: number;
  readonly receivedMessages: number;
  readonly droppedQueueFull: number;
  readonly rejectedConnections: number;
  readonly malformedFrames: number;
  /** Requests answered with an error because their peer already had `inboundRequestsPerPeerMax` being handled. */
  readonly refusedRequests: number;
  /** Connections refused (inbound) or failed (outbound) because the peer speaks another protocol. */
  readonly protocolMismatches: number;
  /** Times a peer's connections were paused because it was over its receive budget. */
  readonly receivePauses: number;
  /** Milliseconds peers spent paused in all (summed over peers). */
  readonly receivePausedMs: number;
  /** Inbound connections closed because their peer opened more than `inboundConnectionsPerPeerMax`. */
  readonly replacedConnections: number;
  readonly connectedPeers: NodeId[];
}

/** TLS handshakes on node-to-node links, both ways: a member's node needs milliseconds. */
const HANDSHAKE_TIMEOUT_MS = 5_000;

const DEFAULTS = {
  messageBytesMax: 16 * 1024 * 1024,
  queueMessagesMax: 10_000,
  queueBytesMax: 64 * 1024 * 1024,
  reconnectInitialMs: 100,
  reconnectMaxMs: 5_000,
  requestsPendingMax: 1_000,
  inboundRequestsPerPeerMax: 1_000,
  malformedFramesMax: 10,
  receiveFramesPerSecondPerPeer: 20_000,
  receiveBytesPerSecondPerPeer: 64 * 1024 * 1024,
  inboundConnectionsPerPeerMax: 2,
  connectGraceMs: 3_000,
  clock: (): number => Date.now(),
};

export class Transport {
  private server: Server | null = null;
  private wss: WebSocketServer | null = null;
  private readonly links = new Map<NodeId, OutboundLink>();
  private readonly inbound = new Map<WebSocket, NodeId>();
  private readonly pending = new Map<number, PendingRequest>();
  private nextRequestId = 1;
  private stopped = false;
  /** The last frame send() built, for the same payload to the next peer. */
  private lastSent: { channel: string; payload: Bytes | null; frame: Bytes } = { channel: '', payload: null, frame: new Uint8Array(0) };
  private readonly o: Required<Omit<TransportOptions, 'onRequest'>> & Pick<TransportOptions, 'onRequest'>;
  private stats = {
    sentMessages: 0,
    receivedMessages: 0,
    droppedQueueFull: 0,
    rejectedConnections: 0,
    malformedFrames: 0,
    refusedRequests: 0,
    protocolMismatches: 0,
    receivePauses: 0,
    receivePausedMs: 0,
    replacedConnections: 0,
  };
  private readonly malformedBy = new Map<NodeId, number>();
  /** Requests from each peer being handled (entries removed at zero, so bounded by the members). */
  private readonly inboundRequests = new Map<NodeId, number>();
  /** Peers last seen speaking another protocol (either direction), until a link to them opens. */
  private readonly otherProtocol = new Set<NodeId>();
  private readonly peerLog: RateLimitedLog;
  private readonly receiveBudget: ReceiveBudget;
  /** Peers over their receive budget: their connections are paused (decision 1397). */
  private readonly pausedPeers = new Map<NodeId, PausedPeer>();

  constructor(options: TransportOptions) {
    this.o = { ...DEFAULTS, ...options };
    this.peerLog = new RateLimitedLog(this.o.logger, 3, 60_000);
    this.receiveBudget = new ReceiveBudget(
      { framesPerSecond: this.o.receiveFramesPerSecondPerPeer, bytesPerSecond: this.o.receiveBytesPerSecondPerPeer },
      this.o.clock,
    );
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    const address = this.server?.address();
    return address && typeof address === 'object' ? address.port : this.o.port;
  }

  async start(): Promise<void> {
    const server = createServer({
      cert: this.o.tls.certChainPem,
      key: this.o.tls.keyPem,
      ca: [...this.o.tls.caPems],
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      // Node's default is 120 s: a connection that never finishes its handshake holds a socket
      // that long. A member's node finishes in milliseconds (its own dialler gives up after 5 s).
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.server = server;
    this.wss = new WebSocketServer({
      server,
      maxPayload: this.o.messageBytesMax,
      // Echo our protocol when offered; otherwise accept without one and refuse in acceptInbound,
      // where the refusal can name the peer (its certificate) and the protocols.
      handleProtocols: (offered) => (offered.has(this.o.protocol) ? this.o.protocol : false),
    });
    this.wss.on('connection', (ws, req) => this.acceptInbound(ws, req.socket as TLSSocket, req.headers['sec-websocket-protocol']));
    // ws re-emits the HTTPS server's errors on the WebSocketServer; without a listener a listen
    // failure (EADDRINUSE) would be an uncaught exception instead of start()'s rejection below.
    this.wss.on('error', (err) => this.o.logger.warn({ reason: err.message }, 'p2p listener error'));
    server.on('tlsClientError', (err) => {
      this.stats.rejectedConnections += 1;
      this.o.logger.warn({ reason: err.message }, 'rejected TLS client');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    for (const [peerId, url] of this.o.peers) this.addPeer(peerId, url);
  }

  /** Membership changed: connect to new peers, drop removed ones. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    for (const [id, link] of this.links) {
      if (!peers.has(id)) this.closeLink(link);
    }
    for (const [id, url] of peers) {
      const link = this.links.get(id);
      if (!link) this.addPeer(id, url);
      else if (link.url !== url) {
        link.url = url;
        link.socket?.terminate();
      }
    }
  }

  /** Queue a message to a peer. Returns false (and drops it) when the peer's queue is full. */
  send(to: NodeId, channel: string, payload: Bytes): boolean {
    // The same payload to several peers (a leader's append, decision 1406) is framed once; frames
    // are never written into (ws frames them without masking in place, decision 1371).
    if (payload !== this.lastSent.payload || channel !== this.lastSent.channel) {
      this.lastSent = { channel, payload, frame: encode({ c: channel, p: payload } satisfies Frame) };
    }
    return this.enqueue(to, this.lastSent.frame);
  }

  /** Request/response over the two directed links; rejects on timeout or remote error. */
  request(to: NodeId, channel: string, payload: Bytes, timeoutMs: number): Promise<Bytes> {
    if (this.pending.size >= this.o.requestsPendingMax) return Promise.reject(new TransportError('too many pending requests'));
    const link = this.links.get(to);
    if (!link) return Promise.reject(new PeerUnavailableError(to, `${to} is not a peer of this node`));
    if (!link.connected) {
      const young = !link.everConnected && this.o.clock() - link.createdAtMs < this.o.connectGraceMs;
      if (!young) return Promise.reject(new PeerUnavailableError(to, `${to} is not connected (request on ${channel} not sent)`));
    }
    const id = this.nextRequestId++;
    return new Promise<Bytes>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TransportError(`request to ${to} on ${channel} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { to, resolve, reject, timer });
      if (!this.enqueue(to, encode({ c: channel, p: payload, i: id } satisfies Frame))) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new TransportError(`send queue to ${to} is full`));
      }
    });
  }

  /** True when the last connection attempt with this peer, either way, found it speaking another protocol. */
  speaksOtherProtocol(peerId: NodeId): boolean {
    return this.otherProtocol.has(peerId);
  }

  isConnected(peerId: NodeId): boolean {
    return this.links.get(peerId)?.connected ?? false;
  }

  getStats(): TransportStats {
    return { ...this.stats, connectedPeers: [...this.links.values()].filter((l) => l.connected).map((l) => l.peerId) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const link of this.links.values()) this.closeLink(link);
    for (const ws of this.inbound.keys()) ws.terminate();
    for (const paused of this.pausedPeers.values()) clearTimeout(paused.timer);
    this.pausedPeers.clear();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new TransportError('transport stopped'));
    }
    this.pending.clear();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections?.();
      this.server.close(() => resolve());
    });
  }

  // --- outbound ---------------------------------------------------------------------------

  private addPeer(peerId: NodeId, url: string): void {
    if (peerId === this.o.selfId) return;
    const link: OutboundLink = {
      peerId,
      url,
      socket: null,
      connected: false,
      queue: [],
      queueBytes: 0,
      backoffMs: this.o.reconnectInitialMs,
      timer: null,
      closed: false,
      createdAtMs: this.o.clock(),
      everConnected: false,
    };
    this.links.set(peerId, link);
    this.connect(link);
  }

  private enqueue(to: NodeId, frame: Bytes): boolean {
    const link = this.links.get(to);
    if (!link) return false;
    if (frame.byteLength > this.o.messageBytesMax)
      throw new TransportError(`message of ${frame.byteLength} bytes to ${to} exceeds the ${this.o.messageBytesMax}-byte limit`);
    if (link.queue.length >= this.o.queueMessagesMax || link.queueBytes + frame.byteLength > this.o.queueBytesMax) {
      this.stats.droppedQueueFull += 1;
      return false;
    }
    link.queue.push(frame);
    link.queueBytes += frame.byteLength;
    this.flush(link);
    return true;
  }

  private flush(link: OutboundLink): void {
    const socket = link.socket;
    if (!socket || !link.connected) return;
    while (link.queue.length > 0 && socket.readyState === WebSocket.OPEN) {
      // Respect the socket's own buffer: stop when the kernel is not keeping up.
      if (socket.bufferedAmount > this.o.queueBytesMax) {
        setTimeout(() => this.flush(link), 10).unref();
        return;
      }
      const frame = link.queue.shift()!;
      link.queueBytes -= frame.byteLength;
      socket.send(frame);
      this.stats.sentMessages += 1;
    }
  }

  private connect(link: OutboundLink): void {
    if (this.stopped || link.closed) return;
    const expected = link.peerId;
    const tlsOptions: ConnectionOptions & { maxPayload: number; handshakeTimeout: number; generateMask: (mask: Buffer) => void } = {
      cert: this.o.tls.certChainPem,
      key: this.o.tls.keyPem,
      ca: [...this.o.tls.caPems],
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      maxPayload: this.o.messageBytesMax,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      // Client frames must carry a mask (RFC 6455 §5.3), whose purpose is to keep a browser's
      // script from steering the bytes an intermediary proxy sees. Here both ends are nodes and the
      // stream is TLS: an all-zero mask is allowed and lets ws skip the XOR on both sides and the
      // copy it makes to mask a frame (decision 1370).
      generateMask: zeroMask,
      // The server must prove it is the node we mean to reach (by certificate, not hostname).
      checkServerIdentity: (_host: string, cert: PeerCertificate) => {
        const who = this.o.authenticate(derToPem(cert.raw));
        if (!who.ok) return new Error(`server certificate refused: ${who.reason}`);
        if (who.nodeId !== expected) return new Error(`expected node ${expected}, server is ${who.nodeId}`);
        return undefined;
      },
    };
    // ws hands these options to tls.connect; @types/ws types checkServerIdentity differently
    // from node:tls (which is what actually calls it), hence the cast.
    const socket = new WebSocket(link.url, [this.o.protocol], tlsOptions as ClientOptions);
    link.socket = socket;
    socket.on('open', () => {
      link.connected = true;
      // Operators see a peer come back; the very first connection at start-up is routine.
      if (link.everConnected) this.peerLog.write('info', `up:${link.peerId}`, { peer: link.peerId }, 'peer reconnected');
      else this.o.logger.debug({ peer: link.peerId }, 'connected');
      link.everConnected = true;
      this.otherProtocol.delete(link.peerId);
      link.backoffMs = this.o.reconnectInitialMs;
      this.flush(link);
    });
    // Outbound sockets carry no traffic toward us; anything arriving is ignored.
    socket.on('message', () => undefined);
    socket.on('error', (err) => {
      // ws fails the handshake when the listener does not echo our protocol: a node of another
      // version (an older one ignores the offer). Said once a minute per peer, not per retry.
      if (/subprotocol/i.test(err.message)) {
        this.stats.protocolMismatches += 1;
        this.otherProtocol.add(link.peerId);
        this.peerLog.write(
          'warn',
          `protocol:${link.peerId}`,
          { peer: link.peerId, ours: this.o.protocol, reason: err.message },
          `cannot connect to ${link.peerId}: it does not speak this node's protocol ${this.o.protocol} (a node of another MedLedger version; upgrade every node)`,
        );
      } else this.o.logger.debug({ peer: link.peerId, reason: err.message }, 'outbound connection error');
    });
    socket.on('close', () => {
      const wasConnected = link.connected;
      link.connected = false;
      link.socket = null;
      this.failPendingTo(link.peerId, `connection to ${link.peerId} lost`);
      if (this.stopped || link.closed) return;
      if (wasConnected) this.peerLog.write('warn', `down:${link.peerId}`, { peer: link.peerId }, 'peer disconnected; reconnecting with back-off');
      const jitter = 0.5 + Math.random() * 0.5;
      const delay = Math.min(this.o.reconnectMaxMs, link.backoffMs) * jitter;
      link.backoffMs = Math.min(this.o.reconnectMaxMs, link.backoffMs * 2);
      link.timer = setTimeout(() => this.connect(link), delay);
      link.timer.unref();
    });
  }

  private closeLink(link: OutboundLink): void {
    link.closed = true;
    if (link.timer) clearTimeout(link.timer);
    link.socket?.terminate();
    this.links.delete(link.peerId);
    this.failPendingTo(link.peerId, `${link.peerId} is no longer a peer`);
  }

  /** The answer can no longer come (it would travel on the peer's link back to us): fail now. */
  private failPendingTo(peerId: NodeId, reason: string): void {
    for (const [id, p] of this.pending) {
      if (p.to !== peerId) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.reject(new PeerUnavailableError(peerId, reason, true));
    }
  }

  // --- inbound ----------------------------------------------------------------------------

  private acceptInbound(ws: WebSocket, tlsSocket: TLSSocket, offeredProtocols: string | undefined): void {
    const cert = tlsSocket.getPeerCertificate();
    const who = cert?.raw ? this.o.authenticate(derToPem(cert.raw)) : { ok: false as const, reason: 'no client certificate' };
    if (!who.ok) {
      this.stats.rejectedConnections += 1;
      this.o.logger.warn({ reason: who.reason }, 'refused peer connection');
      ws.close(1008, who.reason.slice(0, 100));
      return;
    }
    const from = who.nodeId;
    if (ws.protocol !== this.o.protocol) {
      this.stats.rejectedConnections += 1;
      this.stats.protocolMismatches += 1;
      this.peerLog.write(
        'warn',
        `protocol:${from}`,
        { peer: from, theirs: (offeredProtocols ?? 'none').slice(0, 100), ours: this.o.protocol },
        `refused ${from}: it does not speak this node's protocol ${this.o.protocol} (a node of another MedLedger version; upgrade every node)`,
      );
      this.otherProtocol.add(from);
      ws.close(1002, `protocol ${this.o.protocol} required`);
      return;
    }
    const mine = [...this.inbound].filter(([, id]) => id === from).map(([socket]) => socket);
    for (const old of mine.slice(0, Math.max(0, mine.length + 1 - this.o.inboundConnectionsPerPeerMax))) {
      this.stats.replacedConnections += 1;
      this.inbound.delete(old);
      old.terminate();
    }
    this.inbound.set(ws, from);
    // A peer over its budget stays paused on its new connection as on the others.
    if (this.pausedPeers.has(from)) ws.pause();
    ws.on('message', (data: RawData, isBinary: boolean) => this.receive(ws, from, data, isBinary));
    ws.on('close', () => {
      this.inbound.delete(ws);
      // Its last connection is gone: its budget goes (the map stays bounded by the members) —
      // once the frames it held are read, if it is paused.
      if (!this.pausedPeers.has(from) && ![...this.inbound.values()].includes(from)) this.receiveBudget.forget(from);
    });
    ws.on('error', (err) => this.o.logger.debug({ peer: from, reason: err.message }, 'inbound connection error'));
  }

  /**
   * Every frame read from a peer: charged to its receive budget and handled, or — while the peer
   * is paused — held until its budget is back. Held frames are only those `ws` had already read
   * when the peer's sockets were paused (at most one socket read and one partial message), so
   * the list is bounded by the pause itself.
   */
  private receive(ws: WebSocket, from: NodeId, data: RawData, isBinary: boolean): void {
    const paused = this.pausedPeers.get(from);
    if (paused) {
      paused.held.push({ ws, data, isBinary });
      return;
    }
    this.admit(ws, from, data, isBinary);
  }

  /** Charges one frame, handles it (it is read already), and pauses its peer if that overdrew it. */
  private admit(ws: WebSocket, from: NodeId, data: RawData, isBinary: boolean): void {
    const waitMs = this.receiveBudget.charge(from, frameBytes(data));
    this.handleFrame(ws, from, data, isBinary);
    if (waitMs > 0 && !this.stopped) this.pausePeer(from, waitMs);
  }

  private pausePeer(from: NodeId, waitMs: number): void {
    if (this.pausedPeers.has(from)) return; // its resume checks the budget again before reading
    this.stats.receivePauses += 1;
    this.peerLog.write(
      'warn',
      `budget:${from}`,
      { peer: from, framesPerSecond: this.o.receiveFramesPerSecondPerPeer, bytesPerSecond: this.o.receiveBytesPerSecondPerPeer },
      `reading from ${from} paused: it sends more than its receive budget`,
    );
    for (const [ws, id] of this.inbound) if (id === from) ws.pause();
    const paused: PausedPeer = { held: [], pausedAtMs: this.o.clock(), timer: setTimeout(() => this.resumePeer(from), timerMs(waitMs)) };
    this.pausedPeers.set(from, paused);
  }

  /** The budget has refilled: read the held frames while it lasts, then the sockets again. */
  private resumePeer(from: NodeId): void {
    const paused = this.pausedPeers.get(from);
    if (!paused || this.stopped) return;
    while (paused.held.length > 0) {
      const waitMs = this.receiveBudget.waitMs(from);
      if (waitMs > 0) {
        paused.timer = setTimeout(() => this.resumePeer(from), timerMs(waitMs));
        return;
      }
      const { ws, data, isBinary } = paused.held.shift()!;
      this.receiveBudget.charge(from, frameBytes(data));
      this.handleFrame(ws, from, data, isBinary);
    }
    this.pausedPeers.delete(from);
    this.stats.receivePausedMs += this.o.clock() - paused.pausedAtMs;
    const sockets = [...this.inbound].filter(([, id]) => id === from);
    if (sockets.length === 0) this.receiveBudget.forget(from);
    // The last held frame may have overdrawn the budget again: the sockets stay paused until it is back.
    const waitMs = this.receiveBudget.waitMs(from);
    if (waitMs > 0 && sockets.length > 0) this.pausePeer(from, waitMs);
    else for (const [ws] of sockets) ws.resume();
  }

  private handleFrame(ws: WebSocket, from: NodeId, data: RawData, isBinary: boolean): void {
    let frame: Frame;
    try {
      if (!isBinary) throw new Error('text frame');
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      frame = decode<Frame>(bytes);
      if (typeof frame !== 'object' || frame === null || typeof frame.c !== 'string' || !(frame.p instanceof Uint8Array)) throw new Error('bad frame shape');
    } catch (err) {
      this.stats.malformedFrames += 1;
      const count = (this.malformedBy.get(from) ?? 0) + 1;
      this.malformedBy.set(from, count);
      if (count >= this.o.malformedFramesMax) {
        this.o.logger.warn({ peer: from, reason: (err as Error).message }, 'disconnecting peer after malformed frames');
        ws.close(1003, 'malformed frames');
        this.malformedBy.delete(from);
      }
      return;
    }
    this.stats.receivedMessages += 1;
    if (frame.i !== undefined && frame.r !== undefined) {
      const pending = this.pending.get(frame.i);
      // Request ids are ours; an answer from a peer we did not ask is dropped (a Byzantine node
      // must not settle a request to another).
      if (!pending || pending.to !== from) return;
      this.pending.delete(frame.i);
      clearTimeout(pending.timer);
      if (frame.r === 1) pending.resolve(frame.p);
      else pending.reject(new TransportError(`${from} answered with an error: ${new TextDecoder().decode(frame.p).slice(0, 500)}`));
      return;
    }
    if (frame.i !== undefined) {
      const id = frame.i;
      const handler = this.o.onRequest;
      const reply = (r: number, p: Bytes): void => {
        this.enqueue(from, encode({ c: frame.c, p, i: id, r } satisfies Frame));
        // The asker pays for its answer as for a message it sent (decision 1397): a small request
        // for a large answer (a range of blocks) cannot be repeated faster than its bytes allow.
        const waitMs = this.receiveBudget.chargeBytes(from, p.byteLength);
        if (waitMs > 0 && !this.stopped) this.pausePeer(from, waitMs);
      };
      if (!handler) {
        reply(2, new TextEncoder().encode(`no handler for requests on ${frame.c}`));
        return;
      }
      const inFlight = this.inboundRequests.get(from) ?? 0;
      if (inFlight >= this.o.inboundRequestsPerPeerMax) {
        this.stats.refusedRequests += 1;
        this.peerLog.write(
          'warn',
          `requests:${from}`,
          { peer: from, limit: this.o.inboundRequestsPerPeerMax },
          `refused requests from ${from}: too many in flight`,
        );
        reply(2, new TextEncoder().encode(`too many requests in flight from ${from} (at most ${this.o.inboundRequestsPerPeerMax}); retry later`));
        return;
      }
      this.inboundRequests.set(from, inFlight + 1);
      const release = (): void => {
        const n = (this.inboundRequests.get(from) ?? 1) - 1;
        if (n > 0) this.inboundRequests.set(from, n);
        else this.inboundRequests.delete(from);
      };
      let answer: Promise<Bytes>;
      try {
        answer = handler(from, frame.c, frame.p);
      } catch (err) {
        answer = Promise.reject(err);
      }
      answer.finally(release).then(
        (p) => reply(1, p),
        (err: unknown) => reply(2, new TextEncoder().encode(err instanceof Error ? err.message : String(err))),
      );
      return;
    }
    try {
      this.o.onMessage(from, frame.c, frame.p);
    } catch (err) {
      this.o.logger.error({ peer: from, channel: frame.c, reason: (err as Error).message }, 'message handler failed');
    }
  }
}

function frameBytes(data: RawData): number {
  return Array.isArray(data) ? data.reduce((n, b) => n + b.byteLength, 0) : data.byteLength;
}

/** A timer for a budget's wait: at least 1 ms (Node runs a shorter one at the next turn anyway). */
function timerMs(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs));
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

export function derToPem(der: Buffer): string {
  return new X509Certificate(der).toString();
}
