import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { consortiumPorts, freeBasePort } from './ports.ts';

describe('freeBasePort', () => {
  it('names a block below the ephemeral port range whose every derived port takes a listener', async () => {
    const base = await freeBasePort(5);
    const ports = consortiumPorts(base, 5);
    assert.equal(ports.length, 15);
    for (const port of ports) assert.ok(port >= 10_000 && port < 32_768, `${port} outside [10000, 32768)`);
    for (const port of ports) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host: '127.0.0.1', exclusive: true }, resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('derives the ports init uses: p2p base + 2i, API base + 2i + 1, console API + 1000', () => {
    assert.deepEqual(consortiumPorts(20_000, 2), [20_000, 20_001, 21_001, 20_002, 20_003, 21_003]);
  });
});
