// `medledger whoami` — who the node authenticates you as: organisation, user, role, and for a
// patient the pseudonym their hospital's CA put in their certificate (decision 0906). Issue 17: a
// patient had no way to learn their own pseudonym, which some commands and every --json output use.
import type { Command } from 'commander';
import type { CommandContext } from '../context.ts';
import { table } from '../readable.ts';
import { asUser, healthCommand, type HealthFlags } from './record.ts';

export function register(program: Command, _ctx: CommandContext): void {
  healthCommand(program, 'whoami', "Who you are to the consortium: organisation, user, role (checked by the node), and a patient's pseudonym").action(
    async (f: HealthFlags) =>
      asUser(f, async (c, out) => {
        const me = await c.client.whoami();
        const patient = me.role === 'patient';
        out.result({ org: me.org, user: f.user, id: me.id, role: me.role, pseudonym: patient ? me.id : null, serialHex: me.serialHex, node: me.node }, () =>
          [
            table(
              ['', ''],
              [
                ['organisation', me.org],
                ['user', `${f.user} (certificate in ${f.dir}/crypto/${f.org}/${f.user}/)`],
                ['role', me.role],
                ...(patient ? [['pseudonym', me.id]] : [['on-chain id', `${me.org}/${me.id}`]]),
                ['certificate', `serial ${me.serialHex}, accepted by ${me.node.id} (${me.node.org})`],
              ],
            )
              .split('\n')
              .slice(1)
              .join('\n'),
            ...(patient
              ? [
                  '',
                  `On chain you are known only by this pseudonym. Wherever a command asks for a patient, ${f.org}/${f.user} works too (from this directory).`,
                ]
              : []),
          ].join('\n'),
        );
      }),
  );
}
