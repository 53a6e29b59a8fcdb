/**
 * Speculative guesses for the part of a prompt the prefix walk did not tokenize.
 *
 * The walk (read-path.ts) stops at the first block no candidate holds, so a request's keys cover
 * only the tokenized part — for a long document nobody holds yet, little more than the shared
 * system prompt. Guesses written for those keys alone do not make a burst of requests with the
 * same document follow the first one: the second sees the chosen pod only a block or so ahead.
 * So, after the pick and off the decision's path, the rest of the prompt is read from where the
 * walk stopped (the same stream: same ids as a whole-prompt encode), hashed, and the chosen pods
 * are recorded on those keys too, with the same TTL (SpeculativeEntries).
 *
 * Low priority, never delaying decisions:
 *  - each encode is capped at `maxBatchChars` of new text (`TokenStream.capBatches`);
 *  - before each one, `busy()` (the tokenizer pool has no idle worker) ends the tail: it is
 *    skipped, not queued (`skipped_busy`; so is a pool that refuses the encode as overloaded,
 *    and a tail that would be the `maxInFlight`+1-th at once);
 *  - keys are hashed at most `maxBlocksPerSlice` at a time, yielding to the event loop between
 *    slices, and each slice's guesses are added as soon as they are known; a chunk is copied
 *    once (with the few tokens short of a block before it), slices are views into it;
 *  - a tail still running when the guesses' TTL has passed since the pick stops (`expired`): its
 *    first guesses are gone by then, and later ones no walk could reach.
 * Outcomes are counted (`pd_router_precise_prefix_speculative_tails_total{outcome}`).
 *
 * Every tail is owned here: `close()` stops them at their next step and waits for them, so no
 * guess is added after it resolves (the owner then closes SpeculativeEntries, which removes the
 * guesses still pending).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { blockKeys } from '../../../src/kvblock/keys.js';
import type { Logger } from '../../../src/log.js';
import { OVERLOADED } from '../../../src/tokenization/errors.js';
import type { WalkContinuation } from './read-path.js';
import type { SpeculativeEntries } from './speculative.js';

export type TailOutcome = 'completed' | 'skipped_busy' | 'failed' | 'cancelled' | 'expired';

/** New text per background encode (~1k tokens of English: a few ms on a worker). */
const TAIL_BATCH_CHARS = 4096;
/** Blocks hashed between two yields to the event loop (~1 ms at ~3–4 µs per block). */
const TAIL_BLOCKS_PER_SLICE = 256;
/** Tails running at once; more are skipped (a burst of long prompts must not pile up work). */
const TAIL_MAX_IN_FLIGHT = 8;

export interface SpeculativeTailsOptions {
  entries: SpeculativeEntries;
  blockSize: number;
  /** True when the tokenizer has no idle worker: the tail is skipped rather than queued. */
  busy(): boolean;
  /** Called once per tail with its outcome (metrics). */
  count(outcome: TailOutcome): void;
  logger?: Logger;
  maxBatchChars?: number;
  maxBlocksPerSlice?: number;
  maxInFlight?: number;
  /** How long a tail may run after the pick (default: the entries' TTL). */
  ttlMs?: number;
  /** The clock of that deadline (tests). */
  now?: () => number;
}

/** The tokens short of a block (`rest`, a view) followed by `chunk`, in one new array. */
function joined(rest: Uint32Array, chunk: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(rest.length + chunk.length);
  out.set(rest);
  out.set(chunk, rest.length);
  return out;
}

/**
 * A match's walk continuation, held until the pick: `take()` hands it out once and drops it, so
 * the prompt's pieces are released when the tail ends or is skipped, not when the request does.
 */
export class PendingTail {
  constructor(private continuation: WalkContinuation | undefined) {}

  take(): WalkContinuation | undefined {
    const continuation = this.continuation;
    this.continuation = undefined;
    return continuation;
  }
}

export class SpeculativeTails {
  private readonly tasks = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly options: SpeculativeTailsOptions) {}

  /** Tails in progress (tests, diagnostics). */
  get pending(): number {
    return this.tasks.size;
  }

  /** Starts reading `tail` in the background and guessing `pods` (`ip:port`) on its keys. Returns at once. */
  start(tail: WalkContinuation, pods: readonly string[]): void {
    if (this.closed || pods.length === 0) return;
    if (this.tasks.size >= (this.options.maxInFlight ?? TAIL_MAX_IN_FLIGHT)) {
      this.options.count('skipped_busy');
      return;
    }
    const task: Promise<void> = this.run(tail, pods)
      .catch((err: unknown): TailOutcome => {
        this.options.logger?.debug({ err: (err as Error).message }, 'speculative tail failed');
        return (err as { code?: unknown }).code === OVERLOADED ? 'skipped_busy' : 'failed';
      })
      .then((outcome) => this.options.count(outcome))
      .finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  /** Resolves when every tail started so far has ended (tests). */
  async idle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.all([...this.tasks]);
  }

  /** Stops every tail at its next step; resolves once none can add a guess any more. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }

  private async run(tail: WalkContinuation, pods: readonly string[]): Promise<TailOutcome> {
    const { entries, blockSize } = this.options;
    const now = this.options.now ?? Date.now;
    const deadline = now() + (this.options.ttlMs ?? entries.ttlMs);
    const sliceTokens = (this.options.maxBlocksPerSlice ?? TAIL_BLOCKS_PER_SLICE) * blockSize;
    const { stream } = tail;
    stream.capBatches?.(this.options.maxBatchChars ?? TAIL_BATCH_CHARS);
    let parent = tail.parent;
    let rest = tail.pending;
    // The pick's own work (forwarding the request) goes first.
    await yieldToLoop();
    for (;;) {
      if (this.closed) return 'cancelled';
      if (now() >= deadline) return 'expired';
      if (this.options.busy()) return 'skipped_busy';
      const chunk = await stream.next();
      if (chunk === undefined) return 'completed';
      const tokens = joined(rest, chunk);
      let offset = 0;
      while (tokens.length - offset >= blockSize) {
        if (this.closed) return 'cancelled';
        if (now() >= deadline) return 'expired';
        const full = tokens.length - offset - ((tokens.length - offset) % blockSize);
        const take = Math.min(full, sliceTokens);
        const keys = blockKeys(tokens.subarray(offset, offset + take), blockSize, parent);
        parent = keys[keys.length - 1]!;
        offset += take;
        entries.add(keys, pods);
        await yieldToLoop();
      }
      rest = tokens.slice(offset); // < one block: the chunk's buffer is not kept
    }
  }
}
