/**
 * The index in Redis or Valkey, so that
 * several EPP replicas share one view of the fleet's caches.
 *
 * Key schema (llm-d's, KVC-0.8):
 *   <decimal request key>          HASH, one field per holder `<pod>@<tier>` (`[speculative]`
 *                                  suffix for guesses), empty values. No TTLs.
 *   engine:<pod>:<decimal engine>  ZSET of decimal request keys, score = position in the chain
 *                                  (the highest score continues a chain).
 * The engine key carries the pod because our engine map is per pod (types.ts). llm-d writes
 * `engine:<decimal>` (one colon); ours always has the pod's `ip:port` in between, so the two never
 * collide: a Go EPP and pd-router sharing one Redis agree on request keys and lookups, and each
 * keeps its own engine mappings. Use a dedicated database: `size()` and `clear()` SCAN it.
 *
 * Writes are pipelined (one round trip per add); evictions that must check-then-delete run as Lua.
 *
 * While the server is away or silent nothing waits for it (node-redis would queue every command
 * until it reconnects, and wait for ever on a connection that stopped answering; the KV-event
 * shards would stall behind their pending writes): every operation runs through a RedisGuard
 * (`redis-guard.ts`: refused while reconnecting or while an earlier one is overdue, bounded
 * commands awaiting answers, COMMAND_TIMEOUT_MS per operation), and a connection with no traffic
 * for SOCKET_IDLE_TIMEOUT_MS — with a PING every PING_INTERVAL_MS, only a silent server gets there
 * — is replaced. The callers count the failures (kv events: `index_error` drops; lookups: scored
 * without precise prefix) and carry on; once the server answers again, so does the index.
 */
import { createClient, type RedisClientOptions } from 'redis';
import { settleWithin } from '../../../src/deadline.js';
import type { Logger } from '../../../src/log.js';
import { RedisGuard } from './redis-guard.js';
import { CLEAR_POD_FROM_KEYS, EVICT_BY_ENGINE_KEY, type LuaScript } from './redis-scripts.js';
import {
  engineMapping,
  parsePodEntryField,
  podEntryField,
  singlePod,
  validateAdd,
  type BlockKey,
  type KeyType,
  type KvBlockIndex,
  type PodEntry,
} from './types.js';

export interface RedisIndexConfig {
  /** `redis://`, `rediss://`, `valkey://`, `valkeys://`, `unix:///path.sock`, or bare `host:port`. */
  address: string;
  /** "redis" | "valkey" — only used in messages (the protocols are the same). */
  backendType?: string;
  /** Accepted for llm-d config compatibility; RDMA is not available from Node, TCP is used. */
  enableRDMA?: boolean;
}


/** Lookups pipeline this many HKEYS per round trip, so a long prompt with a short match stops early. */
const LOOKUP_CHUNK = 256;
const SCAN_COUNT = 1000;
/** An operation (command, pipeline, scan step) not answered within this fails. */
const COMMAND_TIMEOUT_MS = 5000;
/**
 * Commands awaiting an answer at most (one 4096-block event's add is ~8k); an operation that would
 * pass it is refused whole. Bounds the memory a slow server can make the EPP hold.
 */
const MAX_PENDING_COMMANDS = 100_000;
/** Keeps a healthy idle connection busy, so that only a silent one reaches the idle timeout. */
const PING_INTERVAL_MS = 1000;
/** A connection with nothing read or written for this long is closed and replaced. */
const SOCKET_IDLE_TIMEOUT_MS = 5000;

/** Client options from an llm-d address (valkey schemes are Redis protocol; bare host:port gets redis://). */
export function redisClientOptions(address: string): RedisClientOptions {
  const trimmed = address.trim();
  if (trimmed.startsWith('unix://')) {
    const url = new URL(trimmed);
    const db = url.searchParams.get('db');
    const path = decodeURIComponent(url.host !== '' ? `/${url.host}${url.pathname}` : url.pathname);
    const socket = { path, tls: false as const };
    return db === null ? { socket } : { socket, database: Number(db) };
  }
  if (trimmed.startsWith('valkey://')) return { url: `redis://${trimmed.slice('valkey://'.length)}` };
  if (trimmed.startsWith('valkeys://')) return { url: `rediss://${trimmed.slice('valkeys://'.length)}` };
  if (trimmed.startsWith('redis://') || trimmed.startsWith('rediss://')) return { url: trimmed };
  return { url: `redis://${trimmed}` };
}

/**
 * A client that fails fast when the server cannot be reached at start-up (node-redis would retry
 * forever), and once connected rides out restarts with capped exponential backoff.
 */
function newClient(address: string) {
  const options = redisClientOptions(address);
  let everConnected = false;
  const client = createClient({
    ...options,
    disableOfflineQueue: true,
    // A backstop behind the guard's own bound (pings need room too).
    commandsQueueMaxLength: MAX_PENDING_COMMANDS + 1000,
    commandOptions: { timeout: COMMAND_TIMEOUT_MS },
    pingInterval: PING_INTERVAL_MS,
    socket: {
      ...options.socket,
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      reconnectStrategy: (retries: number, cause: Error) => (everConnected ? Math.min(50 * 2 ** retries, 2000) : cause),
    },
  });
  client.on('ready', () => {
    everConnected = true;
  });
  return client;
}

type RedisClient = ReturnType<typeof newClient>;

export function engineRedisKey(pod: string, engineKey: BlockKey): string {
  return `engine:${pod}:${engineKey}`;
}

/** Escapes a literal for a SCAN MATCH glob (pods may be bracketed IPv6). */
function globEscape(literal: string): string {
  return literal.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

export class RedisKvBlockIndex implements KvBlockIndex {
  private closed = false;
  private readonly guard: RedisGuard;

  private constructor(
    private readonly client: RedisClient,
    readonly backendType: string,
    address: string,
  ) {
    this.guard = new RedisGuard({
      label: `${backendType} at ${address}`,
      timeoutMs: COMMAND_TIMEOUT_MS,
      maxCommands: MAX_PENDING_COMMANDS,
      ready: () => client.isReady,
    });
  }

  /** A pipeline, sent whole through the guard. */
  private pipelined(pipeline: ReturnType<RedisClient['multi']>, commands: number): Promise<unknown[]> {
    return this.guard.run(commands, () => pipeline.execAsPipeline() as Promise<unknown[]>);
  }

  /** SCAN batches, each step through the guard. */
  private async *scan(options: { TYPE: string; MATCH?: string }): AsyncGenerator<string[]> {
    const steps = this.client.scanIterator({ ...options, COUNT: SCAN_COUNT })[Symbol.asyncIterator]();
    for (;;) {
      const step = await this.guard.run(1, () => steps.next());
      if (step.done === true) return;
      yield step.value.map(String);
    }
  }

  /** Connects and PINGs; fails with the backend type and address in the message. */
  static async connect(config: RedisIndexConfig, logger?: Logger): Promise<RedisKvBlockIndex> {
    const backendType = config.backendType ?? 'redis';
    const client = newClient(config.address);
    // node-redis emits 'error' on every failed reconnect; without a listener that would crash the process.
    client.on('error', (err: Error) => logger?.warn({ err: err.message, backend: backendType }, 'kv-block index connection error'));
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      client.destroy();
      throw new Error(`failed to connect to ${backendType} at ${config.address}: ${(err as Error).message}`);
    }
    if (config.enableRDMA === true) logger?.warn({ backend: backendType }, 'enableRDMA is not supported from Node; using TCP');
    return new RedisKvBlockIndex(client, backendType, config.address);
  }

  async lookup(requestKeys: readonly BlockKey[], podFilter?: ReadonlySet<string>): Promise<PodEntry[][]> {
    const found: PodEntry[][] = [];
    const filtered = podFilter !== undefined && podFilter.size > 0;
    for (let start = 0; start < requestKeys.length; start += LOOKUP_CHUNK) {
      const chunk = requestKeys.slice(start, start + LOOKUP_CHUNK);
      const pipeline = this.client.multi();
      for (const key of chunk) pipeline.hKeys(key.toString());
      const replies = await this.pipelined(pipeline, chunk.length);
      for (let i = 0; i < chunk.length; i++) {
        const fields = replies[i];
        const pods: PodEntry[] = [];
        if (Array.isArray(fields)) {
          for (const field of fields) {
            const entry = parsePodEntryField(String(field));
            if (entry !== undefined && (!filtered || podFilter.has(entry.pod))) pods.push(entry);
          }
        }
        if (pods.length === 0) return found; // the prefix chain breaks here
        found.push(pods);
      }
    }
    return found;
  }

  async add(engineKeys: readonly BlockKey[] | null, requestKeys: readonly BlockKey[], entries: readonly PodEntry[]): Promise<void> {
    validateAdd(engineKeys, requestKeys, entries);
    const pipeline = this.client.multi();
    let commands = requestKeys.length;
    if (engineKeys !== null) {
      const pod = entries[0]!.pod;
      for (const [engineKey, mapped] of engineMapping(engineKeys, requestKeys)) {
        const key = engineRedisKey(pod, engineKey);
        pipeline.del(key); // a re-stored engine block replaces its old mapping
        pipeline.zAdd(key, mapped.map((requestKey, position) => ({ score: position, value: requestKey.toString() })));
        commands += 2;
      }
    }
    const fields: Record<string, string> = {};
    for (const entry of entries) fields[podEntryField(entry)] = '';
    for (const key of requestKeys) pipeline.hSet(key.toString(), fields);
    await this.pipelined(pipeline, commands);
  }

  async evict(key: BlockKey, keyType: KeyType, entries: readonly PodEntry[]): Promise<void> {
    if (entries.length === 0) throw new Error('evict: no entries provided');
    const fields = entries.map(podEntryField);
    if (keyType === 'request') {
      // Redis deletes a hash when its last field is removed, so no emptiness check is needed.
      await this.guard.run(1, () => this.client.hDel(key.toString(), fields));
      return;
    }
    const pod = singlePod(entries, 'evict');
    const engineKey = engineRedisKey(pod, key);
    const mapped = await this.guard.run(1, () => this.client.zRange(engineKey, 0, -1));
    if (mapped.length === 0) return;
    await this.run(EVICT_BY_ENGINE_KEY, [engineKey, ...mapped.map(String)], [`${pod}@`, ...fields]);
  }

  async getRequestKeys(pod: string, engineKey: BlockKey): Promise<BlockKey[]> {
    const mapped = await this.guard.run(1, () => this.client.zRange(engineRedisKey(pod, engineKey), 0, -1));
    return mapped.map((value) => BigInt(String(value)));
  }

  /** SCANs request hashes in batches (one Lua call each), then deletes the pod's engine sets. */
  async clear(pod: string): Promise<void> {
    for await (const keys of this.scan({ TYPE: 'hash' })) {
      if (keys.length > 0) await this.run(CLEAR_POD_FROM_KEYS, keys, [`${pod}@`]);
    }
    const match = `engine:${globEscape(pod)}:*`;
    for await (const keys of this.scan({ MATCH: match, TYPE: 'zset' })) {
      if (keys.length > 0) await this.guard.run(1, () => this.client.unlink(keys));
    }
  }

  async size(): Promise<number> {
    let count = 0;
    for await (const keys of this.scan({ TYPE: 'hash' })) count += keys.length;
    return count;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      // A graceful close waits for every pending reply (a PING is nearly always one): bounded, so a
      // silent server cannot hold shutdown.
      await settleWithin(this.client.close(), COMMAND_TIMEOUT_MS, () => new Error('close timed out'));
    } catch {
      // Not connected, or no answer: drop the socket without the handshake.
      try {
        this.client.destroy();
      } catch {
        // already destroyed
      }
    }
  }

  /** EVALSHA, loading the script with EVAL when the server does not know it yet (first use, restart, SCRIPT FLUSH). */
  private async run(lua: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.guard.run(1, () => this.client.evalSha(lua.sha1, { keys, arguments: args }));
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return this.guard.run(1, () => this.client.eval(lua.source, { keys, arguments: args }));
    }
  }
}
