/**
 * The endpoint set the EPP schedules over. Sources (static file, Kubernetes) replace the set;
 * the metrics scraper updates metrics in place. Readers get a stable array snapshot that only
 * changes identity when membership changes.
 */
import { emptyMetrics, joinHostPort, type Endpoint, type EndpointMetrics } from '../framework/endpoint.js';

export interface EndpointSpec {
  name: string;
  namespace?: string;
  address: string;
  port: number;
  labels?: Record<string, string>;
  /** host:port for /metrics; defaults to address:port. */
  metricsHost?: string;
}

class StoredEndpoint implements Endpoint {
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
  readonly port: number;
  readonly hostPort: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly metricsHost: string;
  metrics: EndpointMetrics = emptyMetrics();

  constructor(spec: EndpointSpec) {
    this.name = spec.name;
    this.namespace = spec.namespace ?? 'default';
    this.address = spec.address;
    this.port = spec.port;
    this.hostPort = joinHostPort(spec.address, spec.port);
    this.labels = Object.freeze({ ...spec.labels });
    this.metricsHost = spec.metricsHost ?? this.hostPort;
  }

  sameAs(spec: EndpointSpec): boolean {
    const labels = spec.labels ?? {};
    const keys = Object.keys(labels);
    return this.address === spec.address && this.port === spec.port && this.namespace === (spec.namespace ?? 'default')
      && this.metricsHost === (spec.metricsHost ?? joinHostPort(spec.address, spec.port))
      && keys.length === Object.keys(this.labels).length && keys.every((k) => this.labels[k] === labels[k]);
  }
}

export type EndpointListener = (endpoints: readonly Endpoint[]) => void;

export class EndpointStore {
  private byName = new Map<string, StoredEndpoint>();
  private snapshot: readonly Endpoint[] = [];
  private readonly listeners = new Set<EndpointListener>();
  /** False until a source has delivered its first set (an unsynced pool serves nothing). */
  synced = false;

  list(): readonly Endpoint[] {
    return this.snapshot;
  }

  get(name: string): Endpoint | undefined {
    return this.byName.get(name);
  }

  /** Replaces the whole set; unchanged endpoints keep their object (and metrics). */
  replaceAll(specs: readonly EndpointSpec[]): void {
    const next = new Map<string, StoredEndpoint>();
    let changed = specs.length !== this.byName.size;
    for (const spec of specs) {
      const existing = this.byName.get(spec.name);
      if (existing && existing.sameAs(spec)) next.set(spec.name, existing);
      else {
        next.set(spec.name, new StoredEndpoint(spec));
        changed = true;
      }
    }
    this.synced = true;
    if (!changed) return;
    this.byName = next;
    this.snapshot = Object.freeze([...next.values()]);
    for (const listener of this.listeners) listener(this.snapshot);
  }

  updateMetrics(name: string, metrics: EndpointMetrics): void {
    const endpoint = this.byName.get(name);
    if (endpoint) endpoint.metrics = metrics;
  }

  /** Subscribes to membership changes; returns the unsubscribe function. */
  onChange(listener: EndpointListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
