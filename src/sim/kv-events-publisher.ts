/**
 * Publishes the simulator's KV-cache events over ZeroMQ the way vLLM does, so the
 * EPP's precise prefix-cache index can follow a fleet of simulators.
 *
 *  - Socket: PUB that connects to the indexer's bound SUB (ZeroMQ retries every `reconnectIntervalMs`,
 *    default 1 s, until it is up), or binds (`bind: true`) for the indexer's per-pod connect mode.
 *  - Message: 3 frames — topic `kv@<POD_IP>:<port>@<model>`, sequence (8-byte BE uint64, 1 for the
 *    first batch, +1 per batch), msgpack payload `[ts float64, events, data_parallel_rank]`.
 *  - Batching: a batch goes out when `eventBatchSize` (16) events are pending, or `flushIntervalMs`
 *    (1 s) after the previous batch; close() drops what is pending, like the simulator's shutdown.
 *  - Events: legacy positional arrays (default; nil placeholders keep positions fixed) or vLLM's
 *    newer map form (`encoding: 'map'`, tag under "type", absent optional keys omitted).
 *  - Hashes are BigInt and always encoded as msgpack uint64 (0xcf), so values ≥ 2^63 stay unsigned
 *    (@msgpack/msgpack with `useBigInt64` encodes every non-negative bigint that way).
 */
import { Encoder } from '@msgpack/msgpack';
import { Publisher } from 'zeromq';
import type { Logger } from '../log.js';
import type { AllBlocksClearedEvent, BlockRemovedEvent, BlockStoredEvent, KvEvent, KvEventSink } from './kv-events.js';

export type KvEventEncoding = 'positional' | 'map';

export interface KvEventPublisherOptions {
  /** `tcp://host:port` to connect to, or to bind with `bind: true` (`tcp://*:5557`, `tcp://127.0.0.1:*`). */
  endpoint: string;
  /** Full topic, see `kvEventsTopic`. */
  topic: string;
  bind?: boolean;
  eventBatchSize?: number;
  flushIntervalMs?: number;
  encoding?: KvEventEncoding;
  dataParallelRank?: number;
  reconnectIntervalMs?: number;
  logger?: Logger;
}

/** `kv@<ip>:<port>@<model>` — the pod id must be the serving `ip:port` the EPP scores (IPv6 bracketed). */
export function kvEventsTopic(podIp: string, servingPort: number, model: string): string {
  const host = podIp.includes(':') && !podIp.startsWith('[') ? `[${podIp}]` : podIp;
  return `kv@${host}:${servingPort}@${model}`;
}

const encoder = new Encoder({ useBigInt64: true });

function positional(event: KvEvent): unknown[] {
  switch (event.type) {
    case 'BlockStored':
      return ['BlockStored', event.blockHashes, event.parentBlockHash ?? 0n, event.tokenIds, event.blockSize, event.loraId, event.medium, event.loraName];
    case 'BlockRemoved':
      return ['BlockRemoved', event.blockHashes, event.medium];
    case 'AllBlocksCleared':
      return ['AllBlocksCleared'];
  }
}

function mapped(event: KvEvent): Record<string, unknown> {
  switch (event.type) {
    case 'BlockStored': {
      const fields: Record<string, unknown> = {
        type: 'BlockStored',
        block_hashes: event.blockHashes,
        parent_block_hash: event.parentBlockHash,
        token_ids: event.tokenIds,
        block_size: event.blockSize,
      };
      if (event.loraId !== null) fields.lora_id = event.loraId;
      fields.medium = event.medium;
      if (event.loraName !== null) fields.lora_name = event.loraName;
      return fields;
    }
    case 'BlockRemoved':
      return { type: 'BlockRemoved', block_hashes: event.blockHashes, medium: event.medium };
    case 'AllBlocksCleared':
      return { type: 'AllBlocksCleared' };
  }
}

/** The msgpack payload `[ts, events, rank]`; ts is written as float64 even when it is a whole number. */
export function encodeEventBatch(ts: number, events: readonly KvEvent[], dataParallelRank: number, encoding: KvEventEncoding): Uint8Array {
  const body = encoder.encode(events.map((event): unknown => (encoding === 'map' ? mapped(event) : positional(event))));
  const rank = encoder.encode(dataParallelRank);
  const out = new Uint8Array(1 + 9 + body.length + rank.length);
  out[0] = 0x93; // fixarray of 3
  out[1] = 0xcb; // float64
  new DataView(out.buffer).setFloat64(2, ts);
  out.set(body, 10);
  out.set(rank, 10 + body.length);
  return out;
}

export class ZmqKvEventPublisher implements KvEventSink {
  private readonly socket: Publisher;
  private readonly topic: string;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly encoding: KvEventEncoding;
  private readonly rank: number;
  private readonly logger: Logger | undefined;
  private pending: KvEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastFlushAt = Date.now();
  private sequence = 0n;
  private sending: Promise<void> = Promise.resolve();
  private closed = false;
  /** The address bound or connected to (bind: the resolved port). */
  readonly endpoint: string;

  private constructor(options: KvEventPublisherOptions, socket: Publisher, endpoint: string) {
    this.socket = socket;
    this.endpoint = endpoint;
    this.topic = options.topic;
    this.batchSize = options.eventBatchSize ?? 16;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.encoding = options.encoding ?? 'positional';
    this.rank = options.dataParallelRank ?? 0;
    this.logger = options.logger;
    if (!Number.isInteger(this.batchSize) || this.batchSize <= 0) throw new RangeError(`eventBatchSize ${this.batchSize} must be a positive integer`);
  }

  /** Creates the PUB and binds (awaits the bind) or connects (returns at once; ZeroMQ dials in the background). */
  static async open(options: KvEventPublisherOptions): Promise<ZmqKvEventPublisher> {
    // linger 0: pending events are dropped at shutdown anyway; do not hold close() on the network.
    const socket = new Publisher({ linger: 0, reconnectInterval: options.reconnectIntervalMs ?? 1000 });
    try {
      if (options.bind === true) await socket.bind(options.endpoint);
      else socket.connect(options.endpoint);
    } catch (err) {
      socket.close();
      throw new Error(`kv events: cannot ${options.bind === true ? 'bind' : 'connect'} ${options.endpoint}: ${(err as Error).message}`);
    }
    const endpoint = options.bind === true ? (socket.lastEndpoint ?? options.endpoint) : options.endpoint;
    options.logger?.info({ endpoint, topic: options.topic, bind: options.bind === true }, 'kv events: publisher ready');
    return new ZmqKvEventPublisher(options, socket, endpoint);
  }

  /** Sequence number of the last batch sent (0 before the first). */
  get lastSequence(): bigint {
    return this.sequence;
  }

  get pendingEvents(): number {
    return this.pending.length;
  }

  blockStored(event: BlockStoredEvent): void {
    this.enqueue(event);
  }

  blockRemoved(event: BlockRemovedEvent): void {
    this.enqueue(event);
  }

  allCleared(): void {
    const event: AllBlocksClearedEvent = { type: 'AllBlocksCleared' };
    this.enqueue(event);
  }

  /** Sends what is pending as one batch now (no-op when nothing is). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.closed || this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    this.lastFlushAt = Date.now();
    this.sequence += 1n;
    const seq = Buffer.alloc(8);
    seq.writeBigUInt64BE(this.sequence);
    const payload = encodeEventBatch(Date.now() / 1000, events, this.rank, this.encoding);
    const frames = [this.topic, seq, payload];
    // zeromq allows one send in flight per socket; PUB never blocks, so the chain stays short.
    this.sending = this.sending
      .then(() => this.socket.send(frames))
      .catch((err: unknown) => {
        if (!this.closed) this.logger?.warn({ err: (err as Error).message }, 'kv events: send failed');
      });
  }

  /** Drops pending events, stops the timer and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
    this.socket.close();
    await this.sending;
  }

  private enqueue(event: KvEvent): void {
    if (this.closed) return;
    this.pending.push(event);
    if (this.pending.length >= this.batchSize) {
      this.flush();
      return;
    }
    if (this.timer === undefined) {
      const delay = Math.max(0, this.lastFlushAt + this.flushIntervalMs - Date.now());
      this.timer = setTimeout(() => this.flush(), delay);
    }
  }
}
