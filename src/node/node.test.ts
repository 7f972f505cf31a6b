import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { initConsortium, type InitResult } from './init.ts';
import { ConfigError, loadNodeConfig } from './config.ts';
import { MedLedgerNode, NodeStartError } from './node.ts';
import { freeBasePort } from './ports.ts';
import { tempDirRemovedAtExit } from '../testing/temp-dir.ts';

describe('node start refuses bad setups with a clear error', () => {
  let a: InitResult;
  let b: InitResult;
  before(async () => {
    const base = await freeBasePort(7); // a at base, b at base + 10: both inside the probed block
    a = await initConsortium({ dir: tempDirRemovedAtExit('medledger-a-'), orgs: 2, engine: 'raft', basePort: base });
    b = await initConsortium({ dir: tempDirRemovedAtExit('medledger-b-'), orgs: 2, engine: 'raft', basePort: base + 10 });
  });

  it('a certificate from another consortium', async () => {
    const config = loadNodeConfig(a.nodes[0]!.configPath);
    const foreign = {
      ...config,
      identity: {
        ...config.identity,
        cert: join(b.dir, 'crypto', 'Hospital1', 'node.Hospital1', 'cert.pem'),
        key: join(b.dir, 'crypto', 'Hospital1', 'node.Hospital1', 'key.pem'),
      },
    };
    await assert.rejects(MedLedgerNode.start(foreign), /claims issuer CA of Hospital1/);
  });

  it("another hospital's certificate", async () => {
    const config = loadNodeConfig(a.nodes[0]!.configPath);
    const other = {
      ...config,
      identity: {
        ...config.identity,
        cert: join(a.dir, 'crypto', 'Hospital2', 'node.Hospital2', 'cert.pem'),
        key: join(a.dir, 'crypto', 'Hospital2', 'node.Hospital2', 'key.pem'),
      },
    };
    await assert.rejects(MedLedgerNode.start(other), (e: Error) => e instanceof NodeStartError && /belongs to node.Hospital2 of Hospital2/.test(e.message));
  });

  it('a user certificate instead of a node certificate', async () => {
    const config = loadNodeConfig(a.nodes[0]!.configPath);
    const user = {
      ...config,
      identity: {
        ...config.identity,
        cert: join(a.dir, 'crypto', 'Hospital1', 'doctor1', 'cert.pem'),
        key: join(a.dir, 'crypto', 'Hospital1', 'doctor1', 'key.pem'),
      },
    };
    await assert.rejects(MedLedgerNode.start(user), NodeStartError);
  });

  it('a genesis file that is not a genesis block, and a missing key file', async () => {
    const config = loadNodeConfig(a.nodes[0]!.configPath);
    const junk = join(a.dir, 'junk.block');
    writeFileSync(junk, 'not cbor');
    await assert.rejects(
      MedLedgerNode.start({ ...config, genesis: junk }),
      (e: Error) => e instanceof ConfigError && /not a MedLedger genesis block/.test(e.message),
    );
    await assert.rejects(MedLedgerNode.start({ ...config, identity: { ...config.identity, key: '/nonexistent/key.pem' } }), /cannot read node key/);
  });

  it("another consortium's genesis block", async () => {
    const config = loadNodeConfig(a.nodes[0]!.configPath);
    const copied = join(a.dir, 'other-genesis.block');
    copyFileSync(b.genesisPath, copied);
    await assert.rejects(MedLedgerNode.start({ ...config, genesis: copied }), /BAD_CHAIN|not issued|unknown|foreign|issuer/i);
  });
});

describe('readiness is not liveness', () => {
  it('a node alone in a two-hospital Raft consortium runs but is not ready: no leader can be elected without the other', async () => {
    const base = await freeBasePort(2);
    const c = await initConsortium({ dir: tempDirRemovedAtExit('medledger-ready-'), orgs: 2, engine: 'raft', basePort: base, tickMs: 20 });
    const node = await MedLedgerNode.start(loadNodeConfig(c.nodes[0]!.configPath));
    try {
      await new Promise((r) => setTimeout(r, 500));
      const r = node.readiness();
      assert.equal(r.ready, false);
      assert.deepEqual(r.reasons, ['consensus: no leader or primary known yet']);
      // Still live: it answers, and its metrics say the same.
      const metrics = (await node.metrics.text()).body;
      assert.match(metrics, /^medledger_consensus_leader_known 0$/m);
    } finally {
      await node.stop();
    }
  });
});
