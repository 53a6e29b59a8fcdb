/**
 * The endpoint set as endpoint lifecycle events describe it (endpoint-notification-source), for
 * the precise prefix cache's per-endpoint KV-event sockets. `list()` is a stable snapshot whose
 * identity changes only when membership changes (what KvEventSources.sync compares).
 */
import type { EndpointEvent } from '../../datalayer/endpoint-events.js';
import type { Endpoint } from '../../framework/endpoint.js';

export class FollowedEndpoints {
  private readonly byName = new Map<string, Endpoint>();
  private snapshot: readonly Endpoint[] = Object.freeze([]);

  readonly list = (): readonly Endpoint[] => this.snapshot;

  /**
   * Applies one event. Returns the `ip:port` pods whose last endpoint left (or moved away) with
   * it: their index entries are to be cleared.
   */
  apply(event: EndpointEvent): string[] {
    const previous = this.byName.get(event.endpoint.name);
    if (event.type === 'delete') {
      if (previous === undefined) return [];
      this.byName.delete(event.endpoint.name);
    } else {
      if (previous === event.endpoint) return [];
      this.byName.set(event.endpoint.name, event.endpoint);
    }
    this.snapshot = Object.freeze([...this.byName.values()]);
    if (previous === undefined) return [];
    if (event.type === 'addOrUpdate' && previous.hostPort === event.endpoint.hostPort) return [];
    return this.snapshot.some((endpoint) => endpoint.hostPort === previous.hostPort) ? [] : [previous.hostPort];
  }
}
