import { formatMessage, nodeIds, type Command } from '../command.testkit.ts';

export const processReady: Command = {
  name: 'process-ready',
  usage: 'process-ready ID|all — persist and queue the Ready; prints what was sent',
  run(env, args) {
    return nodeIds(env, args, args.positional[0])
      .flatMap((id) => env.cluster.processReady(id))
      .map((m) => formatMessage(env, m));
  },
};
