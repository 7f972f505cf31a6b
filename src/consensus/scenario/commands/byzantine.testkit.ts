import { need, type Command } from '../command.testkit.ts';
import type { ByzantineMode } from '../cluster.testkit.ts';

const MODES: readonly ByzantineMode[] = ['equivocate', 'mutate', 'silent'];

export const byzantine: Command = {
  name: 'byzantine',
  usage: `byzantine ID ${MODES.join('|')}|correct — tamper with what ID sends from now on, through the engine's own hooks`,
  run({ cluster }, args) {
    const node = cluster.node(need(args, args.positional[0], 'node id'));
    const mode = need(args, args.positional[1], 'behaviour');
    if (mode === 'correct') node.byzantine = null;
    else if ((MODES as readonly string[]).includes(mode)) node.byzantine = mode as ByzantineMode;
    else throw new Error(`byzantine: unknown behaviour "${mode}" (known: ${MODES.join(', ')}, correct)`);
    return [];
  },
};
