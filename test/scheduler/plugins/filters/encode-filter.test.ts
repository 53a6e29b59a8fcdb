import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { ENCODE_FILTER_TYPE, createEncodeFilter } from '../../../../scheduler/plugins/filters/encode-filter.js';
import { registerFilterPlugins } from '../../../../scheduler/plugins/filters/index.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle } from '../../helpers.js';
import { roleEndpoints } from './role-cases.js';

describe('encode-filter', () => {
  const request = chatRequest('hi');

  it('keeps exactly the encode-capable roles; unlabeled endpoints are dropped', () => {
    const endpoints = roleEndpoints();
    const kept = createEncodeFilter().filter(makeContext(endpoints), request, endpoints).map((e) => e.name);
    expect([...kept].sort()).toEqual(['encode', 'encode-prefill', 'encode-prefill-decode']);
  });

  it('keeps input order and returns a new array', () => {
    const endpoints = roleEndpoints().reverse();
    const kept = createEncodeFilter().filter(makeContext(endpoints), request, endpoints);
    expect(kept).not.toBe(endpoints);
    expect(kept).toEqual(endpoints.filter((e) => kept.includes(e)));
  });

  it('returns an empty list for no endpoints and when nothing matches', () => {
    const filter = createEncodeFilter();
    expect(filter.filter(makeContext([]), request, [])).toEqual([]);
    const other = [makeEndpoint({ name: 'x', role: 'something-else' })];
    expect(filter.filter(makeContext(other), request, other)).toEqual([]);
  });

  it('is registered under "encode-filter", takes the config name and refuses parameters it does not have', () => {
    const registry = registerFilterPlugins(new PluginRegistry());
    const plugin = registry.create(ENCODE_FILTER_TYPE, 'my-encode', undefined, makeHandle());
    expect(plugin.type).toBe('encode-filter');
    expect(plugin.name).toBe('my-encode');
    expect(() => registry.create(ENCODE_FILTER_TYPE, 'my-encode', { whatever: 1 }, makeHandle())).toThrow(/whatever: unknown parameter of encode-filter \(it takes no parameters\)/);
  });
});
