/**
 * Decodes vLLM KV-event payloads: msgpack `[ts, events, data_parallel_rank?]`,
 * each event either a positional tagged array (vLLM before #42892, trailing defaults omitted) or a
 * map with the tag under "type" (newer vLLM) — both land on the same typed events.
 *
 * Hashes arrive as any msgpack integer width (64-bit ones exceed 2^53, hence `useBigInt64`) or as
 * byte strings (vLLM with int hashes off): bytes → last 8 bytes big-endian, left-padded if shorter,
 * exactly vLLM's own int conversion. Negative int64 values are reinterpreted as uint64.
 *
 * A payload that is not an event batch throws KvEventDecodeError('bad_payload'). A single bad event
 * (unknown tag, missing/mistyped field) is set aside in `skipped` and the rest of the batch is kept:
 * KVC-0.8 failed the whole batch, which let one event from a newer engine discard its neighbours.
 */
import type { BlockKey } from '../../../src/kvblock/keys.js';
import {
  KvEventDecodeError,
  type BlockRemovedEvent,
  type BlockStoredEvent,
  type EventBatch,
  type KvCacheEvent,
} from './types.js';
import { MsgpackError, MsgpackReader, NotUint32 } from './msgpack-reader.js';

/** Field names of the map encoding, in positional order after the tag (msgspec field order). */
const BLOCK_STORED_FIELDS = [
  'block_hashes', 'parent_block_hash', 'token_ids', 'block_size', 'lora_id', 'medium', 'lora_name',
  'extra_keys', 'group_idx', 'kv_cache_spec_kind', 'kv_cache_spec_sliding_window',
] as const;
const BLOCK_REMOVED_FIELDS = ['block_hashes', 'medium', 'group_idx'] as const;
const FIELDS: Record<string, readonly string[]> = {
  BlockStored: BLOCK_STORED_FIELDS,
  BlockRemoved: BLOCK_REMOVED_FIELDS,
  AllBlocksCleared: [],
};

function malformed(message: string): KvEventDecodeError {
  return new KvEventDecodeError('malformed_event', message);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** An engine block hash as uint64. */
export function toBlockHash(value: unknown, what: string): BlockKey {
  if (typeof value === 'bigint') return value >= 0n ? value : BigInt.asUintN(64, value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt.asUintN(64, BigInt(value));
  if (value instanceof Uint8Array) {
    if (value.length === 0) throw malformed(`${what}: empty byte-string hash`);
    let hash = 0n;
    for (let i = Math.max(0, value.length - 8); i < value.length; i++) hash = (hash << 8n) | BigInt(value[i]!);
    return hash;
  }
  throw malformed(`${what}: expected an integer or bytes hash, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'nil';
  if (value instanceof Uint8Array) return 'bytes';
  return Array.isArray(value) ? 'array' : typeof value;
}

function optionalInt(value: unknown, what: string): number | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'bigint' && value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw malformed(`${what}: expected an integer, got ${describe(value)}`);
}

function optionalString(value: unknown, what: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  throw malformed(`${what}: expected a string, got ${describe(value)}`);
}

/**
 * The decoded list itself, converted in place: it is ours (fresh from the decoder), and a 200 KB
 * prompt's event carries ~4k hashes and ~65k token ids, so a copy per list is measurable.
 * Non-negative uint64 hashes (the usual form) are kept as decoded, without a BigInt.asUintN copy.
 */
function hashList(value: unknown, what: string): BlockKey[] {
  if (!Array.isArray(value)) throw malformed(`${what}: expected a list of hashes, got ${describe(value)}`);
  const list = value as unknown[];
  for (let i = 0; i < list.length; i++) {
    const hash = list[i];
    if (typeof hash !== 'bigint' || hash < 0n) list[i] = toBlockHash(hash, `${what}[${i}]`);
  }
  return list as BlockKey[];
}

/** Token ids as a typed list: as read by `MsgpackReader.uint32List`, or validated from a plain list (`decodeEvent` callers). */
function tokenList(value: unknown): Uint32Array {
  if (value instanceof Uint32Array) return value;
  if (value instanceof NotUint32) throw malformed(`token_ids[${value.index}]: not a uint32`);
  if (!Array.isArray(value)) throw malformed(`token_ids: expected a list, got ${describe(value)}`);
  const list = value as unknown[];
  const ids = new Uint32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const token = list[i];
    const id = typeof token === 'bigint' && token >= 0n && token <= 0xffffffffn ? Number(token) : token;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) throw malformed(`token_ids[${i}]: not a uint32`);
    ids[i] = id;
  }
  return ids;
}

function extraKeyList(value: unknown): Array<unknown[] | null> | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value)) throw malformed(`extra_keys: expected a list, got ${describe(value)}`);
  // Per block: a list of keys, or nil. Anything else carries no usable key: treat as nil.
  return value.map((perBlock) => (Array.isArray(perBlock) ? (perBlock as unknown[]) : null));
}

/** Positional view of an event: `at(i)` is field i after the tag, whichever encoding was used. */
function fieldsOf(raw: unknown): { tag: string; at: (i: number) => unknown; count: number; has: (i: number) => boolean } {
  if (Array.isArray(raw)) {
    const tag = raw[0];
    if (typeof tag !== 'string') throw malformed(`event tag: expected a string, got ${describe(tag)}`);
    return { tag, at: (i) => raw[i + 1], count: raw.length - 1, has: (i) => i + 1 < raw.length };
  }
  if (isRecord(raw)) {
    const tag = raw.type;
    if (typeof tag !== 'string') throw malformed(`event "type": expected a string, got ${describe(tag)}`);
    const names = FIELDS[tag] ?? [];
    return { tag, at: (i) => (names[i] === undefined ? undefined : raw[names[i]]), count: names.length, has: (i) => names[i] !== undefined && names[i] in raw };
  }
  throw malformed(`event: expected an array or a map, got ${describe(raw)}`);
}

function blockStored(f: ReturnType<typeof fieldsOf>, positional: boolean): BlockStoredEvent {
  // Required: block_hashes, parent_block_hash (may be nil; positional form must still hold the slot), token_ids, block_size.
  if (positional && f.count < 4) throw malformed(`BlockStored: ${f.count} fields, at least 4 required`);
  if (!f.has(0) || !f.has(2) || !f.has(3)) throw malformed('BlockStored: block_hashes, token_ids and block_size are required');
  const parent = f.at(1) === undefined || f.at(1) === null ? null : toBlockHash(f.at(1), 'parent_block_hash');
  const blockSize = optionalInt(f.at(3), 'block_size');
  if (blockSize === null || blockSize <= 0) throw malformed('block_size: must be a positive integer');
  return {
    type: 'BlockStored',
    blockHashes: hashList(f.at(0), 'block_hashes'),
    parentBlockHash: parent === 0n ? null : parent,
    tokenIds: tokenList(f.at(2)),
    blockSize,
    loraId: optionalInt(f.at(4), 'lora_id'),
    medium: optionalString(f.at(5), 'medium'),
    loraName: optionalString(f.at(6), 'lora_name'),
    extraKeys: extraKeyList(f.at(7)),
    groupIdx: optionalInt(f.at(8), 'group_idx'),
    kvCacheSpecKind: optionalString(f.at(9), 'kv_cache_spec_kind'),
    kvCacheSpecSlidingWindow: optionalInt(f.at(10), 'kv_cache_spec_sliding_window'),
  };
}

function blockRemoved(f: ReturnType<typeof fieldsOf>): BlockRemovedEvent {
  if (!f.has(0)) throw malformed('BlockRemoved: block_hashes is required');
  return {
    type: 'BlockRemoved',
    blockHashes: hashList(f.at(0), 'block_hashes'),
    medium: optionalString(f.at(1), 'medium'),
    groupIdx: optionalInt(f.at(2), 'group_idx'),
  };
}

/** One event in either encoding; throws KvEventDecodeError (`unknown_event` or `malformed_event`). */
export function decodeEvent(raw: unknown): KvCacheEvent {
  const fields = fieldsOf(raw);
  switch (fields.tag) {
    case 'BlockStored':
      return blockStored(fields, Array.isArray(raw));
    case 'BlockRemoved':
      return blockRemoved(fields);
    case 'AllBlocksCleared':
      return { type: 'AllBlocksCleared' };
    default:
      throw new KvEventDecodeError('unknown_event', `unknown event tag ${JSON.stringify(fields.tag)}`);
  }
}

/** Position of token_ids in a positional BlockStored (after the tag), and its map key. */
const TOKEN_IDS_AT = 1 + BLOCK_STORED_FIELDS.indexOf('token_ids');

/**
 * One event's raw form, read generically except token_ids, which is read straight into a typed
 * list (the bulk of a BlockStored). Either encoding: a tagged array or a map.
 */
function readRawEvent(reader: MsgpackReader): unknown {
  const length = reader.arrayHeader();
  if (length !== undefined) {
    const raw: unknown[] = []; // grown by push: a header's count is a claim (msgpack-reader.ts, array)
    for (let i = 0; i < length; i++) raw.push(i === TOKEN_IDS_AT && raw[0] === 'BlockStored' ? reader.uint32List(1) : reader.value(1));
    return raw;
  }
  const entries = reader.mapHeader();
  if (entries === undefined) return reader.value(1);
  const raw = Object.create(null) as Record<string, unknown>;
  for (let i = 0; i < entries; i++) {
    const key = reader.key(1);
    raw[key] = key === 'token_ids' ? reader.uint32List(1) : reader.value(1);
  }
  return raw;
}

function badPayload(message: string, cause?: unknown): KvEventDecodeError {
  return new KvEventDecodeError('bad_payload', message, cause === undefined ? undefined : { cause });
}

/**
 * A whole payload. Throws KvEventDecodeError('bad_payload') when it is not `[ts, [events…], rank?]`
 * or not msgpack at all (truncated, invalid bytes, trailing bytes): then none of its events count.
 */
export function decodeEventBatch(payload: Uint8Array): EventBatch {
  const reader = new MsgpackReader(payload);
  let ts: unknown;
  let rawEvents: unknown[] | undefined;
  let rank: unknown;
  try {
    const length = reader.arrayHeader();
    if (length === undefined || length < 2) throw badPayload('payload: expected [ts, events, data_parallel_rank?]');
    ts = reader.value(1);
    const count = reader.arrayHeader();
    if (count === undefined) reader.value(1);
    else {
      const events: unknown[] = [];
      for (let i = 0; i < count; i++) events.push(readRawEvent(reader));
      rawEvents = events;
    }
    for (let i = 2; i < length; i++) {
      const value = reader.value(1);
      if (i === 2) rank = value;
    }
    if (!reader.done) throw new MsgpackError('trailing bytes after the payload');
  } catch (err) {
    if (err instanceof MsgpackError) throw badPayload(`payload is not msgpack: ${err.message}`, err);
    throw err;
  }
  if (typeof ts !== 'number' && typeof ts !== 'bigint') throw badPayload(`payload ts: expected a number, got ${describe(ts)}`);
  if (rawEvents === undefined) throw badPayload('payload events: expected a list');
  let dataParallelRank: number | null;
  try {
    dataParallelRank = optionalInt(rank, 'data_parallel_rank');
  } catch (err) {
    throw badPayload((err as Error).message);
  }
  const decoded: KvCacheEvent[] = [];
  const skipped: KvEventDecodeError[] = [];
  for (const event of rawEvents) {
    try {
      decoded.push(decodeEvent(event));
    } catch (err) {
      if (!(err instanceof KvEventDecodeError)) throw err;
      skipped.push(err);
    }
  }
  return { ts: Number(ts), events: decoded, dataParallelRank, skipped };
}

/** `kv@<pod>@<model>` → pod (`ip:port`) and model. The model is everything after the second `@`, so model names may contain `@`. */
export function parseTopic(topic: string): { pod: string; model: string } | undefined {
  const first = topic.indexOf('@');
  if (first < 0) return undefined;
  const second = topic.indexOf('@', first + 1);
  if (second < 0) return undefined;
  const pod = topic.slice(first + 1, second);
  const model = topic.slice(second + 1);
  if (pod === '' || model === '') return undefined;
  return { pod, model };
}
