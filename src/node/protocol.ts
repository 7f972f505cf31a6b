// The protocol a node speaks to other nodes (decision 1386), offered and required as the
// WebSocket subprotocol of every p2p link (transport/). It changes when nodes of two versions
// would judge the same message differently, so that such nodes never exchange any:
//   medledger.1 — implicit (no subprotocol offered): everything before decision 1384.
//   medledger.2 — batch signatures (decision 1384): a signature may be a Merkle-path batch
//                 signature, which a node of medledger.1 refuses.
export const NODE_PROTOCOL = 'medledger.2';
