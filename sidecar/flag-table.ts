/**
 * Every `pd-router sidecar` flag in one table (src/cli/options.ts rows): name (upstream's
 * spelling), value kind, env var, default and whether the YAML configuration may set it. The
 * commander options, the env support, --help and the strict YAML key set all come from it.
 */
import { attributeName, type OptionKind, type OptionSpec } from '../src/cli/options.js';
import { LOG_FLAGS } from '../src/log-flags.js';

export { attributeName };

const env = (name: string): string => `SIDECAR_${name.toUpperCase().replaceAll('-', '_')}`;

function flag(name: string, kind: OptionKind, help: string, extra: Partial<OptionSpec> = {}): OptionSpec {
  return { name, kind, help, env: env(name), yaml: true, ...extra };
}

export const SIDECAR_FLAGS: readonly OptionSpec[] = [
  flag('port', 'int', 'the port the sidecar is listening on', { default: 8000 }),
  flag('host', 'string', 'the address the sidecar listens on (pd-router addition)', { default: '0.0.0.0' }),
  flag('vllm-port', 'int', 'the port vLLM is listening on (upstream baseline default 8001; newer upstream 8200)', { default: 8200 }),
  flag('model-server-port', 'int', 'newer upstream name for --vllm-port; wins over it when both are set'),
  flag('vllm-host', 'string', 'the host of the local vLLM (pd-router addition; upstream hard-codes localhost)', { default: 'localhost' }),
  flag('data-parallel-size', 'int', 'the vLLM DATA-PARALLEL-SIZE value: listeners on port..port+N-1 in front of vllm-port+i', { default: 1 }),
  flag('kv-connector', 'string', 'the KV protocol between prefiller and decoder: nixlv2 | shared-storage (alias lmcache) | sglang; empty → --connector'),
  flag('ec-connector', 'string', 'the EC protocol for encoder disaggregation (EPD): ec-example; empty → no encoder stage'),
  flag('enable-ssrf-protection', 'bool', 'allow only prefill targets on the allowlist (403 otherwise)', { default: false }),
  flag('ssrf-allowlist', 'list', 'static SSRF allowlist: hosts, IPs or pod names, any port (comma-separated or repeated; pd-router addition)'),
  flag('enable-prefiller-sampling', 'bool', 'pick the prefill target at random among the x-prefiller-host-port values', { default: false, env: 'ENABLE_PREFILLER_SAMPLING' }),
  flag('enable-tls', 'list', 'upstream stages to use TLS for: prefiller, decoder, encoder (comma-separated or repeated)'),
  flag('tls-insecure-skip-verify', 'list', 'upstream stages to skip TLS verification for: prefiller, decoder, encoder'),
  flag('secure-proxy', 'bool', 'serve HTTPS (self-signed certificate unless --cert-path); --secure-proxy=false for plain HTTP', { default: true }),
  flag('cert-path', 'string', 'directory with tls.crt and tls.key for --secure-proxy; reloaded when the files change'),
  flag('inference-pool', 'string', 'InferencePool as namespace/name or name (namespace default); for SSRF protection', { env: 'INFERENCE_POOL' }),
  flag('pool-group', 'string', 'API group of the InferencePool', { default: 'inference.networking.k8s.io' }),
  flag('max-idle-conns-per-host', 'int', 'keep-alive connections per upstream origin (≤0 → 1024)', { default: 1024 }),
  flag('prefill-timeout', 'duration', 'deadline of one prefill attempt, e.g. 90s; 0 disables (pd-router addition)', { default: '5m' }),
  flag('prefill-max-retries', 'int', 'extra prefill attempts after a 502/503/504 or a connection failure', { default: 0, yamlZeroMeaningful: true }),
  flag('prefill-retry-backoff', 'duration', 'delay between prefill attempts', { default: '200ms' }),
  flag('prefill-failure-policy', 'string', 'when a prefill fails (not 400–451): relay the error (default) or fallback to a local decode', { default: 'relay' }),
  flag('sglang-bootstrap-port', 'int', 'SGLang bootstrap port sent to both legs', { default: 8998, env: 'SGLANG_BOOTSTRAP_PORT' }),
  flag('pod-ip', 'string', 'this pod\'s IP, the host of x-data-parallel-host-port values', { env: 'POD_IP' }),
  flag('decode-chunk-size', 'int', 'tokens per decode pass on /v1/chat/completions (chunked decode); 0 disables', { default: 0 }),
  flag('tracing', 'bool', 'force OpenTelemetry tracing on (otherwise on when OTEL_* env configures an exporter)', { default: false }),
  flag('metrics-port', 'int', 'port of a second listener serving the sidecar\'s own Prometheus metrics at /metrics (plain HTTP); 0 = off', { default: 0 }),
  flag('shutdown-grace', 'duration', 'how long SIGTERM waits for in-flight requests', { default: '60s' }),
  flag('max-body-bytes', 'int', 'largest request body the P/D handler buffers (413 past it)', { default: 32 * 1024 * 1024 }),
  flag('max-prefill-answer-bytes', 'int', 'largest prefill answer the sidecar buffers; past it the request fails with 502 (pd-router addition)', { default: 8 * 1024 * 1024 }),
  flag('trust-client-kv-transfer-params', 'bool', 'forward a client\'s kv_transfer_params to vLLM (trusted callers only; otherwise it is removed) (pd-router addition)', { default: false }),
  flag('request-header-timeout', 'duration', 'time a client has to send the request headers; 408 past it (pd-router addition)', { default: '10s' }),
  flag('request-body-timeout', 'duration', 'time a client has to send the whole request (headers + body); 408 past it; 0 disables (pd-router addition)', { default: '60s' }),
  flag('configuration', 'string', 'sidecar configuration as inline YAML, e.g. "{port: 8085, vllm-port: 8203}"', { yaml: false }),
  flag('configuration-file', 'string', 'path to a YAML file with the sidecar configuration', { yaml: false }),
  // Deprecated flags, folded into their replacements (upstream keeps them for old manifests).
  flag('connector', 'string', 'deprecated: use --kv-connector', { default: 'nixlv2', deprecated: 'use --kv-connector' }),
  flag('prefiller-use-tls', 'bool', 'deprecated: use --enable-tls=prefiller', { default: false, deprecated: 'use --enable-tls=prefiller' }),
  flag('decoder-use-tls', 'bool', 'deprecated: use --enable-tls=decoder', { default: false, deprecated: 'use --enable-tls=decoder' }),
  flag('prefiller-tls-insecure-skip-verify', 'bool', 'deprecated: use --tls-insecure-skip-verify=prefiller', { default: false, deprecated: 'use --tls-insecure-skip-verify=prefiller' }),
  flag('decoder-tls-insecure-skip-verify', 'bool', 'deprecated: use --tls-insecure-skip-verify=decoder', { default: false, deprecated: 'use --tls-insecure-skip-verify=decoder' }),
  flag('inference-pool-namespace', 'string', 'deprecated: use --inference-pool', { env: 'INFERENCE_POOL_NAMESPACE', yaml: false, deprecated: 'use --inference-pool' }),
  flag('inference-pool-name', 'string', 'deprecated: use --inference-pool', { env: 'INFERENCE_POOL_NAME', yaml: false, deprecated: 'use --inference-pool' }),
  ...connectorFlags(),
  ...LOG_FLAGS,
];

/**
 * Flags of llm-d's sidecar for KV connectors pd-router does not implement (Mooncake, the
 * OffloadingConnector P2P tier, MoRI-IO): accepted with their value kinds (and env vars where
 * upstream reads one) so shared manifests start; named in one start-up warning.
 */
function connectorFlags(): OptionSpec[] {
  const noEffect = (name: string, kind: OptionKind, extra: Partial<OptionSpec> = {}): OptionSpec =>
    ({ name, kind, help: '', yaml: false, noEffect: true, ...extra });
  return [
    noEffect('mooncake-bootstrap-port', 'int', { env: 'MOONCAKE_BOOTSTRAP_PORT', yaml: true }),
    noEffect('p2p-connector-port', 'int', { env: 'P2P_CONNECTOR_PORT', yaml: true }),
    noEffect('enable-p2p-pull', 'bool', { yaml: true }),
    noEffect('moriio-write-mode', 'bool'),
    noEffect('moriio-decode-notify-port', 'int'),
    noEffect('moriio-local-pod-ip', 'string'),
    noEffect('moriio-decode-handshake-port', 'int'),
    noEffect('moriio-parallel-dispatch', 'bool'),
    noEffect('moriio-parallel-decode-wait-timeout', 'duration'),
    noEffect('moriio-prefill-handshake-port', 'int'),
    noEffect('moriio-prefill-notify-port', 'int'),
    noEffect('moriio-tp-size', 'int'),
    noEffect('moriio-dp-size', 'int'),
    noEffect('moriio-remote-hosts', 'list'),
    noEffect('moriio-dp-size-local', 'int'),
    noEffect('moriio-decode-hosts', 'list'),
  ];
}

export const FLAGS_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(SIDECAR_FLAGS.map((spec) => [spec.name, spec]));
