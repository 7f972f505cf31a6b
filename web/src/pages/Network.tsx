// Network: every hospital node of the consortium as this node sees it — roles, its consensus
// role and the leader/primary it follows, height and last block hash, connected peers, config
// sequence, reachable or not — live: each committed block (server-sent events) refreshes the view
// and feeds a chart of committed transactions per second.
import { Alert, Badge, Card, Group, Stack, Table, Text, Title, Tooltip } from '@mantine/core';
import { useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import type { NetworkResponseT } from '../../../src/protocol/schemas.ts';
import { ChartView } from '../components/Chart.tsx';
import { ErrorAlert } from '../app/errors.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { NodeId } from '../components/NodeId.tsx';
import { shortHex } from '../app/hooks.ts';
import { useSession } from '../app/session.tsx';

const WINDOW_SECONDS = 60;
const REFRESH_MS_MIN = 1000;

function consensusRole(status: NetworkResponseT['nodes'][number]['status']): { role: string; leader: string } {
  const c = status?.consensus as Record<string, unknown> | null | undefined;
  if (!c) return { role: status ? 'peer only' : '—', leader: '—' };
  const role = typeof c['role'] === 'string' ? c['role'] : typeof c['state'] === 'string' ? c['state'] : '—';
  const leader = typeof c['leader'] === 'string' && c['leader'] !== '' ? c['leader'] : typeof c['primary'] === 'string' ? c['primary'] : '—';
  return { role, leader };
}

export function NetworkPage(): ReactNode {
  const { client } = useSession();
  const [network, setNetwork] = useState<NetworkResponseT | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [streamError, setStreamError] = useState<unknown>(null);
  const [series, setSeries] = useState<number[]>(() => new Array<number>(WINDOW_SECONDS).fill(0));
  const counts = useRef(new Map<number, number>());
  const lastRefresh = useRef(0);

  useEffect(() => {
    let stopped = false;
    const refresh = (): void => {
      lastRefresh.current = Date.now();
      client.network().then(
        (n) => {
          if (!stopped) {
            setNetwork(n);
            setError(null);
          }
        },
        (e: unknown) => {
          if (!stopped) setError(e);
        },
      );
    };
    refresh();
    const poll = setInterval(() => {
      if (Date.now() - lastRefresh.current >= 5000) refresh();
    }, 1000);
    const ac = new AbortController();
    // Live: each committed block counts its transactions into the per-second chart and refreshes the table.
    client
      .events(
        null,
        (e) => {
          if (e.type !== 'block') return;
          const second = Math.floor(Date.now() / 1000);
          counts.current.set(second, (counts.current.get(second) ?? 0) + e.block.txs.filter((t) => t.code === 'VALID').length);
          if (Date.now() - lastRefresh.current >= REFRESH_MS_MIN) refresh();
        },
        ac.signal,
      )
      .catch((e: unknown) => {
        if (!stopped) setStreamError(e);
      });
    const tick = setInterval(() => {
      const now = Math.floor(Date.now() / 1000);
      for (const k of counts.current.keys()) if (k < now - WINDOW_SECONDS) counts.current.delete(k);
      setSeries(Array.from({ length: WINDOW_SECONDS }, (_, i) => counts.current.get(now - WINDOW_SECONDS + 1 + i) ?? 0));
    }, 1000);
    return () => {
      stopped = true;
      ac.abort();
      clearInterval(poll);
      clearInterval(tick);
    };
  }, [client]);

  const chartData = useMemo(
    () => ({
      labels: series.map((_, i) => `${i - WINDOW_SECONDS + 1}s`),
      datasets: [
        { label: 'committed tx/s', data: series, borderColor: '#1c7ed6', backgroundColor: 'rgba(28,126,214,0.15)', fill: true, pointRadius: 0, tension: 0.2 },
      ],
    }),
    [series],
  );
  const total = series.reduce((a, b) => a + b, 0);
  const nodes = network?.nodes ?? [];
  const reachable = nodes.filter((n) => n.reachable).length;
  // Nodes of different versions keep no connection (decision 1386): say so rather than leave only "unreachable".
  const protocols = new Set(nodes.filter((n) => n.status).map((n) => n.status?.protocol ?? 'older'));
  const otherVersion = nodes.filter((n) => !n.reachable && /does not speak this node's protocol/.test(n.error ?? '')).map((n) => n.nodeId);

  return (
    <Stack>
      <Title order={2}>Network</Title>
      <Text c="dimmed">
        Every hospital node of the consortium, as {nodes.find((n) => n.latencyMs === 0)?.nodeId ?? 'this node'} sees it. Updates live as blocks commit.
      </Text>
      {error ? <ErrorAlert error={error} /> : null}
      <Group>
        <Badge size="lg" color={reachable === nodes.length && nodes.length > 0 ? 'green' : 'orange'} data-testid="reachable-count">
          {reachable} of {nodes.length} nodes reachable
        </Badge>
        <Badge size="lg" variant="light">
          height {Math.max(0, ...nodes.map((n) => n.status?.height ?? 0))}
        </Badge>
      </Group>
      {protocols.size > 1 || otherVersion.length > 0 ? (
        <Alert color="orange" title="Nodes of different versions" data-testid="protocol-warning">
          {otherVersion.length > 0 ? `${otherVersion.join(', ')} speak${otherVersion.length === 1 ? 's' : ''} another protocol. ` : ''}
          {protocols.size > 1 ? `Protocols in use: ${[...protocols].join(', ')}. ` : ''}
          Nodes of different versions keep no connection with one another: upgrade every node.
        </Alert>
      ) : null}
      <DataTable
        label="Nodes table"
        striped
        highlightOnHover
        captionSide="top"
        data-testid="network-table"
        caption="Nodes"
        headings={['Hospital', 'Node', 'Reachable', 'Roles', 'Consensus role', 'Leader / primary', 'Height', 'Last block hash', 'Peers', 'Config']}
      >
        {nodes.map((n) => {
          const c = consensusRole(n.status);
          return (
            <Table.Tr key={n.nodeId} data-node={n.nodeId}>
              <Table.Td>{n.org}</Table.Td>
              <Table.Td>
                <NodeId id={n.nodeId} />
              </Table.Td>
              <Table.Td>
                {n.reachable ? (
                  // max-content: in a narrow column a badge would shrink to "THIS NO…".
                  <Badge color="green" style={{ minWidth: 'max-content' }}>
                    {n.latencyMs === 0 ? 'this node' : `yes, ${n.latencyMs} ms`}
                  </Badge>
                ) : (
                  <Tooltip label={n.error ?? 'no answer'}>
                    <Badge color="red">unreachable</Badge>
                  </Tooltip>
                )}
              </Table.Td>
              <Table.Td>{n.roles.join(', ')}</Table.Td>
              <Table.Td>
                {c.role}
                {n.status?.consensus ? ` (${String(n.status.consensus.engine)})` : ''}
              </Table.Td>
              <Table.Td>{c.leader === '—' ? '—' : <NodeId id={c.leader} />}</Table.Td>
              <Table.Td>{n.status?.height ?? '—'}</Table.Td>
              <Table.Td className="ml-hash" title={n.status?.lastBlockHashHex}>
                {n.status ? shortHex(n.status.lastBlockHashHex, 16) : '—'}
              </Table.Td>
              <Table.Td>{n.status ? n.status.connectedPeers.length : '—'}</Table.Td>
              <Table.Td>
                {n.status ? `seq ${n.status.configSequence}${n.status.joining ? ', joining' : ''}${n.status.protocol ? ` · ${n.status.protocol}` : ''}` : '—'}
              </Table.Td>
            </Table.Tr>
          );
        })}
      </DataTable>
      <Card withBorder>
        <Title order={3} size="h5">
          Committed transactions per second (last {WINDOW_SECONDS} s)
        </Title>
        <ChartView
          config={{
            type: 'line',
            data: chartData,
            options: {
              plugins: { legend: { display: false } },
              scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 7 } } },
            },
          }}
          label="Committed transactions per second"
          summary={`${total} valid transactions committed in the last ${WINDOW_SECONDS} seconds`}
        />
        {streamError ? <ErrorAlert error={streamError} title="The live stream stopped" /> : null}
      </Card>
    </Stack>
  );
}
