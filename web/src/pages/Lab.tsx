// Consensus lab (researchers, admins, supervisors): run a campaign of the deterministic simulator
// on this node — engine, nodes, faults, seeds — follow its progress, and read the result (safety
// and liveness verdicts, messages by type, throughput, latency); compare engines on the same
// campaign, one after another, side by side (the console's `lab compare`); beside it, the papers' message
// complexity (Table 2 of paper 002: PBFT against the two-layer grouped PBFT) and the attacker's
// success probability (Eq. 6), computed in the browser from the lab's own formulas (src/lab/).
import { Alert, Badge, Button, Card, Checkbox, Group, NumberInput, Progress, Select, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import type { ChartConfiguration } from 'chart.js';
import { useEffect, useMemo, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { attackSuccessProbability, pbftFormula, twoLayerFormula } from '../../../src/lab/formulas.ts';
import type { LabJobT } from '../../../src/protocol/schemas.ts';
import { ErrorAlert } from '../app/errors.tsx';
import { useSession } from '../app/session.tsx';
import { ChartView } from '../components/Chart.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { useReveal } from '../components/reveal.ts';

// The node checks the name against its engine registry (a 400 names the known ones).
const ENGINES = [
  { value: 'raft', label: 'Raft (crash faults)' },
  { value: 'pbft', label: 'PBFT' },
  { value: 'gpbft', label: 'Grouped two-layer PBFT (paper 002)' },
  { value: 'ehbft', label: 'EH-BFT (paper 001)' },
  { value: 'hashgen', label: 'Hash generators (paper 004)' },
];
const FAULTS = [
  { value: 'none', label: 'No faults' },
  { value: 'crash', label: 'Crashes' },
  { value: 'partition', label: 'Partitions' },
  { value: 'byzantine', label: 'Byzantine nodes' },
  { value: 'all', label: 'All of them' },
];
const POLL_MS = 500;
const COMPLEXITY_NODES = [16, 32, 48, 64, 80, 96, 112, 128];
const ATTACK_SHARES = [0.1, 0.2, 0.3, 0.4];
const ATTACK_BLOCKS = Array.from({ length: 11 }, (_, i) => i);
const COLORS = ['#1c7ed6', '#e8590c', '#2f9e44', '#ae3ec9', '#f08c00'];

interface Summary {
  readonly runs: number;
  readonly violations: { count: number; failingSeeds: number[] };
  readonly failures: Array<{ seed: number; violations: string[] }>;
  readonly messagesByType: Record<string, { count: number; bytes: number }>;
  readonly decidedBlocks: number;
  readonly decidedProposals: number;
  readonly latencyMs: { p50: number; p99: number };
  readonly throughputPerSecond: number;
  readonly virtualDurationMs: number;
}

function Result({ job }: { job: LabJobT }): ReactNode {
  const s = job.summary as unknown as Summary | null;
  const messages = useMemo(() => Object.entries(s?.messagesByType ?? {}).sort((a, b) => b[1].count - a[1].count), [s]);
  const config = useMemo(
    (): ChartConfiguration => ({
      type: 'bar',
      data: { labels: messages.map(([t]) => t), datasets: [{ label: 'messages', data: messages.map(([, m]) => m.count), backgroundColor: COLORS[0] }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } } },
    }),
    [messages],
  );
  if (!s) return null;
  const safe = s.violations.count === 0;
  return (
    <Card withBorder data-testid="lab-result" data-job-id={job.jobId}>
      <Group mb="xs">
        <Title order={3} size="h4">
          {job.request.engine}, {job.request.nodes} nodes, {job.request.faults}: {s.runs} seed{s.runs === 1 ? '' : 's'}
        </Title>
        <Badge color={safe ? 'green' : 'red'} data-testid="lab-verdict">
          {safe ? 'no violation' : `${s.violations.count} violations`}
        </Badge>
      </Group>
      {!safe ? (
        <Alert color="red" mb="xs">
          Failing seeds: {s.violations.failingSeeds.join(', ')} — {s.failures[0]?.violations.slice(0, 3).join('; ')}
        </Alert>
      ) : null}
      <SimpleGrid cols={{ base: 2, sm: 4 }} mb="sm">
        <div>
          <Text size="xs" c="dimmed">
            Decided blocks
          </Text>
          <Text data-testid="lab-blocks">{s.decidedBlocks}</Text>
        </div>
        <div>
          <Text size="xs" c="dimmed">
            Decided proposals
          </Text>
          <Text>{s.decidedProposals}</Text>
        </div>
        <div>
          <Text size="xs" c="dimmed">
            Throughput (simulated)
          </Text>
          <Text>{s.throughputPerSecond} /s</Text>
        </div>
        <div>
          <Text size="xs" c="dimmed">
            Latency p50 / p99
          </Text>
          <Text>
            {s.latencyMs.p50} / {s.latencyMs.p99} ms
          </Text>
        </div>
      </SimpleGrid>
      {messages.length > 0 ? (
        <ChartView
          config={config}
          label="Messages by type"
          summary={messages.map(([t, m]) => `${t}: ${m.count}`).join('; ')}
          height={Math.max(160, messages.length * 26)}
        />
      ) : null}
      <Text size="xs" c="dimmed">
        Replay any seed with: medledger sim --engine {job.request.engine} --nodes {job.request.nodes} --faults {job.request.faults} --seed{' '}
        {job.request.seedStart}
      </Text>
    </Card>
  );
}

function RunForm(): ReactNode {
  const { client } = useSession();
  const [engine, setEngine] = useState<string | null>('pbft');
  const [nodes, setNodes] = useState<number | string>(4);
  const [faults, setFaults] = useState<string | null>('crash');
  const [seeds, setSeeds] = useState<number | string>(3);
  const [seedStart, setSeedStart] = useState<number | string>(1);
  const [seconds, setSeconds] = useState<number | string>(10);
  const [job, setJob] = useState<LabJobT | null>(null);
  const [error, setError] = useState<unknown>(null);
  const polling = useRef<ReturnType<typeof setInterval> | null>(null);
  useEffect(
    () => () => {
      if (polling.current) clearInterval(polling.current);
    },
    [],
  );

  const run = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setJob(null);
    try {
      const started = await client.labStart({
        engine: engine ?? 'pbft',
        nodes: Number(nodes),
        faults: (faults ?? 'none') as LabJobT['request']['faults'],
        seeds: Number(seeds),
        seedStart: Number(seedStart),
        durationMs: Math.round(Number(seconds) * 1000),
      });
      setJob(started);
      if (polling.current) clearInterval(polling.current);
      polling.current = setInterval(() => {
        client.labJob(started.jobId).then(
          (j) => {
            setJob(j);
            if (j.state !== 'running' && polling.current) {
              clearInterval(polling.current);
              polling.current = null;
            }
          },
          (err: unknown) => {
            setError(err);
            if (polling.current) clearInterval(polling.current);
            polling.current = null;
          },
        );
      }, POLL_MS);
    } catch (err) {
      setError(err);
    }
  };
  const running = job?.state === 'running';
  // Below the form (a phone's whole screen): the run's progress, brought into sight as it starts.
  const outcomeRef = useReveal<HTMLDivElement>(job?.jobId ?? error);
  return (
    <Stack>
      <Card withBorder>
        <form onSubmit={(e) => void run(e)} aria-label="Run a simulation">
          <Stack gap="sm">
            <SimpleGrid cols={{ base: 2, sm: 3 }} className="ml-fields">
              <Select label="Engine" data={ENGINES} value={engine} onChange={setEngine} allowDeselect={false} />
              <NumberInput label="Nodes" min={3} max={16} value={nodes} onChange={setNodes} />
              <Select label="Faults" data={FAULTS} value={faults} onChange={setFaults} allowDeselect={false} />
              <NumberInput label="Seeds" description="runs, one per seed" min={1} max={10} value={seeds} onChange={setSeeds} />
              <NumberInput label="First seed" min={0} value={seedStart} onChange={setSeedStart} />
              <NumberInput label="Simulated seconds per seed" min={1} max={30} value={seconds} onChange={setSeconds} />
            </SimpleGrid>
            <Group>
              <Button type="submit" loading={running}>
                Run simulation
              </Button>
              <Text size="xs" c="dimmed">
                Runs on this node's deterministic simulator, in the background; one campaign at a time per node.
              </Text>
            </Group>
          </Stack>
        </form>
      </Card>
      {error || job ? (
        <Stack ref={outcomeRef}>
          {error ? <ErrorAlert error={error} /> : null}
          {job ? (
            <Card withBorder>
              <Text size="sm" mb={4} aria-live="polite" data-testid="lab-progress">
                {job.state === 'running' ? `Running: ${job.done} of ${job.total} seeds` : job.state === 'done' ? `Done: ${job.total} seeds` : 'Failed'}
                {job.failing > 0 ? ` · ${job.failing} failing` : ''}
              </Text>
              <Progress value={(job.done / job.total) * 100} aria-label="Simulation progress" />
              {job.state === 'failed' ? (
                <Alert color="red" mt="xs" role="alert">
                  {job.error}
                </Alert>
              ) : null}
            </Card>
          ) : null}
          {job?.state === 'done' ? <Result job={job} /> : null}
        </Stack>
      ) : null}
    </Stack>
  );
}

/** How long the comparison follows one engine's campaign before giving up on it (the node stops a campaign itself well before). */
const COMPARE_FOLLOW_MS_MAX = 10 * 60_000;

interface CompareRow {
  readonly engine: string;
  readonly job: LabJobT | null;
  readonly error: unknown;
}

/** Messages of every type per decided block (null when nothing was decided). */
function messagesPerBlock(s: Summary): number | null {
  const total = Object.values(s.messagesByType).reduce((sum, m) => sum + m.count, 0);
  return s.decidedBlocks > 0 ? total / s.decidedBlocks : null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The same campaign (nodes, faults, seeds, simulated time) on several engines, one after another
 * on this node (it runs one campaign at a time), side by side: the verdict, decided blocks,
 * throughput, latency and messages per decided block — the console's `medledger lab compare`.
 */
function CompareEngines(): ReactNode {
  const { client } = useSession();
  const [engines, setEngines] = useState<string[]>(['raft', 'pbft']);
  const [nodes, setNodes] = useState<number | string>(4);
  const [faults, setFaults] = useState<string | null>('crash');
  const [seeds, setSeeds] = useState<number | string>(1);
  const [seconds, setSeconds] = useState<number | string>(5);
  const [rows, setRows] = useState<readonly CompareRow[]>([]);
  const [running, setRunning] = useState(false);
  const mounted = useRef(true);
  useEffect(
    () => () => {
      mounted.current = false;
    },
    [],
  );

  const compare = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    if (engines.length === 0) return;
    setRunning(true);
    let current: CompareRow[] = engines.map((engine) => ({ engine, job: null, error: null }));
    setRows(current);
    const update = (i: number, row: CompareRow): void => {
      current = current.map((r, j) => (j === i ? row : r));
      if (mounted.current) setRows(current);
    };
    for (let i = 0; i < engines.length && mounted.current; i++) {
      const engine = engines[i]!;
      try {
        let job = await client.labStart({
          engine,
          nodes: Number(nodes),
          faults: (faults ?? 'none') as LabJobT['request']['faults'],
          seeds: Number(seeds),
          seedStart: 1,
          durationMs: Math.round(Number(seconds) * 1000),
        });
        update(i, { engine, job, error: null });
        const giveUpAtMs = Date.now() + COMPARE_FOLLOW_MS_MAX;
        while (job.state === 'running' && mounted.current) {
          if (Date.now() > giveUpAtMs) throw new Error(`no result after ${COMPARE_FOLLOW_MS_MAX / 60_000} minutes`);
          await sleep(POLL_MS);
          job = await client.labJob(job.jobId);
          update(i, { engine, job, error: null });
        }
      } catch (err) {
        update(i, { engine, job: current[i]?.job ?? null, error: err });
      }
    }
    if (mounted.current) setRunning(false);
  };

  const finished = useMemo(() => rows.filter((r) => r.job?.state === 'done' && r.job.summary), [rows]);
  const chart = useMemo((): ChartConfiguration => {
    const perBlock = finished.map((r) => messagesPerBlock(r.job!.summary as unknown as Summary) ?? 0);
    return {
      type: 'bar',
      data: { labels: finished.map((r) => r.engine), datasets: [{ label: 'messages per decided block', data: perBlock, backgroundColor: COLORS[1] }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { title: { display: true, text: 'messages per decided block' } } } },
    };
  }, [finished]);

  return (
    <Card withBorder>
      <Title order={3} size="h4" mb="xs">
        Compare engines
      </Title>
      <form onSubmit={(e) => void compare(e)} aria-label="Compare engines">
        <Stack gap="sm">
          <Checkbox.Group label="Engines" value={engines} onChange={setEngines}>
            <Group mt={4}>
              {ENGINES.map((x) => (
                <Checkbox key={x.value} value={x.value} label={x.label} />
              ))}
            </Group>
          </Checkbox.Group>
          <SimpleGrid cols={{ base: 2, sm: 4 }} className="ml-fields">
            <NumberInput label="Nodes (each engine)" min={3} max={16} value={nodes} onChange={setNodes} />
            <Select label="Faults (each engine)" data={FAULTS} value={faults} onChange={setFaults} allowDeselect={false} />
            <NumberInput label="Runs per engine" description="one per seed, the same seeds for each" min={1} max={10} value={seeds} onChange={setSeeds} />
            <NumberInput label="Simulated seconds (each run)" min={1} max={30} value={seconds} onChange={setSeconds} />
          </SimpleGrid>
          <Group>
            <Button type="submit" loading={running} disabled={engines.length === 0}>
              Compare
            </Button>
            <Text size="xs" c="dimmed">
              The same seeds on each engine, one campaign after another. An engine outside its fault model (Byzantine faults for Raft) says so.
            </Text>
          </Group>
        </Stack>
      </form>
      {rows.length > 0 ? (
        <DataTable
          label="Engines compared"
          // Figures read down their columns, engine against engine: on a phone the table scrolls.
          stack={false}
          striped
          mt="sm"
          data-testid="compare-table"
          headings={['Engine', 'Campaign', 'Verdict', 'Decided blocks', 'Throughput (simulated)', 'Latency p50 / p99', 'Messages per decided block']}
        >
          {rows.map((r) => {
            const s = r.job?.state === 'done' ? (r.job.summary as unknown as Summary | null) : null;
            const perBlock = s ? messagesPerBlock(s) : null;
            return (
              <Table.Tr key={r.engine} data-engine={r.engine} data-job-id={r.job?.jobId ?? ''}>
                <Table.Td>{r.engine}</Table.Td>
                <Table.Td data-testid="compare-state">
                  {r.error ? (
                    <Text size="sm" c="red">
                      {r.error instanceof Error ? r.error.message : String(r.error)}
                    </Text>
                  ) : r.job === null ? (
                    'waiting'
                  ) : r.job.state === 'running' ? (
                    `running: ${r.job.done} of ${r.job.total} seeds`
                  ) : r.job.state === 'failed' ? (
                    <Text size="sm" c="red">
                      failed: {r.job.error}
                    </Text>
                  ) : (
                    `done: ${r.job.total} seed${r.job.total === 1 ? '' : 's'}`
                  )}
                </Table.Td>
                <Table.Td>
                  {s ? (
                    <Text size="sm" fw={600} {...(s.violations.count === 0 ? {} : { c: 'red.9' })} data-testid="compare-verdict">
                      {s.violations.count === 0 ? 'no violation' : `${s.violations.count} violations`}
                    </Text>
                  ) : (
                    '—'
                  )}
                </Table.Td>
                <Table.Td data-testid="compare-blocks">{s ? s.decidedBlocks : '—'}</Table.Td>
                <Table.Td>{s ? `${s.throughputPerSecond} /s` : '—'}</Table.Td>
                <Table.Td>{s ? `${s.latencyMs.p50} / ${s.latencyMs.p99} ms` : '—'}</Table.Td>
                <Table.Td data-testid="compare-messages-per-block">{perBlock === null ? '—' : perBlock.toFixed(1)}</Table.Td>
              </Table.Tr>
            );
          })}
        </DataTable>
      ) : null}
      {finished.length > 0 ? (
        <ChartView
          config={chart}
          label="Messages per decided block by engine"
          summary={finished.map((r) => `${r.engine}: ${(messagesPerBlock(r.job!.summary as unknown as Summary) ?? 0).toFixed(1)}`).join('; ')}
        />
      ) : null}
    </Card>
  );
}

function PaperCharts(): ReactNode {
  const complexity = useMemo((): ChartConfiguration => {
    const ks = [4, 8];
    return {
      type: 'line',
      data: {
        labels: COMPLEXITY_NODES.map(String),
        datasets: [
          { label: 'PBFT (2n² − n − 1)', data: COMPLEXITY_NODES.map((n) => pbftFormula(n).total), borderColor: COLORS[0], backgroundColor: COLORS[0] },
          ...ks.map((k, i) => ({
            label: `two-layer PBFT, k = ${k}`,
            data: COMPLEXITY_NODES.map((n) => twoLayerFormula(n, k).total),
            borderColor: COLORS[i + 1],
            backgroundColor: COLORS[i + 1],
          })),
          {
            label: 'two-layer PBFT, k ≈ √n',
            data: COMPLEXITY_NODES.map((n) => twoLayerFormula(n, Math.max(2, Math.round(Math.sqrt(n)))).total),
            borderColor: COLORS[3],
            backgroundColor: COLORS[3],
          },
        ],
      },
      options: { scales: { x: { title: { display: true, text: 'nodes n' } }, y: { type: 'linear', title: { display: true, text: 'messages per decision' } } } },
    };
  }, []);
  const attack = useMemo(
    (): ChartConfiguration => ({
      type: 'line',
      data: {
        labels: ATTACK_BLOCKS.map(String),
        datasets: ATTACK_SHARES.map((w, i) => ({
          label: `attacker share w = ${w}`,
          data: ATTACK_BLOCKS.map((n) => attackSuccessProbability(w, n)),
          borderColor: COLORS[i],
          backgroundColor: COLORS[i],
        })),
      },
      options: {
        scales: { x: { title: { display: true, text: 'blocks behind n' } }, y: { min: 0, max: 1, title: { display: true, text: 'success probability' } } },
      },
    }),
    [],
  );
  const rows = COMPLEXITY_NODES.filter((n) => n === 16 || n === 64 || n === 128);
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }}>
      <Card withBorder>
        <Title order={3} size="h4">
          Message complexity (paper 002, Table 2)
        </Title>
        <ChartView
          config={complexity}
          label="Messages per decision against nodes"
          summary={rows.map((n) => `n=${n}: PBFT ${pbftFormula(n).total}, two-layer k=8 ${twoLayerFormula(n, 8).total}`).join('; ')}
          height={240}
        />
        <DataTable label="Message complexity at 16, 64 and 128 nodes" stack={false} data-testid="complexity-table" headings={['n', 'PBFT', 'two-layer, k = 8']}>
          {rows.map((n) => (
            <Table.Tr key={n}>
              <Table.Td>{n}</Table.Td>
              <Table.Td>{pbftFormula(n).total}</Table.Td>
              <Table.Td>{twoLayerFormula(n, 8).total}</Table.Td>
            </Table.Tr>
          ))}
        </DataTable>
        <Text size="xs" c="dimmed">
          The paper's closed forms; `medledger lab complexity` counts the same messages from the running engines (docs/results/complexity.md).
        </Text>
      </Card>
      <Card withBorder>
        <Title order={3} size="h4">
          Attacker's success probability (paper 002, Eq. 6)
        </Title>
        <ChartView
          config={attack}
          label="Probability that an attacker catches up"
          summary={ATTACK_SHARES.map((w) => `w=${w}: ${attackSuccessProbability(w, 6).toExponential(2)} at 6 blocks`).join('; ')}
          height={240}
        />
        <Text size="xs" c="dimmed">
          Nakamoto's Poisson approximation, as the paper gives it (`medledger lab attack`, docs/results/attack.md).
        </Text>
      </Card>
    </SimpleGrid>
  );
}

export function LabPage(): ReactNode {
  return (
    <Stack>
      <Title order={2}>Consensus lab</Title>
      <RunForm />
      <CompareEngines />
      <PaperCharts />
    </Stack>
  );
}
