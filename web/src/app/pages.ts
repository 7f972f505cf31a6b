// The console's pages and who may open them. The node enforces every rule again (the contract
// and the API decide); this list only keeps the menu to what a role can use, and a page opened by
// a URL typed by hand for another role says so in plain words.
import type { ComponentType } from 'react';
import { AdminPage } from '../pages/Admin.tsx';
import { AnalyticsPage } from '../pages/Analytics.tsx';
import { BlocksPage } from '../pages/Blocks.tsx';
import { BreakGlassPage } from '../pages/BreakGlass.tsx';
import { LabPage } from '../pages/Lab.tsx';
import { MarketPage } from '../pages/Market.tsx';
import { MyDataPage } from '../pages/MyData.tsx';
import { NetworkPage } from '../pages/Network.tsx';
import { PeoplePage } from '../pages/People.tsx';
import { ProvenancePage } from '../pages/Provenance.tsx';
import { RecordsPage } from '../pages/Records.tsx';

export type Role = 'doctor' | 'nurse' | 'patient' | 'researcher' | 'insurer' | 'laboratory' | 'supervisor' | 'admin';

export interface PageSpec {
  readonly path: string;
  readonly label: string;
  /** One line for the menu's tooltip and the page header. */
  readonly description: string;
  readonly roles: readonly Role[] | 'all';
  readonly component: ComponentType;
}

export const PAGES: readonly PageSpec[] = [
  {
    path: '/records',
    label: 'Records',
    description: 'Find a patient, open their records through the audited access decision, create, update, erase',
    roles: ['doctor', 'nurse', 'supervisor'],
    component: RecordsPage,
  },
  {
    path: '/my-data',
    label: 'My data',
    description: 'My records, my consents, who accessed my data, my notifications',
    roles: ['patient'],
    component: MyDataPage,
  },
  {
    path: '/break-the-glass',
    label: 'Break the glass',
    description: 'Emergency access with a mandatory reason: audited as a security alert, the patient notified',
    roles: ['doctor'],
    component: BreakGlassPage,
  },
  {
    path: '/market',
    label: 'Data market',
    description: 'The catalogue of datasets; apply for access; owners approve or deny; the state of every application',
    // Everyone but a laboratory: the contract refuses it every dataset function (decision 1253).
    roles: ['doctor', 'nurse', 'patient', 'researcher', 'insurer', 'supervisor', 'admin'],
    component: MarketPage,
  },
  {
    path: '/analytics',
    label: 'Analytics',
    description: 'Federated statistics over approved datasets: histogram and summary, small cells withheld',
    roles: ['researcher', 'insurer', 'supervisor'],
    component: AnalyticsPage,
  },
  {
    path: '/provenance',
    label: 'Provenance',
    description: 'Every operation on a record, dataset, patient or the organisation, as recorded; download as FHIR AuditEvent / Provenance',
    roles: ['supervisor', 'admin', 'patient'],
    component: ProvenancePage,
  },
  {
    path: '/admin',
    label: 'Administration',
    description: 'This node, the configuration in force, a connection test to every node, membership changes signed by the admins',
    roles: ['admin'],
    component: AdminPage,
  },
  {
    path: '/people',
    label: 'People',
    description: "Your hospital's identities: register people to enrol, their requests waiting for a certificate, valid and revoked certificates",
    roles: ['admin', 'supervisor'],
    component: PeoplePage,
  },
  {
    path: '/lab',
    label: 'Consensus lab',
    description: "Run the consensus engines in this node's deterministic simulator; the papers' message complexity and attack probability",
    roles: ['researcher', 'admin', 'supervisor'],
    component: LabPage,
  },
  {
    path: '/network',
    label: 'Network',
    description: 'Every hospital node: role, leader, height, reachability; committed transactions per second, live',
    roles: 'all',
    component: NetworkPage,
  },
  {
    path: '/blocks',
    label: 'Blocks',
    description: 'The ledger block by block: hashes, consensus certificate, transactions; verify the chain in your browser',
    roles: 'all',
    component: BlocksPage,
  },
];

export function pagesFor(role: string): readonly PageSpec[] {
  return PAGES.filter((p) => p.roles === 'all' || (p.roles as readonly string[]).includes(role));
}

export function mayOpen(page: PageSpec, role: string): boolean {
  return page.roles === 'all' || (page.roles as readonly string[]).includes(role);
}
