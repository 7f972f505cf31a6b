import { formatMessage, type Command } from '../command.testkit.ts';

export const pendingMsgs: Command = {
  name: 'pending-msgs',
  usage: 'pending-msgs [type=T] — list the queued messages without moving them',
  run(env, args) {
    const type = args.kv.get('type');
    const engine = env.scenario.engine;
    return env.cluster
      .pending()
      .filter((m) => type === undefined || m.message.type === type || m.message.type === `${engine}/${type}`)
      .map((m) => formatMessage(env, m));
  },
};
