// The layer rule fails lint on an upward or sideways import, on production code importing a test
// helper, and on a folder without a layer; it lets downward imports, same-folder imports, tests and
// the console through. The project's own table (eslint.config.js) is what `npm run lint` enforces.
import { describe, it } from 'node:test';
import { RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import table from './layers.json' with { type: 'json' };
import { layersRule } from './eslint-layers.mjs';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const root = '/repo';
const options = [{ root, layers: table.layers }];
const tester = new RuleTester({ languageOptions: { parser: tseslint.parser, ecmaVersion: 2022, sourceType: 'module' } });
const at = (path: string): string => `${root}/${path}`;

tester.run('medledger/layers', layersRule, {
  valid: [
    { filename: at('src/node/node.ts'), code: "import { Transport } from '../transport/transport.ts';", options },
    { filename: at('src/api/server.ts'), code: "import { encode } from '../codec/index.ts'; export * from '../protocol/schemas.ts';", options },
    { filename: at('src/consensus/raft/raft.ts'), code: "import { SeededRng } from '../rng.ts';", options },
    { filename: at('src/node/node.test.ts'), code: "import { startApiServer } from '../api/server.ts';", options },
    { filename: at('src/testing/records-network.ts'), code: "import { startApiServer } from '../api/server.ts';", options },
    { filename: at('src/records/records.test.ts'), code: "import { startRecordsNetwork } from '../testing/records-network.ts';", options },
    { filename: at('web/src/pages/Blocks.tsx'), code: "import { blockHash } from '../../../src/ledger/block.ts';", options },
    { filename: at('src/cli/main.ts'), code: "import('../sdk/client.ts');", options },
  ],
  invalid: [
    { filename: at('src/transport/transport.ts'), code: "import { createLogger } from '../node/log.ts';", options, errors: [{ messageId: 'upward' }] },
    { filename: at('src/sdk/client.ts'), code: "import { signRequest } from '../api/auth.ts';", options, errors: [{ messageId: 'upward' }] },
    { filename: at('src/ledger/validator.ts'), code: "export { keyOf } from '../contracts/keys.ts';", options, errors: [{ messageId: 'upward' }] },
    { filename: at('src/lab/compare.ts'), code: "export * from '../cli/output.ts';", options, errors: [{ messageId: 'upward' }] },
    { filename: at('src/codec/codec.ts'), code: "const m = import('../web/x.ts');", options, errors: [{ messageId: 'unknownFolder' }] },
    {
      filename: at('src/records/service.ts'),
      code: "import { startApiServer } from '../testing/records-network.ts';",
      options,
      errors: [{ messageId: 'testHelper' }],
    },
    {
      filename: at('src/lab/compare-quorum.ts'),
      code: "import { Cluster } from '../consensus/ehbft/testkit.ts';",
      options,
      errors: [{ messageId: 'testHelper' }],
    },
    { filename: at('src/newfolder/x.ts'), code: "import { encode } from '../codec/index.ts';", options, errors: [{ messageId: 'unknownFolder' }] },
    { filename: at('web/src/app/App.tsx'), code: "import { startTestbed } from '../../test/harness.ts';", options, errors: [{ messageId: 'testHelper' }] },
  ],
});
