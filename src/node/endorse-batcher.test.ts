import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, utf8, type Bytes } from '../codec/index.ts';
import { decodeSignedProposal, type SignedProposal } from '../ledger/tx.ts';
import { ENDORSE_BATCH_CHANNEL, ENDORSE_BATCH_MAX, EndorseBatcher, serveEndorseBatch } from './endorse-batcher.ts';
import type { ProposalResponse } from './peer.ts';

const sp = (i: number): SignedProposal => ({ proposal: utf8(`proposal ${i}`), signature: new Uint8Array(64).fill(i % 256) });

/** What a remote peer answers for its proposals: it echoes each, and cannot handle "proposal 13". */
function remoteEndorse(signed: readonly SignedProposal[]): Array<ProposalResponse | Error> {
  return signed.map((sp) => {
    const text = new TextDecoder().decode(sp.proposal);
    if (text === 'proposal 13') return new Error('thirteen is refused');
    return { status: 200, message: text, payload: new Uint8Array(0), response: sp.proposal, endorsement: null };
  });
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
    const [one] = remoteEndorse([decodeSignedProposal(payload)]);
    if (one instanceof Error) throw one;
    return encode(one);
  };
  return { calls, request };
}

describe('endorsement batcher', () => {
  it('sends the asks of one loop turn as batches of at most ENDORSE_BATCH_MAX, answers each in order', async () => {
    const r = remote();
    const batcher = EndorseBatcher.remote(r.request);
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
    const batcher = EndorseBatcher.remote(r.request);
    assert.equal((await batcher.endorse(sp(1))).message, 'proposal 1');
    await Promise.all([batcher.endorse(sp(2)), batcher.endorse(sp(3))]);
    assert.deepEqual(r.calls, [
      { channel: 'endorse', items: 1 },
      { channel: ENDORSE_BATCH_CHANNEL, items: 2 },
    ]);
  });

  it('a failed batch rejects every proposal in it (the gateway then asks a spare)', async () => {
    const batcher = EndorseBatcher.remote(async () => {
      throw new Error('request to node.B on endorse-batch timed out after 5000 ms');
    });
    const results = await Promise.allSettled([batcher.endorse(sp(1)), batcher.endorse(sp(2))]);
    assert.ok(results.every((x) => x.status === 'rejected' && /timed out/.test(x.reason.message)));
  });

  it('falls back to one request per proposal for a node that does not know the batch channel', async () => {
    const r = remote({ knowsBatch: false });
    const batcher = EndorseBatcher.remote(r.request);
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
    const batcher = EndorseBatcher.remote(async () => encode([{ ok: 1 }]));
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

describe('local endorsement batcher', () => {
  it("hands the asks of one loop turn to its peer's endorseMany at once, answers each in order", async () => {
    const calls: number[] = [];
    const batcher = EndorseBatcher.local((signed) => {
      calls.push(signed.length);
      return remoteEndorse(signed);
    });
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => batcher.endorse(sp(i))));
    assert.deepEqual(calls, [20]);
    assert.equal(results[13]!.status, 'rejected');
    assert.equal((results[2] as PromiseFulfilledResult<ProposalResponse>).value.message, 'proposal 2');
    assert.equal((await batcher.endorse(sp(21))).message, 'proposal 21', 'a lone ask goes alone');
    assert.deepEqual(calls, [20, 1]);
  });

  it('a peer that throws fails every proposal of the batch with its reason', async () => {
    const batcher = EndorseBatcher.local(() => {
      throw new Error('ledger closed');
    });
    const results = await Promise.allSettled([batcher.endorse(sp(1)), batcher.endorse(sp(2))]);
    assert.ok(results.every((x) => x.status === 'rejected' && /ledger closed/.test(x.reason.message)));
  });
});
