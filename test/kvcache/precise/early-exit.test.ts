/**
 * The prefix walk with real tokenizers (Qwen3, Llama 3.1): tokenizing and hashing batch by batch
 * and stopping at the first block no pod holds produces, for every block it produces, exactly the
 * key a whole-prompt tokenization gives — and it does stop early on a long uncached prompt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockKeys, rootKey } from '../../../src/kvblock/keys.js';
import type { ChatCompletionsBody, ChatMessage, InferenceBody } from '../../../src/openai/types.js';
import { PromptTokenizer } from '../../../src/tokenization/prompt-tokens.js';
import { readAll } from '../../../src/tokenization/token-stream.js';
import { MemoryKvBlockIndex } from '../../../scheduler/kvcache/index/memory-index.js';
import { DEFAULT_TIER_WEIGHTS } from '../../../scheduler/kvcache/index/longest-prefix.js';
import { walkPrefix } from '../../../scheduler/kvcache/precise/read-path.js';
import { ensureModels, LLAMA31, QWEN3 } from '../../helpers/models.js';
import { seededRandom } from '../../../src/random.js';

const BLOCK = 16;
const POD = '10.0.0.1:8000';

const prng = seededRandom;

const FRAGMENTS = [
  'hello', ' world', 'The quick brown fox', ' jumps over', '\n', '\n\n', '  ', '\t', '123', '3.14', "don't", 'ünïcödé',
  '漢字かな', '🙂', '<|im_start|>', '<|eot_id|>', '<|im_', '```ts\nconst x = 1;\n```', '{"a": [1, 2]}', ' - ', 'x'.repeat(40),
  '\r\n', " 's", '\n-', '\n1', 'a b c', 'Section 4.2 of the agreement', ' shall apply.',
];

function text(next: () => number, parts: number): string {
  let out = '';
  for (let i = 0; i < parts; i++) out += FRAGMENTS[Math.floor(next() * FRAGMENTS.length)]!;
  return out;
}

function conversation(next: () => number, model: string): InferenceBody {
  const messages: ChatMessage[] = [{ role: 'system', content: text(next, 40) }];
  const turns = 1 + Math.floor(next() * 4);
  for (let i = 0; i < turns; i++) {
    messages.push({ role: 'user', content: text(next, 20 + Math.floor(next() * 300)) });
    if (i < turns - 1) messages.push({ role: 'assistant', content: text(next, 30) });
  }
  return { api: 'chat_completions', body: { model, messages } as ChatCompletionsBody };
}

describe.each([QWEN3, LLAMA31])('%s', (model) => {
  let prompts: PromptTokenizer;
  beforeAll(async () => {
    prompts = new PromptTokenizer({ searchDirs: [await ensureModels()], chunkChars: 128 });
  });
  afterAll(() => prompts.close());

  it('streamed chunks concatenate to the whole-prompt ids (chat and completions)', async () => {
    const next = prng(7);
    for (let i = 0; i < 15; i++) {
      const body = i % 3 === 2
        ? { api: 'completions', body: { model, prompt: text(next, 200) } } as InferenceBody
        : conversation(next, model);
      const whole = (await prompts.tokenizeRequest(model, body)).tokens;
      expect([...(await readAll(await prompts.streamRequest(model, body, 64)))]).toEqual([...whole]);
    }
  });

  it('every key the early-exit walk produces equals the whole-prompt key; it stops after the first miss', async () => {
    const next = prng(11);
    const root = rootKey('', model);
    for (let i = 0; i < 20; i++) {
      const body = conversation(next, model);
      const whole = (await prompts.tokenizeRequest(model, body)).tokens;
      const keys = blockKeys(whole, BLOCK, root);
      const cached = Math.floor(next() * (keys.length + 1));
      const index = new MemoryKvBlockIndex();
      if (cached > 0) await index.add(null, keys.slice(0, cached), [{ pod: POD, tier: 'gpu' }]);
      const walk = await walkPrefix(index, model, await prompts.streamRequest(model, body, 64), {
        blockSize: BLOCK, root, endpointKeys: [POD], weights: DEFAULT_TIER_WEIGHTS, estimateRest: (rest) => rest.knownTokens + Math.round(rest.textBytes / 4),
      });
      expect(walk.keys).toEqual(keys.slice(0, walk.keys.length));
      expect(walk.keys.length).toBeGreaterThanOrEqual(Math.min(cached + 1, keys.length));
      expect(walk.cachedBlocks.get(POD) ?? 0).toBe(cached);
      if (walk.keys.length === keys.length) expect(walk.exactTokens).toBe(whole.length);
      else expect(walk.exactTokens).toBeLessThan(whole.length);
      await index.close();
    }
  });

  it('a long uncached document is mostly estimated, not tokenized; the estimate is close', async () => {
    const next = prng(5);
    const document = text(next, 3000);
    const body: InferenceBody = { api: 'chat_completions', body: { model, messages: [{ role: 'user', content: document }] } as ChatCompletionsBody };
    // A separate tokenizer for the reference: text seen before costs nothing to the walk (segment cache).
    const reference = new PromptTokenizer({ searchDirs: [await ensureModels()], segmentCacheBytes: 0 });
    const whole = (await reference.tokenizeRequest(model, body)).tokens;
    await reference.close();
    const index = new MemoryKvBlockIndex();
    const walk = await walkPrefix(index, model, await prompts.streamRequest(model, body), {
      blockSize: BLOCK, root: rootKey('', model), endpointKeys: [POD], weights: DEFAULT_TIER_WEIGHTS,
      estimateRest: (rest) => rest.knownTokens + Math.round(rest.textBytes * (whole.length / Buffer.byteLength(document))),
    });
    expect(walk.exactTokens).toBeLessThan(whole.length / 4);
    expect(walk.restBytes).toBeGreaterThan(Buffer.byteLength(document) / 2);
    expect(Math.abs(walk.exactTokens + walk.estimatedTokens - whole.length) / whole.length).toBeLessThan(0.1);
    await index.close();
  });
});
