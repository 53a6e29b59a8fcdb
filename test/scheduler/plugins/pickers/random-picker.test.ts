import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerPickerPlugins } from '../../../../scheduler/plugins/pickers/index.js';
import { RANDOM_PICKER_TYPE, RandomPicker, randomPickerFactory } from '../../../../scheduler/plugins/pickers/random-picker.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, scored, seededRandom } from '../../helpers.js';

const endpoints = ['a', 'b', 'c'].map((name) => makeEndpoint({ name }));

describe('random-picker', () => {
  it('picks uniformly, ignoring scores', () => {
    const picker = randomPickerFactory('r', undefined, makeHandle(), { random: seededRandom(3) });
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    const n = 6000;
    const [ctx, request, candidates] = [makeContext(endpoints), chatRequest('x'), scored(endpoints, [1, 0, 0])];
    for (let i = 0; i < n; i++) counts[picker.pick(ctx, request, candidates).targets[0]!.name]! += 1;
    for (const name of ['a', 'b', 'c']) expect(Math.abs(counts[name]! / n - 1 / 3)).toBeLessThan(0.03);
  });

  it('top-k returns k distinct endpoints; all when k ≥ n; none for no candidates', () => {
    const picker = new RandomPicker('r', 2, { random: seededRandom(5) });
    const targets = picker.pick(makeContext(endpoints), chatRequest('x'), scored(endpoints, [0, 0, 0])).targets;
    expect(new Set(targets).size).toBe(2);
    expect(new RandomPicker('r', 5).pick(makeContext(endpoints), chatRequest('x'), scored(endpoints, [0, 0, 0])).targets).toHaveLength(3);
    expect(new RandomPicker('r').pick(makeContext([]), chatRequest('x'), []).targets).toEqual([]);
  });

  it('validates maxNumOfEndpoints and is registered', () => {
    expect(randomPickerFactory('r', { maxNumOfEndpoints: 0 }).maxNumOfEndpoints).toBe(1);
    expect(() => randomPickerFactory('r', { maxNumOfEndpoints: 'all' })).toThrow(ConfigError);
    expect(() => randomPickerFactory('r', { maxNumOfEndpoints: 'all' })).toThrow('parameters.maxNumOfEndpoints');
    expect(registerPickerPlugins(new PluginRegistry()).create(RANDOM_PICKER_TYPE, 'r', undefined, makeHandle())).toBeInstanceOf(RandomPicker);
  });
});
