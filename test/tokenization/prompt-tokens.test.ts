/**
 * The request → tokens facade on the tiny fixture model (WordLevel, `<s>` BOS, `{role}: {content}`
 * template), whose ids are easy to write by hand; and a check that the committed fixture is what
 * its builder produces.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceBody } from '../../src/openai/types.js';
import { PromptTokenizer } from '../../src/tokenization/prompt-tokens.js';
import { buildTinyModel, TINY_MODEL, TINY_MODEL_DIR, TINY_VOCAB } from '../fixtures/tiny-model/build.js';

const ids = (...words: string[]): number[] => words.map((word) => TINY_VOCAB[word]!);

let prompts: PromptTokenizer;

beforeAll(() => {
  prompts = new PromptTokenizer({ modelDirs: { [TINY_MODEL]: TINY_MODEL_DIR } });
});

afterAll(() => prompts.close());

const tokens = async (request: InferenceBody): Promise<number[]> => [...(await prompts.tokenizeRequest(TINY_MODEL, request)).tokens];

describe('PromptTokenizer.tokenizeRequest', () => {
  it('renders chat with the template and tokenizes without adding special tokens', async () => {
    const body = { model: TINY_MODEL, messages: [{ role: 'user', content: 'hello world' }] };
    const result = await prompts.tokenizeRequest(TINY_MODEL, { api: 'chat_completions', body } as InferenceBody);
    expect(result.text).toBe('<s>user: hello world\nassistant: ');
    expect([...result.tokens]).toEqual(ids('<s>', 'user', ':', 'hello', 'world', 'assistant', ':'));
  });

  it('tokenizes completion text with special tokens and passes token ids through', async () => {
    expect(await tokens({ api: 'completions', body: { model: TINY_MODEL, prompt: 'hello you' } } as InferenceBody)).toEqual(ids('<s>', 'hello', 'you'));
    expect(await tokens({ api: 'completions', body: { model: TINY_MODEL, prompt: ['how are you', 'x'] } } as InferenceBody)).toEqual(ids('<s>', 'how', 'are', 'you'));
    expect(await tokens({ api: 'completions', body: { model: TINY_MODEL, prompt: [5, 6, 7] } } as InferenceBody)).toEqual([5, 6, 7]);
    expect(await tokens({ api: 'completions', body: { model: TINY_MODEL, prompt: [[8, 9], [1]] } } as InferenceBody)).toEqual([8, 9]);
  });

  it('renders responses input as a chat', async () => {
    const body = { model: TINY_MODEL, instructions: 'fine', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'thanks' }] }] };
    expect(await tokens({ api: 'responses', body } as InferenceBody)).toEqual(
      ids('<s>', 'system', ':', 'fine', 'user', ':', 'thanks', 'assistant', ':'),
    );
    await expect(prompts.tokenizeRequest(TINY_MODEL, { api: 'responses', body: { model: TINY_MODEL, input: [{ type: 'function_call' }] } } as InferenceBody))
      .rejects.toMatchObject({ code: 'unsupported' });
  });

  it('rejects unknown models and template errors with TokenizationErrors', async () => {
    await expect(prompts.tokenizeRequest('nope/model', { api: 'completions', body: { model: 'nope/model', prompt: 'x' } } as InferenceBody))
      .rejects.toMatchObject({ code: 'model_not_found' });
    const body = { model: TINY_MODEL, messages: [{ role: 'user', content: 'x' }], chat_template: "{{ raise_exception('bad') }}" };
    await expect(prompts.tokenizeRequest(TINY_MODEL, { api: 'chat_completions', body } as InferenceBody)).rejects.toMatchObject({ code: 'template' });
  });
});

describe('tiny fixture model', () => {
  it('is what build.ts produces', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pd-router-tiny-'));
    try {
      await buildTinyModel(dir);
      for (const file of ['tokenizer.json', 'tokenizer_config.json']) {
        const built: unknown = JSON.parse(await readFile(join(dir, file), 'utf8'));
        const committed: unknown = JSON.parse(await readFile(join(TINY_MODEL_DIR, file), 'utf8'));
        expect(committed, file).toEqual(built);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
