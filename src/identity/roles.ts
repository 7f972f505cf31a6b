// Roles and principals. A role is carried in a certificate as the subject OU (Fabric's NodeOUs
// idea): exactly one OU, equal to one of ROLES. 'member' and 'client' are never issued: they
// exist only as policy principals that match groups of roles (see principalMatches).

// 'laboratory' (a hospital's lab) and 'device' (a sensor) are least-privilege client roles
// (decision 1253): the health contract lets them write results/observations for their own
// hospital's patients and little else.
export type Role =
  'member' | 'admin' | 'client' | 'peer' | 'orderer' | 'doctor' | 'nurse' | 'patient' | 'researcher' | 'insurer' | 'laboratory' | 'supervisor' | 'device';

/** Every role a policy principal may name. */
export const PRINCIPAL_ROLES: readonly Role[] = Object.freeze([
  'member',
  'admin',
  'client',
  'peer',
  'orderer',
  'doctor',
  'nurse',
  'patient',
  'researcher',
  'insurer',
  'laboratory',
  'supervisor',
  'device',
] as const);

/** The roles a CA can put into a certificate. */
export const ROLES: readonly Role[] = Object.freeze(PRINCIPAL_ROLES.filter((role) => role !== 'member' && role !== 'client'));

/** Node roles: the only roles that do NOT count as 'client'. */
export const NODE_ROLES: readonly Role[] = Object.freeze(['peer', 'orderer'] as const);

export function isRole(value: string): value is Role {
  return (PRINCIPAL_ROLES as readonly string[]).includes(value);
}

export function isIssuableRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export interface Principal {
  readonly org: string;
  readonly role: Role;
}

/**
 * Does an identity of (org, role) satisfy the principal 'pattern.org.pattern.role'?
 * Like Fabric: 'Org.member' matches any identity of Org; 'Org.client' matches any identity of
 * Org that is not a peer or orderer; every other role matches exactly.
 */
export function principalMatches(pattern: Principal, identity: Principal): boolean {
  if (pattern.org !== identity.org) return false;
  switch (pattern.role) {
    case 'member':
      return true;
    case 'client':
      return !NODE_ROLES.includes(identity.role);
    default:
      return pattern.role === identity.role;
  }
}

/**
 * Organisation names: a letter, then letters, digits, '_' or '-', at most 64 characters. No
 * dots (a principal 'Org.role' splits at the dot) and safe as a directory name.
 */
export const ORG_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function isValidOrgName(org: string): boolean {
  return ORG_NAME_PATTERN.test(org);
}

/**
 * Identity ids (certificate CN of nodes and users): a letter or digit, then letters, digits,
 * '.', '_', '@', '-', at most 64 characters. Safe as a directory name and as a DN value.
 */
export const IDENTITY_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function isValidIdentityName(name: string): boolean {
  return IDENTITY_NAME_PATTERN.test(name);
}
