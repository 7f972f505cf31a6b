// The ledger's builders (config-update drafts, envelopes) take a synchronous MessageSigner, as
// node:crypto signs; WebCrypto signs asynchronously. They are deterministic, so run a builder
// once to learn which messages it signs, sign those with the user's WebCrypto key, and run it
// again answering each request with its signature. A builder that asks for anything else the
// second time is refused (nothing is signed that the user's key did not sign for this call).
import { bytesEqual, type Bytes } from '../../../src/codec/index.ts';
import type { MessageSigner } from '../../../src/ledger/tx.ts';

const SIGNATURES_PER_CALL_MAX = 16;

export async function withWebCryptoSigner<T>(build: (signer: MessageSigner) => T, sign: (message: Bytes) => Promise<Bytes>): Promise<T> {
  const messages: Bytes[] = [];
  build({
    sign(message) {
      if (messages.length >= SIGNATURES_PER_CALL_MAX) throw new Error(`a builder asked for more than ${SIGNATURES_PER_CALL_MAX} signatures`);
      messages.push(message.slice());
      return new Uint8Array(64);
    },
  });
  const signatures: Bytes[] = [];
  for (const m of messages) signatures.push(await sign(m));
  let next = 0;
  return build({
    sign(message) {
      const expected = messages[next];
      if (expected === undefined || !bytesEqual(expected, message)) throw new Error('the builder asked to sign a message it did not ask for before: refused');
      return signatures[next++]!;
    },
  });
}
