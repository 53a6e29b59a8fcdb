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
 *
 * Kept free of the Kubernetes client so `--help` stays fast.
 */
import type { Command } from 'commander';
import { boolOption, intArg, option } from '../flags.js';
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

export function addPoolFlags(command: Command): Command {
  return command
    .addOption(option('--pool-name <name>', 'InferencePool whose pods are the endpoints (instead of --endpoints)', 'POOL_NAME'))
    .addOption(option('--pool-namespace <namespace>', 'namespace of the InferencePool (default: env NAMESPACE, then POD_NAMESPACE, then "default")', 'POOL_NAMESPACE'))
    .addOption(option('--pool-group <group>', `API group of the InferencePool: ${POOL_GROUP_V1} (v1) or inference.networking.x-k8s.io (v1alpha2)`, 'POOL_GROUP').default(POOL_GROUP_V1))
    .addOption(option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, then the in-cluster service account, then ~/.kube/config)', 'EPP_KUBECONFIG'))
    .addOption(boolOption('--ha-enable-leader-election', 'elect a leader among EPP replicas with a Lease; only the leader reports ready', 'EPP_HA_ENABLE_LEADER_ELECTION', false))
    .addOption(option('--model-server-metrics-port <port>', 'deprecated: port of /metrics when the pool has one target port', 'EPP_MODEL_SERVER_METRICS_PORT').argParser(intArg).default(0));
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
  if (poolName && opts.endpoints) throw new Error('--pool-name and --endpoints are mutually exclusive: endpoints come from the InferencePool or from the file');
  if (config.haEnableLeaderElection && !poolName) throw new Error('--ha-enable-leader-election needs --pool-name (the Lease is named after the pool)');
  if (config.modelServerMetricsPort < 0 || config.modelServerMetricsPort > 65535) throw new Error('--model-server-metrics-port must be 0-65535');
  return config;
}
