// Break the glass: a doctor's emergency read of a record they have no consent or care relation
// for. The reason is mandatory and the page says plainly what follows: the read is recorded as a
// security alert, the patient is notified, and a claim without a real emergency is a BMRS
// violation. The decision is the same audited `access` transaction as any read, with purpose BTG.
import { Alert, Button, Card, Checkbox, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { ErrorAlert } from '../app/errors.tsx';
import { useReveal } from '../components/reveal.ts';
import { useSession } from '../app/session.tsx';
import { ReadOutcome, type ReadResult } from '../components/RecordRead.tsx';

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const REASON_RE = /^[a-z0-9][a-z0-9-]{0,63}$/;
const REASONS = [
  { value: 'unconscious-no-proxy', label: 'Patient unconscious, no proxy reachable' },
  { value: 'life-threatening', label: 'Life-threatening condition' },
  { value: 'emergency-surgery', label: 'Emergency surgery' },
  { value: 'patient-unable-to-consent', label: 'Patient unable to consent' },
  { value: 'other', label: 'Other (give a reason code)' },
];

export function BreakGlassPage(): ReactNode {
  const { health } = useSession();
  const [recordId, setRecordId] = useState('');
  const [reason, setReason] = useState<string | null>(null);
  const [other, setOther] = useState('');
  const [understood, setUnderstood] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<{ recordId: string; read: ReadResult } | null>(null);
  // The record opened comes below the form: brought into sight.
  const outcomeRef = useReveal<HTMLDivElement>(result ?? error);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setProblem(null);
    setError(null);
    const id = recordId.trim();
    const code = reason === 'other' ? other.trim() : reason;
    if (!ID_RE.test(id)) return setProblem('Give the record id (letters, digits, dot, dash, underscore).');
    if (!code) return setProblem('A reason is required to break the glass.');
    if (!REASON_RE.test(code)) return setProblem('The reason code must be lowercase letters, digits and dashes (at most 64), e.g. cardiac-arrest.');
    if (!understood) return setProblem('Confirm that you understand the read is audited and the patient notified.');
    setBusy(true);
    try {
      setResult({ recordId: id, read: await health.readRecord({ recordId: id, purpose: 'BTG', reason: code }) });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Stack>
      <Title order={2}>Break the glass</Title>
      <Alert color="red" title="Emergency access only" role="note">
        <Text size="sm">
          Use this only when a patient needs care now and their consent cannot be obtained. The read is recorded on the ledger as a security alert with your
          name and reason, the patient is notified, and your hospital's supervisors and auditors see it. A claim without a real emergency is a violation of your
          access session and can end it.
        </Text>
      </Alert>
      <Card withBorder>
        <form onSubmit={(e) => void submit(e)} aria-label="Break the glass">
          <Stack gap="sm">
            <TextInput label="Record id" value={recordId} onChange={(e) => setRecordId(e.currentTarget.value)} required />
            <Select label="Reason" placeholder="Choose the emergency" data={REASONS} value={reason} onChange={setReason} required />
            {reason === 'other' ? (
              <TextInput
                label="Reason code"
                description="lowercase, dashes, e.g. cardiac-arrest"
                value={other}
                onChange={(e) => setOther(e.currentTarget.value)}
                required
              />
            ) : null}
            <Checkbox
              label="I understand that this read is audited as a security alert and that the patient is notified"
              checked={understood}
              onChange={(e) => setUnderstood(e.currentTarget.checked)}
            />
            {problem ? (
              <Alert color="red" role="alert">
                {problem}
              </Alert>
            ) : null}
            <Button type="submit" color="red" loading={busy} w="fit-content" className="ml-button-wraps">
              Break the glass and open the record
            </Button>
          </Stack>
        </form>
      </Card>
      {error || result ? (
        <Stack ref={outcomeRef}>
          {error ? <ErrorAlert error={error} /> : null}
          {result ? <ReadOutcome result={result.read} recordId={result.recordId} client={health} /> : null}
        </Stack>
      ) : null}
    </Stack>
  );
}
