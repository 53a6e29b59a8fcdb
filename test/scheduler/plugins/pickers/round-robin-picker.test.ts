import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../../../../scheduler/framework/endpoint.js';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerPickerPlugins } from '../../../../scheduler/plugins/pickers/index.js';
import { ROUND_ROBIN_PICKER_TYPE, RoundRobinPicker, roundRobinPickerFactory } from '../../../../scheduler/plugins/pickers/round-robin-picker.js';
import { captureLogger, chatRequest, makeContext, makeEndpoint, makeHandle, scored, WARN_LEVEL } from '../../helpers.js';

const [a, b, c] = ['a', 'b', 'c'].map((name) => makeEndpoint({ name })) as [Endpoint, Endpoint, Endpoint];

function picks(picker: RoundRobinPicker, list: Endpoint[], times: number): string[] {
  return Array.from({ length: times }, () => picker.pick(makeContext(list), chatRequest('x'), scored(list, list.map(() => Math.random()))).targets.map((e) => e.name).join(','));
}

describe('round-robin-picker', () => {
  it('rotates through the candidates, ignoring scores and input order', () => {
    const picker = new RoundRobinPicker('rr');
    expect(picks(picker, [c, a, b], 4)).toEqual(['a', 'b', 'c', 'a']);
    expect(picks(picker, [b, c, a], 2)).toEqual(['b', 'c']);
  });

  it('with k > 1 returns k consecutive endpoints, each one first once per round', () => {
    expect(picks(new RoundRobinPicker('rr', 2), [a, b, c], 3)).toEqual(['a,b', 'b,c', 'c,a']);
    expect(picks(new RoundRobinPicker('rr', 5), [a, b], 1)).toEqual(['a,b']);
  });

  it('handles a changing candidate set, one candidate and none', () => {
    const picker = new RoundRobinPicker('rr');
    expect(picks(picker, [a, b, c], 2)).toEqual(['a', 'b']);
    expect(picks(picker, [a, c], 1)).toEqual(['a']); // cursor 2 mod 2
    expect(picks(picker, [b], 2)).toEqual(['b', 'b']);
    expect(picker.pick(makeContext([]), chatRequest('x'), []).targets).toEqual([]);
  });

  it('keeps one cursor per instance', () => {
    const first = new RoundRobinPicker('one');
    const second = new RoundRobinPicker('two');
    expect(picks(first, [a, b], 1)).toEqual(['a']);
    expect(picks(second, [a, b], 1)).toEqual(['a']);
  });

  it('logs a deprecation warning pointing at max-score-picker, and validates maxNumOfEndpoints', () => {
    const { logger, records } = captureLogger();
    const picker = roundRobinPickerFactory('rr', { maxNumOfEndpoints: 0 }, makeHandle({ logger }));
    expect(picker.maxNumOfEndpoints).toBe(1);
    expect(records.some((r) => r.level === WARN_LEVEL && String(r.msg).includes('max-score-picker'))).toBe(true);
    expect(() => roundRobinPickerFactory('rr', { maxNumOfEndpoints: 'x' }, makeHandle())).toThrow(ConfigError);
    expect(() => roundRobinPickerFactory('rr', { maxNumOfEndpoints: 'x' }, makeHandle())).toThrow('parameters.maxNumOfEndpoints');
  });

  it('is registered', () => {
    expect(registerPickerPlugins(new PluginRegistry()).create(ROUND_ROBIN_PICKER_TYPE, 'rr', undefined, makeHandle())).toBeInstanceOf(RoundRobinPicker);
    expect(registerPickerPlugins(new PluginRegistry()).types()).toEqual(['max-score-picker', 'random-picker', 'round-robin-picker', 'weighted-random-picker']);
  });
});
