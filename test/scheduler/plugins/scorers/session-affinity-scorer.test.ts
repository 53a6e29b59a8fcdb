import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';
import {
  SESSION_AFFINITY_SCORER_TYPE, SessionAffinityScorer, decodeSessionToken, encodeSessionToken, sessionAffinityScorerFactory,
} from '../../../../scheduler/plugins/scorers/session-affinity-scorer.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle } from '../../helpers.js';

const endpoints = [
  makeEndpoint({ name: 'vllm-0-rank-0', namespace: 'llm' }),
  makeEndpoint({ name: 'vllm-1-rank-0', namespace: 'llm' }),
  makeEndpoint({ name: 'vllm-1-rank-0', namespace: 'other' }),
];
const b64 = (s: string) => Buffer.from(s).toString('base64');

function score(headers: Record<string, string>, scorer = new SessionAffinityScorer('sa')) {
  const scores = scorer.score(makeContext(endpoints), chatRequest('x', { headers }), endpoints);
  return endpoints.map((endpoint) => scores.get(endpoint));
}

describe('session-affinity-scorer', () => {
  it('gives 1 to the endpoint named by the token (namespace/name) and 0 to the rest', () => {
    expect(score({ 'x-session-token': b64('llm/vllm-1-rank-0') })).toEqual([0, 1, 0]);
    expect(score({ 'x-session-token': encodeSessionToken(endpoints[2]!) })).toEqual([0, 0, 1]);
  });

  it('gives 0 to all without a token, or with a token naming no candidate', () => {
    expect(score({})).toEqual([0, 0, 0]);
    expect(score({ 'x-session-token': '' })).toEqual([0, 0, 0]);
    expect(score({ 'x-session-token': b64('llm/vllm-9-rank-0') })).toEqual([0, 0, 0]);
    expect(score({ 'x-session-token': b64('vllm-0-rank-0') })).toEqual([0, 0, 0]);
  });

  it('ignores a token that is not valid standard base64 (Go StdEncoding rules)', () => {
    expect(score({ 'x-session-token': '%%%not-base64%%%' })).toEqual([0, 0, 0]);
    expect(score({ 'x-session-token': `${b64('llm/vllm-0-rank-0')}=` })).toEqual([0, 0, 0]); // extra padding
    expect(decodeSessionToken('bGxt==')).toBeUndefined();
    expect(decodeSessionToken('bGxt')).toBe('llm');
    expect(decodeSessionToken('bGx')).toBeUndefined(); // missing padding
    expect(decodeSessionToken('bG-t')).toBeUndefined(); // URL alphabet
    expect(decodeSessionToken('bGxt\r\n')).toBe('llm');
  });

  it('scores an empty candidate list as empty', () => {
    expect(new SessionAffinityScorer('sa').score(makeContext([]), chatRequest('x'), []).size).toBe(0);
  });

  it('reads a configured header name (case-insensitive)', () => {
    const scorer = sessionAffinityScorerFactory('sa', { encodedEndpointHeaderConfig: { header: 'X-Session-Token-Prefill' }, profileName: 'prefill' }, makeHandle()) as SessionAffinityScorer;
    expect(scorer.header).toBe('x-session-token-prefill');
    expect(score({ 'x-session-token-prefill': b64('llm/vllm-0-rank-0') }, scorer)).toEqual([1, 0, 0]);
    expect(score({ 'x-session-token': b64('llm/vllm-0-rank-0') }, scorer)).toEqual([0, 0, 0]);
  });

  it.each([
    [{ strategy: 'session_id' }, 'parameters.strategy'],
    [{ encodedEndpointHeaderConfig: { header: 5 } }, 'parameters.encodedEndpointHeaderConfig.header'],
    [{ profileName: ['prefill'] }, 'parameters.profileName'],
  ])('rejects %j naming %s', (parameters, path) => {
    expect(() => sessionAffinityScorerFactory('sa', parameters, makeHandle())).toThrow(ConfigError);
    expect(() => sessionAffinityScorerFactory('sa', parameters, makeHandle())).toThrow(path);
  });

  it('is registered as an affinity scorer', () => {
    const plugin = registerScorerPlugins(new PluginRegistry()).create(SESSION_AFFINITY_SCORER_TYPE, 'sa', undefined, makeHandle());
    expect(plugin).toBeInstanceOf(SessionAffinityScorer);
    expect((plugin as SessionAffinityScorer).category).toBe('affinity');
  });
});
