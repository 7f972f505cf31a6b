// The hash generators pinned by readable scripts (testdata/*.txt): election and the normal case, a
// generator replaced, catch-up, an equivocating generator. SCENARIO_REWRITE=1 rewrites.
import { join } from 'node:path';
import { scenarioSuite } from '../scenario/suite.testkit.ts';
import { hashgenScenario } from './scenario.testkit.ts';

scenarioSuite('hashgen scenario scripts', join(import.meta.dirname, 'testdata'), hashgenScenario);
