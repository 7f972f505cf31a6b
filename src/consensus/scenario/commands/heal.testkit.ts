import type { Command } from '../command.testkit.ts';

export const heal: Command = {
  name: 'heal',
  usage: 'heal — end the partition',
  run({ cluster }) {
    cluster.heal();
    return [];
  },
};
