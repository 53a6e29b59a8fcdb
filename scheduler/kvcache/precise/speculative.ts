/**
 * Speculative indexing (`speculativeIndexing` / `speculativeTTL`):
 * right after a pick, the chosen pods are recorded on the request's keys as guesses
 * (`{pod, tier: "", speculative: true}`), so a burst of requests sharing a prefix follows the
 * first one before the pod's KV events arrive. Each guess is removed after the TTL (confirmed
 * entries on the same keys stay: the index keys entries by (pod, tier, speculative)).
 *
 * One timer serves every pending expiry (same TTL → FIFO). `close()` removes what is still
 * pending, so a Redis index is not left with guesses nobody will expire.
 */
import type { BlockKey } from '../../../src/kvblock/keys.js';
import type { Logger } from '../../../src/log.js';
import type { KvBlockIndex, PodEntry } from '../index/types.js';

interface Pending {
  readonly expiresAt: number;
  readonly keys: readonly BlockKey[];
  readonly entries: readonly PodEntry[];
  /** The add; eviction waits for it so it cannot run first. */
  readonly added: Promise<void>;
}

export class SpeculativeEntries {
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly index: KvBlockIndex,
    /** How long a guess stays. */
    readonly ttlMs: number,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Records `pods` (`ip:port`) as holding `keys` until the TTL passes. */
  add(keys: readonly BlockKey[], pods: readonly string[]): void {
    if (this.closed || keys.length === 0 || pods.length === 0) return;
    const entries = pods.map((pod): PodEntry => ({ pod, tier: '', speculative: true }));
    const added = this.index.add(null, keys, entries).catch((err: unknown) => {
      this.logger?.warn({ err: (err as Error).message }, 'speculative index add failed');
    });
    this.queue.push({ expiresAt: this.now() + this.ttlMs, keys, entries, added });
    this.schedule();
  }

  /** Pending guesses (tests). */
  get pending(): number {
    return this.queue.length;
  }

  /** Removes every pending guess now and stops the timer. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.expire(Infinity);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0 || this.closed) return;
    const delay = Math.max(0, this.queue[0]!.expiresAt - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.expire(this.now()).finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  private async expire(until: number): Promise<void> {
    while (this.queue.length > 0 && this.queue[0]!.expiresAt <= until) {
      const { keys, entries, added } = this.queue.shift()!;
      await added;
      try {
        for (const key of keys) await this.index.evict(key, 'request', entries);
      } catch (err) {
        this.logger?.warn({ err: (err as Error).message }, 'speculative index expiry failed');
      }
    }
  }
}
