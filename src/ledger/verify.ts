// `medledger ledger verify`: an independent audit of a peer's ledger directory.
//
// It trusts nothing but the genesis block (printed as a hash, so it can be compared with the
// consortium's published one) and walks the whole chain:
//   - every block-store record's checksum (a flipped byte anywhere is caught and named);
//   - block numbers, previousHash links, dataHash, the timestamp rule;
//   - a valid signature by a configured orderer; the consensus proof's digest chain and, when
//     the engine offers verifyCertificate, its certificate;
//   - every transaction re-validated from scratch (creator and endorser signatures, policies,
//     duplicates, MVCC and phantom checks) against a FRESH in-memory state rebuilt by replaying
//     the VALID write sets, and the recomputed code compared with the stored one;
// then compares the replayed state (rolling state hash and full-content digest) with the stored
// world state. It stops at the first bad block and says why. Read-only: it never repairs.
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { bytesEqual, sha256, toHex, type Bytes } from '../codec/index.ts';
import { blockDigest } from '../consensus/digest.ts';
import type { DecidedBlock, Proposal } from '../consensus/engine.ts';
import { directoryVerifier } from '../crypto/index.ts';
import { blockHash, decodeStoredBlock, type BlockHeader, type ConsensusProof } from './block.ts';
import { BlockStoreCorruptionError, readAllBlocks } from './blockstore.ts';
import { emptyCodeCounts, type ValidationCode } from './codes.ts';
import { configOfGenesis, type ConsortiumConfig } from './config.ts';
import { CONFIG_NAMESPACE } from './config-update.ts';
import { blockUpdateOf, checkBlockAgainst, configStateOf, ledgerPaths } from './ledger.ts';
import { StateDb } from './state.ts';
import { parseAll } from './tx.ts';
import { validateTransactions, validationContextFromConfig, type ValidationContext } from './validator.ts';

export interface VerifyProblem {
  /** The first bad block, or null when the problem is the world state itself. */
  readonly block: number | null;
  readonly reason: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly ledgerDir: string;
  /** Blocks checked and found good (genesis included). */
  readonly blocksVerified: number;
  readonly transactions: number;
  readonly codes: Record<ValidationCode, number>;
  readonly genesisHash: string | null;
  readonly lastBlockHash: string | null;
  readonly stateHash: string | null;
  readonly stateKeys: number;
  readonly certificatesChecked: number;
  /** Config transactions committed (VALID) in the chain. */
  readonly configUpdates: number;
  readonly problem: VerifyProblem | null;
  readonly warnings: readonly string[];
}

export class VerifyInputError extends Error {
  override readonly name = 'VerifyInputError';
}

/** Accept a node directory (<node>/ledger/…) or a ledger directory (…/blocks, state.sqlite). */
/**
 * The engine's extra bytes beside a block (decision 1390: EH-BFT's block metadata, served to nodes
 * that replay the chain) are outside the block hash, so they are checked against what the
 * certificate signs: the metadata digest. Null when they are absent or bound; else the problem.
 */
export function consensusExtraProblem(proof: ConsensusProof): string | null {
  if (proof.extra === undefined) return null;
  const metaDigest = proof.certificate?.fields.metaDigest;
  if (!(metaDigest instanceof Uint8Array)) return 'consensus proof carries extra bytes its certificate does not bind (no metaDigest)';
  if (!bytesEqual(sha256(proof.extra), metaDigest)) return "consensus proof's extra bytes do not match the certificate's metaDigest";
  return null;
}

export function resolveLedgerDir(dir: string): string {
  if (existsSync(join(dir, 'ledger', 'blocks'))) return join(dir, 'ledger');
  if (existsSync(join(dir, 'blocks'))) return dir;
  throw new VerifyInputError(`no ledger in ${dir} (expected ${join(dir, 'ledger', 'blocks')} or ${join(dir, 'blocks')})`);
}

type CertificateChecker = (block: DecidedBlock) => boolean | null;

/**
 * `knownOrderers` accumulates every orderer of every config seen so far: a leader removed by a
 * config update can still have signed the few blocks decided before the engine applied the
 * change, and its certificate is checked with the key it had.
 */
async function certificateChecker(config: ConsortiumConfig, ctx: ValidationContext, knownOrderers: Map<string, KeyObject>): Promise<CertificateChecker> {
  let getEngine:
    ((name: string) => { verifyCertificate?: (b: DecidedBlock, m: readonly string[], v: ReturnType<typeof directoryVerifier>) => boolean }) | null = null;
  let verifySolo: typeof import('../consensus/solo/solo.ts').verifySoloCertificate | null = null;
  try {
    await import('../consensus/engines.ts');
    getEngine = (await import('../consensus/registry.ts')).getEngine;
    verifySolo = (await import('../consensus/solo/solo.ts')).verifySoloCertificate;
  } catch {
    // An engine module that fails to load only costs the certificate check, not the audit.
    getEngine = null;
  }
  for (const o of config.orderers) knownOrderers.set(o.id, ctx.msp.identify(o.certPem).publicKey);
  const members = [...knownOrderers.keys()];
  const verifier = directoryVerifier(new Map(knownOrderers));
  return (block) => {
    if (!getEngine || !block.certificate) return null;
    let def;
    try {
      def = getEngine(config.ordering.engine);
    } catch {
      return null;
    }
    if (def.verifyCertificate) return def.verifyCertificate(block, members, verifier);
    // solo exports its check without registering it.
    if (config.ordering.engine === 'solo' && verifySolo) return verifySolo(block, block.certificate, verifier, members);
    return null;
  };
}

export async function verifyLedger(dir: string): Promise<VerifyReport> {
  const ledgerDir = resolveLedgerDir(dir);
  const paths = ledgerPaths(ledgerDir);
  const fresh = new StateDb(':memory:');
  const codes = emptyCodeCounts();
  const warnings: string[] = [];
  let transactions = 0;
  let blocksVerified = 0;
  let certificatesChecked = 0;
  let configUpdates = 0;
  const knownOrderers = new Map<string, KeyObject>();
  let genesisHash: Bytes | null = null;
  let previous: BlockHeader | null = null;
  let previousDigest: Bytes | null = null;
  let config: ConsortiumConfig | null = null;
  let ctx: ValidationContext | null = null;
  let checkCertificate: CertificateChecker | null = null;
  let problem: VerifyProblem | null = null;
  let stateHash: string | null = null;
  let stateKeys = 0;

  const report = (): VerifyReport => ({
    ok: problem === null,
    ledgerDir,
    blocksVerified,
    transactions,
    codes,
    genesisHash: genesisHash ? toHex(genesisHash) : null,
    lastBlockHash: previous ? toHex(blockHash(previous)) : null,
    stateHash,
    stateKeys,
    certificatesChecked,
    configUpdates,
    problem,
    warnings,
  });

  try {
    try {
      for (const { number, payload } of readAllBlocks(paths.blocks)) {
        let stored;
        try {
          stored = decodeStoredBlock(payload);
        } catch (err) {
          problem = { block: number, reason: `cannot decode: ${(err as Error).message}` };
          break;
        }
        const { block, validation } = stored;
        if (block.header.number !== number) {
          problem = { block: number, reason: `record ${number} holds block number ${block.header.number}` };
          break;
        }
        if (number === 0) {
          try {
            config = configOfGenesis(block);
            ctx = validationContextFromConfig(config, undefined, undefined, toHex(blockHash(block.header)));
          } catch (err) {
            problem = { block: 0, reason: `not a valid genesis block: ${(err as Error).message}` };
            break;
          }
          if (!bytesEqual(block.header.previousHash, new Uint8Array(32))) {
            problem = { block: 0, reason: 'genesis previousHash is not zero' };
            break;
          }
          checkCertificate = await certificateChecker(config, ctx, knownOrderers);
          genesisHash = blockHash(block.header);
        } else {
          const parsed = parseAll(block.data);
          const bad = checkBlockAgainst(block, previous!, ctx!.configState.record.config, ctx!, parsed);
          if (bad) {
            problem = { block: number, reason: bad };
            break;
          }
          const proof = block.metadata.consensus;
          if (proof) {
            const proposals: Proposal[] = block.data.map((data, i) => ({
              clientId: proof.proposalIds[i]?.clientId ?? '',
              seq: proof.proposalIds[i]?.seq ?? 0,
              data,
            }));
            if (proof.proposalIds.length !== block.data.length || !bytesEqual(blockDigest(proof.height, proof.previousDigest, proposals), proof.digest)) {
              problem = { block: number, reason: 'consensus proof digest does not match the transactions' };
              break;
            }
            if (previousDigest && !bytesEqual(proof.previousDigest, previousDigest)) {
              problem = { block: number, reason: "consensus proof does not chain to the previous block's" };
              break;
            }
            const extraProblem = consensusExtraProblem(proof);
            if (extraProblem) {
              problem = { block: number, reason: extraProblem };
              break;
            }
            previousDigest = proof.digest;
            const certOk = checkCertificate!({
              height: proof.height,
              proposals,
              digest: proof.digest,
              previousDigest: proof.previousDigest,
              certificate: proof.certificate,
            });
            if (certOk === false) {
              problem = { block: number, reason: `consensus certificate (${proof.certificate?.scheme ?? 'none'}) does not verify` };
              break;
            }
            if (certOk === true) certificatesChecked += 1;
          }
          const { outcomes } = validateTransactions(block.data, number, block.header.timestampMs, fresh, ctx!, parsed);
          const mismatch = outcomes.find((o, i) => o.code !== validation[i]);
          if (mismatch) {
            problem = {
              block: number,
              reason: `transaction ${mismatch.position} is stored as ${validation[mismatch.position]} but re-validates as ${mismatch.code}${mismatch.reason ? ` (${mismatch.reason})` : ''}`,
            };
            break;
          }
          for (const code of validation) codes[code] += 1;
          transactions += block.data.length;
        }
        const update = blockUpdateOf(stored);
        fresh.applyBlock(update);
        if (number > 0 && update.writes.some((w) => w.ns === CONFIG_NAMESPACE)) {
          // A committed config update is in force from the next block on (config-update.ts).
          const configState = configStateOf(fresh, config!);
          ctx = validationContextFromConfig(configState.record.config, undefined, configState, ctx!.consortium);
          checkCertificate = await certificateChecker(configState.record.config, ctx, knownOrderers);
          configUpdates += 1;
        }
        previous = block.header;
        blocksVerified += 1;
      }
    } catch (err) {
      if (!(err instanceof BlockStoreCorruptionError)) throw err;
      problem = { block: err.blockNumber, reason: `${err.reason} (${err.segment} offset ${err.offset})` };
    }
    if (problem) return report();
    if (previous === null) {
      problem = { block: 0, reason: 'the block store is empty' };
      return report();
    }
    const replayed = fresh.savepoint()!;
    const replayedContent = fresh.contentDigest();
    stateHash = toHex(replayed.stateHash);
    stateKeys = replayedContent.keys;
    if (!existsSync(paths.state)) {
      problem = { block: null, reason: `world state ${paths.state} is missing` };
      return report();
    }
    const stored = new StateDb(paths.state, { readOnly: true });
    try {
      const sp = stored.savepoint();
      if (!sp) {
        problem = { block: null, reason: 'the world state has no savepoint' };
      } else if (sp.height > replayed.height) {
        problem = { block: null, reason: `the world state is at block ${sp.height}, ahead of the chain (last block ${replayed.height})` };
      } else if (sp.height < replayed.height) {
        warnings.push(
          `the world state is at block ${sp.height}, behind the chain (${replayed.height}): the node re-applies the rest when it opens; state not compared`,
        );
      } else if (!bytesEqual(sp.stateHash, replayed.stateHash)) {
        problem = { block: null, reason: `the stored state hash ${toHex(sp.stateHash)} differs from the replayed ${toHex(replayed.stateHash)}` };
      } else if (!bytesEqual(stored.contentDigest().digest, replayedContent.digest)) {
        problem = { block: null, reason: 'the stored world state content differs from the replay of the chain (the state database was altered)' };
      }
    } finally {
      stored.close();
    }
    return report();
  } finally {
    fresh.close();
  }
}
