/**
 * `pd-router sim --enable-kvcache` publishes its KV events over real ZeroMQ: the topic carries
 * POD_IP and the serving port, every batch carries the next sequence number (counted from 1 for
 * the first batch published, delivered or not), and a repeated prompt stores nothing new.
 *
 * ZeroMQ drops what a PUB sends before its peer's subscription arrives, so the test never assumes
 * which batch arrives first: it identifies each received batch by its token ids. With
 * `--event-batch-size 1` and distinct prompts that fit the cache, prompt k is exactly batch k+1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KvEventSubscriber } from '../../scheduler/kvcache/events/subscriber.js';
import { decodeEventBatch } from '../../scheduler/kvcache/events/decode.js';
import type { RawKvMessage } from '../../scheduler/kvcache/events/types.js';
import { tokenizeText } from '../../src/sim/tokenizer.js';
import { startCli, type RunningProcess } from '../helpers/processes.js';
import { poll } from '../helpers/poll.js';

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  await poll(check, { what: 'the KV events', timeoutMs, intervalMs: 50 });
}

const prompt = (attempt: number) => `Attempt ${attempt}: ${'The quick brown fox jumps over the lazy dog and keeps running far away. '.repeat(6)}`;
/** The full-block prefix of a prompt's ids, as a BlockStored event carries them. */
const storedIds = (text: string) => {
  const ids = tokenizeText(text).ids;
  return ids.slice(0, Math.floor(ids.length / 16) * 16).map(Number);
};

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
    const send = (text: string) => fetch(`${sim.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'kv-model', prompt: text, max_tokens: 1 }) }).then((r) => r.json());
    const storedOf = (message: RawKvMessage) => decodeEventBatch(message.payload).events.filter((e) => e.type === 'BlockStored');
    const tokensOf = (message: RawKvMessage) => storedOf(message).flatMap((e) => (e.type === 'BlockStored' ? [...e.tokenIds] : []));
    // Send distinct prompts until the subscription is up and one batch arrives.
    let sent = 0;
    while (messages.length === 0) {
      if (sent > 40) throw new Error('no KV events arrived');
      await send(prompt(sent++));
      await until(() => messages.length > 0, 500).catch(() => undefined);
    }
    const first = messages[0]!;
    expect(first.topic).toBe(`kv@127.0.0.1:${sim.port}@kv-model`);
    expect(storedOf(first)).toHaveLength(1);
    // Whichever prompt's batch arrived first, its sequence number is its publication index.
    const firstIndex = Array.from({ length: sent }, (_, k) => k).find((k) => JSON.stringify(storedIds(prompt(k))) === JSON.stringify(tokensOf(first)));
    expect(firstIndex).toBeDefined();
    expect(first.seq).toBe(BigInt(firstIndex! + 1));

    const repeated = firstIndex!;
    const repeat = (await send(prompt(repeated))) as { usage: { prompt_tokens_details: { cached_tokens: number } } };
    expect(repeat.usage.prompt_tokens_details.cached_tokens).toBe(storedIds(prompt(repeated)).length);
    // Positive control: a fresh prompt's batch. Batches arrive in order over one connection, so
    // once it is here every earlier one is too; had the repeat stored blocks it would be sent + 2.
    const fresh = prompt(1000);
    await send(fresh);
    await until(() => messages.some((m) => JSON.stringify(tokensOf(m)) === JSON.stringify(storedIds(fresh))));
    const last = messages.at(-1)!;
    expect(JSON.stringify(tokensOf(last))).toBe(JSON.stringify(storedIds(fresh)));
    expect(last.seq).toBe(BigInt(sent + 1));
    // Everything from the first delivered batch on arrived, in sequence.
    expect(messages.map((m) => m.seq)).toEqual(messages.map((_, i) => first.seq + BigInt(i)));
    expect(messages.flatMap(storedOf)).toHaveLength(messages.length);
  });
});
