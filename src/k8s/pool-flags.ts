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
 *   --endpoint-selector, --endpoint-target-ports
 *                                   upstream's pool-less discovery by pod label selector: refused
 *                                   at start-up with a clear message (not implemented here)
 *
 * Kept free of the Kubernetes client so `--help` stays fast.
 */
import type { Command } from 'commander';
import { declareOptions, type OptionSpec } from '../cli/options.js';
import { ConfigError } from '../config-error.js';
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
}

export const POOL_FLAGS: readonly OptionSpec[] = [
  { name: 'pool-name', kind: 'string', placeholder: '<name>', help: 'InferencePool whose pods are the endpoints (instead of --endpoints)', env: 'POOL_NAME' },
  { name: 'pool-namespace', kind: 'string', placeholder: '<namespace>', help: 'namespace of the InferencePool', defaultText: 'env NAMESPACE, then POD_NAMESPACE, then "default"', env: 'POOL_NAMESPACE' },
  { name: 'pool-group', kind: 'string', placeholder: '<group>', help: `API group of the InferencePool: ${POOL_GROUP_V1} (v1) or inference.networking.x-k8s.io (v1alpha2)`, env: 'POOL_GROUP', default: POOL_GROUP_V1 },
  { name: 'kubeconfig', kind: 'string', placeholder: '<file>', help: 'kubeconfig file', defaultText: 'KUBECONFIG, then the in-cluster service account, then ~/.kube/config', env: 'EPP_KUBECONFIG' },
  { name: 'ha-enable-leader-election', kind: 'bool', help: 'elect a leader among EPP replicas with a Lease; only the leader reports ready', env: 'EPP_HA_ENABLE_LEADER_ELECTION', default: false },
  { name: 'model-server-metrics-port', kind: 'int', placeholder: '<port>', help: 'deprecated: port of /metrics when the pool has one target port', env: 'EPP_MODEL_SERVER_METRICS_PORT', default: 0 },
  { name: 'endpoint-selector', kind: 'string', placeholder: '<selector>', help: 'llm-d: discover pods by label selector instead of an InferencePool (not supported: refused at start-up)', env: 'EPP_ENDPOINT_SELECTOR', hidden: true },
  { name: 'endpoint-target-ports', kind: 'list', placeholder: '<ports>', help: 'llm-d: target ports for --endpoint-selector (not supported: refused at start-up)', env: 'EPP_ENDPOINT_TARGET_PORTS', hidden: true },
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
  };
  if (opts.endpointSelector || (opts.endpointTargetPorts as string[] | undefined)?.length) {
    throw new ConfigError([opts.endpointSelector ? '--endpoint-selector' : '--endpoint-target-ports'],
      'is not supported: pd-router has no pool-less discovery by pod label selector; use --pool-name with an InferencePool, or --endpoints with a static endpoints file');
  }
  if (poolName && opts.endpoints) throw new ConfigError(['--pool-name'], 'and --endpoints are mutually exclusive: endpoints come from the InferencePool or from the file');
  if (config.haEnableLeaderElection && !poolName) throw new ConfigError(['--ha-enable-leader-election'], 'needs --pool-name (the Lease is named after the pool)');
  if (config.modelServerMetricsPort < 0 || config.modelServerMetricsPort > 65535) throw new ConfigError(['--model-server-metrics-port'], 'must be 0-65535');
  return config;
}
