// Adding and removing hospitals at runtime (issue 5): what an operator's tools do around a config
// transaction (src/ledger/config-update.ts).
//
//   add:    issue the new hospital's CA (under the consortium root), node and user certificates;
//           write its node.yaml; build the next config (its CA, its node endpoint, its orderer
//           where the engine allows, default policies widened to the new majority); have the
//           admins of a majority of the current organisations sign it; submit; wait for VALID.
//           Then its node starts (joining mode, src/node/node.ts), syncs and starts voting.
//   remove: the next config without the organisation (its CA, node, orderer; default policies
//           narrowed); same signatures; its node.yaml is set aside so `up` no longer starts it.
//
// The signatures: a real consortium collects them from each hospital's admin in turn; a local
// consortium directory holds every admin's key, so these tools sign with admin1 of as many
// organisations as the modification policy needs.
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { parsePrivateKey, sign } from '../crypto/index.ts';
import { addOrganisation, loadConsortium, saveConsortium, type Consortium } from '../identity/index.ts';
import type { ConsortiumConfig, NodeEndpointConfig } from '../ledger/config.ts';
import { ConfigUpdateError, configSignaturesNeeded, RUNTIME_MEMBERSHIP_ENGINES, type ConfigSigner } from '../ledger/config-update.ts';
import { loadNodeConfig } from '../node/config.ts';
import { consolePortOf, demoUsersOf, nodeIdOf, writeNodeYaml } from '../node/init.ts';
// The config transforms are pure (the console builds the same updates in a browser): ledger/membership.ts.
export { configWithHospital, configWithoutHospital } from '../ledger/membership.ts';
import { newPseudonymKey, savePseudonymKey } from '../identity/pseudonym.ts';
import { nodeDirs } from '../node/supervisor.ts';

export interface NewHospital {
  readonly org: string;
  readonly caCertPem: string;
  readonly nodeCertPem: string;
  readonly endpoint: NodeEndpointConfig;
  readonly configPath: string;
}

/** The next free HospitalN name of a consortium directory. */
export function nextHospitalName(consortium: Consortium): string {
  const taken = new Set([...consortium.orgCas.keys()].map((o) => o.toLowerCase()));
  for (let i = 1; ; i++) if (!taken.has(`hospital${i}`)) return `Hospital${i}`;
}

/** Ports above every port the directory's node.yaml files use: [p2p, api]. */
function freePorts(dir: string): [number, number] {
  let highest = 0;
  for (const d of nodeDirs(dir)) {
    const c = loadNodeConfig(join(d, 'node.yaml'));
    highest = Math.max(highest, c.listen.p2p.port, c.listen.api.port);
  }
  if (highest === 0) throw new ConfigUpdateError(`${dir} holds no node configurations to place the new node next to`);
  if (consolePortOf(highest + 2) > 65535) throw new ConfigUpdateError("no free port above the existing nodes' ports (and their console port, API port + 1000)");
  return [highest + 1, highest + 2];
}

/**
 * Create a new hospital's identities and node configuration in a consortium directory (which
 * must hold the root CA key). Nothing on chain changes yet: see configWithHospital.
 */
export async function prepareHospital(
  dir: string,
  options: {
    org?: string;
    host?: string;
    tickMs: number;
    engine: string;
    /** gpbft: where the hospital is and its comprehensive rating 0–1 (its node entry; decision 1280). */
    location?: { lat: number; lon: number };
    rating?: number;
  },
): Promise<NewHospital> {
  const cryptoDir = join(dir, 'crypto');
  if (!existsSync(join(cryptoDir, 'root-ca-key.pem'))) {
    throw new ConfigUpdateError(`the root CA key is not in ${cryptoDir} (root-ca-key.pem): a new hospital's CA can only be issued where the root key is`);
  }
  const consortium = loadConsortium(cryptoDir);
  const org = options.org ?? nextHospitalName(consortium);
  const host = options.host ?? '127.0.0.1';
  const [p2pPort, apiPort] = freePorts(dir);
  const pseudonymKey = newPseudonymKey();
  const extended = await addOrganisation(consortium, { org, users: demoUsersOf(org, pseudonymKey), nodeHosts: [host, 'localhost'] });
  saveConsortium(extended, cryptoDir, { overwrite: true });
  savePseudonymKey(cryptoDir, org, pseudonymKey);
  const nodeId = nodeIdOf(org);
  // It orders too only where the engine's member set can change at runtime.
  const roles: NodeEndpointConfig['roles'] = RUNTIME_MEMBERSHIP_ENGINES.has(options.engine) ? ['peer', 'orderer'] : ['peer'];
  const endpoint: NodeEndpointConfig = {
    id: nodeId,
    org,
    roles,
    p2pUrl: `wss://${host}:${p2pPort}`,
    apiUrl: `https://${host}:${apiPort}`,
    ...(options.location ? { location: options.location } : {}),
    ...(options.rating !== undefined ? { rating: options.rating } : {}),
  };
  const configPath = writeNodeYaml({ dir, org, nodeId, roles: endpoint.roles, host, p2pPort, apiPort, tickMs: options.tickMs });
  return { org, caCertPem: extended.orgCas.get(org)!.certPem, nodeCertPem: extended.nodes.get(org)!.certPem, endpoint, configPath };
}

/**
 * admin1 of as many current organisations as the modification policy needs (from a local
 * directory), `firstOrg`'s first: its admin is the update's creator.
 */
export function localAdminSigners(consortium: Consortium, config: ConsortiumConfig, firstOrg?: string): ConfigSigner[] {
  const needed = configSignaturesNeeded(config);
  const signers: ConfigSigner[] = [];
  const orgs = config.orgs.map((o) => o.org).sort((a, b) => (a === firstOrg ? -1 : b === firstOrg ? 1 : 0));
  for (const org of orgs) {
    if (signers.length === needed) break;
    const admin = consortium.users.find((u) => u.org === org && u.role === 'admin');
    if (!admin) continue;
    const key = parsePrivateKey(admin.keyPem);
    signers.push({ certPem: admin.certPem, signer: { sign: (m) => sign(key, m) } });
  }
  if (signers.length < needed)
    throw new ConfigUpdateError(`a config update needs admins of ${needed} organisations; this directory holds admin keys of ${signers.length}`);
  return signers;
}

// Submitting a config update is the SDK's (sdk/config-update.ts): the CLI and the SDK's
// enrolment admin (revocations, decision 1252) share it.
export { submitConfigUpdate, type ConfigUpdateOutcome } from '../sdk/config-update.ts';

/** Set a removed hospital's node.yaml aside, so `up` no longer starts it (its data is kept). */
export function retireNodeDir(dir: string, org: string): string | null {
  const path = join(dir, org, 'node.yaml');
  if (!existsSync(path)) return null;
  const retired = `${path}.removed`;
  renameSync(path, retired);
  return retired;
}
