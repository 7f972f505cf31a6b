// Entry of one orderer process of the ordering benchmark (ordering-node.ts).
import { runOrderingNode } from './ordering-node.ts';

await runOrderingNode();
