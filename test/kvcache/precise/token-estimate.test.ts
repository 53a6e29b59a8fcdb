/**
 * The bytes-per-token estimate of untokenized prompt tails: learning rules, and its error on real
 * text (this repository's docs, Qwen3 and Llama 3.1) once it has learned from other real text.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromptTokenizer } from '../../../src/tokenization/prompt-tokens.js';
import { BytesPerToken, DEFAULT_BYTES_PER_TOKEN } from '../../../scheduler/kvcache/precise/token-estimate.js';
import { ensureModels, LLAMA31, QWEN3 } from '../../helpers/models.js';

describe('BytesPerToken', () => {
  it('starts at 4 bytes/token; the first usable sample replaces it; later ones move it part way', () => {
    const ratios = new BytesPerToken();
    expect(ratios.estimate('m', 4000)).toBe(1000);
    expect(ratios.ratio('m')).toBe(DEFAULT_BYTES_PER_TOKEN);
    // 3000 bytes were 1000 tokens (+ 50 known): 3 bytes/token.
    const sample = ratios.observe({ model: 'm', knownTokens: 50, restBytes: 3000, estimated: 750 }, 1050);
    expect(sample).toEqual({ model: 'm', error: -0.25, actualTokens: 1000 });
    expect(ratios.ratio('m')).toBe(3);
    ratios.observe({ model: 'm', knownTokens: 0, restBytes: 5000, estimated: 1667 }, 1000); // 5 bytes/token
    expect(ratios.ratio('m')).toBeGreaterThan(3);
    expect(ratios.ratio('m')).toBeLessThan(5);
    expect(ratios.ratio('other')).toBe(DEFAULT_BYTES_PER_TOKEN);
  });

  it('ignores samples that are too small or implausible', () => {
    const ratios = new BytesPerToken();
    expect(ratios.observe({ model: 'm', knownTokens: 100, restBytes: 100, estimated: 25 }, 130)).toBeUndefined(); // 30 tokens
    expect(ratios.observe({ model: 'm', knownTokens: 0, restBytes: 100_000, estimated: 25_000 }, 100)).toBeUndefined(); // 1000 bytes/token
    expect(ratios.ratio('m')).toBe(DEFAULT_BYTES_PER_TOKEN);
  });
});

const DOCS = fileURLToPath(new URL('../../../docs/', import.meta.url));

describe.each([QWEN3, LLAMA31])('estimate error on real text (%s)', (model) => {
  let prompts: PromptTokenizer;
  beforeAll(async () => {
    prompts = new PromptTokenizer({ searchDirs: [await ensureModels()] });
  });
  afterAll(() => prompts.close());

  it('after learning from some documents, the others are estimated within 25%', async () => {
    const files = readdirSync(DOCS).filter((name) => name.endsWith('.md')).sort();
    expect(files.length).toBeGreaterThanOrEqual(6);
    // 8 KB slices: tails of the size the walk leaves untokenized.
    const slices = files.map((name) => readFileSync(DOCS + name, 'utf8').slice(0, 8192));
    const ratios = new BytesPerToken();
    const learn = slices.slice(0, 3);
    for (const slice of learn) {
      const tokens = (await prompts.tokenizeText(model, slice, false)).length;
      const bytes = Buffer.byteLength(slice);
      ratios.observe({ model, knownTokens: 0, restBytes: bytes, estimated: ratios.estimate(model, bytes) }, tokens);
    }
    expect(ratios.ratio(model)).not.toBe(DEFAULT_BYTES_PER_TOKEN);
    for (const slice of slices.slice(3)) {
      const tokens = (await prompts.tokenizeText(model, slice, false)).length;
      const estimated = ratios.estimate(model, Buffer.byteLength(slice));
      expect(Math.abs(estimated / tokens - 1), slice.slice(0, 40)).toBeLessThan(0.25);
    }
  });
});
