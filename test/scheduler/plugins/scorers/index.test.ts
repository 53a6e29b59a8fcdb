import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';

describe('registerScorerPlugins', () => {
  it('registers every scorer under its llm-d type string', () => {
    expect(registerScorerPlugins(new PluginRegistry()).types()).toEqual([
      'active-request-scorer', 'endpoint-attribute-scorer', 'kv-cache-scorer', 'kv-cache-utilization-scorer', 'load-aware-scorer', 'lora-affinity-scorer', 'mm-embeddings-cache-scorer', 'no-hit-lru-scorer', 'precise-prefix-cache-scorer',
      'prefix-cache-scorer', 'queue-scorer', 'running-requests-size-scorer', 'session-affinity-scorer', 'token-load-scorer', 'topology-affinity-scorer',
    ]);
  });
});
