import { nodeIds, repetitions, type Command } from '../command.testkit.ts';

export const tick: Command = {
  name: 'tick',
  usage: 'tick ID|all [xN] — advance logical time and process the Ready, delivering nothing',
  run(env, args) {
    const n = repetitions(args.positional[1], 1);
    for (let i = 0; i < n; i++) for (const id of nodeIds(env, args, args.positional[0])) env.cluster.tick(id);
    return [];
  },
};
