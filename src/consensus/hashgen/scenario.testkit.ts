// The hash generators (paper 003) in the shared scenario interpreter: which fields each message
// shows (heartbeats are summarised: scripts would drown in them), and the state line.
import type { EngineMessage } from '../engine.ts';
import type { EngineScenario } from '../scenario/command.testkit.ts';
import { formatFields, statusLine } from '../scenario/format.testkit.ts';
import './index.ts';
import type { HgMessage } from './messages.ts';

const FIELDS: Record<HgMessage['type'], readonly string[]> = {
  'hg-select': ['epoch', 'generator', 'cams'],
  'hg-suspect': ['epoch'],
  'hg-auth-req': ['epoch', 'candidate', 'height'],
  'hg-auth-vote': ['epoch', 'candidate', 'height'],
  'hg-block': ['epoch', 'height', 'proposals', 'generator', 'justification'],
  'hg-validate': ['epoch', 'height', 'digest'],
  'hg-seal': ['epoch', 'height', 'proposals', 'nonce', 'difficultyBits', 'validations'],
  'hg-commit': ['epoch', 'height', 'digest'],
  'hg-heartbeat': ['epoch', 'generator', 'height'],
  'hg-forward': ['proposals'],
  'hg-fetch': ['height'],
  'hg-blocks': ['blocks'],
};

function printMessage(message: EngineMessage): string {
  const m = message as HgMessage;
  return formatFields(m.type.replace(/^hg-/, ''), m, FIELDS[m.type] ?? []);
}

export const hashgenScenario: EngineScenario = {
  engine: 'hashgen',
  printMessage,
  state: (_cluster, node) => statusLine(node),
};
