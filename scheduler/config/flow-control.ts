/**
 * The `featureGates: [flowControl]` switch and the `flowControl:` section → the one
 * FlowControlAdmission both front doors call (see docs/flow-control.md):
 * - gate on: the section (or its defaults when absent) configures the flow controller;
 * - gate off: requests are not queued; only `flowControl.saturationDetector` may be set, and it
 *   sheds sheddable requests (priority < 0) while the pool is saturated (llm-d's behaviour without
 *   flow control); any other key fails at start-up naming its path (it would do nothing).
 * A declared `probabilistic-admitter` sheds sheddable requests first, gate or not.
 */
import type { Registry } from 'prom-client';
import { ConfigError } from '../framework/errors.js';
import type { Endpoint } from '../framework/endpoint.js';
import type { Plugin } from '../framework/plugins.js';
import { FlowControlAdmission } from '../flowcontrol/admission.js';
import { ProbabilisticAdmitter } from '../flowcontrol/admitter.js';
import { FLOW_CONTROL_FEATURE_GATE, parseFlowControlConfig } from '../flowcontrol/config.js';
import type { ObjectivePriorities } from '../flowcontrol/flow-key.js';
import { FlowControlMetrics } from '../flowcontrol/metrics.js';
import type { EndpointPickerConfig } from './schema.js';
import type { ConfigSource } from './source.js';

export interface AdmissionBuildOptions {
  readonly gates: ReadonlySet<string>;
  readonly plugins: readonly Plugin[];
  readonly lookup: (name: string) => Plugin | undefined;
  readonly endpoints: () => readonly Endpoint[];
  readonly objectives?: ObjectivePriorities;
  readonly registry?: Registry;
  readonly pool?: string;
}

export function buildAdmission(config: EndpointPickerConfig, source: ConfigSource, options: AdmissionBuildOptions): FlowControlAdmission {
  const section = config.flowControl as unknown;
  const gated = options.gates.has(FLOW_CONTROL_FEATURE_GATE);
  const admitters = options.plugins.filter((p): p is ProbabilisticAdmitter & Plugin => p instanceof ProbabilisticAdmitter);
  if (admitters.length > 1) throw source.error(['plugins'], `only one probabilistic-admitter is allowed ("${admitters[0]!.name}", "${admitters[1]!.name}")`);
  let settings;
  try {
    settings = parseFlowControlConfig(section, options.lookup);
  } catch (err) {
    throw err instanceof ConfigError ? source.place([], err) : err;
  }
  if (!gated && section !== undefined && section !== null && typeof section === 'object') {
    const extra = Object.keys(section).find((key) => key !== 'saturationDetector');
    if (extra) throw source.error(['flowControl', extra], `takes effect only with the flow control feature gate: add "featureGates: [${FLOW_CONTROL_FEATURE_GATE}]"`);
  }
  const metrics = options.registry && gated ? new FlowControlMetrics(options.registry, options.pool) : undefined;
  return new FlowControlAdmission({
    endpoints: options.endpoints,
    ...(options.objectives ? { objectives: options.objectives } : {}),
    ...(gated ? { flowControl: settings } : section ? { legacyDetector: settings.detector } : {}),
    ...(admitters[0] ? { admitter: admitters[0] } : {}),
    ...(metrics ? { metrics } : {}),
  });
}
