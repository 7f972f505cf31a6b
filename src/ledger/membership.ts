// The consortium config with a hospital added or removed: pure transforms of ConsortiumConfig,
// shared by the operator's CLI (cli/membership.ts) and the web console (which builds the same
// config update in a browser and has it signed by admins there).
import type { ConsortiumConfig, NodeEndpointConfig } from './config.ts';
import { ConfigUpdateError, RUNTIME_MEMBERSHIP_ENGINES } from './config-update.ts';

/** What a config needs to know of a new hospital: its CA, its node's certificate and endpoint. */
export interface HospitalEntry {
  readonly org: string;
  readonly caCertPem: string;
  readonly nodeCertPem: string;
  readonly endpoint: NodeEndpointConfig;
}

/** The default endorsement policy: peers of a majority of the organisations. */
export function majority(orgs: readonly string[]): string {
  return `OutOf(${Math.floor(orgs.length / 2) + 1}, ${orgs.map((o) => `'${o}.peer'`).join(', ')})`;
}

/** Default majority policies follow the membership; any other policy is left as its authors wrote it. */
function followMajority(config: ConsortiumConfig, orgsAfter: readonly string[]): ConsortiumConfig['contracts'] {
  const before = majority(config.orgs.map((o) => o.org));
  return config.contracts.map((c) => (c.endorsementPolicy === before ? { ...c, endorsementPolicy: majority(orgsAfter) } : c));
}

/** The config with `h` added: its CA, its node endpoint, and its orderer where the engine allows. */
export function configWithHospital(config: ConsortiumConfig, h: HospitalEntry): ConsortiumConfig {
  if (config.orgs.some((o) => o.org.toLowerCase() === h.org.toLowerCase())) throw new ConfigUpdateError(`${h.org} is already a member of the consortium`);
  const orgsAfter = [...config.orgs.map((o) => o.org), h.org];
  const orders = RUNTIME_MEMBERSHIP_ENGINES.has(config.ordering.engine) && h.endpoint.roles.includes('orderer');
  const endpoint: NodeEndpointConfig = orders ? h.endpoint : { ...h.endpoint, roles: ['peer'] };
  return {
    ...config,
    orgs: [...config.orgs, { org: h.org, caCertPem: h.caCertPem }],
    orderers: orders ? [...config.orderers, { id: h.endpoint.id, org: h.org, certPem: h.nodeCertPem }] : config.orderers,
    nodes: [...(config.nodes ?? []), endpoint],
    contracts: followMajority(config, orgsAfter),
  };
}

/** The config without `org`. Refuses to leave no organisation or no orderer, or a policy naming it. */
export function configWithoutHospital(config: ConsortiumConfig, org: string): ConsortiumConfig {
  if (!config.orgs.some((o) => o.org === org))
    throw new ConfigUpdateError(`${org} is not a member of the consortium (members: ${config.orgs.map((o) => o.org).join(', ')})`);
  const orgsAfter = config.orgs.filter((o) => o.org !== org).map((o) => o.org);
  if (orgsAfter.length === 0) throw new ConfigUpdateError('cannot remove the last organisation');
  const orderers = config.orderers.filter((o) => o.org !== org);
  if (orderers.length === 0) throw new ConfigUpdateError(`cannot remove ${org}: it runs every orderer of the consortium`);
  const contracts = followMajority(config, orgsAfter);
  for (const c of contracts) {
    if (new RegExp(`'${org}\\.`).test(c.endorsementPolicy))
      throw new ConfigUpdateError(`contract ${c.name}'s endorsement policy names ${org} (${c.endorsementPolicy}); change it first`);
  }
  return { ...config, orgs: config.orgs.filter((o) => o.org !== org), orderers, nodes: (config.nodes ?? []).filter((n) => n.org !== org), contracts };
}
