/**
 * The sidecar's resolved runtime configuration: what `pd-router sidecar` flags/YAML/env turn into,
 * and what tests, the bench and the demo pass to `startSidecar` directly. Semantic validation lives
 * here so both entry points reject the same bad settings with the same words.
 */
import { ConfigError } from '../src/config-error.js';

export const KV_CONNECTORS = ['nixlv2', 'shared-storage', 'sglang'] as const;
export type KvConnector = (typeof KV_CONNECTORS)[number];

/** Encoder-cache connectors (EPD); '' means no encoder stage. */
export const EC_CONNECTORS = ['ec-example'] as const;

/** What to do when a prefill fails for a reason other than a 400–451 answer (those are always relayed). */
export type PrefillFailurePolicy = 'fallback' | 'relay';

export const TLS_STAGES = ['prefiller', 'decoder', 'encoder'] as const;
export type TlsStage = (typeof TLS_STAGES)[number];
export type StageFlags = Readonly<Record<TlsStage, boolean>>;

export interface SidecarConfig {
  /** Listen port of the primary listener; 0 picks a free one (tests). */
  port: number;
  /** Listen address; upstream listens on every interface. */
  host: string;
  /** The local vLLM (decoder) port; data-parallel rank i uses vllmPort + i. */
  vllmPort: number;
  /** The local vLLM host; upstream hard-codes `localhost`. */
  vllmHost: string;
  kvConnector: KvConnector;
  /** EPD encoder connector: '' (no encoder stage) or one of EC_CONNECTORS. */
  ecConnector: string;
  /** vLLM data-parallel size: listeners on port … port+N-1, each in front of vllmPort+i. */
  dataParallelSize: number;
  /** This pod's IP, the host part of `x-data-parallel-host-port` values (env POD_IP). */
  podIp: string;
  /** Pick a random prefill candidate instead of the first. */
  enablePrefillerSampling: boolean;
  /** Serve HTTPS (self-signed unless certPath is set). */
  secureProxy: boolean;
  /** Directory with tls.crt + tls.key, hot-reloaded; '' → self-signed. */
  certPath: string;
  /** Use TLS towards each upstream stage. */
  useTls: StageFlags;
  /** Skip certificate verification towards each upstream stage. */
  insecureSkipVerify: StageFlags;
  enableSsrfProtection: boolean;
  /** Static SSRF allowlist (hosts, IPs or pod names; any port). */
  ssrfAllowlist: readonly string[];
  inferencePoolNamespace: string;
  inferencePoolName: string;
  poolGroup: string;
  /** Keep-alive connections per upstream origin. */
  maxIdleConnsPerHost: number;
  /** Per-attempt prefill deadline in ms; 0 = none. */
  prefillTimeoutMs: number;
  /** Extra prefill attempts after a 502/503/504 or a connection failure. */
  prefillMaxRetries: number;
  prefillRetryBackoffMs: number;
  prefillFailurePolicy: PrefillFailurePolicy;
  /** SGLang bootstrap port written into both legs (env SGLANG_BOOTSTRAP_PORT). */
  sglangBootstrapPort: number;
  /** Tokens per chunked-decode pass on /v1/chat/completions; 0 = off. */
  decodeChunkSize: number;
  /** Create spans. The CLI sets this from the telemetry SDK (OTEL env or --tracing). */
  tracing: boolean;
  /** How long a SIGTERM waits for in-flight requests before cutting connections. */
  shutdownGraceMs: number;
  /** Largest request body the P/D handler buffers (413 past it). */
  maxBodyBytes: number;
  /** Largest prefill answer buffered (a prefill answers one token + kv_transfer_params); past it the request fails with 502. */
  maxPrefillAnswerBytes: number;
  /** Forward a client's `kv_transfer_params` to vLLM (only for trusted callers); off → it is removed. */
  trustClientKvTransferParams: boolean;
  /** Time a client has to send the request headers (408 and close past it). */
  requestHeaderTimeoutMs: number;
  /** Time a client has to send the whole request, headers and body (408 and close past it); 0 = none. */
  requestBodyTimeoutMs: number;
  /** Port of the listener serving the sidecar's own metrics at /metrics; 0 = none (upstream `--metrics-port`). */
  metricsPort: number;
}

const NO_STAGES: StageFlags = { prefiller: false, decoder: false, encoder: false };

export const DEFAULT_SIDECAR_CONFIG: Readonly<SidecarConfig> = {
  port: 8000,
  host: '0.0.0.0',
  vllmPort: 8200,
  vllmHost: 'localhost',
  kvConnector: 'nixlv2',
  ecConnector: '',
  dataParallelSize: 1,
  podIp: '',
  enablePrefillerSampling: false,
  secureProxy: true,
  certPath: '',
  useTls: NO_STAGES,
  insecureSkipVerify: NO_STAGES,
  enableSsrfProtection: false,
  ssrfAllowlist: [],
  inferencePoolNamespace: '',
  inferencePoolName: '',
  poolGroup: 'inference.networking.k8s.io',
  maxIdleConnsPerHost: 1024,
  prefillTimeoutMs: 300_000,
  prefillMaxRetries: 0,
  prefillRetryBackoffMs: 200,
  prefillFailurePolicy: 'relay',
  sglangBootstrapPort: 8998,
  decodeChunkSize: 0,
  tracing: false,
  shutdownGraceMs: 60_000,
  maxBodyBytes: 32 * 1024 * 1024,
  maxPrefillAnswerBytes: 8 * 1024 * 1024,
  trustClientKvTransferParams: false,
  requestHeaderTimeoutMs: 10_000,
  requestBodyTimeoutMs: 60_000,
  metricsPort: 0,
};

export type SidecarConfigInput = Partial<SidecarConfig>;

/** `path` is the flag at fault (`--port`); the message reads `--port must be …`. */
function check(condition: boolean, path: string, detail: string): void {
  if (!condition) throw new ConfigError(path === '' ? [] : [path], detail);
}

function isPort(value: number, allowZero: boolean): boolean {
  return Number.isInteger(value) && value >= (allowZero ? 0 : 1) && value <= 65535;
}

/** Defaults + input, validated. Throws ConfigError whose path is the flag (`--port must be …`). */
export function resolveSidecarConfig(input: SidecarConfigInput = {}): SidecarConfig {
  const config: SidecarConfig = { ...DEFAULT_SIDECAR_CONFIG, ...input };
  // Upstream: a non-positive pool size means "use the default", not "no pool".
  if (!(config.maxIdleConnsPerHost > 0)) config.maxIdleConnsPerHost = DEFAULT_SIDECAR_CONFIG.maxIdleConnsPerHost;
  validateSidecarConfig(config);
  return config;
}

export function validateSidecarConfig(config: SidecarConfig): void {
  check(isPort(config.port, true), '--port', `must be a port number (0-65535), got ${config.port}`);
  check(isPort(config.vllmPort, false), '--vllm-port', `must be a port number (1-65535), got ${config.vllmPort}`);
  check((KV_CONNECTORS as readonly string[]).includes(config.kvConnector), '--kv-connector', `must be one of: ${KV_CONNECTORS.join(', ')}`);
  check(
    config.ecConnector === '' || (EC_CONNECTORS as readonly string[]).includes(config.ecConnector),
    '--ec-connector', `must be one of: ${EC_CONNECTORS.join(', ')} (or empty for no encoder stage), got "${config.ecConnector}"`,
  );
  check(
    Number.isInteger(config.decodeChunkSize) && config.decodeChunkSize >= 0,
    '--decode-chunk-size', `must be a non-negative integer (0 disables chunked decode), got ${config.decodeChunkSize}`,
  );
  check(Number.isInteger(config.dataParallelSize) && config.dataParallelSize >= 1, '--data-parallel-size', `must be an integer ≥ 1, got ${config.dataParallelSize}`);
  if (config.dataParallelSize > 1) {
    check(config.port !== 0, '--data-parallel-size', '> 1 needs a fixed --port (rank i listens on port+i)');
    check(isPort(config.port + config.dataParallelSize - 1, false), '', '--port + --data-parallel-size - 1 must stay a valid port');
    check(isPort(config.vllmPort + config.dataParallelSize - 1, false), '', '--vllm-port + --data-parallel-size - 1 must stay a valid port');
  }
  check(Number.isInteger(config.prefillMaxRetries) && config.prefillMaxRetries >= 0, '--prefill-max-retries', `must be an integer ≥ 0, got ${config.prefillMaxRetries}`);
  check(config.prefillMaxRetries === 0 || config.prefillRetryBackoffMs > 0, '--prefill-retry-backoff', `must be positive when --prefill-max-retries > 0, got ${config.prefillRetryBackoffMs}ms`);
  check(config.prefillTimeoutMs >= 0, '--prefill-timeout', `must be ≥ 0 (0 disables it), got ${config.prefillTimeoutMs}ms`);
  check(config.prefillFailurePolicy === 'fallback' || config.prefillFailurePolicy === 'relay', '--prefill-failure-policy', `must be one of: fallback, relay (got ${String(config.prefillFailurePolicy)})`);
  check(isPort(config.metricsPort, true), '--metrics-port', `must be a port number (0 = off), got ${config.metricsPort}`);
  check(isPort(config.sglangBootstrapPort, false), '--sglang-bootstrap-port', `must be a port number, got ${config.sglangBootstrapPort}`);
  check(config.shutdownGraceMs >= 0, '--shutdown-grace', `must be ≥ 0, got ${config.shutdownGraceMs}ms`);
  check(config.maxBodyBytes > 0, '--max-body-bytes', `must be positive, got ${config.maxBodyBytes}`);
  check(Number.isInteger(config.maxPrefillAnswerBytes) && config.maxPrefillAnswerBytes > 0, '--max-prefill-answer-bytes', `must be a positive integer, got ${config.maxPrefillAnswerBytes}`);
  check(config.requestHeaderTimeoutMs > 0, '--request-header-timeout', `must be positive, got ${config.requestHeaderTimeoutMs}ms`);
  check(config.requestBodyTimeoutMs >= 0, '--request-body-timeout', `must be ≥ 0 (0 disables it), got ${config.requestBodyTimeoutMs}ms`);
  check(
    config.requestBodyTimeoutMs === 0 || config.requestBodyTimeoutMs >= config.requestHeaderTimeoutMs,
    '--request-body-timeout', `(${config.requestBodyTimeoutMs}ms) must be 0 or at least --request-header-timeout (${config.requestHeaderTimeoutMs}ms): it counts from the first byte of the request`,
  );
  validateSsrf(config);
}

function validateSsrf(config: SidecarConfig): void {
  const hasPool = config.inferencePoolName !== '' || config.inferencePoolNamespace !== '';
  if (!config.enableSsrfProtection) {
    check(config.ssrfAllowlist.length === 0, '--ssrf-allowlist', 'has no effect without --enable-ssrf-protection; add --enable-ssrf-protection (or drop the allowlist)');
    return;
  }
  if (config.ssrfAllowlist.length > 0) return;
  if (hasPool) {
    // The InferencePool's pods (IPs and names) become the allowlist; the listener opens after its first sync.
    check(config.inferencePoolName !== '', '--enable-ssrf-protection', `with pool namespace ${config.inferencePoolNamespace} needs the pool name (--inference-pool [ns/]name)`);
    return;
  }
  throw new ConfigError(
    ['--enable-ssrf-protection'], 'needs an allowlist: --inference-pool [ns/]name (its pods are allowed) ' +
      'or, without Kubernetes, --ssrf-allowlist host[,host…]',
  );
}

/** Decoder origin as upstream builds it: scheme from decoder TLS, `<vllm-host>:<port>`. */
export function decoderOrigin(config: Pick<SidecarConfig, 'useTls' | 'vllmHost'>, port: number): string {
  const host = config.vllmHost.includes(':') && !config.vllmHost.startsWith('[') ? `[${config.vllmHost}]` : config.vllmHost;
  return `${config.useTls.decoder ? 'https' : 'http'}://${host}:${port}`;
}
