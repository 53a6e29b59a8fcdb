/**
 * Fairness policies: which flow of a priority band dispatches next. They see only non-empty flows.
 *
 * - `global-strict-fairness-policy` (default): the flow whose head request goes first under the
 *   band's ordering policy — one global order across flows, no fairness between them.
 * - `round-robin-fairness-policy`: flows take turns, in order of first appearance.
 * - `program-aware-fairness`: see program-aware.ts.
 */
import type { FlowQueue, OrderingPolicy } from './queue.js';
import type { FlowUsage } from './types.js';

export const GLOBAL_STRICT_FAIRNESS_POLICY_TYPE = 'global-strict-fairness-policy';
export const ROUND_ROBIN_FAIRNESS_POLICY_TYPE = 'round-robin-fairness-policy';

export interface FairnessPolicy {
  readonly type: string;
  readonly name: string;
  /** One of `flows` (all non-empty), or undefined to dispatch nothing from this band now. */
  pick(flows: readonly FlowQueue[], ordering: OrderingPolicy, now: number): FlowQueue | undefined;
  /** A request of `fairnessId` was dispatched after waiting `waitedMs`. */
  onDispatch?(fairnessId: string, waitedMs: number, now: number): void;
  /** A dispatched request of `fairnessId` completed. */
  onComplete?(fairnessId: string, usage: FlowUsage | undefined, now: number): void;
}

export class GlobalStrictFairness implements FairnessPolicy {
  readonly type = GLOBAL_STRICT_FAIRNESS_POLICY_TYPE;
  constructor(readonly name: string = GLOBAL_STRICT_FAIRNESS_POLICY_TYPE) {}

  pick(flows: readonly FlowQueue[], ordering: OrderingPolicy): FlowQueue | undefined {
    let best: FlowQueue | undefined;
    for (const flow of flows) {
      if (!best || ordering.compare(flow.head()!, best.head()!) < 0) best = flow;
    }
    return best;
  }
}

export class RoundRobinFairness implements FairnessPolicy {
  readonly type = ROUND_ROBIN_FAIRNESS_POLICY_TYPE;
  /** Flow ids in order of first appearance. */
  private readonly order: string[] = [];
  private last: string | undefined;
  constructor(readonly name: string = ROUND_ROBIN_FAIRNESS_POLICY_TYPE) {}

  pick(flows: readonly FlowQueue[]): FlowQueue | undefined {
    if (flows.length === 0) return undefined;
    const byId = new Map(flows.map((flow) => [flow.fairnessId, flow]));
    for (const id of byId.keys()) if (!this.order.includes(id)) this.order.push(id);
    const start = this.last === undefined ? 0 : this.order.indexOf(this.last) + 1;
    for (let k = 0; k < this.order.length; k++) {
      const id = this.order[(start + k) % this.order.length]!;
      const flow = byId.get(id);
      if (flow) {
        this.last = id;
        return flow;
      }
    }
    return undefined;
  }

  /** Forgets flows that are gone (called by the controller when a flow's queue is dropped). */
  forget(fairnessId: string): void {
    const index = this.order.indexOf(fairnessId);
    if (index < 0) return;
    if (this.last === fairnessId) this.last = index > 0 ? this.order[index - 1] : undefined;
    this.order.splice(index, 1);
  }
}
