/**
 * Where the precise scorer's KV events come from:
 *
 *  - `global`: `zmqEndpoint` set → one SUB bound there (e.g. `tcp://*:5557`); pods' PUBs connect.
 *  - `per-endpoint`: no `zmqEndpoint` and `discoverPods: true` (the default) → one SUB per pod
 *    address, connecting to `tcp://<address>:<podDiscoveryConfig.socketPort>` (5557). The pod set
 *    is the EPP's own endpoint set (InferencePool or static file), followed by polling
 *    `endpoints()` — on every request and once a second — and comparing array identity (the
 *    endpoint store replaces the array only when membership changes). Endpoints sharing an
 *    address (data-parallel ranks of one pod) share one socket. An empty set is "not known
 *    yet" (discovery resyncing) and keeps the current sockets. `podLabelSelector` and
 *    `podNamespace` are accepted and not used: the endpoint set is already the pool's pods.
 *    Under an `endpoint-notification-source` (`follow()`), the set comes from its events instead:
 *    no polling, and an empty set closes every socket (the events are authoritative).
 *  - `off`: no `zmqEndpoint` and `discoverPods: false` → no sockets; the index is only read (an
 *    EPP replica over a Redis index that another replica, or a per-pod subscriber, fills).
 */
import type { Logger } from '../../../src/log.js';
import type { Endpoint } from '../../framework/endpoint.js';
import type { KvEventsConfig } from '../events/config.js';
import { podEventsEndpoint, type KvEventSubscriber } from '../events/subscriber.js';

export type EventSourceMode = 'global' | 'per-endpoint' | 'off';

export function eventSourceMode(config: KvEventsConfig): EventSourceMode {
  if (config.zmqEndpoint !== '') return 'global';
  return config.discoverPods ? 'per-endpoint' : 'off';
}

export interface EventSourcesOptions {
  config: KvEventsConfig;
  subscriber: KvEventSubscriber;
  endpoints: () => readonly Endpoint[];
  /** Background poll of the endpoint set in per-endpoint mode (default 1000 ms; 0 = only on sync()). */
  pollIntervalMs?: number;
  logger?: Logger;
}

export class KvEventSources {
  readonly mode: EventSourceMode;
  private readonly options: EventSourcesOptions;
  private endpoints: () => readonly Endpoint[];
  private followed = false;
  private seen: readonly Endpoint[] | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: EventSourcesOptions) {
    this.options = options;
    this.mode = eventSourceMode(options.config);
    this.endpoints = options.endpoints;
  }

  /** Takes the endpoint set from lifecycle events from now on (stops polling). */
  follow(endpoints: () => readonly Endpoint[]): void {
    this.stop();
    this.endpoints = endpoints;
    this.followed = true;
    this.seen = undefined;
    this.sync();
  }

  /** Binds (global) or connects to the current endpoints (per-endpoint). Returns the bound address in global mode. */
  async start(): Promise<string | undefined> {
    if (this.mode === 'global') return this.options.subscriber.bind(this.options.config.zmqEndpoint);
    if (this.mode === 'per-endpoint') {
      this.sync();
      const interval = this.options.pollIntervalMs ?? 1000;
      if (interval > 0 && !this.followed) {
        this.timer = setInterval(() => {
          // A timer callback that throws would end the process: log and try again next tick.
          try {
            this.sync();
          } catch (err) {
            this.options.logger?.error({ err: (err as Error).message }, 'kv events: following the endpoint set failed');
          }
        }, interval);
        this.timer.unref();
      }
    }
    return undefined;
  }

  /** Per-endpoint mode: follows a changed endpoint set (cheap when unchanged). */
  sync(): void {
    if (this.mode !== 'per-endpoint') return;
    const current = this.endpoints();
    if (current === this.seen) return;
    if (current.length === 0 && !this.followed) {
      this.seen = current;
      return;
    }
    const port = this.options.config.podDiscoveryConfig.socketPort;
    const wanted = new Map(current.map((endpoint) => [endpoint.address, podEventsEndpoint(endpoint.address, port)]));
    const { subscriber } = this.options;
    for (const [name, address] of wanted) subscriber.setEndpoint(name, address);
    for (const name of subscriber.endpoints().keys()) if (!wanted.has(name)) subscriber.removeEndpoint(name);
    this.seen = current; // only once applied: a sync that threw is tried again
    this.options.logger?.debug({ pods: [...wanted.values()] }, 'kv events: following the endpoint set');
  }

  /** Stops polling; the subscriber (and its sockets) belongs to the caller. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
