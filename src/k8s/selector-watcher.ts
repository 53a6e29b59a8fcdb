/**
 * Pool-less discovery (llm-d's `--endpoint-selector` / `--endpoint-target-ports`): the pods a
 * label selector matches in one namespace, published as the same `PoolState` the InferencePool
 * watcher publishes — with a pool made of the flags (the selector and the target ports) — so the
 * EPP's PoolSource maps them to endpoints exactly as for a pool (ranks, active-ports, readiness).
 *
 * `synced` turns true once the pods are listed; outages keep the last state (the reflector's).
 */
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import type { PoolState, PoolStateListener } from './pool-watcher.js';
import { Reflector, type Backoff, type ListResult } from './reflector.js';
import { parsePod, type PoolSpecInfo } from './pool-spec.js';

export interface SelectorWatcherOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** A checked label selector (label-selector.ts), passed to the API server as is. */
  selector: string;
  targetPorts: readonly number[];
  logger: Logger;
  backoff?: Backoff;
}

export class SelectorWatcher {
  private readonly options: SelectorWatcherOptions;
  private readonly listeners = new Set<PoolStateListener>();
  private readonly pool: PoolSpecInfo;
  private reflector: Reflector | undefined;
  private current: PoolState;
  private closed = false;

  constructor(options: SelectorWatcherOptions) {
    this.options = options;
    // The name only labels logs; the selector map is unused (the API server applies the selector).
    this.pool = { namespace: options.namespace, name: `selector(${options.selector})`, selector: {}, targetPorts: [...options.targetPorts], appProtocol: 'http' };
    this.current = { synced: false, pods: [], problem: `the pods matching ${options.selector} in ${options.namespace} have not been listed yet` };
  }

  get state(): PoolState {
    return this.current;
  }

  onChange(listener: PoolStateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.reflector || this.closed) return;
    const { namespace, selector: labelSelector, kubeConfig } = this.options;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.reflector = new Reflector({
      description: `pods ${labelSelector} in ${namespace}`,
      kubeConfig,
      path: `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      query: { labelSelector },
      list: (opts) => core.listNamespacedPod({ namespace, labelSelector }, opts) as Promise<ListResult>,
      onChange: (objects) => {
        if (this.closed) return;
        this.current = { synced: true, pool: this.pool, pods: [...objects.values()].map(parsePod) };
        for (const listener of this.listeners) listener(this.current);
      },
      logger: this.options.logger,
      backoff: this.options.backoff,
    });
    this.reflector.start();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reflector?.close();
    this.listeners.clear();
  }
}
