// The client commands (tx submit|evaluate, block get, status, bench) against one shared 3-node
// consortium running in this process; the commands run in-process through main() (one run goes
// through bin/medledger.js to prove the binary wiring).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startTestNetwork, type TestNetwork } from '../../api/testkit.ts';
import { runCli } from '../testkit.ts';
import { benchArgs, metricValue, minimalSignatureWork, nodeCountersFrom, percentile, signatureWorkPerTx } from './bench.ts';
import { NODE_PROTOCOL } from '../../node/protocol.ts';
import { renderStatus, type NodeReport } from './status.ts';

let net: TestNetwork;

const cli = runCli;

describe('status rendering', () => {
  const node = (nodeId: string, protocol: string | null, genesisHashHex: string | null = 'cd'.repeat(32)): NodeReport => ({
    nodeId,
    org: nodeId.slice(5),
    apiUrl: `https://${nodeId}`,
    reachable: true,
    error: null,
    roles: ['peer', 'orderer'],
    engine: 'raft',
    consensusRole: 'follower',
    leader: 'node.Hospital1',
    epoch: 2,
    height: 9,
    lastBlockHashHex: 'ab'.repeat(32),
    connectedPeers: [],
    configSequence: 0,
    joining: false,
    protocol,
    genesisHashHex,
  });

  it('says when nodes speak different protocols (a rolling upgrade in progress: they keep no connection)', () => {
    const same = renderStatus([node('node.Hospital1', 'medledger.2'), node('node.Hospital2', 'medledger.2')]);
    assert.doesNotMatch(same, /protocols differ/);
    const mixed = renderStatus([node('node.Hospital1', 'medledger.2'), node('node.Hospital2', null)]);
    assert.match(mixed, /protocols differ \(node\.Hospital1 medledger\.2, node\.Hospital2 older\): .*upgrade every node/);
  });

  it("prints the consortium's genesis hash (what an applicant pins), and says when nodes are of two consortia", () => {
    const one = renderStatus([node('node.Hospital1', NODE_PROTOCOL), node('node.Hospital2', NODE_PROTOCOL, null)]);
    assert.match(one, new RegExp(`consortium genesis block ${'cd'.repeat(32)}`));
    assert.doesNotMatch(one, /genesis blocks differ/);
    const two = renderStatus([node('node.Hospital1', NODE_PROTOCOL), node('node.Hospital2', NODE_PROTOCOL, 'ef'.repeat(32))]);
    assert.match(
      two,
      /genesis blocks differ \(node\.Hospital1 cdcdcdcdcdcdcdcd…, node\.Hospital2 efefefefefefefef…\): these nodes are not all of one consortium/,
    );
  });
});

describe('bench arithmetic', () => {
  it('counts the signatures of one transaction for the topology', () => {
    const w = signatureWorkPerTx({ orgs: 3, endorsers: 2, txPerBlock: 4 });
    // client 2 + endorsers 2 + block (3 orderers + 1 leader certificate) / 4
    assert.equal(w.signs, 2 + 2 + 1);
    // endorsers 2 + 3 nodes × creator 1 + 3 nodes × the 2 endorsements but their own (2 × 2) + 3 / 4
    assert.equal(w.verifies, 2 + 3 + 4 + 0.75);
    // What the bench counted before batch signatures (decision 1384): 1-of-any 3.03 + 6.00 at 123 tx per block.
    const any = signatureWorkPerTx({ orgs: 3, endorsers: 1, txPerBlock: 123 });
    assert.ok(Math.abs(any.signs - 3.03) < 0.01 && Math.abs(any.verifies - 6.02) < 0.01, JSON.stringify(any));
    // Batches of 16: the per-transaction part divides by 16, the per-block part does not.
    const batched = signatureWorkPerTx({ orgs: 3, endorsers: 2, txPerBlock: 4, batch: 16 });
    assert.equal(batched.signs, 4 / 16 + 1);
    assert.equal(batched.verifies, 9 / 16 + 0.75);
    const five = signatureWorkPerTx({ orgs: 5, endorsers: 3, txPerBlock: 100 });
    assert.ok(five.verifies > w.verifies && five.signs > 2 + 3);
    assert.throws(() => signatureWorkPerTx({ orgs: 2, endorsers: 3, txPerBlock: 1 }), RangeError);
    assert.throws(() => signatureWorkPerTx({ orgs: 3, endorsers: 1, txPerBlock: 1, batch: 0.5 }), RangeError);
  });

  it('counts the minimal protocol: 2 client signs + one per endorser; endorsers, orderer once, every peer', () => {
    // the reference: 3 peers, one endorsement → 3 signs, 1 + 1 + 3 × 2 = 8 verifies
    assert.deepEqual(minimalSignatureWork({ orgs: 3, endorsers: 1 }), { signs: 3, verifies: 8 });
    assert.deepEqual(minimalSignatureWork({ orgs: 3, endorsers: 2 }), { signs: 4, verifies: 12 });
    assert.throws(() => minimalSignatureWork({ orgs: 1, endorsers: 2 }), RangeError);
  });

  it('reads counters from Prometheus text (all label sets summed; absent is NaN)', () => {
    const text = [
      '# HELP medledger_process_cpu_seconds_total CPU',
      'medledger_process_cpu_seconds_total{mode="user"} 1.5',
      'medledger_process_cpu_seconds_total{mode="system"} 0.25',
      'medledger_crypto_signs_total 12',
      'medledger_crypto_signs_total_other 99',
      'medledger_crypto_verifies_total 30',
    ].join('\n');
    assert.equal(metricValue(text, 'medledger_process_cpu_seconds_total'), 1.75);
    assert.equal(metricValue(text, 'medledger_crypto_signs_total'), 12);
    assert.ok(Number.isNaN(metricValue(text, 'medledger_nothing')));
    const c = nodeCountersFrom(text);
    assert.equal(c.verifies, 30);
    assert.ok(Number.isNaN(c.verifyCacheHits));
  });

  it('builds arguments of exactly the requested size with unique ids', () => {
    for (const size of [32, 100, 129]) {
      const args = benchArgs('abc123', 4567, size);
      assert.equal(args.join('').length, size);
      assert.ok(args[0].length <= 64 && args[1].length <= 64 && args[1].length >= 1);
    }
    assert.notEqual(benchArgs('r', 1, 100)[0], benchArgs('r', 11, 100)[0]);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 99), 4);
  });
});

describe('client commands (3-node raft consortium)', () => {
  before(async () => {
    net = await startTestNetwork({ orgs: 3, engine: 'raft' });
  });
  after(async () => {
    await net?.stop();
  });

  it('tx submit then tx evaluate, as JSON and as text', async () => {
    const id = `cli-${Date.now()}`;
    const submitted = await cli(['tx', 'submit', '--dir', net.dir, '--org', 'Hospital2', '--user', 'doctor1', 'assets', 'create', id, 'clinic', '7', '--json']);
    assert.equal(submitted.code, 0, submitted.err);
    const r = JSON.parse(submitted.out) as { txId: string; status: string; code: string; blockNumber: number; result: string };
    assert.deepEqual({ status: r.status, code: r.code, result: r.result }, { status: 'COMMITTED', code: 'VALID', result: id });

    const evaluated = await cli(['tx', 'evaluate', '--dir', net.dir, '--org', 'Hospital2', '--user', 'doctor1', 'assets', 'read', id]);
    assert.equal(evaluated.code, 0, evaluated.err);
    assert.match(evaluated.out, /"owner": "clinic"/);

    const block = await cli(['block', 'get', String(r.blockNumber), '--dir', net.dir, '--json']);
    assert.equal(block.code, 0, block.err);
    const b = JSON.parse(block.out) as { number: number; txs: { txId: string; fn: string; creatorOrg: string }[] };
    assert.equal(b.number, r.blockNumber);
    assert.ok(b.txs.some((t) => t.txId === r.txId && t.fn === 'create' && t.creatorOrg === 'Hospital2'));
    const text = await cli(['block', 'get', String(r.blockNumber), '--dir', net.dir]);
    assert.match(text.out, new RegExp(`${r.txId} assets\\.create by Hospital2/doctor1`));
  });

  it('reports clear errors: refused transaction, unknown user, missing block, bad option', async () => {
    const refused = await cli(['tx', 'evaluate', '--dir', net.dir, 'assets', 'read', 'no-such-asset']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /asset no-such-asset does not exist.*HTTP 422 CONTRACT_REJECTED/);
    const unknownUser = await cli(['tx', 'evaluate', '--dir', net.dir, '--user', 'mallory', 'assets', 'read', 'x']);
    assert.equal(unknownUser.code, 2);
    assert.match(unknownUser.err, /no identity mallory of Hospital1/);
    const missing = await cli(['block', 'get', '999999', '--dir', net.dir]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /BLOCK_NOT_FOUND/);
    const badN = await cli(['block', 'get', 'ten', '--dir', net.dir]);
    assert.equal(badN.code, 2);
    // The argument is named as the usage writes it, not as an option that does not exist.
    assert.match(badN.err, /^error: <n> must be an integer between 0 and \d+, got "ten"$/m);
    const explicit = await cli([
      'tx',
      'evaluate',
      '--url',
      net.apis[0]!.url,
      '--cert',
      join(net.dir, 'crypto', 'Hospital1', 'doctor1', 'cert.pem'),
      'assets',
      'read',
      'x',
    ]);
    assert.equal(explicit.code, 2);
    assert.match(explicit.err, /--cert, --key, --ca and --url go together/);
  });

  it('status lists every node with roles, leader, height and last block hash; a stopped node is marked DOWN by URL', async () => {
    const all = await cli(['status', '--dir', net.dir, '--json']);
    assert.equal(all.code, 0, all.err);
    const s = JSON.parse(all.out) as {
      nodes: {
        nodeId: string;
        reachable: boolean;
        roles: string[];
        leader: string | null;
        height: number;
        lastBlockHashHex: string;
        configSequence: number | null;
        joining: boolean;
        protocol: string | null;
      }[];
    };
    assert.deepEqual(
      s.nodes.map((n) => n.nodeId),
      ['node.Hospital1', 'node.Hospital2', 'node.Hospital3'],
    );
    for (const n of s.nodes) {
      assert.equal(n.reachable, true);
      assert.deepEqual(n.roles, ['peer', 'orderer']);
      assert.match(n.leader ?? '', /^node\.Hospital\d$/);
      assert.match(n.lastBlockHashHex, /^[0-9a-f]{64}$/);
      assert.equal(n.configSequence, 0);
      assert.equal(n.joining, false);
      assert.equal(n.protocol, NODE_PROTOCOL);
    }
    const human = (await cli(['status', '--dir', net.dir])).out;
    assert.match(human, /config sequence 0 on every node/);
    assert.doesNotMatch(human, /protocols differ/);
    // The third node's API goes away: status still answers, marking it and naming its URL.
    const api = net.apis[2]!;
    await api.close();
    const partial = await cli(['status', '--dir', net.dir]);
    assert.equal(partial.code, 1);
    assert.match(partial.out, new RegExp(`node\\.Hospital3 .*DOWN: cannot reach ${api.url.replace(/[.]/g, '\\.')}: connection refused`));
    assert.match(partial.out, /2\/3 nodes answer/);
  });

  it('bench drives the running consortium through the gateway and reports throughput, latency and the ceiling', async () => {
    const r = await cli(['bench', '--dir', net.dir, '--tx', '6', '--clients', '3', '--size', '64', '--ecdsa-ms', '100', '--json']);
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out) as {
      committedValid: number;
      committedTxPerSecond: number;
      latencyMs: { p50: number; p99: number };
      endorsersPerTx: number;
      signatureCeiling: { txPerSecondOneThread: number; signsPerTx: number };
    };
    assert.equal(rep.committedValid, 6);
    assert.equal(rep.endorsersPerTx, 2);
    assert.ok(rep.committedTxPerSecond > 0 && rep.latencyMs.p50 > 0 && rep.latencyMs.p99 >= rep.latencyMs.p50);
    // 2 client signs + 2 endorsements + the block's signatures (no batches here: one proposal per request).
    assert.ok(rep.signatureCeiling.txPerSecondOneThread > 0 && rep.signatureCeiling.signsPerTx > 4);
  });

  it('bench --batch endorses and submits in batches, DAG-CBOR bodies by default and JSON with --json-bodies, every transaction VALID', async () => {
    for (const extra of [[], ['--json-bodies']]) {
      const r = await cli(['bench', '--dir', net.dir, '--tx', '8', '--clients', '4', '--batch', '4', '--size', '64', '--ecdsa-ms', '50', '--json', ...extra]);
      assert.equal(r.code, 0, r.err);
      const rep = JSON.parse(r.out) as {
        committedValid: number;
        failed: Record<string, number>;
        batch: number;
        batchEndorse: boolean;
        batchBodies: string;
        signatureCeiling: { batchMean: number; signsPerTx: number };
      };
      // The workers start in one loop turn: the node with two of them gets a batch of two at least.
      assert.ok(rep.signatureCeiling.batchMean > 1 && rep.signatureCeiling.batchMean <= 4, String(rep.signatureCeiling.batchMean));
      assert.deepEqual(rep.failed, {});
      assert.equal(rep.committedValid, 8);
      assert.equal(rep.batch, 4);
      assert.equal(rep.batchEndorse, true);
      assert.equal(rep.batchBodies, extra.length ? 'json' : 'cbor');
    }
  });

  it('the medledger binary runs tx evaluate end to end', async () => {
    const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'medledger.js');
    const child = spawn(process.execPath, [bin, 'tx', 'evaluate', '--dir', net.dir, '--url', net.apis[0]!.url, '--json', 'assets', 'listByOwner', 'clinic'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, err);
    const ids = JSON.parse((JSON.parse(out) as { result: string }).result) as string[];
    assert.ok(
      ids.some((id) => id.startsWith('cli-')),
      out,
    );
  });
});
