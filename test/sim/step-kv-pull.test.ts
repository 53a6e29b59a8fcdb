/**
 * P/D block release across processes (src/sim/step/kv-pull.ts): a prefill-role step sim holds a
 * finished prompt's blocks until the decode-role sim that read them sends its pull notice, or
 * until the hold timeout (virtual time here, so no wall-clock assertion).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { completeConfig } from '../../src/sim/config.js';
import { NOOP_KV_EVENT_SINK } from '../../src/sim/kv-events.js';
import { VirtualClock } from '../../src/sim/step/clock.js';
import { StepEngine } from '../../src/sim/step/engine.js';
import { KV_PULL_PATH } from '../../src/sim/step/kv-pull.js';
import { resolveSpec } from '../../src/sim/step/presets.js';
import { poll } from '../helpers/poll.js';
import { closeAll, metrics, metricValue, postJson, sim } from './helpers.js';

afterAll(closeAll);

const STEP = { engineModel: 'step', hardware: 'h200', modelProfile: 'llama-3.1-8b', maxModelLen: 8192, enableKvcache: true } as const;
const PROMPT = 'The quick brown fox jumps over the lazy dog near the river bank. '.repeat(60);
const kvUsage = async (url: string): Promise<number> => metricValue(await metrics(url), 'vllm:kv_cache_usage_perc{model_name="m"}') ?? -1;

describe('step engine: held prefill blocks (virtual time)', () => {
  it('frees never-pulled blocks at the hold timeout, not before', () => {
    const clock = new VirtualClock();
    const spec = resolveSpec(completeConfig({ model: 'm', engineModel: 'step', hardware: 'h200', modelProfile: 'llama-3.1-8b' }));
    const engine = new StepEngine({
      spec, clock, blockSize: 16, kvCacheBlocks: 1000, maxNumBatchedTokens: 2048, maxNumSeqs: 8, maxWaitingQueueLength: 10,
      hashSeed: '', holdTimeoutMs: 1_000, transfer: { bandwidth: 40e9, latencyMs: 2 }, kvEventSink: NOOP_KV_EVENT_SINK,
    });
    let finishedAt = -1;
    const sink = { started: () => {}, token: () => {}, finished: () => { if (finishedAt < 0) finishedAt = clock.now(); }, failed: () => {} };
    const prompt = Array.from({ length: 320 }, (_, i) => i);
    // Two choices of one request share the release id.
    for (const id of ['req-0', 'req-1']) engine.submit({ id, releaseId: 'req', promptIds: prompt, outputIds: [7], model: 'm', remotePrefill: false, remoteDecode: true, sink });
    clock.run(500);
    expect(finishedAt).toBeGreaterThanOrEqual(0);
    expect(engine.heldRequests).toBe(2);
    const used = engine.pool.usedBlocks;
    expect(used).toBeGreaterThanOrEqual(20);
    expect(new Set(engine.heldBlockIds('req')).size).toBe(used);
    // Each choice is held from its own finish; the first one's timeout is the earliest.
    clock.run(finishedAt + 999);
    expect(engine.pool.usedBlocks).toBe(used);
    clock.run(finishedAt + 5_000);
    expect(engine.heldRequests).toBe(0);
    expect(engine.pool.usedBlocks).toBe(0);
    expect(engine.release('req')).toBe(false);
  });
});

describe('step sims over HTTP: the decode leg pulls the prefill leg\'s blocks', () => {
  it('prefill answer names the held blocks; the decode leg\'s pull frees them; a wrong notice frees nothing', async () => {
    const [prefill, decode] = await Promise.all([sim({ ...STEP, role: 'prefill' }), sim({ ...STEP, role: 'decode' })]);
    const leg = await postJson(prefill.url, '/v1/completions', {
      model: 'm', prompt: PROMPT, max_tokens: 1, kv_transfer_params: { do_remote_decode: true, do_remote_prefill: false },
    });
    expect(leg.status).toBe(200);
    const params = leg.body.kv_transfer_params;
    expect(params).toMatchObject({ do_remote_prefill: true, do_remote_decode: false, remote_host: '127.0.0.1', remote_port: prefill.port, remote_engine_id: prefill.engine.engineId, tp_size: 1 });
    expect(params.remote_block_ids.length).toBeGreaterThan(0);
    expect(prefill.engine.step!.heldRequests).toBe(1);
    expect(await kvUsage(prefill.url)).toBeGreaterThan(0);

    // Not this engine, not this request, not a notice: 404 / 404 / 400, the blocks stay.
    const notice = (body: unknown) => postJson(prefill.url, KV_PULL_PATH, body);
    expect((await notice({ engine_id: 'someone-else', request_id: params.remote_request_id })).status).toBe(404);
    expect((await notice({ engine_id: params.remote_engine_id, request_id: 'no-such-request' })).status).toBe(404);
    expect((await notice({ engine_id: params.remote_engine_id, request_id: params.remote_request_id, extra: 1 })).status).toBe(400);
    expect(prefill.engine.step!.heldRequests).toBe(1);

    const answer = await postJson(decode.url, '/v1/completions', { model: 'm', prompt: PROMPT, max_tokens: 5, ignore_eos: true, kv_transfer_params: params });
    expect(answer.status).toBe(200);
    expect(answer.body.usage.completion_tokens).toBe(5);
    await poll(async () => prefill.engine.step!.heldRequests === 0 && (await kvUsage(prefill.url)) === 0, { what: 'the prefill sim to free the pulled blocks' });
    expect(await kvUsage(decode.url)).toBe(0);
  });

  it('blocks nobody pulls are freed after --kv-transfer-timeout; a decode leg naming no step sim pulls nothing', async () => {
    const prefill = await sim({ ...STEP, role: 'prefill', kvTransferTimeout: 300 });
    const decode = await sim({ ...STEP, role: 'decode' });
    const leg = await postJson(prefill.url, '/v1/completions', { model: 'm', prompt: PROMPT, max_tokens: 1, kv_transfer_params: { do_remote_decode: true } });
    expect(leg.status).toBe(200);
    // The latency engine's dummy parameters: the decode sim has nowhere to send a notice.
    const dummy = { do_remote_prefill: true, remote_engine_id: 'DUMMY_ID', remote_block_ids: ['DUMMY_ID'], remote_host: 'DUMMY', remote_port: 1234 };
    const answer = await postJson(decode.url, '/v1/completions', { model: 'm', prompt: PROMPT, max_tokens: 2, kv_transfer_params: dummy });
    expect(answer.status).toBe(200);
    await poll(async () => prefill.engine.step!.heldRequests === 0 && (await kvUsage(prefill.url)) === 0, { what: 'the hold timeout to free the blocks' });
  });
});
