/**
 * endpoint-notification-source: endpoint store membership changes → add/delete events → the
 * extractors wired under it. The precise prefix-cache producer follows them with real ZeroMQ
 * sockets (added → subscribed, removed → socket closed and index entries cleared).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blockKeys, rootKey } from '../../../../src/kvblock/keys.js';
import { ZmqKvEventPublisher, kvEventsTopic } from '../../../../src/sim/kv-events-publisher.js';
import { loadEndpointPickerConfig, type LoadedConfig } from '../../../../scheduler/config/loader.js';
import { diffEndpoints } from '../../../../scheduler/datalayer/endpoint-events.js';
import { EndpointStore } from '../../../../scheduler/datalayer/store.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import type { InFlightLoadProducer } from '../../../../scheduler/plugins/producers/inflight-load-producer.js';
import type { MmEmbeddingsCacheProducer } from '../../../../scheduler/plugins/producers/mm-embeddings-cache-producer.js';
import type { PrecisePrefixCacheProducer } from '../../../../scheduler/plugins/producers/precise-prefix-cache-producer.js';
import { range, waitFor } from '../../../kvcache/events/helpers.js';
import { makeContext, makeEndpoint, makeRequest, makeResult, silentLogger } from '../../helpers.js';
import { freePort } from '../../../../src/http/free-port.js';

const MODEL = 'test-model';
const BLOCK = 4;
const TOKENS = range(1, 8);
const KEYS = blockKeys(TOKENS, BLOCK, rootKey('', MODEL));

const loaded: LoadedConfig[] = [];
afterEach(async () => {
  await Promise.all(loaded.splice(0).map((config) => config.close()));
});

function load(yaml: string, store: EndpointStore): LoadedConfig {
  const config = loadEndpointPickerConfig(`apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n${yaml.trimStart()}`, {
    registry: createDefaultRegistry(), logger: silentLogger, endpoints: () => store.list(), endpointChanges: (listener) => store.onChange(listener),
  });
  loaded.push(config);
  return config;
}

const pod = (name: string, address: string) => ({ name, address, port: 8000 });

describe('diffEndpoints', () => {
  it('deletes the departed (the old object), then adds the new and the changed', () => {
    const a = makeEndpoint({ name: 'a' });
    const b = makeEndpoint({ name: 'b' });
    const b2 = makeEndpoint({ name: 'b' });
    const c = makeEndpoint({ name: 'c' });
    const events = diffEndpoints(new Map([['a', a], ['b', b]]), [b2, c]);
    expect(events).toEqual([{ type: 'delete', endpoint: a }, { type: 'addOrUpdate', endpoint: b2 }, { type: 'addOrUpdate', endpoint: c }]);
    expect(diffEndpoints(new Map([['b', b]]), [b])).toEqual([]);
  });
});

describe('precise-prefix-cache-producer under endpoint-notification-source (real ZeroMQ)', () => {
  let port: number;
  beforeAll(async () => {
    port = await freePort();
  });

  it('an added endpoint is subscribed at once; a removed one is closed and its blocks forgotten', async () => {
    const store = new EndpointStore();
    store.replaceAll([pod('pod-a', '127.0.0.2')]);
    const config = load(`
plugins:
- type: endpoint-notification-source
- type: precise-prefix-cache-producer
  parameters:
    tokenProcessorConfig: {blockSize: ${BLOCK}}
    tokenizer: {type: simulated}
    kvEventsConfig: {podDiscoveryConfig: {socketPort: ${port}}}
- type: prefix-cache-scorer
  parameters: {prefixMatchInfoProducerName: precise-prefix-cache-producer}
dataLayer:
  sources:
  - pluginRef: endpoint-notification-source
    extractors: [{pluginRef: precise-prefix-cache-producer}]
`, store);
    const producer = config.plugins.get('precise-prefix-cache-producer') as PrecisePrefixCacheProducer;
    await producer.start();
    const subscriber = producer.cache.writePath!.subscriber;
    expect([...subscriber.endpoints()]).toEqual([['127.0.0.2', `tcp://127.0.0.2:${port}`]]);

    // The events are what subscribes: no request, no poll.
    store.replaceAll([pod('pod-a', '127.0.0.2'), pod('pod-b', '127.0.0.3')]);
    expect([...subscriber.endpoints().keys()]).toEqual(['127.0.0.2', '127.0.0.3']);

    const publisher = await ZmqKvEventPublisher.open({ endpoint: `tcp://127.0.0.2:${port}`, bind: true, topic: kvEventsTopic('127.0.0.2', 8000, MODEL), flushIntervalMs: 10 });
    try {
      const index = producer.cache.index!;
      // PUB drops messages until the SUB has connected: republish (idempotent) until indexed.
      await waitFor(async () => {
        publisher.blockStored({ type: 'BlockStored', blockHashes: KEYS, parentBlockHash: null, tokenIds: TOKENS, blockSize: BLOCK, loraId: null, loraName: null, medium: 'GPU' });
        publisher.flush();
        await new Promise((resolve) => setTimeout(resolve, 20));
        return (await index.lookup(KEYS))[0]?.some((entry) => entry.pod === '127.0.0.2:8000') === true;
      }, 'pod a\'s events');
      await publisher.close();

      store.replaceAll([pod('pod-b', '127.0.0.3')]);
      expect([...subscriber.endpoints().keys()]).toEqual(['127.0.0.3']);
      await waitFor(async () => (await index.lookup(KEYS)).length === 0, 'pod a\'s blocks cleared');

      store.replaceAll([]); // the events are authoritative: an empty pool closes every socket
      expect(subscriber.endpoints().size).toBe(0);
    } finally {
      await publisher.close();
    }
  });

  it('the scorer form and the producer ignore events with a bound socket (zmqEndpoint)', async () => {
    const store = new EndpointStore();
    store.replaceAll([pod('pod-a', '127.0.0.2')]);
    const config = load(`
plugins:
- type: endpoint-notification-source
- type: precise-prefix-cache-scorer
  parameters: {tokenizer: {type: simulated}, kvEventsConfig: {zmqEndpoint: "tcp://127.0.0.1:0"}}
dataLayer:
  sources:
  - pluginRef: endpoint-notification-source
    extractors: [{pluginRef: precise-prefix-cache-scorer}]
`, store);
    const scorer = config.plugins.get('precise-prefix-cache-scorer') as PrecisePrefixCacheProducer;
    await scorer.start();
    expect(scorer.cache.writePath!.subscriber.endpoints().size).toBe(0);
  });
});

describe('mm-embeddings-cache-producer under endpoint-notification-source', () => {
  it('forgets a removed endpoint\'s encoder cache at once', () => {
    const store = new EndpointStore();
    store.replaceAll([pod('pod-a', '10.1.0.1')]);
    const config = load(`
plugins:
- type: endpoint-notification-source
- type: mm-embeddings-cache-producer
- type: mm-embeddings-cache-scorer
dataLayer:
  sources:
  - pluginRef: endpoint-notification-source
    extractors: [{pluginRef: mm-embeddings-cache-producer}]
`, store);
    const producer = config.plugins.get('mm-embeddings-cache-producer') as MmEmbeddingsCacheProducer;
    const a = store.list()[0]!;
    const request = makeRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }] });
    const matched = (): number => {
      const ctx = makeContext([a]);
      producer.produce(ctx, request, [a]);
      return (ctx.attributes.get(a, 'MultiModalEncoderCacheMatchInfoKey') as { matchedItems: unknown[] }).matchedItems.length;
    };
    const ctx = makeContext([a]);
    producer.produce(ctx, request, [a]);
    producer.preRequest(ctx, request, makeResult({ default: [a] }));
    expect(matched()).toBe(1);
    store.replaceAll([]);
    store.replaceAll([pod('pod-a', '10.1.0.1')]);
    expect(matched()).toBe(0);
  });
});

describe('inflight-load-producer under endpoint-notification-source', () => {
  it('drops a removed endpoint\'s counters at once', () => {
    const store = new EndpointStore();
    store.replaceAll([pod('pod-a', '10.1.0.1'), pod('pod-b', '10.1.0.2')]);
    const config = load(`
plugins:
- type: endpoint-notification-source
- type: inflight-load-producer
dataLayer:
  sources:
  - pluginRef: endpoint-notification-source
    extractors: [{pluginRef: inflight-load-producer}]
`, store);
    const producer = config.plugins.get('inflight-load-producer') as InFlightLoadProducer;
    const [a] = store.list();
    const ctx = makeContext([a!]);
    const request = makeRequest({ model: 'm', prompt: 'x'.repeat(400) });
    producer.produce(ctx, request, [a!]);
    producer.preRequest(ctx, request, makeResult({ default: [a!] }));
    expect(producer.get('pod-a').requests).toBe(1);
    store.replaceAll([pod('pod-b', '10.1.0.2')]);
    expect(producer.get('pod-a').requests).toBe(0);
  });
});

describe('wiring errors name the YAML path', () => {
  const store = new EndpointStore();
  const cases: Array<[string, string, string]> = [
    ['not listed under dataLayer', 'plugins:\n- type: endpoint-notification-source\n', 'plugins[0]'],
    ['listed without extractors', 'plugins:\n- type: endpoint-notification-source\ndataLayer:\n  sources:\n  - pluginRef: endpoint-notification-source\n', 'dataLayer.sources[0]'],
    ['an extractor that takes no endpoint events', 'plugins:\n- type: endpoint-notification-source\n- type: queue-scorer\ndataLayer:\n  sources:\n  - pluginRef: endpoint-notification-source\n    extractors: [{pluginRef: queue-scorer}]\n', 'dataLayer.sources[0].extractors[0].pluginRef'],
    ['parameters', 'plugins:\n- type: endpoint-notification-source\n  parameters: {x: 1}\n', 'plugins[0].parameters.x'],
  ];
  for (const [what, yaml, path] of cases) {
    it(what, () => {
      expect(() => load(yaml, store)).toThrow(path);
    });
  }
});
