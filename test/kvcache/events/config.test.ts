import { describe, expect, it } from 'vitest';
import { defaultKvEventsConfig, resolveKvEventsConfig } from '../../../scheduler/kvcache/events/config.js';

describe('kvEventsConfig', () => {
  it("has llm-d's defaults", () => {
    expect(resolveKvEventsConfig(undefined)).toEqual({
      zmqEndpoint: '', topicFilter: 'kv@', concurrency: 4, engineType: 'vllm', discoverPods: true,
      podDiscoveryConfig: { podLabelSelector: 'llm-d.ai/inference-serving=true', podNamespace: '', socketPort: 5557 },
    });
  });

  it('merges a partial mapping field by field', () => {
    const config = resolveKvEventsConfig({ zmqEndpoint: 'tcp://*:5557', discoverPods: false, podDiscoveryConfig: { socketPort: 6000 } });
    expect(config).toEqual({ ...defaultKvEventsConfig(), zmqEndpoint: 'tcp://*:5557', discoverPods: false, podDiscoveryConfig: { ...defaultKvEventsConfig().podDiscoveryConfig, socketPort: 6000 } });
  });

  it('fails with the YAML path', () => {
    expect(() => resolveKvEventsConfig({ concurrency: 0 })).toThrow('kvEventsConfig.concurrency must be a positive integer, got 0');
    expect(() => resolveKvEventsConfig({ engineType: 'sglang' })).toThrow(/only "vllm"/);
    expect(() => resolveKvEventsConfig({ podDiscoveryConfig: { socketPort: 70000 } })).toThrow('kvEventsConfig.podDiscoveryConfig.socketPort must be a port number');
    expect(() => resolveKvEventsConfig({ zmqEndpont: 'x' }, 'p.kvEventsConfig')).toThrow('p.kvEventsConfig.zmqEndpont is not a known field');
  });
});
