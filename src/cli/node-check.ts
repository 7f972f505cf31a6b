// `medledger node check` — the connection test of PHDMF's membership flow (issue 12 item 3;
// decision 1251). From the operator's side of one node, for every other node of the config in force:
//
//   API       a TLS handshake with the node's API (trust: the consortium root only) and one
//             unsigned GET /v1/health on that connection: reachable or not, handshake time, and
//             the round trip of the request (latency);
//   identity  the certificate it presented, checked by an MSP built from the config in force: it
//             must chain to that node's organisation CA, name the node (CN = node id, O = org,
//             role peer), serve the URL's host, and be the orderer certificate the config holds
//             for it when it orders;
//   height    a signed GET /v1/status to that node (the user's credentials);
//   p2p       this node's own view over the node-to-node mTLS link (GET /v1/network on this node):
//             whether it reaches the other node and the round trip there — the link consensus and
//             block delivery use, where the transport itself authenticates the peer's certificate.
//
// Exit non-zero when any node is unreachable (API or p2p) or presents the wrong identity.
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { Msp } from '../identity/index.ts';
import { mspConfigOf, type ConsortiumConfig, type NodeEndpointConfig } from '../ledger/config.ts';
import { MedLedgerApiError, MedLedgerClient } from '../sdk/index.ts';

export const CHECK_TIMEOUT_MS = 5_000;

export interface Credentials {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
}

export interface PresentedIdentity {
  readonly id: string | null;
  readonly org: string | null;
  readonly role: string | null;
  readonly fingerprintHex: string;
}

export interface NodeCheck {
  readonly nodeId: string;
  readonly org: string;
  readonly roles: readonly string[];
  readonly apiUrl: string;
  readonly p2pUrl: string;
  /** The API answered over TLS. */
  readonly reachable: boolean;
  /** TCP + TLS handshake, ms. */
  readonly connectMs: number | null;
  /** Round trip of GET /v1/health on the open connection, ms. */
  readonly latencyMs: number | null;
  readonly identity: { readonly ok: boolean; readonly presented: PresentedIdentity | null; readonly problem: string | null } | null;
  readonly height: number | null;
  readonly p2p: { readonly reachable: boolean; readonly latencyMs: number | null; readonly error: string | null } | null;
  readonly error: string | null;
  readonly ok: boolean;
}

export interface CheckResult {
  readonly self: { readonly nodeId: string; readonly org: string; readonly height: number; readonly configSequence: number; readonly joining: boolean };
  readonly nodes: readonly NodeCheck[];
  readonly ok: boolean;
}

interface Probe {
  readonly certPem: string | null;
  readonly connectMs: number;
  readonly latencyMs: number | null;
  readonly error: string | null;
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** TLS handshake with the API at `url`, then one GET /v1/health on the same connection. */
export function probeApi(url: string, caPem: string, timeoutMs: number): Promise<Probe> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 443);
  return new Promise((resolveProbe) => {
    const started = performance.now();
    let connectMs = 0;
    let certPem: string | null = null;
    let sentAt = 0;
    let latencyMs: number | null = null;
    let done = false;
    const finish = (error: string | null): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolveProbe({ certPem, connectMs: round(connectMs), latencyMs: latencyMs === null ? null : round(latencyMs), error });
    };
    // rejectUnauthorized is off so that a wrong certificate is *reported* (who it names), not just
    // a failed handshake; the certificate is then checked here, against the config in force.
    const socket: TLSSocket = connect({ host, port, ca: caPem, rejectUnauthorized: false, ...(isIP(host) === 0 ? { servername: host } : {}) });
    socket.setTimeout(timeoutMs, () => finish(`no answer within ${timeoutMs} ms`));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(`${err.code ?? 'error'}: ${err.message}`.slice(0, 300)));
    socket.once('secureConnect', () => {
      connectMs = performance.now() - started;
      const cert = socket.getPeerX509Certificate();
      certPem = cert ? cert.toString() : null;
      sentAt = performance.now();
      socket.write(`GET /v1/health HTTP/1.1\r\nHost: ${u.host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
    });
    socket.once('data', (chunk: Buffer) => {
      // The first bytes of the answer are the round trip; the status line says whether it is the API.
      latencyMs = performance.now() - sentAt;
      const statusLine = chunk.toString('latin1', 0, Math.min(chunk.length, 80)).split('\r\n')[0] ?? '';
      finish(/^HTTP\/1\.[01] 200 /.test(statusLine) ? null : `GET /v1/health answered "${statusLine}"`);
    });
    socket.once('end', () => finish(latencyMs === null ? 'the connection closed without an answer' : null));
  });
}

/** Does the certificate presented at `node`'s API belong to that node under `config`? */
export function checkPresented(
  certPem: string | null,
  node: NodeEndpointConfig,
  config: ConsortiumConfig,
  msp: Msp,
  nowMs: number,
): NonNullable<NodeCheck['identity']> {
  if (certPem === null) return { ok: false, presented: null, problem: 'no certificate presented' };
  const x = new X509Certificate(certPem);
  const fingerprintHex = x.fingerprint256.replace(/:/g, '').toLowerCase();
  let identity;
  try {
    identity = msp.validate(certPem, nowMs);
  } catch (err) {
    const subject = x.subject.replace(/\n/g, ', ');
    return {
      ok: false,
      presented: { id: null, org: null, role: null, fingerprintHex },
      problem: `${subject}: not valid in the config in force (${(err as Error).message})`,
    };
  }
  const presented = { id: identity.id, org: identity.org, role: identity.role, fingerprintHex };
  if (identity.id !== node.id || identity.org !== node.org || identity.role !== 'peer')
    return { ok: false, presented, problem: `presents ${identity.id} of ${identity.org} (${identity.role}), expected ${node.id} of ${node.org}` };
  const host = new URL(node.apiUrl).hostname.replace(/^\[|\]$/g, '');
  if ((isIP(host) !== 0 ? x.checkIP(host) : x.checkHost(host)) === undefined)
    return { ok: false, presented, problem: `its certificate does not name ${host}, the host of its API URL` };
  const orderer = config.orderers.find((o) => o.id === node.id);
  if (orderer && !new X509Certificate(orderer.certPem).publicKey.equals(x.publicKey))
    return { ok: false, presented, problem: `its key is not the orderer key the config holds for ${node.id}` };
  return { ok: true, presented, problem: null };
}

/** Check every other node of the config in force, as seen from the node `client` talks to. */
export async function checkNodes(client: MedLedgerClient, creds: Credentials, timeoutMs = CHECK_TIMEOUT_MS): Promise<CheckResult> {
  const self = await client.status();
  const live = await client.config();
  const config = live.state.record.config;
  const network = await client.network().catch(() => null);
  const msp = new Msp(mspConfigOf(config));
  const others = (config.nodes ?? []).filter((n) => n.id !== self.nodeId);
  const nodes = await Promise.all(
    others.map(async (n): Promise<NodeCheck> => {
      const probe = await probeApi(n.apiUrl, creds.caPem, timeoutMs);
      const reachable = probe.error === null;
      const identity = probe.certPem !== null ? checkPresented(probe.certPem, n, config, msp, Date.now()) : null;
      let height: number | null = null;
      let error = probe.error;
      if (reachable && identity?.ok) {
        const other = new MedLedgerClient({ url: n.apiUrl, ...creds, nodeId: n.id, timeoutMs });
        try {
          height = (await other.status()).height;
        } catch (err) {
          error = `status: ${err instanceof MedLedgerApiError ? `${err.code}: ` : ''}${(err as Error).message}`.slice(0, 300);
        } finally {
          other.close();
        }
      }
      const seen = network?.nodes.find((x) => x.nodeId === n.id);
      const p2p = seen ? { reachable: seen.reachable, latencyMs: seen.latencyMs, error: seen.error } : null;
      const ok = reachable && identity !== null && identity.ok && (p2p === null || p2p.reachable);
      return {
        nodeId: n.id,
        org: n.org,
        roles: [...n.roles],
        apiUrl: n.apiUrl,
        p2pUrl: n.p2pUrl,
        reachable,
        connectMs: probe.certPem !== null ? probe.connectMs : null,
        latencyMs: probe.latencyMs,
        identity,
        height,
        p2p,
        error,
        ok,
      };
    }),
  );
  return {
    self: { nodeId: self.nodeId, org: self.org, height: self.height, configSequence: self.configSequence, joining: self.joining },
    nodes,
    ok: nodes.every((n) => n.ok),
  };
}

export function describeCheck(r: CheckResult): string {
  const lines = [
    `connection test from ${r.self.nodeId} (height ${r.self.height}, config sequence ${r.self.configSequence}${r.self.joining ? ', still joining' : ''})`,
    `${'node'.padEnd(22)} ${'org'.padEnd(12)} ${'API'.padEnd(13)} ${'identity'.padEnd(10)} ${'height'.padStart(7)} ${'latency'.padStart(9)}  p2p from here`,
  ];
  for (const n of r.nodes) {
    const api = n.reachable ? 'reachable' : 'UNREACHABLE';
    const id = n.identity === null ? '-' : n.identity.ok ? 'ok' : 'WRONG';
    const p2p = n.p2p === null ? 'unknown' : n.p2p.reachable ? `ok ${n.p2p.latencyMs ?? '?'} ms` : 'UNREACHABLE';
    lines.push(
      `${n.nodeId.padEnd(22)} ${n.org.padEnd(12)} ${api.padEnd(13)} ${id.padEnd(10)} ${String(n.height ?? '-').padStart(7)} ${(n.latencyMs === null ? '-' : `${n.latencyMs} ms`).padStart(9)}  ${p2p}`,
    );
    if (n.identity && !n.identity.ok) lines.push(`    identity: ${n.identity.problem}`);
    if (n.error) lines.push(`    ${n.reachable ? '' : `${n.apiUrl}: `}${n.error}`);
    if (n.p2p && !n.p2p.reachable && n.p2p.error) lines.push(`    p2p ${n.p2pUrl}: ${n.p2p.error}`);
  }
  const bad = r.nodes.filter((n) => !n.ok);
  lines.push('');
  lines.push(
    bad.length === 0
      ? `${r.nodes.length}/${r.nodes.length} other nodes reachable with the identity the config gives them`
      : `${r.nodes.length - bad.length}/${r.nodes.length} other nodes OK; failing: ${bad.map((n) => n.nodeId).join(', ')}`,
  );
  return lines.join('\n');
}
