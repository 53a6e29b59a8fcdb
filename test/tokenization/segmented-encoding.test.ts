/**
 * Property test of the segment cache's premise with real tokenizers (Qwen3, Llama 3.1): for random
 * conversations — unicode, whitespace runs, digits, special-token look-alikes inside content —
 * cutting the rendered prompt at atomic added tokens and encoding the pieces separately (and from
 * the cache on later turns) gives exactly the ids of encoding the whole prompt in one call.
 */
import { describe, expect, it } from 'vitest';
import type { ChatCompletionsBody, ChatMessage } from '../../src/openai/types.js';
import { InProcessEncoder } from '../../src/tokenization/encoder.js';
import { LLAMA31, QWEN3 } from '../helpers/models.js';
import { seededRandom } from '../../src/random.js';
import { randomText, suitePromptTokenizers } from '../helpers/prompt-text.js';

const prng = seededRandom;

function randomConversation(next: () => number): ChatMessage[] {
  const messages: ChatMessage[] = [];
  if (next() < 0.5) messages.push({ role: 'system', content: randomText(next, 12) });
  const turns = 1 + Math.floor(next() * 4);
  for (let i = 0; i < turns; i++) {
    messages.push({ role: 'user', content: randomText(next, 20) });
    if (i < turns - 1 || next() < 0.3) messages.push({ role: 'assistant', content: randomText(next, 20) });
  }
  return messages;
}

function body(messages: ChatMessage[]): ChatCompletionsBody {
  return { model: 'm', messages } as ChatCompletionsBody;
}

const tokenizers = suitePromptTokenizers();

describe.each([QWEN3, LLAMA31])('%s', (model) => {
  it('segment-wise encoding equals whole-prompt encoding on random conversations', async () => {
    const tokenizer = await tokenizers.whole.store.get(model);
    expect(tokenizer.splitter).toBeDefined();
    // The property is not trivial: a cut inside ordinary text does change the ids.
    const [hel, lo, hello] = await tokenizer.encode(['hel', 'lo', 'hello'], false);
    expect([...hel!, ...lo!]).not.toEqual([...hello!]);
    const next = prng(model.length * 7919);
    for (let i = 0; i < 150; i++) {
      const conversation = randomConversation(next);
      const { tokens, text } = await tokenizers.whole.tokenizeRequest(model, { api: 'chat_completions', body: body(conversation) });
      const [whole] = await tokenizer.encode([text!], false);
      expect([...tokens], `conversation ${i}: ${JSON.stringify(text)}`).toEqual([...whole!]);
    }
  });

  it('chunking long runs at safe cuts equals whole-prompt encoding on random conversations', async () => {
    const tokenizer = await tokenizers.chunked.store.get(model);
    expect(tokenizer.splitter!.chunks).toBe(true);
    const next = prng(model.length * 104729);
    let cuts = 0;
    for (let i = 0; i < 300; i++) {
      const conversation = randomConversation(next);
      const { tokens, text } = await tokenizers.chunked.tokenizeRequest(model, { api: 'chat_completions', body: body(conversation) });
      cuts += tokenizer.splitter!.split(text!, 40).length - tokenizer.splitter!.split(text!).length;
      const [whole] = await tokenizer.encode([text!], false);
      expect([...tokens], `conversation ${i}: ${JSON.stringify(text)}`).toEqual([...whole!]);
    }
    expect(cuts).toBeGreaterThan(300);
  });

  it('a follow-up turn reuses cached pieces and still equals whole-prompt encoding', async () => {
    const tokenizer = await tokenizers.whole.store.get(model);
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are a careful assistant. '.repeat(20) },
      { role: 'user', content: 'Summarise the following text:\n' + 'lorem ipsum dolor sit amet '.repeat(50) },
    ];
    await tokenizers.whole.tokenizeRequest(model, { api: 'chat_completions', body: body(messages) });
    const before = tokenizers.whole.segmentCacheStats()!;
    messages.push({ role: 'assistant', content: 'It is placeholder text.' }, { role: 'user', content: 'Translate it.' });
    const { tokens, text } = await tokenizers.whole.tokenizeRequest(model, { api: 'chat_completions', body: body(messages) });
    const after = tokenizers.whole.segmentCacheStats()!;
    expect(after.hits - before.hits).toBeGreaterThanOrEqual(2);
    const [whole] = await tokenizer.encode([text!], false);
    expect([...tokens]).toEqual([...whole!]);
  });

  it('completion prompts get the special tokens the tokenizer adds (Llama: BOS), segmented or not', async () => {
    const tokenizer = await tokenizers.whole.store.get(model);
    const next = prng(42);
    for (let i = 0; i < 30; i++) {
      const prompt = randomText(next, 30);
      const { tokens } = await tokenizers.whole.tokenizeRequest(model, { api: 'completions', body: { model, prompt } as never });
      const [whole] = await tokenizer.encode([prompt], true);
      expect([...tokens], JSON.stringify(prompt)).toEqual([...whole!]);
    }
    const [bos] = await tokenizer.encode([''], true);
    expect(bos!.length).toBe(model === LLAMA31 ? 1 : 0);
  });
});

describe('encoders', () => {
  it('the in-process encoder and the worker agree', async () => {
    const tokenizer = await tokenizers.whole.store.get(QWEN3);
    const inProcess = new InProcessEncoder();
    try {
      const texts = ['<|im_start|>user\nhi there<|im_end|>', '漢字 🙂 123'];
      const viaWorker = await tokenizer.encode(texts, false);
      const direct = await inProcess.encode(tokenizer.tokenizerPath, texts, false);
      expect(direct.map((ids) => [...ids])).toEqual(viaWorker.map((ids) => [...ids]));
    } finally {
      await inProcess.close();
    }
  });
});
