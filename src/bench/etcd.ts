// etcd as the reference of the ordering benchmark (decision 1350): a 3-member cluster of the
// system's `etcd` binary (Debian's etcd-server 3.4) on loopback, fsync on (etcd's default), peers
// over mutual TLS with the same certificates the MedLedger orderers use, and a lean client of
// etcd's v3 gRPC API: HTTP/2 with many streams per connection, PutRequest hand-encoded in
// protobuf (two length-delimited fields), no gRPC library.
import { stopChildren } from './children.ts';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeDirectory } from '../files/directory.ts';

/** The etcd binary on PATH and its version, or null when it is not installed. */
export function findEtcd(binary = process.env['MEDLEDGER_ETCD'] ?? 'etcd'): { binary: string; version: string } | null {
  const r = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return null;
  const version = /etcd Version:\s*(\S+)/.exec(r.stdout)?.[1];
  return version ? { binary, version } : null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

// ------------------------------------------------------------------ protobuf (the few fields used)

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function bytesField(field: number, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([...varint((field << 3) | 2), ...varint(value.byteLength)]), value]);
}

function varintField(field: number, value: number): Buffer {
  return Buffer.from([...varint(field << 3), ...varint(value)]);
}

/** etcdserverpb.PutRequest {key = 1, value = 2}. */
export function encodePutRequest(key: Uint8Array, value: Uint8Array): Buffer {
  return Buffer.concat([bytesField(1, key), bytesField(2, value)]);
}

/** etcdserverpb.RangeRequest {key = 1, range_end = 2, keys_only = 8, count_only = 9}. */
export function encodeRangeRequest(key: Uint8Array, rangeEnd: Uint8Array, o: { keysOnly?: boolean; countOnly?: boolean } = {}): Buffer {
  return Buffer.concat([bytesField(1, key), bytesField(2, rangeEnd), ...(o.keysOnly ? [varintField(8, 1)] : []), ...(o.countOnly ? [varintField(9, 1)] : [])]);
}

type Field = { no: number; varint?: bigint; bytes?: Buffer };

/** Decode one protobuf message into its fields (varint and length-delimited; others skipped). */
export function decodeFields(buf: Buffer): Field[] {
  const fields: Field[] = [];
  let i = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const tag = Number(readVarint());
    const no = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) fields.push({ no, varint: readVarint() });
    else if (wire === 2) {
      const len = Number(readVarint());
      fields.push({ no, bytes: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`protobuf wire type ${wire} not handled`);
  }
  return fields;
}

/** A byte string's prefix range end (etcd's "all keys with this prefix"). */
export function prefixEnd(prefix: Uint8Array): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

// ------------------------------------------------------------------ gRPC over HTTP/2

export class GrpcError extends Error {
  override readonly name = 'GrpcError';
}

/** One unary gRPC call on an HTTP/2 session: 5-byte framed message out, one framed message back. */
export function grpcUnary(session: http2.ClientHttp2Session, path: string, message: Buffer, timeoutMs = 30_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const frame = Buffer.allocUnsafe(5 + message.byteLength);
    frame[0] = 0;
    frame.writeUInt32BE(message.byteLength, 1);
    message.copy(frame, 5);
    const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers' });
    req.setTimeout(timeoutMs, () => req.close(http2.constants.NGHTTP2_CANCEL));
    const chunks: Buffer[] = [];
    let status: string | undefined;
    let grpcMessage = '';
    req.on('response', (headers) => {
      if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
      if (headers[':status'] !== 200) status ??= `http ${String(headers[':status'])}`;
    });
    req.on('trailers', (trailers) => {
      if (trailers['grpc-status'] !== undefined) status = String(trailers['grpc-status']);
      grpcMessage = String(trailers['grpc-message'] ?? '');
    });
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('error', reject);
    req.on('close', () => {
      if (status !== '0') {
        reject(new GrpcError(`${path}: grpc-status ${status ?? 'missing'} ${decodeURIComponent(grpcMessage)}`.trim()));
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.length < 5) {
        reject(new GrpcError(`${path}: empty response`));
        return;
      }
      resolve(body.subarray(5, 5 + body.readUInt32BE(1)));
    });
    req.end(frame);
  });
}

export const ETCD_PUT_PATH = '/etcdserverpb.KV/Put';

export interface EtcdMemberStatus {
  readonly memberId: bigint;
  readonly leader: bigint;
  readonly version: string;
}

export async function etcdStatus(session: http2.ClientHttp2Session): Promise<EtcdMemberStatus> {
  const fields = decodeFields(await grpcUnary(session, '/etcdserverpb.Maintenance/Status', Buffer.alloc(0), 5_000));
  const header = fields.find((f) => f.no === 1)?.bytes;
  const memberId = header ? (decodeFields(header).find((f) => f.no === 2)?.varint ?? 0n) : 0n;
  return {
    memberId,
    leader: fields.find((f) => f.no === 4)?.varint ?? 0n,
    version: fields.find((f) => f.no === 2)?.bytes?.toString('utf8') ?? '',
  };
}

/** Keys under `prefix` with their versions (KeyValue.version = 4): a key put once has version 1. */
export async function etcdRange(session: http2.ClientHttp2Session, prefix: Uint8Array, countOnly: boolean): Promise<{ count: number; versions: number[] }> {
  const fields = decodeFields(
    await grpcUnary(session, '/etcdserverpb.KV/Range', encodeRangeRequest(prefix, prefixEnd(prefix), { countOnly, keysOnly: !countOnly })),
  );
  const versions = fields.filter((f) => f.no === 2 && f.bytes).map((f) => Number(decodeFields(f.bytes!).find((k) => k.no === 4)?.varint ?? 0n));
  return { count: Number(fields.find((f) => f.no === 4)?.varint ?? 0n), versions };
}

// ------------------------------------------------------------------ the cluster

export interface EtcdTls {
  /** Member certificate followed by its CA chain, PEM. */
  readonly certChainPem: string;
  readonly keyPem: string;
  readonly caPem: string;
}

export interface EtcdCluster {
  readonly clientUrls: readonly string[];
  readonly version: string;
  readonly pids: readonly number[];
  /** The client URL of the current leader. */
  leaderUrl(): Promise<string>;
  stop(): Promise<void>;
}

/** Start `tls.length` members (3 in the benchmark) under `dir`; resolves once a leader is elected. */
export async function startEtcdCluster(o: { binary: string; version: string; dir: string; tls: readonly EtcdTls[]; timeoutMs?: number }): Promise<EtcdCluster> {
  const n = o.tls.length;
  const members = [];
  for (let i = 0; i < n; i++) members.push({ name: `m${i + 1}`, client: await freePort(), peer: await freePort() });
  const initialCluster = members.map((m) => `${m.name}=https://127.0.0.1:${m.peer}`).join(',');
  const children: ChildProcess[] = [];
  const logs: string[][] = [];
  for (let i = 0; i < n; i++) {
    const m = members[i]!;
    const memberDir = join(o.dir, m.name);
    makeDirectory(memberDir);
    const tls = o.tls[i]!;
    writeFileSync(join(memberDir, 'peer.crt'), tls.certChainPem);
    writeFileSync(join(memberDir, 'peer.key'), tls.keyPem, { mode: 0o600 });
    writeFileSync(join(memberDir, 'ca.crt'), tls.caPem);
    const args = [
      `--name=${m.name}`,
      `--data-dir=${join(memberDir, 'data')}`,
      `--listen-client-urls=http://127.0.0.1:${m.client}`,
      `--advertise-client-urls=http://127.0.0.1:${m.client}`,
      `--listen-peer-urls=https://127.0.0.1:${m.peer}`,
      `--initial-advertise-peer-urls=https://127.0.0.1:${m.peer}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      '--initial-cluster-token=medledger-bench',
      `--peer-cert-file=${join(memberDir, 'peer.crt')}`,
      `--peer-key-file=${join(memberDir, 'peer.key')}`,
      `--peer-trusted-ca-file=${join(memberDir, 'ca.crt')}`,
      '--peer-client-cert-auth',
      '--logger=zap',
      '--log-level=error',
    ];
    const child = spawn(o.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const log: string[] = [];
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (log.length < 200) log.push(s);
    });
    children.push(child);
    logs.push(log);
  }
  const clientUrls = members.map((m) => `http://127.0.0.1:${m.client}`);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopChildren(children, (c) => c.kill('SIGTERM'));
  };
  const leaderUrl = async (): Promise<string> => {
    const statuses = await Promise.all(
      clientUrls.map(async (url) => {
        const s = http2.connect(url);
        s.on('error', () => undefined);
        try {
          return await etcdStatus(s);
        } catch {
          return null;
        } finally {
          s.close();
        }
      }),
    );
    const i = statuses.findIndex((s) => s !== null && s.leader !== 0n && s.memberId === s.leader);
    if (i < 0) throw new GrpcError('no etcd leader yet');
    return clientUrls[i]!;
  };
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    const dead = children.findIndex((c) => c.exitCode !== null);
    if (dead >= 0) {
      await stop();
      throw new Error(`etcd member m${dead + 1} exited (${children[dead]!.exitCode}): ${logs[dead]!.join('').slice(-2000)}`);
    }
    try {
      await leaderUrl();
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`etcd elected no leader within ${o.timeoutMs ?? 30_000} ms: ${logs.flat().join('').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { clientUrls, version: o.version, pids: children.map((c) => c.pid ?? 0), leaderUrl, stop };
}
