import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { utf8 } from '../codec/index.ts';
import { StateDb } from '../ledger/state.ts';
import { ContractDeterminismError, runDeterministic } from './determinism.ts';
import { createCompositeKey, splitCompositeKey, compareKeys } from '../ledger/keys.ts';
import { ContractError, ContractRegistry, invoke, STATUS_FAILED, STATUS_OK, STATUS_REFUSED, type Contract } from './runtime.ts';
import { assetsContract } from './samples/assets.ts';

const creator = { org: 'Hospital1', role: 'doctor', id: 'doctor1', certPem: 'PEM' };

function stateWith(entries: Array<[string, string]>): StateDb {
  const db = new StateDb(':memory:');
  db.applyBlock({ number: 0, blockHash: new Uint8Array(32), writes: [], txIndex: [] });
  db.applyBlock({
    number: 1,
    blockHash: new Uint8Array(32),
    writes: entries.map(([key, value], tx) => ({ ns: 'assets', key, isDelete: false, value: utf8(value), tx })),
    txIndex: [],
  });
  return db;
}

function call(contract: Contract, fn: string, args: string[], state: StateDb) {
  return invoke({ contract, fn, args, txId: 'ab'.repeat(32), timestampMs: 1_700_000_000_123, creator, state });
}

const dbs: StateDb[] = [];
after(() => dbs.forEach((d) => d.close()));

describe('determinism guard', () => {
  const cases: Array<[string, () => unknown]> = [
    ['Date.now', () => Date.now()],
    ['new Date()', () => new Date()],
    ['Date()', () => (Date as unknown as () => string)()],
    ['Math.random', () => Math.random()],
    ['crypto.getRandomValues', () => crypto.getRandomValues(new Uint8Array(4))],
    ['crypto.randomUUID', () => crypto.randomUUID()],
    ['setTimeout', () => setTimeout(() => undefined, 1)],
    ['setImmediate', () => setImmediate(() => undefined)],
    ['performance.now', () => performance.now()],
    ['process.hrtime', () => process.hrtime()],
    ['process.hrtime.bigint', () => process.hrtime.bigint()],
  ];
  for (const [name, fn] of cases) {
    it(`forbids ${name}`, () => {
      assert.throws(() => runDeterministic(fn), ContractDeterminismError);
    });
  }

  it('fails even when the contract swallows the error', () => {
    assert.throws(
      () =>
        runDeterministic(() => {
          try {
            return Date.now();
          } catch {
            return 0;
          }
        }),
      ContractDeterminismError,
    );
  });

  it('rejects asynchronous functions', () => {
    assert.throws(() => runDeterministic(async () => 1), /synchronous/);
  });

  it('allows dates from given instants and restores every global afterwards', () => {
    assert.equal(
      runDeterministic(() => new Date(0).toISOString()),
      '1970-01-01T00:00:00.000Z',
    );
    assert.ok(runDeterministic(() => new Date(5) instanceof Date));
    assert.equal(typeof Date.now(), 'number');
    assert.equal(typeof Math.random(), 'number');
    assert.equal(crypto.getRandomValues(new Uint8Array(2)).length, 2);
    assert.equal(typeof performance.now(), 'number');
    assert.equal(typeof process.hrtime.bigint(), 'bigint');
    assert.ok(new Date().getTime() > 0);
    clearTimeout(setTimeout(() => undefined, 1));
  });

  it('a contract reading the clock is not endorsed (status 500)', () => {
    const clocky: Contract = {
      name: 'clocky',
      version: '1',
      functions: { stamp: { kind: 'submit', handler: (stub) => stub.putState('t', String(Date.now())) } },
    };
    const db = stateWith([]);
    dbs.push(db);
    const r = call(clocky, 'stamp', [], db);
    assert.equal(r.result.status, STATUS_FAILED);
    assert.match(r.result.message, /determinism/);
    assert.deepEqual(r.rwset.namespaces, []);
  });
});

describe('ChaincodeStub', () => {
  it('records sorted reads (first version) and writes (last write), not reading its own writes', () => {
    const db = stateWith([
      ['k1', 'one'],
      ['k2', 'two'],
    ]);
    dbs.push(db);
    const c: Contract = {
      name: 'assets',
      version: '1',
      functions: {
        run: {
          kind: 'submit',
          handler(stub) {
            stub.putState('k2', 'new');
            const seen = stub.getStateText('k2'); // committed value, as in Fabric
            stub.getState('k1');
            stub.getState('missing');
            stub.putState('k0', 'a');
            stub.putState('k0', 'b');
            stub.deleteState('k1');
            stub.setEvent('Ran', 'payload');
            return seen;
          },
        },
      },
    };
    const r = call(c, 'run', [], db);
    assert.equal(r.result.status, STATUS_OK);
    assert.equal(Buffer.from(r.result.payload).toString(), 'two');
    const ns = r.rwset.namespaces[0]!;
    assert.deepEqual(
      ns.reads.map((x) => [x.key, x.version]),
      [
        ['k1', { block: 1, tx: 0 }],
        ['k2', { block: 1, tx: 1 }],
        ['missing', null],
      ],
    );
    assert.deepEqual(
      ns.writes.map((w) => [w.key, w.isDelete, w.value && Buffer.from(w.value).toString()]),
      [
        ['k0', false, 'b'],
        ['k1', true, null],
        ['k2', false, 'new'],
      ],
    );
    assert.equal(r.event?.name, 'Ran');
  });

  it('records range reads with their results; pagination marks a partial scan', () => {
    const db = stateWith([
      ['a1', '1'],
      ['a2', '2'],
      ['a3', '3'],
      ['b1', '4'],
      [createCompositeKey('idx', ['x', 'a1']), ''],
    ]);
    dbs.push(db);
    const c: Contract = {
      name: 'assets',
      version: '1',
      functions: {
        scan: {
          kind: 'evaluate',
          handler(stub) {
            const all = stub.getStateByRange('', '');
            const page = stub.getStateByRangeWithPagination('a', 'b', 2);
            const composite = stub.getStateByPartialCompositeKey('idx', ['x']);
            return JSON.stringify([
              all.map((k) => k.key),
              page.results.map((k) => k.key),
              page.bookmark,
              composite.map((k) => stub.splitCompositeKey(k.key).attributes),
            ]);
          },
        },
      },
    };
    const r = call(c, 'scan', [], db);
    assert.equal(r.result.status, STATUS_OK, r.result.message);
    assert.deepEqual(JSON.parse(Buffer.from(r.result.payload).toString()), [['a1', 'a2', 'a3', 'b1'], ['a1', 'a2'], 'a3', [['x', 'a1']]]);
    const ranges = r.rwset.namespaces[0]!.rangeReads;
    assert.equal(ranges.length, 3);
    assert.equal(ranges[0]!.exhausted, true);
    assert.equal(ranges[1]!.exhausted, false);
    assert.deepEqual(
      ranges[1]!.results.map((x) => x.key),
      ['a1', 'a2'],
    );
  });

  it('pages a range from its highest key down; each page is recorded as the ascending range it covered, every key in it seen', () => {
    const db = stateWith([
      ['t1', '1'],
      ['t2', '2'],
      ['t3', '3'],
      ['t4', '4'],
      ['t5', '5'],
      ['u1', '6'],
    ]);
    dbs.push(db);
    const c: Contract = {
      name: 'assets',
      version: '1',
      functions: {
        newest: {
          kind: 'evaluate',
          handler(stub, args) {
            const page = stub.getStateByRangeWithPagination('t', 'u', 2, args[0] ?? '', 'descending');
            return JSON.stringify([page.results.map((k) => k.key), page.bookmark]);
          },
        },
      },
    };
    const pages: string[][] = [];
    const recorded: { startKey: string; endKey: string; exhausted: boolean; keys: string[] }[] = [];
    let bookmark = '';
    for (let i = 0; i < 5; i++) {
      const r = call(c, 'newest', [bookmark], db);
      assert.equal(r.result.status, STATUS_OK, r.result.message);
      const [keys, next] = JSON.parse(Buffer.from(r.result.payload).toString()) as [string[], string];
      pages.push(keys);
      const rr = r.rwset.namespaces[0]!.rangeReads[0]!;
      recorded.push({ startKey: rr.startKey, endKey: rr.endKey, exhausted: rr.exhausted, keys: rr.results.map((x) => x.key) });
      bookmark = next;
      if (!bookmark) break;
    }
    assert.deepEqual(pages, [['t5', 't4'], ['t3', 't2'], ['t1']]);
    // What the validator re-runs: [startKey, endKey) ascending, to the end — exactly the page's keys.
    assert.deepEqual(recorded, [
      { startKey: 't4', endKey: 'u', exhausted: true, keys: ['t4', 't5'] },
      { startKey: 't2', endKey: 't4', exhausted: true, keys: ['t2', 't3'] },
      { startKey: 't', endKey: 't2', exhausted: true, keys: ['t1'] },
    ]);
    for (const rr of recorded)
      assert.deepEqual(
        db.range('assets', rr.startKey, rr.endKey, 100).map((e) => e.key),
        rr.keys,
      );
    // A key written later inside a covered range changes that re-run (a phantom); one below the
    // first page's range does not concern it — that page never saw below t4.
    db.applyBlock({ number: 2, blockHash: new Uint8Array(32), writes: [{ ns: 'assets', key: 't45', isDelete: false, value: utf8('x'), tx: 0 }], txIndex: [] });
    assert.notDeepEqual(
      db.range('assets', recorded[0]!.startKey, recorded[0]!.endKey, 100).map((e) => e.key),
      recorded[0]!.keys,
    );
    assert.deepEqual(
      db.range('assets', recorded[1]!.startKey, recorded[1]!.endKey, 100).map((e) => e.key),
      recorded[1]!.keys,
    );
    // A page size out of bounds is refused as in either direction.
    const bad = call(
      { ...c, functions: { x: { kind: 'evaluate', handler: (stub) => JSON.stringify(stub.getStateByRangeWithPagination('t', 'u', 0, '', 'descending')) } } },
      'x',
      [],
      db,
    );
    assert.equal(bad.result.status, 400);
  });

  it('evaluate functions cannot write; bad keys and limits are refused (status 400)', () => {
    const db = stateWith([]);
    dbs.push(db);
    const c: Contract = {
      name: 'assets',
      version: '1',
      functions: {
        sneaky: { kind: 'evaluate', handler: (stub) => stub.putState('k', 'v') },
        empty: { kind: 'submit', handler: (stub) => stub.putState('', 'v') },
        huge: { kind: 'submit', handler: (stub) => stub.putState('k', new Uint8Array(300 * 1024)) },
        rune: { kind: 'submit', handler: (stub) => stub.putState('a\u{10FFFF}', 'v') },
        refuse: {
          kind: 'submit',
          handler: () => {
            throw new ContractError('no such patient');
          },
        },
        bug: {
          kind: 'submit',
          handler: () => {
            throw new TypeError('oops');
          },
        },
      },
    };
    assert.match(call(c, 'sneaky', [], db).result.message, /read-only/);
    for (const fn of ['sneaky', 'empty', 'huge', 'rune', 'refuse']) assert.equal(call(c, fn, [], db).result.status, STATUS_REFUSED, fn);
    assert.equal(call(c, 'bug', [], db).result.status, STATUS_FAILED);
    assert.equal(call(c, 'missing', [], db).result.status, STATUS_REFUSED);
    assert.equal(call(c, 'constructor', [], db).result.status, STATUS_REFUSED);
  });
});

describe('keys and registry', () => {
  it('composite keys round-trip and sort as bytes', () => {
    const key = createCompositeKey('owner~asset', ['alice', 'a1']);
    assert.deepEqual(splitCompositeKey(key), { objectType: 'owner~asset', attributes: ['alice', 'a1'] });
    assert.throws(() => createCompositeKey('t', ['a\u0000b']));
    // U+FFFF sorts below U+10000 in UTF-8 bytes (and in SQLite), though not in UTF-16.
    assert.ok(compareKeys('\uffff', '\u{10000}') < 0);
  });

  it('refuses duplicate contracts', () => {
    const reg = new ContractRegistry().register(assetsContract);
    assert.throws(() => reg.register(assetsContract), /twice/);
    assert.deepEqual(reg.names(), ['assets']);
  });
});
