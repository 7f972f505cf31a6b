// The protocol a node speaks to other nodes (decision 1386), offered and required as the
// WebSocket subprotocol of every p2p link (transport/). It changes when nodes of two versions
// would judge the same message differently, so that such nodes never exchange any:
//   medledger.1 — implicit (no subprotocol offered): everything before decision 1384.
//   medledger.2 — batch signatures (decision 1384): a signature may be a Merkle-path batch
//                 signature, which a node of medledger.1 refuses.
//   medledger.3 — gpbft ratings name the consortium (decision 1387): a member of medledger.2
//                 finds such a rating's signature invalid (it checks the old signed bytes) and
//                 would apply a decided one differently.
//   medledger.4 — a block's consensus proof may carry the engine's extra bytes (decision 1390:
//                 EH-BFT keeps its block metadata so that a joiner can replay the chain), which
//                 a medledger.3 node's block schema refuses when it fetches such a block.
//   medledger.5 — a Raft entry leaves without its block signature, which follows with the commit
//                 index (decision 1414); a medledger.4 follower would certify such blocks with
//                 the entry's empty signature.
export const NODE_PROTOCOL = 'medledger.5';
