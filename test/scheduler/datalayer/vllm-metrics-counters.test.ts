/** vLLM's latency histograms and token counters in a scrape → EndpointMetrics.engineCounters. */
import { describe, expect, it } from 'vitest';
import { metricsFromScrape } from '../../../scheduler/datalayer/vllm-metrics.js';
import { emptyMetrics } from '../../../scheduler/framework/endpoint.js';

const SCRAPE = `
# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 3.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 5.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 1.25
vllm:time_to_first_token_seconds_count{engine="0",model_name="m"} 5.0
vllm:time_to_first_token_seconds_sum{engine="1",model_name="m"} 0.75
vllm:time_to_first_token_seconds_count{engine="1",model_name="m"} 3.0
vllm:inter_token_latency_seconds_sum{engine="0",model_name="m"} 2.5
vllm:inter_token_latency_seconds_count{engine="0",model_name="m"} 100.0
vllm:time_per_output_token_seconds_sum{engine="0",model_name="m"} 99.0
vllm:time_per_output_token_seconds_count{engine="0",model_name="m"} 99.0
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="m"} 4000.0
vllm:prompt_tokens_total{engine="1",model_name="m"} 1000.0
vllm:generation_tokens_total{engine="0",model_name="m"} 700.0
vllm:num_requests_running{engine="0",model_name="m"} 2.0
`;

describe('engine counters from a vLLM scrape', () => {
  it('sums _sum/_count and token counters over series; prefers inter_token_latency over the older name', () => {
    const metrics = metricsFromScrape(SCRAPE, emptyMetrics(), 7);
    expect(metrics.engineCounters).toEqual({
      ttftSeconds: 2, ttftCount: 8, itlSeconds: 2.5, itlCount: 100, promptTokens: 5000, generationTokens: 700,
    });
    expect(metrics.runningRequestsSize).toBe(2);
  });

  it('reads the older vllm:time_per_output_token_seconds when inter_token_latency is absent', () => {
    const older = 'vllm:time_per_output_token_seconds_sum{model_name="m"} 0.5\nvllm:time_per_output_token_seconds_count{model_name="m"} 20\n';
    expect(metricsFromScrape(older, emptyMetrics(), 1).engineCounters).toEqual({
      ttftSeconds: 0, ttftCount: 0, itlSeconds: 0.5, itlCount: 20, promptTokens: 0, generationTokens: 0,
    });
  });

  it('a scrape without any of them keeps the previous counters; none ever → absent', () => {
    const first = metricsFromScrape(SCRAPE, emptyMetrics(), 1);
    const next = metricsFromScrape('vllm:num_requests_running 4\n', first, 2);
    expect(next.engineCounters).toEqual(first.engineCounters);
    expect(next.runningRequestsSize).toBe(4);
    expect(metricsFromScrape('vllm:num_requests_running 4\n', emptyMetrics(), 1).engineCounters).toBeUndefined();
  });
});
