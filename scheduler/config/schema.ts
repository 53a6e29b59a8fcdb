/**
 * The EndpointPickerConfig schema (llm-d `apix/config/v1alpha1`, docs/configuration.md "Schema"). Like upstream's
 * strict decoder, unknown fields anywhere outside plugin `parameters` are errors; `parameters` is
 * free-form and each plugin's factory validates it.
 */
import { z } from 'zod';

export const API_VERSION = 'llm-d.ai/v1alpha1';
/** The older group, still accepted upstream (logged as deprecated). */
export const DEPRECATED_API_VERSION = 'inference.networking.x-k8s.io/v1alpha1';
export const KIND = 'EndpointPickerConfig';

/** Feature gates upstream registers; anything else is an error. */
export const KNOWN_FEATURE_GATES = ['dataLayer', 'enableLegacyMetrics', 'flowControl'] as const;

const pluginRef = z.string({ error: 'pluginRef must be a string' });

export const PluginSpecSchema = z.strictObject({
  name: z.string().optional(),
  type: z.string({ error: 'type must be a string' }).min(1, 'plugin is missing a type'),
  parameters: z.unknown().optional(),
});

export const SchedulingPluginSchema = z.strictObject({
  pluginRef,
  weight: z.number({ error: 'weight must be a number' }).optional(),
});

export const SchedulingProfileSchema = z.strictObject({
  name: z.string({ error: 'name must be a string' }),
  plugins: z.array(SchedulingPluginSchema).nullish(),
});

export const DataLayerSchema = z.strictObject({
  injectDefaults: z.boolean().optional(),
  sources: z.array(z.strictObject({
    pluginRef,
    extractors: z.array(z.strictObject({ pluginRef })).nullish(),
  })).nullish(),
  discovery: z.strictObject({ pluginRef }).nullish(),
});

export const EndpointPickerConfigSchema = z.strictObject({
  apiVersion: z.enum([API_VERSION, DEPRECATED_API_VERSION], { error: `apiVersion must be ${API_VERSION} (or the deprecated ${DEPRECATED_API_VERSION})` }),
  kind: z.literal(KIND, { error: `kind must be ${KIND}` }),
  featureGates: z.array(z.string()).nullish(),
  plugins: z.array(PluginSpecSchema).nullish(),
  schedulingProfiles: z.array(SchedulingProfileSchema).nullish(),
  saturationDetector: z.strictObject({ pluginRef: z.string().optional() }).nullish(),
  dataLayer: DataLayerSchema.nullish(),
  /** Accepted for compatibility; pd-router has no flow control (logged). */
  flowControl: z.record(z.string(), z.unknown()).nullish(),
  parser: z.strictObject({ pluginRef }).nullish(),
  /** llm-d's request parsers, in resolution order (scheduler/config/parsers.ts). */
  requestHandler: z.strictObject({ parsers: z.array(z.strictObject({ pluginRef })).nullish() }).nullish(),
});

export type EndpointPickerConfig = z.infer<typeof EndpointPickerConfigSchema>;
export type SchedulingProfileSpec = z.infer<typeof SchedulingProfileSchema>;

/** `['plugins', 3, 'parameters', 'threshold']` → `plugins[3].parameters.threshold`. */
export { formatPath } from '../../src/config-error.js';

/** The built-in configuration used when no config is given. */
export function defaultConfig(): EndpointPickerConfig {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    plugins: [{ type: 'queue-scorer' }, { type: 'kv-cache-utilization-scorer' }, { type: 'prefix-cache-scorer' }],
    schedulingProfiles: [{
      name: 'default',
      plugins: [
        { pluginRef: 'queue-scorer', weight: 2 },
        { pluginRef: 'kv-cache-utilization-scorer', weight: 2 },
        { pluginRef: 'prefix-cache-scorer', weight: 3 },
      ],
    }],
  };
}
