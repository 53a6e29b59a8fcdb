/**
 * Watches the InferenceObjectives (`llm-d.ai/v1alpha2`, plural `inferenceobjectives`) in the pool's
 * namespace and keeps the priority of each one that refers to the pool — what llm-d Router's
 * InferenceObjective reconciler stores, and flow control reads by the name a request's
 * `x-llm-d-inference-objective` header carries.
 *
 * - An objective belongs to the pool when `spec.poolRef.name` is the pool's name and
 *   `spec.poolRef.group` (default `inference.networking.k8s.io`, as the CRD) is the pool's group;
 *   others are ignored, as upstream.
 * - `spec.priority` is an int32; absent means 0 (upstream's default). A value that is not an
 *   int32 is treated as absent, with a warning (the CRD's validation makes this unlikely).
 * - The reflector keeps the last known objectives through API-server outages; a missing CRD or
 *   missing RBAC is logged and retried with backoff, and every objective has priority 0 meanwhile.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { Reflector, type Backoff, type ListResult } from './reflector.js';

export const OBJECTIVE_GROUP = 'llm-d.ai';
export const OBJECTIVE_VERSION = 'v1alpha2';
export const OBJECTIVE_PLURAL = 'inferenceobjectives';
/** `spec.poolRef.group` when unset (the CRD's default). */
export const DEFAULT_POOL_REF_GROUP = 'inference.networking.k8s.io';

/** Slower than the pool's: a cluster without the CRD would otherwise log a warning every 10 s. */
const OBJECTIVE_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 60_000 };

export interface ObjectiveWatcherOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The pool objectives must refer to. */
  pool: { name: string; group: string };
  logger: Logger;
  backoff?: Backoff;
}

export interface ParsedObjective {
  readonly name: string;
  /** undefined: the objective sets no (valid) priority. */
  readonly priority: number | undefined;
  /** Set when `spec.priority` was present but not an int32. */
  readonly invalidPriority?: unknown;
}

const isInt32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;

/** An InferenceObjective of `pool`, or undefined when it refers to another pool (or is malformed). */
export function parseObjective(obj: unknown, pool: { name: string; group: string }): ParsedObjective | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const { metadata, spec } = obj as { metadata?: { name?: unknown }; spec?: { priority?: unknown; poolRef?: { name?: unknown; group?: unknown } } };
  const name = metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  const ref = spec?.poolRef;
  const group = typeof ref?.group === 'string' && ref.group !== '' ? ref.group : DEFAULT_POOL_REF_GROUP;
  if (ref?.name !== pool.name || group !== pool.group) return undefined;
  const raw = spec?.priority;
  if (raw === undefined || raw === null) return { name, priority: undefined };
  return isInt32(raw) ? { name, priority: raw } : { name, priority: undefined, invalidPriority: raw };
}

export class ObjectiveWatcher {
  private readonly reflector: Reflector;
  private priorities: ReadonlyMap<string, number> = new Map();
  private readonly warned = new Set<string>();

  constructor(private readonly options: ObjectiveWatcherOptions) {
    const { kubeConfig, namespace, logger } = options;
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.reflector = new Reflector({
      description: `${OBJECTIVE_PLURAL}.${OBJECTIVE_GROUP}/${OBJECTIVE_VERSION} in ${namespace}`,
      kubeConfig,
      path: `/apis/${OBJECTIVE_GROUP}/${OBJECTIVE_VERSION}/namespaces/${encodeURIComponent(namespace)}/${OBJECTIVE_PLURAL}`,
      query: {},
      list: (opts) => custom.listNamespacedCustomObject({ group: OBJECTIVE_GROUP, version: OBJECTIVE_VERSION, namespace, plural: OBJECTIVE_PLURAL }, opts) as Promise<ListResult>,
      onChange: (objects) => this.update(objects),
      logger,
      backoff: options.backoff ?? OBJECTIVE_BACKOFF,
    });
  }

  /** True once the first list landed. */
  get synced(): boolean {
    return this.reflector.synced;
  }

  start(): void {
    this.reflector.start();
  }

  close(): void {
    this.reflector.close();
  }

  /** The priority of the pool's objective `name` (0 when it sets none); undefined when no such objective is known. */
  readonly priority = (name: string): number | undefined => this.priorities.get(name);

  /** Names of the pool's objectives known now. */
  names(): string[] {
    return [...this.priorities.keys()].sort();
  }

  private update(objects: ReadonlyMap<string, unknown>): void {
    const next = new Map<string, number>();
    for (const obj of objects.values()) {
      const parsed = parseObjective(obj, this.options.pool);
      if (!parsed) continue;
      next.set(parsed.name, parsed.priority ?? 0);
      if (parsed.invalidPriority !== undefined && !this.warned.has(parsed.name)) {
        this.warned.add(parsed.name);
        this.options.logger.warn({ objective: parsed.name, priority: parsed.invalidPriority }, 'InferenceObjective priority is not an int32: using 0');
      }
    }
    const changed = next.size !== this.priorities.size || [...next].some(([name, p]) => !this.priorities.has(name) || this.priorities.get(name) !== p);
    this.priorities = next;
    if (changed) this.options.logger.info({ objectives: Object.fromEntries(next) }, 'InferenceObjective priorities');
  }
}
