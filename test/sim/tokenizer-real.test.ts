/**
 * `pd-router sim --tokenizer <dir>` with the real Qwen3 tokenizer and chat template: the ids the
 * simulator counts, caches and publishes are exactly what the shared PromptTokenizer (the one a
 * precise prefix-cache router uses) produces for the same request; a bad directory fails the start.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEventBatch } from '../../scheduler/kvcache/events/decode.js';
import { KvEventSubscriber } from '../../scheduler/kvcache/events/subscriber.js';
import type { BlockStoredEvent, RawKvMessage } from '../../scheduler/kvcache/events/types.js';
import type { ChatCompletionsBody } from '../../src/openai/types.js';
import { PromptTokenizer } from '../../src/tokenization/prompt-tokens.js';
import { ensureModels, QWEN3 } from '../helpers/models.js';
import { CLI, startCli, type RunningProcess } from '../helpers/processes.js';
import { postJson } from './helpers.js';

const SYSTEM = 'You are a meticulous assistant. Answer briefly, cite nothing, and never use emojis. ';

function conversation(attempt: number): ChatCompletionsBody {
  return {
    model: QWEN3,
    messages: [
      // The user turn opens the prompt so each attempt's first block differs (all its blocks are new).
      { role: 'user', content: `Attempt ${attempt}: ${SYSTEM.repeat(3)}Which rivers cross Berlin, and what is the longest one?` },
      { role: 'assistant', content: 'The Spree and the Havel; the Havel is longer.' },
      { role: 'user', content: 'Thanks! How long is it, roughly — and where does it rise?' },
    ],
    chat_template_kwargs: { enable_thinking: false },
  } as ChatCompletionsBody;
}

describe('pd-router sim --tokenizer (Qwen3)', () => {
  const messages: RawKvMessage[] = [];
  let modelDir: string;
  let prompts: PromptTokenizer;
  let subscriber: KvEventSubscriber;
  let sim: RunningProcess;
  const expected = async (body: ChatCompletionsBody): Promise<number[]> =>
    [...(await prompts.tokenizeRequest(QWEN3, { api: 'chat_completions', body })).tokens];

  beforeAll(async () => {
    const cache = await ensureModels();
    modelDir = join(cache, 'models--Qwen--Qwen3-0.6B');
    prompts = new PromptTokenizer({ searchDirs: [cache] });
    subscriber = new KvEventSubscriber({ onMessage: (message) => { messages.push(message); } });
    const endpoint = await subscriber.bind('tcp://127.0.0.1:*');
    sim = await startCli([
      'sim', '--port', '0', '--host', '127.0.0.1', '--model', QWEN3, '--tokenizer', modelDir, '--max-model-len', '4096',
      '--enable-kvcache', '--block-size', '16', '--zmq-endpoint', endpoint, '--event-batch-size', '1',
    ], { env: { POD_IP: '127.0.0.1' } });
  });
  afterAll(async () => {
    await sim?.stop();
    await subscriber?.close();
    await prompts?.close();
  });

  it('/tokenize and usage.prompt_tokens equal what PromptTokenizer produces', async () => {
    const body = conversation(-1);
    const ids = await expected(body);
    expect(ids.length).toBeGreaterThan(64);
    const tokenized = await postJson(sim.url, '/tokenize', { model: QWEN3, messages: body.messages, chat_template_kwargs: { enable_thinking: false } });
    expect(tokenized.status).toBe(200);
    expect(tokenized.body).toMatchObject({ count: ids.length, tokens: ids, max_model_len: 4096 });

    const text = 'Hello, world! Tokenizers split text into sub-word pieces.';
    const textIds = [...(await prompts.tokenizeText(QWEN3, text, true))];
    expect((await postJson(sim.url, '/tokenize', { model: QWEN3, prompt: text })).body.tokens).toEqual(textIds);

    const answer = await postJson(sim.url, '/v1/chat/completions', { ...body, max_tokens: 4 });
    expect(answer.status).toBe(200);
    expect(answer.body.usage.prompt_tokens).toBe(ids.length);
    const completion = await postJson(sim.url, '/v1/completions', { model: QWEN3, prompt: text, max_tokens: 2 });
    expect(completion.body.usage.prompt_tokens).toBe(textIds.length);
  });

  it('caches floor(n/16)·16 tokens on a repeat and publishes the real token ids', async () => {
    const send = (body: ChatCompletionsBody) => postJson(sim.url, '/v1/chat/completions', { ...body, max_tokens: 2 });
    // ZeroMQ drops what is published before the PUB socket has connected: send fresh
    // conversations until one's BlockStored arrives.
    let attempt = 0;
    let stored: BlockStoredEvent[] = [];
    for (; stored.length === 0; attempt++) {
      if (attempt > 40) throw new Error('no KV events arrived');
      const before = messages.length;
      const first = await send(conversation(attempt));
      expect(first.body.usage.prompt_tokens_details.cached_tokens).toBe(0);
      const deadline = Date.now() + 500;
      while (messages.length === before && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      stored = messages.slice(before).flatMap((m) => decodeEventBatch(m.payload).events).filter((e): e is BlockStoredEvent => e.type === 'BlockStored');
    }
    const body = conversation(attempt - 1);
    const ids = await expected(body);
    const full = Math.floor(ids.length / 16) * 16;
    expect(stored).toHaveLength(1);
    expect(stored[0]!.blockSize).toBe(16);
    expect([...stored[0]!.tokenIds]).toEqual(ids.slice(0, full));
    expect(stored[0]!.parentBlockHash).toBeNull();

    const repeat = await send(body);
    expect(repeat.body.usage.prompt_tokens).toBe(ids.length);
    expect(repeat.body.usage.prompt_tokens_details.cached_tokens).toBe(full);
  });

  it('fails at start with a clear message when the directory is missing or has no tokenizer', () => {
    const base = [CLI, 'sim', '--port', '0', '--host', '127.0.0.1', '--model', QWEN3];
    const missing = spawnSync(process.execPath, [...base, '--tokenizer', '/no/such/tokenizer-dir'], { encoding: 'utf8' });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('tokenizer: directory "/no/such/tokenizer-dir" does not exist');
    const empty = mkdtempSync(join(tmpdir(), 'sim-tokenizer-'));
    try {
      const noFile = spawnSync(process.execPath, [...base, '--tokenizer', empty], { encoding: 'utf8' });
      expect(noFile.status).toBe(1);
      expect(noFile.stderr).toContain(`tokenizer: no tokenizer.json in "${empty}"`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
