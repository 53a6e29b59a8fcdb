import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ENCODERS_HEADER, PREFILL_HEADER } from '../../../../scheduler/framework/director.js';
import { isPreRequest } from '../../../../scheduler/framework/plugins.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { DisaggHeadersHandler } from '../../../../scheduler/plugins/prerequest/disagg-headers-handler.js';
import { registerPreRequestPlugins } from '../../../../scheduler/plugins/prerequest/index.js';
import { makeContext, makeEndpoint, makeHandle, makeRequest, makeResult } from '../../helpers.js';
import { captureSpans } from '../profiles/spans.js';

const spans = captureSpans();
afterAll(() => spans.stop());
beforeEach(() => spans.reset());

const registry = registerPreRequestPlugins(new PluginRegistry());
const decode = makeEndpoint({ name: 'd', role: 'decode', address: '10.3.0.1' });
const prefill = makeEndpoint({ name: 'p', role: 'prefill', address: '10.3.0.2', port: 8200 });
const prefill6 = makeEndpoint({ name: 'p6', role: 'prefill', address: 'fd00::7', port: 8000 });
const enc1 = makeEndpoint({ name: 'e1', role: 'encode', address: '10.3.0.3' });
const enc2 = makeEndpoint({ name: 'e2', role: 'encode', address: '10.3.0.4', port: 9000 });

function handler(type: string, parameters?: unknown): DisaggHeadersHandler {
  const plugin = registry.create(type, type, parameters, makeHandle());
  if (!isPreRequest(plugin)) throw new Error('not a PreRequest');
  return plugin as DisaggHeadersHandler;
}

describe('disagg-headers-handler / prefill-header-handler', () => {
  it('both type names are registered and set the same headers', () => {
    for (const type of ['disagg-headers-handler', 'prefill-header-handler']) {
      const request = makeRequest({ model: 'm', prompt: 'x' });
      handler(type).preRequest(makeContext([]), request, makeResult({ decode: [decode], prefill: [prefill] }, 'decode'));
      expect(request.headers.get(PREFILL_HEADER)).toBe('10.3.0.2:8200');
      expect(handler(type).type).toBe(type);
    }
  });

  it('brackets IPv6 prefill addresses', () => {
    const request = makeRequest({ model: 'm', prompt: 'x' });
    handler('disagg-headers-handler').preRequest(makeContext([]), request, makeResult({ decode: [decode], prefill: [prefill6] }, 'decode'));
    expect(request.headers.get(PREFILL_HEADER)).toBe('[fd00::7]:8000');
  });

  it('comma-joins every encode endpoint', () => {
    const request = makeRequest({ model: 'm', prompt: 'x' });
    handler('disagg-headers-handler').preRequest(makeContext([]), request, makeResult({ decode: [decode], encode: [enc1, enc2] }, 'decode'));
    expect(request.headers.get(ENCODERS_HEADER)).toBe('10.3.0.3:8000,10.3.0.4:9000');
    expect(request.headers.has(PREFILL_HEADER)).toBe(false);
  });

  it('clears stale values when a stage did not run', () => {
    const request = makeRequest({ model: 'm', prompt: 'x' }, { headers: { [PREFILL_HEADER]: '1.2.3.4:80', [ENCODERS_HEADER]: '1.2.3.4:81' } });
    handler('prefill-header-handler').preRequest(makeContext([]), request, makeResult({ decode: [decode], prefill: null }, 'decode'));
    expect(request.headers.has(PREFILL_HEADER)).toBe(false);
    expect(request.headers.has(ENCODERS_HEADER)).toBe(false);
  });

  it('honours custom profile names', () => {
    const request = makeRequest({ model: 'm', prompt: 'x' });
    handler('disagg-headers-handler', { prefillProfile: 'my-prefill', encodeProfile: 'my-encode' })
      .preRequest(makeContext([]), request, makeResult({ decode: [decode], prefill: [enc1], 'my-prefill': [prefill], 'my-encode': [enc2] }, 'decode'));
    expect(request.headers.get(PREFILL_HEADER)).toBe('10.3.0.2:8200');
    expect(request.headers.get(ENCODERS_HEADER)).toBe('10.3.0.4:9000');
  });

  it('rejects a non-string profile name with its path', () => {
    expect(() => handler('prefill-header-handler', { prefillProfile: 3 })).toThrow(/^parameters\.prefillProfile:/);
  });

  it('emits llm_d.epp.prerequest.disaggregation with the decision attributes', () => {
    const request = makeRequest({ model: 'm', prompt: 'x' }, { id: 'req-42' });
    handler('disagg-headers-handler').preRequest(makeContext([]), request, makeResult({ decode: [decode], prefill: [prefill] }, 'decode'));
    handler('disagg-headers-handler').preRequest(makeContext([]), request, makeResult({ decode: [decode] }, 'decode'));
    const [used, notUsed] = spans.spans('llm_d.epp.prerequest.disaggregation').map((s) => s.attributes);
    expect(used).toMatchObject({
      'gen_ai.request.id': 'req-42', 'gen_ai.request.model': 'm', 'llm_d.epp.pd.disaggregation_used': true,
      'llm_d.epp.pd.prefill_pod_address': '10.3.0.2', 'llm_d.epp.pd.prefill_pod_port': '8200',
      'llm_d.epp.encode.disaggregation_used': false, 'llm_d.epp.encode.reason': 'no_encode_profile_result',
    });
    expect(notUsed).toMatchObject({ 'llm_d.epp.pd.disaggregation_used': false, 'llm_d.epp.pd.reason': 'no_prefill_profile_result' });
  });
});
