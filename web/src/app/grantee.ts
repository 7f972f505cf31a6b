// Whom a consent names, in words — the patient's own list (My data) and a clinician's list of
// patients (Records, where a consent may name them as someone at their hospital or with their
// role, decision 0914) say it the same way.

import type { Grantee } from '../../../src/sdk/health.ts';

export type { Grantee };

export const granteeText = (g: Grantee): string =>
  g.kind === 'user' ? g.user : g.kind === 'org' ? `everyone at ${g.org}` : `every ${g.role}${g.org ? ` at ${g.org}` : ''}`;
