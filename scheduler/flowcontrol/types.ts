/**
 * Flow control vocabulary: what is queued, how a request leaves the queue, and the clock the
 * controller runs on (injectable, so tests drive time). Semantics are described in
 * docs/flow-control.md.
 */

/** A request as flow control sees it. */
export interface FlowRequest {
  readonly id: string;
  /** The flow (tenant / program) inside a priority band; `default-flow` when the client names none. */
  readonly fairnessId: string;
  /** Higher is more important; negative priorities are sheddable. */
  readonly priority: number;
  /** Body size, counted against the byte limits. */
  readonly byteSize: number;
  readonly model?: string;
  readonly targetModel?: string;
}

/** How a request left flow control (llm-d's outcome names; they label the metrics). */
export type QueueOutcome =
  | 'Dispatched'
  | 'RejectedCapacity'
  | 'RejectedNoEndpoints'
  | 'RejectedOther'
  | 'EvictedTTL'
  | 'EvictedNoEndpoints'
  | 'EvictedContextCancelled';

/** Why a request was dropped: the value of DROPPED_REASON_HEADER (src/wire/headers.ts), llm-d's values. */
export type DroppedReason =
  | 'rejected-saturated'
  | 'rejected-no-endpoints'
  | 'rejected-ttl-expired'
  | 'rejected-context-cancelled'
  | 'rejected-shutting-down';

/** Token usage of a completed request (feeds program-aware fairness). */
export interface FlowUsage {
  readonly promptTokens?: number;
  readonly completionTokens?: number;
}

/** Held by an admitted request until its response is done. */
export interface FlowTicket {
  /** Time spent queued, ms. */
  readonly waitedMs: number;
  /** Ends the request's accounting; idempotent. */
  release(usage?: FlowUsage): void;
}

export type AdmitResult =
  | { readonly admitted: true; readonly ticket: FlowTicket }
  | {
    readonly admitted: false;
    /** 429: capacity exists but is contended (backpressure); 503: no capacity at all, or the client left. */
    readonly status: 429 | 503;
    readonly outcome: QueueOutcome;
    readonly droppedReason: DroppedReason;
    readonly message: string;
  };

/** Wall clock and timers (ms). */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms`; returns a cancel function. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** The fairness id used when a request carries none (llm-d's value). */
export const DEFAULT_FAIRNESS_ID = 'default-flow';
