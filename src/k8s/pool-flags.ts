/**
 * The EPP's Kubernetes flags (upstream names), declared once so `pd-router epp`
 * only has to call `addPoolFlags(command)` and `poolDiscoveryConfig(opts)`:
 *
 *   --pool-name <name>              InferencePool to discover endpoints from (env POOL_NAME)
 *   --pool-namespace <ns>           its namespace; else env NAMESPACE, POD_NAMESPACE, then default
 *   --pool-group <group>            inference.networking.k8s.io (v1) | inference.networking.x-k8s.io (v1alpha2)
 *   --kubeconfig <file>             else KUBECONFIG, in-cluster, ~/.kube/config
 *   --ha-enable-leader-election     Lease-based leader election between EPP replicas
 *   --model-server-metrics-port <p> deprecated: metrics port for single-port pools
 *   --endpoint-selector <selector>  pool-less discovery: the pods this label selector matches in
 *                                   the pool namespace (instead of --pool-name)
 *   --endpoint-target-ports <ports> their model-server ports (1 to 8), with --endpoint-selector
 *
 * Kept free of the Kubernetes client so `--help` stays fast.
 */
import type { Command } from 'commander';
import { declareOptions, type OptionSpec } from '../cli/options.js';
import { ConfigError } from '../config-error.js';
import { checkLabelSelector } from './label-selector.js';
import { POOL_GROUP_V1, defaultNamespace, parsePoolGroup, type PoolGroup } from './pool-spec.js';

export interface PoolDiscoveryConfig {
  /** Undefined: no Kubernetes discovery (static endpoints file instead). */
  poolName?: string;
  poolNamespace: string;
  poolGroup: PoolGroup;
  kubeconfig?: string;
  haEnableLeaderElection: boolean;
  /** 0 = the target port serves /metrics. */
  modelServerMetricsPort: number;
  /** Pool-less discovery: the pods this label selector matches in `poolNamespace` (instead of poolName). */
  endpointSelector?: string;
  /** The model-server ports of those pods (with endpointSelector). */
  endpointTargetPorts: number[];
}

export const POOL_FLAGS: readonly OptionSpec[] = [
  { name: 'pool-name', kind: 'string', placeholder: '<name>', help: 'InferencePool whose pods are the endpoints (instead of --endpoints)', env: 'POOL_NAME' },
  { name: 'pool-namespace', kind: 'string', placeholder: '<namespace>', help: 'namespace of the InferencePool', defaultText: 'env NAMESPACE, then POD_NAMESPACE, then "default"', env: 'POOL_NAMESPACE' },
  { name: 'pool-group', kind: 'string', placeholder: '<group>', help: `API group of the InferencePool: ${POOL_GROUP_V1} (v1) or inference.networking.x-k8s.io (v1alpha2)`, env: 'POOL_GROUP', default: POOL_GROUP_V1 },
  { name: 'kubeconfig', kind: 'string', placeholder: '<file>', help: 'kubeconfig file', defaultText: 'KUBECONFIG, then the in-cluster service account, then ~/.kube/config', env: 'EPP_KUBECONFIG' },
  { name: 'ha-enable-leader-election', kind: 'bool', help: 'elect a leader among EPP replicas with a Lease; only the leader reports ready', env: 'EPP_HA_ENABLE_LEADER_ELECTION', default: false },
  { name: 'model-server-metrics-port', kind: 'int', placeholder: '<port>', help: 'deprecated: port of /metrics when the pool has one target port', env: 'EPP_MODEL_SERVER_METRICS_PORT', default: 0 },
  { name: 'endpoint-selector', kind: 'string', placeholder: '<selector>', help: 'instead of --pool-name: the pods this label selector matches in the pool namespace, e.g. "app=vllm,env in (prod)"', env: 'EPP_ENDPOINT_SELECTOR' },
  { name: 'endpoint-target-ports', kind: 'list', placeholder: '<ports>', help: 'with --endpoint-selector: the model-server ports of those pods (1 to 8, comma-separated)', env: 'EPP_ENDPOINT_TARGET_PORTS' },
];

export function addPoolFlags(command: Command): Command {
  return declareOptions(command, POOL_FLAGS);
}

/** commander values → config; throws on contradictions (the caller turns that into exit 1/2). */
export function poolDiscoveryConfig(opts: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): PoolDiscoveryConfig {
  const poolName = (opts.poolName as string | undefined) || undefined;
  const config: PoolDiscoveryConfig = {
    poolName,
    poolNamespace: (opts.poolNamespace as string | undefined) || defaultNamespace(env),
    poolGroup: parsePoolGroup((opts.poolGroup as string | undefined) ?? POOL_GROUP_V1),
    kubeconfig: (opts.kubeconfig as string | undefined) || undefined,
    haEnableLeaderElection: Boolean(opts.haEnableLeaderElection),
    modelServerMetricsPort: (opts.modelServerMetricsPort as number | undefined) ?? 0,
    ...endpointSelection(opts, poolName),
  };
  if (poolName && opts.endpoints) throw new ConfigError(['--pool-name'], 'and --endpoints are mutually exclusive: endpoints come from the InferencePool or from the file');
  if (config.haEnableLeaderElection && !poolName) throw new ConfigError(['--ha-enable-leader-election'], 'needs --pool-name (the Lease is named after the pool)');
  if (config.modelServerMetricsPort < 0 || config.modelServerMetricsPort > 65535) throw new ConfigError(['--model-server-metrics-port'], 'must be 0-65535');
  return config;
}

/** `--endpoint-selector` + `--endpoint-target-ports`, checked as llm-d checks them. */
function endpointSelection(opts: Record<string, unknown>, poolName: string | undefined): Pick<PoolDiscoveryConfig, 'endpointSelector' | 'endpointTargetPorts'> {
  const raw = (opts.endpointSelector as string | undefined) || undefined;
  const portTexts = (opts.endpointTargetPorts as string[] | undefined) ?? [];
  if (raw === undefined) {
    if (portTexts.length > 0) throw new ConfigError(['--endpoint-target-ports'], 'needs --endpoint-selector');
    return { endpointTargetPorts: [] };
  }
  if (poolName) throw new ConfigError(['--endpoint-selector'], 'and --pool-name are mutually exclusive: either pool-name or endpoint-selector must be set');
  if (opts.endpoints) throw new ConfigError(['--endpoint-selector'], 'and --endpoints are mutually exclusive: endpoints come from the selected pods or from the file');
  let endpointSelector: string;
  try {
    endpointSelector = checkLabelSelector(raw);
  } catch (err) {
    throw new ConfigError(['--endpoint-selector'], (err as Error).message);
  }
  const ports = [...new Set(portTexts.map((text) => (/^\d+$/.test(text) ? Number(text) : NaN)))];
  if (ports.length < 1 || ports.length > 8) throw new ConfigError(['--endpoint-target-ports'], 'should have length from 1 to 8');
  const bad = ports.find((port) => !(port >= 1 && port <= 65535));
  if (bad !== undefined) throw new ConfigError(['--endpoint-target-ports'], `invalid port number in ${JSON.stringify(portTexts.join(','))}`);
  return { endpointSelector, endpointTargetPorts: ports };
}
