// The consortium configuration, carried as the single data entry of block 0 (genesis), as
// Fabric's channel genesis block carries the channel config. Everything a node or an auditor
// needs to check the chain is in it: the root CA and organisation CAs (for the MSP), the
// orderers' certificates (for block signatures), each contract's endorsement policy, and the
// ordering parameters. `medledger ledger verify` needs nothing but a node's directory.
import { z } from 'zod';
import { decode, encode, type Bytes } from '../codec/index.ts';
import { BlockFormatError, dataHash, ZERO_HASH, type Block } from './block.ts';
import { LEDGER_LIMITS } from './limits.ts';

export interface OrgConfig {
  readonly org: string;
  readonly caCertPem: string;
  /**
   * Certificates this organisation has revoked: revocation lists signed by its CA key
   * (identity/revocation.ts), append-only. Every node's MSP refuses these serials from the first
   * block after the update that adds them (decision 1206).
   */
  readonly revocations?: readonly RevocationEntry[];
}

/** A revocation list as carried in the config: serials normalised, sorted, unique; signature hex. */
export interface RevocationEntry {
  readonly serials: readonly string[];
  readonly issuedAtMs: number;
  readonly signatureHex: string;
}

/** The MSP an organisation set and its revocations define (what every node validates against). */
export function mspConfigOf(config: Pick<ConsortiumConfig, 'rootCertPem' | 'orgs'>): {
  rootCertPem: string;
  orgs: Array<{ org: string; caCertPem: string }>;
  revokedSerials: Array<{ org: string; serialHex: string }>;
} {
  return {
    rootCertPem: config.rootCertPem,
    orgs: config.orgs.map((o) => ({ org: o.org, caCertPem: o.caCertPem })),
    revokedSerials: config.orgs.flatMap((o) => (o.revocations ?? []).flatMap((r) => r.serials.map((serialHex) => ({ org: o.org, serialHex })))),
  };
}

export interface OrdererConfig {
  readonly id: string;
  readonly org: string;
  readonly certPem: string;
}

/**
 * Where a node can be reached (networked deployments; the in-process network has none).
 * Part of the on-chain configuration so that a node added at runtime becomes known to all.
 */
export interface NodeEndpointConfig {
  /** The node's certificate common name, e.g. node.Hospital1 (its identity on the wire). */
  readonly id: string;
  readonly org: string;
  readonly roles: readonly ('peer' | 'orderer')[];
  /** wss://host:port of its node-to-node listener. */
  readonly p2pUrl: string;
  /** https://host:port of its client API. */
  readonly apiUrl: string;
  /** gpbft: geographic position and the hospital's comprehensive rating. */
  readonly location?: { readonly lat: number; readonly lon: number };
  readonly rating?: number;
}

export interface ContractConfig {
  readonly name: string;
  readonly version: string;
  /** Endorsement-policy text, e.g. "OutOf(2, 'Hospital1.peer', 'Hospital2.peer', 'Hospital3.peer')". */
  readonly endorsementPolicy: string;
}

export interface OrderingConfig {
  readonly engine: string;
  readonly countMax: number;
  readonly sizeBytesMax: number;
  readonly timeoutTicks: number;
  readonly pendingMax: number;
  readonly tickMs: number;
  /** How far a proposal's timestamp may lie from the orderer's clock when it is submitted. */
  readonly clockSkewMsMax: number;
  /** Engine-specific options (EngineContext.options), e.g. raft election ticks. */
  readonly options?: Readonly<Record<string, unknown>>;
}

/**
 * Rules a consortium has switched on for its whole chain (as Fabric's channel capabilities): in
 * force from the block after the config that lists them, never off again, so every node and every
 * replay judges each block alike.
 *   proposals-name-consortium — a proposal must name this consortium (decision 1389); one that
 *                               names none is WRONG_CONSORTIUM.
 */
export const CAPABILITIES = ['proposals-name-consortium'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export function hasCapability(config: { readonly capabilities?: readonly Capability[] }, capability: Capability): boolean {
  return config.capabilities?.includes(capability) ?? false;
}

export interface ConsortiumConfig {
  readonly name: string;
  readonly createdAtMs: number;
  readonly rootCertPem: string;
  readonly orgs: readonly OrgConfig[];
  readonly orderers: readonly OrdererConfig[];
  readonly contracts: readonly ContractConfig[];
  readonly ordering: OrderingConfig;
  readonly nodes?: readonly NodeEndpointConfig[];
  /** Capabilities switched on (CAPABILITIES); absent: none. */
  readonly capabilities?: readonly Capability[];
}

const name = z.string().min(1).max(LEDGER_LIMITS.nameLengthMax);
const pem = z.string().min(1).max(LEDGER_LIMITS.certPemSizeBytesMax);
const posInt = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);

const configSchema = z
  .object({
    name,
    createdAtMs: z.number().int().min(0),
    rootCertPem: pem,
    orgs: z
      .array(
        z
          .object({
            org: name,
            caCertPem: pem,
            revocations: z
              .array(
                z
                  .object({
                    serials: z
                      .array(z.string().regex(/^[0-9a-f]{1,64}$/))
                      .min(1)
                      .max(10_000),
                    issuedAtMs: z.number().int().min(0),
                    signatureHex: z.string().regex(/^[0-9a-f]{128}$/),
                  })
                  .strict(),
              )
              .max(10_000)
              .optional(),
          })
          .strict(),
      )
      .min(1)
      .max(256),
    orderers: z
      .array(z.object({ id: name, org: name, certPem: pem }).strict())
      .min(1)
      .max(256),
    contracts: z.array(z.object({ name, version: z.string().min(1).max(64), endorsementPolicy: z.string().min(1).max(4096) }).strict()).max(256),
    ordering: z
      .object({
        engine: name,
        countMax: posInt,
        sizeBytesMax: posInt,
        timeoutTicks: z.number().int().min(0),
        pendingMax: posInt,
        tickMs: posInt,
        clockSkewMsMax: posInt,
        options: z.record(z.string(), z.unknown()).optional(),
      })
      .strict(),
    nodes: z
      .array(
        z
          .object({
            id: name,
            org: name,
            roles: z
              .array(z.enum(['peer', 'orderer']))
              .min(1)
              .max(2),
            p2pUrl: z
              .string()
              .regex(/^wss:\/\/[^\s/]+(:\d+)?\/?$/, 'a wss://host:port URL')
              .max(512),
            apiUrl: z
              .string()
              .regex(/^https:\/\/[^\s/]+(:\d+)?\/?$/, 'an https://host:port URL')
              .max(512),
            location: z
              .object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
              .strict()
              .optional(),
            rating: z.number().min(0).max(1).optional(),
          })
          .strict(),
      )
      .max(256)
      .optional(),
    capabilities: z.array(z.enum(CAPABILITIES)).max(16).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const unique = (values: readonly string[], what: string): void => {
      if (new Set(values).size !== values.length) ctx.addIssue({ code: 'custom', message: `duplicate ${what}` });
    };
    unique(
      c.orgs.map((o) => o.org),
      'organisation',
    );
    unique(
      c.orderers.map((o) => o.id),
      'orderer id',
    );
    unique(
      c.contracts.map((o) => o.name),
      'contract name',
    );
    unique(c.capabilities ?? [], 'capability');
    // "_config" is the namespace of config transactions (config-update.ts), never a contract.
    if (c.contracts.some((o) => o.name === '_config')) ctx.addIssue({ code: 'custom', message: 'no contract may be named _config' });
    const orgs = new Set(c.orgs.map((o) => o.org));
    for (const o of c.orderers) if (!orgs.has(o.org)) ctx.addIssue({ code: 'custom', message: `orderer ${o.id} belongs to unknown organisation ${o.org}` });
    if (c.nodes) {
      unique(
        c.nodes.map((n) => n.id),
        'node id',
      );
      // Two nodes at one address would receive each other's traffic (and fail mTLS on it).
      unique(
        c.nodes.map((n) => n.p2pUrl.replace(/\/$/, '')),
        'node p2pUrl',
      );
      unique(
        c.nodes.map((n) => n.apiUrl.replace(/\/$/, '')),
        'node apiUrl',
      );
      for (const n of c.nodes) if (!orgs.has(n.org)) ctx.addIssue({ code: 'custom', message: `node ${n.id} belongs to unknown organisation ${n.org}` });
    }
  });

export function validateConfig(value: unknown): ConsortiumConfig {
  const parsed = configSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BlockFormatError(`consortium config: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`);
  }
  return parsed.data;
}

export function encodeConfig(config: ConsortiumConfig): Bytes {
  return encode(validateConfig(config));
}

export function decodeConfig(data: Bytes): ConsortiumConfig {
  let value: unknown;
  try {
    value = decode(data);
  } catch (err) {
    throw new BlockFormatError(`consortium config: ${(err as Error).message}`);
  }
  return validateConfig(value);
}

export function genesisBlock(config: ConsortiumConfig): Block {
  const data = [encodeConfig(config)];
  return {
    header: { number: 0, previousHash: ZERO_HASH, dataHash: dataHash(data), timestampMs: config.createdAtMs },
    data,
    metadata: { signatures: [], consensus: null },
  };
}

/** The config of a genesis block; throws BlockFormatError when the block is not one. */
export function configOfGenesis(block: Block): ConsortiumConfig {
  if (block.header.number !== 0 || block.data.length !== 1 || !block.data[0]) {
    throw new BlockFormatError('block 0 must carry exactly one consortium config');
  }
  return decodeConfig(block.data[0]);
}
