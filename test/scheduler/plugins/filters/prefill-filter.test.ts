import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { PREFILL_FILTER_TYPE, createPrefillFilter } from '../../../../scheduler/plugins/filters/prefill-filter.js';
import { registerFilterPlugins } from '../../../../scheduler/plugins/filters/index.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle } from '../../helpers.js';
import { roleEndpoints } from './role-cases.js';

describe('prefill-filter', () => {
  const request = chatRequest('hi');

  it('keeps exactly the prefill-capable roles; unlabeled endpoints are dropped', () => {
    const endpoints = roleEndpoints();
    const kept = createPrefillFilter().filter(makeContext(endpoints), request, endpoints).map((e) => e.name);
    expect([...kept].sort()).toEqual(['both', 'encode-prefill', 'encode-prefill-decode', 'prefill', 'prefill-decode']);
  });

  it('keeps input order and returns a new array', () => {
    const endpoints = roleEndpoints().reverse();
    const kept = createPrefillFilter().filter(makeContext(endpoints), request, endpoints);
    expect(kept).not.toBe(endpoints);
    expect(kept).toEqual(endpoints.filter((e) => kept.includes(e)));
  });

  it('returns an empty list for no endpoints and when nothing matches', () => {
    const filter = createPrefillFilter();
    expect(filter.filter(makeContext([]), request, [])).toEqual([]);
    const other = [makeEndpoint({ name: 'x', role: 'something-else' })];
    expect(filter.filter(makeContext(other), request, other)).toEqual([]);
  });

  it('is registered under "prefill-filter", takes the config name and refuses parameters it does not have', () => {
    const registry = registerFilterPlugins(new PluginRegistry());
    const plugin = registry.create(PREFILL_FILTER_TYPE, 'my-prefill', undefined, makeHandle());
    expect(plugin.type).toBe('prefill-filter');
    expect(plugin.name).toBe('my-prefill');
    expect(() => registry.create(PREFILL_FILTER_TYPE, 'my-prefill', { whatever: 1 }, makeHandle())).toThrow(/whatever: unknown parameter of prefill-filter \(it takes no parameters\)/);
  });
});
