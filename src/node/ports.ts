// A base port for a throw-away consortium (tests, the lab's local consortium): every port
// `initConsortium` derives from it (p2p basePort + 2i, API basePort + 2i + 1, console API + 1000)
// is free on loopback when chosen. Chosen below Linux's ephemeral range (32768 and up): outgoing
// connections take their local port from that range, and a listener placed there can collide
// with one of them (EADDRINUSE), which made test runs on a busy machine flaky.
import { createServer } from 'node:net';
import { CONSOLE_PORT_OFFSET } from './init.ts';

const BASE_PORT_MIN = 10_000;
/** Highest port used must stay below the ephemeral range's start (32768). */
const PORT_CEILING = 32_000;
const ATTEMPTS_MAX = 50;

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The ports a consortium of `orgs` nodes initialised at `basePort` listens on. */
export function consortiumPorts(basePort: number, orgs: number): number[] {
  const ports: number[] = [];
  for (let i = 0; i < orgs; i++) ports.push(basePort + 2 * i, basePort + 2 * i + 1, basePort + 2 * i + 1 + CONSOLE_PORT_OFFSET);
  return ports;
}

/**
 * A random base port whose derived ports all accept a listener on `host` now. Another process
 * may still take one before the consortium binds it; callers that can retry on EADDRINUSE should.
 */
export async function freeBasePort(orgs: number, host = '127.0.0.1'): Promise<number> {
  const span = 2 * orgs + CONSOLE_PORT_OFFSET + 1;
  if (BASE_PORT_MIN + span >= PORT_CEILING) throw new RangeError(`no room below ${PORT_CEILING} for ${orgs} nodes`);
  for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
    // Even bases, spread over the range: concurrent test files rarely pick overlapping blocks.
    const basePort = BASE_PORT_MIN + 2 * Math.floor((Math.random() * (PORT_CEILING - span - BASE_PORT_MIN)) / 2);
    let free = true;
    for (const port of consortiumPorts(basePort, orgs)) {
      if (!(await canListen(port, host))) {
        free = false;
        break;
      }
    }
    if (free) return basePort;
  }
  throw new Error(`no free block of ports for ${orgs} nodes found in ${ATTEMPTS_MAX} attempts`);
}
