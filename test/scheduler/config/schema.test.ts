import { describe, expect, it } from 'vitest';
import { EndpointPickerConfigSchema, defaultConfig, formatPath } from '../../../scheduler/config/schema.js';

describe('EndpointPickerConfig schema', () => {
  it('formats zod paths as YAML paths', () => {
    expect(formatPath(['plugins', 3, 'parameters', 'threshold'])).toBe('plugins[3].parameters.threshold');
    expect(formatPath(['schedulingProfiles', 1, 'plugins', 0, 'pluginRef'])).toBe('schedulingProfiles[1].plugins[0].pluginRef');
    expect(formatPath([])).toBe('');
  });

  it('accepts both apiVersions and free-form plugin parameters', () => {
    for (const apiVersion of ['llm-d.ai/v1alpha1', 'inference.networking.x-k8s.io/v1alpha1']) {
      expect(EndpointPickerConfigSchema.safeParse({ apiVersion, kind: 'EndpointPickerConfig', plugins: [{ type: 't', parameters: { any: { thing: [1] } } }] }).success).toBe(true);
    }
  });

  it('the built-in default config is valid', () => {
    expect(EndpointPickerConfigSchema.parse(defaultConfig())).toEqual(defaultConfig());
  });
});
