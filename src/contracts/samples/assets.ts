// A small sample contract: a register of assets (think "equipment on loan between hospitals")
// with owners and values. It exercises every part of the stub that the ledger validates:
// point reads and writes (create, transfer → MVCC conflicts when two transfers race), range
// queries that write a result (tally → phantom conflicts when a create lands in the range),
// composite keys (the owner index), history, events, and an ACL (remove: admins only).
import type { ChaincodeStub } from '../stub.ts';
import { ContractError, type Contract } from '../runtime.ts';

export interface Asset {
  readonly id: string;
  readonly owner: string;
  readonly value: number;
  readonly createdAtMs: number;
  readonly updatedAtMs: number;
}

const ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const OWNER_INDEX = 'owner~asset';
const TALLY = 'tally';

function arg(args: readonly string[], i: number, what: string): string {
  const v = args[i];
  if (v === undefined) throw new ContractError(`missing argument ${i + 1}: ${what}`);
  return v;
}

function checkId(id: string, what: string): string {
  if (!ID_RE.test(id)) throw new ContractError(`${what} must match ${ID_RE.source}, got ${JSON.stringify(id.slice(0, 80))}`);
  return id;
}

function parseValue(text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new ContractError(`value must be a non-negative integer, got ${JSON.stringify(text.slice(0, 80))}`);
  return Number(text);
}

function readAsset(stub: ChaincodeStub, id: string): Asset {
  const text = stub.getStateText(id);
  if (text === undefined) throw new ContractError(`asset ${id} does not exist`);
  return JSON.parse(text) as Asset;
}

function writeAsset(stub: ChaincodeStub, asset: Asset): void {
  stub.putState(asset.id, JSON.stringify(asset));
}

export const assetsContract: Contract = {
  name: 'assets',
  version: '1.0',
  functions: {
    create: {
      kind: 'submit',
      description: 'create(id, owner, value)',
      handler(stub, args) {
        const id = checkId(arg(args, 0, 'id'), 'id');
        const owner = checkId(arg(args, 1, 'owner'), 'owner');
        const value = parseValue(arg(args, 2, 'value'));
        if (stub.getState(id) !== undefined) throw new ContractError(`asset ${id} already exists`);
        const now = stub.getTxTimestampMs();
        writeAsset(stub, { id, owner, value, createdAtMs: now, updatedAtMs: now });
        stub.putState(stub.createCompositeKey(OWNER_INDEX, [owner, id]), new Uint8Array([0]));
        stub.setEvent('AssetCreated', JSON.stringify({ id, owner }));
        return id;
      },
    },
    transfer: {
      kind: 'submit',
      description: 'transfer(id, newOwner)',
      handler(stub, args) {
        const id = checkId(arg(args, 0, 'id'), 'id');
        const newOwner = checkId(arg(args, 1, 'newOwner'), 'newOwner');
        const asset = readAsset(stub, id);
        if (asset.owner === newOwner) throw new ContractError(`asset ${id} already belongs to ${newOwner}`);
        stub.deleteState(stub.createCompositeKey(OWNER_INDEX, [asset.owner, id]));
        stub.putState(stub.createCompositeKey(OWNER_INDEX, [newOwner, id]), new Uint8Array([0]));
        writeAsset(stub, { ...asset, owner: newOwner, updatedAtMs: stub.getTxTimestampMs() });
        stub.setEvent('AssetTransferred', JSON.stringify({ id, from: asset.owner, to: newOwner }));
        return asset.owner;
      },
    },
    read: {
      kind: 'evaluate',
      description: 'read(id) → asset JSON',
      handler(stub, args) {
        return JSON.stringify(readAsset(stub, checkId(arg(args, 0, 'id'), 'id')));
      },
    },
    queryRange: {
      kind: 'evaluate',
      description: 'queryRange(startId, endId) → assets with startId <= id < endId',
      handler(stub, args) {
        const results = stub.getStateByRange(arg(args, 0, 'startId'), arg(args, 1, 'endId'));
        return JSON.stringify(results.map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as Asset));
      },
    },
    listByOwner: {
      kind: 'evaluate',
      description: 'listByOwner(owner) → asset ids',
      handler(stub, args) {
        const owner = checkId(arg(args, 0, 'owner'), 'owner');
        const ids = stub.getStateByPartialCompositeKey(OWNER_INDEX, [owner]).map((kv) => stub.splitCompositeKey(kv.key).attributes[1] ?? '');
        return JSON.stringify(ids);
      },
    },
    tally: {
      kind: 'submit',
      description: 'tally(startId, endId): record the count and total value of the assets in the range',
      handler(stub, args) {
        const start = checkId(arg(args, 0, 'startId'), 'startId');
        const end = checkId(arg(args, 1, 'endId'), 'endId');
        const assets = stub.getStateByRange(start, end);
        let total = 0;
        for (const kv of assets) total += (JSON.parse(Buffer.from(kv.value).toString('utf8')) as Asset).value;
        const summary = JSON.stringify({ start, end, count: assets.length, total, atMs: stub.getTxTimestampMs() });
        stub.putState(stub.createCompositeKey(TALLY, [start, end]), summary);
        return summary;
      },
    },
    history: {
      kind: 'evaluate',
      description: 'history(id) → every committed version of the asset, newest first',
      handler(stub, args) {
        const id = checkId(arg(args, 0, 'id'), 'id');
        return JSON.stringify(
          stub.getHistoryForKey(id).map((h) => ({
            block: h.block,
            tx: h.tx,
            isDelete: h.isDelete,
            asset: h.value ? (JSON.parse(Buffer.from(h.value).toString('utf8')) as Asset) : null,
          })),
        );
      },
    },
    remove: {
      kind: 'submit',
      roles: ['admin'],
      description: 'remove(id) — admins only',
      handler(stub, args) {
        const id = checkId(arg(args, 0, 'id'), 'id');
        const asset = readAsset(stub, id);
        stub.deleteState(id);
        stub.deleteState(stub.createCompositeKey(OWNER_INDEX, [asset.owner, id]));
        return id;
      },
    },
  },
};
