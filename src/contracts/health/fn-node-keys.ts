// Node keys (decision 1150): each node publishes its HPKE public key; custodians wrap data keys to
// it. Part of the health contract (contract.ts composes the areas).
import { type ContractFunction, ContractError } from '../runtime.ts';
import { nodeKeyArgs, publishNodeKeyArgs, type NodeKeyEntry } from './model.ts';
import { getJson, key, putJson } from './state.ts';
import { parseArg, json, fn } from './contract-support.ts';

export const nodeKeyFunctions: Readonly<Record<string, ContractFunction>> = {
  publishNodeKey: fn(
    'submit',
    'publishNodeKey({org, nodeId, publicKey}) — a node publishes its own HPKE X25519 public key; custodians wrap data keys to it',
    (tx, args) => {
      const a = parseArg(publishNodeKeyArgs, args);
      const c = tx.creator;
      // The entry's key is the submitter's own identity: a node (or anyone else) of another
      // organisation can never write, and so never replace, this organisation's node key.
      if (a.org !== c.org || a.nodeId !== c.id)
        throw new ContractError(`publishNodeKey: ${c.org}/${c.id} may publish only its own node key, not the key of ${a.org}/${a.nodeId}`);
      if (/^0+$/.test(a.publicKey)) throw new ContractError('publishNodeKey: the all-zero X25519 key is not a usable public key');
      const k = key('nk', c.org, c.id);
      const current = getJson<NodeKeyEntry>(tx.stub, k);
      if (current?.publicKey === a.publicKey) return json({ changed: false, entry: current });
      const entry: NodeKeyEntry = { org: c.org, nodeId: c.id, publicKey: a.publicKey, publishedAtMs: tx.nowMs, txId: tx.stub.getTxID() };
      putJson(tx.stub, k, entry);
      return json({ changed: true, entry, previous: current?.publicKey ?? null });
    },
    ['peer'],
  ),

  nodeKey: fn('evaluate', "nodeKey({org, nodeId}) → the node's published HPKE public key entry, or null", (tx, args) => {
    const a = parseArg(nodeKeyArgs, args);
    return json(getJson<NodeKeyEntry>(tx.stub, key('nk', a.org, a.nodeId)) ?? null);
  }),
};
