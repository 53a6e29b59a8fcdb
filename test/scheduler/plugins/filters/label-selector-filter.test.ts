import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { registerFilterPlugins } from '../../../../scheduler/plugins/filters/index.js';
import {
  BY_LABEL_SELECTOR_TYPE, LABEL_SELECTOR_FILTER_TYPE, LabelSelectorFilter, labelKeyProblem, labelSelectorFilterFactory,
} from '../../../../scheduler/plugins/filters/label-selector-filter.js';
import { captureLogger, chatRequest, makeContext, makeEndpoint, makeHandle, WARN_LEVEL } from '../../helpers.js';

const endpoints = [
  makeEndpoint({ name: 'd-h100', role: 'decode', labels: { gpu: 'h100' } }),
  makeEndpoint({ name: 'p-a100', role: 'prefill', labels: { gpu: 'a100', draining: 'true' } }),
  makeEndpoint({ name: 'd-none', role: 'decode' }),
  makeEndpoint({ name: 'bare' }),
];

function run(parameters: unknown): string[] {
  const filter = labelSelectorFilterFactory('sel', parameters, makeHandle());
  return (filter as LabelSelectorFilter).filter(makeContext(endpoints), chatRequest('x'), endpoints).map((e) => e.name);
}

describe('label-selector-filter', () => {
  it('matches every endpoint with an empty selector (Kubernetes semantics)', () => {
    expect(run(undefined)).toEqual(['d-h100', 'p-a100', 'd-none', 'bare']);
    expect(run({})).toEqual(['d-h100', 'p-a100', 'd-none', 'bare']);
  });

  it('matchLabels: all pairs must be present and equal', () => {
    expect(run({ matchLabels: { 'llm-d.ai/role': 'decode' } })).toEqual(['d-h100', 'd-none']);
    expect(run({ matchLabels: { 'llm-d.ai/role': 'decode', gpu: 'h100' } })).toEqual(['d-h100']);
  });

  it('In / NotIn / Exists / DoesNotExist', () => {
    expect(run({ matchExpressions: [{ key: 'gpu', operator: 'In', values: ['a100', 'h100'] }] })).toEqual(['d-h100', 'p-a100']);
    // NotIn keeps endpoints without the label, as Kubernetes does.
    expect(run({ matchExpressions: [{ key: 'gpu', operator: 'NotIn', values: ['a100'] }] })).toEqual(['d-h100', 'd-none', 'bare']);
    expect(run({ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] })).toEqual(['d-h100', 'p-a100']);
    expect(run({ matchExpressions: [{ key: 'draining', operator: 'DoesNotExist', values: null }] })).toEqual(['d-h100', 'd-none', 'bare']);
  });

  it('ANDs matchLabels with every expression and keeps input order', () => {
    expect(run({
      matchLabels: { 'llm-d.ai/role': 'decode' },
      matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }],
    })).toEqual(['d-none']);
  });

  it.each([
    [{ matchExpressions: [{ key: 'gpu', operator: 'Equals', values: ['x'] }] }, 'parameters.matchExpressions[0].operator'],
    [{ matchExpressions: [{ key: 'gpu', operator: 'In', values: [] }] }, 'parameters.matchExpressions[0].values'],
    [{ matchExpressions: [{ key: 'gpu', operator: 'NotIn' }] }, 'parameters.matchExpressions[0].values'],
    [{ matchExpressions: [{ key: 'gpu', operator: 'Exists', values: ['x'] }] }, 'parameters.matchExpressions[0].values'],
    [{ matchExpressions: [{ key: 'ok', operator: 'Exists' }, { key: 'bad key', operator: 'Exists' }] }, 'parameters.matchExpressions[1].key'],
    [{ matchExpressions: [{ key: 'gpu', operator: 'In', values: ['ok', 'not ok!'] }] }, 'parameters.matchExpressions[0].values[1]'],
    [{ matchExpressions: [{ operator: 'Exists' }] }, 'parameters.matchExpressions[0].key'],
    [{ matchLabels: { gpu: 'has space' } }, 'parameters.matchLabels.gpu'],
    [{ matchLabels: { gpu: 5 } }, 'parameters.matchLabels.gpu'],
    [{ matchLabels: ['gpu'] }, 'parameters.matchLabels'],
  ])('rejects %j naming %s', (parameters, path) => {
    expect(() => labelSelectorFilterFactory('sel', parameters, makeHandle())).toThrow(ConfigError);
    expect(() => labelSelectorFilterFactory('sel', parameters, makeHandle())).toThrow(path);
  });

  it('validates label keys like Kubernetes', () => {
    expect(labelKeyProblem('llm-d.ai/role')).toBeUndefined();
    expect(labelKeyProblem('app.kubernetes.io/name')).toBeUndefined();
    expect(labelKeyProblem('a/b/c')).toBeDefined();
    expect(labelKeyProblem('UPPER.case/x')).toBeDefined();
    expect(labelKeyProblem('-leading')).toBeDefined();
    expect(labelKeyProblem('x'.repeat(64))).toBeDefined();
  });

  it('is registered, with "by-label-selector" as a deprecated alias', () => {
    const registry = registerFilterPlugins(new PluginRegistry());
    const { logger, records } = captureLogger();
    const plugin = registry.create(BY_LABEL_SELECTOR_TYPE, 'old', { matchLabels: { gpu: 'h100' } }, makeHandle({ logger }));
    expect(plugin.type).toBe(LABEL_SELECTOR_FILTER_TYPE);
    expect(plugin.name).toBe('old');
    expect(records.some((r) => r.level === WARN_LEVEL && String(r.msg).includes('deprecated'))).toBe(true);
    expect(registry.create(LABEL_SELECTOR_FILTER_TYPE, 'new', undefined, makeHandle()).type).toBe(LABEL_SELECTOR_FILTER_TYPE);
  });
});
