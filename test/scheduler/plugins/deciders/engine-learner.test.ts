/** The throughput learner: deltas between two scrapes move each pod's engine model the right way. */
import { describe, expect, it } from 'vitest';
import { metricsFromScrape } from '../../../../scheduler/datalayer/vllm-metrics.js';
import { emptyMetrics, type Endpoint, type EndpointMetrics } from '../../../../scheduler/framework/endpoint.js';
import { EngineLearner, stepMs, type EngineModel } from '../../../../scheduler/plugins/deciders/engine-learner.js';
import { makeEndpoint } from '../../helpers.js';

const PRIOR: EngineModel = { prefillTokensPerSec: 20_000, decodeStepBaseMs: 8, decodeStepPerRequestMs: 0.08, meanPromptTokens: 1024 };

interface ScrapeInit {
  at: number;
  running?: number;
  waiting?: number;
  ttftSum?: number;
  ttftCount?: number;
  itlSum?: number;
  itlCount?: number;
  prompt?: number;
}

/** A vLLM /metrics text with these cumulative values, parsed the way the scraper parses it. */
function scrape(init: ScrapeInit, previous: EndpointMetrics = emptyMetrics()): EndpointMetrics {
  const text = [
    `vllm:num_requests_running{model_name="m"} ${init.running ?? 0}`,
    `vllm:num_requests_waiting{model_name="m"} ${init.waiting ?? 0}`,
    `vllm:time_to_first_token_seconds_sum{model_name="m"} ${init.ttftSum ?? 0}`,
    `vllm:time_to_first_token_seconds_count{model_name="m"} ${init.ttftCount ?? 0}`,
    `vllm:inter_token_latency_seconds_sum{model_name="m"} ${init.itlSum ?? 0}`,
    `vllm:inter_token_latency_seconds_count{model_name="m"} ${init.itlCount ?? 0}`,
    `vllm:prompt_tokens_total{model_name="m"} ${init.prompt ?? 0}`,
  ].join('\n');
  return metricsFromScrape(text, previous, init.at);
}

/** Feeds the learner a sequence of scrapes of one pod. */
function feed(learner: EngineLearner, name: string, ...scrapes: ScrapeInit[]): Endpoint {
  let endpoint = makeEndpoint({ name });
  for (const init of scrapes) {
    endpoint = { ...endpoint, metrics: scrape(init, endpoint.metrics) };
    learner.observe(endpoint);
  }
  return endpoint;
}

describe('EngineLearner', () => {
  it('is the prior until a pod has taught something (a single scrape teaches nothing)', () => {
    const learner = new EngineLearner(PRIOR, 0.5);
    expect(learner.model(makeEndpoint({ name: 'never-seen' }))).toEqual(PRIOR);
    expect(learner.model(feed(learner, 'once', { at: 1000, itlSum: 5, itlCount: 100, running: 40 }))).toEqual(PRIOR);
  });

  it('slow observed ITL at a steady running count → a costlier step per running request', () => {
    const learner = new EngineLearner(PRIOR, 0.5);
    // 1000 tokens at 30 ms each with 40 running, prior says step(40) = 11.2 ms.
    const pod = feed(learner, 'd', { at: 1000, running: 40 }, { at: 11_000, running: 40, itlSum: 30, itlCount: 1000 });
    const model = learner.model(pod);
    expect(model.decodeStepBaseMs).toBe(PRIOR.decodeStepBaseMs);
    expect(model.decodeStepPerRequestMs).toBeGreaterThan(PRIOR.decodeStepPerRequestMs);
    expect(stepMs(model, 40)).toBeCloseTo(30, 6);
  });

  it('ITL at two running counts → fits both the base and the per-request cost', () => {
    const learner = new EngineLearner(PRIOR, 0.5);
    // step = 6 + 0.3·n exactly. An interval counts at the mean running count of its two ends:
    // 10 → 9 ms, 30 → 15 ms, 50 → 21 ms (100 tokens each).
    const pod = feed(learner, 'd',
      { at: 1000, running: 10 },
      { at: 2000, running: 10, itlSum: 0.9, itlCount: 100 },
      { at: 3000, running: 50, itlSum: 0.9 + 1.5, itlCount: 200 },
      { at: 4000, running: 50, itlSum: 0.9 + 1.5 + 2.1, itlCount: 300 });
    const model = learner.model(pod);
    expect(model.decodeStepPerRequestMs).toBeGreaterThan(PRIOR.decodeStepPerRequestMs);
    expect(model.decodeStepBaseMs).toBeLessThan(PRIOR.decodeStepBaseMs);
    expect(model.decodeStepBaseMs).toBeCloseTo(6, 6);
    expect(model.decodeStepPerRequestMs).toBeCloseTo(0.3, 6);
  });

  it('prefill throughput: from TTFT when nothing queued (slower pod → lower), from wall time when busy (faster → higher)', () => {
    const learner = new EngineLearner(PRIOR, 1);
    // Idle: 50 prompts of 1000 tokens took 10 s of TTFT in total → 5000 tokens/s.
    const slow = feed(learner, 'slow', { at: 1000 }, { at: 11_000, ttftSum: 10, ttftCount: 50, prompt: 50_000 });
    expect(learner.model(slow).prefillTokensPerSec).toBeCloseTo(5000, 6);
    expect(learner.model(slow).meanPromptTokens).toBeCloseTo(1000, 6);
    // Busy (queue at both scrapes): 400 000 prompt tokens in 10 s → 40 000 tokens/s.
    const fast = feed(learner, 'fast', { at: 1000, waiting: 5 }, { at: 11_000, waiting: 5, ttftSum: 200, ttftCount: 100, prompt: 400_000 });
    expect(learner.model(fast).prefillTokensPerSec).toBeCloseTo(40_000, 6);
    // Queue at one end only: says nothing about throughput.
    const mixed = feed(learner, 'mixed', { at: 1000, waiting: 0 }, { at: 11_000, waiting: 3, ttftSum: 100, ttftCount: 10, prompt: 10_000 });
    expect(learner.model(mixed).prefillTokensPerSec).toBe(PRIOR.prefillTokensPerSec);
  });

  it('EWMA: a second observation moves the estimate part of the way', () => {
    const learner = new EngineLearner(PRIOR, 0.5);
    const pod = feed(learner, 'p',
      { at: 1000 },
      { at: 2000, ttftSum: 1, ttftCount: 10, prompt: 10_000 }, // 10 000 tokens/s
      { at: 3000, ttftSum: 2, ttftCount: 20, prompt: 40_000 }); // 30 000 tokens/s
    expect(learner.model(pod).prefillTokensPerSec).toBeCloseTo(20_000, 6);
  });

  it('counters going backwards (restart) and repeated scrapes teach nothing; extreme values are clamped', () => {
    const learner = new EngineLearner(PRIOR, 1);
    const restarted = feed(learner, 'r', { at: 1000, ttftSum: 100, ttftCount: 100, prompt: 100_000 }, { at: 2000, ttftSum: 1, ttftCount: 1, prompt: 10 });
    expect(learner.model(restarted)).toEqual(PRIOR);
    const absurd = feed(learner, 'a', { at: 1000 }, { at: 2000, ttftSum: 1000, ttftCount: 1, prompt: 1 });
    expect(learner.model(absurd).prefillTokensPerSec).toBe(PRIOR.prefillTokensPerSec / 8);
    const same = makeEndpoint({ name: 's', metrics: scrape({ at: 5000 }) });
    learner.observe(same);
    learner.observe({ ...same, metrics: { ...scrape({ at: 5000, ttftSum: 1, ttftCount: 1, prompt: 1000 }) } });
    expect(learner.model(same)).toEqual(PRIOR);
  });
});
