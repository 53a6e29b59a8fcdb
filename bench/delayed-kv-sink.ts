/**
 * A KV-event sink that passes every event on `delayMs` later, in order (bench/fanout.ts). The
 * simulator reports a request's blocks when it admits it; vLLM reports them only once the prefill
 * has computed them — seconds for a long document. The delay stands in for that, so requests that
 * arrive during the prefill find the index without the first request's blocks, as they would.
 * `close()` drops what is still pending and closes the inner sink.
 */
import type { BlockRemovedEvent, BlockStoredEvent, KvEventSink } from '../src/sim/kv-events.js';

export class DelayedKvEventSink implements KvEventSink {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(private readonly inner: KvEventSink, private readonly delayMs: number) {}

  blockStored(event: BlockStoredEvent): void {
    this.later(() => this.inner.blockStored(event));
  }

  blockRemoved(event: BlockRemovedEvent): void {
    this.later(() => this.inner.blockRemoved(event));
  }

  allCleared(): void {
    this.later(() => this.inner.allCleared());
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.inner.close?.();
  }

  /** Same delay for every event: timers fire in the order they were set. */
  private later(deliver: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) deliver();
    }, this.delayMs);
    this.timers.add(timer);
  }
}
