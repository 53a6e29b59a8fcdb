/**
 * The simulated prefix cache: metadata only — which blocks (key, model) exist,
 * who uses them, and in what order idle ones were released. Admission classifies a request's full
 * blocks as in use / idle (revived) / new, fails with 500 when they cannot fit, evicts idle blocks
 * (oldest release first, idle LoRAs' blocks before loaded models'), and reports BlockStored /
 * BlockRemoved to the event sink. `cached_tokens` counts every block found, not just a prefix.
 */
import { OpenAIError } from '../openai/errors.js';
import { blockKeys, RootKeys, type BlockKey } from '../kvblock/keys.js';
import { NOOP_KV_EVENT_SINK, type KvEventSink } from './kv-events.js';

export const CAPACITY_ERROR = 'the kv cache does not have sufficient capacity to store this request';

export interface KvCacheOptions {
  /** Blocks the cache holds, used + idle (`--kv-cache-size`). */
  capacity: number;
  blockSize: number;
  hashSeed: string;
  /** Models whose blocks are evicted last: the base model and its aliases. */
  loadedModels: Iterable<string>;
  sink?: KvEventSink;
}

export interface LoraIdentity {
  id: number;
  name: string;
}

export interface Admission {
  /** Blocks of the request found in the cache (in use or idle). */
  cachedBlocks: number;
  /** cachedBlocks × block size: the request's `cached_tokens`. */
  cachedTokens: number;
  /** Prompt length (feeds `prefix_cache_queries_total`). */
  queriedTokens: number;
}

interface Block {
  readonly key: BlockKey;
  readonly model: string;
  readonly tokens: number[];
  refCount: number;
}

function internalError(message: string): OpenAIError {
  return new OpenAIError(500, message, { type: 'InternalServerError' });
}

export class KvCache {
  readonly capacity: number;
  readonly blockSize: number;
  private sink: KvEventSink;
  private readonly roots: RootKeys;
  /** model → key → block. */
  private readonly blocks = new Map<string, Map<BlockKey, Block>>();
  /** Idle blocks in release order (a Set iterates in insertion order). */
  private readonly idle = new Set<Block>();
  /** Idle blocks per model, to skip the "prefer unloaded models" scan when none qualify. */
  private readonly idlePerModel = new Map<string, number>();
  private readonly requests = new Map<string, Block[]>();
  private readonly loadedModels: Set<string>;
  private used = 0;
  private disabled = false;

  constructor(options: KvCacheOptions) {
    this.capacity = options.capacity;
    this.blockSize = options.blockSize;
    this.sink = options.sink ?? NOOP_KV_EVENT_SINK;
    this.roots = new RootKeys(options.hashSeed);
    this.loadedModels = new Set(options.loadedModels);
  }

  /** Where events go from now on (a publisher that needs the serving port is made after listen). */
  setSink(sink: KvEventSink): void {
    this.sink = sink;
  }

  get usedBlocks(): number {
    return this.used;
  }

  get idleBlocks(): number {
    return this.idle.size;
  }

  get activeRequests(): number {
    return this.requests.size;
  }

  /** Used blocks / capacity (idle cached blocks do not count). */
  get usage(): number {
    return this.capacity > 0 ? this.used / this.capacity : 0;
  }

  /** The block keys this cache derives for a prompt (for tests and debugging). */
  keysFor(tokens: readonly number[], modelName: string): BlockKey[] {
    return blockKeys(tokens, this.blockSize, this.roots.get(modelName));
  }

  /** Whether a block is present, and its reference count (0 = idle). */
  blockInfo(key: BlockKey, modelName: string): { present: boolean; refCount: number } {
    const block = this.blocks.get(modelName)?.get(key);
    return { present: block !== undefined, refCount: block?.refCount ?? 0 };
  }

  admit(requestId: string, tokens: readonly number[], modelName: string, lora?: LoraIdentity): Admission {
    const queriedTokens = tokens.length;
    if (this.disabled) return { cachedBlocks: 0, cachedTokens: 0, queriedTokens };
    if (this.requests.has(requestId)) throw internalError(`request already exists for id ${requestId}`);

    const keys = this.keysFor(tokens, modelName);
    let modelBlocks = this.blocks.get(modelName);
    const inUse: Block[] = [];
    const revived: Block[] = [];
    const fresh: number[] = [];
    let lastCached = -1;
    keys.forEach((key, index) => {
      const block = modelBlocks?.get(key);
      if (block === undefined) {
        fresh.push(index);
        return;
      }
      if (block.refCount > 0) inUse.push(block);
      else revived.push(block);
      lastCached = index;
    });

    if (this.used + fresh.length + revived.length > this.capacity) throw internalError(CAPACITY_ERROR);

    const requestBlocks = new Array<Block>(keys.length);
    for (const block of inUse) block.refCount++;
    for (const block of revived) {
      this.removeIdle(block);
      block.refCount = 1;
      this.used++;
    }
    if (fresh.length > 0 && modelBlocks === undefined) {
      modelBlocks = new Map();
      this.blocks.set(modelName, modelBlocks);
    }
    const storedKeys: BlockKey[] = [];
    const storedTokens: number[] = [];
    for (const index of fresh) {
      if (this.used + this.idle.size >= this.capacity) this.evictOne();
      const start = index * this.blockSize;
      const block: Block = { key: keys[index]!, model: modelName, tokens: tokens.slice(start, start + this.blockSize), refCount: 1 };
      modelBlocks!.set(block.key, block);
      this.used++;
      storedKeys.push(block.key);
      for (const token of block.tokens) storedTokens.push(token);
    }
    keys.forEach((key, index) => {
      requestBlocks[index] = modelBlocks!.get(key)!;
    });
    this.requests.set(requestId, requestBlocks);

    if (storedKeys.length > 0) {
      this.sink.blockStored({
        type: 'BlockStored',
        blockHashes: storedKeys,
        parentBlockHash: lastCached >= 0 ? keys[lastCached]! : null,
        tokenIds: storedTokens,
        blockSize: this.blockSize,
        loraId: lora?.id ?? null,
        loraName: lora?.name ?? null,
        medium: 'GPU',
      });
    }
    const cachedBlocks = inUse.length + revived.length;
    return { cachedBlocks, cachedTokens: cachedBlocks * this.blockSize, queriedTokens };
  }

  /** Request end: each block's refcount drops; at 0 it becomes idle (most recently released). */
  release(requestId: string): void {
    const requestBlocks = this.requests.get(requestId);
    if (requestBlocks === undefined) return;
    this.requests.delete(requestId);
    for (const block of requestBlocks) {
      if (block.refCount <= 0) continue;
      block.refCount--;
      if (block.refCount === 0) {
        this.used--;
        this.addIdle(block);
      }
    }
  }

  setModelLoaded(model: string): void {
    this.loadedModels.add(model);
  }

  setModelUnloaded(model: string): void {
    this.loadedModels.delete(model);
  }

  /** `/sleep`: drop everything, emit AllBlocksCleared, and make admissions no-ops until `activate()`. */
  discard(): void {
    this.disabled = true;
    this.blocks.clear();
    this.idle.clear();
    this.idlePerModel.clear();
    this.requests.clear();
    this.used = 0;
    this.sink.allCleared();
  }

  activate(): void {
    this.disabled = false;
  }

  get isDisabled(): boolean {
    return this.disabled;
  }

  private addIdle(block: Block): void {
    this.idle.add(block);
    this.idlePerModel.set(block.model, (this.idlePerModel.get(block.model) ?? 0) + 1);
  }

  private removeIdle(block: Block): void {
    this.idle.delete(block);
    const count = (this.idlePerModel.get(block.model) ?? 1) - 1;
    if (count > 0) this.idlePerModel.set(block.model, count);
    else this.idlePerModel.delete(block.model);
  }

  /** Oldest idle block of a model that is not loaded (idle LoRA), else the oldest idle block. */
  private pickVictim(): Block | undefined {
    let unloadedIdle = false;
    for (const model of this.idlePerModel.keys()) {
      if (!this.loadedModels.has(model)) {
        unloadedIdle = true;
        break;
      }
    }
    if (unloadedIdle) {
      for (const block of this.idle) if (!this.loadedModels.has(block.model)) return block;
    }
    return this.idle.values().next().value;
  }

  private evictOne(): void {
    const victim = this.pickVictim();
    if (victim === undefined) throw internalError(CAPACITY_ERROR);
    this.removeIdle(victim);
    this.blocks.get(victim.model)?.delete(victim.key);
    this.sink.blockRemoved({ type: 'BlockRemoved', blockHashes: [victim.key], medium: 'GPU' });
  }
}
