// Config transactions: how the consortium changes its own configuration at runtime (add a
// hospital, remove one, change a contract's endorsement policy) — Fabric's channel config
// update, carried in the ordinary transaction format so that ordering, validation, the txId
// index, recovery and `ledger verify` need no second path:
//
//   proposal     contract "_config", fn "update", creator: an organisation admin
//   response     rwset of namespace "_config": read  current @ <its committed version>
//                                               write current = {sequence, config}
//   endorsements signatures of ADMINS (not peers) over the response — the modification
//                policy: admins of a majority of the organisations of the config in force
//
// The config in force for block n is the last one a VALID config transaction wrote before
// block n (or genesis). Validity depends only on that config, the transaction bytes and the
// block time, so a peer (full validation with state) and an orderer (no state: it tracks the
// version of "_config/current" itself) reach the same verdict — `configTxVerdict` is the part
// both run. The MVCC read of "_config/current" orders competing updates: of two updates built
// on the same config, the second to be ordered fails, as in Fabric.
import { decode, encode, sha256, type Bytes } from '../codec/index.ts';
import { fromHex, toHex } from '../codec/index.ts';
import { formatPolicy, outOf, parsePolicy, signedBy, type Policy } from '../identity/policy.ts';
import { verifyRevocationList } from '../identity/revocation-verify.ts';
import { type ConsortiumConfig, type OrgConfig, validateConfig } from './config.ts';
import {
  buildEnvelope,
  buildProposal,
  decodeProposal,
  decodeResponse,
  encodeEnvelope,
  encodeResponse,
  endorse,
  type Endorsement,
  type MessageSigner,
  type ParsedTx,
  type ResponsePayload,
  type Version,
} from './tx.ts';

export const CONFIG_NAMESPACE = '_config';
export const CONFIG_KEY = 'current';
export const CONFIG_FN = 'update';

/**
 * Engines whose orderer set may change at runtime. Raft changes its voters by joint consensus
 * (learner first, promoted once caught up); PBFT by membership epochs, one orderer at a time, each
 * step ordered by the old members and entered with a view change (decision 1270); EH-BFT by a
 * membership block per orderer, the epoch switching at the height that decides it (decision
 * 1290); the hash generators by membership entries decided like blocks, one generator at a time
 * (decision 1295); gpbft by the paper's join/remove node-update steps (decision 1280). Solo has one
 * orderer by definition.
 */
export const RUNTIME_MEMBERSHIP_ENGINES: ReadonlySet<string> = new Set(['raft', 'pbft', 'gpbft', 'ehbft', 'hashgen', 'hashgen-bft']);

/** What "_config/current" holds. */
export interface ConfigRecord {
  /** 0 = genesis; each valid update adds one. */
  readonly sequence: number;
  readonly config: ConsortiumConfig;
}

/** The config in force and the version of the state entry that holds it (null: genesis). */
export interface ConfigState {
  readonly record: ConfigRecord;
  readonly version: Version | null;
}

export class ConfigUpdateError extends Error {
  override readonly name = 'ConfigUpdateError';
}

export function encodeConfigRecord(record: ConfigRecord): Bytes {
  if (!Number.isSafeInteger(record.sequence) || record.sequence < 0) throw new ConfigUpdateError('config sequence must be a non-negative integer');
  return encode({ sequence: record.sequence, config: validateConfig(record.config) });
}

export function decodeConfigRecord(bytes: Bytes): ConfigRecord {
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (err) {
    throw new ConfigUpdateError(`config record: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null) throw new ConfigUpdateError('config record is not a map');
  const { sequence, config } = value as { sequence?: unknown; config?: unknown };
  if (typeof sequence !== 'number' || !Number.isSafeInteger(sequence) || sequence < 1)
    throw new ConfigUpdateError('config record: sequence must be a positive integer');
  return { sequence, config: validateConfig(config) };
}

/** The modification policy: admins of a majority of the organisations of `config`. */
export function configUpdatePolicy(config: ConsortiumConfig): Policy {
  const orgs = config.orgs.map((o) => o.org);
  return outOf(Math.floor(orgs.length / 2) + 1, ...orgs.map((org) => signedBy(org, 'admin')));
}

/**
 * Who must sign the update `current` → `next`. An update that only adds revocation lists of one
 * organisation needs that organisation's admin alone (like Fabric's per-organisation modification
 * policy): a hospital must be able to revoke its own doctor's certificate at once, without
 * waiting for the other hospitals. Anything else needs admins of a majority.
 */
export function configUpdatePolicyFor(current: ConsortiumConfig, next: ConsortiumConfig): Policy {
  const org = revocationOnlyUpdate(current, next);
  return org === null ? configUpdatePolicy(current) : signedBy(org, 'admin');
}

/** The one organisation whose revocations an update adds, when that is all it changes; else null. */
export function revocationOnlyUpdate(current: ConsortiumConfig, next: ConsortiumConfig): string | null {
  const strip = (c: ConsortiumConfig): unknown => ({ ...c, orgs: c.orgs.map((o) => ({ org: o.org, caCertPem: o.caCertPem })) });
  if (!sameJson(strip(current), strip(next))) return null;
  const changed = next.orgs.filter((o) => !sameJson(o.revocations ?? [], current.orgs.find((c) => c.org === o.org)?.revocations ?? []));
  return changed.length === 1 ? changed[0]!.org : null;
}

/** Revocations are permanent: an update may add lists (each signed by the org's CA), never drop one. */
function checkRevocations(current: ConsortiumConfig, next: ConsortiumConfig): string | null {
  for (const o of next.orgs) {
    const before = current.orgs.find((c) => c.org === o.org && c.caCertPem === o.caCertPem)?.revocations ?? [];
    const after = o.revocations ?? [];
    if (after.length < before.length || before.some((r, i) => !sameJson(r, after[i])))
      return `revocations of ${o.org} are permanent: an update may add revocation lists, not change or remove them`;
    for (const r of after.slice(before.length)) {
      const problem = revocationProblem(o, r);
      if (problem) return problem;
    }
  }
  return null;
}

function revocationProblem(o: OrgConfig, r: NonNullable<OrgConfig['revocations']>[number]): string | null {
  try {
    verifyRevocationList({ org: o.org, serials: r.serials, issuedAtMs: r.issuedAtMs, signature: fromHex(r.signatureHex) }, o.caCertPem);
    return null;
  } catch (err) {
    return `revocation list of ${o.org}: ${(err as Error).message}`;
  }
}

/** `config` with a signed revocation list added to its organisation (see configUpdatePolicyFor). */
export function configWithRevocation(
  config: ConsortiumConfig,
  list: { org: string; serials: readonly string[]; issuedAtMs: number; signature: Bytes },
): ConsortiumConfig {
  if (!config.orgs.some((o) => o.org === list.org)) throw new ConfigUpdateError(`${list.org} is not an organisation of the consortium`);
  const entry = { serials: [...list.serials], issuedAtMs: list.issuedAtMs, signatureHex: toHex(list.signature) };
  return { ...config, orgs: config.orgs.map((o) => (o.org === list.org ? { ...o, revocations: [...(o.revocations ?? []), entry] } : o)) };
}

/** How many admin signatures (of distinct organisations) an update of `config` needs. */
export function configSignaturesNeeded(config: ConsortiumConfig): number {
  return Math.floor(config.orgs.length / 2) + 1;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * What an update may change. Returns the reason it may not, or null. Fixed for the life of a
 * consortium: its name, creation time, root CA and consensus engine with its ordering parameters
 * (every orderer built its engine from them). Everything else — organisations, their CAs,
 * orderers (where the engine allows), node endpoints, contracts and policies — may change.
 */
export function checkConfigTransition(current: ConsortiumConfig, next: ConsortiumConfig): string | null {
  if (next.name !== current.name) return `the consortium name cannot change (${current.name} → ${next.name})`;
  if (next.createdAtMs !== current.createdAtMs) return 'createdAtMs cannot change';
  if (next.rootCertPem !== current.rootCertPem) return 'the root CA cannot change';
  if (next.ordering.engine !== current.ordering.engine) return `the consensus engine cannot change (${current.ordering.engine} → ${next.ordering.engine})`;
  if (!sameJson(next.ordering, current.ordering)) return 'the ordering parameters cannot change at runtime';
  for (const c of current.capabilities ?? []) {
    if (!(next.capabilities ?? []).includes(c)) return `capability ${c} cannot be switched off (blocks after it were judged by it)`;
  }
  const before = current.orderers.map((o) => `${o.id}\n${o.org}\n${o.certPem}`).sort();
  const after = next.orderers.map((o) => `${o.id}\n${o.org}\n${o.certPem}`).sort();
  if (!sameJson(before, after) && !RUNTIME_MEMBERSHIP_ENGINES.has(current.ordering.engine)) {
    return `engine ${current.ordering.engine} has a fixed orderer set; an update may add or remove peers and organisations, not orderers (runtime orderer changes: ${[...RUNTIME_MEMBERSHIP_ENGINES].join(', ')})`;
  }
  if (next.nodes) {
    for (const o of next.orderers) {
      if (!next.nodes.some((n) => n.id === o.id && n.roles.includes('orderer'))) return `orderer ${o.id} has no node entry with the orderer role`;
    }
  }
  const revocations = checkRevocations(current, next);
  if (revocations) return revocations;
  for (const c of next.contracts) {
    if (c.name === CONFIG_NAMESPACE) return `no contract may be named ${CONFIG_NAMESPACE}`;
    try {
      parsePolicy(c.endorsementPolicy);
    } catch (err) {
      return `contract ${c.name}: endorsement policy: ${(err as Error).message}`;
    }
  }
  return null;
}

export interface ConfigTxProblem {
  /** true: built on a config that is no longer in force (an MVCC conflict), else invalid. */
  readonly stale: boolean;
  readonly reason: string;
}

/**
 * The config-specific checks of a `_config` transaction (after the generic ones: decodable,
 * txId, creator signature). Returns what is wrong, or null. The signatures (endorsements) are
 * checked by the caller against `configUpdatePolicy`.
 */
export function checkConfigTx(tx: ParsedTx, state: ConfigState): ConfigTxProblem | null {
  const invalid = (reason: string): ConfigTxProblem => ({ stale: false, reason });
  if (tx.proposal.fn !== CONFIG_FN) return invalid(`config transactions have one function, ${CONFIG_FN} (got ${tx.proposal.fn})`);
  if (tx.proposal.args.length !== 0) return invalid('a config update takes no arguments (the new config is in the write set)');
  if (tx.response.result.status !== 200) return invalid(`the response is a failure (status ${tx.response.result.status})`);
  if (!Buffer.from(sha256(tx.payload.proposal)).equals(Buffer.from(tx.response.proposalHash))) return invalid('the response was produced for another proposal');
  const namespaces = tx.response.rwset.namespaces;
  const ns = namespaces[0];
  if (namespaces.length !== 1 || !ns || ns.namespace !== CONFIG_NAMESPACE)
    return invalid(`a config update reads and writes namespace ${CONFIG_NAMESPACE} only`);
  if (ns.rangeReads.length !== 0 || ns.reads.length !== 1 || ns.writes.length !== 1)
    return invalid(`a config update reads and writes exactly ${CONFIG_NAMESPACE}/${CONFIG_KEY}`);
  const read = ns.reads[0]!;
  const write = ns.writes[0]!;
  if (read.key !== CONFIG_KEY || write.key !== CONFIG_KEY || write.isDelete || write.value === null)
    return invalid(`a config update reads and writes exactly ${CONFIG_NAMESPACE}/${CONFIG_KEY}`);
  const v = state.version;
  const r = read.version;
  if (v === null ? r !== null : r === null || r.block !== v.block || r.tx !== v.tx) {
    return { stale: true, reason: `the update was built on another config than the one in force (sequence ${state.record.sequence})` };
  }
  let record: ConfigRecord;
  try {
    record = decodeConfigRecord(write.value);
  } catch (err) {
    return invalid((err as Error).message);
  }
  if (record.sequence !== state.record.sequence + 1) return invalid(`config sequence ${record.sequence} does not follow ${state.record.sequence}`);
  const transition = checkConfigTransition(state.record.config, record.config);
  return transition === null ? null : invalid(transition);
}

// --- building an update (client side: CLI, SDK, tests) ------------------------------------------

/**
 * The response an update's signers sign: read of the current entry at `state.version`, write of
 * `next` with the following sequence. `proposalBytes` is the admin creator's encoded proposal.
 */
export function configUpdateResponse(proposalBytes: Bytes, state: ConfigState, next: ConsortiumConfig): { response: ResponsePayload; record: ConfigRecord } {
  const problem = checkConfigTransition(state.record.config, next);
  if (problem) throw new ConfigUpdateError(problem);
  const record: ConfigRecord = { sequence: state.record.sequence + 1, config: validateConfig(next) };
  const response: ResponsePayload = {
    proposalHash: sha256(proposalBytes),
    rwset: {
      namespaces: [
        {
          namespace: CONFIG_NAMESPACE,
          reads: [{ key: CONFIG_KEY, version: state.version }],
          rangeReads: [],
          writes: [{ key: CONFIG_KEY, isDelete: false, value: encodeConfigRecord(record) }],
        },
      ],
    },
    result: { status: 200, message: `config sequence ${record.sequence}`, payload: new Uint8Array() },
    event: { name: 'config', payload: encode({ sequence: record.sequence }) },
  };
  return { response, record };
}

/** Text of the modification policy (for messages and docs). */
export function configUpdatePolicyText(config: ConsortiumConfig): string {
  return formatPolicy(configUpdatePolicy(config));
}

export interface ConfigSigner {
  readonly certPem: string;
  readonly signer: MessageSigner;
}

// --- a draft passed between admins on different hosts ---------------------------------------------

/**
 * A config update on its way: the creator's proposal and the response to sign, plus the admin
 * signatures collected so far. Each admin checks what it says (decodeConfigDraft re-derives the
 * summary from the signed bytes, never trusting a summary in the file), adds its signature, and
 * passes it on; the creator finally wraps it in an envelope (finishConfigDraft).
 */
export interface ConfigDraft {
  readonly proposal: Bytes;
  readonly response: Bytes;
  readonly endorsements: readonly Endorsement[];
}

const DRAFT_FORMAT = 'medledger-config-update/v1';
const DRAFT_BYTES_MAX = 8 * 1024 * 1024;
const DRAFT_SIGNATURES_MAX = 256;

/** A draft with no signatures yet, proposed by `creatorCertPem`. */
export function startConfigDraft(input: {
  readonly state: ConfigState;
  readonly next: ConsortiumConfig;
  readonly creatorCertPem: string;
  readonly nonce: Bytes;
  readonly timestampMs: number;
  /** The consortium's genesis block hash (hex) the update is for (decision 1389). */
  readonly consortium?: string;
}): { draft: ConfigDraft; txId: string; record: ConfigRecord } {
  const proposal = buildProposal({
    contract: CONFIG_NAMESPACE,
    fn: CONFIG_FN,
    args: [],
    creator: input.creatorCertPem,
    nonce: input.nonce,
    timestampMs: input.timestampMs,
    ...(input.consortium === undefined ? {} : { consortium: input.consortium }),
  });
  const proposalBytes = encode(proposal);
  const { response, record } = configUpdateResponse(proposalBytes, input.state, input.next);
  return { draft: { proposal: proposalBytes, response: encodeResponse(response), endorsements: [] }, txId: proposal.txId, record };
}

export function encodeConfigDraft(draft: ConfigDraft): Bytes {
  return encode({ format: DRAFT_FORMAT, proposal: draft.proposal, response: draft.response, endorsements: draft.endorsements });
}

/** What a draft does, derived from its bytes. */
export interface ConfigDraftSummary {
  readonly txId: string;
  readonly creator: string;
  readonly record: ConfigRecord;
  /** Read version: the config it builds on. */
  readonly basedOn: Version | null;
  /** The consortium (genesis block hash, hex) its proposal names (decision 1389); absent: none named. */
  readonly consortium?: string;
}

export function decodeConfigDraft(bytes: Bytes): { draft: ConfigDraft; summary: ConfigDraftSummary } {
  if (bytes.byteLength > DRAFT_BYTES_MAX) throw new ConfigUpdateError(`config update file of ${bytes.byteLength} bytes exceeds ${DRAFT_BYTES_MAX}`);
  let value: unknown;
  try {
    value = decode(bytes);
  } catch (err) {
    throw new ConfigUpdateError(`not a config update file: ${(err as Error).message}`);
  }
  const v = value as { format?: unknown; proposal?: unknown; response?: unknown; endorsements?: unknown };
  if (typeof v !== 'object' || v === null || v.format !== DRAFT_FORMAT)
    throw new ConfigUpdateError(`not a config update file (format ${DRAFT_FORMAT} expected)`);
  if (
    !(v.proposal instanceof Uint8Array) ||
    !(v.response instanceof Uint8Array) ||
    !Array.isArray(v.endorsements) ||
    v.endorsements.length > DRAFT_SIGNATURES_MAX
  ) {
    throw new ConfigUpdateError('config update file: proposal, response and endorsements expected');
  }
  const endorsements = v.endorsements.map((e: unknown) => {
    const x = e as { endorser?: unknown; signature?: unknown };
    if (typeof x?.endorser !== 'string' || !(x.signature instanceof Uint8Array)) throw new ConfigUpdateError('config update file: a malformed signature');
    return { endorser: x.endorser, signature: x.signature };
  });
  let proposal;
  let response;
  try {
    proposal = decodeProposal(v.proposal);
    response = decodeResponse(v.response);
  } catch (err) {
    throw new ConfigUpdateError(`config update file: ${(err as Error).message}`);
  }
  if (proposal.contract !== CONFIG_NAMESPACE || proposal.fn !== CONFIG_FN)
    throw new ConfigUpdateError(`config update file holds a ${proposal.contract}.${proposal.fn} proposal, not a config update`);
  const write = response.rwset.namespaces[0]?.writes[0];
  const read = response.rwset.namespaces[0]?.reads[0];
  if (!write?.value || !read) throw new ConfigUpdateError('config update file: no config in its write set');
  return {
    draft: { proposal: v.proposal, response: v.response, endorsements },
    summary: {
      txId: proposal.txId,
      creator: proposal.creator,
      record: decodeConfigRecord(write.value),
      basedOn: read.version,
      ...(proposal.consortium === undefined ? {} : { consortium: proposal.consortium }),
    },
  };
}

/** Add `signer`'s signature (replacing an earlier one by the same certificate). */
export function signConfigDraft(draft: ConfigDraft, signer: ConfigSigner): ConfigDraft {
  const others = draft.endorsements.filter((e) => e.endorser !== signer.certPem);
  return { ...draft, endorsements: [...others, endorse(draft.response, signer.certPem, signer.signer)] };
}

/** The creator's envelope around a draft (its signer must be the proposal's creator). */
export function finishConfigDraft(draft: ConfigDraft, creator: MessageSigner): Bytes {
  return encodeEnvelope(buildEnvelope({ proposal: draft.proposal, response: draft.response, endorsements: draft.endorsements }, creator));
}

/**
 * A complete config transaction: proposal by `creator` (an admin), response for `next`, signed
 * by each of `signers` (admins of distinct organisations; the creator may be one of them),
 * wrapped in an envelope signed by the creator. In a real consortium the signatures are
 * collected one by one (`medledger config sign`); this helper does it in one step for tools
 * that hold several admins' keys (local networks, tests).
 */
export function buildConfigUpdateTx(input: {
  readonly state: ConfigState;
  readonly next: ConsortiumConfig;
  readonly creator: ConfigSigner;
  readonly signers: readonly ConfigSigner[];
  readonly nonce: Bytes;
  readonly timestampMs: number;
  readonly consortium?: string;
}): { envelope: Bytes; txId: string; record: ConfigRecord } {
  const started = startConfigDraft({
    state: input.state,
    next: input.next,
    creatorCertPem: input.creator.certPem,
    nonce: input.nonce,
    timestampMs: input.timestampMs,
    ...(input.consortium === undefined ? {} : { consortium: input.consortium }),
  });
  const draft = input.signers.reduce((d, s) => signConfigDraft(d, s), started.draft);
  return { envelope: finishConfigDraft(draft, input.creator.signer), txId: started.txId, record: started.record };
}
