/** The EPP process settings (from `pd-router epp` flags, or given directly by tests, the demo and benchmarks). */
import type { SecureVersion } from 'node:tls';
import type { PoolDiscoveryConfig } from '../src/k8s/pool-flags.js';
import type { LogOptions } from '../src/log.js';

export interface EppConfig {
  configFile?: string;
  configText?: string;
  endpointsFile?: string;
  /**
   * InferenceObjective priorities by name for flow control (in-process starts: tests, benchmarks);
   * with --pool-name they are consulted after the pool's InferenceObjectives watched in Kubernetes.
   * Absent and not watched: every objective has priority 0.
   */
  objectivePriorities?: Readonly<Record<string, number>>;
  host: string;
  gatewayPort: number;
  grpcPort: number;
  grpcHealthPort: number;
  metricsPort: number;
  secureServing: boolean;
  certPath?: string;
  /** Lowest TLS version of ext_proc (`--tls-min-version`, Node's name); default TLS 1.2. */
  tlsMinVersion?: SecureVersion;
  /** OpenSSL cipher string of ext_proc (`--tls-cipher-suites`). */
  tlsCiphers?: string;
  /** Honour Envoy's endpoint subset hint on ext_proc (false: `--disable-endpoint-subset-filter`). */
  subsetFilter?: boolean;
  /** Send the endpoint scores to Envoy as dynamic metadata (`--emit-endpoint-scores`). */
  emitEndpointScores?: boolean;
  /** gRPC message limits of ext_proc (`--grpc-max-recv-msg-size` / `--grpc-max-send-msg-size`); default 64 MiB. */
  grpcMaxRecvMsgBytes?: number;
  grpcMaxSendMsgBytes?: number;
  /** Reload the ext_proc certificate when the files in certPath change (`--enable-cert-reload`). */
  enableCertReload?: boolean;
  /** Count ext_proc streams (`--enable-grpc-stream-metrics`). */
  enableGrpcStreamMetrics?: boolean;
  /** Serve gRPC health on the ext_proc port too (`--health-checking`). */
  healthChecking?: boolean;
  /** On SIGTERM: NOT_SERVING, but keep serving this long before closing (`--drain-timeout`). */
  drainTimeoutMs?: number;
  /** Serve /metrics over HTTPS with tls.crt / tls.key from this directory. */
  metricsCertDir?: string;
  /** PEM CA bundle: /metrics requires a client certificate it signed. */
  metricsClientCaFile?: string;
  refreshMetricsIntervalMs: number;
  metricsTimeoutMs: number;
  metricsStalenessMs: number;
  tracing: boolean;
  bodyLimitBytes: number;
  /** Largest /metrics body read from a model server; larger scrapes fail. */
  metricsMaxBodyBytes: number;
  /** Built-in gateway: time to receive a request's headers, then its body (408 past either). */
  gatewayHeaderTimeoutMs: number;
  gatewayBodyTimeoutMs: number;
  /** Keep a client's `kv_transfer_params` in forwarded bodies (default: removed). */
  trustClientKvTransferParams: boolean;
  /** InferencePool discovery (Kubernetes); unset or without poolName: the static endpoints file. */
  pool?: PoolDiscoveryConfig;
  /** Log level and format (from LOG_LEVEL / LOG_FORMAT, or upstream's -v / --zap-* flags). */
  log?: LogOptions;
  /** Upstream flags given on the command line that have no effect here (warned about once). */
  ignoredFlags?: string[];
}

export const EPP_DEFAULTS = {
  host: '0.0.0.0',
  gatewayPort: 8080,
  grpcPort: 9002,
  grpcHealthPort: 9003,
  metricsPort: 9090,
  secureServing: true,
  refreshMetricsIntervalMs: 50,
  metricsTimeoutMs: 1000,
  metricsStalenessMs: 2000,
  tracing: false,
  bodyLimitBytes: 32 * 1024 * 1024,
  metricsMaxBodyBytes: 4 * 1024 * 1024,
  gatewayHeaderTimeoutMs: 30_000,
  gatewayBodyTimeoutMs: 60_000,
  trustClientKvTransferParams: false,
} as const satisfies Partial<EppConfig>;
