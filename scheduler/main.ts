/**
 * The EPP process: endpoint source + metrics scraper → config → Director, behind the built-in
 * HTTP gateway, the Envoy ext_proc server, gRPC health and Prometheus metrics. `startEpp` is the
 * in-process form (tests, demo, benchmarks); `runEpp` adds telemetry and signal handling.
 */
import { readFileSync } from 'node:fs';
import { createLogger, type Logger } from '../src/log.js';
import type { ListeningServer } from '../src/http/server.js';
import { loadCertificateDir, selfSignedCertificate } from '../src/http/tls.js';
import { startTelemetry } from '../src/telemetry/sdk.js';
import { loadEndpointPickerConfig } from './config/loader.js';
import { EndpointStore } from './datalayer/store.js';
import { StaticFileSource } from './datalayer/static-file.js';
import { MetricsScraper } from './datalayer/scraper.js';
import { startKubernetesDiscovery } from './datalayer/pool-source.js';
import { startExtProcServer } from './extproc/server.js';
import { ExtProcStreamMetrics } from './extproc/stream-metrics.js';
import { startHealthServer } from './extproc/health.js';
import { Director } from './framework/director.js';
import type { Plugin } from './framework/plugins.js';
import { startPlugins, type PluginStartup } from './framework/startup.js';
import { Gateway } from './gateway/server.js';
import { EppMetrics } from './metrics.js';
import { startMetricsServer } from './metrics-server.js';
import { EPP_DEFAULTS, type EppConfig } from './epp-config.js';
import { createDefaultRegistry } from './plugins/index.js';
import { isMetricsDataSource } from './plugins/datalayer/metrics-data-source.js';
import { isMockMetricsSource } from './plugins/datalayer/mock-metrics-source.js';

export interface RunningEpp {
  readonly director: Director;
  readonly store: EndpointStore;
  readonly metrics: EppMetrics;
  /** The loaded config's plugins by name. */
  readonly plugins: ReadonlyMap<string, Plugin>;
  /** Listener ports actually bound (port 0 resolved); undefined when that listener is off. */
  readonly ports: { gateway?: number; grpc?: number; health?: number; metrics?: number };
  readonly gatewayUrl?: string;
  /**
   * Resolves once every plugin with start-up work is ready (e.g. configured tokenizers loaded in
   * every worker; until then health is NOT_SERVING); rejects when one never will: the EPP cannot serve as configured.
   */
  readonly started: Promise<void>;
  /** Health turns NOT_SERVING; everything else keeps serving (`--drain-timeout`, before close()). */
  drain(): void;
  close(): Promise<void>;
}

type Closer = () => Promise<void> | void;

export async function startEpp(partial: Partial<EppConfig>, logger: Logger = createLogger('epp')): Promise<RunningEpp> {
  const config: EppConfig = { ...EPP_DEFAULTS, ...partial };
  const closers: Closer[] = [];
  // Once, newest first: a second call (a signal during a failed start's close) waits for the first.
  let closing: Promise<void> | undefined;
  const closeAll = (): Promise<void> => (closing ??= (async () => {
    for (const close of [...closers].reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn({ err }, 'error while shutting down');
      }
    }
  })());
  try {
    const metrics = new EppMetrics({ defaultMetrics: true });
    const store = new EndpointStore();
    let isServing = (): boolean => store.synced;
    let draining = false;
    let pluginStartup: PluginStartup | undefined;
    const ready = (): boolean => !draining && pluginStartup?.done === true && isServing();
    let kubeObjective: ((name: string) => number | undefined) | undefined;
    const poolName = config.pool?.poolName;
    if (config.pool && (poolName || config.pool.endpointSelector)) {
      const discovery = await startKubernetesDiscovery({ config: config.pool, store, logger });
      closers.push(() => discovery.close());
      isServing = () => discovery.isServing();
      kubeObjective = (name) => discovery.objectivePriority(name);
    } else if (config.endpointsFile) {
      const source = new StaticFileSource(config.endpointsFile, store, logger);
      source.start();
      closers.push(() => source.close());
    } else {
      logger.warn('neither --pool-name nor --endpoints given: the endpoint set is empty and every request gets 503');
      store.replaceAll([]);
    }
    const updateReady = (): void => metrics.readyPods.set({ name: poolName ?? 'static' }, store.list().length);
    updateReady();
    closers.push(store.onChange(updateReady));

    const yamlText = config.configText ?? (config.configFile ? readFileSync(config.configFile, 'utf8') : '');
    const loaded = loadEndpointPickerConfig(yamlText, { registry: createDefaultRegistry(), logger, metrics, endpoints: () => store.list(),
      endpointChanges: (listener) => store.onChange(listener),
      scrape: { intervalMs: config.refreshMetricsIntervalMs, timeoutMs: config.metricsTimeoutMs, maxBodyBytes: config.metricsMaxBodyBytes },
      pool: poolName, objectives: objectivesOf(config, kubeObjective), file: config.configText === undefined ? config.configFile : undefined });
    closers.push(() => loaded.close());
    const startup = startPlugins(loaded.plugins.values(), logger);
    pluginStartup = startup;
    // A declared mock-metrics-source replaces the /metrics scrape; a metrics-data-source configures it.
    const mockSource = [...loaded.plugins.values()].find(isMockMetricsSource);
    if (mockSource) {
      mockSource.run(store, config.refreshMetricsIntervalMs);
      closers.push(() => mockSource.close());
    } else {
      const metricsSource = [...loaded.plugins.values()].find(isMetricsDataSource)?.scrape;
      const scraper = new MetricsScraper(store, {
        intervalMs: metricsSource?.intervalMs ?? config.refreshMetricsIntervalMs, timeoutMs: config.metricsTimeoutMs, stalenessMs: config.metricsStalenessMs,
        maxBodyBytes: config.metricsMaxBodyBytes, scheme: metricsSource?.scheme, path: metricsSource?.path, insecureSkipVerify: metricsSource?.insecureSkipVerify,
      }, logger, metrics);
      scraper.start();
      closers.push(() => scraper.close());
    }
    const director = new Director({
      scheduler: loaded.scheduler,
      endpoints: () => store.list(),
      synced: () => store.synced,
      producers: loaded.producers,
      preRequests: loaded.preRequests,
      responseCompletes: loaded.responseCompletes,
      logger,
      metrics,
    });

    const ports: { gateway?: number; grpc?: number; health?: number; metrics?: number } = {};
    let gatewayUrl: string | undefined;
    if (config.gatewayPort >= 0) {
      const gateway = new Gateway({
        director, endpoints: () => store.list(), parsers: loaded.parsers, logger, metrics, admission: loaded.admission, bodyLimit: config.bodyLimitBytes,
        headerTimeoutMs: config.gatewayHeaderTimeoutMs, bodyTimeoutMs: config.gatewayBodyTimeoutMs,
        trustClientKvTransferParams: config.trustClientKvTransferParams,
      });
      const server: ListeningServer = await gateway.listen(config.gatewayPort, config.host);
      closers.push(() => gateway.close(), () => server.close(5_000));
      ports.gateway = server.port;
      gatewayUrl = server.url;
      logger.info({ url: server.url, port: server.port, listener: 'gateway' }, 'listening');
    }
    if (config.grpcPort >= 0) {
      const tls = !config.secureServing ? undefined
        : config.certPath ? await loadCertificateDir(config.certPath) : await selfSignedCertificate('llm-d Endpoint Picker');
      const grpc = await startExtProcServer({ director, endpoints: () => store.list(), parsers: loaded.parsers, admission: loaded.admission, reporters: loaded.reporters, port: config.grpcPort, host: config.host, secure: config.secureServing, tls,
        tlsMinVersion: config.tlsMinVersion, tlsCiphers: config.tlsCiphers, maxReceiveMessageBytes: config.grpcMaxRecvMsgBytes, maxSendMessageBytes: config.grpcMaxSendMsgBytes,
        health: config.healthChecking ? { isServing: ready } : undefined, certReloadDir: config.enableCertReload ? config.certPath : undefined,
        streamMetrics: config.enableGrpcStreamMetrics ? new ExtProcStreamMetrics(metrics.registry) : undefined, subsetFilter: config.subsetFilter, emitEndpointScores: config.emitEndpointScores, logger, metrics, bodyLimit: config.bodyLimitBytes, trustClientKvTransferParams: config.trustClientKvTransferParams });
      closers.push(() => grpc.close());
      ports.grpc = grpc.port;
      logger.info({ url: `${config.secureServing ? 'grpcs' : 'grpc'}://${config.host}:${grpc.port}`, port: grpc.port, listener: 'grpc' }, 'listening');
    }
    if (config.grpcHealthPort >= 0) {
      const health = await startHealthServer({ port: config.grpcHealthPort, host: config.host, isServing: ready });
      closers.push(() => health.close());
      ports.health = health.port;
      logger.info({ url: `grpc://${config.host}:${health.port}`, port: health.port, listener: 'health' }, 'listening');
    }
    if (config.metricsPort >= 0) {
      const server = await startMetricsServer(metrics, { port: config.metricsPort, host: config.host, certDir: config.metricsCertDir, clientCaFile: config.metricsClientCaFile });
      closers.push(() => server.close(1_000));
      ports.metrics = server.port;
      logger.info({ url: `${server.url}/metrics`, port: server.port, listener: 'metrics' }, 'listening');
    }
    return { director, store, metrics, plugins: loaded.plugins, ports, gatewayUrl, started: startup.promise, drain: () => { draining = true; }, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * InferenceObjective priorities by name: the pool's InferenceObjectives watched in Kubernetes
 * (with --pool-name), then the in-process `objectivePriorities` table (tests, demo).
 */
function objectivesOf(config: EppConfig, kube?: (name: string) => number | undefined): ((name: string) => number | undefined) | undefined {
  const table = config.objectivePriorities;
  const fromTable = table && ((name: string) => (Object.hasOwn(table, name) ? table[name] : undefined));
  if (!kube) return fromTable;
  return (name) => kube(name) ?? fromTable?.(name);
}

export async function runEpp(config: EppConfig): Promise<void> {
  const logger = createLogger('epp', config.log);
  logger.debug({ settings: { ...config, configText: config.configText === undefined ? undefined : `${config.configText.length} chars` } }, 'epp settings');
  if (config.ignoredFlags?.length) logger.warn({ flags: config.ignoredFlags }, `upstream EPP flags with no effect in pd-router (accepted for compatibility): ${config.ignoredFlags.join(', ')}`);
  const telemetry = await startTelemetry('llm-d-router/epp', { force: config.tracing, logger });
  let stopping = false;
  const failStart = async (err: unknown, epp?: RunningEpp): Promise<never> => {
    stopping = true; // a signal from now on finds the process already on its way out
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err: message, code: (err as NodeJS.ErrnoException).code }, 'epp failed to start');
    // The log is buffered: flush it before exiting, and say it on stderr too (a terminal or a
    // parent process that only relays stderr still sees why).
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    process.stderr.write(`pd-router epp: failed to start: ${message}\n`);
    await epp?.close();
    await telemetry.shutdown();
    process.exit(1);
  };
  let epp: RunningEpp;
  try {
    epp = await startEpp(config, logger);
  } catch (err) {
    return failStart(err);
  }
  // Listeners are up (health NOT_SERVING) while plugins start; one that cannot start ends the process.
  epp.started.catch((err: unknown) => { if (!stopping) void failStart(err, epp); });
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const drainMs = config.drainTimeoutMs ?? 0;
    logger.info({ signal, drainMs }, 'shutting down');
    if (drainMs > 0) {
      // As llm-d: readiness goes NOT_SERVING so Envoy and the Service stop sending, while requests
      // that still arrive during the window are served.
      epp.drain();
      await new Promise((resolve) => setTimeout(resolve, drainMs));
    }
    await epp.close();
    await telemetry.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}
