/**
 * The flow controller: decides *whether and when* a request proceeds to scheduling.
 *
 * - `admit(request, signal)` enqueues the request in its priority band, in its flow (fairness id),
 *   or rejects it at once when the band's or the global request/byte limit is full (429
 *   `RejectedCapacity`; 503 `RejectedNoEndpoints` when the pool is empty).
 * - Dispatch: repeatedly, s = pool saturation; ceilings from the usage-limit policy for the bands
 *   (highest priority first); the first non-empty band dispatches one request (flow chosen by its
 *   fairness policy, request by its ordering policy) if s < its ceiling; a gated band stops the
 *   round, so lower bands never overtake it. Runs on every admit, every release and every
 *   `pollIntervalMs` while anything is queued (metrics move between calls).
 * - A queued request leaves with 429 `EvictedTTL` when it waited `defaultRequestTtlMs` (0 = no
 *   limit) against a pool with endpoints, with 503 `EvictedNoEndpoints` when it waited
 *   `noEndpointRequestTtlMs` while the pool was empty (each change of regime starts a fresh budget),
 *   and with 503 `EvictedContextCancelled` when its signal aborts (the client left).
 * - An admitted request holds a ticket until its response is done: `ticket.release(usage)`.
 *
 * The semantics are llm-d's flow control (docs/flow-control.md); the code is single-threaded and
 * all timing goes through the injectable Clock.
 */
import type { Endpoint } from '../framework/endpoint.js';
import type { FairnessPolicy } from './fairness.js';
import type { FlowControlMetrics, QueueLabelValues } from './metrics.js';
import { FlowQueue, type OrderingPolicy, type QueueItem } from './queue.js';
import type { SaturationDetector } from './saturation.js';
import { StaticUsageLimitPolicy, type UsageLimitPolicy } from './usage-limits.js';
import { systemClock, type AdmitResult, type Clock, type DroppedReason, type FlowRequest, type FlowTicket, type FlowUsage, type QueueOutcome } from './types.js';

export interface BandPolicy {
  /** Queued requests allowed in the band. */
  readonly maxRequests: number;
  /** Queued bytes allowed in the band. */
  readonly maxBytes: number;
  readonly fairness: FairnessPolicy;
  readonly ordering: OrderingPolicy;
}

export interface FlowControllerOptions {
  readonly detector: SaturationDetector;
  /** The current candidate pool. */
  readonly endpoints: () => readonly Endpoint[];
  /** The band of a priority (explicit band, else the negative or the default template). */
  readonly bandFor: (priority: number) => BandPolicy;
  readonly usageLimit?: UsageLimitPolicy;
  /** Global limits over all bands; 0 = none. */
  readonly maxRequests?: number;
  readonly maxBytes?: number;
  /** Queue-wait budget while the pool has endpoints; 0 = unbounded. Default 60 s. */
  readonly defaultRequestTtlMs?: number;
  /** Queue-wait budget while the pool is empty; defaults to defaultRequestTtlMs. */
  readonly noEndpointRequestTtlMs?: number;
  /** How often queued requests are re-examined. Default 10 ms. */
  readonly pollIntervalMs?: number;
  readonly clock?: Clock;
  readonly metrics?: FlowControlMetrics;
}

export const DEFAULT_REQUEST_TTL_MS = 60_000;
export const DEFAULT_POLL_INTERVAL_MS = 10;

interface Band {
  readonly priority: number;
  readonly policy: BandPolicy;
  readonly flows: Map<string, FlowQueue>;
  count: number;
  bytes: number;
}

interface Pending {
  readonly item: QueueItem;
  readonly band: Band;
  readonly flow: FlowQueue;
  readonly labels: QueueLabelValues;
  readonly resolve: (result: AdmitResult) => void;
  /** Whether the pool was empty when the current budget started, and when it started. */
  emptyRegime: boolean;
  budgetStart: number;
  detach?: () => void;
}

const REJECTIONS: Record<Exclude<QueueOutcome, 'Dispatched'>, { status: 429 | 503; reason: DroppedReason; message: string }> = {
  RejectedCapacity: { status: 429, reason: 'rejected-saturated', message: 'flow control queue is full' },
  RejectedNoEndpoints: { status: 503, reason: 'rejected-no-endpoints', message: 'no endpoints available and the flow control queue is full' },
  RejectedOther: { status: 503, reason: 'rejected-shutting-down', message: 'flow controller is shutting down' },
  EvictedTTL: { status: 429, reason: 'rejected-ttl-expired', message: 'request timed out in the flow control queue' },
  EvictedNoEndpoints: { status: 503, reason: 'rejected-no-endpoints', message: 'request timed out in the flow control queue and no endpoints are available' },
  EvictedContextCancelled: { status: 503, reason: 'rejected-context-cancelled', message: 'client disconnected while queued' },
};

function rejection(outcome: Exclude<QueueOutcome, 'Dispatched'>): AdmitResult {
  const r = REJECTIONS[outcome];
  return { admitted: false, status: r.status, outcome, droppedReason: r.reason, message: r.message };
}

export class FlowController {
  private readonly bands = new Map<number, Band>();
  /** Bands, highest priority first (rebuilt when a band is added). */
  private ordered: Band[] = [];
  private readonly pending = new Map<QueueItem, Pending>();
  private readonly clock: Clock;
  private readonly usageLimit: UsageLimitPolicy;
  private readonly defaultTtl: number;
  private readonly noEndpointTtl: number;
  private readonly pollInterval: number;
  private seq = 0;
  private queuedBytes = 0;
  private dispatching = false;
  private cancelTimer: (() => void) | undefined;
  private closed = false;
  /** Requests admitted and not yet released. */
  inFlight = 0;

  constructor(private readonly options: FlowControllerOptions) {
    this.clock = options.clock ?? systemClock;
    this.usageLimit = options.usageLimit ?? new StaticUsageLimitPolicy('static-usage-limit-policy', 1);
    this.defaultTtl = options.defaultRequestTtlMs ?? DEFAULT_REQUEST_TTL_MS;
    this.noEndpointTtl = options.noEndpointRequestTtlMs ?? this.defaultTtl;
    this.pollInterval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  }

  /** Requests waiting in queues. */
  get queued(): number {
    return this.pending.size;
  }

  /** Waits until the request may proceed to scheduling, or says why it may not. */
  admit(request: FlowRequest, signal?: AbortSignal): Promise<AdmitResult> {
    if (this.closed) return Promise.resolve(this.finishEarly(request, 'RejectedOther'));
    if (signal?.aborted) return Promise.resolve(this.finishEarly(request, 'EvictedContextCancelled'));
    const band = this.band(request.priority);
    const empty = this.options.endpoints().length === 0;
    const { maxRequests = 0, maxBytes = 0 } = this.options;
    if (band.count + 1 > band.policy.maxRequests || band.bytes + request.byteSize > band.policy.maxBytes
      || (maxRequests > 0 && this.pending.size + 1 > maxRequests) || (maxBytes > 0 && this.queuedBytes + request.byteSize > maxBytes)) {
      return Promise.resolve(this.finishEarly(request, empty ? 'RejectedNoEndpoints' : 'RejectedCapacity'));
    }
    const now = this.clock.now();
    const ttl = empty ? this.noEndpointTtl : this.defaultTtl;
    const item: QueueItem = { request, seq: this.seq++, enqueuedAt: now, deadline: ttl > 0 ? now + ttl : Infinity };
    let flow = band.flows.get(request.fairnessId);
    if (!flow) {
      flow = new FlowQueue(request.fairnessId, band.policy.ordering);
      band.flows.set(request.fairnessId, flow);
    }
    return new Promise<AdmitResult>((resolve) => {
      const entry: Pending = { item, band, flow, labels: labelsOf(request), resolve, emptyRegime: empty, budgetStart: now };
      flow.push(item);
      band.count++;
      band.bytes += request.byteSize;
      this.queuedBytes += request.byteSize;
      this.pending.set(item, entry);
      this.options.metrics?.queued(entry.labels, request.byteSize, 1);
      if (signal) {
        const onAbort = () => this.evict(entry, 'EvictedContextCancelled');
        signal.addEventListener('abort', onAbort, { once: true });
        entry.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.dispatch();
      this.schedulePoll();
    });
  }

  /** Expires what is due and dispatches what may go (the poll timer calls this). */
  poll(): void {
    this.expire();
    this.dispatch();
  }

  /** Rejects everything queued (503) and refuses new requests. */
  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    for (const entry of [...this.pending.values()]) this.evict(entry, 'RejectedOther');
  }

  private band(priority: number): Band {
    let band = this.bands.get(priority);
    if (!band) {
      band = { priority, policy: this.options.bandFor(priority), flows: new Map(), count: 0, bytes: 0 };
      this.bands.set(priority, band);
      this.ordered = [...this.bands.values()].sort((a, b) => b.priority - a.priority);
    }
    return band;
  }

  private dispatch(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.pending.size > 0 && this.dispatchOne()) { /* one request per round */ }
    } finally {
      this.dispatching = false;
    }
  }

  private dispatchOne(): boolean {
    const endpoints = this.options.endpoints();
    if (endpoints.length === 0) return false;
    const now = this.clock.now();
    const saturation = this.options.detector.saturation({ endpoints, inFlight: this.inFlight, now });
    this.options.metrics?.poolSaturation.set({ inference_pool: this.options.metrics.pool, stage: 'effective' }, saturation);
    if (this.options.detector.lastStale !== undefined) this.options.metrics?.staleEndpoints.set({ detector: this.options.detector.name }, this.options.detector.lastStale);
    const ceilings = this.usageLimit.ceilings(saturation, this.ordered.map((band) => band.priority));
    for (const [i, band] of this.ordered.entries()) {
      if (band.count === 0) continue;
      if (saturation >= (ceilings[i] ?? 1)) return false;
      const flows = [...band.flows.values()].filter((flow) => flow.length > 0);
      const flow = band.policy.fairness.pick(flows, band.policy.ordering, now);
      const item = flow?.head();
      if (!flow || !item) return false;
      const entry = this.pending.get(item)!;
      this.dequeue(entry);
      const waitedMs = now - item.enqueuedAt;
      band.policy.fairness.onDispatch?.(item.request.fairnessId, waitedMs, now);
      this.inFlight++;
      this.options.metrics?.finished(entry.labels, 'Dispatched', waitedMs / 1000);
      entry.resolve({ admitted: true, ticket: this.ticket(band, item.request.fairnessId, waitedMs) });
      return true;
    }
    return false;
  }

  private ticket(band: Band, fairnessId: string, waitedMs: number): FlowTicket {
    let released = false;
    return {
      waitedMs,
      release: (usage?: FlowUsage) => {
        if (released) return;
        released = true;
        this.inFlight--;
        band.policy.fairness.onComplete?.(fairnessId, usage, this.clock.now());
        this.dispatch();
      },
    };
  }

  private expire(): void {
    const now = this.clock.now();
    const empty = this.options.endpoints().length === 0;
    for (const entry of [...this.pending.values()]) {
      if (entry.emptyRegime !== empty) {
        entry.emptyRegime = empty;
        entry.budgetStart = now;
      }
      const ttl = empty ? this.noEndpointTtl : this.defaultTtl;
      // Total wait stays bounded by the longer budget, whatever the regime changes.
      const bound = Math.max(this.defaultTtl, this.noEndpointTtl);
      const overBound = this.defaultTtl > 0 && this.noEndpointTtl > 0 && now - entry.item.enqueuedAt >= bound;
      if ((ttl > 0 && now - entry.budgetStart >= ttl) || overBound) this.evict(entry, empty ? 'EvictedNoEndpoints' : 'EvictedTTL');
    }
  }

  private evict(entry: Pending, outcome: Exclude<QueueOutcome, 'Dispatched'>): void {
    if (!this.pending.has(entry.item)) return;
    this.dequeue(entry);
    this.options.metrics?.finished(entry.labels, outcome, (this.clock.now() - entry.item.enqueuedAt) / 1000);
    entry.resolve(rejection(outcome));
  }

  private dequeue(entry: Pending): void {
    this.pending.delete(entry.item);
    entry.flow.remove(entry.item);
    entry.band.count--;
    entry.band.bytes -= entry.item.request.byteSize;
    this.queuedBytes -= entry.item.request.byteSize;
    entry.detach?.();
    if (entry.flow.length === 0) entry.band.flows.delete(entry.flow.fairnessId);
    this.options.metrics?.queued(entry.labels, entry.item.request.byteSize, -1);
  }

  private finishEarly(request: FlowRequest, outcome: Exclude<QueueOutcome, 'Dispatched'>): AdmitResult {
    this.options.metrics?.finished(labelsOf(request), outcome, 0);
    return rejection(outcome);
  }

  private schedulePoll(): void {
    if (this.cancelTimer || this.pending.size === 0 || this.closed) return;
    this.cancelTimer = this.clock.setTimer(() => {
      this.cancelTimer = undefined;
      this.poll();
      this.schedulePoll();
    }, this.pollInterval);
  }
}

function labelsOf(request: FlowRequest): QueueLabelValues {
  return { fairnessId: request.fairnessId, priority: request.priority, model: request.model ?? '', targetModel: request.targetModel ?? request.model ?? '' };
}
