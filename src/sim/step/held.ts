/**
 * Prefill legs' blocks a prefill-role step engine holds after finishing, until a decode pod pulls
 * them (kv-pull.ts) or the hold timeout passes (vLLM's connectors free never-read blocks after a
 * timeout too). Keyed by release id: the choices of one request share it.
 */
import type { EngineClock, Timer } from './clock.js';
import type { PoolBlock } from './block-pool.js';

interface Entry<T> {
  owner: T;
  timer: Timer;
}

export class HeldBlocks<T extends { blocks: PoolBlock[] }> {
  private readonly byId = new Map<string, Array<Entry<T>>>();

  /** `free` is called once per owner: at release or at the timeout. */
  constructor(private readonly clock: EngineClock, private readonly timeoutMs: number, private readonly free: (owner: T) => void) {}

  get size(): number {
    let count = 0;
    for (const entries of this.byId.values()) count += entries.length;
    return count;
  }

  hold(releaseId: string, owner: T): void {
    const timer = this.clock.setTimer(this.timeoutMs, () => this.release(releaseId, owner));
    const entries = this.byId.get(releaseId) ?? [];
    entries.push({ owner, timer });
    this.byId.set(releaseId, entries);
  }

  blockIds(releaseId: string): number[] {
    return (this.byId.get(releaseId) ?? []).flatMap(({ owner }) => owner.blocks.map((block) => block.id));
  }

  /** Frees what `releaseId` holds (only `owner`'s when given). False when it holds nothing. */
  release(releaseId: string, owner?: T): boolean {
    const entries = this.byId.get(releaseId);
    if (!entries) return false;
    for (const entry of entries.filter((e) => owner === undefined || e.owner === owner)) {
      entry.timer.cancel();
      entries.splice(entries.indexOf(entry), 1);
      this.free(entry.owner);
    }
    if (entries.length === 0) this.byId.delete(releaseId);
    return true;
  }

  releaseAll(): void {
    for (const id of [...this.byId.keys()]) this.release(id);
  }
}
