/**
 * `pd-router epp` flags. Every flag has an env var (shown by --help). The process itself
 * (scheduler/main.ts) is imported only when the command runs.
 */
import { Command, Option } from 'commander';
import { boolOption, compatOption, durationArg, givenCompatFlags, intArg, option } from '../src/flags.js';
import { addLogFlags, ignoredLogFlags, logOptionsFrom } from '../src/log-flags.js';
import { addPoolFlags, poolDiscoveryConfig } from '../src/k8s/pool-flags.js';
import { EPP_DEFAULTS, type EppConfig } from './epp-config.js';

export { EPP_DEFAULTS, type EppConfig };

/**
 * Flags of llm-d's EPP that mean nothing here (no pprof, no flow-control metrics mapping, no
 * in-process cert reload …): accepted so upstream manifests start, named in one warning line.
 */
export const UPSTREAM_NO_EFFECT_FLAGS: ReadonlyArray<readonly [flag: string, takesValue: boolean]> = [
  ['enable-pprof', false], ['health-checking', false], ['enable-cert-reload', false], ['enable-grpc-stream-metrics', false],
  ['metrics-endpoint-auth', false], ['allow-experimental-plugins', false], ['disable-endpoint-subset-filter', false],
  ['drain-timeout', true], ['grpc-max-recv-msg-size', true], ['grpc-max-send-msg-size', true], ['refresh-prometheus-metrics-interval', true],
  ['total-queued-requests-metric', true], ['total-running-requests-metric', true], ['kv-cache-usage-percentage-metric', true],
  ['lora-info-metric', true], ['cache-info-metric', true],
];

export function addEppCommand(program: Command): void {
  const command = program
    .command('epp')
    .description('Endpoint Picker: schedules inference requests (Envoy ext_proc gRPC and a built-in HTTP gateway)')
    .addOption(option('--config <file>', 'EndpointPickerConfig YAML file (llm-d schema)', 'EPP_CONFIG').conflicts('configText'))
    .addOption(option('--config-file <file>', 'alias of --config (llm-d flag name)', 'EPP_CONFIG_FILE'))
    .addOption(option('--config-text <yaml>', 'EndpointPickerConfig YAML inline', 'EPP_CONFIG_TEXT'))
    .addOption(option('--endpoints <file>', 'static endpoints file (YAML), reloaded on change', 'EPP_ENDPOINTS'))
    .addOption(option('--host <addr>', 'address every listener binds', 'EPP_HOST').default(EPP_DEFAULTS.host))
    .addOption(option('--gateway-port <port>', 'built-in HTTP gateway port (-1 = off)', 'EPP_GATEWAY_PORT').argParser(intArg).default(EPP_DEFAULTS.gatewayPort))
    .addOption(option('--grpc-port <port>', 'Envoy ext_proc gRPC port (-1 = off)', 'EPP_GRPC_PORT').argParser(intArg).default(EPP_DEFAULTS.grpcPort))
    .addOption(option('--grpc-health-port <port>', 'plaintext gRPC health port (-1 = off)', 'EPP_GRPC_HEALTH_PORT').argParser(intArg).default(EPP_DEFAULTS.grpcHealthPort))
    .addOption(option('--metrics-port <port>', 'Prometheus /metrics port (-1 = off)', 'EPP_METRICS_PORT').argParser(intArg).default(EPP_DEFAULTS.metricsPort))
    .addOption(boolOption('--secure-serving', 'serve ext_proc over TLS (self-signed unless --cert-path)', 'EPP_SECURE_SERVING', EPP_DEFAULTS.secureServing))
    .addOption(option('--cert-path <dir>', 'directory holding tls.crt and tls.key for ext_proc', 'EPP_CERT_PATH'))
    .addOption(option('--refresh-metrics-interval <duration>', 'how often each endpoint /metrics is scraped', 'EPP_REFRESH_METRICS_INTERVAL').argParser(durationArg).default(EPP_DEFAULTS.refreshMetricsIntervalMs, '50ms'))
    .addOption(option('--metrics-timeout <duration>', 'timeout of one scrape', 'EPP_METRICS_TIMEOUT').argParser(durationArg).default(EPP_DEFAULTS.metricsTimeoutMs, '1s'))
    .addOption(option('--metrics-staleness-threshold <duration>', 'endpoints without a good scrape for this long are not preferred', 'EPP_METRICS_STALENESS_THRESHOLD').argParser(durationArg).default(EPP_DEFAULTS.metricsStalenessMs, '2s'))
    .addOption(boolOption('--tracing', 'force OpenTelemetry tracing on (otherwise on when OTEL_* env configures an exporter)', 'EPP_TRACING', EPP_DEFAULTS.tracing))
    .addOption(new Option('--body-limit <bytes>', 'largest request body accepted (413 past it)').env('EPP_BODY_LIMIT').argParser(intArg).default(EPP_DEFAULTS.bodyLimitBytes))
    .addOption(option('--metrics-max-body-bytes <bytes>', 'largest /metrics body read from a model server; a larger scrape fails', 'EPP_METRICS_MAX_BODY_BYTES').argParser(intArg).default(EPP_DEFAULTS.metricsMaxBodyBytes))
    .addOption(option('--gateway-header-timeout <duration>', 'built-in gateway: time to receive request headers (408 past it)', 'EPP_GATEWAY_HEADER_TIMEOUT').argParser(durationArg).default(EPP_DEFAULTS.gatewayHeaderTimeoutMs, '30s'))
    .addOption(option('--gateway-body-timeout <duration>', 'built-in gateway: time to receive a request body after its headers (408 past it; 0 = none)', 'EPP_GATEWAY_BODY_TIMEOUT').argParser(durationArg).default(EPP_DEFAULTS.gatewayBodyTimeoutMs, '60s'))
    .addOption(boolOption('--trust-client-kv-transfer-params', 'forward a client-supplied kv_transfer_params body field to the model server (default: removed)', 'EPP_TRUST_CLIENT_KV_TRANSFER_PARAMS', EPP_DEFAULTS.trustClientKvTransferParams));
  addLogFlags(command);
  for (const [flag, takesValue] of UPSTREAM_NO_EFFECT_FLAGS) command.addOption(compatOption(flag, takesValue));
  addPoolFlags(command)
    .action(async (opts: Record<string, unknown>) => {
      const config: EppConfig = {
        configFile: (opts.config ?? opts.configFile) as string | undefined,
        configText: opts.configText as string | undefined,
        endpointsFile: opts.endpoints as string | undefined,
        host: opts.host as string,
        gatewayPort: opts.gatewayPort as number,
        grpcPort: opts.grpcPort as number,
        grpcHealthPort: opts.grpcHealthPort as number,
        metricsPort: opts.metricsPort as number,
        secureServing: opts.secureServing as boolean,
        certPath: opts.certPath as string | undefined,
        refreshMetricsIntervalMs: opts.refreshMetricsInterval as number,
        metricsTimeoutMs: opts.metricsTimeout as number,
        metricsStalenessMs: opts.metricsStalenessThreshold as number,
        tracing: opts.tracing as boolean,
        bodyLimitBytes: opts.bodyLimit as number,
        metricsMaxBodyBytes: opts.metricsMaxBodyBytes as number,
        gatewayHeaderTimeoutMs: opts.gatewayHeaderTimeout as number,
        gatewayBodyTimeoutMs: opts.gatewayBodyTimeout as number,
        trustClientKvTransferParams: opts.trustClientKvTransferParams as boolean,
        pool: poolDiscoveryConfig(opts),
        log: logOptionsFrom(opts),
        ignoredFlags: [...givenCompatFlags(command, UPSTREAM_NO_EFFECT_FLAGS.map(([flag]) => flag)), ...ignoredLogFlags(opts)],
      };
      const { runEpp } = await import('./main.js');
      await runEpp(config);
    });
}
