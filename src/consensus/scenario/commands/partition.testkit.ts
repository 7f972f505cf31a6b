import type { Command } from '../command.testkit.ts';

export const partition: Command = {
  name: 'partition',
  usage: 'partition A B | C D … — messages across groups are dropped on delivery (nodes not named form one more group)',
  run({ cluster }, args) {
    const groups: string[][] = [[]];
    for (const w of args.positional) {
      if (w === '|') groups.push([]);
      else groups[groups.length - 1]!.push(w);
    }
    cluster.partition(groups);
    return [];
  },
};
