import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, utf8, type Bytes } from '../codec/index.ts';
import { decodeSignedProposal, type SignedProposal } from '../ledger/tx.ts';
import { ENDORSE_BATCH_CHANNEL, ENDORSE_BATCH_MAX, EndorseBatcher, serveEndorseBatch } from './endorse-batcher.ts';
import type { ProposalResponse } from './peer.ts';

const sp = (i: number): SignedProposal => ({ proposal: utf8(`proposal ${i}`), signature: new Uint8Array(64).fill(i % 256) });

/** What a remote peer answers for a proposal: it echoes the proposal, and refuses "proposal 13". */
function remoteEndorse(bytes: Bytes): ProposalResponse {
  const signed = decodeSignedProposal(bytes);
  const text = new TextDecoder().decode(signed.proposal);
  if (text === 'proposal 13') throw new Error('thirteen is refused');
  return { status: 200, message: text, payload: new Uint8Array(0), response: signed.proposal, endorsement: null };
}

/** A remote node reached through a real request function: counts requests per channel. */
function remote(options: { knowsBatch?: boolean } = {}) {
  const calls: { channel: string; items: number }[] = [];
  const request = async (channel: string, payload: Bytes): Promise<Bytes> => {
    await new Promise((r) => setImmediate(r));
    if (channel === ENDORSE_BATCH_CHANNEL) {
      if (options.knowsBatch === false) throw new Error(`unknown request channel ${ENDORSE_BATCH_CHANNEL}`);
      calls.push({ channel, items: decode<unknown[]>(payload).length });
      return serveEndorseBatch(payload, remoteEndorse);
    }
    calls.push({ channel, items: 1 });
    return encode(remoteEndorse(payload));
  };
  return { calls, request };
}

describe('endorsement batcher', () => {
  it('sends the asks of one loop turn as batches of at most ENDORSE_BATCH_MAX, answers each in order', async () => {
    const r = remote();
    const batcher = new EndorseBatcher(r.request);
    const n = ENDORSE_BATCH_MAX + 6;
    const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => batcher.endorse(sp(i))));
    assert.deepEqual(
      r.calls.map((c) => c.items),
      [ENDORSE_BATCH_MAX, 6],
    );
    results.forEach((res, i) => {
      if (i === 13) {
        assert.equal(res.status, 'rejected');
        assert.match((res as PromiseRejectedResult).reason.message, /thirteen is refused/, 'one bad proposal fails alone');
      } else {
        assert.equal(res.status, 'fulfilled');
        assert.equal((res as PromiseFulfilledResult<ProposalResponse>).value.message, `proposal ${i}`);
      }
    });
  });

  it('asks one proposal alone on the single channel, and later turns in new batches', async () => {
    const r = remote();
    const batcher = new EndorseBatcher(r.request);
    assert.equal((await batcher.endorse(sp(1))).message, 'proposal 1');
    await Promise.all([batcher.endorse(sp(2)), batcher.endorse(sp(3))]);
    assert.deepEqual(r.calls, [
      { channel: 'endorse', items: 1 },
      { channel: ENDORSE_BATCH_CHANNEL, items: 2 },
    ]);
  });

  it('a failed batch rejects every proposal in it (the gateway then asks a spare)', async () => {
    const batcher = new EndorseBatcher(async () => {
      throw new Error('request to node.B on endorse-batch timed out after 5000 ms');
    });
    const results = await Promise.allSettled([batcher.endorse(sp(1)), batcher.endorse(sp(2))]);
    assert.ok(results.every((x) => x.status === 'rejected' && /timed out/.test(x.reason.message)));
  });

  it('falls back to one request per proposal for a node that does not know the batch channel', async () => {
    const r = remote({ knowsBatch: false });
    const batcher = new EndorseBatcher(r.request);
    const first = await Promise.all([batcher.endorse(sp(1)), batcher.endorse(sp(2))]);
    assert.deepEqual(
      first.map((x) => x.message),
      ['proposal 1', 'proposal 2'],
    );
    await Promise.all([batcher.endorse(sp(3)), batcher.endorse(sp(4))]);
    assert.ok(r.calls.every((c) => c.channel === 'endorse'));
    assert.equal(r.calls.length, 4);
  });

  it('refuses a malformed answer and a malformed request', async () => {
    const batcher = new EndorseBatcher(async () => encode([{ ok: 1 }]));
    const results = await Promise.allSettled([batcher.endorse(sp(1)), batcher.endorse(sp(2))]);
    assert.ok(results.every((x) => x.status === 'rejected' && /malformed endorse-batch answer/.test(x.reason.message)));
    assert.throws(() => serveEndorseBatch(encode([]), remoteEndorse), /1\.\.64 encoded signed proposals/);
    assert.throws(() => serveEndorseBatch(encode(['text']), remoteEndorse), /encoded signed proposals/);
    const tooMany = encode(Array.from({ length: ENDORSE_BATCH_MAX + 1 }, () => new Uint8Array(1)));
    assert.throws(() => serveEndorseBatch(tooMany, remoteEndorse), /1\.\.64/);
    // A proposal that does not decode fails alone, with the decoder's reason.
    const answer = decode<{ error?: string }[]>(serveEndorseBatch(encode([new Uint8Array([1, 2, 3])]), remoteEndorse));
    assert.match(answer[0]!.error ?? '', /signed proposal/);
  });
});
