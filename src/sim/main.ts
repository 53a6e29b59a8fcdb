/**
 * `pd-router sim` process entry: start the simulator (one engine, or one per data-parallel rank,
 * docs/simulator.md), and on SIGTERM/SIGINT drain (new inference requests → 503, in-flight ones
 * finish) and exit 0.
 */
import { createLogger, type Logger } from '../log.js';
import { startTelemetry } from '../telemetry/sdk.js';
import type { SimConfig } from './config.js';
import { startSimulator, type KvEventSinkFactory, type RunningSimulator } from './simulator.js';
import { kvEventsTopic, ZmqKvEventPublisher } from './kv-events-publisher.js';

export interface RunOptions {
  /** Configuration warnings to log (e.g. ignored YAML keys). */
  warnings?: string[];
}

/**
 * The per-rank configurations: `--data-parallel-rank R` runs rank R alone on `--port`;
 * otherwise `--data-parallel-size N` runs ranks 0..N−1 on `port + r` (port 0: any free port each).
 */
export function rankConfigs(config: SimConfig): SimConfig[] {
  if (config.dataParallelRank >= 0) return [config];
  return Array.from({ length: config.dataParallelSize }, (_, rank) => ({
    ...config,
    port: config.port === 0 ? 0 : config.port + rank,
    dataParallelRank: config.dataParallelSize > 1 ? rank : -1,
  }));
}

/**
 * With the prefix cache on and an endpoint set, KV events go out over ZeroMQ like vLLM's, on the
 * topic `kv@<POD_IP>:<serving port>@<model>` — the port is known only once listening, hence a factory.
 */
function kvEventPublisher(config: SimConfig, logger: Logger): KvEventSinkFactory | undefined {
  if (!config.enableKvcache || config.zmqEndpoint === '') return undefined;
  return ({ port }) => ZmqKvEventPublisher.open({
    endpoint: config.zmqEndpoint,
    topic: kvEventsTopic(config.podIp, port, config.model),
    bind: config.kvEventsBind,
    eventBatchSize: config.eventBatchSize,
    encoding: config.useVllmMapEventFormat ? 'map' : 'positional',
    dataParallelRank: Math.max(0, config.dataParallelRank),
    logger,
  });
}

export async function runSim(config: SimConfig, options: RunOptions = {}): Promise<void> {
  const logger = createLogger('sim');
  for (const warning of options.warnings ?? []) logger.warn(warning);
  // Like vLLM with --otlp-traces-endpoint: on when OTEL_* configures an exporter.
  const telemetry = await startTelemetry('vllm-sim', { logger });
  const simulators: RunningSimulator[] = [];
  for (const rankConfig of rankConfigs(config)) {
    const rankLogger = rankConfig.dataParallelRank >= 0 ? logger.child({ rank: rankConfig.dataParallelRank }) : logger;
    simulators.push(await startSimulator(rankConfig, { logger: rankLogger, kvEventSink: kvEventPublisher(rankConfig, rankLogger) }));
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    const running = simulators.reduce((sum, simulator) => sum + simulator.engine.counts.running, 0);
    const waiting = simulators.reduce((sum, simulator) => sum + simulator.engine.counts.waiting, 0);
    logger.info({ signal, running, waiting }, 'shutting down: draining in-flight requests');
    const exit = (code: number): void => logger.flush(() => process.exit(code));
    Promise.all(simulators.map((simulator) => simulator.close())).then(() => telemetry.shutdown()).then(
      () => exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
