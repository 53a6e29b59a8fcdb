import { describe, expect, it } from 'vitest';
import { flowKeyOf } from '../../../scheduler/flowcontrol/flow-key.js';

const objectives = (name: string) => ({ critical: 100, batch: -10 } as Record<string, number | undefined>)[name];

describe('flow key from headers', () => {
  it('fairness id and the objective priority; current names win over the older ones', () => {
    expect(flowKeyOf(new Map([['x-llm-d-inference-fairness-id', 'tenant-a'], ['x-llm-d-inference-objective', 'critical']]), objectives))
      .toEqual({ fairnessId: 'tenant-a', priority: 100, objective: 'critical' });
    expect(flowKeyOf(new Map([['x-gateway-inference-fairness-id', 'old'], ['x-gateway-inference-objective', 'batch']]), objectives))
      .toMatchObject({ fairnessId: 'old', priority: -10 });
    expect(flowKeyOf(new Map([['x-llm-d-inference-fairness-id', 'new'], ['x-gateway-inference-fairness-id', 'old']]), objectives).fairnessId).toBe('new');
  });
  it('defaults: default-flow, priority 0 (also for an unknown objective)', () => {
    expect(flowKeyOf(new Map(), objectives)).toEqual({ fairnessId: 'default-flow', priority: 0 });
    expect(flowKeyOf(new Map([['x-llm-d-inference-objective', 'unknown']]), objectives).priority).toBe(0);
  });
  it('hostile values are a 400', () => {
    expect(() => flowKeyOf(new Map([['x-llm-d-inference-fairness-id', 'a'.repeat(129)]]), objectives)).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => flowKeyOf(new Map([['x-llm-d-inference-fairness-id', 'has space']]), objectives)).toThrow(/printable/);
    expect(() => flowKeyOf(new Map([['x-llm-d-inference-objective', '']]), objectives)).toThrow(/x-llm-d-inference-objective/);
  });
});
