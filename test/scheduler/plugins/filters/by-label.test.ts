import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../../scheduler/framework/errors.js';
import { PluginRegistry } from '../../../../scheduler/framework/registry.js';
import { BY_LABEL_TYPE, ByLabelFilter, byLabelFactory, filterByLabel } from '../../../../scheduler/plugins/filters/by-label.js';
import { registerFilterPlugins } from '../../../../scheduler/plugins/filters/index.js';
import { captureLogger, chatRequest, makeContext, makeEndpoint, makeHandle, WARN_LEVEL } from '../../helpers.js';

const endpoints = [
  makeEndpoint({ name: 'h100', labels: { gpu: 'h100' } }),
  makeEndpoint({ name: 'none' }),
  makeEndpoint({ name: 'a100', labels: { gpu: 'a100' } }),
  makeEndpoint({ name: 'empty', labels: { gpu: '' } }),
];
const names = (list: readonly { name: string }[]) => list.map((e) => e.name);

describe('by-label filter', () => {
  it('keeps endpoints whose label value is valid, in input order', () => {
    expect(names(filterByLabel(endpoints, 'gpu', new Set(['a100', 'h100']), false))).toEqual(['h100', 'a100']);
  });

  it('keeps unlabeled endpoints only with allowsNoLabel; an empty value counts as present', () => {
    expect(names(filterByLabel(endpoints, 'gpu', new Set(['h100']), true))).toEqual(['h100', 'none']);
    expect(names(filterByLabel(endpoints, 'gpu', new Set([]), true))).toEqual(['none']);
    expect(names(filterByLabel(endpoints, 'gpu', new Set(['']), false))).toEqual(['empty']);
  });

  it('builds from parameters through the registry', () => {
    const plugin = registerFilterPlugins(new PluginRegistry()).create(BY_LABEL_TYPE, 'gpus', { label: 'gpu', validValues: ['a100'] }, makeHandle()) as ByLabelFilter;
    expect(plugin).toBeInstanceOf(ByLabelFilter);
    expect(plugin.name).toBe('gpus');
    expect(names(plugin.filter(makeContext(endpoints), chatRequest('x'), endpoints))).toEqual(['a100']);
  });

  it('logs that the type is deprecated', () => {
    const { logger, records } = captureLogger();
    byLabelFactory('f', { label: 'gpu', allowsNoLabel: true }, makeHandle({ logger }));
    expect(records.some((r) => r.level === WARN_LEVEL && String(r.msg).includes('deprecated'))).toBe(true);
  });

  it.each([
    [{}, 'parameters.label'],
    [undefined, 'parameters.label'],
    [{ label: '' , validValues: ['x'] }, 'parameters.label'],
    [{ label: 'gpu' }, 'parameters.validValues'],
    [{ label: 'gpu', validValues: [] }, 'parameters.validValues'],
    [{ label: 7, validValues: ['x'] }, 'parameters.label'],
    [{ label: 'gpu', validValues: 'h100' }, 'parameters.validValues'],
    [{ label: 'gpu', validValues: ['x'], allowsNoLabel: 'yes' }, 'parameters.allowsNoLabel'],
  ])('rejects %j naming %s', (parameters, path) => {
    expect(() => byLabelFactory('f', parameters, makeHandle())).toThrow(ConfigError);
    expect(() => byLabelFactory('f', parameters, makeHandle())).toThrow(path);
  });
});
