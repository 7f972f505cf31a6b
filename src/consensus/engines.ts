// Importing this module registers every built-in engine (one import line per engine).
import './solo/solo.ts';
import './pbft/index.ts';
import './raft/index.ts';
import './hashgen/index.ts';
import './gpbft/index.ts';
import './ehbft/index.ts';
