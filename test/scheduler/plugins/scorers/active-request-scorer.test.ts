import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import type { ResponseInfo } from '../../../../scheduler/framework/plugins.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import type { InferenceRequest } from '../../../../scheduler/framework/request.js';
import {
  ACTIVE_REQUEST_SCORER_TYPE, ActiveRequestScorer, activeRequestScorerFactory,
} from '../../../../scheduler/plugins/scorers/active-request-scorer.js';
import { registerScorerPlugins } from '../../../../scheduler/plugins/scorers/index.js';
import { captureLogger, chatRequest, makeContext, makeEndpoint, makeHandle, makeResult, scoresByName, WARN_LEVEL } from '../../helpers.js';

const done: ResponseInfo = { status: 200, headers: new Map(), completed: true };

/** Dispatches `n` decode-only requests to `endpoint` through PreRequest; returns them. */
function dispatch(scorer: ActiveRequestScorer, endpoint: Endpoint, n: number): InferenceRequest[] {
  return Array.from({ length: n }, () => {
    const request = chatRequest('hello');
    scorer.preRequest(makeContext([endpoint]), request, makeResult({ decode: [endpoint] }));
    return request;
  });
}

const score = (scorer: ActiveRequestScorer, endpoints: Endpoint[]) => scoresByName(scorer.score(makeContext(endpoints), chatRequest('x'), endpoints));

describe('active-request-scorer', () => {
  it('upstream case, parameters omitted: in-flight 3/0/6 → 0.5/1/0 (maxBusyScore defaults to 1.0)', () => {
    const scorer = activeRequestScorerFactory('ar', undefined, makeHandle());
    expect(scorer.maxBusyScore).toBe(1);
    const endpoints = [makeEndpoint({ name: 'a' }), makeEndpoint({ name: 'b' }), makeEndpoint({ name: 'c' })];
    dispatch(scorer, endpoints[0]!, 3);
    dispatch(scorer, endpoints[2]!, 6);
    expect(score(scorer, endpoints)).toEqual({ a: 0.5, b: 1, c: 0 });
  });

  it('all idle, a single endpoint, and no endpoints', () => {
    const scorer = new ActiveRequestScorer('ar');
    const endpoints = [makeEndpoint({ name: 'a' }), makeEndpoint({ name: 'b' })];
    expect(score(scorer, endpoints)).toEqual({ a: 1, b: 1 });
    dispatch(scorer, endpoints[0]!, 2);
    expect(score(scorer, [endpoints[0]!])).toEqual({ a: 0 });
    expect(score(scorer, [])).toEqual({});
  });

  it('applies idleThreshold and maxBusyScore', () => {
    const scorer = activeRequestScorerFactory('ar', { idleThreshold: 2, maxBusyScore: 0.5 }, makeHandle());
    const endpoints = ['a', 'b', 'c', 'd'].map((name) => makeEndpoint({ name }));
    [1, 2, 4, 8].forEach((n, i) => dispatch(scorer, endpoints[i]!, n));
    expect(score(scorer, endpoints)).toEqual({ a: 1, b: 1, c: 0.25, d: 0 });
  });

  it('equal busy counts all score 0 (nobody is less busy than the max)', () => {
    const scorer = new ActiveRequestScorer('ar');
    const endpoints = [makeEndpoint({ name: 'a' }), makeEndpoint({ name: 'b' })];
    dispatch(scorer, endpoints[0]!, 2);
    dispatch(scorer, endpoints[1]!, 2);
    expect(score(scorer, endpoints)).toEqual({ a: 0, b: 0 });
  });

  it('counts every profile\'s first target, and releases them when the response completes', () => {
    const scorer = new ActiveRequestScorer('ar');
    const [d1, d2, p1] = [makeEndpoint({ name: 'd1' }), makeEndpoint({ name: 'd2' }), makeEndpoint({ name: 'p1' })];
    const request = chatRequest('long prompt');
    scorer.preRequest(makeContext([d1!, d2!, p1!]), request, makeResult({ decode: [d1!, d2!], prefill: [p1!], encode: null }));
    expect([scorer.counter.get('d1'), scorer.counter.get('d2'), scorer.counter.get('p1')]).toEqual([1, 0, 1]);
    scorer.responseComplete(request, done, [d1!]);
    expect([scorer.counter.get('d1'), scorer.counter.get('p1')]).toEqual([0, 0]);
    // A second completion (or one for an unknown request) changes nothing.
    scorer.responseComplete(request, done, [d1!]);
    scorer.responseComplete(chatRequest('other'), { ...done, completed: false }, [d1!]);
    expect(scorer.counter.get('d1')).toBe(0);
  });

  it('keys requests by object, so a reused x-request-id does not mix them up', () => {
    const scorer = new ActiveRequestScorer('ar');
    const a = makeEndpoint({ name: 'a' });
    const first = chatRequest('x', { id: 'same' });
    const second = chatRequest('y', { id: 'same' });
    scorer.preRequest(makeContext([a]), first, makeResult({ decode: [a] }));
    scorer.preRequest(makeContext([a]), second, makeResult({ decode: [a] }));
    scorer.responseComplete(first, done, [a]);
    expect(scorer.counter.get('a')).toBe(1);
  });

  it('forgets departed endpoints and expires lost requests, lazily on PreRequest', () => {
    let now = 0;
    let pool = [makeEndpoint({ name: 'a' }), makeEndpoint({ name: 'b' })];
    const scorer = activeRequestScorerFactory('ar', {}, makeHandle({ endpoints: () => pool }), { now: () => now, maxAgeMs: 10 * 60_000 });
    dispatch(scorer, pool[0]!, 1);
    dispatch(scorer, pool[1]!, 2);
    pool = [pool[0]!];
    now = 3 * 60_000;
    dispatch(scorer, pool[0]!, 1); // triggers maintenance: b left
    expect([scorer.counter.get('a'), scorer.counter.get('b')]).toEqual([2, 0]);
    now = 20 * 60_000;
    dispatch(scorer, pool[0]!, 1); // both earlier requests on a are older than 10 min
    expect(scorer.counter.get('a')).toBe(1);
    expect(scorer.counter.requests).toBe(1);
  });

  it('warns about deprecated requestTimeout and an out-of-range maxBusyScore (then uses 1.0)', () => {
    const { logger, records } = captureLogger();
    const scorer = activeRequestScorerFactory('ar', { requestTimeout: '2m', maxBusyScore: 1.5, idleThreshold: -1 }, makeHandle({ logger }));
    expect(scorer.maxBusyScore).toBe(1);
    expect(scorer.idleThreshold).toBe(0);
    const warnings = records.filter((r) => r.level === WARN_LEVEL).map((r) => String(r.msg));
    expect(warnings.some((m) => m.includes('requestTimeout'))).toBe(true);
    expect(warnings.some((m) => m.includes('maxBusyScore'))).toBe(true);
  });

  it.each([
    [{ idleThreshold: 'two' }, 'parameters.idleThreshold'],
    [{ idleThreshold: 1.5 }, 'parameters.idleThreshold'],
    [{ maxBusyScore: '0.5' }, 'parameters.maxBusyScore'],
    [{ requestTimeout: 120 }, 'parameters.requestTimeout'],
  ])('rejects %j naming %s', (parameters, path) => {
    expect(() => activeRequestScorerFactory('ar', parameters, makeHandle())).toThrow(ConfigError);
    expect(() => activeRequestScorerFactory('ar', parameters, makeHandle())).toThrow(path);
  });

  it('is registered as a scorer that is also a PreRequest and a ResponseComplete', () => {
    const plugin = registerScorerPlugins(new PluginRegistry()).create(ACTIVE_REQUEST_SCORER_TYPE, 'ar', { maxBusyScore: 0.3 }, makeHandle());
    expect(plugin).toBeInstanceOf(ActiveRequestScorer);
    expect(typeof (plugin as ActiveRequestScorer).preRequest).toBe('function');
    expect(typeof (plugin as ActiveRequestScorer).responseComplete).toBe('function');
    expect((plugin as ActiveRequestScorer).maxBusyScore).toBe(0.3);
  });
});
