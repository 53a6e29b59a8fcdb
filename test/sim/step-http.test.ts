/** `--engine-model step` over real HTTP: streaming with usage, and /metrics showing running/waiting from the model. */
import { afterAll, describe, expect, it } from 'vitest';
import { closeAll, eventually, metrics, metricValue, post, sim, sseEvents } from './helpers.js';

afterAll(closeAll);

describe('sim --engine-model step over HTTP', () => {
  it('streams tokens with usage; metrics reflect running and waiting requests', async () => {
    // max-num-seqs 1: a second request waits while the first decodes.
    const { url } = await sim({ engineModel: 'step', hardware: 'h200', modelProfile: 'llama-3.1-8b', maxNumSeqs: 1, maxModelLen: 4096 });
    const body = { model: 'm', prompt: 'hello world '.repeat(50), max_tokens: 200, ignore_eos: true, stream: true, stream_options: { include_usage: true } };
    const first = post(url, '/v1/completions', body);
    const second = post(url, '/v1/completions', body);
    await eventually(async () => {
      const text = await metrics(url);
      return metricValue(text, 'vllm:num_requests_running{model_name="m"}') === 1 && metricValue(text, 'vllm:num_requests_waiting{model_name="m"}') === 1;
    });
    for (const response of [await first, await second]) {
      expect(response.status).toBe(200);
      const events = await sseEvents(response);
      expect(events.at(-1)).toBe('[DONE]');
      const usage = events.at(-2).usage;
      expect(usage.completion_tokens).toBe(200);
      expect(events.filter((e) => e !== '[DONE]' && e.choices.length === 1 && e.choices[0].text !== '')).toHaveLength(200);
    }
    const text = await metrics(url);
    expect(metricValue(text, 'vllm:num_requests_running{model_name="m"}')).toBe(0);
    expect(metricValue(text, 'vllm:generation_tokens_total{model_name="m"}')).toBe(400);
    expect(metricValue(text, 'vllm:time_to_first_token_seconds_count{model_name="m"}')).toBe(2);
    expect(metricValue(text, 'vllm:inter_token_latency_seconds_count{model_name="m"}')).toBe(398);
  });

  it('start-up fails loudly on latency settings the step engine would ignore, and on bad values', async () => {
    await expect(sim({ engineModel: 'step', interTokenLatency: 10 })).rejects.toThrow(/no effect with --engine-model step/);
    await expect(sim({ engineModel: 'step', computeEfficiency: 1.5 })).rejects.toThrow(/compute-efficiency/);
    await expect(sim({ engineModel: 'step', hardware: 'tpu' })).rejects.toThrow(/unknown hardware/);
    await expect(sim({ engineModel: 'step', hardware: 'l40s', modelProfile: 'llama-3.1-70b', tensorParallelSize: 1 })).rejects.toThrow(/does not fit/);
  });
});
