/**
 * The P/D sidecar container for a decode pod — the one definition `pd-router inject` writes and
 * the Helm chart's decode template mirrors (test/k8s/chart.test.ts keeps the two in step).
 *
 * A Kubernetes native sidecar: an init container with `restartPolicy: Always` (Kubernetes ≥ 1.29),
 * so it starts before vLLM, runs for the pod's lifetime, and stops after it. It listens on the
 * pool's target port (where the gateway sends traffic) and forwards to vLLM on `vllmPort`.
 */

export const SIDECAR_CONTAINER_NAME = 'pd-sidecar';
/** Containers that already do the sidecar's job (ours, or llm-d's Go routing proxy). */
export const KNOWN_SIDECAR_NAMES = [SIDECAR_CONTAINER_NAME, 'routing-proxy'];
export const DEFAULT_VLLM_PORT = 8200;
export const DEFAULT_SIDECAR_IMAGE = 'pd-router:0.1.0';
export const SIDECAR_SERVICE_NAME = 'llm-d-pd-sidecar';
/**
 * Node/V8 flags the sidecar runs with wherever we ship it (this container, the chart, the
 * Dockerfile's example): cap each young-generation semi-space at 4 MB. V8 otherwise sizes new
 * space from the machine's memory and grows it to 64 MB under load; with the cap the sidecar's
 * plateau is ~35 MB lower at the same throughput (docs/benchmarks.md, "Soak and memory").
 * V8 reads it only at process start, so it is on the `node` command line, not set at run time.
 */
export const SIDECAR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
/** The container's command: `node <flags> /app/dist/bin/pd-router.js sidecar`. */
export const SIDECAR_COMMAND: readonly string[] = ['node', ...SIDECAR_NODE_FLAGS, '/app/dist/bin/pd-router.js', 'sidecar'];

export interface SidecarSettings {
  image: string;
  /** The pool's target port: the sidecar listens here. */
  port: number;
  /** Where vLLM listens after injection. */
  vllmPort: number;
  /** KV connector: nixlv2 | shared-storage | sglang. */
  connector: string;
  /** Serve HTTPS (self-signed unless a cert is mounted); probes follow. */
  secureProxy: boolean;
  ssrfProtection: boolean;
  /** `[namespace/]name`; without a namespace the pod's own namespace is used. */
  pool?: string;
  poolGroup: string;
  /** OTLP collector, e.g. http://jaeger-collector.observability:4317; empty = tracing off. */
  otlpEndpoint?: string;
  /** ParentBased ratio for requests that arrive without a sampled trace. */
  samplerArg: string;
  extraArgs: readonly string[];
}

export const DEFAULT_SIDECAR_SETTINGS: Omit<SidecarSettings, 'port'> = {
  image: DEFAULT_SIDECAR_IMAGE,
  vllmPort: DEFAULT_VLLM_PORT,
  connector: 'nixlv2',
  secureProxy: false,
  ssrfProtection: true,
  poolGroup: 'inference.networking.k8s.io',
  samplerArg: '0.1',
  extraArgs: [],
};

type Json = Record<string, unknown>;

/** `--inference-pool` value: `ns/name` as given, or the pod's namespace via the downward API. */
export function inferencePoolArg(pool: string): string {
  return pool.includes('/') ? pool : `$(POD_NAMESPACE)/${pool}`;
}

export function sidecarArgs(settings: SidecarSettings): string[] {
  const args = [
    `--port=${settings.port}`,
    `--vllm-port=${settings.vllmPort}`,
    `--kv-connector=${settings.connector}`,
    `--secure-proxy=${settings.secureProxy}`,
    `--enable-ssrf-protection=${settings.ssrfProtection}`,
  ];
  if (settings.ssrfProtection) {
    if (!settings.pool) throw new Error('SSRF protection needs the InferencePool: pass --pool [namespace/]name (or --ssrf-protection=false)');
    args.push(`--inference-pool=${inferencePoolArg(settings.pool)}`);
    if (settings.poolGroup !== DEFAULT_SIDECAR_SETTINGS.poolGroup) args.push(`--pool-group=${settings.poolGroup}`);
  }
  return [...args, ...settings.extraArgs];
}

const fieldEnv = (name: string, fieldPath: string): Json => ({ name, valueFrom: { fieldRef: { fieldPath } } });

export function sidecarEnv(settings: SidecarSettings): Json[] {
  const env: Json[] = [
    fieldEnv('POD_NAME', 'metadata.name'),
    fieldEnv('POD_NAMESPACE', 'metadata.namespace'),
    fieldEnv('POD_IP', 'status.podIP'),
    { name: 'OTEL_SERVICE_NAME', value: SIDECAR_SERVICE_NAME },
    { name: 'OTEL_RESOURCE_ATTRIBUTES', value: 'k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME)' },
    { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
    { name: 'OTEL_TRACES_SAMPLER_ARG', value: settings.samplerArg },
  ];
  if (settings.otlpEndpoint) env.push({ name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: settings.otlpEndpoint });
  return env;
}

/** HTTP(S) GET /health on the sidecar port: answered by the sidecar itself, TLS or not. */
export function sidecarProbe(settings: SidecarSettings, kind: 'readiness' | 'liveness'): Json {
  return {
    httpGet: { path: '/health', port: settings.port, scheme: settings.secureProxy ? 'HTTPS' : 'HTTP' },
    periodSeconds: kind === 'readiness' ? 5 : 10,
    timeoutSeconds: 2,
    failureThreshold: 3,
  };
}

/** The container, ready to go into `spec.initContainers`. */
export function sidecarContainer(settings: SidecarSettings, portName = 'http'): Json {
  return {
    name: SIDECAR_CONTAINER_NAME,
    image: settings.image,
    imagePullPolicy: 'IfNotPresent',
    restartPolicy: 'Always',
    command: [...SIDECAR_COMMAND],
    args: sidecarArgs(settings),
    ports: [{ name: portName, containerPort: settings.port, protocol: 'TCP' }],
    env: sidecarEnv(settings),
    readinessProbe: sidecarProbe(settings, 'readiness'),
    livenessProbe: sidecarProbe(settings, 'liveness'),
    resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '1Gi' } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
  };
}
