/**
 * The sidecar's SSRF allowlist from an InferencePool (with upstream's fixed v1
 * `matchLabels` behaviour): every pod the pool selects that has an IP contributes its **IP and
 * its name** — readiness is not checked, and any port is allowed (checks are host-only).
 *
 * - `start()` resolves after the first sync (the sidecar opens its listener only then).
 *   A pool that does not exist is a completed sync with an empty set: every target is denied.
 * - API outages keep the last set (the watcher never empties on errors).
 *
 * It has the shape of the sidecar's `TargetAllowlist` (enabled / isAllowed / start / close)
 * without importing sidecar code. Targets arrive parsed (`HostPort`, src/wire/host-port.ts): the
 * same value the sidecar connects to, so the check and the connection cannot disagree.
 */
import type { Logger } from '../log.js';
import { canonicalHost, type HostPort } from '../wire/host-port.js';
import type { PoolState } from './pool-watcher.js';

/** What the allowlist needs from a PoolWatcher. */
export interface PoolStateFeed {
  readonly state: PoolState;
  onChange(listener: (state: PoolState) => void): () => void;
  firstSync(): Promise<void>;
  start(): void;
  close(): void;
}

export interface PoolAllowlistOptions {
  watcher: PoolStateFeed;
  logger?: Logger;
}

/** Pod IPs and names of the pool (pods without an IP are not yet addressable and are left out). */
export function allowedHosts(state: PoolState): Set<string> {
  const hosts = new Set<string>();
  if (!state.pool) return hosts;
  for (const pod of state.pods) {
    if (!pod.ip) continue;
    hosts.add(canonicalHost(pod.ip) ?? pod.ip.toLowerCase());
    hosts.add(pod.name.toLowerCase());
  }
  return hosts;
}

export class PoolAllowlist {
  readonly enabled = true;
  private readonly options: PoolAllowlistOptions;
  private hosts: ReadonlySet<string> = new Set();
  private unsubscribe: (() => void) | undefined;

  constructor(options: PoolAllowlistOptions) {
    this.options = options;
  }

  /** Starts watching; resolves once the pool (or its absence) and its pods are known. */
  async start(): Promise<void> {
    if (!this.unsubscribe) {
      this.unsubscribe = this.options.watcher.onChange((state) => this.update(state));
      this.options.watcher.start();
      this.update(this.options.watcher.state);
    }
    await this.options.watcher.firstSync();
    const state = this.options.watcher.state;
    this.options.logger?.info({ hosts: this.hosts.size, pods: state.pods.length, problem: state.problem }, 'SSRF allowlist synced from the InferencePool');
  }

  isAllowed(target: HostPort): boolean {
    return this.hosts.has(target.host);
  }

  /** The current allowed hosts (IPs and pod names). */
  get allowed(): ReadonlySet<string> {
    return this.hosts;
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.options.watcher.close();
  }

  private update(state: PoolState): void {
    // Before the first sync nothing is allowed; afterwards the set only changes on real events.
    if (!state.synced) return;
    this.hosts = allowedHosts(state);
  }
}

export interface CreatePoolAllowlistOptions {
  /** From `--inference-pool [ns/]name` (or the deprecated pair) and `--pool-group`. */
  namespace: string;
  name: string;
  group: string;
  /** `--kubeconfig`; otherwise KUBECONFIG, in-cluster, ~/.kube/config. */
  kubeconfig?: string;
  logger: Logger;
}

/** Loads the Kubernetes client and builds the allowlist on a PoolWatcher (call `start()`). */
export async function createPoolAllowlist(options: CreatePoolAllowlistOptions): Promise<PoolAllowlist> {
  const [{ loadKubeConfig }, { PoolWatcher }, { parsePoolGroup }] = await Promise.all([
    import('./kubeconfig.js'),
    import('./pool-watcher.js'),
    import('./pool-spec.js'),
  ]);
  const watcher = new PoolWatcher({
    kubeConfig: loadKubeConfig({ kubeconfig: options.kubeconfig }),
    pool: { namespace: options.namespace, name: options.name, group: parsePoolGroup(options.group) },
    logger: options.logger,
  });
  return new PoolAllowlist({ watcher, logger: options.logger });
}
