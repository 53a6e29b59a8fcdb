/**
 * `kvEventsConfig` of the precise-prefix-cache scorer, with llm-d's defaults.
 * A partial mapping merges over the defaults field by field.
 *
 *   zmqEndpoint: ""        set → global mode: one SUB binds here (e.g. "tcp://*:5557")
 *   topicFilter: "kv@"     ZMQ prefix subscription
 *   concurrency: 4         ordered shards
 *   engineType: "vllm"     only vLLM's wire format is implemented
 *   discoverPods: true     per-endpoint mode: one SUB per pod, connecting to tcp://<podIP>:<socketPort>
 *   podDiscoveryConfig: { podLabelSelector: "llm-d.ai/inference-serving=true", podNamespace: "", socketPort: 5557 }
 */

export interface PodDiscoveryConfig {
  podLabelSelector: string;
  podNamespace: string;
  socketPort: number;
}

export interface KvEventsConfig {
  zmqEndpoint: string;
  topicFilter: string;
  concurrency: number;
  engineType: 'vllm';
  discoverPods: boolean;
  podDiscoveryConfig: PodDiscoveryConfig;
}

export function defaultKvEventsConfig(): KvEventsConfig {
  return {
    zmqEndpoint: '',
    topicFilter: 'kv@',
    concurrency: 4,
    engineType: 'vllm',
    discoverPods: true,
    podDiscoveryConfig: { podLabelSelector: 'llm-d.ai/inference-serving=true', podNamespace: '', socketPort: 5557 },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function expect<T>(value: unknown, check: (v: unknown) => v is T, path: string, what: string): T {
  if (!check(value)) throw new Error(`${path} must be ${what}, got ${JSON.stringify(value)}`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';
const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isPort = (v: unknown): v is number => isPositiveInt(v) && v < 65536;

/** Validates and merges over the defaults; errors name the YAML path. */
export function resolveKvEventsConfig(raw: unknown, path = 'kvEventsConfig'): KvEventsConfig {
  const config = defaultKvEventsConfig();
  if (raw === undefined || raw === null) return config;
  if (!isRecord(raw)) throw new Error(`${path} must be a mapping`);
  for (const [key, value] of Object.entries(raw)) {
    const at = `${path}.${key}`;
    switch (key) {
      case 'zmqEndpoint':
        config.zmqEndpoint = expect(value, isString, at, 'a string');
        break;
      case 'topicFilter':
        config.topicFilter = expect(value, isString, at, 'a string');
        break;
      case 'concurrency':
        config.concurrency = expect(value, isPositiveInt, at, 'a positive integer');
        break;
      case 'engineType':
        if (value !== 'vllm') throw new Error(`${at}: only "vllm" is supported, got ${JSON.stringify(value)}`);
        break;
      case 'discoverPods':
        config.discoverPods = expect(value, isBoolean, at, 'a boolean');
        break;
      case 'podDiscoveryConfig': {
        if (value === null) break;
        if (!isRecord(value)) throw new Error(`${at} must be a mapping`);
        const pods = config.podDiscoveryConfig;
        for (const [field, fieldValue] of Object.entries(value)) {
          const fieldAt = `${at}.${field}`;
          if (field === 'podLabelSelector') pods.podLabelSelector = expect(fieldValue, isString, fieldAt, 'a string');
          else if (field === 'podNamespace') pods.podNamespace = expect(fieldValue, isString, fieldAt, 'a string');
          else if (field === 'socketPort') pods.socketPort = expect(fieldValue, isPort, fieldAt, 'a port number');
          else throw new Error(`${fieldAt} is not a known field`);
        }
        break;
      }
      default:
        throw new Error(`${at} is not a known field`);
    }
  }
  return config;
}
