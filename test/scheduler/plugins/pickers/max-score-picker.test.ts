import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerPickerPlugins } from '../../../../scheduler/plugins/pickers/index.js';
import { MAX_SCORE_PICKER_TYPE, MaxScorePicker, maxScorePickerFactory } from '../../../../scheduler/plugins/pickers/max-score-picker.js';
import { chatRequest, makeContext, makeEndpoint, makeHandle, scored, seededRandom } from '../../helpers.js';

const endpoints = ['a', 'b', 'c', 'd'].map((name) => makeEndpoint({ name }));
const pick = (picker: MaxScorePicker, scores: number[]) =>
  picker.pick(makeContext(endpoints), chatRequest('x'), scored(endpoints.slice(0, scores.length), scores)).targets.map((e) => e.name);

describe('max-score-picker', () => {
  it('picks the highest score', () => {
    expect(pick(new MaxScorePicker('p'), [0.1, 0.9, 0.5, 0.3])).toEqual(['b']);
  });

  it('breaks ties at random: every tied endpoint gets picked, the lower one never', () => {
    const picker = new MaxScorePicker('p', 1, { random: seededRandom(7) });
    const counts: Record<string, number> = {};
    const [ctx, request, candidates] = [makeContext(endpoints), chatRequest('x'), scored(endpoints, [0.8, 0.2, 0.8, 0.8])];
    for (let i = 0; i < 3000; i++) {
      const name = picker.pick(ctx, request, candidates).targets[0]?.name;
      counts[name!] = (counts[name!] ?? 0) + 1;
    }
    expect(counts.b).toBeUndefined();
    for (const name of ['a', 'c', 'd']) expect(counts[name]! / 3000).toBeGreaterThan(0.28);
  });

  it('top-k: returns k endpoints by descending score, all when k ≥ n', () => {
    expect(pick(new MaxScorePicker('p', 2), [0.1, 0.9, 0.5, 0.3])).toEqual(['b', 'c']);
    expect(pick(new MaxScorePicker('p', 3), [0.1, 0.9, 0.5, 0.3])).toEqual(['b', 'c', 'd']);
    expect(pick(new MaxScorePicker('p', 10), [0.1, 0.9])).toEqual(['b', 'a']);
  });

  it('one candidate, no candidates', () => {
    expect(pick(new MaxScorePicker('p'), [0])).toEqual(['a']);
    expect(pick(new MaxScorePicker('p'), [])).toEqual([]);
  });

  it('does not reorder the caller\'s array', () => {
    const input = scored(endpoints, [0.1, 0.9, 0.5, 0.3]);
    const copy = [...input];
    new MaxScorePicker('p', 4, { random: seededRandom(1) }).pick(makeContext(endpoints), chatRequest('x'), input);
    expect(input).toEqual(copy);
  });

  it('maxNumOfEndpoints: default 1, ≤ 0 falls back to 1, unknown keys rejected', () => {
    expect(maxScorePickerFactory('p', undefined, makeHandle()).maxNumOfEndpoints).toBe(1);
    expect(maxScorePickerFactory('p', { maxNumOfEndpoints: 0 }, makeHandle()).maxNumOfEndpoints).toBe(1);
    expect(maxScorePickerFactory('p', { maxNumOfEndpoints: -2 }, makeHandle()).maxNumOfEndpoints).toBe(1);
    expect(maxScorePickerFactory('p', { maxNumOfEndpoints: 3 }, makeHandle()).maxNumOfEndpoints).toBe(3);
    expect(() => maxScorePickerFactory('p', { maxNumOfEndpoints: 3, other: 'x' }, makeHandle())).toThrow('parameters.other: unknown parameter (known: maxNumOfEndpoints)');
  });

  it.each([[{ maxNumOfEndpoints: '2' }], [{ maxNumOfEndpoints: 1.5 }]])('rejects %j naming parameters.maxNumOfEndpoints', (parameters) => {
    expect(() => maxScorePickerFactory('p', parameters, makeHandle())).toThrow(ConfigError);
    expect(() => maxScorePickerFactory('p', parameters, makeHandle())).toThrow('parameters.maxNumOfEndpoints');
  });

  it('is registered under its llm-d type', () => {
    const plugin = registerPickerPlugins(new PluginRegistry()).create(MAX_SCORE_PICKER_TYPE, 'pick', { maxNumOfEndpoints: 2 }, makeHandle());
    expect(plugin).toBeInstanceOf(MaxScorePicker);
    expect(plugin.name).toBe('pick');
  });
});
