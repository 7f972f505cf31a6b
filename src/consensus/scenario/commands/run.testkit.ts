import { repetitions, type Command } from '../command.testkit.ts';

export const run: Command = {
  name: 'run',
  usage: 'run [xN] — N rounds of: tick every live node, then stabilize',
  run({ cluster }, args) {
    const n = repetitions(args.positional[0], 1);
    for (let i = 0; i < n; i++) {
      for (const id of cluster.liveIds()) cluster.tick(id);
      cluster.stabilize();
    }
    return [];
  },
};
