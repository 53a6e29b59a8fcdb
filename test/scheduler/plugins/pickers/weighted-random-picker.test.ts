import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerPickerPlugins } from '../../../../scheduler/plugins/pickers/index.js';
import {
  WEIGHTED_RANDOM_PICKER_TYPE, WeightedRandomPicker, weightedRandomPickerFactory,
} from '../../../../scheduler/plugins/pickers/weighted-random-picker.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, scored, seededRandom } from '../../helpers.js';

const endpoints = ['a', 'b', 'c', 'd'].map((name) => makeEndpoint({ name }));

function frequencies(picker: WeightedRandomPicker, scores: number[], n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  const list = endpoints.slice(0, scores.length);
  const [ctx, request, candidates] = [makeContext(list), chatRequest('x'), scored(list, scores)];
  for (let i = 0; i < n; i++) {
    for (const target of picker.pick(ctx, request, candidates).targets) counts[target.name] = (counts[target.name] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([name, count]) => [name, count / n]));
}

describe('weighted-random-picker', () => {
  it('picks in proportion to score (A-Res, k=1), never a zero score while some score is positive', () => {
    const picker = new WeightedRandomPicker('w', 1, { random: seededRandom(42) });
    const freq = frequencies(picker, [0.1, 0.3, 0.6, 0], 20000);
    expect(freq.a).toBeCloseTo(0.1, 1);
    expect(freq.b).toBeCloseTo(0.3, 1);
    expect(freq.c).toBeCloseTo(0.6, 1);
    expect(Math.abs(freq.c! - 0.6)).toBeLessThan(0.02);
    expect(freq.d).toBeUndefined();
  });

  it('all scores ≤ 0: falls back to a uniform random pick', () => {
    const freq = frequencies(new WeightedRandomPicker('w', 1, { random: seededRandom(9) }), [0, 0, 0, -1], 8000);
    for (const name of ['a', 'b', 'c', 'd']) expect(Math.abs(freq[name]! - 0.25)).toBeLessThan(0.03);
  });

  it('top-k: k distinct endpoints; positive scores come before zero scores', () => {
    const picker = new WeightedRandomPicker('w', 3, { random: seededRandom(11) });
    for (let i = 0; i < 200; i++) {
      const names = picker.pick(makeContext(endpoints), chatRequest('x'), scored(endpoints, [0.5, 0, 0.2, 0.9])).targets.map((e) => e.name);
      expect(names).toHaveLength(3);
      expect([...names].sort()).toEqual(['a', 'c', 'd']);
    }
  });

  it('survives U = 0 and single/empty candidate lists', () => {
    const zero = new WeightedRandomPicker('w', 1, { random: () => 0 });
    expect(zero.pick(makeContext(endpoints), chatRequest('x'), scored(endpoints, [0.2, 0.8, 0, 0])).targets).toHaveLength(1);
    expect(zero.pick(makeContext([]), chatRequest('x'), []).targets).toEqual([]);
    expect(zero.pick(makeContext(endpoints), chatRequest('x'), scored(endpoints.slice(0, 1), [0])).targets.map((e) => e.name)).toEqual(['a']);
  });

  it('validates maxNumOfEndpoints and is registered', () => {
    expect(weightedRandomPickerFactory('w', { maxNumOfEndpoints: -1 }).maxNumOfEndpoints).toBe(1);
    expect(() => weightedRandomPickerFactory('w', { maxNumOfEndpoints: [1] })).toThrow(ConfigError);
    expect(() => weightedRandomPickerFactory('w', { maxNumOfEndpoints: [1] })).toThrow('parameters.maxNumOfEndpoints');
    expect(registerPickerPlugins(new PluginRegistry()).create(WEIGHTED_RANDOM_PICKER_TYPE, 'w', {}, makeHandle())).toBeInstanceOf(WeightedRandomPicker);
  });
});
