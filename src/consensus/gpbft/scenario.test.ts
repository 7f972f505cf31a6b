// The grouped two-layer PBFT pinned by readable scripts (testdata/*.txt): the normal case through
// both layers, a group primary replaced, catch-up, a Byzantine primary. SCENARIO_REWRITE=1 rewrites.
import { join } from 'node:path';
import { scenarioSuite } from '../scenario/suite.testkit.ts';
import { gpbftScenario } from './scenario.testkit.ts';

scenarioSuite('gpbft scenario scripts', join(import.meta.dirname, 'testdata'), gpbftScenario);
