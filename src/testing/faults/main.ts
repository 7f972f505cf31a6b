// `npm run test:faults`: the whole fault suite — raft (5 nodes), pbft (4) and the papers' grouped
// PBFT (gpbft, 4) — each through every fault with kill -9 loops; the report goes to
// docs/results/faults.md. Options: --engines raft,pbft  --cycles 10  --seconds 4  --out <file>.
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { EngineName } from '../../node/init.ts';
import { reportMarkdown, runFaultSuite, writeReport, type FaultKind } from './suite.ts';
import { makeDirectory } from '../../files/directory.ts';

const { values } = parseArgs({
  options: {
    engines: { type: 'string', default: 'raft,pbft,gpbft' },
    cycles: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '4' },
    out: { type: 'string', default: join(import.meta.dirname, '..', '..', '..', 'docs', 'results', 'faults.md') },
  },
});
const engines = values.engines.split(',').map((e) => e.trim()) as EngineName[];
const killCycles = Number(values.cycles);
const faultSeconds = Number(values.seconds);
if (!Number.isInteger(killCycles) || killCycles < 0 || killCycles > 1000) throw new RangeError('--cycles must be 0..1000');
if (!Number.isFinite(faultSeconds) || faultSeconds < 1 || faultSeconds > 120) throw new RangeError('--seconds must be 1..120');

const SIZES: Partial<Record<EngineName, number>> = { raft: 5, pbft: 4, gpbft: 4, ehbft: 4, hashgen: 4 };
// Raft's election timeout here: 10–20 ticks of 50 ms; PBFT's view-change timeout: 40 ticks.
const NEXT_COMMIT_MS: Partial<Record<EngineName, number>> = { raft: 2 * 1_000, pbft: 2 * 2_000, gpbft: 2 * 2_000, ehbft: 2 * 2_000, hashgen: 2 * 2_000 };
const sections: string[] = [];
for (const engine of engines) {
  const orgs = SIZES[engine] ?? 4;
  const faults: FaultKind[] = [
    'kill-follower',
    'kill-leader',
    ...(orgs >= 5 ? (['kill-two'] as const) : []),
    'partition',
    'one-way-silent',
    'loss',
    'clock-skew',
    'kill-loop',
  ];
  const started = Date.now();
  const report = await runFaultSuite({ engine, orgs, faults, killCycles, faultSeconds, clients: 4, log: (l) => process.stdout.write(`[${engine}] ${l}\n`) });
  process.stdout.write(
    `[${engine}] done in ${Math.round((Date.now() - started) / 1000)} s: ${report.byOutcome.VALID} acknowledged, ${report.lost.length} lost, ${report.duplicated.length} duplicated\n`,
  );
  sections.push(reportMarkdown(report, { followerExtraMs: 1_000, leaderNextCommitMs: NEXT_COMMIT_MS[engine] ?? 4_000, killCycleP99Ms: 3_000 }));
}
makeDirectory(dirname(values.out));
writeReport(
  values.out,
  sections,
  `# Fault suite results\n\nRegenerate with \`npm run test:faults\` (src/testing/faults/). Each engine's consortium runs as real node processes — one network namespace per node where the machine allows it — with node-to-node traffic through a fault proxy (5–25 ms one-way latency between hospitals), while 4 clients submit through random nodes. Faults in order: a follower killed (kill -9) and restarted, the leader/primary killed, ${'two nodes at once (5-node raft only), '}one node cut off (connections reset), the leader's outbound traffic silently dropped (one-way), 5% segment loss everywhere, a node restarted with its clock 20 s ahead, then kill -9 / restart cycles of random nodes. Each fault lasts ${faultSeconds} s, with ${faultSeconds} s of recovery after it. The checker reads every node's chain afterwards.\n\nGenerated ${new Date().toISOString().slice(0, 10)} on ${process.platform}, Node ${process.version}.\n`,
);
process.stdout.write(`wrote ${values.out}\n`);
