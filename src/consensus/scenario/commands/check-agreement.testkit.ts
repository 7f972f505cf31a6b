import type { Command } from '../command.testkit.ts';

export const checkAgreement: Command = {
  name: 'check-agreement',
  usage: 'check-agreement — one digest per height across the correct nodes',
  run({ cluster }) {
    const problems = cluster.checkAgreement();
    return problems.length === 0 ? ['agreement: ok'] : ['agreement: VIOLATED', ...problems];
  },
};
