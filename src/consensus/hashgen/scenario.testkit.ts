// The hash generators (paper 003) in the shared scenario interpreter: which fields each message
// shows (heartbeats are summarised: scripts would drown in them), and the state line.
import type { EngineMessage } from '../engine.ts';
import type { EngineScenario } from '../scenario/command.testkit.ts';
import { formatFields, statusLine } from '../scenario/format.testkit.ts';
import './index.ts';
import type { HgMessage } from './messages.ts';

const FIELDS: Record<HgMessage['type'], readonly string[]> = {
  'hashgen/select': ['epoch', 'generator', 'cams'],
  'hashgen/suspect': ['epoch'],
  'hashgen/auth-req': ['epoch', 'candidate', 'height'],
  'hashgen/auth-vote': ['epoch', 'candidate', 'height'],
  'hashgen/block': ['epoch', 'height', 'proposals', 'generator', 'justification'],
  'hashgen/validate': ['epoch', 'height', 'digest'],
  'hashgen/seal': ['epoch', 'height', 'proposals', 'nonce', 'difficultyBits', 'validations'],
  'hashgen/commit': ['epoch', 'height', 'digest'],
  'hashgen/heartbeat': ['epoch', 'generator', 'height'],
  'hashgen/forward': ['proposals'],
  'hashgen/fetch': ['height'],
  'hashgen/blocks': ['blocks'],
};

function printMessage(message: EngineMessage): string {
  const m = message as HgMessage;
  return formatFields(m.type, m, FIELDS[m.type] ?? []);
}

export const hashgenScenario: EngineScenario = {
  engine: 'hashgen',
  printMessage,
  state: (_cluster, node) => statusLine(node),
};
