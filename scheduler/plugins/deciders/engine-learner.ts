/**
 * Learns each pod's speed online from its own vLLM metrics, so `adaptive-pd-decider` needs no
 * calibration. One job: turn deltas between two scrapes of a pod into an `EngineModel`.
 *
 * The model of one vLLM pod (ms, tokens):
 *     step(n)      = decodeStepBaseMs + decodeStepPerRequestMs · n   (one engine step, n running)
 *     prefill(U)   = U / prefillTokensPerSec · 1000                  (compute of U uncached tokens)
 *     meanPromptTokens: the average prompt of the requests it served (sizes its waiting queue)
 *
 * Between two scrapes (Δ of the cumulative counters in `EndpointMetrics.engineCounters`, taken
 * only when the newer scrape is newer and no counter went backwards, i.e. no restart):
 * - ITL: y = Δitl_sum/Δitl_count (ms) at x = mean running count of the two scrapes. The pairs
 *   (x, y) feed an exponentially weighted least-squares fit y = base + slope·x. While x has not
 *   varied enough (variance < 0.25) only the slope is fitted, with base kept at its prior.
 * - prefill throughput: Δprompt_tokens / Δttft_sum when the waiting queue was empty at both
 *   scrapes (TTFT is then mostly compute; concurrent prefills make this a lower bound), or
 *   Δprompt_tokens / Δt when it was non-empty at both (the pod was busy: what it got through is
 *   its throughput under that load). Mixed intervals teach nothing.
 * - meanPromptTokens: Δprompt_tokens / Δttft_count.
 * Each estimate is an EWMA with weight `alpha` per observation, clamped to [prior/8, prior·8] so a
 * strange interval (prefix-cache hits and KV transferred in by P/D count as prompt tokens and make a
 * decode pod look faster at prefill than it is) cannot run away. Pods unseen for 10 minutes are
 * forgotten. Until a pod has taught something, its model is the prior.
 */
import type { EngineCounters, Endpoint } from '../../framework/endpoint.js';

export interface EngineModel {
  readonly prefillTokensPerSec: number;
  readonly decodeStepBaseMs: number;
  readonly decodeStepPerRequestMs: number;
  readonly meanPromptTokens: number;
}

/** One engine step with `running` requests decoding (ms). */
export function stepMs(model: EngineModel, running: number): number {
  return model.decodeStepBaseMs + model.decodeStepPerRequestMs * Math.max(0, running);
}

interface Snapshot {
  readonly at: number;
  readonly counters: EngineCounters;
  readonly running: number;
  readonly waiting: number;
}

interface PodState {
  last: Snapshot;
  seenAt: number;
  prefillTokensPerSec?: number;
  meanPromptTokens?: number;
  /** Exponentially weighted sums of the ITL fit: weight, Σx, Σy, Σxx, Σxy. */
  fit?: { w: number; x: number; y: number; xx: number; xy: number };
}

const FORGET_AFTER_MS = 10 * 60_000;
const MIN_X_VARIANCE = 0.25;
const CLAMP = 8;

const clamp = (value: number, prior: number): number => Math.min(prior * CLAMP, Math.max(prior / CLAMP, value));
const ewma = (old: number | undefined, value: number, alpha: number): number => (old === undefined ? value : old + alpha * (value - old));

export class EngineLearner {
  private readonly pods = new Map<string, PodState>();
  private lastSweep = 0;

  constructor(readonly prior: EngineModel, readonly alpha: number) {}

  /** Learns from the endpoint's latest scrape if it is newer than the last one seen. */
  observe(endpoint: Endpoint, now = Date.now()): void {
    const { engineCounters: counters, updatedAt, runningRequestsSize, waitingQueueSize } = endpoint.metrics;
    if (!counters || updatedAt <= 0) return;
    const current: Snapshot = { at: updatedAt, counters, running: runningRequestsSize, waiting: waitingQueueSize };
    const state = this.pods.get(endpoint.name);
    if (!state) {
      this.pods.set(endpoint.name, { last: current, seenAt: now });
    } else {
      state.seenAt = now;
      if (current.at > state.last.at) {
        this.learn(state, state.last, current);
        state.last = current;
      }
    }
    this.sweep(now);
  }

  /** The pod's learned model, or the prior where it taught nothing yet. */
  model(endpoint: Endpoint): EngineModel {
    const state = this.pods.get(endpoint.name);
    if (!state) return this.prior;
    const prior = this.prior;
    let base = prior.decodeStepBaseMs;
    let slope = prior.decodeStepPerRequestMs;
    const fit = state.fit;
    if (fit && fit.w > 0) {
      const mx = fit.x / fit.w;
      const my = fit.y / fit.w;
      const varX = fit.xx / fit.w - mx * mx;
      if (varX >= MIN_X_VARIANCE) {
        slope = Math.max(0, (fit.xy / fit.w - mx * my) / varX);
        base = my - slope * mx;
        if (base < 0) {
          base = 0;
          slope = mx > 0 ? my / mx : slope;
        }
      } else if (mx >= 1) {
        slope = Math.max(0, (my - base) / mx);
      } else {
        base = my;
      }
      base = clamp(base, prior.decodeStepBaseMs);
      slope = Math.min(slope, prior.decodeStepPerRequestMs * CLAMP);
    }
    return {
      prefillTokensPerSec: state.prefillTokensPerSec ?? prior.prefillTokensPerSec,
      decodeStepBaseMs: base,
      decodeStepPerRequestMs: slope,
      meanPromptTokens: state.meanPromptTokens ?? prior.meanPromptTokens,
    };
  }

  private learn(state: PodState, before: Snapshot, after: Snapshot): void {
    const a = before.counters;
    const b = after.counters;
    const d = {
      ttftSeconds: b.ttftSeconds - a.ttftSeconds, ttftCount: b.ttftCount - a.ttftCount,
      itlSeconds: b.itlSeconds - a.itlSeconds, itlCount: b.itlCount - a.itlCount,
      promptTokens: b.promptTokens - a.promptTokens,
    };
    if (Object.values(d).some((delta) => delta < 0 || !Number.isFinite(delta))) return; // restarted
    const prior = this.prior;
    if (d.itlCount > 0 && d.itlSeconds > 0) {
      const x = (before.running + after.running) / 2;
      const y = (d.itlSeconds / d.itlCount) * 1000;
      const keep = 1 - this.alpha;
      const fit = state.fit ?? { w: 0, x: 0, y: 0, xx: 0, xy: 0 };
      state.fit = { w: fit.w * keep + 1, x: fit.x * keep + x, y: fit.y * keep + y, xx: fit.xx * keep + x * x, xy: fit.xy * keep + x * y };
    }
    if (d.ttftCount > 0 && d.promptTokens > 0) {
      state.meanPromptTokens = clamp(ewma(state.meanPromptTokens, d.promptTokens / d.ttftCount, this.alpha), prior.meanPromptTokens);
      const seconds = (after.at - before.at) / 1000;
      let rate: number | undefined;
      if (before.waiting === 0 && after.waiting === 0 && d.ttftSeconds > 0) rate = d.promptTokens / d.ttftSeconds;
      else if (before.waiting > 0 && after.waiting > 0 && seconds > 0) rate = d.promptTokens / seconds;
      if (rate !== undefined) state.prefillTokensPerSec = clamp(ewma(state.prefillTokensPerSec, rate, this.alpha), prior.prefillTokensPerSec);
    }
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [name, state] of this.pods) if (now - state.seenAt > FORGET_AFTER_MS) this.pods.delete(name);
  }
}
