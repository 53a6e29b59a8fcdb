/**
 * Starting and stopping the sidecar. `startSidecar` runs it in-process (tests, bench, demo);
 * `runSidecar` is the `pd-router sidecar` process: telemetry, signals, exit.
 *
 * Start-up order matters: TLS material and the allowlist are ready before any listener opens
 * (upstream: the SSRF allowlist must sync first). Shutdown stops accepting, lets in-flight
 * requests and detached prefills finish (bounded by the grace period), then closes the pools.
 */
import { createLogger, type Logger, type LogOptions } from '../src/log.js';
import { listen, type ListeningServer } from '../src/http/server.js';
import { loadCertificateDir, selfSignedCertificate, watchCertificateDir, type TlsMaterial } from '../src/http/tls.js';
import { UpstreamPools } from '../src/http/upstream.js';
import { startTelemetry } from '../src/telemetry/sdk.js';
import { createAllowlist, type TargetAllowlist } from './allowlist.js';
import { joinHostPort } from '../src/wire/host-port.js';
import { decoderOrigin, resolveSidecarConfig, type SidecarConfig, type SidecarConfigInput } from './config.js';
import { SidecarRuntime, type ListenerRole } from './exchange.js';
import type { RandomSource } from './prefill-target.js';
import { upstream } from './proxy.js';
import { createRequestHandler } from './server.js';
import { metricsListener } from './metrics.js';

export interface SidecarDeps {
  logger?: Logger;
  /** Random source for prefiller sampling and the sglang room (tests inject one). */
  random?: RandomSource;
  /** Replaces the allowlist built from the config (a pool watcher later, tests now). */
  allowlist?: TargetAllowlist;
}

export interface RunningSidecar {
  /** URL of the primary listener, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** Every listener's URL, primary first (data-parallel ranks follow). */
  readonly urls: readonly string[];
  /** URL of the `--metrics-port` listener; undefined when it is off. */
  readonly metricsUrl?: string;
  readonly config: SidecarConfig;
  /** Stops accepting, waits for in-flight work up to `graceMs` (default: config.shutdownGraceMs), releases everything. */
  close(graceMs?: number): Promise<void>;
}

const CERT_ORGANIZATION = 'llm-d Routing Sidecar';

async function tlsMaterial(config: SidecarConfig): Promise<TlsMaterial | undefined> {
  if (!config.secureProxy) return undefined;
  return config.certPath ? loadCertificateDir(config.certPath) : selfSignedCertificate(CERT_ORGANIZATION);
}

/**
 * SSRF protection with a pool and no static list: the InferencePool's pods are the allowlist
 * (watched through the Kubernetes API; loaded only when used, so the client stays out of start-up).
 */
async function allowlistFor(config: SidecarConfig, logger: Logger): Promise<TargetAllowlist> {
  if (!config.enableSsrfProtection || config.ssrfAllowlist.length > 0 || config.inferencePoolName === '') return createAllowlist(config);
  const { createPoolAllowlist } = await import('../src/k8s/pool-allowlist.js');
  return createPoolAllowlist({
    namespace: config.inferencePoolNamespace || 'default',
    name: config.inferencePoolName,
    group: config.poolGroup,
    logger,
  });
}

export async function startSidecar(input: SidecarConfigInput = {}, deps: SidecarDeps = {}): Promise<RunningSidecar> {
  const config = resolveSidecarConfig(input);
  const logger = deps.logger ?? createLogger('sidecar');
  const tls = await tlsMaterial(config);
  const allowlist = deps.allowlist ?? (await allowlistFor(config, logger));
  await allowlist.start();

  const poolOptions = { connections: config.maxIdleConnsPerHost };
  const prefillPools = new UpstreamPools({ ...poolOptions, insecureSkipVerify: config.insecureSkipVerify.prefiller });
  const decoderPools = new UpstreamPools({ ...poolOptions, insecureSkipVerify: config.insecureSkipVerify.decoder, maxOrigins: Math.max(16, config.dataParallelSize) });
  const encoderPools = new UpstreamPools({ ...poolOptions, insecureSkipVerify: config.insecureSkipVerify.encoder });
  const runtime = new SidecarRuntime(config, logger, allowlist, deps.random ?? Math.random, prefillPools, encoderPools);
  const decoderFor = (rank: number): ListenerRole['decoder'] => {
    const origin = decoderOrigin(config, config.vllmPort + rank);
    return upstream(decoderPools.get(origin), origin);
  };

  const listeners: ListeningServer[] = [];
  let metricsServer: ListeningServer | undefined;
  let certWatcher: { close(): void } | undefined;
  const release = async (graceMs: number): Promise<void> => {
    certWatcher?.close();
    await Promise.all([...listeners, ...(metricsServer ? [metricsServer] : [])].map((listener) => listener.close(graceMs)));
    // Detached sglang prefills get the grace period too, then are aborted.
    await runtime.drainBackground(graceMs);
    await Promise.all([prefillPools.close(), encoderPools.close(), decoderPools.close()]);
    allowlist.close();
  };
  try {
    for (let rank = 0; rank < config.dataParallelSize; rank++) {
      const role: ListenerRole = { decoder: decoderFor(rank), primary: rank === 0 };
      const port = rank === 0 ? config.port : config.port + rank;
      const listener = await listen(createRequestHandler(runtime, role), {
        port, host: config.host, tls, headersTimeoutMs: config.requestHeaderTimeoutMs, requestTimeoutMs: config.requestBodyTimeoutMs,
      });
      listeners.push(listener);
      runtime.dataParallel.set(joinHostPort(config.podIp, listener.port), role.decoder);
      logger.info({ url: listener.url, port: listener.port, listener: rank === 0 ? 'http' : `data-parallel-rank-${rank}`, decoder: role.decoder.origin }, 'listening');
    }
    if (config.metricsPort > 0) {
      metricsServer = await listen(metricsListener(runtime.metrics), { port: config.metricsPort, host: config.host });
      logger.info({ url: `${metricsServer.url}/metrics`, port: metricsServer.port, listener: 'metrics' }, 'listening');
    }
  } catch (err) {
    await release(0);
    throw err;
  }
  if (tls && config.certPath) {
    certWatcher = watchCertificateDir(
      config.certPath,
      (material) => {
        for (const listener of listeners) listener.setCertificate(material);
        logger.info({ certPath: config.certPath }, 'TLS certificate reloaded');
      },
      (err) => logger.error({ err, certPath: config.certPath }, 'TLS certificate reload failed'),
    );
  }
  logger.info({
    kvConnector: config.kvConnector,
    ecConnector: config.ecConnector,
    decodeChunkSize: config.decodeChunkSize,
    secureProxy: config.secureProxy,
    ssrfProtection: allowlist.enabled,
    prefillFailurePolicy: config.prefillFailurePolicy,
    tracing: config.tracing,
  }, 'sidecar ready');

  let closing: Promise<void> | undefined;
  return {
    url: listeners[0]!.url,
    port: listeners[0]!.port,
    urls: listeners.map((listener) => listener.url),
    metricsUrl: metricsServer && `${metricsServer.url}/metrics`,
    config,
    close(graceMs = config.shutdownGraceMs) {
      closing ??= release(graceMs);
      return closing;
    },
  };
}

export interface SidecarProcessOptions {
  /** Level and format from upstream's -v / --zap-* flags (else LOG_LEVEL / LOG_FORMAT). */
  log?: LogOptions;
  /** Upstream flags set that have no effect here: named in one warning line. */
  ignoredFlags?: readonly string[];
}

/** The `pd-router sidecar` process: telemetry, start, and SIGTERM/SIGINT → graceful stop → exit. */
export async function runSidecar(config: SidecarConfig, options: SidecarProcessOptions = {}): Promise<void> {
  const logger = createLogger('sidecar', options.log);
  logger.debug({ settings: config }, 'sidecar settings');
  if (options.ignoredFlags?.length) {
    logger.warn({ flags: options.ignoredFlags }, `upstream sidecar flags with no effect in pd-router (accepted for compatibility): ${options.ignoredFlags.join(', ')}`);
  }
  const telemetry = await startTelemetry('llm-d-pd-sidecar', { force: config.tracing, logger });
  let sidecar: RunningSidecar;
  try {
    sidecar = await startSidecar({ ...config, tracing: telemetry.config.enabled }, { logger });
  } catch (err) {
    await telemetry.shutdown();
    throw err;
  }
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down');
    sidecar
      .close()
      .then(() => telemetry.shutdown())
      .then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
