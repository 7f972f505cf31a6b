// Analytics (researchers, and anyone an owner approved for statistics): choose datasets, a
// variable and the bins, run the federated statistics — the request is decided on chain, each
// custodian releases only a partial aggregate, the node combines them under the disclosure rule
// (decision 1163) and the result is recorded on chain — then see the histogram and the summary.
// Cells under the threshold are withheld and marked as such, never drawn as zero.
import { Alert, Badge, Button, Card, Group, MultiSelect, NumberInput, Select, SimpleGrid, Stack, Table, Text, Title, VisuallyHidden } from '@mantine/core';
import { useMemo, useState, type FormEvent, type ReactNode } from 'react';
import type { ChartConfiguration } from 'chart.js';
import { ErrorAlert } from '../app/errors.tsx';
import { shortHex } from '../app/hooks.ts';
import { useLedgerList } from '../app/ledger-pages.ts';
import { useSession } from '../app/session.tsx';
import { ChartView } from '../components/Chart.tsx';
import { DataTable } from '../components/DataTable.tsx';
import { useReveal } from '../components/reveal.ts';
// The picker loads the catalogue as the Data market page does: 100 datasets a load, more on demand.
import { DATASETS_PER_CALL, DATASETS_PER_LOAD, type Dataset } from './Market.tsx';

interface Bin {
  readonly from: number;
  readonly to: number;
  readonly count: number | null;
}
interface Statistics {
  readonly suppressed: boolean;
  readonly minCohort: number;
  readonly count: number | null;
  readonly mean: number | null;
  readonly stdDev: number | null;
  readonly minBin: { from: number | null; to: number | null } | null;
  readonly maxBin: { from: number | null; to: number | null } | null;
  readonly under: number | null;
  readonly over: number | null;
  readonly histogram: readonly Bin[];
}

const fmt = (n: number | null, digits = 1): string => (n === null ? 'withheld' : Number.isInteger(n) ? String(n) : n.toFixed(digits));
const binText = (b: { from: number | null; to: number | null } | null): string => (b === null ? 'withheld' : `${b.from ?? '…'} – ${b.to ?? '…'}`);

function Histogram({ stats, variable }: { stats: Statistics; variable: string }): ReactNode {
  const config = useMemo(
    (): ChartConfiguration => ({
      type: 'bar',
      data: {
        labels: stats.histogram.map((b) => `${b.from}–${b.to}`),
        datasets: [
          { label: 'count', data: stats.histogram.map((b) => b.count ?? 0), backgroundColor: '#1c7ed6' },
          // Withheld cells as hatched grey bars of the threshold's height: "fewer than this, or derived".
          {
            label: `withheld (< ${stats.minCohort} or derivable)`,
            data: stats.histogram.map((b) => (b.count === null ? stats.minCohort : 0)),
            backgroundColor: '#adb5bd',
          },
        ],
      },
      options: {
        scales: {
          x: { stacked: true, title: { display: true, text: variable } },
          y: { stacked: true, beginAtZero: true, title: { display: true, text: 'people' } },
        },
      },
    }),
    [stats, variable],
  );
  const summary = stats.histogram.map((b) => `${b.from} to ${b.to}: ${b.count === null ? 'withheld' : b.count}`).join('; ');
  return <ChartView config={config} label={`Histogram of ${variable}`} summary={summary} height={260} />;
}

/** One figure of the statistics: its name above its value. */
function Figure({ label, value, testId }: { label: string; value: ReactNode; testId?: string }): ReactNode {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text {...(testId === undefined ? {} : { 'data-testid': testId })}>{value}</Text>
    </div>
  );
}

const NO_DATASETS: readonly Dataset[] = [];

const mayAnalyse = (d: Dataset): boolean => d.grantedActions?.includes('statistics') === true;

/**
 * The picker's options in two groups: the datasets an approved application lets the caller analyse
 * now, and the others — choosable (a refusal says why, and is recorded), but not mistaken for them.
 */
function datasetOptions(datasets: readonly Dataset[]): Array<{ group: string; items: Array<{ value: string; label: string }> }> {
  const option = (d: Dataset) => ({ value: d.datasetId, label: `${d.name} (${d.ownerOrg})` });
  return [
    { group: 'Approved for statistics', items: datasets.filter(mayAnalyse).map(option) },
    { group: 'Not approved: a request is refused and recorded', items: datasets.filter((d) => !mayAnalyse(d)).map(option) },
  ].filter((g) => g.items.length > 0);
}

export function AnalyticsPage(): ReactNode {
  const { health } = useSession();
  const datasets = useLedgerList<Dataset>(
    async (bookmark) => {
      const page = (await health.listDatasets(bookmark, DATASETS_PER_CALL)) as { datasets: Dataset[]; bookmark: string };
      return { items: page.datasets, bookmark: page.bookmark };
    },
    DATASETS_PER_LOAD,
    [health],
  );
  const loaded = datasets.items ?? NO_DATASETS;
  const [chosen, setChosen] = useState<string[]>([]);
  const [variable, setVariable] = useState<string | null>(null);
  const [min, setMin] = useState<number | string>(100);
  const [max, setMax] = useState<number | string>(170);
  const [bins, setBins] = useState<number | string>(7);
  const [minCohort, setMinCohort] = useState<number | string>('');
  const [purpose, setPurpose] = useState<string | null>('HRESCH');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [outcome, setOutcome] = useState<{ allowed: boolean; requestId: string; reasons: string[]; result: Statistics | null; variable: string } | null>(null);

  const columns = useMemo(() => {
    const selected = loaded.filter((d) => chosen.includes(d.datasetId));
    if (selected.length === 0) return [];
    return selected[0]!.columns.filter((c) => selected.every((d) => d.columns.includes(c)));
  }, [loaded, chosen]);

  const run = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setOutcome(null);
    if (chosen.length === 0 || !variable) {
      setError(new Error('Choose at least one dataset and a variable they all have.'));
      return;
    }
    setBusy(true);
    try {
      const r = await health.statistics({
        datasetIds: chosen,
        variable,
        purpose: purpose ?? 'HRESCH',
        histogram: { min: Number(min), max: Number(max), bins: Number(bins) },
        ...(minCohort !== '' ? { minCohort: Number(minCohort) } : {}),
      });
      setOutcome({ ...r, result: r.result as Statistics | null, variable });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const stats = outcome?.result ?? null;
  // Below a form that fills a phone's screen: brought into sight when it comes.
  const outcomeRef = useReveal<HTMLDivElement>(outcome ?? error);
  const withheld = stats ? stats.histogram.filter((b) => b.count === null).length : 0;
  // Said by a screen reader when the result comes (the card itself is not a live region: read
  // whole, it would be long). The region is always there: one added with its text is not
  // reliably announced.
  const said = stats
    ? stats.suppressed
      ? `Statistics ready: the cohort is smaller than ${stats.minCohort}, every figure is withheld.`
      : `Statistics ready: ${fmt(stats.count, 0)} people, mean ${fmt(stats.mean)}; ${withheld} of ${stats.histogram.length} bins withheld.`
    : '';
  return (
    <Stack>
      <VisuallyHidden role="status" data-testid="stats-said">
        {said}
      </VisuallyHidden>
      <Title order={2}>Analytics</Title>
      <Text size="sm" c="dimmed">
        Federated statistics: no row leaves its hospital. Each custodian releases a partial aggregate for your approved request; counts under the threshold are
        withheld. Apply for access to a dataset on the Data market page first.
      </Text>
      <Card withBorder>
        <form onSubmit={(e) => void run(e)} aria-label="Run statistics">
          <Stack gap="sm">
            {datasets.error ? <ErrorAlert error={datasets.error} /> : null}
            <MultiSelect
              label="Datasets"
              description={datasets.more ? `The first ${loaded.length} datasets of the catalogue; load more to choose among the others.` : undefined}
              data={datasetOptions(loaded)}
              value={chosen}
              onChange={setChosen}
              searchable
            />
            {datasets.more ? (
              <Button
                variant="default"
                size="xs"
                w="fit-content"
                loading={datasets.loading === 'more'}
                onClick={() => void datasets.next()}
                data-testid="analytics-datasets-more"
              >
                Load more datasets
              </Button>
            ) : null}
            <SimpleGrid cols={{ base: 1, xs: 2, sm: 3 }} className="ml-fields">
              <Select
                label="Variable"
                data={columns}
                value={variable}
                onChange={setVariable}
                placeholder={columns.length ? 'Choose' : 'Choose datasets first'}
              />
              <Select label="Purpose" data={['HRESCH', 'CLINTRCH', 'PUBHLTH']} value={purpose} onChange={setPurpose} allowDeselect={false} />
              <NumberInput label="Minimum cohort (optional)" description="Can only raise the threshold" min={1} value={minCohort} onChange={setMinCohort} />
              <NumberInput label="From" value={min} onChange={setMin} />
              <NumberInput label="To" value={max} onChange={setMax} />
              <NumberInput label="Bins" min={1} max={100} value={bins} onChange={setBins} />
            </SimpleGrid>
            <Button type="submit" loading={busy} w="fit-content">
              Run statistics
            </Button>
          </Stack>
        </form>
      </Card>
      {outcome || error ? (
        <Stack ref={outcomeRef}>
          {error ? <ErrorAlert error={error} /> : null}
          {outcome && !outcome.allowed ? (
            <Alert color="red" title="Refused — the refusal is recorded on the ledger" role="alert" data-testid="stats-refused">
              {outcome.reasons.map((r, i) => (
                <Text key={i} size="sm">
                  {r}
                </Text>
              ))}
            </Alert>
          ) : null}
          {stats ? (
            <Card withBorder data-testid="stats-result" data-request-id={outcome?.requestId}>
              <Group justify="space-between" mb="xs">
                <Title order={3} size="h4">
                  {outcome?.variable} over {chosen.length} dataset{chosen.length === 1 ? '' : 's'}
                </Title>
                <Text size="xs" c="dimmed">
                  request {shortHex(outcome?.requestId ?? '', 16)} · result recorded on the ledger
                </Text>
              </Group>
              {stats.suppressed ? (
                <Alert color="orange" mb="xs">
                  The cohort is smaller than {stats.minCohort}: every figure is withheld.
                </Alert>
              ) : null}
              {withheld > 0 && !stats.suppressed ? (
                <Alert color="gray" mb="xs" data-testid="suppressed-note">
                  {withheld} of {stats.histogram.length} bins withheld (fewer than {stats.minCohort} people, or derivable from the others): shown in grey,
                  marked "withheld".
                </Alert>
              ) : null}
              <Histogram stats={stats} variable={outcome?.variable ?? ''} />
              <SimpleGrid cols={{ base: 2, sm: 4 }} mt="sm">
                <Figure label="People" value={fmt(stats.count, 0)} testId="stats-count" />
                <Figure label="Mean" value={fmt(stats.mean)} />
                <Figure label="Standard deviation" value={fmt(stats.stdDev)} />
                <Figure label="Threshold" value={stats.minCohort} />
                <Figure label="Lowest value in" value={binText(stats.minBin)} />
                <Figure label="Highest value in" value={binText(stats.maxBin)} />
                <Figure label="Below range" value={fmt(stats.under, 0)} />
                <Figure label="Above range" value={fmt(stats.over, 0)} />
              </SimpleGrid>
              <DataTable label="Histogram bins" mt="sm" data-testid="stats-bins" headings={['Bin', 'Count']}>
                {stats.histogram.map((b) => (
                  <Table.Tr key={`${b.from}`}>
                    <Table.Td>
                      {b.from} – {b.to}
                    </Table.Td>
                    <Table.Td>
                      {b.count === null ? (
                        <Badge color="gray" variant="light">
                          withheld
                        </Badge>
                      ) : (
                        b.count
                      )}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </DataTable>
            </Card>
          ) : null}
        </Stack>
      ) : null}
    </Stack>
  );
}
