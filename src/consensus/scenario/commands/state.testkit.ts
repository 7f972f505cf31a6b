import type { Command } from '../command.testkit.ts';

export const state: Command = {
  name: 'state',
  usage: 'state [ID] — one line per node (the engine decides what it shows)',
  run({ cluster, scenario }, args) {
    const ids = args.positional[0] === undefined ? [...cluster.nodes.keys()] : [args.positional[0]];
    return ids.map((id) => scenario.state(cluster, cluster.node(id)));
  },
};
