/**
 * KV-cache events as the EPP sees them after decoding. Hashes are vLLM's own
 * block hashes (engine keys), normalised to unsigned 64-bit BigInt whatever their wire form.
 */
import type { BlockKey } from '../../../src/kvblock/keys.js';

/** One ZMQ message as received: `[topic, seq (8-byte BE), payload]`. */
export interface RawKvMessage {
  readonly topic: string;
  readonly seq: bigint;
  readonly payload: Uint8Array;
  /** Where it came from: "global" (bound socket) or the endpoint name (per-pod connect). For logs. */
  readonly source: string;
}

export interface BlockStoredEvent {
  readonly type: 'BlockStored';
  readonly blockHashes: BlockKey[];
  /** null when absent, nil or 0 (the "no parent" forms). */
  readonly parentBlockHash: BlockKey | null;
  readonly tokenIds: Uint32Array;
  readonly blockSize: number;
  readonly loraId: number | null;
  /** As sent ("GPU", "CPU"), null when absent; the processor lower-cases it. */
  readonly medium: string | null;
  readonly loraName: string | null;
  /** Per engine block: a list of extra keys or null (multimodal identifiers, docs/prefix-cache.md). */
  readonly extraKeys: ReadonlyArray<readonly unknown[] | null> | null;
  readonly groupIdx: number | null;
  readonly kvCacheSpecKind: string | null;
  readonly kvCacheSpecSlidingWindow: number | null;
}

export interface BlockRemovedEvent {
  readonly type: 'BlockRemoved';
  readonly blockHashes: BlockKey[];
  readonly medium: string | null;
  readonly groupIdx: number | null;
}

export interface AllBlocksClearedEvent {
  readonly type: 'AllBlocksCleared';
}

export type KvCacheEvent = BlockStoredEvent | BlockRemovedEvent | AllBlocksClearedEvent;

/** `[ts, events, data_parallel_rank?]`, with events that failed to decode set aside (not fatal). */
export interface EventBatch {
  readonly ts: number;
  readonly events: KvCacheEvent[];
  readonly dataParallelRank: number | null;
  /** One error per event that was skipped (unknown tag or malformed), in batch order. */
  readonly skipped: KvEventDecodeError[];
}

export type DecodeErrorKind = 'bad_payload' | 'unknown_event' | 'malformed_event';

/** A payload or event that does not follow the vLLM KV-event format. */
export class KvEventDecodeError extends Error {
  override readonly name = 'KvEventDecodeError';

  constructor(
    readonly kind: DecodeErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
