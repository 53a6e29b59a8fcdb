import { describe, expect, it } from 'vitest';
import { bucketBounds, cannedTokens, generateEcho, generateRandom, lengthByHistogram, unlimitedLength } from '../../src/sim/generation.js';
import { Random } from '../../src/sim/random.js';
import { tokenizeText } from '../../src/sim/tokenizer.js';

describe('response length', () => {
  it('ignore_eos → exactly max tokens, finish_reason length', () => {
    const generated = generateRandom(new Random(1), { maxTokens: 37, ignoreEos: true, promptTokens: 5 }, 1024);
    expect(generated.tokens.ids).toHaveLength(37);
    expect(generated.finishReason).toBe('length');
  });

  it('limit ≤ 6: uniform in [1, limit]; limit 1 → 1', () => {
    const random = new Random(2);
    expect(lengthByHistogram(random, 1)).toBe(1);
    const seen = new Set(Array.from({ length: 500 }, () => lengthByHistogram(random, 4)));
    expect([...seen].sort()).toEqual([1, 2, 3, 4]);
  });

  it('equal buckets up to 101, a stretching 4th bucket above, never the limit itself', () => {
    expect(bucketBounds(11, 0)).toEqual([1, 2]);
    expect(bucketBounds(11, 4)).toEqual([9, 10]);
    expect(bucketBounds(1000, 0)).toEqual([1, 20]);
    expect(bucketBounds(1000, 2)).toEqual([41, 60]);
    expect(bucketBounds(1000, 3)).toEqual([61, 980]);
    expect(bucketBounds(1000, 4)).toEqual([981, 999]);
  });

  it('about 15 % of answers are exactly the limit (length), the rest shorter (stop)', () => {
    const random = new Random(3);
    const runs = 4000;
    let atLimit = 0;
    for (let i = 0; i < runs; i++) {
      const generated = generateRandom(random, { maxTokens: 100, ignoreEos: false, promptTokens: 10 }, 1024);
      const length = generated.tokens.ids.length;
      expect(length).toBeGreaterThanOrEqual(1);
      expect(length).toBeLessThanOrEqual(100);
      expect(generated.finishReason).toBe(length === 100 ? 'length' : 'stop');
      if (length === 100) atLimit++;
    }
    expect(atLimit / runs).toBeGreaterThan(0.12);
    expect(atLimit / runs).toBeLessThan(0.18);
  });

  it('no limit: Gaussian(40, 20) within [1, max-model-len − prompt]; uniform below 20', () => {
    const random = new Random(4);
    const samples = Array.from({ length: 3000 }, () => unlimitedLength(random, 1000));
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(1);
    expect(mean).toBeGreaterThan(38);
    expect(mean).toBeLessThan(44);
    const small = Array.from({ length: 300 }, () => unlimitedLength(random, 5));
    expect(new Set(small)).toEqual(new Set([1, 2, 3, 4, 5]));
    const generated = generateRandom(random, { maxTokens: null, ignoreEos: false, promptTokens: 1020 }, 1024);
    expect(generated.tokens.ids.length).toBeLessThanOrEqual(4);
  });

  it('canned text is cut to the exact length', () => {
    const tokens = cannedTokens(new Random(5), 123);
    expect(tokens.ids).toHaveLength(123);
    expect(tokens.strings).toHaveLength(123);
  });

  it('echo returns the prompt, cut at the limit with finish_reason length', () => {
    const echo = tokenizeText('one two three four');
    expect(generateEcho(echo, null)).toEqual({ tokens: echo, finishReason: 'stop' });
    expect(generateEcho(echo, 10).finishReason).toBe('stop');
    const cut = generateEcho(echo, 2);
    expect(cut.tokens.strings).toEqual(['one ', 'two ']);
    expect(cut.finishReason).toBe('length');
  });
});
