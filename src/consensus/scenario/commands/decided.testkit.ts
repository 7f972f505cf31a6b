import { formatProposal } from '../format.testkit.ts';
import type { Command } from '../command.testkit.ts';

export const decided: Command = {
  name: 'decided',
  usage: "decided [ID] — each node's application: its height and the blocks it was handed",
  run({ cluster }, args) {
    const ids = args.positional[0] === undefined ? [...cluster.nodes.keys()] : [args.positional[0]];
    return ids.map((id) => {
      const node = cluster.node(id);
      const blocks = node.blocks.map((b) => `${b.height}:[${b.proposals.map(formatProposal).join(' ')}]`);
      return `${id}: height=${node.appHeight} ${blocks.join(' ')}`.trimEnd();
    });
  },
};
