// Network namespaces for the fault suite: each node process gets its own namespace, a veth pair
// into a bridge in the root namespace, and its own IP, so it is a separate host as far as the
// kernel is concerned (its own loopback, its own ports, its own address that the fault proxy
// recognises). Needs root and iproute2 (`ip`); where either is missing, `openNamespaces` says why
// and the suite falls back to loopback.
//
// Names are short (Linux interface names have at most 15 characters) and carry a per-run tag so
// two runs on one machine do not collide; `close` removes everything, and a run that died is
// cleaned up by the next one with the same tag.
import { spawnSync } from 'node:child_process';

export interface Namespaces {
  /** The bridge's address in the root namespace: where the fault proxy listens. */
  readonly hostIp: string;
  /** Namespace name of node i (for `ip netns exec`). */
  nsOf(index: number): string;
  /** Node i's address. */
  ipOf(index: number): string;
  /** Node index of an address, or null. */
  indexOf(address: string): number | null;
  close(): void;
}

function ip(args: readonly string[], ns?: string): { ok: boolean; error: string } {
  const full = ns ? ['netns', 'exec', ns, 'ip', ...args] : [...args];
  const r = spawnSync('ip', full, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, error: (r.stderr || r.error?.message || '').trim() };
}

function must(args: readonly string[], ns?: string): void {
  const r = ip(args, ns);
  if (!r.ok) throw new Error(`ip ${ns ? `netns exec ${ns} ip ` : ''}${args.join(' ')}: ${r.error}`);
}

/** Namespaces for `count` nodes, or the reason they cannot be made here. */
export function openNamespaces(count: number, tag = process.pid % 200): Namespaces | { unavailable: string } {
  if (process.getuid?.() !== 0) return { unavailable: 'not root (network namespaces need CAP_NET_ADMIN)' };
  const probe = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (probe.status !== 0) return { unavailable: 'iproute2 (`ip`) is not installed' };
  const subnet = `10.231.${tag}`;
  const bridge = `mlf${tag}b`;
  const nsOf = (i: number): string => `mlf${tag}n${i}`;
  const vethOf = (i: number): string => `mlf${tag}v${i}`;
  const close = (): void => {
    for (let i = 0; i < 64; i++) {
      ip(['link', 'del', vethOf(i)]);
      ip(['netns', 'del', nsOf(i)]);
    }
    ip(['link', 'del', bridge]);
  };
  close();
  try {
    must(['link', 'add', 'name', bridge, 'type', 'bridge']);
    must(['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    must(['link', 'set', bridge, 'up']);
    for (let i = 0; i < count; i++) {
      must(['netns', 'add', nsOf(i)]);
      must(['link', 'add', vethOf(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nsOf(i)]);
      must(['link', 'set', vethOf(i), 'master', bridge]);
      must(['link', 'set', vethOf(i), 'up']);
      must(['link', 'set', 'lo', 'up'], nsOf(i));
      must(['addr', 'add', `${subnet}.${10 + i}/24`, 'dev', 'eth0'], nsOf(i));
      must(['link', 'set', 'eth0', 'up'], nsOf(i));
    }
  } catch (err) {
    close();
    return { unavailable: (err as Error).message };
  }
  return {
    hostIp: `${subnet}.1`,
    nsOf,
    ipOf: (i) => `${subnet}.${10 + i}`,
    indexOf(address) {
      const m = /^(?:::ffff:)?10\.231\.(\d+)\.(\d+)$/.exec(address);
      if (!m || Number(m[1]) !== tag) return null;
      const i = Number(m[2]) - 10;
      return i >= 0 && i < count ? i : null;
    },
    close,
  };
}
