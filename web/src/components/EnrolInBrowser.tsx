// A new user enrols from the sign-in page (decision 1210): with the name their hospital's admin
// registered and the one-time secret they were given, this browser generates their ECDSA P-256
// key pair as NON-EXTRACTABLE (WebCrypto), sends only a signing request (PKCS#10) to the node
// (POST /v1/enrolments: no certificate yet, so unsigned; the secret gates it), and keeps the key
// in IndexedDB. The certificate is issued on the host that holds the hospital's CA key (`medledger
// user enrol`, decision 1252) — not here, and not by the node. Once issued, "Collect" fetches it
// with the secret (then spent) and signs in. The key exists only in this browser profile: the user
// signs in here, or enrols again elsewhere (a new key; the old certificate is then revoked).
import { Alert, Badge, Button, Card, Code, Group, PasswordInput, SimpleGrid, Stack, Text, TextInput, Title } from '@mantine/core';
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from 'react';
import type { z } from 'zod';
import { createWebCryptoEnrolmentRequest } from '../../../src/identity/enrolment-webcrypto.ts';
import { CollectResponse, ENROLMENT_SECRET_HEADER, EnrolmentRequestResponse } from '../../../src/protocol/enrolment-schemas.ts';
import { ErrorBody } from '../../../src/protocol/schemas.ts';
import { MedLedgerApiError } from '../../../src/sdk/client.ts';
import { ErrorAlert } from '../app/errors.tsx';
import { forgetEnrolled, listEnrolled, saveEnrolled, type EnrolledIdentity } from '../app/keystore.ts';
import { useSessionApi, type ConsoleConfig } from '../app/session.tsx';

const RESPONSE_BYTES_MAX = 256 * 1024;

/** An unauthenticated call of the enrolment routes on this node (same origin), parsed with the API's schema. */
async function openCall<S extends z.ZodType>(
  schema: S,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<z.output<S>> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'omit',
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new MedLedgerApiError(0, 'UNREACHABLE', `the node could not be reached: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (text.length > RESPONSE_BYTES_MAX) throw new MedLedgerApiError(502, 'BAD_RESPONSE', 'the node sent a larger answer than an enrolment has');
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  if (!res.ok) {
    const e = ErrorBody.safeParse(json);
    if (e.success) throw new MedLedgerApiError(res.status, e.data.error.code, e.data.error.message);
    throw new MedLedgerApiError(res.status, 'HTTP_ERROR', `the node answered HTTP ${res.status}`);
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new MedLedgerApiError(502, 'BAD_RESPONSE', `the node's answer does not match the API: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}

function RequestForm({ node, onRequested }: { node: ConsoleConfig; onRequested(): void }): ReactNode {
  const [name, setName] = useState('');
  const [secret, setSecret] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const req = await createWebCryptoEnrolmentRequest(name.trim());
      const r = await openCall(EnrolmentRequestResponse, 'POST', '/v1/enrolments', { secret: secret.trim(), csrPem: req.csrPem });
      await saveEnrolled({
        enrolmentId: r.id,
        name: name.trim(),
        org: node.org,
        key: req.privateKey,
        secret: secret.trim(),
        certPem: null,
        requestedAtMs: Date.now(),
      });
      setName('');
      setSecret('');
      onRequested();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={(e) => void submit(e)} aria-label="Enrol with a secret">
      <Stack gap="xs">
        {/* Side by side from 576 px; one above the other on a phone, where most patients enrol. */}
        <SimpleGrid cols={{ base: 1, xs: 2 }}>
          <TextInput
            label="Your name as registered"
            description="A patient: your login name"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            required
            autoComplete="username"
          />
          <PasswordInput
            label="Enrolment secret"
            description="The one-time secret your administrator gave you"
            value={secret}
            onChange={(e) => setSecret(e.currentTarget.value)}
            required
            autoComplete="off"
          />
        </SimpleGrid>
        {error ? <ErrorAlert error={error} title="The request was not accepted" /> : null}
        <Button type="submit" loading={busy} w="fit-content" variant="light" className="ml-button-wraps">
          Make my key and request a certificate
        </Button>
      </Stack>
    </form>
  );
}

function EnrolledEntry({ entry, onChange }: { entry: EnrolledIdentity; onChange(): void }): ReactNode {
  const { signInWithKey } = useSessionApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState<string | null>(null);
  const collect = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      let certPem = entry.certPem;
      if (certPem === null) {
        if (entry.secret === null) throw new Error('this request has no secret to collect with: enrol again');
        const r = await openCall(CollectResponse, 'GET', `/v1/enrolments/${encodeURIComponent(entry.enrolmentId)}`, undefined, {
          [ENROLMENT_SECRET_HEADER]: entry.secret,
        });
        if (r.certPem === null) {
          setStatus(`Not issued yet (${r.status}). Your administrator issues it on the host that holds ${entry.org}'s CA key; try again later.`);
          return;
        }
        certPem = r.certPem;
        // The secret is spent; keep the certificate beside the key.
        await saveEnrolled({ ...entry, certPem, secret: null });
      }
      // The node verifies this signed sign-in against the certificate: a certificate for another key fails here.
      await signInWithKey(certPem, entry.key);
    } catch (err) {
      setError(err);
      onChange();
    } finally {
      setBusy(false);
    }
  };
  const forget = async (): Promise<void> => {
    await forgetEnrolled(entry.enrolmentId);
    onChange();
  };
  return (
    <Card withBorder padding="sm" data-testid="enrolled-entry" data-enrolment-id={entry.enrolmentId}>
      <Stack gap={6}>
        <Group justify="space-between" wrap="wrap">
          <Text size="sm" fw={600}>
            {entry.org}/{entry.name}
          </Text>
          <Badge variant="light" color={entry.certPem ? 'green' : 'yellow'}>
            {entry.certPem ? 'certificate collected' : 'waiting for the certificate'}
          </Badge>
        </Group>
        <Text size="xs" c="dimmed">
          Enrolment {entry.enrolmentId}, requested {new Date(entry.requestedAtMs).toLocaleString()}; key kept non-extractable in this browser only.
        </Text>
        {status ? (
          <Alert color="yellow" data-testid="enrol-status">
            {status}
          </Alert>
        ) : null}
        {error ? <ErrorAlert error={error} title="Could not sign in" /> : null}
        <Group gap="xs">
          <Button size="xs" loading={busy} onClick={() => void collect()}>
            {entry.certPem ? `Sign in as ${entry.name}` : 'Collect my certificate and sign in'}
          </Button>
          <Button size="xs" variant="subtle" color="red" onClick={() => void forget()} aria-label={`Forget the key of ${entry.name} in this browser`}>
            Forget
          </Button>
        </Group>
      </Stack>
    </Card>
  );
}

export function EnrolInBrowser({ node }: { node: ConsoleConfig }): ReactNode {
  const [entries, setEntries] = useState<EnrolledIdentity[] | null>(null);
  const reload = useCallback(() => {
    void listEnrolled().then((all) => setEntries(all.filter((e) => e.org === node.org).sort((a, b) => b.requestedAtMs - a.requestedAtMs)));
  }, [node.org]);
  useEffect(reload, [reload]);
  return (
    <Card withBorder>
      <Stack gap="sm">
        <Title order={2} size="h4">
          New here? Enrol with your secret
        </Title>
        <Text size="sm" c="dimmed">
          Your key pair is made in this browser and cannot be exported; only a signing request goes to {node.org}'s node. The certificate is issued by your
          administrator where {node.org}'s CA key is kept (<Code>medledger user enrol --org {node.org} --pending</Code>), then collected here. To use the
          command line instead: <Code>medledger user request --submit</Code>.
        </Text>
        {(entries ?? []).map((e) => (
          <EnrolledEntry key={e.enrolmentId} entry={e} onChange={reload} />
        ))}
        <RequestForm node={node} onRequested={reload} />
      </Stack>
    </Card>
  );
}
