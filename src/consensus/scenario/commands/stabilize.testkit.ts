import { formatMessage, type Command } from '../command.testkit.ts';

export const stabilize: Command = {
  name: 'stabilize',
  usage: 'stabilize [verbose] — process Readies and deliver until nothing moves; verbose prints every message',
  run(env, args) {
    const log = env.cluster.stabilize();
    return args.positional[0] === 'verbose' ? log.map((m) => formatMessage(env, m)) : [];
  },
};
