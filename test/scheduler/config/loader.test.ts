import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig, type LoadOptions } from '../../../scheduler/config/loader.js';
import { ConfigError } from '../../../scheduler/framework/errors.js';
import type { Plugin, PreRequest } from '../../../scheduler/framework/plugins.js';
import { PluginRegistry } from '../../../scheduler/framework/registry.js';
import { EppMetrics } from '../../../scheduler/metrics.js';
import { createDefaultRegistry } from '../../../scheduler/plugins/index.js';
import { PdProfileHandler } from '../../../scheduler/plugins/profiles/pd-profile-handler.js';
import { DisaggProfileHandler } from '../../../scheduler/plugins/profiles/disagg-profile-handler.js';
import { captureLogger, makeContext, makeEndpoint, makeRequest, silentLogger, WARN_LEVEL } from '../helpers.js';

const repo = (path: string) => readFileSync(fileURLToPath(new URL(`../../../${path}`, import.meta.url)), 'utf8');
const options = (extra: Partial<LoadOptions> = {}): LoadOptions => ({ registry: createDefaultRegistry(), logger: silentLogger, ...extra });
const load = (yaml: string, extra?: Partial<LoadOptions>) => loadEndpointPickerConfig(yaml, options(extra));
const header = 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n';

function profileSummary(loaded: ReturnType<typeof load>) {
  return Object.fromEntries([...loaded.profiles].map(([name, p]) => [name, {
    filters: p.filters.map((f) => f.name), scorers: p.scorers.map((s) => `${s.scorer.name}×${s.weight}`), picker: p.picker.name,
  }]));
}

describe('example configs', () => {
  it('config/pd-epp-config.yaml (current generation) loads as P/D with the prefix-based decider', () => {
    const loaded = load(repo('config/pd-epp-config.yaml'));
    expect(loaded.handler).toBeInstanceOf(DisaggProfileHandler);
    const handler = loaded.handler as DisaggProfileHandler;
    expect(handler.prefillDecider?.type).toBe('prefix-based-pd-decider');
    expect(profileSummary(loaded)).toEqual({
      prefill: { filters: ['prefill-filter'], scorers: ['prefix-cache-scorer×2', 'queue-scorer×1', 'kv-cache-utilization-scorer×1'], picker: 'max-score-picker' },
      decode: { filters: ['decode-filter'], scorers: ['prefix-cache-scorer×2', 'queue-scorer×1', 'kv-cache-utilization-scorer×1'], picker: 'max-score-picker' },
    });
    expect(loaded.producers.map((p) => p.name)).toEqual(['approx-prefix-cache-producer']);
    expect(loaded.preRequests.map((p) => p.name)).toContain('disagg-profile-handler');
  });

  it('config/pd-epp-config-legacy.yaml (seed era) loads: pd-profile-handler threshold + prefill-header-handler, producer injected', () => {
    const { logger, records } = captureLogger('info');
    const loaded = load(repo('config/pd-epp-config-legacy.yaml'), { logger });
    expect(loaded.handler).toBeInstanceOf(PdProfileHandler);
    expect((loaded.handler as PdProfileHandler).threshold).toEqual({ threshold: 64, hashBlockSize: 64 });
    expect(loaded.preRequests.map((p) => p.name)).toEqual(['prefill-header-handler', 'approx-prefix-cache-producer']);
    expect(loaded.producers.map((p) => p.name)).toEqual(['approx-prefix-cache-producer']);
    expect(records.some((r) => r.level === WARN_LEVEL && String(r.msg).includes('inference.networking.x-k8s.io/v1alpha1 is deprecated'))).toBe(true);
  });
});

describe('defaulting rules', () => {
  it('no config at all: queue (2) + kv-cache-utilization (2) + prefix-cache (3), single handler, max-score picker, producer', () => {
    for (const text of ['', '   \n', '# only a comment\n']) {
      const loaded = load(text);
      expect(profileSummary(loaded)).toEqual({
        default: { filters: [], scorers: ['queue-scorer×2', 'kv-cache-utilization-scorer×2', 'prefix-cache-scorer×3'], picker: 'max-score-picker' },
      });
      expect(loaded.handler.type).toBe('single-profile-handler');
      expect(loaded.producers.map((p) => p.type)).toEqual(['approx-prefix-cache-producer']);
    }
  });

  it('no profiles: one "default" profile with every filter, scorer and picker, in config order', () => {
    const loaded = load(`${header}plugins:\n- type: decode-filter\n- type: random-picker\n- type: queue-scorer\n- type: prefix-based-pd-decider\n`);
    expect(profileSummary(loaded)).toEqual({ default: { filters: ['decode-filter'], scorers: ['queue-scorer×1'], picker: 'random-picker' } });
    expect(loaded.handler.type).toBe('single-profile-handler');
  });

  it('a profile without a picker gets the first declared picker, else a new max-score-picker', () => {
    const withPicker = load(`${header}plugins:\n- type: queue-scorer\n- type: weighted-random-picker\nschedulingProfiles:\n- name: a\n  plugins: [{pluginRef: queue-scorer}]\n`);
    expect(profileSummary(withPicker).a!.picker).toBe('weighted-random-picker');
    const without = load(`${header}plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: a\n  plugins: [{pluginRef: queue-scorer, weight: 3}]\n`);
    expect(profileSummary(without).a).toEqual({ filters: [], scorers: ['queue-scorer×3'], picker: 'max-score-picker' });
    expect([...without.plugins.keys()]).toEqual(['queue-scorer', 'max-score-picker', 'single-profile-handler']);
  });

  it('plugin name defaults to its type; names let one type appear twice', () => {
    const loaded = load(`${header}plugins:
- type: queue-scorer
- name: q2
  type: queue-scorer
schedulingProfiles:
- name: a
  plugins: [{pluginRef: queue-scorer}, {pluginRef: q2, weight: 0.5}]
`);
    expect(profileSummary(loaded).a!.scorers).toEqual(['queue-scorer×1', 'q2×0.5']);
  });

  it('a producer is injected only when something reads its attribute', () => {
    expect(load(`${header}plugins:\n- type: queue-scorer\n`).producers).toEqual([]);
    expect(load(`${header}plugins:\n- type: prefix-cache-scorer\n`).producers.map((p) => p.type)).toEqual(['approx-prefix-cache-producer']);
  });

  it('PreRequest plugins run in config order (upstream: random), injected ones last', () => {
    const loaded = load(`${header}plugins:
- type: disagg-headers-handler
- type: no-hit-lru-scorer
- type: prefill-header-handler
  name: legacy-headers
- type: decode-filter
- type: prefill-filter
- type: always-disagg-pd-decider
- type: disagg-profile-handler
  parameters: {deciders: {prefill: always-disagg-pd-decider}}
schedulingProfiles:
- name: decode
  plugins: [{pluginRef: decode-filter}, {pluginRef: no-hit-lru-scorer}]
- name: prefill
  plugins: [{pluginRef: prefill-filter}]
`);
    expect(loaded.preRequests.map((p: PreRequest) => p.name)).toEqual(['disagg-headers-handler', 'no-hit-lru-scorer', 'legacy-headers', 'disagg-profile-handler', 'approx-prefix-cache-producer']);
  });

  it('a plugin may refer to one declared after it (decider after its handler)', () => {
    const loaded = load(`${header}plugins:
- type: disagg-profile-handler
  parameters: {deciders: {prefill: my-decider}}
- type: decode-filter
- name: my-decider
  type: prefix-based-pd-decider
  parameters: {nonCachedTokens: 8}
schedulingProfiles:
- name: decode
  plugins: [{pluginRef: decode-filter}]
`);
    expect((loaded.handler as DisaggProfileHandler).prefillDecider?.name).toBe('my-decider');
    expect([...loaded.plugins.keys()].slice(0, 3)).toEqual(['disagg-profile-handler', 'decode-filter', 'my-decider']);
  });

  it('accepts upstream infrastructure types and references (parser, data layer, saturation detector)', () => {
    const loaded = load(`${header}featureGates: [dataLayer]
plugins:
- type: openai-parser
- type: metrics-data-source
  parameters: {scheme: http, path: /metrics}
- type: core-metrics-extractor
- type: utilization-detector
- type: inflight-load-producer
- type: queue-scorer
- type: active-request-scorer
parser: {pluginRef: openai-parser}
saturationDetector: {pluginRef: utilization-detector}
dataLayer:
  sources:
  - pluginRef: metrics-data-source
    extractors: [{pluginRef: core-metrics-extractor}]
`);
    expect(loaded.featureGates).toEqual(new Set(['dataLayer']));
    expect(profileSummary(loaded).default!.scorers).toEqual(['queue-scorer×1', 'active-request-scorer×1']);
  });

  it('feeds plugin_duration_seconds through the scheduler timer', async () => {
    const metrics = new EppMetrics();
    const loaded = load('', { metrics });
    await loaded.scheduler.schedule(makeContext([makeEndpoint({ name: 'a' })]), makeRequest({ model: 'm', prompt: 'x' }));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/inference_extension_plugin_duration_seconds_count\{extension_point="Scorer",plugin_type="queue-scorer",plugin_name="queue-scorer"\} 1/);
    expect(text).toMatch(/extension_point="ProfilePick",plugin_type="single-profile-handler"/);
  });
});

describe('errors name the YAML path (and line)', () => {
  const fails = (yaml: string) => {
    try {
      load(yaml);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected the config to fail');
  };

  it('unknown plugin type', () => {
    expect(fails(`${header}plugins:\n- type: queue-scorer\n- type: warp-drive\n`)).toMatch(/^plugins\[1\]\.type: unknown plugin type "warp-drive" \(known: .*queue-scorer.*\) \(line 5\)$/);
  });

  it('bad parameters', () => {
    const yaml = `${header}plugins:\n- type: decode-filter\n- type: prefill-filter\n- type: prefill-header-handler\n- type: pd-profile-handler\n  parameters:\n    threshold: -3\n`;
    expect(fails(yaml)).toMatch(/^plugins\[3\]\.parameters\.threshold: .*negative.* \(line 9\)$/);
    expect(fails(`${header}plugins:\n- type: prefix-based-pd-decider\n  parameters: {nonCachedTokens: many}\n`)).toMatch(/^plugins\[0\]\.parameters\.nonCachedTokens: .*\(line 5\)$/);
  });

  it('unknown plugin reference in a profile', () => {
    const yaml = `${header}plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: a\n  plugins: [{pluginRef: queue-scorer}]\n- name: b\n  plugins:\n  - pluginRef: x\n`;
    expect(fails(yaml)).toBe('schedulingProfiles[1].plugins[0].pluginRef: unknown plugin "x" (declared: queue-scorer) (line 10)');
  });

  it('duplicates and missing names', () => {
    expect(fails(`${header}plugins:\n- type: queue-scorer\n- type: queue-scorer\n`)).toMatch(/^plugins\[1\]\.type: duplicate plugin name "queue-scorer"/);
    expect(fails(`${header}plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: a\n- name: a\n`)).toMatch(/^schedulingProfiles\[1\]\.name: duplicate scheduling profile name "a"/);
    expect(fails(`${header}plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: ""\n`)).toMatch(/^schedulingProfiles\[0\]\.name: scheduling profile is missing a name/);
    expect(fails(`${header}plugins:\n- name: x\n`)).toMatch(/^plugins\[0\]\.type: required field is missing/);
  });

  it('strict top level and entries; apiVersion and kind', () => {
    expect(fails(`${header}plugin: []\n`)).toMatch(/^plugin: unknown field "plugin" in the top level \(line 3\)$/);
    expect(fails(`${header}plugins:\n- type: queue-scorer\n  weight: 2\n`)).toMatch(/^plugins\[0\]\.weight: unknown field "weight" in plugins\[0\] \(line 5\)$/);
    expect(fails('apiVersion: v1\nkind: EndpointPickerConfig\n')).toMatch(/^apiVersion: apiVersion must be llm-d\.ai\/v1alpha1/);
    expect(fails('apiVersion: llm-d.ai/v1alpha1\nkind: Pod\n')).toMatch(/^kind: kind must be EndpointPickerConfig \(line 2\)$/);
    expect(fails('kind: EndpointPickerConfig\n')).toMatch(/^apiVersion: /);
    expect(fails('- a\n- b\n')).toMatch(/the config must be a YAML mapping/);
  });

  it('YAML syntax errors carry the line', () => {
    expect(fails(`${header}plugins:\n  - type: a\n - type: b\n`)).toMatch(/^invalid YAML: .*line/);
    expect(fails(`${header}kind: again\n`)).toMatch(/^invalid YAML: .*[Mm]ap keys must be unique/);
  });

  it('unknown feature gate', () => {
    expect(fails(`${header}featureGates: [dataLayer, warp]\n`)).toMatch(/^featureGates\[1\]: unknown feature gate "warp" \(known: dataLayer, enableLegacyMetrics, flowControl\) \(line 3\)$/);
  });

  it('profile handlers: at most one; one is needed for several profiles', () => {
    expect(fails(`${header}plugins:\n- type: single-profile-handler\n- type: disagg-profile-handler\n`)).toMatch(/^plugins\[1\]: only one profile handler is allowed/);
    expect(fails(`${header}plugins:\n- type: queue-scorer\nschedulingProfiles:\n- name: a\n- name: b\n`)).toMatch(/^plugins: no profile handler configured for 2 scheduling profiles/);
    expect(fails(`${header}plugins:\n- type: single-profile-handler\nschedulingProfiles:\n- name: a\n- name: b\n`)).toMatch(/^plugins\[0\]: single-profile-handler cannot serve 2 scheduling profiles/);
  });

  it('a handler whose decode profile does not exist fails at start', () => {
    expect(fails(`${header}plugins:\n- type: prefill-filter\n- type: disagg-profile-handler\nschedulingProfiles:\n- name: prefill\n  plugins: [{pluginRef: prefill-filter}]\n`))
      .toMatch(/^plugins\[1\]\.parameters: the decode profile "decode" is not among the scheduling profiles \(prefill\)/);
  });

  it('decider references are checked', () => {
    expect(fails(`${header}plugins:\n- type: disagg-profile-handler\n  parameters:\n    deciders: {prefill: ghost}\n`)).toMatch(/^plugins\[0\]\.parameters\.deciders\.prefill: decider plugin "ghost" is not declared.* \(line 6\)$/);
  });

  it('two pickers in one profile', () => {
    expect(fails(`${header}plugins:\n- type: max-score-picker\n- type: random-picker\nschedulingProfiles:\n- name: a\n  plugins: [{pluginRef: max-score-picker}, {pluginRef: random-picker}]\n`))
      .toMatch(/^schedulingProfiles\[0\]\.plugins\[1\]\.pluginRef: scheduling profile "a" already has picker "max-score-picker"/);
  });

  it('references from parser, saturationDetector and dataLayer', () => {
    expect(fails(`${header}saturationDetector: {pluginRef: nope}\n`)).toMatch(/^saturationDetector\.pluginRef: unknown plugin "nope"/);
    expect(fails(`${header}dataLayer:\n  sources: [{pluginRef: nope}]\n`)).toMatch(/^dataLayer\.sources\[0\]\.pluginRef: unknown plugin "nope"/);
    expect(fails(`${header}parser: {pluginRef: nope}\n`)).toMatch(/^parser\.pluginRef: unknown plugin "nope"/);
  });
});

describe('close()', () => {
  function closingRegistry(closed: string[]): PluginRegistry {
    const registry = createDefaultRegistry();
    registry.register('closing-scorer', (name): Plugin => ({
      type: 'closing-scorer', name, score: () => new Map(), close: async () => void closed.push(name),
    } as Plugin));
    return registry;
  }

  it('closes every plugin that has close()', async () => {
    const closed: string[] = [];
    const loaded = loadEndpointPickerConfig(`${header}plugins:\n- type: closing-scorer\n- name: second\n  type: closing-scorer\n`, options({ registry: closingRegistry(closed) }));
    await loaded.close();
    expect(closed).toEqual(['closing-scorer', 'second']);
  });

  it('closes what was built when loading fails', async () => {
    const closed: string[] = [];
    expect(() => loadEndpointPickerConfig(`${header}plugins:\n- type: closing-scorer\n- type: nope\n`, options({ registry: closingRegistry(closed) }))).toThrow(ConfigError);
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toEqual(['closing-scorer']);
  });
});
