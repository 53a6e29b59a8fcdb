/**
 * Per-endpoint in-flight request counts (what llm-d's `inflight-load-producer` tracks for the
 * `active-request-scorer`): +1 per profile target when a request is dispatched (PreRequest), −1 when
 * its response completes (ResponseComplete).
 *
 * Requests are keyed by the InferenceRequest object, not by `x-request-id` (a client may reuse one).
 * Two safety nets keep the counts honest when a completion never arrives (e.g. a later PreRequest
 * plugin threw after this one counted): requests older than `maxAgeMs` are expired, and endpoints
 * that left the pool are dropped (with their pending releases, so a pod that comes back under the
 * same name starts from zero).
 */

/** A completion lost for this long is assumed: longer than any sane generation. */
export const DEFAULT_MAX_IN_FLIGHT_AGE_MS = 60 * 60_000;

export interface InFlightCounterOptions {
  /** Clock in ms (tests). */
  now?: () => number;
  maxAgeMs?: number;
}

interface Tracked {
  endpoints: string[];
  readonly since: number;
}

export class InFlightCounter {
  private readonly counts = new Map<string, number>();
  private readonly inFlight = new Map<object, Tracked>();
  private readonly now: () => number;
  private readonly maxAgeMs: number;

  constructor(options: InFlightCounterOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_IN_FLIGHT_AGE_MS;
  }

  /** Requests currently counted on the endpoint. */
  get(endpointName: string): number {
    return this.counts.get(endpointName) ?? 0;
  }

  /** Requests being tracked. */
  get requests(): number {
    return this.inFlight.size;
  }

  /** Counts `request` once on each listed endpoint (twice if listed twice). Re-adding replaces. */
  add(request: object, endpointNames: readonly string[]): void {
    this.release(request);
    if (endpointNames.length === 0) return;
    for (const name of endpointNames) this.counts.set(name, this.get(name) + 1);
    this.inFlight.set(request, { endpoints: [...endpointNames], since: this.now() });
  }

  /** Uncounts `request`; false when it was not tracked (already released or expired). */
  release(request: object): boolean {
    const tracked = this.inFlight.get(request);
    if (!tracked) return false;
    this.inFlight.delete(request);
    for (const name of tracked.endpoints) this.decrement(name);
    return true;
  }

  /** Releases requests tracked for longer than `maxAgeMs`; returns how many. */
  expire(): number {
    const cutoff = this.now() - this.maxAgeMs;
    let expired = 0;
    for (const [request, tracked] of this.inFlight) {
      if (tracked.since > cutoff) continue;
      this.release(request);
      expired++;
    }
    return expired;
  }

  /** Forgets every endpoint not in `active`, including the pending releases that name it. */
  retainEndpoints(active: ReadonlySet<string>): void {
    for (const name of this.counts.keys()) if (!active.has(name)) this.counts.delete(name);
    for (const [request, tracked] of this.inFlight) {
      tracked.endpoints = tracked.endpoints.filter((name) => active.has(name));
      if (tracked.endpoints.length === 0) this.inFlight.delete(request);
    }
  }

  private decrement(name: string): void {
    const count = this.get(name) - 1;
    if (count > 0) this.counts.set(name, count);
    else this.counts.delete(name);
  }
}
