/**
 * One flow's queue inside a priority band, kept sorted by the band's ordering policy.
 *
 * Ordering policies (which request of a flow goes first):
 * - `fcfs-ordering-policy`: earliest enqueue first (ties: arrival sequence).
 * - `edf-ordering-policy`: earliest deadline first, deadline = enqueue time + TTL; requests
 *   without a TTL come after every request with one (ties: arrival sequence).
 */
import type { FlowRequest } from './types.js';

export const FCFS_ORDERING_POLICY_TYPE = 'fcfs-ordering-policy';
export const EDF_ORDERING_POLICY_TYPE = 'edf-ordering-policy';

/** A queued request. */
export interface QueueItem {
  readonly request: FlowRequest;
  readonly seq: number;
  readonly enqueuedAt: number;
  /** enqueuedAt + TTL, or Infinity without a TTL. */
  readonly deadline: number;
}

export interface OrderingPolicy {
  readonly type: string;
  readonly name: string;
  /** Negative when `a` goes before `b`. */
  compare(a: QueueItem, b: QueueItem): number;
}

export class FcfsOrdering implements OrderingPolicy {
  readonly type = FCFS_ORDERING_POLICY_TYPE;
  constructor(readonly name: string = FCFS_ORDERING_POLICY_TYPE) {}
  compare(a: QueueItem, b: QueueItem): number {
    return a.enqueuedAt - b.enqueuedAt || a.seq - b.seq;
  }
}

export class EdfOrdering implements OrderingPolicy {
  readonly type = EDF_ORDERING_POLICY_TYPE;
  constructor(readonly name: string = EDF_ORDERING_POLICY_TYPE) {}
  compare(a: QueueItem, b: QueueItem): number {
    if (a.deadline !== b.deadline) return a.deadline === Infinity ? 1 : b.deadline === Infinity ? -1 : a.deadline - b.deadline;
    return a.seq - b.seq;
  }
}

export class FlowQueue {
  private readonly items: QueueItem[] = [];
  bytes = 0;

  constructor(readonly fairnessId: string, private readonly ordering: OrderingPolicy) {}

  get length(): number {
    return this.items.length;
  }

  head(): QueueItem | undefined {
    return this.items[0];
  }

  push(item: QueueItem): void {
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ordering.compare(this.items[mid]!, item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, item);
    this.bytes += item.request.byteSize;
  }

  shift(): QueueItem | undefined {
    const item = this.items.shift();
    if (item) this.bytes -= item.request.byteSize;
    return item;
  }

  remove(item: QueueItem): boolean {
    const index = this.items.indexOf(item);
    if (index < 0) return false;
    this.items.splice(index, 1);
    this.bytes -= item.request.byteSize;
    return true;
  }

  /** Items in queue order (a copy). */
  list(): QueueItem[] {
    return [...this.items];
  }
}
