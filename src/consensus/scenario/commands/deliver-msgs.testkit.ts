import { formatMessage, messageFilter, need, type Command } from '../command.testkit.ts';

export const deliverMsgs: Command = {
  name: 'deliver-msgs',
  usage: 'deliver-msgs ID [from=X] [type=T] — step the queued messages addressed to ID; prints them',
  run(env, args) {
    return env.cluster.deliver(need(args, args.positional[0], 'node id'), messageFilter(env, args.kv)).map((m) => formatMessage(env, m));
  },
};
