/**
 * `endpoint-notification-source`: llm-d Router's endpoint lifecycle source. It turns the endpoint
 * store's membership changes into events and passes each one, unchanged, to every extractor
 * listed under it in `dataLayer.sources[].extractors`.
 *
 * Events: at start, `addOrUpdate` for each endpoint already in the pool; then on every change of
 * the set (Kubernetes pool or static file), `delete` for each endpoint that left (the object the
 * extractors saw before), then `addOrUpdate` for each one that joined or changed (new address,
 * port or labels), keyed by endpoint name. An extractor that throws is logged; the others still
 * get the event.
 *
 * Extractors (each must implement endpoint events, else start-up fails at the YAML path):
 * `precise-prefix-cache-producer` / `precise-prefix-cache-scorer` (with per-endpoint KV events:
 * subscribe to a new pod's socket, close a removed pod's socket and clear its index entries) and
 * `mm-embeddings-cache-producer` (forget a removed pod's encoder cache) and `inflight-load-producer`
 * (drop a removed pod's counters).
 *
 * Parameters: none. A declared source not listed under `dataLayer.sources`, or listed without
 * extractors, fails start-up (it would do nothing).
 *
 * ```yaml
 * plugins:
 * - type: endpoint-notification-source
 * - type: precise-prefix-cache-producer
 * dataLayer:
 *   sources:
 *   - pluginRef: endpoint-notification-source
 *     extractors: [{pluginRef: precise-prefix-cache-producer}]
 * ```
 */
import type { Logger } from '../../../src/log.js';
import { diffEndpoints, type EndpointChanges, type EndpointEvent, type EndpointExtractor } from '../../datalayer/endpoint-events.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { Plugin } from '../../framework/plugins.js';
import type { PluginFactory } from '../../framework/registry.js';

export const ENDPOINT_NOTIFICATION_SOURCE_TYPE = 'endpoint-notification-source';

export class EndpointNotificationSource implements Plugin {
  readonly type = ENDPOINT_NOTIFICATION_SOURCE_TYPE;
  private readonly extractors: EndpointExtractor[] = [];
  private known = new Map<string, Endpoint>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    readonly name: string,
    private readonly endpoints: () => readonly Endpoint[],
    private readonly changes: EndpointChanges,
    private readonly logger: Logger,
  ) {}

  get extractorCount(): number {
    return this.extractors.length;
  }

  attachEndpointExtractor(extractor: EndpointExtractor): void {
    this.extractors.push(extractor);
    extractor.followEndpointEvents?.();
  }

  /** Announces the current set, then follows changes until close(). */
  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.changes((endpoints) => this.update(endpoints));
    this.update(this.endpoints());
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private update(endpoints: readonly Endpoint[]): void {
    const events = diffEndpoints(this.known, endpoints);
    this.known = new Map(endpoints.map((endpoint) => [endpoint.name, endpoint]));
    for (const event of events) this.dispatch(event);
  }

  private dispatch(event: EndpointEvent): void {
    for (const extractor of this.extractors) {
      try {
        extractor.extractEndpoint(event);
      } catch (err) {
        this.logger.warn({ err: (err as Error).message, extractor: extractor.name, endpoint: event.endpoint.name, event: event.type }, 'endpoint extractor failed');
      }
    }
  }
}

export const isEndpointNotificationSource = (plugin: Plugin): plugin is EndpointNotificationSource => plugin instanceof EndpointNotificationSource;

export const endpointNotificationSourceFactory: PluginFactory = (name, _parameters, handle) =>
  new EndpointNotificationSource(name, () => handle.endpoints(), handle.endpointChanges ?? (() => () => undefined), handle.logger);
