// EH-BFT pinned by readable scripts (testdata/*.txt): the two-phase normal case with the version
// check, a leader replaced by view change, catch-up, an equivocating leader, orderer-set changes.
// SCENARIO_REWRITE=1 rewrites.
import { join } from 'node:path';
import { scenarioSuite } from '../scenario/suite.testkit.ts';
import { ehbftScenario } from './scenario.testkit.ts';

scenarioSuite('ehbft scenario scripts', join(import.meta.dirname, 'testdata'), ehbftScenario);
