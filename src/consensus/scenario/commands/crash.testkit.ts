import { need, type Command } from '../command.testkit.ts';

export const crash: Command = {
  name: 'crash',
  usage: 'crash ID — the node loses everything not persisted, and the messages addressed to it',
  run({ cluster }, args) {
    cluster.crash(need(args, args.positional[0], 'node id'));
    return [];
  },
};
