// Create or update a record: FHIR JSON (pasted or from a .json file; its sensitivity comes from
// the hospital's classification rules, and a resource may be split into parts by level) or any
// other file (CSV, PDF, image) with the sensitivity the author chooses. The content is sealed at
// this hospital's node, then the write is a transaction the user signs here.
import { Alert, Button, FileInput, Group, Select, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { useState, type FormEvent, type ReactNode } from 'react';
import { Choice } from './Choice.tsx';
import type { RecordInput } from '../../../src/sdk/health.ts';
import { ErrorAlert } from '../app/errors.tsx';

/** The browser's limit for one upload; the node enforces its own (413). */
const FILE_BYTES_MAX = 8 * 1024 * 1024;
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface RecordFormValue {
  readonly recordId: string;
  readonly input: RecordInput;
}

function mediaTypeOf(file: File): string {
  if (file.type) return file.type;
  if (/\.csv$/i.test(file.name)) return 'text/csv';
  if (/\.pdf$/i.test(file.name)) return 'application/pdf';
  if (/\.json$/i.test(file.name)) return 'application/fhir+json';
  return 'application/octet-stream';
}

export function RecordForm({
  mode,
  recordId: fixedId,
  submitLabel,
  onSubmit,
}: {
  mode: 'create' | 'update';
  recordId?: string;
  submitLabel: string;
  onSubmit(v: RecordFormValue): Promise<void>;
}): ReactNode {
  const [recordId, setRecordId] = useState(fixedId ?? `rec-${Date.now().toString(36)}`);
  const [kind, setKind] = useState<'fhir' | 'file'>('fhir');
  const [json, setJson] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [sensitivity, setSensitivity] = useState<'normal' | 'sensitive' | 'restricted'>('normal');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent): Promise<void> => {
    e.preventDefault();
    setProblem(null);
    setError(null);
    if (!ID_RE.test(recordId))
      return setProblem('The record id must start with a letter or digit and use only letters, digits, dot, dash and underscore (at most 64).');
    let input: RecordInput;
    if (kind === 'fhir') {
      let resource: unknown;
      try {
        resource = JSON.parse(json);
      } catch (err) {
        return setProblem(`The FHIR JSON does not parse: ${(err as Error).message}`);
      }
      if (typeof resource !== 'object' || resource === null || typeof (resource as { resourceType?: unknown }).resourceType !== 'string')
        return setProblem('The JSON must be a FHIR resource with a resourceType.');
      input = { kind: 'fhir', resource };
    } else {
      if (!file) return setProblem('Choose a file.');
      if (file.size > FILE_BYTES_MAX) return setProblem(`The file is ${file.size} bytes; at most ${FILE_BYTES_MAX} bytes can be uploaded here.`);
      input = { kind: 'file', data: new Uint8Array(await file.arrayBuffer()), mediaType: mediaTypeOf(file), sensitivity };
    }
    setBusy(true);
    try {
      await onSubmit({ recordId, input });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} aria-label={mode === 'create' ? 'New record' : 'New version'}>
      <Stack gap="sm">
        {mode === 'create' ? (
          <TextInput label="Record id" description="Unique in the consortium" value={recordId} onChange={(e) => setRecordId(e.currentTarget.value)} required />
        ) : null}
        <Choice
          value={kind}
          onChange={(v) => setKind(v as 'fhir' | 'file')}
          data={[
            { value: 'fhir', label: 'FHIR JSON' },
            { value: 'file', label: 'File (CSV, PDF, image)' },
          ]}
          aria-label="Content kind"
        />
        {kind === 'fhir' ? (
          <>
            <Textarea
              label="FHIR resource or Bundle (JSON)"
              description="Validated as FHIR R4 by the node; sensitivity from the hospital's classification rules (e.g. mental health codes are restricted)"
              autosize
              minRows={6}
              maxRows={16}
              value={json}
              onChange={(e) => setJson(e.currentTarget.value)}
              styles={{ input: { fontFamily: 'monospace' } }}
            />
            <FileInput
              label="…or load a .json file"
              accept=".json,application/json,application/fhir+json"
              clearable
              onChange={(f) => {
                if (f) void f.text().then(setJson);
              }}
            />
          </>
        ) : (
          <Group grow align="flex-start">
            <FileInput label="File" accept=".csv,text/csv,application/pdf,image/png,image/jpeg" value={file} onChange={setFile} clearable required />
            <Select
              label="Sensitivity"
              data={['normal', 'sensitive', 'restricted']}
              value={sensitivity}
              onChange={(v) => setSensitivity((v ?? 'normal') as typeof sensitivity)}
              allowDeselect={false}
            />
          </Group>
        )}
        {problem ? (
          <Alert color="red" role="alert">
            {problem}
          </Alert>
        ) : null}
        {error ? <ErrorAlert error={error} /> : null}
        <Group>
          <Button type="submit" loading={busy}>
            {submitLabel}
          </Button>
          <Text size="xs" c="dimmed">
            Sealed at your hospital's node; the write is signed in this browser and decided on the ledger.
          </Text>
        </Group>
      </Stack>
    </form>
  );
}
