/**
 * `pd-router sim --enable-kvcache` publishes its KV events over real ZeroMQ: the topic carries
 * POD_IP and the serving port, the first batch is sequence 1, and a repeated prompt stores nothing new.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvEventSubscriber } from '../../scheduler/kvcache/events/subscriber.js';
import { decodeEventBatch } from '../../scheduler/kvcache/events/decode.js';
import type { RawKvMessage } from '../../scheduler/kvcache/events/types.js';
import { startCli, type RunningProcess } from '../helpers/processes.js';

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('sim KV events over ZeroMQ (CLI)', () => {
  const messages: RawKvMessage[] = [];
  let subscriber: KvEventSubscriber;
  let sim: RunningProcess;

  beforeAll(async () => {
    subscriber = new KvEventSubscriber({ onMessage: (message) => { messages.push(message); } });
    const endpoint = await subscriber.bind('tcp://127.0.0.1:*');
    sim = await startCli(['sim', '--port', '0', '--host', '127.0.0.1', '--model', 'kv-model', '--enable-kvcache', '--block-size', '16', '--zmq-endpoint', endpoint, '--event-batch-size', '1'], { env: { POD_IP: '127.0.0.1' } });
  });
  afterAll(async () => {
    await sim?.stop();
    await subscriber?.close();
  });

  it('publishes BlockStored for new blocks with the vLLM topic and sequence numbers', async () => {
    const prompt = (attempt: number) => `Attempt ${attempt}: ${'The quick brown fox jumps over the lazy dog and keeps running far away. '.repeat(6)}`;
    const send = (text: string) => fetch(`${sim.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'kv-model', prompt: text, max_tokens: 1 }) }).then((r) => r.json());
    // The PUB socket connects asynchronously and ZeroMQ drops what is published before that:
    // send distinct prompts until one's events arrive, then repeat that prompt.
    let attempt = 0;
    for (; messages.length === 0; attempt++) {
      await send(prompt(attempt));
      await until(() => messages.length > 0, 500).catch(() => undefined);
      if (attempt > 40) throw new Error('no KV events arrived');
    }
    const first = messages[0]!;
    expect(first.topic).toBe(`kv@127.0.0.1:${sim.port}@kv-model`);
    expect(first.seq).toBe(1n);
    expect(decodeEventBatch(first.payload).events[0]!.type).toBe('BlockStored');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const countBefore = messages.length;
    const repeat = (await send(prompt(attempt - 1))) as { usage: { prompt_tokens_details: { cached_tokens: number } } };
    expect(repeat.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
    // A fresh prompt stores new blocks; the fully cached repeat stored none.
    await send(prompt(1000));
    await until(() => messages.length > countBefore);
    const stored = messages.slice(countBefore).flatMap((m) => decodeEventBatch(m.payload).events).filter((e) => e.type === 'BlockStored');
    expect(stored).toHaveLength(1);
    expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => BigInt(i + 1)));
  });
});
