// Node configuration: a YAML file validated with zod, plus environment overrides. Errors name
// the file, the path inside it and what was expected, e.g.
//   node.yaml: listen.api.port: expected an integer between 1 and 65535, got "http"
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';

export const ENGINE_NAMES = ['solo', 'raft', 'pbft', 'gpbft', 'ehbft', 'hashgen'] as const;

const port = z.number().int().min(0).max(65535);

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
const endpoint = z.object({ host: z.string().min(1).max(255), port }).strict();

const member = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a node id of letters, digits, . _ - (max 64)'),
    org: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'an organisation name of letters, digits, _ - (max 64)'),
    p2pUrl: z.string().url().startsWith('wss://', 'a wss:// URL'),
    apiUrl: z.string().url().startsWith('https://', 'an https:// URL'),
    roles: z
      .array(z.enum(['peer', 'orderer']))
      .min(1)
      .max(2)
      .default(['peer', 'orderer']),
    /** Latitude/longitude (gpbft grouping) and rating (gpbft primary election). */
    location: z
      .object({ lat: z.number().min(-90).max(90), lon: z.number().min(-180).max(180) })
      .strict()
      .optional(),
    rating: z.number().min(0).max(1).optional(),
  })
  .strict();

export const NodeConfigSchema = z
  .object({
    node: z
      .object({
        id: member.shape.id,
        org: member.shape.org,
        roles: member.shape.roles,
        dataDir: z.string().min(1),
      })
      .strict(),
    listen: z
      .object({
        p2p: endpoint,
        api: endpoint,
        /**
         * The web console and the same API over plain HTTP, for a browser on this machine
         * (decision 1200): loopback only — elsewhere, put a TLS reverse proxy in front of it.
         */
        console: endpoint
          .refine((e) => isLoopbackHost(e.host), {
            message:
              'the console listener is plain HTTP: its host must be a loopback address (127.0.0.1, ::1 or localhost); serve it to other machines through a TLS reverse proxy',
          })
          .optional(),
      })
      .strict(),
    /** The web console (served by the node at / on its API and console listeners). */
    console: z
      .object({
        /**
         * Demo consortia only: offer this hospital's users (certificate and private key from the
         * consortium's crypto directory) for one-click sign-in on the loopback console.
         */
        demoUsers: z.boolean().default(false),
      })
      .strict()
      .default({ demoUsers: false }),
    identity: z
      .object({
        /** This node's certificate and key (PEM files). */
        cert: z.string().min(1),
        key: z.string().min(1),
        /** The organisation CA and the consortium root CA certificates. */
        orgCa: z.string().min(1),
        rootCa: z.string().min(1),
      })
      .strict(),
    /** The consortium's genesis configuration file (members, consensus, policies). */
    genesis: z.string().min(1),
    limits: z
      .object({
        requestBodyBytesMax: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(1024 * 1024),
        p2pMessageBytesMax: z
          .number()
          .int()
          .min(1024)
          .max(256 * 1024 * 1024)
          .default(16 * 1024 * 1024),
        tickMs: z.number().int().min(1).max(10_000).default(50),
        /**
         * What this node reads from each other node, per second, before it stops reading that
         * node until the budget is back (decision 1397). Absent: the transport's defaults
         * (20,000 frames, 64 MiB; src/transport/transport.ts).
         */
        p2pReceiveFramesPerSecondPerPeer: z.number().int().min(100).max(10_000_000).optional(),
        p2pReceiveBytesPerSecondPerPeer: z
          .number()
          .int()
          .min(1024 * 1024)
          .max(16 * 1024 * 1024 * 1024)
          .optional(),
        /**
         * REST API requests in flight: node-wide, per organisation, per user (decision 1004).
         * Absent: the API's defaults (512, 256, 64; src/api/server.ts DEFAULT_API_LIMITS).
         */
        apiInFlightMax: z.number().int().min(1).max(100_000).optional(),
        apiInFlightPerOrgMax: z.number().int().min(1).max(100_000).optional(),
        apiInFlightPerUserMax: z.number().int().min(1).max(100_000).optional(),
      })
      .strict()
      .refine((l) => l.p2pReceiveBytesPerSecondPerPeer === undefined || l.p2pReceiveBytesPerSecondPerPeer >= l.p2pMessageBytesMax, {
        message: 'p2pReceiveBytesPerSecondPerPeer must be at least p2pMessageBytesMax (one largest message per second)',
        path: ['p2pReceiveBytesPerSecondPerPeer'],
      })
      .default({ requestBodyBytesMax: 1024 * 1024, p2pMessageBytesMax: 16 * 1024 * 1024, tickMs: 50 }),
    /** GET /metrics on the API (Prometheus text; counts, durations, heights — no health data, no identities). */
    metrics: z
      .object({ enabled: z.boolean().default(true) })
      .strict()
      .default({ enabled: true }),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .default({ level: 'info' }),
  })
  .strict();

export type NodeConfig = z.infer<typeof NodeConfigSchema>;

/** The transport's receive budget from limits.p2pReceive* (decision 1397); absent keys keep its defaults. */
export function p2pReceiveLimitsOf(config: NodeConfig): { receiveFramesPerSecondPerPeer?: number; receiveBytesPerSecondPerPeer?: number } {
  const l = config.limits;
  return {
    ...(l.p2pReceiveFramesPerSecondPerPeer !== undefined && { receiveFramesPerSecondPerPeer: l.p2pReceiveFramesPerSecondPerPeer }),
    ...(l.p2pReceiveBytesPerSecondPerPeer !== undefined && { receiveBytesPerSecondPerPeer: l.p2pReceiveBytesPerSecondPerPeer }),
  };
}

export const GenesisSchema = z
  .object({
    consortium: z.string().min(1).max(128),
    consensus: z
      .object({
        engine: z.enum(ENGINE_NAMES),
        cutter: z
          .object({
            countMax: z.number().int().min(1).max(10_000),
            sizeBytesMax: z
              .number()
              .int()
              .min(1024)
              .max(64 * 1024 * 1024),
            timeoutTicks: z.number().int().min(0).max(10_000),
            pendingMax: z.number().int().min(1).max(1_000_000),
          })
          .strict(),
        options: z.record(z.string(), z.unknown()).default({}),
      })
      .strict(),
    members: z.array(member).min(1).max(256),
    /** PEM of the consortium root CA and each organisation's CA. */
    rootCaPem: z.string().min(1),
    orgs: z
      .array(z.object({ org: member.shape.org, caPem: z.string().min(1) }).strict())
      .min(1)
      .max(256),
    /** Endorsement policy per contract, e.g. "OutOf(2, 'Hospital1.peer', 'Hospital2.peer')". */
    endorsementPolicies: z.record(z.string(), z.string().max(4096)).default({}),
    createdAtMs: z.number().int().nonnegative(),
  })
  .strict()
  .superRefine((g, ctx) => {
    const ids = new Set<string>();
    for (const [i, m] of g.members.entries()) {
      if (ids.has(m.id)) ctx.addIssue({ code: 'custom', path: ['members', i, 'id'], message: `duplicate member id "${m.id}"` });
      ids.add(m.id);
      if (!g.orgs.some((o) => o.org === m.org))
        ctx.addIssue({ code: 'custom', path: ['members', i, 'org'], message: `organisation "${m.org}" has no CA in orgs` });
    }
  });

export type Genesis = z.infer<typeof GenesisSchema>;
export type GenesisMember = Genesis['members'][number];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Turn zod issues into one readable message per problem. */
export function describeZodError(source: string, error: z.ZodError): string {
  const lines = error.issues.slice(0, 20).map((issue) => {
    const path = issue.path.length > 0 ? issue.path.join('.') : '(root)';
    return `${source}: ${path}: ${issue.message}`;
  });
  if (error.issues.length > 20) lines.push(`${source}: … and ${error.issues.length - 20} more problems`);
  return lines.join('\n');
}

const CONFIG_BYTES_MAX = 1024 * 1024;

function readText(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text.length > CONFIG_BYTES_MAX) throw new ConfigError(`${what} ${path} is larger than ${CONFIG_BYTES_MAX} bytes`);
  return text;
}

/**
 * Environment overrides: MEDLEDGER_<PATH> with path segments upper-cased and joined by `_`,
 * e.g. MEDLEDGER_LISTEN_API_PORT=9443, MEDLEDGER_LOG_LEVEL=debug, MEDLEDGER_NODE_DATADIR=/srv/x.
 * Values are parsed as YAML scalars (numbers stay numbers).
 */
export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const copy = structuredClone(raw) as Record<string, unknown>;
  const overridable: string[][] = [
    ['node', 'dataDir'],
    ['listen', 'p2p', 'host'],
    ['listen', 'p2p', 'port'],
    ['listen', 'api', 'host'],
    ['listen', 'api', 'port'],
    ['listen', 'console', 'host'],
    ['listen', 'console', 'port'],
    ['console', 'demoUsers'],
    ['metrics', 'enabled'],
    ['log', 'level'],
    ['limits', 'requestBodyBytesMax'],
    ['limits', 'p2pMessageBytesMax'],
    ['limits', 'tickMs'],
    ['limits', 'p2pReceiveFramesPerSecondPerPeer'],
    ['limits', 'p2pReceiveBytesPerSecondPerPeer'],
    ['limits', 'apiInFlightMax'],
    ['limits', 'apiInFlightPerOrgMax'],
    ['limits', 'apiInFlightPerUserMax'],
    ['genesis'],
  ];
  for (const path of overridable) {
    const name = `MEDLEDGER_${path.map((p) => p.toUpperCase()).join('_')}`;
    const value = env[name];
    if (value === undefined) continue;
    let target: Record<string, unknown> = copy;
    for (const segment of path.slice(0, -1)) {
      const next = target[segment];
      if (typeof next !== 'object' || next === null) target[segment] = {};
      target = target[segment] as Record<string, unknown>;
    }
    target[path[path.length - 1]!] = parseYaml(value) as unknown;
  }
  return copy;
}

function resolveFrom(base: string, p: string): string {
  return isAbsolute(p) ? p : resolve(base, p);
}

/** Load and validate a node's YAML configuration; relative paths resolve from the file's folder. */
export function loadNodeConfig(path: string, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const text = readText(path, 'configuration file');
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line}, column ${err.linePos[0].col})` : '';
    throw new ConfigError(`${path}: not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${path}: expected a YAML mapping at the top level`);
  const parsed = NodeConfigSchema.safeParse(applyEnvOverrides(raw, env));
  if (!parsed.success) throw new ConfigError(describeZodError(path, parsed.error));
  const base = dirname(resolve(path));
  const c = parsed.data;
  return {
    ...c,
    node: { ...c.node, dataDir: resolveFrom(base, c.node.dataDir) },
    identity: {
      cert: resolveFrom(base, c.identity.cert),
      key: resolveFrom(base, c.identity.key),
      orgCa: resolveFrom(base, c.identity.orgCa),
      rootCa: resolveFrom(base, c.identity.rootCa),
    },
    genesis: resolveFrom(base, c.genesis),
  };
}

export function loadGenesis(path: string): Genesis {
  const text = readText(path, 'genesis file');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  const parsed = GenesisSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describeZodError(path, parsed.error));
  return parsed.data;
}

export function readPem(path: string, what: string): string {
  const text = readText(path, what);
  if (!text.includes('-----BEGIN ')) throw new ConfigError(`${what} ${path} is not a PEM file`);
  return text;
}
