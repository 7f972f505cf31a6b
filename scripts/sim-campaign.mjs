#!/usr/bin/env node
// The simulation campaign (`npm run sim:campaign`, outside `npm test`): at least 2,000 seeds per
// registered engine with random faults drawn from the seed within the engine's fault model —
// crash engines: crash + partition + network faults ('all' without Byzantine nodes); BFT engines:
// up to f Byzantine nodes plus crashes (crashed + Byzantine <= f) plus partitions ('all').
// Prints a summary table and, for failing seeds, the violations, fault schedule, trace and the
// command that replays them. Exits 1 on any violation, 2 on bad arguments.
//
// Also 'raft+eager': raft with the ordering benchmark's eager cut (decisions 1350, 1372);
// 'raft+adaptive': raft with a node's eager cut that waits after large entries (decision 1385);
// 'raft+membership': raft while hospitals join and leave (membership option of the simulator),
// 'pbft+membership': PBFT's orderer set changing the same way (decision 1270),
// 'ehbft+membership': EH-BFT's (decision 1290),
// 'hashgen+membership': the hash generators' set changing (decision 1295), and
// 'gpbft+membership': gpbft's node update driven by the same target (decision 1280);
// 'gpbft+groups', 'gpbft+single' and 'gpbft+regroup': gpbft in 4 groups, in one group while
// hospitals join and leave, and regrouping between one group and two (decision 1399).
//
// Usage: node scripts/sim-campaign.mjs [--seeds 2000] [--seed-start 1] [--engines raft,pbft]
//          [--duration-ms 2000] [--workers 1] [--json]
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { register } from 'tsx/esm/api';

register();
const sim = await import('../src/sim/index.ts');
const { engineNames, getEngine } = await import('../src/consensus/registry.ts');

/** Campaign entries beyond the registered engines: an engine run with membership changes. */
const MEMBERSHIP_ENTRIES = {
  'raft+membership': 'raft',
  'pbft+membership': 'pbft',
  'ehbft+membership': 'ehbft',
  'hashgen+membership': 'hashgen',
  'gpbft+membership': 'gpbft',
};

/**
 * Raft with other cutting options: 'raft+eager', the ordering benchmark's (decisions 1350, 1372): a
 * leader cuts a partial batch at its next Ready while no entry is uncommitted; 'raft+adaptive', a
 * node's rule (decision 1385) with a limit of 2 proposals so that runs switch between eager and
 * waiting often (a node uses 16).
 */
const RAFT_OPTION_ENTRIES = {
  'raft+eager': { eagerCutUncommittedMax: 1 },
  'raft+adaptive': { eagerCutUncommittedMax: 1, eagerCutEntryProposalsMax: 2 },
};

/**
 * gpbft beyond its smallest tolerating cluster (4 nodes, one group whose members all vote in layer
 * 2 — decision 1399): 'gpbft+groups', 16 hospitals in 4 groups, layer 2 among the 4 primaries (the
 * paper's two layers, tolerating a Byzantine node); 'gpbft+single', 5 hospitals, one joins and one
 * leaves: one group of 4–6 throughout, with a Byzantine member; 'gpbft+regroup', 7 hospitals, one
 * joins and one leaves with a short period T, so the consortium regroups between one group (7) and
 * two (8) while blocks are decided and the view-change rule counts reports under both kinds of
 * layer 2. Two groups tolerate no Byzantine node and one crashed primary (decision 0603), so that
 * entry draws no Byzantine node and at most one crash.
 */
const GPBFT_ENTRIES = {
  'gpbft+groups': { nodes: 16 },
  'gpbft+single': { nodes: 5, membership: { joins: 1, leaves: 1 }, engineOptions: { periodBlocks: 10 } },
  'gpbft+regroup': { nodes: 7, byzantine: 0, crashMax: 1, membership: { joins: 1, leaves: 1 }, engineOptions: { periodBlocks: 10 } },
};

/** One campaign configuration per engine: the engine's full fault model. */
function configFor(entry, durationMs) {
  if (RAFT_OPTION_ENTRIES[entry]) return { ...configFor('raft', durationMs), engineOptions: RAFT_OPTION_ENTRIES[entry] };
  if (GPBFT_ENTRIES[entry]) return { ...configFor('gpbft', durationMs), ...GPBFT_ENTRIES[entry] };
  if (MEMBERSHIP_ENTRIES[entry] === 'ehbft') {
    // As pbft+membership: five nodes, one joins (it catches up by fetching blocks) and one leaves,
    // so the membership never drops below four and the one Byzantine node stays within f (decision 1290).
    return { ...configFor('ehbft', durationMs), nodes: 5, membership: { joins: 1, leaves: 1 } };
  }
  if (MEMBERSHIP_ENTRIES[entry] === 'pbft') {
    // Five replicas, one joins and one leaves: the membership never drops below four, so the
    // one Byzantine node the fault model draws stays within f (a joiner comes in by state transfer).
    return { ...configFor('pbft', durationMs), nodes: 5, membership: { joins: 1, leaves: 1 } };
  }
  if (MEMBERSHIP_ENTRIES[entry] === 'gpbft') {
    // 17 hospitals in 4 groups, one joins (to the nearest group) and one leaves: never fewer than
    // 16, the smallest cluster whose grouping tolerates a Byzantine node; a short period T so that
    // every run regroups several times, also while members change (decision 1280).
    return { ...configFor('gpbft', durationMs), nodes: 17, membership: { joins: 1, leaves: 1 }, engineOptions: { periodBlocks: 10 } };
  }
  if (MEMBERSHIP_ENTRIES[entry] === 'hashgen') {
    // Five generators, one joins and one leaves (decision 1295): the paper's quorums with crash,
    // partition and network faults; a joiner comes in by fetching the decided blocks.
    return { ...configFor('hashgen', durationMs), nodes: 5, membership: { joins: 1, leaves: 1 } };
  }
  if (MEMBERSHIP_ENTRIES[entry]) {
    // Three hospitals, two join and one leaves during the faulty phase; frequent snapshots so
    // joiners are brought up by snapshot install (docs/architecture/membership.md).
    return { ...configFor(MEMBERSHIP_ENTRIES[entry], durationMs), nodes: 3, membership: { joins: 2, leaves: 1 }, engineOptions: { snapshotEntries: 20 } };
  }
  const engine = entry;
  const def = getEngine(engine);
  const bft = def.faultModel === 'byzantine';
  // Crash engines: 5 nodes (f = 2 for raft). BFT engines: the smallest cluster that tolerates a
  // faulty node (4 for PBFT; grouped engines may need more).
  let nodes = Math.max(def.nodesMin, bft ? 4 : 5);
  if (bft) while (def.faultsTolerated(nodes) < 1 && nodes < 16) nodes += 1;
  // An engine that tolerates no fault (solo) is run with slow nodes and clock drift only.
  const faults = def.faultsTolerated(nodes) > 0 ? 'all' : 'crash';
  return { engine, nodes, faults, durationMs, crypto: 'fast', workload: { proposalsPerSecond: 100, proposalsMax: 1000 } };
}

if (!isMainThread) {
  // Worker: run the seeds it was given, post each result (traces only for failing runs).
  const { config, seeds } = workerData;
  for (const seed of seeds) {
    let r;
    try {
      r = sim.runSimulation({ ...config, seed });
    } catch (err) {
      r = { seed, error: String(err?.stack ?? err) };
    }
    parentPort.postMessage(r);
  }
} else {
  const args = parseArgs(process.argv.slice(2));
  const engines = args.engines ?? [
    ...engineNames().filter((n) => !n.startsWith('test-')),
    ...Object.keys(MEMBERSHIP_ENTRIES),
    ...Object.keys(RAFT_OPTION_ENTRIES),
    ...Object.keys(GPBFT_ENTRIES),
  ];
  const rows = [];
  let failed = false;
  for (const engine of engines) {
    const config = configFor(engine, args.durationMs);
    const startedMs = Date.now();
    const results = await runSeeds(config, args);
    const agg = new sim.CampaignAggregator(engine, config.nodes, config.faults, args.seedStart);
    // (For a membership entry the row is labelled with the entry, e.g. raft+membership.)
    const errors = [];
    for (const r of results) {
      if (r.error) errors.push(r);
      else agg.add(r);
    }
    const s = agg.summary();
    const seconds = (Date.now() - startedMs) / 1000;
    rows.push({ s, seconds, errors });
    if (s.violations.count > 0 || errors.length > 0) failed = true;
    if (!args.json) {
      process.stdout.write(`${engine}: ${s.runs} runs, ${s.violations.failingSeeds.length} failing, ${seconds.toFixed(1)} s\n`);
      for (const f of s.failures) {
        process.stdout.write(`\nFAILING ${engine} seed ${f.seed}\n`);
        for (const v of f.violations) process.stdout.write(`  [${v.checker}] ${v.message}\n`);
        process.stdout.write(`  fault schedule:\n${f.faultSchedule.map((l) => `    ${l}\n`).join('')}`);
        process.stdout.write(`  trace:\n${f.trace.map((l) => `    ${l}\n`).join('')}`);
        process.stdout.write(`  replay: ${replay(config, f.seed)}\n`);
      }
      for (const e of errors.slice(0, 3)) process.stdout.write(`\nCRASHED ${engine} seed ${e.seed}: ${e.error}\n`);
    }
  }
  if (args.json) {
    process.stdout.write(
      `${JSON.stringify(
        rows.map(({ s, seconds, errors }) => ({ ...s, wallSeconds: seconds, simulatorErrors: errors })),
        null,
        2,
      )}\n`,
    );
  } else {
    process.stdout.write(`\n${table(rows)}\n`);
    process.stdout.write(failed ? '\nCAMPAIGN FAILED: see the failing seeds above.\n' : '\ncampaign passed: no checker violation.\n');
  }
  process.exitCode = failed ? 1 : 0;
}

async function runSeeds(config, args) {
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.seedStart + i);
  const results = [];
  let done = 0;
  const tick = Math.max(1, Math.floor(args.seeds / 10));
  const progress = () => {
    done += 1;
    if (!args.json && (done % tick === 0 || done === args.seeds)) process.stderr.write(`  ${config.engine}: ${done}/${args.seeds}\n`);
  };
  if (args.workers <= 1) {
    for (const seed of seeds) {
      try {
        results.push(sim.runSimulation({ ...config, seed }));
      } catch (err) {
        results.push({ seed, error: String(err?.stack ?? err) });
      }
      progress();
    }
    return results;
  }
  const parts = Array.from({ length: args.workers }, (_, w) => seeds.filter((_, i) => i % args.workers === w));
  await Promise.all(
    parts.map(
      (part) =>
        new Promise((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { config, seeds: part } });
          worker.on('message', (r) => {
            results.push(r);
            progress();
          });
          worker.on('error', reject);
          worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
        }),
    ),
  );
  // Aggregate in seed order whatever order the workers finished in.
  return results.sort((a, b) => a.seed - b.seed);
}

function replay(config, seed) {
  const membership =
    (config.membership ? ` --joins ${config.membership.joins} --leaves ${config.membership.leaves}` : '') +
    (config.engineOptions ? ` --engine-options '${JSON.stringify(config.engineOptions)}'` : '');
  return `node bin/medledger.js sim --engine ${config.engine} --nodes ${config.nodes} --seeds 1 --seed-start ${seed} --faults ${config.faults} --duration-ms ${config.durationMs} --crypto fast --rate 100 --proposals 1000${membership} --trace`;
}

function table(rows) {
  // early writes: Readies whose early messages (a Raft leader's appends) left before their write
  // finished / of which a crash cut the write short (decision 1360).
  const header = [
    'engine',
    'nodes',
    'faults',
    'runs',
    'violations',
    'failing seeds',
    'blocks',
    'proposals',
    'p50 ms',
    'p99 ms',
    'messages',
    'MB',
    'early writes / lost',
    'wall s',
  ];
  const body = rows.map(({ s, seconds, errors }) => {
    const msgs = Object.values(s.messagesByType).reduce((a, m) => a + m.count, 0);
    const bytes = Object.values(s.messagesByType).reduce((a, m) => a + m.bytes, 0);
    const failing = [...s.violations.failingSeeds, ...errors.map((e) => e.seed)];
    return [
      s.engine,
      s.nodes,
      s.faults,
      s.runs,
      s.violations.count + errors.length,
      failing.length === 0 ? '-' : failing.slice(0, 8).join(',') + (failing.length > 8 ? ',…' : ''),
      s.decidedBlocks,
      s.decidedProposals,
      s.latencyMs.p50,
      s.latencyMs.p99,
      msgs,
      (bytes / 1e6).toFixed(1),
      `${s.earlyWrites.started} / ${s.earlyWrites.lostInCrash}`,
      seconds.toFixed(0),
    ].map(String);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

function parseArgs(argv) {
  const out = { seeds: 2000, seedStart: 1, engines: null, durationMs: 2000, workers: 1, json: false };
  const int = (name, v, min, max) => {
    const n = Number(v);
    if (!/^\d+$/.test(String(v)) || n < min || n > max) usage(`--${name} must be an integer between ${min} and ${max}, got "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seeds') out.seeds = int('seeds', next(), 1, 10_000_000);
    else if (a === '--seed-start') out.seedStart = int('seed-start', next(), 0, 0xffffffff);
    else if (a === '--duration-ms') out.durationMs = int('duration-ms', next(), 1, 600_000);
    else if (a === '--workers') out.workers = int('workers', next(), 1, Math.max(1, availableParallelism()));
    else if (a === '--engines') {
      out.engines = next()
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const known = engineNames();
      for (const e of out.engines)
        if (!known.includes(e) && !MEMBERSHIP_ENTRIES[e] && !RAFT_OPTION_ENTRIES[e] && !GPBFT_ENTRIES[e])
          usage(
            `unknown engine "${e}" (registered: ${known.join(', ')}; also ${[...Object.keys(MEMBERSHIP_ENTRIES), ...Object.keys(RAFT_OPTION_ENTRIES), ...Object.keys(GPBFT_ENTRIES)].join(', ')})`,
          );
    } else if (a === '--json') out.json = true;
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown argument "${a}"`);
  }
  if (out.seedStart + out.seeds - 1 > 0xffffffff) usage('--seed-start + --seeds exceeds the seed range (2^32)');
  return out;
}

function usage(error) {
  const text = 'usage: node scripts/sim-campaign.mjs [--seeds 2000] [--seed-start 1] [--engines a,b] [--duration-ms 2000] [--workers N] [--json]\n';
  if (error) process.stderr.write(`error: ${error}\n`);
  process.stderr.write(text);
  process.exit(error ? 2 : 0);
}
