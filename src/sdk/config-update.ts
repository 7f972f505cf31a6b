// Submitting a consortium config update from a client (moved here from cli/membership.ts so the
// SDK — e.g. a revocation from the enrolment admin, decision 1252 — and the CLI share it): build
// the next config from the one in force on the node, sign it with the admins the modification
// policy needs (on the caller's host: the node never holds their keys), submit, wait for VALID.
import { randomBytes } from '../codec/index.ts';
import type { ConsortiumConfig } from '../ledger/config.ts';
import { buildConfigUpdateTx, ConfigUpdateError, type ConfigSigner, type ConfigState } from '../ledger/config-update.ts';
import type { MedLedgerClient } from './client.ts';

export interface ConfigUpdateOutcome {
  readonly txId: string;
  readonly sequence: number;
  readonly blockNumber: number | null;
  readonly config: ConsortiumConfig;
}

/**
 * Build `change(config in force)`, sign it with `signersFor(config in force)`, submit it through
 * `client` and wait for its validation code. The first signer is the creator and must be the
 * client's own identity (the gateway only accepts its caller's transactions).
 */
export async function submitConfigUpdate(
  client: MedLedgerClient,
  signersFor: (config: ConsortiumConfig) => readonly ConfigSigner[],
  change: (config: ConsortiumConfig, state: ConfigState) => ConsortiumConfig,
  waitMs = 30_000,
): Promise<ConfigUpdateOutcome> {
  const { state } = await client.config();
  const next = change(state.record.config, state);
  const signers = signersFor(state.record.config);
  const creator = signers[0];
  if (!creator) throw new ConfigUpdateError('no signers');
  const consortium = await client.consortium();
  const { envelope, txId, record } = buildConfigUpdateTx({
    state,
    next,
    creator,
    signers,
    nonce: randomBytes(24),
    timestampMs: Date.now(),
    ...(consortium === undefined ? {} : { consortium }),
  });
  const status = await client.submitEnvelope(envelope, { waitMs });
  if (status.code !== 'VALID')
    throw new ConfigUpdateError(`config update ${txId} was not committed: ${status.code ?? status.status}${status.reason ? ` (${status.reason})` : ''}`);
  return { txId, sequence: record.sequence, blockNumber: status.blockNumber, config: record.config };
}
