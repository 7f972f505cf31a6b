import { need, type Command } from '../command.testkit.ts';

export const restart: Command = {
  name: 'restart',
  usage: 'restart ID — start a crashed node from its durable state; prints its state',
  run({ cluster, scenario }, args) {
    const id = need(args, args.positional[0], 'node id');
    cluster.restart(id);
    return [scenario.state(cluster, cluster.node(id))];
  },
};
