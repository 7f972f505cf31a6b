// In a browser there is no consortium directory to read: users sign in with their own certificate
// and key (web/src/pages/SignIn.tsx). Same exports as connect.ts.
import type { HealthClient } from './health.ts';

export function connectAs(_dir: string, _org: string, _user: string, _apiUrl?: string): HealthClient {
  throw new Error('connectAs reads a consortium directory and exists only on Node.js');
}
