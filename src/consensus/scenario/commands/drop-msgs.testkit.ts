import { formatMessage, messageFilter, need, type Command } from '../command.testkit.ts';

export const dropMsgs: Command = {
  name: 'drop-msgs',
  usage: 'drop-msgs ID [from=X] [type=T] — drop the queued messages addressed to ID; prints them',
  run(env, args) {
    return env.cluster.drop(need(args, args.positional[0], 'node id'), messageFilter(env, args.kv)).map((m) => `dropped: ${formatMessage(env, m)}`);
  },
};
