import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { apiLimitsOf, DEFAULT_API_LIMITS } from '../api/server.ts';
import { ConfigError, loadGenesis, loadNodeConfig, p2pReceiveLimitsOf } from './config.ts';
import { tempDirRemovedAtExit } from '../testing/temp-dir.ts';

const VALID = `
node: { id: hospital1, org: Hospital1, roles: [peer, orderer], dataDir: ./data }
listen:
  p2p: { host: 127.0.0.1, port: 7051 }
  api: { host: 127.0.0.1, port: 8443 }
identity: { cert: crypto/cert.pem, key: crypto/key.pem, orgCa: crypto/ca.pem, rootCa: crypto/root.pem }
genesis: genesis.json
`;

function write(text: string, name = 'node.yaml'): string {
  const dir = tempDirRemovedAtExit('medledger-config-');
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('node configuration', () => {
  it('loads a valid file, applies defaults and resolves paths from its folder', () => {
    const path = write(VALID);
    const c = loadNodeConfig(path, {});
    assert.equal(c.node.id, 'hospital1');
    assert.equal(c.limits.tickMs, 50);
    assert.equal(c.identity.cert, join(path, '..', 'crypto/cert.pem'));
  });

  it('environment overrides win and are validated like the file', () => {
    const path = write(VALID);
    assert.equal(loadNodeConfig(path, { MEDLEDGER_LISTEN_API_PORT: '9443' }).listen.api.port, 9443);
    assert.throws(() => loadNodeConfig(path, { MEDLEDGER_LISTEN_API_PORT: 'http' }), /listen\.api\.port/);
  });

  it('takes the API in-flight limits (node-wide, per organisation, per user) from limits.api*, else the API defaults', () => {
    assert.deepEqual(apiLimitsOf(loadNodeConfig(write(VALID), {})), {}, 'absent: the API server keeps DEFAULT_API_LIMITS');
    assert.deepEqual(
      { node: DEFAULT_API_LIMITS.inFlightMax, org: DEFAULT_API_LIMITS.inFlightPerOrgMax, user: DEFAULT_API_LIMITS.inFlightPerUserMax },
      { node: 512, org: 256, user: 64 },
    );
    const path = write(`${VALID}limits: { apiInFlightMax: 100, apiInFlightPerOrgMax: 40 }\n`);
    assert.deepEqual(apiLimitsOf(loadNodeConfig(path, { MEDLEDGER_LIMITS_APIINFLIGHTPERUSERMAX: '10' })), {
      inFlightMax: 100,
      inFlightPerOrgMax: 40,
      inFlightPerUserMax: 10,
    });
    assert.throws(() => loadNodeConfig(path, { MEDLEDGER_LIMITS_APIINFLIGHTPERUSERMAX: '0' }), /limits\.apiInFlightPerUserMax/);
  });

  it("takes the p2p receive budget per peer from limits.p2pReceive*, else the transport's defaults (decision 1397)", () => {
    assert.deepEqual(p2pReceiveLimitsOf(loadNodeConfig(write(VALID), {})), {});
    const path = write(`${VALID}limits: { p2pReceiveFramesPerSecondPerPeer: 5000 }\n`);
    assert.deepEqual(p2pReceiveLimitsOf(loadNodeConfig(path, { MEDLEDGER_LIMITS_P2PRECEIVEBYTESPERSECONDPERPEER: '33554432' })), {
      receiveFramesPerSecondPerPeer: 5000,
      receiveBytesPerSecondPerPeer: 32 * 1024 * 1024,
    });
    assert.throws(() => loadNodeConfig(path, { MEDLEDGER_LIMITS_P2PRECEIVEFRAMESPERSECONDPERPEER: '10' }), /limits\.p2pReceiveFramesPerSecondPerPeer/);
    // Less than one largest message a second would stall a peer for longer than a second per message.
    assert.throws(
      () => loadNodeConfig(write(`${VALID}limits: { p2pMessageBytesMax: 8388608, p2pReceiveBytesPerSecondPerPeer: 2097152 }\n`), {}),
      /p2pReceiveBytesPerSecondPerPeer must be at least p2pMessageBytesMax/,
    );
  });

  it('names the problem in malformed YAML, wrong types and unknown keys', () => {
    assert.throws(
      () => loadNodeConfig(write('node: [unclosed'), {}),
      (e: Error) => e instanceof ConfigError && /not valid YAML \(line 1/.test(e.message),
    );
    assert.throws(() => loadNodeConfig(write(VALID.replace('port: 7051', 'port: 70510')), {}), /listen\.p2p\.port/);
    assert.throws(() => loadNodeConfig(write(`${VALID}\nextra: 1\n`), {}), /extra/);
    assert.throws(() => loadNodeConfig(write('- a list'), {}), /mapping at the top level/);
    assert.throws(() => loadNodeConfig('/nonexistent/node.yaml', {}), /cannot read configuration file/);
  });

  it('rejects a genesis with duplicate members or an organisation without a CA', () => {
    const genesis = {
      consortium: 'demo',
      consensus: { engine: 'raft', cutter: { countMax: 10, sizeBytesMax: 4096, timeoutTicks: 2, pendingMax: 100 } },
      members: [
        { id: 'n1', org: 'H1', p2pUrl: 'wss://127.0.0.1:7051', apiUrl: 'https://127.0.0.1:8443' },
        { id: 'n1', org: 'H2', p2pUrl: 'wss://127.0.0.1:7052', apiUrl: 'https://127.0.0.1:8444' },
      ],
      rootCaPem: 'x',
      orgs: [{ org: 'H1', caPem: 'x' }],
      createdAtMs: 0,
    };
    const path = write(JSON.stringify(genesis), 'genesis.json');
    assert.throws(
      () => loadGenesis(path),
      (e: Error) => /duplicate member id "n1"/.test(e.message) && /"H2" has no CA/.test(e.message),
    );
  });
});
