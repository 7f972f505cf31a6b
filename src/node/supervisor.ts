// Running a local consortium as real processes: one `medledger node start` per hospital, with its
// PID in <dir>/<org>/node.pid and its output in <dir>/<org>/node.log. Each node reports its state
// in <dir>/<org>/node.status.json (written by the node itself every second), which is how `up`
// knows the network is ready without any shared secret.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NodeStatus } from './services.ts';

export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../bin/medledger.js');

export interface NodeStatusFile extends NodeStatus {
  readonly pid: number;
  readonly p2pUrl: string;
  readonly apiUrl: string;
  /** The loopback web console (plain HTTP); null when its port could not be opened. */
  readonly consoleUrl?: string | null;
  readonly writtenAtMs: number;
}

/** Organisation directories of a consortium directory (those holding a node.yaml), sorted. */
export function nodeDirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'node.yaml')))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name) => join(dir, name));
}

export function readStatusFile(nodeDir: string): NodeStatusFile | null {
  const path = join(nodeDir, 'node.status.json');
  try {
    if (statSync(path).size > 1024 * 1024) return null;
    return JSON.parse(readFileSync(path, 'utf8')) as NodeStatusFile;
  } catch {
    return null;
  }
}

export function readPid(nodeDir: string): number | null {
  try {
    const pid = Number(readFileSync(join(nodeDir, 'node.pid'), 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * glibc malloc settings for a node process (decision 1380), each unless the environment sets it.
 * A node allocates and frees many buffers of 128 KiB and more per second (a block's encoding, a
 * WAL record of many entries, an append carrying a batch). Above glibc's default mmap threshold
 * (128 KiB, raised only after such a chunk is freed) and its trim threshold, each of them is a
 * fresh mapping or freshly grown heap: the kernel zeroes every page on first touch. Measured with
 * `perf` at the bench's peak, page zeroing (`clear_page_erms`) was 7 % of a node's CPU; with these
 * settings 3 %. The cost is memory: up to TRIM bytes of freed heap stay with the process.
 */
export const NODE_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: String(16 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(128 * 1024 * 1024),
};

/** The environment of a node process: NODE_MALLOC_ENV under what the caller's environment sets. */
export function nodeProcessEnv(inherited: NodeJS.ProcessEnv, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...NODE_MALLOC_ENV, ...inherited, ...extra };
}

/** Start one node process; output is appended to <nodeDir>/node.log. */
export function spawnNode(
  nodeDir: string,
  options: { detached: boolean; env?: NodeJS.ProcessEnv; nodeArgs?: readonly string[]; launcher?: readonly string[] },
): number {
  rmSync(join(nodeDir, 'node.status.json'), { force: true });
  const log = openSync(join(nodeDir, 'node.log'), 'a');
  try {
    // `launcher` runs the node through another program that execs it (the fault suite: `ip netns
    // exec <ns>`), so the PID returned is still the node's; `nodeArgs` go to Node.js itself.
    const command = [...(options.launcher ?? []), process.execPath, ...(options.nodeArgs ?? []), BIN, 'node', 'start', '--config', join(nodeDir, 'node.yaml')];
    const child = spawn(command[0]!, command.slice(1), {
      detached: options.detached,
      stdio: ['ignore', log, log],
      env: nodeProcessEnv(process.env, options.env),
    });
    if (options.detached) child.unref();
    if (child.pid === undefined) throw new Error(`could not start the node in ${nodeDir}`);
    return child.pid;
  } finally {
    closeSync(log);
  }
}

export interface ReadyCheck {
  readonly nodeDir: string;
  readonly pid: number;
}

/**
 * Wait until every node runs (its status file is fresh and from its current PID), sees all the
 * others, and — for leader-based engines — they agree on one leader. Throws naming the node that
 * is not ready, with the tail of its log.
 */
export async function waitUntilReady(nodes: readonly ReadyCheck[], timeoutMs: number): Promise<NodeStatusFile[]> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'not checked yet';
  while (Date.now() < deadline) {
    const statuses: NodeStatusFile[] = [];
    lastProblem = '';
    for (const n of nodes) {
      if (!isAlive(n.pid)) throw new Error(`the node in ${n.nodeDir} exited during start-up:\n${tailLog(n.nodeDir)}`);
      const s = readStatusFile(n.nodeDir);
      if (!s || s.pid !== n.pid) {
        lastProblem = `${n.nodeDir} has not reported yet`;
        break;
      }
      statuses.push(s);
    }
    if (!lastProblem) {
      const lonely = statuses.find((s) => s.connectedPeers.length < nodes.length - 1);
      const leaders = new Set(statuses.map((s) => s.consensus?.leader ?? null));
      if (lonely) lastProblem = `${lonely.nodeId} is connected to ${lonely.connectedPeers.length} of ${nodes.length - 1} peers`;
      else if (statuses.some((s) => s.consensus && s.consensus.leader === null) || leaders.size > 1) lastProblem = 'the nodes do not agree on a leader yet';
      else return statuses;
    }
    await sleep(200);
  }
  throw new Error(`the network was not ready within ${timeoutMs} ms: ${lastProblem}`);
}

export function tailLog(nodeDir: string, lines = 15): string {
  try {
    return readFileSync(join(nodeDir, 'node.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** SIGTERM, wait, then SIGKILL what is left. Returns the PIDs that had to be killed. */
export async function stopProcesses(pids: readonly number[], graceMs = 10_000): Promise<number[]> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && pids.some(isAlive)) await sleep(100);
  const killed = pids.filter(isAlive);
  for (const pid of killed) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // raced with its exit
    }
  }
  return killed;
}
