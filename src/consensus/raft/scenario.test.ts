// Raft's behaviour pinned by readable scripts (testdata/*.txt), run by the shared interpreter.
// SCENARIO_REWRITE=1 (or RAFT_REWRITE=1) rewrites the expected outputs — then review the diff.
import { join } from 'node:path';
import { scenarioSuite } from '../scenario/suite.testkit.ts';
import { raftScenario } from './scenario.testkit.ts';

scenarioSuite('raft scenario scripts', join(import.meta.dirname, 'testdata'), raftScenario);
