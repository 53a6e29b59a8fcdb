/**
 * Kubernetes endpoint source: the InferencePool's pods (src/k8s/pool-watcher.ts) → the
 * EndpointStore, beside the static file source.
 *
 * - One endpoint per Ready pod that has an IP and no deletionTimestamp, per target port:
 *   `<pod>-rank-<i>` (i = the port's index in the pool's targetPorts) at `podIP:port`, carrying
 *   the pod's labels (the role comes from `llm-d.ai/role`).
 * - The `llm-d.ai/active-ports` annotation (legacy `inference.networking.k8s.io/active-ports`),
 *   a comma-separated port list, restricts which target ports a pod serves.
 * - Not synced yet, pool deleted or invalid → an empty store with `synced = false`: the Director
 *   answers 503 "not discovered yet" and health reports NOT_SERVING, as upstream does when its
 *   datastore holds no pool. API-server outages change nothing: the watcher keeps the last state.
 *
 * - Pool-less (`--endpoint-selector`): the selected pods and the flags' target ports stand in for
 *   the pool (src/k8s/selector-watcher.ts); the mapping is the same.
 *
 * The Kubernetes client is loaded only by `createPoolSource`, so importing this module is cheap.
 */
import type { Logger } from '../../src/log.js';
import type { PoolState, PoolStateListener } from '../../src/k8s/pool-watcher.js';
import type { PodInfo, PoolRef } from '../../src/k8s/pool-spec.js';
import type { Backoff } from '../../src/k8s/reflector.js';
import type { PoolDiscoveryConfig } from '../../src/k8s/pool-flags.js';
import type { LeaderElectionOptions } from '../../src/k8s/leader-election.js';
import { joinHostPort } from '../framework/endpoint.js';
import type { EndpointSpec, EndpointStore } from './store.js';

export const ACTIVE_PORTS_ANNOTATION = 'llm-d.ai/active-ports';
export const LEGACY_ACTIVE_PORTS_ANNOTATION = 'inference.networking.k8s.io/active-ports';

export interface EndpointMappingOptions {
  /** Deprecated `--model-server-metrics-port`: used only when the pool has exactly one target port. */
  modelServerMetricsPort?: number;
}

/** The target ports a pod serves: all of them, unless its active-ports annotation says fewer. */
export function activePorts(pod: PodInfo, targetPorts: readonly number[]): ReadonlySet<number> {
  const annotation = pod.annotations[ACTIVE_PORTS_ANNOTATION] ?? pod.annotations[LEGACY_ACTIVE_PORTS_ANNOTATION];
  if (annotation === undefined) return new Set(targetPorts);
  const wanted = new Set<number>();
  for (const item of annotation.split(',')) {
    // Go's Sscanf("%d") reads the leading integer; anything unparsable is skipped.
    const match = /^\s*\+?(\d+)/.exec(item);
    const port = match ? Number(match[1]) : NaN;
    if (port > 0 && targetPorts.includes(port)) wanted.add(port);
  }
  return wanted;
}

/** PoolState → endpoint specs (pure). No pool or not synced → none. */
export function endpointsFromPool(state: PoolState, options: EndpointMappingOptions = {}): EndpointSpec[] {
  const pool = state.pool;
  if (!state.synced || !pool) return [];
  const specs: EndpointSpec[] = [];
  const pods = [...state.pods].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const pod of pods) {
    if (!pod.ready || !pod.ip || pod.deleting) continue;
    const active = activePorts(pod, pool.targetPorts);
    pool.targetPorts.forEach((port, rank) => {
      if (!active.has(port)) return;
      const metricsPort = pool.targetPorts.length === 1 && options.modelServerMetricsPort ? options.modelServerMetricsPort : port;
      specs.push({
        name: `${pod.name}-rank-${rank}`,
        namespace: pod.namespace,
        address: pod.ip,
        port,
        labels: { ...pod.labels },
        metricsHost: joinHostPort(pod.ip, metricsPort),
      });
    });
  }
  return specs;
}

/** What PoolSource needs from a watcher (PoolWatcher; tests may hand in their own). */
export interface PoolStateSource {
  readonly state: PoolState;
  onChange(listener: PoolStateListener): () => void;
  start(): void;
  close(): void;
}

export interface PoolSourceOptions extends EndpointMappingOptions {
  watcher: PoolStateSource;
  store: EndpointStore;
  logger: Logger;
}

export class PoolSource {
  private readonly options: PoolSourceOptions;
  private unsubscribe: (() => void) | undefined;
  private lastProblem: string | undefined;
  private lastCount = -1;

  constructor(options: PoolSourceOptions) {
    this.options = options;
  }

  /** Starts the watcher; the store stays unsynced (503) until the pool and its pods are read. */
  start(): void {
    if (this.unsubscribe) return;
    this.options.store.synced = false;
    this.unsubscribe = this.options.watcher.onChange((state) => this.apply(state));
    this.options.watcher.start();
    this.apply(this.options.watcher.state);
  }

  /** Why the store is empty or unsynced, if it is (for logs and health details). */
  get problem(): string | undefined {
    return this.options.watcher.state.problem;
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.options.watcher.close();
  }

  private apply(state: PoolState): void {
    const { store, logger } = this.options;
    if (!state.synced || !state.pool) {
      store.replaceAll([]);
      store.synced = false;
      if (state.problem !== this.lastProblem) logger.warn({ problem: state.problem }, 'no model-server endpoints: the InferencePool is not available');
      this.lastProblem = state.problem;
      this.lastCount = -1;
      return;
    }
    const specs = endpointsFromPool(state, this.options);
    store.replaceAll(specs);
    if (this.lastProblem !== undefined || specs.length !== this.lastCount) {
      logger.info({ pool: `${state.pool.namespace}/${state.pool.name}`, endpoints: specs.length, pods: state.pods.length }, 'endpoints discovered from the InferencePool');
    }
    this.lastProblem = undefined;
    this.lastCount = specs.length;
  }
}

export interface CreatePoolSourceOptions extends EndpointMappingOptions {
  pool: PoolRef;
  /** `--kubeconfig`; otherwise KUBECONFIG, in-cluster, ~/.kube/config. */
  kubeconfig?: string;
  store: EndpointStore;
  logger: Logger;
  backoff?: Backoff;
}

/** Loads the Kubernetes client and builds a PoolSource on a PoolWatcher (not started). */
export async function createPoolSource(options: CreatePoolSourceOptions): Promise<PoolSource> {
  const [{ loadKubeConfig }, { PoolWatcher }] = await Promise.all([
    import('../../src/k8s/kubeconfig.js'),
    import('../../src/k8s/pool-watcher.js'),
  ]);
  const watcher = new PoolWatcher({ kubeConfig: loadKubeConfig({ kubeconfig: options.kubeconfig }), pool: options.pool, logger: options.logger, backoff: options.backoff });
  return new PoolSource({ watcher, store: options.store, logger: options.logger, modelServerMetricsPort: options.modelServerMetricsPort });
}

export interface KubernetesDiscovery {
  readonly source: PoolSource;
  /** True without leader election; otherwise whether this replica holds the Lease. */
  isLeader(): boolean;
  /** gRPC readiness: endpoints synced and, with leader election, leading. */
  isServing(): boolean;
  /** Priority of the pool's InferenceObjective by name (watched in the pool's namespace); undefined when unknown. */
  objectivePriority(name: string): number | undefined;
  close(): Promise<void>;
}

export interface KubernetesDiscoveryOptions {
  /** From `poolDiscoveryConfig()`; `poolName` must be set. */
  config: PoolDiscoveryConfig;
  store: EndpointStore;
  logger: Logger;
  backoff?: Backoff;
  /** Lease timings (client-go defaults 15 s / 10 s / 2 s); tests shorten them. */
  leaseTimings?: Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;
}

/**
 * The EPP's whole Kubernetes side, started: the pool source feeding `store` and, with
 * `--ha-enable-leader-election`, a Lease elector. Every replica keeps watching (hot standby);
 * only readiness follows leadership.
 */
export async function startKubernetesDiscovery(options: KubernetesDiscoveryOptions): Promise<KubernetesDiscovery> {
  const { config, store, logger } = options;
  if (config.endpointSelector) return startSelectorDiscovery(options, config.endpointSelector);
  if (!config.poolName) throw new Error('Kubernetes discovery needs --pool-name or --endpoint-selector');
  const [{ loadKubeConfig }, { PoolWatcher }, { LeaderElector, eppLeaseName }, { ObjectiveWatcher }] = await Promise.all([
    import('../../src/k8s/kubeconfig.js'),
    import('../../src/k8s/pool-watcher.js'),
    import('../../src/k8s/leader-election.js'),
    import('../../src/k8s/objective-watcher.js'),
  ]);
  const kubeConfig = loadKubeConfig({ kubeconfig: config.kubeconfig });
  const pool = { namespace: config.poolNamespace, name: config.poolName, group: config.poolGroup };
  const watcher = new PoolWatcher({ kubeConfig, pool, logger, backoff: options.backoff });
  const source = new PoolSource({ watcher, store, logger, modelServerMetricsPort: config.modelServerMetricsPort || undefined });
  const objectives = new ObjectiveWatcher({ kubeConfig, namespace: pool.namespace, pool: { name: pool.name, group: pool.group }, logger, ...(options.backoff ? { backoff: options.backoff } : {}) });
  const elector = config.haEnableLeaderElection
    ? new LeaderElector({ kubeConfig, namespace: config.poolNamespace, leaseName: eppLeaseName(config.poolNamespace, config.poolName), logger, ...options.leaseTimings })
    : undefined;
  logger.info({ pool: `${pool.namespace}/${pool.name}`, group: pool.group, leaderElection: Boolean(elector) }, 'discovering endpoints from the InferencePool');
  source.start();
  objectives.start();
  elector?.start();
  const isLeader = (): boolean => elector?.isLeader() ?? true;
  return {
    source,
    isLeader,
    isServing: () => store.synced && isLeader(),
    objectivePriority: objectives.priority,
    close: async () => {
      await elector?.close();
      objectives.close();
      source.close();
    },
  };
}

/**
 * Pool-less discovery (`--endpoint-selector`): the selected pods feed the same PoolSource. As
 * upstream's standalone mode: no InferencePool and no InferenceObjectives are watched (objective
 * priorities come from the in-process table only), and no leader election.
 */
async function startSelectorDiscovery(options: KubernetesDiscoveryOptions, selector: string): Promise<KubernetesDiscovery> {
  const { config, store, logger } = options;
  const [{ loadKubeConfig }, { SelectorWatcher }] = await Promise.all([
    import('../../src/k8s/kubeconfig.js'),
    import('../../src/k8s/selector-watcher.js'),
  ]);
  const watcher = new SelectorWatcher({
    kubeConfig: loadKubeConfig({ kubeconfig: config.kubeconfig }), namespace: config.poolNamespace, selector, targetPorts: config.endpointTargetPorts, logger, backoff: options.backoff,
  });
  const source = new PoolSource({ watcher, store, logger, modelServerMetricsPort: config.modelServerMetricsPort || undefined });
  logger.info({ selector, namespace: config.poolNamespace, targetPorts: config.endpointTargetPorts }, 'discovering endpoints from pods matching a label selector');
  source.start();
  return {
    source,
    isLeader: () => true,
    isServing: () => store.synced,
    objectivePriority: () => undefined,
    close: async () => source.close(),
  };
}
