// Reaching a consortium from its directory (what `medledger init` wrote): the nodes' API URLs
// come from the genesis configuration, the root CA and a user's certificate and key from
// <dir>/crypto/. Used by the CLI (`tx`, `block`, `status`, `bench`).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { blockHash, decodeBlock, type Block } from '../ledger/block.ts';
import { toHex } from '../codec/index.ts';
import { configOfGenesis, type ConsortiumConfig } from '../ledger/config.ts';
import { loadNodeConfig } from '../node/config.ts';
import { MedLedgerApiError, MedLedgerClient } from './client.ts';

const FILE_BYTES_MAX = 64 * 1024 * 1024;

export interface NodeEndpoint {
  readonly id: string;
  readonly org: string;
  readonly roles: readonly string[];
  readonly apiUrl: string;
}

function readFile(path: string, what: string): Buffer {
  if (!existsSync(path)) throw new MedLedgerApiError(0, 'NO_SUCH_FILE', `${what} ${path} does not exist`);
  const size = statSync(path).size;
  if (size > FILE_BYTES_MAX) throw new MedLedgerApiError(0, 'FILE_TOO_LARGE', `${what} ${path} is ${size} bytes (limit ${FILE_BYTES_MAX})`);
  return readFileSync(path);
}

function readGenesis(dir: string): Block {
  const path = join(dir, 'genesis.block');
  const bytes = readFile(path, 'genesis block');
  try {
    const block = decodeBlock(new Uint8Array(bytes));
    configOfGenesis(block);
    return block;
  } catch (err) {
    throw new MedLedgerApiError(0, 'BAD_GENESIS', `${path} is not a MedLedger genesis block: ${(err as Error).message}`);
  }
}

export function readConsortiumConfig(dir: string): ConsortiumConfig {
  return configOfGenesis(readGenesis(dir));
}

/** The consortium's identity, its genesis block hash (hex): what a proposal names (decision 1389). */
export function consortiumIdOf(dir: string): string {
  return toHex(blockHash(readGenesis(dir).header));
}

/**
 * The nodes of a consortium directory: those of the genesis configuration, minus hospitals
 * removed since (`medledger org remove` sets their node.yaml aside as node.yaml.removed), plus
 * hospitals added since (`medledger org add` writes <dir>/<org>/node.yaml). The live list is in
 * the config in force, GET /v1/config.
 */
export function consortiumEndpoints(dir: string): NodeEndpoint[] {
  const config = readConsortiumConfig(dir);
  const nodes = (config.nodes ?? []).filter((n) => !existsSync(join(dir, n.org, 'node.yaml.removed')));
  const known = new Set(nodes.map((n) => n.org));
  const added: NodeEndpoint[] = [];
  for (const name of existsSync(dir) ? readdirSync(dir).sort((a, b) => a.localeCompare(b, 'en', { numeric: true })) : []) {
    if (known.has(name) || !existsSync(join(dir, name, 'node.yaml'))) continue;
    try {
      const c = loadNodeConfig(join(dir, name, 'node.yaml'));
      added.push({ id: c.node.id, org: c.node.org, roles: c.node.roles, apiUrl: `https://${c.listen.api.host}:${c.listen.api.port}` });
    } catch {
      // Not a node directory this client can read; the genesis list is still usable.
    }
  }
  const all = [...nodes.map((n) => ({ id: n.id, org: n.org, roles: n.roles, apiUrl: n.apiUrl })), ...added];
  if (all.length === 0) throw new MedLedgerApiError(0, 'NO_ENDPOINTS', `the consortium in ${dir} lists no node endpoints`);
  return all;
}

export interface UserCredentials {
  readonly certPem: string;
  readonly keyPem: string;
  readonly caPem: string;
}

export function userCredentials(dir: string, org: string, user: string): UserCredentials {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(user) || !/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(org)) {
    throw new MedLedgerApiError(0, 'BAD_NAME', `not a valid organisation/user name: ${org.slice(0, 64)}/${user.slice(0, 64)}`);
  }
  const base = join(dir, 'crypto', org, user);
  if (!existsSync(base)) throw new MedLedgerApiError(0, 'NO_SUCH_USER', `no identity ${user} of ${org} in ${join(dir, 'crypto')}`);
  return {
    certPem: readFile(join(base, 'cert.pem'), 'certificate').toString('utf8'),
    keyPem: readFile(join(base, 'key.pem'), 'key').toString('utf8'),
    caPem: readFile(join(dir, 'crypto', 'root-ca.pem'), 'root CA certificate').toString('utf8'),
  };
}

/** A client for `user` of `org`, talking to that organisation's node (or `url`). */
export function clientFromDir(dir: string, org: string, user: string, url?: string): MedLedgerClient {
  const creds = userCredentials(dir, org, user);
  const endpoints = consortiumEndpoints(dir);
  let target = url;
  if (!target) {
    const node = endpoints.find((n) => n.org === org && n.roles.includes('peer'));
    if (!node) throw new MedLedgerApiError(0, 'NO_ENDPOINT', `the consortium in ${dir} has no peer node of ${org}`);
    target = node.apiUrl;
  }
  // The other peers of the consortium take a resubmission whose outcome this node left unknown.
  const others = endpoints.filter((n) => n.roles.includes('peer') && n.apiUrl !== target).map((n) => n.apiUrl);
  // Proposals name the consortium of this directory's genesis block (decision 1389), not whatever a node says.
  return new MedLedgerClient({ url: target, ...creds, failover: others, consortium: consortiumIdOf(dir) });
}
