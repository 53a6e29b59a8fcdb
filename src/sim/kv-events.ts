/**
 * KV-cache events as the simulator produces them. The cache reports to a `KvEventSink`; the
 * default drops them. `ZmqKvEventPublisher` (kv-events-publisher.ts, wire format in
 * docs/prefix-cache.md "The simulator's publisher") implements this interface and batches/encodes
 * the events; tests use `RecordingKvEventSink`.
 */
import type { BlockKey } from '../kvblock/keys.js';

export interface BlockStoredEvent {
  type: 'BlockStored';
  /** Keys of the newly stored blocks, in prompt order. */
  blockHashes: BlockKey[];
  /** Key of the last block of this request that was already cached; null when none (legacy wire form: 0). */
  parentBlockHash: BlockKey | null;
  /** The tokens of the stored blocks, concatenated (`blockHashes.length × blockSize`). */
  tokenIds: number[];
  blockSize: number;
  loraId: number | null;
  loraName: string | null;
  medium: 'GPU';
}

export interface BlockRemovedEvent {
  type: 'BlockRemoved';
  blockHashes: BlockKey[];
  medium: 'GPU';
}

export interface AllBlocksClearedEvent {
  type: 'AllBlocksCleared';
}

export type KvEvent = BlockStoredEvent | BlockRemovedEvent | AllBlocksClearedEvent;

export interface KvEventSink {
  blockStored(event: BlockStoredEvent): void;
  /** One call per evicted block. */
  blockRemoved(event: BlockRemovedEvent): void;
  allCleared(): void;
  /** Flushes/closes whatever the sink owns; called when the simulator closes. */
  close?(): Promise<void>;
}

/** The default sink: events are not published anywhere. */
export const NOOP_KV_EVENT_SINK: KvEventSink = Object.freeze({
  blockStored(): void {},
  blockRemoved(): void {},
  allCleared(): void {},
});

/** Keeps every event in order (tests, demos, debugging). */
export class RecordingKvEventSink implements KvEventSink {
  readonly events: KvEvent[] = [];

  blockStored(event: BlockStoredEvent): void {
    this.events.push(event);
  }

  blockRemoved(event: BlockRemovedEvent): void {
    this.events.push(event);
  }

  allCleared(): void {
    this.events.push({ type: 'AllBlocksCleared' });
  }

  clear(): void {
    this.events.length = 0;
  }

  ofType<T extends KvEvent['type']>(type: T): Array<Extract<KvEvent, { type: T }>> {
    return this.events.filter((event): event is Extract<KvEvent, { type: T }> => event.type === type);
  }
}
