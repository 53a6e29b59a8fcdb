/** mm-embeddings-cache-producer + -scorer: item extraction, per-endpoint LRU learning, the score's edges. */
import { describe, expect, it } from 'vitest';
import { mmEmbeddingsCacheProducerFactory, multimodalItems, type MmEmbeddingsCacheProducer } from '../../../scheduler/plugins/producers/mm-embeddings-cache-producer.js';
import { encoderCacheScore, mmEmbeddingsCacheScorerFactory, type MmEmbeddingsCacheScorer } from '../../../scheduler/plugins/scorers/mm-embeddings-cache-scorer.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, makeRequest, makeResult, scoresByName } from '../helpers.js';

const image = (url: string) => ({ type: 'image_url', image_url: { url } });
const mmRequest = (...urls: string[]) => makeRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, ...urls.map(image)] }] });

describe('mm-embeddings-cache', () => {
  it('extracts distinct media items from chat content parts only', () => {
    expect(multimodalItems(mmRequest('http://x/a.png', 'http://x/a.png', 'http://x/b.png'))).toHaveLength(2);
    expect(multimodalItems(chatRequest('text only'))).toEqual([]);
    const audio = makeRequest({ model: 'm', messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] });
    expect(multimodalItems(audio).map((i) => i.modality)).toEqual(['audio']);
  });

  it('scores the share of items the endpoint encoded recently, learning from the primary target', async () => {
    const [a, b] = ['a', 'b'].map((name) => makeEndpoint({ name }));
    const handle = makeHandle({ endpoints: [a!, b!] });
    const producer = mmEmbeddingsCacheProducerFactory('mm', { cacheSizeInMBPerServer: 4 }, handle) as MmEmbeddingsCacheProducer; // 2 entries
    const scorer = mmEmbeddingsCacheScorerFactory('s', {}, handle) as MmEmbeddingsCacheScorer;
    const run = async (request: ReturnType<typeof mmRequest>, target?: typeof a) => {
      const ctx = makeContext([a!, b!]);
      producer.produce(ctx, request, [a!, b!]);
      const scores = scoresByName(await scorer.score(ctx, request, [a!, b!]));
      if (target) producer.preRequest(ctx, request, makeResult({ default: [target] }));
      return scores;
    };
    expect(await run(mmRequest('i1', 'i2'), a)).toEqual({ a: 0, b: 0 });
    expect(await run(mmRequest('i1', 'i2'))).toEqual({ a: 1, b: 0 });
    expect(await run(mmRequest('i1', 'i3'))).toEqual({ a: 0.5, b: 0 });
    // Capacity 2: learning i3 evicts the least recent (i1).
    await run(mmRequest('i3'), a);
    expect(await run(mmRequest('i1', 'i2', 'i3'))).toEqual({ a: 2 / 3, b: 0 });
    expect(await run(mmRequest('i1'))).toEqual({ a: 0, b: 0 });
  });

  it('scores 0 without info or items, and parses parameters strictly', () => {
    expect(encoderCacheScore(undefined)).toBe(0);
    expect(encoderCacheScore({ requestItems: [], matchedItems: [] })).toBe(0);
    expect(() => mmEmbeddingsCacheProducerFactory('mm', { cacheSize: 1 }, makeHandle())).toThrow(/cacheSize/);
    expect(() => mmEmbeddingsCacheScorerFactory('s', { producerName: 'nope' }, makeHandle())).toThrow(/producerName/);
  });
});
