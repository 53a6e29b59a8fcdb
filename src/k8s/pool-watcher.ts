/**
 * Watches one InferencePool and the pods its selector matches, and publishes the pair as one
 * `PoolState` — the discovery both the EPP (candidate endpoints) and the sidecar (SSRF allowlist)
 * build on.
 *
 * - The pool is watched by name (`fieldSelector=metadata.name=<name>`) in its group/version:
 *   v1 `inference.networking.k8s.io` or v1alpha2 `inference.networking.x-k8s.io`.
 * - A pod list+watch runs on the pool's selector; it is replaced when the selector changes and
 *   stopped when the pool goes away (upstream restarts its pod informer the same way).
 * - Outages and watch restarts are absorbed by the reflectors, which keep the last good objects:
 *   the published pods only change on real events.
 * - `synced` turns true once the API server's answer is known: the pool is absent (`problem` says
 *   so), or it exists and its pods are listed. Consumers decide what an absent pool means.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { Reflector, type Backoff, type ListResult } from './reflector.js';
import {
  formatLabelSelector, matchesSelector, parseInferencePool, parsePod, poolVersion,
  type PodInfo, type PoolRef, type PoolSpecInfo,
} from './pool-spec.js';

export interface PoolState {
  /** The pool has been read (found or not) and, when it exists, its pods have been listed. */
  readonly synced: boolean;
  /** Absent while not synced, when the pool does not exist, or when its spec is invalid. */
  readonly pool?: PoolSpecInfo;
  /** Every pod the selector matches, ready or not (consumers filter). */
  readonly pods: readonly PodInfo[];
  /** Why there is no usable pool, for operators: e.g. `InferencePool llm/x not found`. */
  readonly problem?: string;
}

export type PoolStateListener = (state: PoolState) => void;

export interface PoolWatcherOptions {
  kubeConfig: KubeConfig;
  pool: PoolRef;
  logger: Logger;
  /** Retry pacing after API failures (tests shorten it). */
  backoff?: Backoff;
}

export class PoolWatcher {
  private readonly options: PoolWatcherOptions;
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly listeners = new Set<PoolStateListener>();
  private poolReflector: Reflector | undefined;
  private podReflector: Reflector | undefined;
  private selectorKey = '';
  private pool: PoolSpecInfo | undefined;
  private problem: string | undefined;
  private pods: readonly PodInfo[] = [];
  private podsListed = false;
  private current: PoolState;
  private closed = false;
  private readonly syncWaiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];

  constructor(options: PoolWatcherOptions) {
    this.options = options;
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.current = { synced: false, pods: [], problem: `InferencePool ${this.poolId} has not been read from the API server yet` };
  }

  get poolId(): string {
    return `${this.options.pool.namespace}/${this.options.pool.name}`;
  }

  get state(): PoolState {
    return this.current;
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onChange(listener: PoolStateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once the state is first synced; rejects when closed before that. */
  firstSync(): Promise<void> {
    if (this.current.synced) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(`pool watcher for ${this.poolId} closed before the first sync`));
    return new Promise((resolve, reject) => this.syncWaiters.push({ resolve, reject }));
  }

  start(): void {
    if (this.poolReflector || this.closed) return;
    const { group, namespace, name } = this.options.pool;
    const version = poolVersion(group);
    const fieldSelector = `metadata.name=${name}`;
    this.poolReflector = new Reflector({
      description: `inferencepools.${group}/${version} ${namespace}/${name}`,
      kubeConfig: this.options.kubeConfig,
      path: `/apis/${group}/${version}/namespaces/${encodeURIComponent(namespace)}/inferencepools`,
      query: { fieldSelector },
      list: (opts) => this.custom.listNamespacedCustomObject({ group, version, namespace, plural: 'inferencepools', fieldSelector }, opts) as Promise<ListResult>,
      onChange: (objects) => this.onPoolObjects(objects.get(name)),
      logger: this.options.logger,
      backoff: this.options.backoff,
    });
    this.poolReflector.start();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poolReflector?.close();
    this.podReflector?.close();
    this.listeners.clear();
    for (const waiter of this.syncWaiters.splice(0)) waiter.reject(new Error(`pool watcher for ${this.poolId} closed before the first sync`));
  }

  private onPoolObjects(obj: unknown): void {
    if (this.closed) return;
    const { logger, pool: ref } = this.options;
    if (obj === undefined) {
      if (this.pool || !this.problem?.endsWith('not found')) logger.warn({ pool: this.poolId, group: ref.group }, 'InferencePool not found: no endpoints until it exists');
      this.setPool(undefined, `InferencePool ${this.poolId} (${ref.group}) not found`);
      return;
    }
    let parsed: PoolSpecInfo;
    try {
      parsed = parseInferencePool(obj, ref.group);
    } catch (err) {
      const message = (err as Error).message;
      if (message !== this.problem) logger.error({ pool: this.poolId, err: message }, 'InferencePool is invalid: no endpoints until it is fixed');
      this.setPool(undefined, message);
      return;
    }
    const changed = !this.pool || formatLabelSelector(this.pool.selector) !== formatLabelSelector(parsed.selector)
      || this.pool.targetPorts.join(',') !== parsed.targetPorts.join(',');
    if (changed) logger.info({ pool: this.poolId, selector: parsed.selector, targetPorts: parsed.targetPorts }, 'InferencePool observed');
    this.setPool(parsed, undefined);
  }

  private setPool(pool: PoolSpecInfo | undefined, problem: string | undefined): void {
    this.pool = pool;
    this.problem = problem;
    const key = pool ? formatLabelSelector(pool.selector) : '';
    if (key !== this.selectorKey) {
      this.selectorKey = key;
      this.podReflector?.close();
      this.podReflector = undefined;
      if (pool) {
        // Until the new selector's list lands, keep the known pods that still match it.
        this.pods = this.pods.filter((pod) => matchesSelector(pod.labels, pool.selector));
        this.startPods(pool);
      } else {
        this.pods = [];
        this.podsListed = false;
      }
    }
    this.publish();
  }

  private startPods(pool: PoolSpecInfo): void {
    const namespace = this.options.pool.namespace;
    const labelSelector = formatLabelSelector(pool.selector);
    const reflector = new Reflector({
      description: `pods ${labelSelector} in ${namespace}`,
      kubeConfig: this.options.kubeConfig,
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      query: { labelSelector },
      list: (opts) => this.core.listNamespacedPod({ namespace, labelSelector }, opts) as Promise<ListResult>,
      onChange: (objects) => {
        if (this.podReflector !== reflector || this.closed) return;
        this.pods = [...objects.values()].map(parsePod);
        this.podsListed = true;
        this.publish();
      },
      logger: this.options.logger,
      backoff: this.options.backoff,
    });
    this.podReflector = reflector;
    reflector.start();
  }

  private publish(): void {
    const poolSynced = this.poolReflector?.synced ?? false;
    // Synced = what the API server holds is known: the pool is absent (or invalid), or it exists
    // and its pods have been listed.
    const synced = poolSynced && (this.pool === undefined || this.podsListed);
    let problem = this.problem;
    if (!poolSynced) problem = `InferencePool ${this.poolId} has not been read from the API server yet`;
    else if (!synced) problem = `the pods of InferencePool ${this.poolId} have not been listed yet`;
    this.current = { synced, pool: this.pool, pods: this.pods, problem };
    for (const listener of this.listeners) listener(this.current);
    if (synced) for (const waiter of this.syncWaiters.splice(0)) waiter.resolve();
  }
}
