import { describe, expect, it } from 'vitest';
import { loraAffinityScore, loraAffinityScorerFactory } from '../../../../scheduler/plugins/scorers/lora-affinity-scorer.js';
import { emptyMetrics } from '../../../../scheduler/framework/endpoint.js';
import { makeHandle } from '../../helpers.js';

const metrics = (active: string[], waiting: string[], max: number) => ({ ...emptyMetrics(), activeModels: new Set(active), waitingModels: new Set(waiting), maxActiveModels: max });

describe('lora-affinity-scorer', () => {
  it('active 1.0 > room 0.8 > waiting 0.6 > full 0', () => {
    expect(loraAffinityScore(metrics(['a'], [], 1), 'a')).toBe(1);
    expect(loraAffinityScore(metrics(['b'], [], 2), 'a')).toBe(0.8);
    expect(loraAffinityScore(metrics(['b'], ['a'], 2), 'a')).toBe(0.6);
    expect(loraAffinityScore(metrics(['b', 'c'], [], 2), 'a')).toBe(0);
    expect(loraAffinityScore(metrics([], [], 0), 'a')).toBe(0);
  });
  it('takes no parameters', () => {
    expect(() => loraAffinityScorerFactory('l', { x: 1 }, makeHandle())).toThrow(/x/);
  });
});
