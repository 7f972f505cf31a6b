// People: a hospital's identity lifecycle (issue 12 item 1; decisions 1206, 1252, 1210, 1211).
// An admin registers a person (name, role; a patient with the pseudonym their hospital's key
// gives) and hands them the one-time secret; the person enrols — in a browser from the sign-in
// page, or with `medledger user request --submit`; their signing request waits here until the
// certificate is issued; and the admin sees every registered identity with its certificate's
// state in the config in force (valid / revoked / expired). Issuing a certificate and signing a
// revocation list need the hospital's CA key, which stays offline on the admin's host by design
// (decision 1252): for those steps the page says so and gives the exact command to run there,
// then shows the result as the ledger has it. Supervisors see the lists; only admins act.
import { Alert, Badge, Button, Card, Code, CopyButton, FileInput, Group, Modal, Select, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { patientPseudonymWebCrypto } from '../../../src/identity/pseudonym-webcrypto.ts';
import {
  IdentitiesResponse,
  PendingResponse,
  RegistrationResponse,
  type IdentityEntryT,
  type PendingEnrolmentT,
  type RegistrationResponseT,
} from '../../../src/protocol/enrolment-schemas.ts';
import { MedLedgerApiError } from '../../../src/sdk/client.ts';
import { ErrorAlert } from '../app/errors.tsx';
import { shortHex, useLoad } from '../app/hooks.ts';
import { useSession } from '../app/session.tsx';
import { PageControl, usePaged } from '../components/Paged.tsx';
import { LoadMore } from '../components/LoadMore.tsx';
import { useLedgerList } from '../app/ledger-pages.ts';
import { DataTable } from '../components/DataTable.tsx';
import { useReveal } from '../components/reveal.ts';

// 'laboratory' and 'device' (a sensor) are least-privilege roles (decision 1253).
const REGISTRABLE_ROLES = ['doctor', 'nurse', 'patient', 'researcher', 'insurer', 'laboratory', 'device', 'supervisor', 'admin'] as const;
const KEY_FILE_BYTES_MAX = 1024;
/** Identities fetched per load (the node answers at most 500); more on demand. */
const IDENTITIES_PER_LOAD = 100;

function parsed<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } } },
  v: unknown,
): T {
  const r = schema.safeParse(v);
  if (!r.success) throw new MedLedgerApiError(502, 'BAD_RESPONSE', `the node's answer does not match the API: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

/** A command to run on the admin's host, with a copy button. */
export function Command({ text, testId }: { text: string; testId?: string }): ReactNode {
  return (
    <Group gap="xs" wrap="nowrap" align="flex-start">
      <Code block style={{ flex: 1, whiteSpace: 'pre-wrap', wordBreak: 'break-all' }} data-testid={testId}>
        {text}
      </Code>
      <CopyButton value={text}>
        {({ copied, copy }) => (
          <Button size="xs" variant="default" onClick={copy} aria-label={`Copy the command ${text}`}>
            {copied ? 'Copied' : 'Copy'}
          </Button>
        )}
      </CopyButton>
    </Group>
  );
}

function RegisterForm({ org, onRegistered }: { org: string; onRegistered(): void }): ReactNode {
  const { client } = useSession();
  const [name, setName] = useState('');
  const [role, setRole] = useState<string | null>('doctor');
  const [keyFile, setKeyFile] = useState<File | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<RegistrationResponseT | null>(null);
  // The enrolment secret, shown once: below the form, brought into sight when it comes.
  const doneRef = useReveal<HTMLDivElement>(done);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setError(null);
    setDone(null);
    setBusy(true);
    try {
      let pseudonym: string | undefined;
      if (role === 'patient') {
        if (!keyFile)
          throw new Error(`A patient is known on the ledger only by a pseudonym ${org}'s pseudonymisation key derives from the name: choose pseudonym.key.`);
        if (keyFile.size > KEY_FILE_BYTES_MAX) throw new Error(`${keyFile.name} is not a pseudonymisation key (it is ${keyFile.size} bytes)`);
        pseudonym = await patientPseudonymWebCrypto(await keyFile.text(), org, name.trim());
      }
      const r = parsed(RegistrationResponse, await client.call('POST', '/v1/registrations', { name: name.trim(), role, ...(pseudonym ? { pseudonym } : {}) }));
      setDone(r);
      setName('');
      setKeyFile(null);
      onRegistered();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="sm">
      <form onSubmit={(e) => void submit(e)} aria-label="Register a person">
        <Stack gap="sm">
          <Group grow align="flex-start">
            <TextInput
              label="Name"
              description="What they will ask with (a patient: their login name, never on the ledger)"
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              required
            />
            <Select label="Role" data={[...REGISTRABLE_ROLES]} value={role} onChange={setRole} allowDeselect={false} />
          </Group>
          {role === 'patient' ? (
            <FileInput
              label="Pseudonymisation key (pseudonym.key)"
              description={`${org}'s key from crypto/${org}/pseudonym.key on this host: the pseudonym is computed in this browser (non-extractable HMAC key) and the key is not sent. Or register on the command line: medledger user register --org ${org} --name <name> --role patient`}
              value={keyFile}
              onChange={setKeyFile}
              required
            />
          ) : null}
          {error ? <ErrorAlert error={error} title="Not registered" /> : null}
          <Button type="submit" loading={busy} w="fit-content">
            Register
          </Button>
        </Stack>
      </form>
      {done ? (
        <Alert
          ref={doneRef}
          color="green"
          title={`Registered ${done.org}/${done.name} as ${done.role}`}
          data-testid="registration-result"
          data-registration-id={done.id}
        >
          <Stack gap={6}>
            {done.pseudonym ? (
              <Text size="sm">
                On the ledger as pseudonym <Code data-testid="registration-pseudonym">{done.pseudonym}</Code>
              </Text>
            ) : null}
            <Text size="sm">
              Enrolment secret — shown once, give it to {done.name} privately; it expires {new Date(done.expiresAt).toLocaleString()}:
            </Text>
            <Command text={done.secret} testId="registration-secret" />
            <Text size="sm">
              They enrol in a browser at this console's sign-in page ("New here? Enrol with your secret"), or on their machine with{' '}
              <Code>
                npx medledger user request --name {done.name} --out &lt;dir&gt; --submit &lt;{org}'s API address&gt; --secret &lt;secret&gt; --ca root-ca.pem
              </Code>
              . Their request then waits below for a certificate.
            </Text>
            {done.replacesSerials.length > 0 ? (
              <Text size="sm">
                Re-enrolment: their current certificate(s) {done.replacesSerials.join(', ')} are revoked when the new one is issued with{' '}
                <Code>user enrol --pending</Code>.
              </Text>
            ) : null}
          </Stack>
        </Alert>
      ) : null}
    </Stack>
  );
}

function Pending({ org, tick }: { org: string; tick: number }): ReactNode {
  const { client } = useSession();
  const list = useLoad(async () => parsed(PendingResponse, await client.call('GET', '/v1/enrolments?status=pending')).enrolments, [client, tick]);
  const paged = usePaged<PendingEnrolmentT>(list.data ?? []);
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">
          Waiting for a certificate
        </Title>
        <Button size="xs" variant="default" onClick={list.reload}>
          Refresh
        </Button>
      </Group>
      <Text size="sm" mb="xs">
        A certificate is issued where {org}'s CA key is kept — never by a node, never in a browser (decision 1252). On that host, run{' '}
        <Code>npx medledger user enrol --org {org} --pending</Code> (every request below; add <Code>--dir &lt;consortium directory&gt;</Code> if it is not
        .medledger/network): it checks each request's proof of possession, issues the certificate with the registered name and role, and uploads it. The person
        then collects it with their secret.
      </Text>
      {list.error ? <ErrorAlert error={list.error} /> : null}
      {list.data && list.data.length === 0 ? <Text size="sm">No request is waiting.</Text> : null}
      {paged.total > 0 ? (
        <DataTable
          label="Requests waiting for a certificate"
          striped
          data-testid="pending-enrolments"
          headings={['Name', 'Role', 'Requested', 'Secret expires', 'Issue this one only']}
        >
          {paged.items.map((p) => (
            <Table.Tr key={p.id} data-name={p.name}>
              <Table.Td>{p.name}</Table.Td>
              <Table.Td>
                {p.role}
                {p.replacesSerials.length > 0 ? ' (re-enrolment)' : ''}
              </Table.Td>
              <Table.Td>{new Date(p.requestedAt).toLocaleString()}</Table.Td>
              <Table.Td>{new Date(p.expiresAt).toLocaleString()}</Table.Td>
              <Table.Td>
                <Code>
                  npx medledger user enrol --org {org} --id {p.id}
                </Code>
              </Table.Td>
            </Table.Tr>
          ))}
        </DataTable>
      ) : null}
      <PageControl paged={paged} label="requests" />
    </Card>
  );
}

const CERT_COLOR: Readonly<Record<IdentityEntryT['certificate'], string>> = { valid: 'green', revoked: 'red', expired: 'orange', none: 'gray' };

function Identities({ org, isAdmin, tick }: { org: string; isAdmin: boolean; tick: number }): ReactNode {
  const { client } = useSession();
  const [local, setLocal] = useState(0);
  // A page of the node's list at a time, newest registration first: a hospital registers its
  // patients by the thousand, and one answer holding them all was unbounded.
  const [configSequence, setConfigSequence] = useState<number | null>(null);
  const list = useLedgerList<IdentityEntryT>(
    async (after) => {
      const query = new URLSearchParams({ org, pageSize: String(IDENTITIES_PER_LOAD), ...(after ? { after } : {}) });
      const page = parsed(IdentitiesResponse, await client.call('GET', `/v1/identities?${query.toString()}`));
      setConfigSequence(page.configSequence);
      return { items: page.identities, bookmark: page.next ?? '' };
    },
    IDENTITIES_PER_LOAD,
    [client, org, tick, local],
  );
  const revoked = useLoad(
    async () => ((await client.config()).state.record.config.orgs.find((o) => o.org === org)?.revocations ?? []).flatMap((r) => r.serials),
    [client, tick, local],
  );
  const paged = usePaged<IdentityEntryT>(list.items ?? []);
  const [revoking, setRevoking] = useState<IdentityEntryT | null>(null);
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">
          Identities of {org}
        </Title>
        <Button size="xs" variant="default" onClick={() => setLocal((t) => t + 1)}>
          Check again
        </Button>
      </Group>
      <Text size="sm" mb="xs">
        Everyone registered on this node, with their certificate's state in the configuration in force
        {configSequence !== null ? ` (config sequence ${configSequence})` : ''}. Newest registration first. Identities made at <Code>medledger init</Code> are
        not registrations: list them with <Code>npx medledger user list --org {org}</Code> on the admin host; their revocations are among the serials below.
      </Text>
      {list.error ? <ErrorAlert error={list.error} /> : null}
      {list.items && list.items.length === 0 && !list.more ? <Text size="sm">Nobody has been registered on this node yet.</Text> : null}
      {paged.total > 0 ? (
        <DataTable
          label={`Identities of ${org}`}
          striped
          data-testid="identities"
          headings={['Name', 'Role', 'On the ledger as', 'Enrolment', 'Certificate', ...(isAdmin ? [''] : [])]}
        >
          {paged.items.map((i) => (
            <Table.Tr key={i.registrationId} data-name={i.name}>
              <Table.Td>{i.name}</Table.Td>
              <Table.Td>{i.role}</Table.Td>
              <Table.Td title={i.id}>{i.id === i.name ? i.id : shortHex(i.id, 16)}</Table.Td>
              <Table.Td>
                {i.status}
                <Text size="xs" c="dimmed">
                  by {i.registeredBy}
                </Text>
              </Table.Td>
              <Table.Td>
                <Badge color={CERT_COLOR[i.certificate]} variant="light" data-testid="certificate-state">
                  {i.certificate}
                </Badge>
                {i.serialHex ? (
                  <Text size="xs" c="dimmed" title={i.serialHex}>
                    serial {shortHex(i.serialHex, 12)}
                    {i.notAfter ? `, until ${new Date(i.notAfter).toLocaleDateString()}` : ''}
                  </Text>
                ) : null}
              </Table.Td>
              {isAdmin ? (
                <Table.Td>
                  {i.certificate === 'valid' && i.serialHex ? (
                    <Button size="xs" color="red" variant="light" onClick={() => setRevoking(i)} aria-label={`Revoke ${i.name}`}>
                      Revoke…
                    </Button>
                  ) : null}
                </Table.Td>
              ) : null}
            </Table.Tr>
          ))}
        </DataTable>
      ) : null}
      <PageControl paged={paged} label="identities" />
      <LoadMore pages={list} paged={paged} label="Load more identities" testId="identities-more" />
      <Text size="sm" mt="sm" data-testid="revoked-serials">
        Serials {org} has revoked (in the config in force):{' '}
        {revoked.data ? (revoked.data.length > 0 ? revoked.data.map((s) => shortHex(s, 12)).join(', ') : 'none') : '…'}
      </Text>
      <Modal
        opened={revoking !== null}
        onClose={() => setRevoking(null)}
        closeButtonProps={{ 'aria-label': 'Close' }}
        title={revoking ? `Revoke ${org}/${revoking.name}` : ''}
        size="lg"
      >
        {revoking?.serialHex ? (
          <Stack gap="sm">
            <Text size="sm">
              A revocation is a list signed by {org}'s CA key, added to the consortium configuration by an update {org}'s admin alone signs (decision 1206). The
              CA key stays offline on the host that keeps it (decision 1252): this console cannot sign the list, and does not pretend to. On that host, run:
            </Text>
            <Command text={`npx medledger user revoke --org ${org} --serial ${revoking.serialHex}`} testId="revoke-command" />
            <Text size="sm">
              Every node — endorsement, validation, the API, the custodians — refuses certificate {revoking.serialHex} from the next block (the API answers{' '}
              <Code>CERT_REVOKED</Code>). Then check here: the certificate shows <strong>revoked</strong>.
            </Text>
            <Button
              w="fit-content"
              onClick={() => {
                setRevoking(null);
                setLocal((t) => t + 1);
              }}
            >
              I ran it — check again
            </Button>
          </Stack>
        ) : null}
      </Modal>
    </Card>
  );
}

export function PeoplePage(): ReactNode {
  const { me, node } = useSession();
  const [tick, setTick] = useState(0);
  const isAdmin = me.role === 'admin';
  return (
    <Stack>
      <Title order={2}>People</Title>
      {isAdmin ? (
        <Text size="sm">
          Register people to enrol, follow their requests, see whose certificate is valid or revoked. Keys are made by the people themselves (in their browser
          or on their machine); certificates are issued and revocations signed with {me.org}'s CA key on the host that keeps it offline.
        </Text>
      ) : (
        // A supervisor audits who may act for the hospital; the page must not offer what it cannot do.
        <Text size="sm" data-testid="people-intro">
          See who is registered at {me.org} and whose certificate is valid or revoked. Registering people and revoking certificates is for {me.org}&apos;s
          administrators.
        </Text>
      )}
      {me.org !== node.org ? (
        <Alert color="orange" title={`This is ${node.org}'s node`}>
          {me.org}'s registrations are kept on {me.org}'s own node: open its console to manage its people.
        </Alert>
      ) : (
        <>
          {isAdmin ? (
            <Card withBorder>
              <Title order={3} size="h4" mb="xs">
                Register a person
              </Title>
              <RegisterForm org={me.org} onRegistered={() => setTick((t) => t + 1)} />
            </Card>
          ) : null}
          {isAdmin ? <Pending org={me.org} tick={tick} /> : null}
          <Identities org={me.org} isAdmin={isAdmin} tick={tick} />
        </>
      )}
    </Stack>
  );
}
