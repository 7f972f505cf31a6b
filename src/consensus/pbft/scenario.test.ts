// PBFT's behaviour pinned by readable scripts (testdata/*.txt): the normal case, a view change,
// checkpoints and catch-up, a Byzantine primary. SCENARIO_REWRITE=1 rewrites the expected outputs.
import { join } from 'node:path';
import { scenarioSuite } from '../scenario/suite.testkit.ts';
import { pbftScenario } from './scenario.testkit.ts';

scenarioSuite('pbft scenario scripts', join(import.meta.dirname, 'testdata'), pbftScenario);
