/**
 * ZeroMQ SUB side of vLLM KV events, in both modes:
 *
 *  - global: `bind(kvEventsConfig.zmqEndpoint)` — one SUB bound (e.g. `tcp://*:5557`); every pod's
 *    PUB connects to it. Simple, but each pod's events reach only the replica it connected to.
 *  - per endpoint (`discoverPods`): `setEndpoint(name, tcp://<podIP>:5557)` — one SUB per pod that
 *    connects to the pod's bound PUB; every EPP replica sees every event. Keyed by endpoint name:
 *    the same address again is a no-op, a new address replaces the socket, `removeEndpoint` closes it.
 *
 * Each message must be 3 frames `[topic, seq (8-byte BE uint64), payload]`; anything else is
 * dropped and counted. Sequence numbers are passed on for logs only (no gap detection, as upstream).
 * ZeroMQ reconnects connected sockets by itself; a connect that throws (bad address) is retried
 * every `retryIntervalMs`. Every socket and timer belongs to this object and ends with `close()`.
 *
 * A message larger than `maxMessageBytes` (default 32 MiB) is refused by ZeroMQ itself, which
 * drops the connection to that peer before reading it into memory (its events in flight are lost,
 * as on any reconnect). A connecting PUB (global mode) reconnects by itself; a connecting SUB (per
 * endpoint) does not after such a drop, so `watchDisconnects` replaces its socket. vLLM publishes
 * one batch per scheduler step, ~5 bytes per token id: 32 MiB holds the blocks of some 6 M tokens
 * stored in one step.
 */
import { Context, Subscriber } from 'zeromq';
import type { Logger } from '../../../src/log.js';
import type { KvCacheMetrics } from '../index/metrics.js';
import type { RawKvMessage } from './types.js';

export interface KvEventSubscriberOptions {
  /** Called for every well-formed message, in arrival order per socket. Must not throw (errors are logged). */
  onMessage: (message: RawKvMessage) => void;
  /** ZMQ prefix subscription (`kvEventsConfig.topicFilter`, default "kv@"). */
  topicFilter?: string;
  /** Delay before retrying a connect that failed outright (default 5000 ms). */
  retryIntervalMs?: number;
  /** Largest message accepted (ZMQ_MAXMSGSIZE; default 32 MiB); a larger one drops its peer's connection. */
  maxMessageBytes?: number;
  metrics?: KvCacheMetrics;
  logger?: Logger;
}

export const DEFAULT_MAX_KV_MESSAGE_BYTES = 32 * 1024 * 1024;

/**
 * Sockets in the subscriber's own ZeroMQ context: three per followed pod (the SUB and the two
 * behind its event observer), so ~5 400 pods; ZeroMQ's default context stops at 1 023.
 */
const MAX_SOCKETS = 16_384;

export const GLOBAL_SOURCE = 'global';

/** `tcp://<ip>:<port>` for a pod's KV-event PUB (`podDiscoveryConfig.socketPort`, default 5557); IPv6 bracketed. */
export function podEventsEndpoint(ip: string, port = 5557): string {
  const host = ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
  return `tcp://${host}:${port}`;
}

interface Channel {
  readonly endpoint: string;
  socket: Subscriber | undefined;
  loop: Promise<void> | undefined;
  retry: NodeJS.Timeout | undefined;
}

export class KvEventSubscriber {
  private readonly onMessage: (message: RawKvMessage) => void;
  private readonly topicFilter: string;
  private readonly retryIntervalMs: number;
  private readonly maxMessageBytes: number;
  private readonly metrics: KvCacheMetrics | undefined;
  private readonly logger: Logger | undefined;
  private global: Channel | undefined;
  private readonly channels = new Map<string, Channel>();
  private closed = false;
  /** Every socket of this subscriber lives here (released with them). */
  private readonly context = new Context({ maxSockets: MAX_SOCKETS });

  constructor(options: KvEventSubscriberOptions) {
    this.onMessage = options.onMessage;
    this.topicFilter = options.topicFilter ?? 'kv@';
    this.retryIntervalMs = options.retryIntervalMs ?? 5000;
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_KV_MESSAGE_BYTES;
    this.metrics = options.metrics;
    this.logger = options.logger;
  }

  /** Global mode: binds one SUB (more calls add endpoints to it). Returns the bound address (port resolved). */
  async bind(endpoint: string): Promise<string> {
    if (this.closed) throw new Error('KvEventSubscriber is closed');
    if (this.global === undefined) {
      const socket = this.newSocket();
      this.global = { endpoint, socket, loop: undefined, retry: undefined };
      this.global.loop = this.receive(socket, GLOBAL_SOURCE);
    }
    const socket = this.global.socket!;
    await socket.bind(endpoint);
    this.logger?.info({ endpoint: socket.lastEndpoint }, 'kv events: SUB bound');
    return socket.lastEndpoint ?? endpoint;
  }

  /** Per-endpoint mode: connect to `endpoint` under `name`; same address = no-op, new address = replace. */
  setEndpoint(name: string, endpoint: string): void {
    if (this.closed) throw new Error('KvEventSubscriber is closed');
    const existing = this.channels.get(name);
    if (existing?.endpoint === endpoint) return;
    if (existing !== undefined) this.shut(existing);
    const channel: Channel = { endpoint, socket: undefined, loop: undefined, retry: undefined };
    this.channels.set(name, channel);
    this.connect(name, channel);
  }

  /** Closes the endpoint's socket; unknown names are ignored. */
  removeEndpoint(name: string): void {
    const channel = this.channels.get(name);
    if (channel === undefined) return;
    this.channels.delete(name);
    this.shut(channel);
  }

  /** Endpoint name → address, per-endpoint mode. */
  endpoints(): ReadonlyMap<string, string> {
    return new Map([...this.channels].map(([name, channel]) => [name, channel.endpoint]));
  }

  /** Closes every socket and retry timer, then waits for the receive loops to end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const channels = [...this.channels.values(), ...(this.global === undefined ? [] : [this.global])];
    this.channels.clear();
    this.global = undefined;
    const loops = channels.map((channel) => this.shut(channel));
    await Promise.all(loops);
  }

  private newSocket(): Subscriber {
    // linger 0: a closing SUB has nothing worth flushing; without it close could wait on the network.
    const socket = new Subscriber({ context: this.context, linger: 0, maxMessageSize: this.maxMessageBytes });
    socket.subscribe(this.topicFilter);
    return socket;
  }

  private connect(name: string, channel: Channel): void {
    let socket: Subscriber | undefined;
    try {
      socket = this.newSocket(); // fails when the process is out of file descriptors
      socket.connect(channel.endpoint);
      this.watchDisconnects(name, channel, socket);
    } catch (err) {
      socket?.close();
      this.logger?.warn({ endpoint: channel.endpoint, name, err: (err as Error).message }, 'kv events: connect failed, will retry');
      channel.retry = setTimeout(() => {
        channel.retry = undefined;
        if (this.channels.get(name) === channel) this.connect(name, channel);
      }, this.retryIntervalMs);
      channel.retry.unref();
      return;
    }
    channel.socket = socket;
    channel.loop = this.receive(socket, name);
    this.logger?.info({ endpoint: channel.endpoint, name }, 'kv events: SUB connected');
  }

  /**
   * ZeroMQ reconnects a connected socket after the peer goes away, but not after it dropped the
   * connection itself over a protocol error — a message past maxMessageBytes — which would leave
   * the pod's events cut off for good. So a disconnect not followed by a connect within
   * `retryIntervalMs` replaces the socket. (The socket's event observer ends with the socket.)
   */
  private watchDisconnects(name: string, channel: Channel, socket: Subscriber): void {
    const current = (): boolean => this.channels.get(name) === channel && channel.socket === socket;
    socket.events.on('connect', () => {
      if (!current() || channel.retry === undefined) return;
      clearTimeout(channel.retry);
      channel.retry = undefined;
    });
    socket.events.on('disconnect', () => {
      if (!current() || channel.retry !== undefined) return;
      channel.retry = setTimeout(() => {
        channel.retry = undefined;
        if (!current()) return;
        this.logger?.warn({ endpoint: channel.endpoint, name, maxMessageBytes: this.maxMessageBytes }, 'kv events: connection lost and not re-established (the pod is away, or ZeroMQ dropped it over a message past maxMessageBytes); opening a new socket');
        socket.close();
        channel.socket = undefined;
        this.connect(name, channel);
      }, this.retryIntervalMs);
      channel.retry.unref();
    });
  }

  /** Closes a channel's socket and timer; resolves when its loop has ended. */
  private shut(channel: Channel): Promise<void> {
    if (channel.retry !== undefined) clearTimeout(channel.retry);
    channel.retry = undefined;
    if (channel.socket !== undefined && !channel.socket.closed) channel.socket.close();
    channel.socket = undefined;
    return channel.loop ?? Promise.resolve();
  }

  private async receive(socket: Subscriber, source: string): Promise<void> {
    try {
      for await (const frames of socket) this.handle(frames, source);
    } catch (err) {
      if (!socket.closed) this.logger?.error({ source, err: (err as Error).message }, 'kv events: receive failed');
    }
  }

  private handle(frames: Buffer[], source: string): void {
    this.metrics?.messagesReceived.inc();
    if (frames.length !== 3) {
      this.metrics?.dropped('bad_frames');
      this.logger?.debug({ source, frames: frames.length }, 'kv events: expected 3 frames');
      return;
    }
    const [topic, seq, payload] = frames as [Buffer, Buffer, Buffer];
    if (seq.length !== 8) {
      this.metrics?.dropped('bad_sequence');
      this.logger?.debug({ source, bytes: seq.length }, 'kv events: sequence frame is not 8 bytes');
      return;
    }
    try {
      this.onMessage({ topic: topic.toString('utf8'), seq: seq.readBigUInt64BE(0), payload, source });
    } catch (err) {
      this.logger?.error({ source, err: (err as Error).message }, 'kv events: message handler failed');
    }
  }
}
