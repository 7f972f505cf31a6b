// A TCP fault proxy for node-to-node traffic (the fault suite). Every node advertises its p2p
// address as a port of this proxy, so every byte between two nodes passes through here, where it
// can be delayed (geographic latency), made lossy (a lost segment costs a retransmission timeout,
// and everything behind it waits: TCP's head-of-line blocking), or cut (a partition: either a
// reset, which the sender notices at once, or silence, which it does not).
//
// The source node of a connection is known from its address: each node runs in its own network
// namespace with its own IP (netns.ts). Without namespaces every connection comes from 127.0.0.1,
// so only the destination is known and rules name `null` as the source ("from anyone").
//
// TLS stays end to end (the proxy sees ciphertext only): nodes still authenticate each other by
// certificate, exactly as without the proxy.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export type PartitionMode = 'reset' | 'silent';

export interface LinkRule {
  /** One-way delay added to every chunk, in ms. */
  readonly delayMs?: number;
  /** Probability that a chunk is "lost" and pays a retransmission timeout. */
  readonly lossRate?: number;
  /** Cut: 'reset' closes connections (the sender sees it); 'silent' swallows bytes. */
  readonly cut?: PartitionMode;
}

interface Destination {
  readonly index: number;
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  readonly server: Server;
  readonly port: number;
}

interface Pipe {
  readonly from: number | null;
  readonly to: number;
  readonly client: Socket;
  readonly upstream: Socket;
}

/** A lost segment's cost: about one TCP retransmission timeout on a LAN-ish path. */
const RETRANSMIT_PENALTY_MS = 200;
/** Bytes held for delayed delivery per direction of one connection before it is cut. */
const BUFFERED_BYTES_MAX = 64 * 1024 * 1024;

export class FaultProxy {
  private readonly destinations = new Map<number, Destination>();
  private readonly pipes = new Set<Pipe>();
  /** "from→to" (from may be "*") → rule. */
  private readonly rules = new Map<string, LinkRule>();
  private random: () => number;

  constructor(private readonly o: { listenHost: string; sourceOf: (address: string) => number | null; random?: () => number }) {
    this.random = o.random ?? Math.random;
  }

  /** Listen for node `index`'s p2p traffic; returns the port to advertise. */
  async addDestination(index: number, upstreamHost: string, upstreamPort: number, port = 0): Promise<number> {
    const server = createServer((client) => this.accept(index, client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.o.listenHost, () => resolve());
    });
    const address = server.address();
    const bound = address && typeof address === 'object' ? address.port : port;
    this.destinations.set(index, { index, upstreamHost, upstreamPort, server, port: bound });
    return bound;
  }

  /** Set (or with null clear) the rule for traffic from `from` (null: anyone) to `to`. */
  setRule(from: number | null, to: number, rule: LinkRule | null): void {
    const key = `${from ?? '*'}→${to}`;
    if (rule === null) this.rules.delete(key);
    else this.rules.set(key, rule);
    // A reset partition cuts what is open now; the sender's reconnects are then refused.
    for (const p of this.pipes) {
      if (this.ruleFor(p.from, p.to).cut === 'reset' || this.ruleFor(p.to, p.from ?? -1).cut === 'reset') {
        p.client.destroy();
        p.upstream.destroy();
      }
    }
  }

  clearRules(): void {
    this.rules.clear();
  }

  /** The rule that applies from → to: the pair's own, else "from anyone", else none. */
  ruleFor(from: number | null, to: number): LinkRule {
    return this.rules.get(`${from ?? '*'}→${to}`) ?? this.rules.get(`*→${to}`) ?? {};
  }

  async close(): Promise<void> {
    for (const p of this.pipes) {
      p.client.destroy();
      p.upstream.destroy();
    }
    this.pipes.clear();
    await Promise.all([...this.destinations.values()].map((d) => new Promise<void>((resolve) => d.server.close(() => resolve()))));
    this.destinations.clear();
  }

  private accept(to: number, client: Socket): void {
    const dest = this.destinations.get(to)!;
    const from = this.o.sourceOf(client.remoteAddress ?? '');
    if (this.ruleFor(from, to).cut === 'reset') {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: dest.upstreamHost, port: dest.upstreamPort });
    const pipe: Pipe = { from, to, client, upstream };
    this.pipes.add(pipe);
    const end = (): void => {
      this.pipes.delete(pipe);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.forward(client, upstream, () => this.ruleFor(from, to), end);
    // The reverse direction of the connection carries the handshake's answers and acks.
    this.forward(upstream, client, () => (from === null ? {} : this.ruleFor(to, from)), end);
  }

  /** Copy `src` to `dst` in order, each chunk held for the rule's delay (and loss penalty). */
  private forward(src: Socket, dst: Socket, rule: () => LinkRule, cut: () => void): void {
    // One queue and one timer per direction: bytes of a TLS stream must never be reordered.
    const queue: Array<{ chunk: Buffer; releaseAtMs: number }> = [];
    let buffered = 0;
    let timer: NodeJS.Timeout | null = null;
    const pump = (): void => {
      timer = null;
      const nowMs = Date.now();
      while (queue.length > 0 && queue[0]!.releaseAtMs <= nowMs) {
        const { chunk } = queue.shift()!;
        buffered -= chunk.length;
        if (!dst.destroyed) dst.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0]!.releaseAtMs - nowMs);
    };
    src.on('close', () => {
      if (timer) clearTimeout(timer);
    });
    src.on('data', (chunk: Buffer) => {
      const r = rule();
      if (r.cut === 'silent') return;
      if (r.cut === 'reset') return cut();
      let delayMs = r.delayMs ?? 0;
      if (r.lossRate && this.random() < r.lossRate) delayMs += RETRANSMIT_PENALTY_MS;
      if (delayMs <= 0 && queue.length === 0) {
        dst.write(chunk);
        return;
      }
      const last = queue.length > 0 ? queue[queue.length - 1]!.releaseAtMs : 0;
      queue.push({ chunk, releaseAtMs: Math.max(Date.now() + delayMs, last) });
      buffered += chunk.length;
      if (buffered > BUFFERED_BYTES_MAX) return cut();
      if (!timer) timer = setTimeout(pump, Math.max(0, queue[0]!.releaseAtMs - Date.now()));
    });
  }
}
