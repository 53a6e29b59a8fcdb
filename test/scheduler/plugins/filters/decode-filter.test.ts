import { describe, expect, it } from 'vitest';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { DECODE_FILTER_TYPE, createDecodeFilter } from '../../../../scheduler/plugins/filters/decode-filter.js';
import { registerFilterPlugins } from '../../../../scheduler/plugins/filters/index.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle } from '../../helpers.js';
import { roleEndpoints } from './role-cases.js';

describe('decode-filter', () => {
  const request = chatRequest('hi');

  it('keeps exactly the decode-capable roles; unlabeled endpoints are kept (they act as decode pods)', () => {
    const endpoints = roleEndpoints();
    const kept = createDecodeFilter().filter(makeContext(endpoints), request, endpoints).map((e) => e.name);
    expect([...kept].sort()).toEqual(['both', 'decode', 'encode-prefill-decode', 'prefill-decode', 'unlabeled']);
  });

  it('keeps input order and returns a new array', () => {
    const endpoints = roleEndpoints().reverse();
    const kept = createDecodeFilter().filter(makeContext(endpoints), request, endpoints);
    expect(kept).not.toBe(endpoints);
    expect(kept).toEqual(endpoints.filter((e) => kept.includes(e)));
  });

  it('returns an empty list for no endpoints and when nothing matches', () => {
    const filter = createDecodeFilter();
    expect(filter.filter(makeContext([]), request, [])).toEqual([]);
    const other = [makeEndpoint({ name: 'x', role: 'something-else' })];
    expect(filter.filter(makeContext(other), request, other)).toEqual([]);
  });

  it('is registered under "decode-filter", takes the config name and refuses parameters it does not have', () => {
    const registry = registerFilterPlugins(new PluginRegistry());
    const plugin = registry.create(DECODE_FILTER_TYPE, 'my-decode', undefined, makeHandle());
    expect(plugin.type).toBe('decode-filter');
    expect(plugin.name).toBe('my-decode');
    expect(() => registry.create(DECODE_FILTER_TYPE, 'my-decode', { whatever: 1 }, makeHandle())).toThrow(/whatever: unknown parameter of decode-filter \(it takes no parameters\)/);
  });
});
