/**
 * Endpoint lifecycle events (llm-d Router's `EndpointEvent`): an endpoint joined the pool or
 * changed (`addOrUpdate`), or left it (`delete`). `endpoint-notification-source` derives them from
 * the endpoint store's membership changes and hands them to the extractors listed under it in
 * `dataLayer.sources[].extractors` (e.g. the precise prefix-cache producer, which subscribes to a
 * new pod's KV-event socket and forgets a removed pod's blocks).
 */
import type { Endpoint } from '../framework/endpoint.js';
import type { Plugin } from '../framework/plugins.js';

export type { EndpointChanges } from '../framework/registry.js';

export type EndpointEventType = 'addOrUpdate' | 'delete';

export interface EndpointEvent {
  readonly type: EndpointEventType;
  /** For `delete`, the object that was in the set (the same one the earlier `addOrUpdate` carried). */
  readonly endpoint: Endpoint;
}

/** A plugin that reacts to endpoint lifecycle events (listed under an endpoint-notification-source). */
export interface EndpointExtractor extends Plugin {
  extractEndpoint(event: EndpointEvent): void;
  /** Called once when wired to a source, before any event: the extractor now learns the set from events. */
  followEndpointEvents?(): void;
}

export const isEndpointExtractor = (p: Plugin): p is EndpointExtractor =>
  typeof (p as Partial<EndpointExtractor>).extractEndpoint === 'function';

/**
 * The events that turn `before` into `after`, keyed by endpoint name: deletes first (in `before`
 * order), then adds and updates (in `after` order). An endpoint whose object changed (the store
 * builds a new object when address, port or labels change) is an update.
 */
export function diffEndpoints(before: ReadonlyMap<string, Endpoint>, after: readonly Endpoint[]): EndpointEvent[] {
  const events: EndpointEvent[] = [];
  const names = new Set(after.map((endpoint) => endpoint.name));
  for (const [name, endpoint] of before) if (!names.has(name)) events.push({ type: 'delete', endpoint });
  for (const endpoint of after) if (before.get(endpoint.name) !== endpoint) events.push({ type: 'addOrUpdate', endpoint });
  return events;
}
