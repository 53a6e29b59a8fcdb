/**
 * One scheduling decision of the step engine: vLLM-style continuous batching with chunked prefill
 * (docs/simulator.md "Step engine"). Each step has a token budget (`--max-num-batched-tokens`):
 *
 *  1. one token for every running request that is decoding (one token left to compute);
 *  2. then chunks of running requests still prefilling (or recomputing after a preemption), in
 *     admission order, each as much as the budget still allows;
 *  3. then, if nothing was preempted this step, waiting requests in FIFO order while the budget
 *     lasts and fewer than `--max-num-seqs` run: prefix-cache hits are skipped, the rest is chunked.
 *
 * KV blocks are allocated for the granted tokens. When the pool cannot hold them, the newest
 * running request is preempted (its blocks freed, its progress dropped: it is recomputed later,
 * first in line) until the allocation fits or the request itself was the newest. A waiting request
 * that does not fit stops admission (FIFO, no overtaking). A decode leg of P/D (remote prefill)
 * gets blocks for its whole prompt at admission and then waits for its KV transfer, outside the
 * batch; it joins the running requests when the transfer is done.
 */
import type { BlockOwner, BlockPool, PoolBlock } from './block-pool.js';
import type { ScheduledSeq } from './roofline.js';

export interface SchedRequest extends BlockOwner {
  readonly id: string;
  readonly promptTokens: number;
  /** Tokens generated so far (already sent). */
  emitted: number;
  /** Tokens whose KV is computed. */
  computed: number;
  /** Decode leg of P/D: the prompt's KV arrives by transfer. */
  readonly remotePrefill: boolean;
  /** Decode leg: blocks allocated, transfer under way (skipped by admission). */
  loading: boolean;
  /** Decode leg: transfer done (computed = prompt − 1). */
  loaded: boolean;
  /** Prefix-cache hit at the first admission, tokens (−1 before it). */
  cachedTokens: number;
}

/** Tokens known (prompt + generated): computing the last one samples the next. */
export function knownTokens(request: SchedRequest): number {
  return request.promptTokens + request.emitted;
}

export interface ScheduledEntry extends ScheduledSeq {
  request: SchedRequest;
}

export interface SchedulerQueues {
  /** Admission order; the last is the newest (preempted first). */
  running: SchedRequest[];
  /** FIFO; preempted requests go back to the front. */
  waiting: SchedRequest[];
}

export interface SchedulerLimits {
  maxNumBatchedTokens: number;
  maxNumSeqs: number;
}

export interface StepPlan {
  batch: ScheduledEntry[];
  preempted: SchedRequest[];
  /** Requests admitted for the first time (prefix-cache statistics). */
  admitted: SchedRequest[];
  /** Decode legs that got their blocks and now wait for the transfer. */
  transfers: SchedRequest[];
}

export function planStep(queues: SchedulerQueues, pool: BlockPool, limits: SchedulerLimits): StepPlan {
  const plan: StepPlan = { batch: [], preempted: [], admitted: [], transfers: [] };
  let budget = limits.maxNumBatchedTokens;
  const inBatch = new Map<SchedRequest, ScheduledEntry>();

  const preemptNewest = (): SchedRequest | undefined => {
    const victim = queues.running.pop();
    if (victim === undefined) return undefined;
    const entry = inBatch.get(victim);
    if (entry) {
      budget += entry.newTokens;
      inBatch.delete(victim);
      plan.batch.splice(plan.batch.indexOf(entry), 1);
    }
    pool.free(victim);
    victim.computed = 0;
    queues.waiting.unshift(victim);
    plan.preempted.push(victim);
    return victim;
  };

  const grant = (request: SchedRequest, tokens: number): void => {
    const entry: ScheduledEntry = { request, newTokens: tokens, contextTokens: request.computed, samples: request.computed + tokens === knownTokens(request) };
    plan.batch.push(entry);
    inBatch.set(request, entry);
    budget -= tokens;
  };

  const runPass = (decoding: boolean): void => {
    for (let i = 0; i < queues.running.length && budget > 0; i++) {
      const request = queues.running[i]!;
      const remaining = knownTokens(request) - request.computed;
      if (inBatch.has(request) || remaining <= 0 || (remaining === 1) !== decoding) continue;
      const tokens = Math.min(remaining, budget);
      let fits = pool.allocate(request, request.computed + tokens);
      while (!fits) {
        const victim = preemptNewest();
        if (victim === undefined || victim === request) break;
        fits = pool.allocate(request, request.computed + tokens);
      }
      if (!fits) return;
      grant(request, tokens);
    }
  };
  runPass(true);
  runPass(false);
  if (plan.preempted.length > 0) return plan;

  for (let i = 0; i < queues.waiting.length && budget > 0 && queues.running.length < limits.maxNumSeqs; i++) {
    const request = queues.waiting[i]!;
    if (request.loading) continue;
    if (request.remotePrefill && !request.loaded) {
      const hits = pool.lookup(request, request.promptTokens);
      if (!pool.allocate(request, request.promptTokens, hits)) break;
      if (request.cachedTokens < 0) {
        request.cachedTokens = hits.length * pool.blockSize;
        plan.admitted.push(request);
      }
      request.computed = hits.length * pool.blockSize;
      request.loading = true;
      plan.transfers.push(request);
      continue;
    }
    const known = knownTokens(request);
    let hits: PoolBlock[] = [];
    if (request.blocks.length === 0) {
      hits = pool.lookup(request, known);
      request.computed = hits.length * pool.blockSize;
    }
    const tokens = Math.min(known - request.computed, budget);
    if (!pool.allocate(request, request.computed + tokens, hits)) {
      if (request.blocks.length === 0) request.computed = 0;
      break;
    }
    if (request.cachedTokens < 0) {
      request.cachedTokens = hits.length * pool.blockSize;
      plan.admitted.push(request);
    }
    queues.waiting.splice(i--, 1);
    queues.running.push(request);
    grant(request, tokens);
  }
  return plan;
}
