import { need, parseValue, type Command } from '../command.testkit.ts';

export const addNodes: Command = {
  name: 'add-nodes',
  usage:
    'add-nodes N [option=value …] [batch=<cutter countMax>] [seed=<n>] — engine options as the engine validates them; the first call sets the initial membership',
  run({ cluster }, args) {
    const n = Number.parseInt(need(args, args.positional[0], 'count'), 10);
    const options: Record<string, unknown> = {};
    let batch = 1;
    let seed = 1;
    for (const [k, v] of args.kv) {
      if (k === 'batch') batch = Number.parseInt(v, 10);
      else if (k === 'seed') seed = Number.parseInt(v, 10);
      else options[k] = parseValue(v);
    }
    return [`added ${cluster.addNodes(n, options, batch, seed).join(' ')}`];
  },
};
