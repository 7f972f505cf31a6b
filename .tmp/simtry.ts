import { runSimulation } from '../src/sim/index.ts';
import '../src/consensus/engines.ts';
const faults = (process.argv[2] ?? 'none') as any;
const from = Number(process.argv[3] ?? 1), to = Number(process.argv[4] ?? 5);
const joins = Number(process.argv[5] ?? 1), leaves = Number(process.argv[6] ?? 1);
let bad = 0;
for (let seed = from; seed <= to; seed++) {
  const r = runSimulation({ engine: 'pbft', nodes: 4, seed, faults, durationMs: 4000, crypto: 'fast', livenessMs: 30_000, membership: { joins, leaves }, workload: { proposalsMax: 300 } });
  if (r.violations.length) { bad++; console.log(seed, JSON.stringify(r.violations).slice(0, 600)); if (process.env.TRACE) console.log(r.trace.slice(-60).join('\n')); console.log(r.membershipSchedule); }
}
console.log('bad', bad, 'of', to - from + 1);
