/**
 * Token streams (src/tokenization/token-stream.ts) under a background reader's cap: once
 * `capBatches` is called, no later chunk is bigger than the cap — ids from a token-producer, and
 * pieces whose ids the segment cache already holds (a cached document after new text) — and the
 * chunks still concatenate to every id.
 */
import { describe, expect, it } from 'vitest';
import { CHARS_PER_TOKEN, IdsStream, PieceStream, readAll, type TokenStream } from '../../src/tokenization/token-stream.js';

async function chunkLengths(stream: TokenStream): Promise<number[]> {
  const lengths: number[] = [];
  for (let chunk = await stream.next(); chunk !== undefined; chunk = await stream.next()) lengths.push(chunk.length);
  return lengths;
}

describe('IdsStream', () => {
  it('grows ×4 until capped, then hands out at most cap / CHARS_PER_TOKEN ids per chunk', async () => {
    const ids = Uint32Array.from({ length: 200_000 }, (_, i) => i);
    const stream = new IdsStream(ids, 100);
    expect((await stream.next())!.length).toBe(100);
    expect((await stream.next())!.length).toBe(400);
    stream.capBatches(4096);
    const lengths = await chunkLengths(stream);
    expect(Math.max(...lengths)).toBe(4096 / CHARS_PER_TOKEN);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(ids.length - 500);
  });

  it('an uncapped stream keeps growing (what a walk wants)', async () => {
    const lengths = await chunkLengths(new IdsStream(Array.from({ length: 100_000 }, (_, i) => i), 100));
    expect(lengths.slice(0, 4)).toEqual([100, 400, 1600, 6400]);
  });

  it('a capped stream still yields every id, in order (typed or plain arrays)', async () => {
    for (const ids of [Uint32Array.from({ length: 10_000 }, (_, i) => i * 7), Array.from({ length: 10_000 }, (_, i) => i * 7)]) {
      const stream = new IdsStream(ids, 10);
      stream.capBatches(64);
      expect([...await readAll(stream)]).toEqual([...ids]);
    }
  });
});

describe('PieceStream', () => {
  // Each piece of text encodes to one id per character (its char codes): enough to count.
  const encode = async (pieces: ReadonlyArray<string | number>, from: number, to: number): Promise<Uint32Array> => {
    const ids: number[] = [];
    for (let i = from; i < to; i++) {
      const piece = pieces[i]!;
      if (typeof piece === 'number') ids.push(piece);
      else for (const char of piece) ids.push(char.charCodeAt(0));
    }
    return Uint32Array.from(ids);
  };
  // 3 new pieces, then a 400-piece document the segment cache holds, 100 chars each.
  const pieces = Array.from({ length: 403 }, (_, i) => String.fromCharCode(97 + (i % 26)).repeat(100));
  const known = (index: number): boolean => index >= 3;

  it('known pieces are free before the cap (a cached prefix is one cheap batch)', async () => {
    const stream = new PieceStream(pieces, encode, undefined, undefined, 150, known);
    expect((await stream.next())!.length).toBe(200);
    // The rest of the new text, then every cached piece for free.
    expect((await stream.next())!.length).toBe(40_300 - 200);
  });

  it('once capped, known pieces count too: a cached document after new text is not one huge chunk', async () => {
    const stream = new PieceStream(pieces, encode, undefined, undefined, 150, known);
    expect((await stream.next())!.length).toBe(200);
    stream.capBatches(1000);
    const lengths = await chunkLengths(stream);
    expect(Math.max(...lengths)).toBeLessThanOrEqual(1000);
    expect(lengths.reduce((a, b) => a + b, 0)).toBe(40_300 - 200);
  });
});
