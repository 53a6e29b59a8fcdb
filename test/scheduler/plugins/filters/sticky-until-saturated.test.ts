/**
 * llm-d v1.0's default routing, end to end through the loader: prefix-cache-affinity-filter +
 * token-load-scorer + the producers the loader adds. Requests sharing a long prefix stick to the
 * endpoint that holds it while its in-flight tokens keep its estimated TTFT within the penalty,
 * then spill over, and stick (to the prefix holders only) again once the load drains.
 */
import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../../scheduler/config/loader.js';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { createDefaultRegistry } from '../../../../scheduler/plugins/index.js';
import type { InFlightLoadProducer } from '../../../../scheduler/plugins/producers/inflight-load-producer.js';
import { chatRequest, makeContext, makeEndpoint, silentLogger } from '../../helpers.js';

// 1000 tok/s and a 3000 ms penalty: stickiness breaks past 3000 in-flight tokens on the sticky pod.
const CONFIG = `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefix-cache-affinity-filter
  parameters: {affinityThreshold: 0.8, maxTTFTPenaltyMs: 3000, peakPrefillThroughput: 1000}
- type: token-load-scorer
schedulingProfiles:
- name: default
  plugins: [{pluginRef: prefix-cache-affinity-filter}, {pluginRef: token-load-scorer}]
`;

describe('sticky until saturated', () => {
  it('sticks to the prefix holder until its TTFT estimate exceeds the penalty, then spills, then sticks again', async () => {
    const endpoints: Endpoint[] = ['a', 'b', 'c'].map((name) => makeEndpoint({ name }));
    const loaded = loadEndpointPickerConfig(CONFIG, { registry: createDefaultRegistry(), logger: silentLogger, endpoints: () => endpoints });
    expect(loaded.producers.map((p) => p.type)).toEqual(['approx-prefix-cache-producer', 'inflight-load-producer']);
    const load = loaded.producers[1] as InFlightLoadProducer;
    const shared = 'You are a careful assistant. '.repeat(140); // ≈ 4 KB shared system prompt
    let n = 0;
    const route = async () => {
      const request = chatRequest(`${shared}${`question ${n++} `.repeat(60)}`);
      const ctx = makeContext(endpoints);
      for (const producer of loaded.producers) await producer.produce(ctx, request, endpoints);
      const result = await loaded.scheduler.schedule(ctx, request);
      for (const plugin of loaded.preRequests) await plugin.preRequest(ctx, request, result);
      await new Promise(setImmediate); // the prefix index learns the routing off the request path
      return { request, target: result.profileResults.get('default')!.targets[0]!.name };
    };
    const release = (request: ReturnType<typeof chatRequest>, target: string) =>
      load.responseComplete(request, { status: 200, headers: new Map(), completed: true }, endpoints.filter((e) => e.name === target));

    const first = await route();
    const home = first.target;
    const inFlight = [first];
    let spilled: string | undefined;
    for (let i = 0; i < 50 && !spilled; i++) {
      const before = load.get(home).tokens;
      const next = await route();
      if (next.target === home) {
        expect(before).toBeLessThanOrEqual(3000);
        inFlight.push(next);
      } else {
        expect(before).toBeGreaterThan(3000);
        spilled = next.target;
        release(next.request, next.target);
      }
    }
    expect(inFlight.length).toBeGreaterThan(2);
    expect(spilled).toBeDefined();
    for (const { request, target } of inFlight) release(request, target);
    expect(load.get(home).tokens).toBe(0);
    // Both the home pod and the one it spilled to now hold the prefix: the third never gets it.
    const cold = endpoints.map((e) => e.name).find((name) => name !== home && name !== spilled);
    for (let i = 0; i < 5; i++) {
      const again = await route();
      expect(again.target).not.toBe(cold);
      release(again.request, again.target);
    }
    await loaded.close();
  });
});
