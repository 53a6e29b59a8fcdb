/**
 * The two InferencePool API generations and the slice of a Pod discovery needs, read from the
 * JSON the API server sends (watch events are raw JSON; list items come through the client's
 * deserializer — both have the same field names, so one reader serves both).
 *
 * - v1 `inference.networking.k8s.io`: `spec.selector.matchLabels`, `spec.targetPorts[].number`.
 * - v1alpha2 `inference.networking.x-k8s.io`: flat `spec.selector`, `spec.targetPortNumber`.
 */

export const POOL_GROUP_V1 = 'inference.networking.k8s.io';
export const POOL_GROUP_V1ALPHA2 = 'inference.networking.x-k8s.io';
export const POOL_GROUPS = [POOL_GROUP_V1, POOL_GROUP_V1ALPHA2] as const;
export type PoolGroup = (typeof POOL_GROUPS)[number];

/** The API version served for each group. */
export function poolVersion(group: PoolGroup): string {
  return group === POOL_GROUP_V1 ? 'v1' : 'v1alpha2';
}

export function parsePoolGroup(value: string): PoolGroup {
  if ((POOL_GROUPS as readonly string[]).includes(value)) return value as PoolGroup;
  throw new Error(`--pool-group must be ${POOL_GROUPS.join(' or ')}, got "${value}"`);
}

/**
 * The namespace a component runs in when no flag says: `NAMESPACE`, then `POD_NAMESPACE`
 * (downward API), then `default` — the EPP's `--pool-namespace` fallback.
 */
export function defaultNamespace(env: NodeJS.ProcessEnv = process.env): string {
  return env.NAMESPACE || env.POD_NAMESPACE || 'default';
}

export interface PoolRef {
  namespace: string;
  name: string;
  group: PoolGroup;
}

export interface PoolSpecInfo {
  readonly namespace: string;
  readonly name: string;
  readonly selector: Readonly<Record<string, string>>;
  /** In spec order: the index is the `-rank-<i>` of the endpoint. */
  readonly targetPorts: readonly number[];
  /** `http` (default) or `kubernetes.io/h2c`; v1 only. */
  readonly appProtocol: string;
}

export interface PodInfo {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** `status.podIP`; empty until the pod has one. */
  readonly ip: string;
  /** The `Ready` condition is True. */
  readonly ready: boolean;
  /** `metadata.deletionTimestamp` is set: the pod is terminating. */
  readonly deleting: boolean;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [key, item] of Object.entries(value)) if (typeof item === 'string') out[key] = item;
  return out;
}

function metadataOf(obj: unknown): Json {
  return isObject(obj) && isObject(obj.metadata) ? obj.metadata : {};
}

export function objectName(obj: unknown): string {
  const name = metadataOf(obj).name;
  return typeof name === 'string' ? name : '';
}

export function resourceVersionOf(obj: unknown): string {
  const rv = metadataOf(obj).resourceVersion;
  return typeof rv === 'string' ? rv : '';
}

const validPort = (port: unknown): port is number => typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535;

/** Reads an InferencePool of the given group; throws a message naming the bad field. */
export function parseInferencePool(obj: unknown, group: PoolGroup): PoolSpecInfo {
  const meta = metadataOf(obj);
  const spec = isObject(obj) && isObject(obj.spec) ? obj.spec : {};
  const where = `InferencePool ${String(meta.namespace ?? '')}/${String(meta.name ?? '')}`;
  let selector: Record<string, string>;
  let targetPorts: number[];
  let appProtocol = 'http';
  if (group === POOL_GROUP_V1) {
    // The fixed behaviour (upstream #1696): v1 nests the labels under matchLabels.
    selector = stringMap(isObject(spec.selector) ? spec.selector.matchLabels : undefined);
    const ports = Array.isArray(spec.targetPorts) ? spec.targetPorts : [];
    targetPorts = ports.map((entry) => (isObject(entry) ? entry.number : undefined)).filter(validPort);
    if (targetPorts.length !== ports.length) throw new Error(`${where}: spec.targetPorts[].number must be ports 1-65535`);
    if (typeof spec.appProtocol === 'string' && spec.appProtocol) appProtocol = spec.appProtocol;
  } else {
    selector = stringMap(spec.selector);
    if (!validPort(spec.targetPortNumber)) throw new Error(`${where}: spec.targetPortNumber must be a port 1-65535`);
    targetPorts = [spec.targetPortNumber];
  }
  if (Object.keys(selector).length === 0) {
    throw new Error(`${where}: the selector is empty (${group === POOL_GROUP_V1 ? 'spec.selector.matchLabels' : 'spec.selector'})`);
  }
  if (targetPorts.length === 0) throw new Error(`${where}: no target ports`);
  if (new Set(targetPorts).size !== targetPorts.length) throw new Error(`${where}: duplicate target ports`);
  return { namespace: String(meta.namespace ?? ''), name: String(meta.name ?? ''), selector, targetPorts, appProtocol };
}

export function parsePod(obj: unknown): PodInfo {
  const meta = metadataOf(obj);
  const status = isObject(obj) && isObject(obj.status) ? obj.status : {};
  const conditions = Array.isArray(status.conditions) ? status.conditions : [];
  const ready = conditions.some((c) => isObject(c) && c.type === 'Ready' && c.status === 'True');
  return {
    name: typeof meta.name === 'string' ? meta.name : '',
    namespace: typeof meta.namespace === 'string' ? meta.namespace : '',
    labels: stringMap(meta.labels),
    annotations: stringMap(meta.annotations),
    ip: typeof status.podIP === 'string' ? status.podIP : '',
    ready,
    // The deserializer turns timestamps into Dates; raw watch JSON keeps strings.
    deleting: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
  };
}

/** `k1=v1,k2=v2` in key order: the labelSelector query value, and a stable identity. */
export function formatLabelSelector(selector: Readonly<Record<string, string>>): string {
  return Object.keys(selector).sort().map((key) => `${key}=${selector[key]}`).join(',');
}

export function matchesSelector(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}
