// The fault suite (issue 11): real node processes — each in its own network namespace when the
// machine allows it — with node-to-node traffic through a fault proxy (latency between hospitals,
// loss, one-way and full partitions, silent or reset), kill -9 / restart loops and clock skew,
// while clients submit through random nodes and record every outcome. An independent checker then
// reads the chain: every acknowledged transaction on every node exactly once, identical chains,
// `ledger verify` on every node's files, every unknown outcome reported with its txId; plus the
// availability seen by clients around each fault, and what the nodes logged about it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findIdentity, loadConsortium } from '../../identity/index.ts';
import { verifyLedger } from '../../ledger/verify.ts';
import { initConsortium, type EngineName } from '../../node/init.ts';
import { isAlive, readStatusFile, spawnNode, stopProcesses, waitUntilReady, type NodeStatusFile } from '../../node/supervisor.ts';
import { MedLedgerApiError, MedLedgerClient, OutcomeUnknownError } from '../../sdk/client.ts';
import { openNamespaces, type Namespaces } from './netns.ts';
import { FaultProxy } from './proxy.ts';
import { freeBasePort } from '../../node/ports.ts';

export type FaultKind = 'kill-follower' | 'kill-leader' | 'kill-two' | 'partition' | 'one-way-silent' | 'loss' | 'clock-skew' | 'kill-loop';

export interface FaultSuiteOptions {
  readonly engine: EngineName;
  readonly orgs: number;
  readonly faults: readonly FaultKind[];
  /** kill -9 / restart cycles in the kill-loop fault. */
  readonly killCycles: number;
  /** Seconds each fault lasts (and the recovery after it). */
  readonly faultSeconds: number;
  readonly clients: number;
  /** Use network namespaces when the machine allows it (default true). */
  readonly namespaces?: boolean;
  readonly log?: (line: string) => void;
}

export type Outcome = 'VALID' | 'INVALID' | 'refused' | 'unknown';

interface Submission {
  readonly id: string;
  readonly via: string;
  readonly startMs: number;
  endMs: number;
  outcome: Outcome;
  txId: string | null;
  code: string | null;
  detail: string;
}

export interface FaultWindow {
  readonly kind: FaultKind;
  readonly detail: string;
  readonly startMs: number;
  endMs: number;
  /** From the fault until the first commit of a transaction submitted after it. */
  timeToCommitMs: number | null;
  /** Latency of the slowest acknowledged transaction submitted during the window. */
  worstLatencyMs: number | null;
  p99LatencyMs: number | null;
  /** Operator events (see OPERATOR_EVENT) the nodes logged from the fault until recovery ended, by message. */
  logged: Record<string, number>;
}

/**
 * What counts as telling an operator about a fault: anything at warn or above, and the info-level
 * events an operator follows (leader/primary changes, peers, recovery) — not routine commits.
 */
const OPERATOR_EVENT = /^(consensus:|peer |endorser |slow |joining|joined|this node is no longer|config update)/i;

export interface FaultReport {
  readonly engine: EngineName;
  readonly orgs: number;
  readonly isolation: string;
  readonly durationMs: number;
  readonly submissions: number;
  readonly byOutcome: Readonly<Record<Outcome, number>>;
  readonly unknownResolved: { committed: number; notCommitted: number };
  readonly lost: readonly string[];
  readonly duplicated: readonly string[];
  /** Transactions reported refused that are nevertheless on the chain (a dishonest refusal). */
  readonly refusedButCommitted: readonly string[];
  readonly unknownWithoutTxId: number;
  /** Why submissions were refused: error code → count. */
  readonly refusedBy: Readonly<Record<string, number>>;
  readonly chainsIdentical: boolean;
  readonly height: number;
  readonly verified: ReadonlyArray<{ org: string; ok: boolean; problem: string | null }>;
  readonly baselineP50Ms: number | null;
  readonly windows: readonly FaultWindow[];
  /** Operator-visible log lines (warn and above) per message, over all nodes. */
  readonly operatorLog: Readonly<Record<string, number>>;
}

const SKEW_MODULE = join(import.meta.dirname, 'skew.ts');
const percentile = (xs: readonly number[], p: number): number | null => {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

export async function runFaultSuite(o: FaultSuiteOptions): Promise<FaultReport> {
  const say = o.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), `medledger-faults-${o.engine}-`));
  const basePort = await freeBasePort(o.orgs);
  const ns: Namespaces | null = (() => {
    if (o.namespaces === false) return null;
    const opened = openNamespaces(o.orgs);
    if ('unavailable' in opened) {
      say(`network namespaces unavailable (${opened.unavailable}): falling back to loopback; partitions then cut a node's inbound links only`);
      return null;
    }
    return opened;
  })();
  const isolation = ns ? 'a network namespace per node' : 'loopback (no namespaces)';
  const proxyHost = ns?.hostIp ?? '127.0.0.1';
  const nodeHost = (i: number): string => ns?.ipOf(i) ?? '127.0.0.1';
  const proxyPort = (i: number): number => basePort + 500 + i;
  const proxy = new FaultProxy({ listenHost: proxyHost, sourceOf: (a) => ns?.indexOf(a) ?? null });
  const pids = new Map<number, number>();
  const clients: MedLedgerClient[] = [];
  const startedMs = Date.now();
  const subs: Submission[] = [];
  const windows: FaultWindow[] = [];
  let stop = false;
  try {
    const init = await initConsortium({
      dir,
      orgs: o.orgs,
      engine: o.engine,
      basePort,
      tickMs: 50,
      addresses: (i, ports) => ({
        listenHost: ns ? '0.0.0.0' : '127.0.0.1',
        p2pUrl: `wss://${proxyHost}:${proxyPort(i)}`,
        apiUrl: `https://${nodeHost(i)}:${ports.apiPort}`,
        certHosts: [nodeHost(i), proxyHost, '127.0.0.1'],
      }),
    });
    const orgs = init.nodes.map((n) => n.org);
    for (let i = 0; i < orgs.length; i++) await proxy.addDestination(i, nodeHost(i), basePort + 2 * i, proxyPort(i));
    const start = (i: number, skewMs = 0): void => {
      pids.set(
        i,
        spawnNode(join(dir, orgs[i]!), {
          detached: false,
          env: { MEDLEDGER_LOG_LEVEL: 'info', ...(skewMs !== 0 ? { MEDLEDGER_FAULT_CLOCK_SKEW_MS: String(skewMs) } : {}) },
          ...(ns ? { launcher: ['ip', 'netns', 'exec', ns.nsOf(i)] } : {}),
          ...(skewMs !== 0 ? { nodeArgs: ['--import', 'tsx', '--import', SKEW_MODULE] } : {}),
        }),
      );
    };
    const kill = (i: number): void => {
      const pid = pids.get(i);
      if (pid !== undefined && isAlive(pid)) process.kill(pid, 'SIGKILL');
    };
    const alive = (i: number): boolean => {
      const pid = pids.get(i);
      return pid !== undefined && isAlive(pid);
    };
    const status = (i: number): NodeStatusFile | null => readStatusFile(join(dir, orgs[i]!));
    for (let i = 0; i < orgs.length; i++) start(i);
    await waitUntilReady(
      orgs.map((org, i) => ({ nodeDir: join(dir, org), pid: pids.get(i)! })),
      180_000,
    );
    say(`${o.orgs} ${o.engine} nodes up (${isolation})`);

    // Geographic latency between hospitals for the whole run: 5–25 ms one way per node pair.
    if (ns)
      for (let a = 0; a < orgs.length; a++) for (let b = 0; b < orgs.length; b++) if (a !== b) proxy.setRule(a, b, { delayMs: 5 + ((a * 7 + b * 3) % 5) * 5 });

    const consortium = loadConsortium(join(dir, 'crypto'));
    const apiUrls = init.nodes.map((n) => n.apiUrl);
    const clientOf = (i: number): MedLedgerClient => {
      const id = findIdentity(consortium, orgs[i]!, 'doctor1')!;
      const c = new MedLedgerClient({
        url: apiUrls[i]!,
        certPem: id.certPem,
        keyPem: id.keyPem,
        caPem: consortium.root.certPem,
        timeoutMs: 30_000,
        failover: apiUrls.filter((_, j) => j !== i),
      });
      clients.push(c);
      return c;
    };
    const byNode = orgs.map((_, i) => clientOf(i));
    let counter = 0;
    const worker = async (w: number): Promise<void> => {
      while (!stop) {
        const live = orgs.map((_, i) => i).filter(alive);
        const i = live[Math.floor(Math.random() * live.length)] ?? 0;
        const id = `f${w}-${counter++}`;
        const sub: Submission = { id, via: orgs[i]!, startMs: Date.now(), endMs: 0, outcome: 'refused', txId: null, code: null, detail: '' };
        subs.push(sub);
        try {
          const r = await byNode[i]!.submit('assets', 'create', [id, 'patient-f', '1'], { waitMs: 20_000 });
          sub.txId = r.txId;
          sub.code = r.code ?? null;
          sub.outcome = r.code === 'VALID' ? 'VALID' : 'INVALID';
        } catch (err) {
          if (err instanceof OutcomeUnknownError) {
            sub.outcome = 'unknown';
            sub.txId = err.txId;
          } else {
            sub.outcome = 'refused';
            sub.txId = err instanceof MedLedgerApiError ? err.txId : null;
            sub.code = err instanceof MedLedgerApiError ? err.code : 'ERROR';
          }
          sub.detail = (err as Error).message.slice(0, 300);
          await sleep(50);
        }
        sub.endMs = Date.now();
      }
    };
    const workers = Array.from({ length: o.clients }, (_, w) => worker(w));

    const leaderIndex = (): number | null => {
      for (let i = 0; i < orgs.length; i++) {
        if (!alive(i)) continue;
        const l = status(i)?.consensus?.leader;
        if (l) {
          const j = orgs.findIndex((org) => `node.${org}` === l);
          if (j >= 0 && alive(j)) return j;
        }
      }
      return null;
    };
    const waitCaughtUp = async (i: number): Promise<void> => {
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        const s = status(i);
        const others = orgs
          .map((_, j) => j)
          .filter((j) => j !== i && alive(j))
          .map((j) => status(j)?.height ?? 0);
        if (s && s.pid === pids.get(i) && s.height >= Math.min(...others)) return;
        await sleep(250);
      }
      throw new Error(`${orgs[i]} did not catch up within 90 s after restart`);
    };
    const window = async (kind: FaultKind, detail: string, inject: () => void | Promise<void>, heal: () => void | Promise<void>): Promise<void> => {
      const w: FaultWindow = { kind, detail, startMs: Date.now(), endMs: 0, timeToCommitMs: null, worstLatencyMs: null, p99LatencyMs: null, logged: {} };
      say(`fault: ${kind} (${detail})`);
      await inject();
      await sleep(o.faultSeconds * 1000);
      w.endMs = Date.now();
      await heal();
      windows.push(w);
      await sleep(o.faultSeconds * 1000);
    };
    const pickFollower = (): number => {
      const l = leaderIndex();
      return orgs.map((_, i) => i).find((i) => i !== l && alive(i)) ?? 0;
    };

    await sleep(o.faultSeconds * 1000);
    for (const kind of o.faults) {
      switch (kind) {
        case 'kill-follower': {
          const f = pickFollower();
          await window(
            kind,
            orgs[f]!,
            () => kill(f),
            async () => {
              start(f);
              await waitCaughtUp(f);
            },
          );
          break;
        }
        case 'kill-leader': {
          const l = leaderIndex() ?? 0;
          await window(
            kind,
            orgs[l]!,
            () => kill(l),
            async () => {
              start(l);
              await waitCaughtUp(l);
            },
          );
          break;
        }
        case 'kill-two': {
          const l = leaderIndex() ?? 0;
          const f = orgs.map((_, i) => i).find((i) => i !== l && alive(i))!;
          await window(
            kind,
            `${orgs[l]} (leader) and ${orgs[f]}`,
            () => {
              kill(l);
              kill(f);
            },
            async () => {
              start(l);
              start(f);
              await waitCaughtUp(l);
              await waitCaughtUp(f);
            },
          );
          break;
        }
        case 'partition': {
          const f = pickFollower();
          const cut = (rule: { cut: 'reset' } | null): void => {
            for (let j = 0; j < orgs.length; j++)
              if (j !== f) {
                proxy.setRule(f, j, rule ?? (ns ? { delayMs: 10 } : null));
                proxy.setRule(j, f, rule ?? (ns ? { delayMs: 10 } : null));
              }
          };
          await window(
            kind,
            `${orgs[f]} cut off (connections reset)`,
            () => cut({ cut: 'reset' }),
            async () => {
              cut(null);
              await waitCaughtUp(f);
            },
          );
          break;
        }
        case 'one-way-silent': {
          const l = leaderIndex() ?? 0;
          // The leader still hears everyone but nothing it sends arrives, and nobody is told.
          const set = (on: boolean): void => {
            for (let j = 0; j < orgs.length; j++) if (j !== l) proxy.setRule(ns ? l : null, j, on ? { cut: 'silent' } : ns ? { delayMs: 10 } : null);
          };
          await window(
            kind,
            `${orgs[l]} (leader) → others silently dropped`,
            () => set(true),
            async () => {
              set(false);
              await waitCaughtUp(l);
            },
          );
          break;
        }
        case 'loss': {
          const set = (on: boolean): void => {
            for (let a = 0; a < orgs.length; a++)
              for (let b = 0; b < orgs.length; b++)
                if (a !== b) proxy.setRule(ns ? a : null, b, on ? { delayMs: 10, lossRate: 0.05 } : ns ? { delayMs: 10 } : null);
          };
          await window(
            kind,
            '5% of segments lost on every link',
            () => set(true),
            () => set(false),
          );
          break;
        }
        case 'clock-skew': {
          const f = pickFollower();
          await window(
            kind,
            `${orgs[f]} restarted with its clock 20 s ahead`,
            async () => {
              kill(f);
              await sleep(200);
              start(f, 20_000);
            },
            async () => {
              kill(f);
              await sleep(200);
              start(f);
              await waitCaughtUp(f);
            },
          );
          break;
        }
        case 'kill-loop': {
          for (let c = 0; c < o.killCycles; c++) {
            const i = Math.floor(Math.random() * orgs.length);
            await window(
              kind,
              `cycle ${c + 1}: ${orgs[i]}${i === leaderIndex() ? ' (leader)' : ''}`,
              () => kill(i),
              async () => {
                start(i);
                await waitCaughtUp(i);
              },
            );
          }
          break;
        }
      }
    }
    stop = true;
    await Promise.all(workers);
    const endMs = Date.now();
    proxy.clearRules();

    // --- the checker: read what every node holds ---------------------------------------------
    for (let i = 0; i < orgs.length; i++) if (!alive(i)) start(i);
    let heights: number[] = [];
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const st = orgs.map((_, i) => status(i));
      heights = st.map((s) => s?.height ?? -1);
      if (st.every((s, i) => s && s.pid === pids.get(i) && s.height === st[0]!.height && s.lastBlockHashHex === st[0]!.lastBlockHashHex)) break;
      await sleep(500);
    }
    const final = orgs.map((_, i) => status(i));
    const chainsIdentical = final.every((s) => s && s.height === final[0]!.height && s.lastBlockHashHex === final[0]!.lastBlockHashHex);
    const reader = byNode[0]!;
    const height = (await reader.status()).height;
    const validCount = new Map<string, number>();
    const anyCount = new Map<string, number>();
    for (let n = 1; n <= height; n++) {
      for (const tx of (await reader.block(n)).txs) {
        if (!tx.txId) continue;
        anyCount.set(tx.txId, (anyCount.get(tx.txId) ?? 0) + 1);
        if (tx.code === 'VALID') validCount.set(tx.txId, (validCount.get(tx.txId) ?? 0) + 1);
      }
    }
    // Every node holds the same blocks: compare each block hash through every node's API too.
    for (let i = 1; i < orgs.length; i++) {
      const mine = await byNode[i]!.block(height);
      const theirs = await reader.block(height);
      if (mine.hashHex !== theirs.hashHex) throw new Error(`${orgs[i]} holds another block ${height}`);
    }
    const acked = subs.filter((s) => s.outcome === 'VALID');
    const lost = acked.filter((s) => validCount.get(s.txId!) !== 1 && (validCount.get(s.txId!) ?? 0) === 0).map((s) => s.txId!);
    const duplicated = [...validCount].filter(([, n]) => n > 1).map(([t]) => t);
    const refusedButCommitted = subs.filter((s) => s.outcome === 'refused' && s.txId && (validCount.get(s.txId) ?? 0) > 0).map((s) => s.txId!);
    const unknowns = subs.filter((s) => s.outcome === 'unknown');
    const unknownResolved = {
      committed: unknowns.filter((s) => s.txId && (anyCount.get(s.txId) ?? 0) > 0).length,
      notCommitted: unknowns.filter((s) => !s.txId || (anyCount.get(s.txId) ?? 0) === 0).length,
    };

    // --- availability, seen by the clients --------------------------------------------------
    const baseline = acked
      .filter((s) => !windows.some((w) => s.startMs < w.endMs + o.faultSeconds * 1000 && s.endMs > w.startMs))
      .map((s) => s.endMs - s.startMs);
    for (const w of windows) {
      const after = acked.filter((s) => s.startMs >= w.startMs).sort((a, b) => a.endMs - b.endMs)[0];
      w.timeToCommitMs = after ? after.endMs - w.startMs : null;
      const during = acked.filter((s) => s.startMs >= w.startMs && s.startMs <= w.endMs).map((s) => s.endMs - s.startMs);
      w.worstLatencyMs = during.length ? Math.max(...during) : null;
      w.p99LatencyMs = percentile(during, 99);
    }

    await stopProcesses([...pids.values()].filter(isAlive), 15_000);
    const verified: Array<{ org: string; ok: boolean; problem: string | null }> = [];
    for (const org of orgs) {
      const r = await verifyLedger(join(dir, org, 'data'));
      verified.push({ org, ok: r.ok, problem: r.ok ? null : (r.problem?.reason ?? 'unknown') });
    }
    const operatorLog: Record<string, number> = {};
    for (const org of orgs) {
      let text = '';
      try {
        text = readFileSync(join(dir, org, 'node.log'), 'utf8');
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        try {
          const entry = JSON.parse(line) as { level?: number | string; msg?: string; time?: number };
          const level = typeof entry.level === 'number' ? entry.level : ({ info: 30, warn: 40, error: 50, fatal: 60 }[String(entry.level)] ?? 0);
          if (!entry.msg) continue;
          if (level >= 40) operatorLog[entry.msg] = (operatorLog[entry.msg] ?? 0) + 1;
          // Which fault window (fault + recovery) this operator event falls in.
          if (typeof entry.time !== 'number' || (level < 40 && !(level >= 30 && OPERATOR_EVENT.test(entry.msg)))) continue;
          const w = windows.find((x) => entry.time! >= x.startMs && entry.time! <= x.endMs + o.faultSeconds * 1000);
          if (w) w.logged[entry.msg] = (w.logged[entry.msg] ?? 0) + 1;
        } catch {
          // not a JSON log line
        }
      }
    }
    const count = (k: Outcome): number => subs.filter((s) => s.outcome === k).length;
    return {
      engine: o.engine,
      orgs: o.orgs,
      isolation,
      durationMs: endMs - startedMs,
      submissions: subs.length,
      byOutcome: { VALID: count('VALID'), INVALID: count('INVALID'), refused: count('refused'), unknown: count('unknown') },
      unknownResolved,
      lost,
      duplicated,
      refusedButCommitted,
      unknownWithoutTxId: unknowns.filter((s) => !s.txId).length,
      refusedBy: subs
        .filter((s) => s.outcome === 'refused')
        .reduce<Record<string, number>>((acc, s) => ({ ...acc, [s.code ?? 'ERROR']: (acc[s.code ?? 'ERROR'] ?? 0) + 1 }), {}),
      chainsIdentical: chainsIdentical && heights.length > 0,
      height,
      verified,
      baselineP50Ms: percentile(baseline, 50),
      windows,
      operatorLog,
    };
  } finally {
    stop = true;
    for (const c of clients) c.close();
    await stopProcesses([...pids.values()].filter(isAlive), 10_000).catch(() => []);
    await proxy.close();
    ns?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The report as markdown: one section per engine. */
export function reportMarkdown(r: FaultReport, targets: { followerExtraMs: number; leaderNextCommitMs: number; killCycleP99Ms: number }): string {
  const ms = (v: number | null): string => (v === null ? '—' : `${(v / 1000).toFixed(2)} s`);
  const lines: string[] = [];
  lines.push(`### ${r.engine}, ${r.orgs} nodes (${r.isolation})`, '');
  lines.push(
    `Run of ${ms(r.durationMs)}: ${r.submissions} submissions — ${r.byOutcome.VALID} acknowledged VALID, ${r.byOutcome.INVALID} INVALID, ${r.byOutcome.refused} refused, ${r.byOutcome.unknown} unknown (of which ${r.unknownResolved.committed} turned out committed, ${r.unknownResolved.notCommitted} not).`,
    '',
  );
  const refusals = Object.entries(r.refusedBy).sort((a, b) => b[1] - a[1]);
  if (refusals.length > 0) lines.push(`Refusals by code (never ordered; the client was told so): ${refusals.map(([c, n]) => `${c} ${n}`).join(', ')}.`, '');
  lines.push('| check | result |', '|---|---|');
  lines.push(`| acknowledged transactions lost | **${r.lost.length}** |`);
  lines.push(`| transactions committed twice | **${r.duplicated.length}** |`);
  lines.push(`| "refused" yet committed (a dishonest refusal) | **${r.refusedButCommitted.length}** |`);
  lines.push(`| unknown outcomes without a txId | **${r.unknownWithoutTxId}** |`);
  lines.push(`| identical chains on every node | ${r.chainsIdentical ? 'yes' : '**no**'} (height ${r.height}) |`);
  lines.push(
    `| \`ledger verify\` on every node | ${
      r.verified.every((v) => v.ok)
        ? 'passed'
        : `**failed**: ${r.verified
            .filter((v) => !v.ok)
            .map((v) => `${v.org}: ${v.problem}`)
            .join('; ')}`
    } |`,
  );
  lines.push('');
  lines.push(`Baseline latency (outside fault windows) p50 ${ms(r.baselineP50Ms)}.`, '');
  lines.push('| fault | detail | next commit after the fault | worst latency | p99 latency | target | operators were told |', '|---|---|---|---|---|---|---|');
  for (const w of r.windows) {
    let target = '';
    if (w.kind === 'kill-follower')
      target = verdict(
        w.worstLatencyMs !== null && r.baselineP50Ms !== null && w.worstLatencyMs - r.baselineP50Ms <= targets.followerExtraMs,
        `worst ≤ baseline + ${ms(targets.followerExtraMs)}`,
      );
    if (w.kind === 'kill-leader')
      target = verdict(w.timeToCommitMs !== null && w.timeToCommitMs <= targets.leaderNextCommitMs, `next commit ≤ ${ms(targets.leaderNextCommitMs)}`);
    if (w.kind === 'kill-loop') target = verdict(w.p99LatencyMs !== null && w.p99LatencyMs <= targets.killCycleP99Ms, `p99 ≤ ${ms(targets.killCycleP99Ms)}`);
    const told = Object.entries(w.logged)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([m, n]) => `${n} × ${m.replace(/\|/g, '/')}`)
      .join('; ');
    lines.push(
      `| ${w.kind} | ${w.detail} | ${ms(w.timeToCommitMs)} | ${ms(w.worstLatencyMs)} | ${ms(w.p99LatencyMs)} | ${target} | ${told || '**nothing**'} |`,
    );
  }
  lines.push('', 'What the nodes told their operators (warn and above, all nodes):', '');
  const entries = Object.entries(r.operatorLog).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) lines.push('- nothing');
  for (const [msg, n] of entries.slice(0, 20)) lines.push(`- ${n} × ${msg}`);
  lines.push('');
  return lines.join('\n');
}

function verdict(ok: boolean, what: string): string {
  return `${ok ? 'met' : '**not met**'}: ${what}`;
}

export function writeReport(path: string, sections: readonly string[], header: string): void {
  writeFileSync(path, `${header}\n\n${sections.join('\n')}`);
}
