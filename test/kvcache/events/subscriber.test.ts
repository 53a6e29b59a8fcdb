/** The SUB side on real sockets: frame validation, global bind, per-endpoint add/replace/remove. */
import { afterEach, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Publisher } from 'zeromq';
import { Registry } from 'prom-client';
import { KvEventSubscriber, podEventsEndpoint } from '../../../scheduler/kvcache/events/subscriber.js';
import type { RawKvMessage } from '../../../scheduler/kvcache/events/types.js';
import { KvCacheMetrics } from '../../../scheduler/kvcache/index/metrics.js';
import { metricValue, payload, waitFor } from './helpers.js';

const owned: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const resource of owned.splice(0).reverse()) await resource.close();
});

function seqFrame(seq: number, bytes = 8): Buffer {
  const frame = Buffer.alloc(8);
  frame.writeBigUInt64BE(BigInt(seq));
  return frame.subarray(8 - bytes);
}

async function boundPublisher(): Promise<{ pub: Publisher; endpoint: string }> {
  const pub = new Publisher({ linger: 0 });
  owned.push(pub);
  await pub.bind('tcp://127.0.0.1:*');
  return { pub, endpoint: pub.lastEndpoint! };
}

/** Publishes `marker` messages until the subscriber has seen one (ZeroMQ's slow joiner). */
async function untilSubscribed(pub: Publisher, received: RawKvMessage[], topic = 'kv@p:1@m'): Promise<void> {
  let n = 0;
  await waitFor(async () => {
    await pub.send([topic, seqFrame(++n), Buffer.from('warm-up')]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    return received.some((message) => message.topic === topic);
  }, 'the subscription to reach the publisher');
}

function newSubscriber(extra: Partial<ConstructorParameters<typeof KvEventSubscriber>[0]> = {}) {
  const registry = new Registry();
  const metrics = new KvCacheMetrics(registry);
  const received: RawKvMessage[] = [];
  const subscriber = new KvEventSubscriber({ metrics, onMessage: (message) => received.push(message), ...extra });
  owned.push(subscriber);
  return { subscriber, received, registry };
}

describe('KvEventSubscriber frames', () => {
  it('passes 3-frame messages on with the BE sequence; drops short sequence frames and wrong frame counts', async () => {
    const { subscriber, received, registry } = newSubscriber();
    const { pub, endpoint } = await boundPublisher();
    subscriber.setEndpoint('pod-a', endpoint);
    await untilSubscribed(pub, received);

    const body = payload([['AllBlocksCleared']]);
    await pub.send(['kv@10.0.0.1:8000@m', seqFrame(77, 4), body]); // short seq frame
    await pub.send(['kv@10.0.0.1:8000@m', seqFrame(78)]); // 2 frames
    await pub.send(['kv@10.0.0.1:8000@m', seqFrame(79), body, Buffer.from('extra')]); // 4 frames
    await pub.send(['kv@10.0.0.1:8000@m', seqFrame(2 ** 40 + 3), body]);
    await waitFor(() => received.some((m) => m.topic === 'kv@10.0.0.1:8000@m'), 'the valid message');

    const valid = received.filter((m) => m.topic === 'kv@10.0.0.1:8000@m');
    expect(valid).toHaveLength(1);
    expect(valid[0]).toMatchObject({ seq: 2n ** 40n + 3n, source: 'pod-a' });
    expect(Buffer.from(valid[0]!.payload)).toEqual(Buffer.from(body));
    expect(await metricValue(registry, 'llm_d_kv_cache_events_dropped_total', { reason: 'bad_sequence' })).toBe(1);
    expect(await metricValue(registry, 'llm_d_kv_cache_events_dropped_total', { reason: 'bad_frames' })).toBe(2);
  });

  it('a message past maxMessageBytes is never delivered (ZeroMQ drops the peer before reading it); the reconnected stream goes on', async () => {
    const { subscriber, received } = newSubscriber({ maxMessageBytes: 4096, retryIntervalMs: 200 });
    const { pub, endpoint } = await boundPublisher();
    subscriber.setEndpoint('pod-a', endpoint);
    await untilSubscribed(pub, received);
    await pub.send(['kv@big:1@m', seqFrame(1), Buffer.alloc(64 * 1024, 0x90)]);
    // ZeroMQ does not reconnect after dropping a peer itself: the subscriber replaces the socket.
    await untilSubscribed(pub, received, 'kv@after:1@m');
    expect(received.some((message) => message.topic === 'kv@big:1@m')).toBe(false);
    expect(received.every((message) => message.payload.length <= 4096)).toBe(true);
  });

  it('follows 400 pods (three ZeroMQ sockets each: past the default context\'s 1023) without throwing', async () => {
    const { subscriber, received } = newSubscriber();
    for (let i = 0; i < 400; i++) subscriber.setEndpoint(`pod-${i}`, `tcp://127.0.0.1:${20000 + i}`);
    expect(subscriber.endpoints().size).toBe(400);
    // The last one still works end to end.
    const { pub, endpoint } = await boundPublisher();
    subscriber.setEndpoint('pod-399', endpoint);
    await untilSubscribed(pub, received);
  });

  it('subscribes to the topic filter only', async () => {
    const { subscriber, received } = newSubscriber({ topicFilter: 'kv@' });
    const { pub, endpoint } = await boundPublisher();
    subscriber.setEndpoint('pod-a', endpoint);
    await untilSubscribed(pub, received);
    await pub.send(['other@x@m', seqFrame(1), Buffer.from('x')]);
    await pub.send(['kv@last@m', seqFrame(2), Buffer.from('x')]);
    await waitFor(() => received.some((m) => m.topic === 'kv@last@m'), 'the kv message');
    expect(received.some((m) => m.topic.startsWith('other'))).toBe(false);
  });
});

describe('KvEventSubscriber modes', () => {
  it('global mode binds and reports the resolved address; publishers connect to it', async () => {
    const { subscriber, received } = newSubscriber();
    const endpoint = await subscriber.bind('tcp://127.0.0.1:*');
    expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const pub = new Publisher({ linger: 0 });
    owned.push(pub);
    pub.connect(endpoint);
    await untilSubscribed(pub, received);
    expect(received[0]!.source).toBe('global');
  });

  it('per-endpoint mode: same address is a no-op, a new address replaces the socket, remove closes it', async () => {
    const { subscriber, received } = newSubscriber();
    const first = await boundPublisher();
    const second = await boundPublisher();
    subscriber.setEndpoint('pod-a', first.endpoint);
    subscriber.setEndpoint('pod-a', first.endpoint);
    expect(subscriber.endpoints()).toEqual(new Map([['pod-a', first.endpoint]]));
    await untilSubscribed(first.pub, received, 'kv@first@m');

    subscriber.setEndpoint('pod-a', second.endpoint); // the pod moved
    expect(subscriber.endpoints()).toEqual(new Map([['pod-a', second.endpoint]]));
    await untilSubscribed(second.pub, received, 'kv@second@m');
    const before = received.length;
    await first.pub.send(['kv@stale@m', seqFrame(1), Buffer.from('x')]);
    await second.pub.send(['kv@fresh@m', seqFrame(1), Buffer.from('x')]);
    await waitFor(() => received.some((m) => m.topic === 'kv@fresh@m'), 'the new endpoint');
    expect(received.slice(before).some((m) => m.topic === 'kv@stale@m')).toBe(false);

    subscriber.removeEndpoint('pod-a');
    subscriber.removeEndpoint('never-added');
    expect(subscriber.endpoints().size).toBe(0);
  });

  it('retries a connect that fails outright, and close() stops the retries', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
    const { subscriber } = newSubscriber({ retryIntervalMs: 5, logger });
    subscriber.setEndpoint('broken', 'bogus://nowhere');
    await waitFor(() => lines.filter((line) => line.includes('connect failed')).length >= 2, 'a retried connect');
    await subscriber.close();
    expect(() => subscriber.setEndpoint('x', 'tcp://127.0.0.1:1')).toThrow(/closed/);
  });

  it('builds pod endpoints, bracketing IPv6', () => {
    expect(podEventsEndpoint('10.0.0.7')).toBe('tcp://10.0.0.7:5557');
    expect(podEventsEndpoint('fd00::7', 6000)).toBe('tcp://[fd00::7]:6000');
  });
});
