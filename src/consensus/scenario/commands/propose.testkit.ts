import { need, type Command } from '../command.testkit.ts';

export const propose: Command = {
  name: 'propose',
  usage: 'propose ID DATA [client=C] [seq=S] [ready=no] — ready=no leaves the Ready unprocessed (nothing persisted or sent), e.g. before a crash',
  run({ cluster }, args) {
    const id = need(args, args.positional[0], 'node id');
    const out = cluster.propose(id, need(args, args.positional[1], 'data'), args.kv.get('client'), args.kv.has('seq') ? Number(args.kv.get('seq')) : undefined);
    if (args.kv.get('ready') !== 'no') cluster.processReady(id);
    return [out];
  },
};
