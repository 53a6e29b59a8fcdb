/**
 * Plugin parameters are checked centrally: a key outside the plugin's schema fails start-up with
 * the YAML path, the plugin type and the known keys; upstream's documented pass-through keys still
 * load. ConfigError carries the path as data (no message parsing) and the file and line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { loadEndpointPickerConfig } from '../../../scheduler/config/loader.js';
import { ConfigError } from '../../../scheduler/framework/errors.js';
import { parseParameters, tolerate } from '../../../scheduler/framework/registry.js';
import { createDefaultRegistry } from '../../../scheduler/plugins/index.js';
import { silentLogger } from '../helpers.js';

const CONFIG_DIR = fileURLToPath(new URL('../../../config/', import.meta.url));
const CHART_VALUES = fileURLToPath(new URL('../../../charts/pd-router/values.yaml', import.meta.url));
const load = (yaml: string, file?: string) => loadEndpointPickerConfig(yaml, { registry: createDefaultRegistry(), logger: silentLogger, file });
const header = 'apiVersion: llm-d.ai/v1alpha1\nkind: EndpointPickerConfig\n';

function loadError(yaml: string, file?: string): ConfigError {
  try {
    const loaded = load(yaml, file);
    void loaded.close();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('the config loaded');
}

describe('every shipped config loads', () => {
  const files = readdirSync(CONFIG_DIR).filter((f) => f.endsWith('.yaml'));
  it('finds the example configs (positive control)', () => {
    expect(files).toContain('pd-epp-config.yaml');
  });
  for (const file of files) {
    it(`config/${file}`, async () => {
      const loaded = load(readFileSync(`${CONFIG_DIR}${file}`, 'utf8'), file);
      expect(loaded.plugins.size).toBeGreaterThan(0);
      await loaded.close();
    });
  }
  it('the chart default (values.yaml epp.config)', async () => {
    const values = parse(readFileSync(CHART_VALUES, 'utf8')) as { epp: { config: string } };
    const loaded = load(values.epp.config);
    await loaded.close();
  });
});

describe('unknown plugin parameters', () => {
  const decider = `${header}plugins:
- type: queue-scorer
- type: max-score-picker
- type: prefix-based-pd-decider
  parameters:
    nonCachedTokenz: 16
- type: disagg-profile-handler
  parameters: {deciders: {prefill: prefix-based-pd-decider}}
schedulingProfiles:
- name: prefill
  plugins: [{pluginRef: queue-scorer}, {pluginRef: max-score-picker}]
- name: decode
  plugins: [{pluginRef: queue-scorer}, {pluginRef: max-score-picker}]
`;

  it('a misspelled key fails with its YAML path, the plugin type and the known keys', () => {
    const err = loadError(decider, 'epp.yaml');
    expect(err.path).toEqual(['plugins', 2, 'parameters', 'nonCachedTokenz']);
    expect(err.detail).toBe('unknown parameter of prefix-based-pd-decider (known: nonCachedTokens, promptTokens)');
    expect(err.file).toBe('epp.yaml');
    expect(err.line).toBe(8);
    expect(err.message).toBe('epp.yaml: plugins[2].parameters.nonCachedTokenz: unknown parameter of prefix-based-pd-decider (known: nonCachedTokens, promptTokens) (line 8)');
  });

  it('the correctly spelled key loads (positive control)', async () => {
    const loaded = load(decider.replace('nonCachedTokenz', 'nonCachedTokens'));
    await loaded.close();
  });

  it('plugins whose schema strips unknown keys (z.object) reject them too', () => {
    const err = loadError(`${header}plugins:\n- type: queue-scorer\n- type: max-score-picker\n  parameters: {maxNumOfEndpoint: 2}\n`);
    expect(err.path).toEqual(['plugins', 1, 'parameters', 'maxNumOfEndpoint']);
    expect(err.detail).toBe('unknown parameter of max-score-picker (known: maxNumOfEndpoints)');
  });

  it("disagg-profile-handler's documented ignored keys (primaryPort, threshold) still load, and are listed as ignored", async () => {
    const pasted = decider.replace('nonCachedTokenz: 16', 'nonCachedTokens: 16').replace('parameters: {deciders: {prefill: prefix-based-pd-decider}}', 'parameters: {deciders: {prefill: prefix-based-pd-decider}, primaryPort: 8000, threshold: 100}');
    const loaded = load(pasted);
    await loaded.close();
    const err = loadError(pasted.replace('primaryPort', 'primaryPrt'));
    expect(err.path).toEqual(['plugins', 3, 'parameters', 'primaryPrt']);
    expect(err.detail).toMatch(/^unknown parameter of disagg-profile-handler \(known: profiles, deciders, .*primaryPort \(ignored\)/);
  });

  it('prefix-cache-scorer keeps accepting the producer keys sample configs put on it', async () => {
    const loaded = load(`${header}plugins:\n- type: prefix-cache-scorer\n  parameters: {blockSize: 64, maxPrefixBlocksToMatch: 256, lruCapacityPerServer: 31250}\n- type: max-score-picker\n`);
    await loaded.close();
  });
});

describe('parseParameters and ConfigError', () => {
  it('sees through wrappers and honours tolerate()', () => {
    const schema = tolerate(z.looseObject({ a: z.number().default(1) }).optional(), ['legacy']);
    expect(parseParameters(schema, { a: 2, legacy: true })).toMatchObject({ a: 2 });
    expect(() => parseParameters(schema, { b: 1 })).toThrow('parameters.b: unknown parameter (known: a, legacy (ignored))');
  });

  it('a bad value names its nested path as data', () => {
    const schema = z.object({ tiers: z.array(z.object({ weight: z.number() })) });
    try {
      parseParameters(schema, { tiers: [{ weight: 1 }, { weight: 'x' }] });
      throw new Error('parsed');
    } catch (err) {
      expect((err as ConfigError).path).toEqual(['parameters', 'tiers', 1, 'weight']);
      expect((err as ConfigError).message).toMatch(/^parameters\.tiers\[1\]\.weight: /);
    }
  });

  it('formats one way: file, path, detail, line', () => {
    expect(new ConfigError(['a', 0, 'b'], 'bad', { file: 'f.yaml', line: 3 }).message).toBe('f.yaml: a[0].b: bad (line 3)');
    expect(new ConfigError('parameters.x.2', 'bad').path).toEqual(['parameters', 'x', 2]);
    expect(new ConfigError([], 'empty').message).toBe('empty');
    expect(new ConfigError(['k'], 'd').within(['plugins', 4]).message).toBe('plugins[4].k: d');
  });
});
