/**
 * `pd-router epp` flags, declared as one option table (src/cli/options.ts): every flag has an env
 * var (shown by --help). The process itself (scheduler/main.ts) is imported only when the command
 * runs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { ConfigError } from '../src/config-error.js';
import { declareOptions, givenNoEffect, optionValues, type OptionSpec } from '../src/cli/options.js';
import { LOG_FLAGS, logOptionsFrom } from '../src/log-flags.js';
import { addPoolFlags, poolDiscoveryConfig } from '../src/k8s/pool-flags.js';
import { byteSizeArg } from '../src/flags.js';
import { opensslCiphers, tlsCipherSuitesArg, tlsMinVersionArg } from '../src/http/tls-versions.js';
import { EPP_DEFAULTS, type EppConfig } from './epp-config.js';

export { EPP_DEFAULTS, type EppConfig };

const D = EPP_DEFAULTS;
const port = (name: string, help: string, value: number): OptionSpec => ({ name, kind: 'int', placeholder: '<port>', help, env: envOf(name), default: value });
const duration = (name: string, help: string, value: string): OptionSpec => ({ name, kind: 'duration', placeholder: '<duration>', help, env: envOf(name), default: value });
function envOf(name: string): string {
  return `EPP_${name.toUpperCase().replaceAll('-', '_')}`;
}

export const EPP_OPTIONS: readonly OptionSpec[] = [
  { name: 'config', kind: 'string', placeholder: '<file>', help: 'EndpointPickerConfig YAML file (llm-d schema)', env: 'EPP_CONFIG', conflicts: ['config-text'] },
  { name: 'config-file', kind: 'string', placeholder: '<file>', help: 'alias of --config (llm-d flag name)', env: 'EPP_CONFIG_FILE' },
  { name: 'config-text', kind: 'string', placeholder: '<yaml>', help: 'EndpointPickerConfig YAML inline', env: 'EPP_CONFIG_TEXT' },
  { name: 'endpoints', kind: 'string', placeholder: '<file>', help: 'static endpoints file (YAML), reloaded on change', env: 'EPP_ENDPOINTS' },
  { name: 'host', kind: 'string', placeholder: '<addr>', help: 'address every listener binds', env: 'EPP_HOST', default: D.host },
  port('gateway-port', 'built-in HTTP gateway port (-1 = off)', D.gatewayPort),
  port('grpc-port', 'Envoy ext_proc gRPC port (-1 = off)', D.grpcPort),
  port('grpc-health-port', 'plaintext gRPC health port (-1 = off)', D.grpcHealthPort),
  { name: 'enable-grpc-stream-metrics', kind: 'bool', help: 'ext_proc stream metrics: llm_d_epp_extproc_streams_inflight, _stream_duration_seconds, _streams_total{code}', env: 'EPP_ENABLE_GRPC_STREAM_METRICS', default: false },
  { name: 'health-checking', kind: 'bool', help: 'also serve gRPC health on the ext_proc port', env: 'EPP_HEALTH_CHECKING', default: false },
  port('metrics-port', 'Prometheus /metrics port (-1 = off)', D.metricsPort),
  { name: 'metrics-cert-dir', kind: 'string', placeholder: '<dir>', help: 'directory with tls.crt and tls.key: serve /metrics over HTTPS', env: 'EPP_METRICS_CERT_DIR' },
  { name: 'metrics-client-ca-file', kind: 'string', placeholder: '<file>', help: 'PEM CA bundle: /metrics requires a client certificate it signed (needs --metrics-cert-dir)', env: 'EPP_METRICS_CLIENT_CA_FILE' },
  { name: 'secure-serving', kind: 'bool', help: 'serve ext_proc over TLS (self-signed unless --cert-path)', env: 'EPP_SECURE_SERVING', default: D.secureServing },
  { name: 'cert-path', kind: 'string', placeholder: '<dir>', help: 'directory holding tls.crt and tls.key for ext_proc', env: 'EPP_CERT_PATH' },
  { name: 'enable-cert-reload', kind: 'bool', help: 'reload the ext_proc certificate when the files in --cert-path change', env: 'EPP_ENABLE_CERT_RELOAD', default: false },
  { name: 'tls-min-version', kind: 'string', placeholder: '<version>', parse: tlsMinVersionArg, choicesText: ['VersionTLS10', 'VersionTLS11', 'VersionTLS12', 'VersionTLS13'], help: 'lowest TLS version ext_proc accepts (Go names)', defaultText: 'VersionTLS12', env: 'EPP_TLS_MIN_VERSION' },
  { name: 'tls-cipher-suites', kind: 'list', placeholder: '<suites>', parse: tlsCipherSuitesArg, help: 'TLS ≤ 1.2 cipher suites of ext_proc, Go names (e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); TLS 1.3 suites are fixed', env: 'EPP_TLS_CIPHER_SUITES' },
  { name: 'disable-endpoint-subset-filter', kind: 'bool', help: 'ignore Envoy\'s endpoint subset hint (envoy.lb.subset_hint) on ext_proc', env: 'EPP_DISABLE_ENDPOINT_SUBSET_FILTER', default: false },
  { name: 'emit-endpoint-scores', kind: 'bool', help: 'send every scored endpoint\'s score to Envoy as dynamic metadata (envoy.lb / x-gateway-destination-endpoint-scores)', env: 'EPP_EMIT_ENDPOINT_SCORES', default: false },
  { name: 'grpc-max-recv-msg-size', kind: 'string', placeholder: '<size>', parse: byteSizeArg, help: 'largest gRPC message ext_proc receives, e.g. 10MiB', defaultText: '64MiB', env: 'EPP_GRPC_MAX_RECV_MSG_SIZE' },
  { name: 'grpc-max-send-msg-size', kind: 'string', placeholder: '<size>', parse: byteSizeArg, help: 'largest gRPC message ext_proc sends, e.g. 10MiB', defaultText: '64MiB', env: 'EPP_GRPC_MAX_SEND_MSG_SIZE' },
  duration('drain-timeout', 'on SIGTERM: report NOT_SERVING but keep serving this long before shutting down', '0s'),
  duration('refresh-metrics-interval', 'how often each endpoint /metrics is scraped', '50ms'),
  duration('metrics-timeout', 'timeout of one scrape', '1s'),
  duration('metrics-staleness-threshold', 'endpoints without a good scrape for this long are not preferred', '2s'),
  { name: 'tracing', kind: 'bool', help: 'force OpenTelemetry tracing on (otherwise on when OTEL_* env configures an exporter)', env: 'EPP_TRACING', default: D.tracing },
  { name: 'body-limit', kind: 'int', placeholder: '<bytes>', help: 'largest request body accepted (413 past it)', env: 'EPP_BODY_LIMIT', default: D.bodyLimitBytes },
  { name: 'metrics-max-body-bytes', kind: 'int', placeholder: '<bytes>', help: 'largest /metrics body read from a model server; a larger scrape fails', env: 'EPP_METRICS_MAX_BODY_BYTES', default: D.metricsMaxBodyBytes },
  duration('gateway-header-timeout', 'built-in gateway: time to receive request headers (408 past it)', '30s'),
  duration('gateway-body-timeout', 'built-in gateway: time to receive a request body after its headers (408 past it; 0 = none)', '60s'),
  { name: 'trust-client-kv-transfer-params', kind: 'bool', help: 'forward a client-supplied kv_transfer_params body field to the model server (default: removed)', env: 'EPP_TRUST_CLIENT_KV_TRANSFER_PARAMS', default: D.trustClientKvTransferParams },
];

/**
 * Flags of llm-d's EPP that mean nothing here (Go's pprof, Kubernetes token auth on /metrics, the
 * experimental-plugin gate, Prometheus flush pacing, the old metric-name flags): accepted so
 * upstream manifests start, named in one warning line.
 */
export const UPSTREAM_NO_EFFECT_FLAGS: readonly OptionSpec[] = [
  ...['enable-pprof', 'metrics-endpoint-auth', 'allow-experimental-plugins']
    .map((name): OptionSpec => ({ name, kind: 'bool', help: '', noEffect: true })),
  ...['refresh-prometheus-metrics-interval', 'total-queued-requests-metric',
    'total-running-requests-metric', 'kv-cache-usage-percentage-metric', 'lora-info-metric', 'cache-info-metric']
    .map((name): OptionSpec => ({ name, kind: 'string', help: '', noEffect: true })),
];

/** The `epp` command's options in declaration order; the warning names no-effect flags in this order. */
const TABLE: readonly OptionSpec[] = [...EPP_OPTIONS, ...UPSTREAM_NO_EFFECT_FLAGS, ...LOG_FLAGS];

/** commander values → EppConfig (throws on contradictions in the pool flags). */
export function eppConfigFromCommand(command: Command): EppConfig {
  const { get, raw } = optionValues(command);
  return {
    configFile: get<string | undefined>('config') ?? get<string | undefined>('config-file'),
    configText: get('config-text'),
    endpointsFile: get('endpoints'),
    host: get('host'),
    gatewayPort: get('gateway-port'),
    grpcPort: get('grpc-port'),
    grpcHealthPort: get('grpc-health-port'),
    metricsPort: get('metrics-port'),
    secureServing: get('secure-serving'),
    certPath: get('cert-path'),
    tlsMinVersion: get('tls-min-version'),
    tlsCiphers: opensslCiphers(get('tls-cipher-suites')),
    subsetFilter: !get<boolean>('disable-endpoint-subset-filter'),
    emitEndpointScores: get('emit-endpoint-scores'),
    grpcMaxRecvMsgBytes: get<number | undefined>('grpc-max-recv-msg-size') || undefined,
    grpcMaxSendMsgBytes: get<number | undefined>('grpc-max-send-msg-size') || undefined,
    drainTimeoutMs: get('drain-timeout'),
    healthChecking: get('health-checking'),
    enableCertReload: get('enable-cert-reload'),
    enableGrpcStreamMetrics: get('enable-grpc-stream-metrics'),
    ...metricsTls(get('metrics-cert-dir'), get('metrics-client-ca-file')),
    refreshMetricsIntervalMs: get('refresh-metrics-interval'),
    metricsTimeoutMs: get('metrics-timeout'),
    metricsStalenessMs: get('metrics-staleness-threshold'),
    tracing: get('tracing'),
    bodyLimitBytes: get('body-limit'),
    metricsMaxBodyBytes: get('metrics-max-body-bytes'),
    gatewayHeaderTimeoutMs: get('gateway-header-timeout'),
    gatewayBodyTimeoutMs: get('gateway-body-timeout'),
    trustClientKvTransferParams: get('trust-client-kv-transfer-params'),
    pool: poolDiscoveryConfig(raw),
    log: logOptionsFrom(raw),
    ignoredFlags: givenNoEffect(command, TABLE),
  };
}

/**
 * `--metrics-cert-dir` / `--metrics-client-ca-file`, checked as llm-d checks them: the files must
 * exist, and a client CA needs the cert dir. The PEM contents are read when the listener starts.
 */
function metricsTls(certDir: string | undefined, clientCaFile: string | undefined): Pick<EppConfig, 'metricsCertDir' | 'metricsClientCaFile'> {
  if (clientCaFile && !certDir) throw new ConfigError(['--metrics-client-ca-file'], 'requires --metrics-cert-dir');
  const unreadable = (path: string): never => {
    throw new ConfigError([clientCaFile === path ? '--metrics-client-ca-file' : '--metrics-cert-dir'], `names a file that cannot be read (metrics TLS cert file unreadable): ${path}`);
  };
  if (clientCaFile && !existsSync(clientCaFile)) unreadable(clientCaFile);
  if (certDir) for (const name of ['tls.crt', 'tls.key']) if (!existsSync(join(certDir, name))) unreadable(join(certDir, name));
  return { metricsCertDir: certDir || undefined, metricsClientCaFile: clientCaFile || undefined };
}

/** The `epp` command with every flag, without an action (tests parse with it). */
export function buildEppCommand(command: Command = new Command('epp')): Command {
  declareOptions(command, TABLE);
  return addPoolFlags(command);
}

export function addEppCommand(program: Command): void {
  const command = program
    .command('epp')
    .description('Endpoint Picker: schedules inference requests (Envoy ext_proc gRPC and a built-in HTTP gateway)');
  buildEppCommand(command).action(async (_opts: unknown, self: Command) => {
    const config = eppConfigFromCommand(self);
    const { runEpp } = await import('./main.js');
    await runEpp(config);
  });
}
