/**
 * Starts the OpenTelemetry Node SDK for one process: traces only (no metrics/logs exporters), W3C
 * tracecontext + baggage, AsyncLocalStorage context, batch export. Health, readiness and metrics
 * requests are never traced (sampler.ts). Every process names itself in the resource attribute
 * `pd_router.component` (epp, sidecar, vllm-sim), so processes stay apart even when
 * OTEL_SERVICE_NAME gives them all one service name. Tracing never fails start-up: problems are
 * logged and the process runs untraced.
 *
 * The SDK itself (node-sdk.ts) is imported only when tracing is on: with it off, none of the
 * OpenTelemetry SDK packages are loaded (~45 MB of RSS saved). Spans made through
 * `@opentelemetry/api` without an SDK are no-ops.
 */
import type { Logger } from '../log.js';
import { readTelemetryConfig, type TelemetryConfig } from './config.js';

/** Resource attribute naming the pd-router component a process is. */
export const COMPONENT_ATTRIBUTE = 'pd_router.component';

export interface Telemetry {
  readonly config: TelemetryConfig;
  /** Flushes pending spans and stops the SDK. Safe to call more than once. */
  shutdown(): Promise<void>;
}

/**
 * The component name of a process: `options.component`, else derived from its default service
 * name (`llm-d-router/epp` → `epp`, `llm-d-pd-sidecar` → `sidecar`, others unchanged).
 */
export function componentOf(defaultServiceName: string, component?: string): string {
  if (component) return component;
  if (defaultServiceName.endsWith('/epp')) return 'epp';
  if (defaultServiceName.endsWith('sidecar')) return 'sidecar';
  return defaultServiceName;
}

export async function startTelemetry(defaultServiceName: string, options: { force?: boolean; logger?: Logger; component?: string } = {}): Promise<Telemetry> {
  const config = readTelemetryConfig(defaultServiceName, options);
  for (const warning of config.warnings) options.logger?.warn(warning);
  if (!config.enabled) return { config, shutdown: async () => undefined };
  let sdk: { shutdown(): Promise<void> } | undefined;
  try {
    const { startNodeSdk } = await import('./node-sdk.js');
    sdk = startNodeSdk(config, { [COMPONENT_ATTRIBUTE]: componentOf(defaultServiceName, options.component) });
    options.logger?.info({ exporter: config.exporter, protocol: config.protocol, endpoint: config.endpoint, sampler: config.sampler, ratio: config.ratio }, 'tracing enabled');
  } catch (err) {
    options.logger?.error({ err }, 'tracing could not start; continuing without it');
    sdk = undefined;
  }
  let stopped: Promise<void> | undefined;
  return {
    config,
    shutdown() {
      stopped ??= (sdk?.shutdown() ?? Promise.resolve()).catch((err: unknown) => {
        options.logger?.warn({ err }, 'tracing shutdown failed');
      });
      return stopped;
    },
  };
}
