/**
 * EPD with `--ec-connector=ec-example`: routing on
 * x-encoder-hosts-ports (SSRF filtering, header stripping), the encoder fan-out (item extraction,
 * de-duplication, round-robin, request shape), the continuation into P/D or the decoder, encoder
 * failures (502), client disconnects, `ec_transfer_params` never reaching a decoder (#1704), and
 * the `llm_d.epd_proxy.*` span attributes. Every upstream is a real server on 127.0.0.1.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { request } from 'undici';
import { useInMemoryTracing } from '../helpers/in-memory-tracing.js';
import { encoderBody, multimodalItems, uniqueItems } from '../../sidecar/connectors/ec-example.js';
import type { SidecarConfigInput } from '../../sidecar/config.js';
import {
  DECODE_ANSWER, PREFILL_ANSWER, freeConsecutivePorts, sendJson, startConsecutiveFakes, startFakeVllm, type FakeVllm, type RecordedRequest,
} from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

const image = (url: string): Record<string, unknown> => ({ type: 'image_url', image_url: { url } });
const audio = (url: string): Record<string, unknown> => ({ type: 'audio_url', audio_url: { url } });
const inlineAudio = { type: 'input_audio', input_audio: { data: 'UklGRg==', format: 'wav' } };
const text = (value: string): Record<string, unknown> => ({ type: 'text', text: value });
const chat = (...content: unknown[]): Record<string, unknown> => ({
  model: 'm', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content }], max_tokens: 50,
});
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

describe('EPD helpers', () => {
  it('extracts multimodal items: text 0, image 1, image+audio 2, input_audio 1', () => {
    expect(multimodalItems({ messages: [{ role: 'user', content: 'Hello, world!' }] })).toHaveLength(0);
    expect(multimodalItems(chat(text("What's in this image?"), image('https://example.com/image.jpg')))).toHaveLength(1);
    expect(multimodalItems(chat(image('https://example.com/image1.jpg'), audio('https://example.com/audio.mp3'), text('Describe these')))).toHaveLength(2);
    expect(multimodalItems(chat(inlineAudio))).toHaveLength(1);
    // No video_url in the baseline; malformed shapes are skipped, not fatal.
    expect(multimodalItems(chat({ type: 'video_url', video_url: { url: 'v' } }))).toHaveLength(0);
    expect(multimodalItems({ messages: 'nope' })).toHaveLength(0);
    expect(multimodalItems({ messages: [null, { content: [null, 3, { type: 7 }] }] })).toHaveLength(0);
  });

  it('builds the encoder body: one single-item user message, max_tokens 1, non-stream, other fields byte-for-byte', () => {
    const original = '{"model":"test-model","messages":[{"role":"user","content":[{"type":"text","text":"What\'s in this image?"},{"type":"image_url","image_url":{"url":"https://example.com/image.jpg"}}]}],"max_tokens":100,"max_completion_tokens":100,"stream":true,"stream_options":{"include_usage":true},"seed":12345678901234567890}';
    const body = encoderBody(original, image('https://example.com/image.jpg'));
    const json = JSON.parse(body) as Record<string, unknown>;
    expect(json.max_tokens).toBe(1);
    expect(json.stream).toBe(false);
    expect(json).not.toHaveProperty('stream_options');
    expect(json.messages).toEqual([{ role: 'user', content: [image('https://example.com/image.jpg')] }]);
    // Upstream quirk kept: max_completion_tokens is not capped.
    expect(json.max_completion_tokens).toBe(100);
    expect(body).toContain('"seed":12345678901234567890');
  });

  it('de-duplicates by URL; inline audio is never de-duplicated', () => {
    expect(uniqueItems([image('a'), image('b')])).toHaveLength(2);
    expect(uniqueItems([image('a'), image('a')])).toHaveLength(1);
    expect(uniqueItems([inlineAudio, inlineAudio])).toHaveLength(2);
    expect(uniqueItems([image('a'), audio('a'), audio('b'), image('b')])).toEqual([image('a'), audio('b')]);
  });
});

let encoders: FakeVllm[] = [];
let prefiller: FakeVllm;
let decoder: FakeVllm;
let sidecar: TestSidecar | undefined;

async function setup(config: SidecarConfigInput = {}, encoderCount = 2): Promise<void> {
  encoders = await Promise.all(Array.from({ length: encoderCount }, () => startFakeVllm((_r, res) => sendJson(res, 200, { id: 'enc', choices: [] }))));
  prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, PREFILL_ANSWER));
  decoder = await startFakeVllm((_r, res) => sendJson(res, 200, DECODE_ANSWER));
  sidecar = await startTestSidecar(decoder.port, { ecConnector: 'ec-example', ...config });
}

afterEach(async () => {
  await sidecar?.close(2000);
  sidecar = undefined;
  await Promise.all([...encoders, prefiller, decoder].filter(Boolean).map((server) => server.close()));
  encoders = [];
});

const encoderList = (): string => encoders.map((e) => e.hostPort).join(', ');
const allEncoderRequests = (): RecordedRequest[] => encoders.flatMap((e) => e.requests);
/** The item index an encoder request carries, from its `<uuid>-enc-<i>` request id. */
const itemIndex = (r: RecordedRequest): number => Number(/-enc-(\d+)$/.exec(String(r.headers['x-request-id']))![1]);

describe('EPD routing', () => {
  it('allowed encoders + EC connector → encoders (ordered, i % n), then nixlv2 P/D with one request id', async () => {
    await setup();
    const body = { ...chat(text('compare'), image('https://x/1.png'), image('https://x/2.png'), audio('https://x/3.mp3')), stream_options: { include_usage: true }, stream: false };
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, body, {
      'x-encoder-hosts-ports': encoderList(), 'x-prefiller-host-port': prefiller.hostPort, authorization: 'Bearer secret', 'x-custom': 'c',
    });
    expect(answer.status).toBe(200);
    expect(((answer.json().usage as Record<string, unknown>).prompt_tokens_details as Record<string, unknown>).cached_tokens).toBe(7);

    // Items 0 and 2 went to the first encoder, item 1 to the second.
    expect(encoders[0]!.requests.map(itemIndex).sort()).toEqual([0, 2]);
    expect(encoders[1]!.requests.map(itemIndex)).toEqual([1]);
    const items = [image('https://x/1.png'), image('https://x/2.png'), audio('https://x/3.mp3')];
    const ids = new Set<string>();
    for (const r of allEncoderRequests()) {
      const i = itemIndex(r);
      expect(r.url).toBe('/v1/chat/completions');
      expect(r.json).toMatchObject({ model: 'm', max_tokens: 1, stream: false, messages: [{ role: 'user', content: [items[i]] }] });
      expect(r.json).not.toHaveProperty('stream_options');
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-request-id']).toMatch(new RegExp(`^${UUID}-enc-${i}$`));
      ids.add(String(r.headers['x-request-id']).replace(/-enc-\d+$/, ''));
      // Only Content-Type and the request id: client headers are not for the encoder.
      for (const name of ['authorization', 'x-custom', 'x-encoder-hosts-ports', 'x-prefiller-host-port', 'x-forwarded-for']) expect(r.headers[name], name).toBeUndefined();
    }
    expect(ids.size).toBe(1);
    const epdId = [...ids][0]!;

    const p = prefiller.requests[0]!;
    const d = decoder.requests[0]!;
    expect(p.json).toMatchObject({ cache_hit_threshold: 0, max_tokens: 1, stream: false });
    expect(p.json!.messages).toEqual((body as Record<string, unknown>).messages);
    expect(d.json).toMatchObject({ cache_hit_threshold: 0, max_tokens: 50, stream: false, stream_options: { include_usage: true } });
    expect(d.json!.kv_transfer_params).toMatchObject({ remote_engine_id: '5b5fb28f-3f30-4bdd-9a36-958d52459200' });
    // One request id for the whole request: the encoders' `<id>-enc-<i>`, and both legs carry it.
    expect(p.headers['x-request-id']).toBe(epdId);
    expect(d.headers['x-request-id']).toBe(epdId);
    for (const seen of [p, d]) {
      expect(seen.headers['x-encoder-hosts-ports']).toBeUndefined();
      expect(seen.headers['x-prefiller-host-port']).toBeUndefined();
      expect(seen.headers.authorization).toBe('Bearer secret');
    }
  });

  it('some encoders denied by SSRF protection → filtered out with a log, the others get every item', async () => {
    await setup({ enableSsrfProtection: true, ssrfAllowlist: ['127.0.0.1'] }, 1);
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, chat(image('a'), image('b')), {
      'x-encoder-hosts-ports': `10.6.6.6:9, ${encoders[0]!.hostPort}`, 'x-prefiller-host-port': prefiller.hostPort,
    });
    expect(answer.status).toBe(200);
    expect(encoders[0]!.requests.map(itemIndex).sort()).toEqual([0, 1]);
    expect(sidecar!.logs.find((l) => l.msg === 'SSRF protection: encoder target not in allowlist, removing from list')).toMatchObject({ target: '10.6.6.6:9' });
  });

  it.each([
    ['all encoders denied', { enableSsrfProtection: true, ssrfAllowlist: ['127.0.0.1'] }, '10.6.6.6:9, 10.6.6.7:9'],
    ['no EC connector', { ecConnector: '' }, undefined],
  ])('%s → plain P/D, or passthrough without a prefill header; both headers stripped', async (_name, config, list) => {
    await setup(config);
    const headers = { 'x-encoder-hosts-ports': list ?? encoderList() };
    const body = chat(image('a'));
    expect((await post(`${sidecar!.url}/v1/chat/completions`, body, { ...headers, 'x-prefiller-host-port': prefiller.hostPort })).status).toBe(200);
    expect((await post(`${sidecar!.url}/v1/chat/completions`, body, headers)).status).toBe(200);
    expect(allEncoderRequests()).toHaveLength(0);
    expect(prefiller.requests).toHaveLength(1);
    expect(decoder.requests).toHaveLength(2);
    expect(prefiller.requests[0]!.json).not.toHaveProperty('cache_hit_threshold');
    // Passthrough: the body reaches the decoder untouched.
    expect(decoder.requests[1]!.body).toBe(JSON.stringify(body));
    for (const seen of [prefiller.requests[0]!, ...decoder.requests]) {
      expect(seen.headers['x-encoder-hosts-ports']).toBeUndefined();
      expect(seen.headers['x-prefiller-host-port']).toBeUndefined();
    }
    if (list) expect(sidecar!.logs.some((l) => l.msg === 'SSRF protection: all encoder targets filtered out, falling back to P/D or decoder-only')).toBe(true);
  });

  it('without a prefill target, encoders then the decoder directly (E/D): threshold 0 and one request id', async () => {
    await setup();
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, chat(image('a')), { 'x-encoder-hosts-ports': encoderList() });
    expect(answer.status).toBe(200);
    expect(answer.json()).toEqual(JSON.parse(DECODE_ANSWER));
    expect(allEncoderRequests()).toHaveLength(1);
    const d = decoder.requests[0]!;
    expect(d.json).toMatchObject({ cache_hit_threshold: 0, max_tokens: 50 });
    const epdId = String(allEncoderRequests()[0]!.headers['x-request-id']).replace(/-enc-0$/, '');
    expect(d.headers['x-request-id']).toBe(epdId);
  });

  it('a request without multimodal items skips the encoders but still continues as EPD', async () => {
    await setup();
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, chat(text('just text')), { 'x-encoder-hosts-ports': encoderList(), 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(allEncoderRequests()).toHaveLength(0);
    expect(prefiller.requests[0]!.json).toMatchObject({ cache_hit_threshold: 0 });
    expect(String(prefiller.requests[0]!.headers['x-request-id'])).toMatch(new RegExp(`^${UUID}$`));
  });
});

describe('EPD fan-out', () => {
  it.each([
    ['2 distinct URLs', [image('https://x/a.png'), image('https://x/b.png')], 2],
    ['the same URL twice', [image('https://x/a.png'), image('https://x/a.png')], 1],
    ['inline audio twice', [inlineAudio, inlineAudio], 2],
  ])('%s → %i encoder calls', async (_name, items, calls) => {
    await setup({}, 1);
    expect((await post(`${sidecar!.url}/v1/chat/completions`, chat(...items), { 'x-encoder-hosts-ports': encoderList() })).status).toBe(200);
    expect(encoders[0]!.requests).toHaveLength(calls);
  });

  it('an encoder failure → 502 BadGateway naming item and status; nothing reaches prefill or decode', async () => {
    await setup();
    encoders[1]!.handler = (_r, res) => sendJson(res, 500, 'encoder exploded');
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, chat(image('a'), image('b')), { 'x-encoder-hosts-ports': encoderList(), 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(502);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.json()).toEqual({ error: { message: 'encoder request failed for item 1 with status 500: encoder exploded', type: 'BadGateway', param: null, code: 502 } });
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(0);
    expect(sidecar!.logs.some((l) => l.msg === 'encoder processing failed')).toBe(true);
  });

  it('an unreachable encoder → 502 BadGateway', async () => {
    await setup({}, 1);
    const closed = encoders[0]!.hostPort;
    await encoders[0]!.close();
    encoders = [];
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, chat(image('a')), { 'x-encoder-hosts-ports': closed });
    expect(answer.status).toBe(502);
    expect(answer.json()).toMatchObject({ error: { type: 'BadGateway', code: 502, message: expect.stringMatching(/^encoder request failed for item 0: /) } });
    expect(decoder.requests).toHaveLength(0);
  });

  it('a client that disconnects cancels the encoder calls; nothing follows (a deliberate difference)', async () => {
    await setup({}, 1);
    encoders[0]!.handler = () => undefined; // never answers
    const controller = new AbortController();
    const pending = request(`${sidecar!.url}/v1/chat/completions`, {
      method: 'POST', body: JSON.stringify(chat(image('a'))), signal: controller.signal,
      headers: { 'content-type': 'application/json', 'x-encoder-hosts-ports': encoderList(), 'x-prefiller-host-port': prefiller.hostPort },
    }).catch((err: unknown) => err);
    const seen = await encoders[0]!.nthRequest(1);
    controller.abort();
    await pending;
    expect(await seen.closed).toBe('aborted');
    await sidecar!.close(2000);
    expect(prefiller.requests).toHaveLength(0);
    expect(decoder.requests).toHaveLength(0);
  });

  it('data-parallel routing applies to EPD without prefill', async () => {
    encoders = [await startFakeVllm((_r, res) => sendJson(res, 200, {}))];
    const ranks = await startConsecutiveFakes(2, (rank) => (_r, res) => sendJson(res, 200, { rank }));
    try {
      const port = await freeConsecutivePorts(2);
      sidecar = await startTestSidecar(ranks[0]!.port, { ecConnector: 'ec-example', port, dataParallelSize: 2, podIp: '10.0.0.5' });
      const headers = { 'x-encoder-hosts-ports': encoderList(), 'x-data-parallel-host-port': `10.0.0.5:${port + 1}` };
      expect((await post(`${sidecar.url}/v1/chat/completions`, chat(image('a')), headers)).json()).toEqual({ rank: 1 });
      expect(ranks[1]!.requests[0]!.json).toMatchObject({ cache_hit_threshold: 0 });
      expect(encoders[0]!.requests).toHaveLength(1);
    } finally {
      await sidecar?.close(0);
      sidecar = undefined;
      await Promise.all(ranks.map((rank) => rank.close()));
    }
  });
});

describe('ec_transfer_params never reaches a decoder (#1704)', () => {
  const withEc = { ...chat(image('a')), ec_transfer_params: { hash0: { num_encoder_tokens: 12 } } };

  it('nixlv2: the prefill keeps it, the decode leg drops it', async () => {
    await setup();
    expect((await post(`${sidecar!.url}/v1/chat/completions`, withEc, { 'x-encoder-hosts-ports': encoderList(), 'x-prefiller-host-port': prefiller.hostPort })).status).toBe(200);
    expect(prefiller.requests[0]!.json!.ec_transfer_params).toEqual(withEc.ec_transfer_params);
    expect(decoder.requests[0]!.json).not.toHaveProperty('ec_transfer_params');
    expect(decoder.requests[0]!.json).toHaveProperty('kv_transfer_params');
  });

  it('encoder → decoder without prefill drops it too', async () => {
    await setup();
    expect((await post(`${sidecar!.url}/v1/chat/completions`, withEc, { 'x-encoder-hosts-ports': encoderList() })).status).toBe(200);
    expect(decoder.requests[0]!.json).not.toHaveProperty('ec_transfer_params');
    expect(decoder.requests[0]!.json).toMatchObject({ cache_hit_threshold: 0 });
  });

  it('shared-storage: no decode-first after the encoder stage; prefill keeps the field, decode drops it', async () => {
    await setup({ kvConnector: 'shared-storage' });
    prefiller.handler = (_r, res) => sendJson(res, 200, {});
    const answer = await post(`${sidecar!.url}/v1/chat/completions`, { ...withEc, cache_hit_threshold: 0.8 }, { 'x-encoder-hosts-ports': encoderList(), 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    expect(prefiller.requests).toHaveLength(1);
    expect(decoder.requests).toHaveLength(1);
    expect(prefiller.requests[0]!.json).toMatchObject({ cache_hit_threshold: 0, max_tokens: 1, ec_transfer_params: withEc.ec_transfer_params });
    expect(decoder.requests[0]!.json).toMatchObject({ cache_hit_threshold: 0, max_tokens: 50 });
    expect(decoder.requests[0]!.json).not.toHaveProperty('ec_transfer_params');
  });
});

describe('EPD spans', () => {
  const exporter = useInMemoryTracing();

  it('marks the request span with llm_d.epd_proxy.* and gives each encoder call a CLIENT span', async () => {
    await setup({ tracing: true, enableSsrfProtection: true, ssrfAllowlist: ['127.0.0.1'] });
    await post(`${sidecar!.url}/v1/chat/completions`, chat(image('a'), image('b')), {
      'x-encoder-hosts-ports': `${encoderList()}, 10.6.6.6:9`, 'x-prefiller-host-port': prefiller.hostPort,
    });
    // server, request, 2 encoder CLIENT, prefill + CLIENT, decode + CLIENT
    await vi.waitFor(() => expect(exporter.getFinishedSpans().length).toBeGreaterThanOrEqual(8));
    const spans = exporter.getFinishedSpans();
    const requestSpan = spans.find((span) => span.name === 'llm_d.pd_proxy.request')!;
    expect(requestSpan.attributes).toMatchObject({
      'llm_d.pd_proxy.ec_connector': 'ec-example',
      'llm_d.epd_proxy.encode_disaggregation_used': true,
      'llm_d.epd_proxy.encoder_count': 2,
      'llm_d.epd_proxy.encoder_candidates': 3,
    });
    const encoderClients = spans.filter((span) => span.kind === SpanKind.CLIENT && span.parentSpanContext?.spanId === requestSpan.spanContext().spanId);
    expect(encoderClients).toHaveLength(2);
    const ports = encoderClients.map((span) => span.attributes['server.port']).sort();
    expect(ports).toEqual(encoders.map((e) => e.port).sort());
    // Each encoder call carries its CLIENT span's context.
    for (const r of allEncoderRequests()) expect(encoderClients.map((span) => span.spanContext().spanId)).toContain(String(r.headers.traceparent).split('-')[2]);
  });

  it('all encoders filtered out → encode_disaggregation_used false, encoder_allowed 0', async () => {
    exporter.reset();
    await setup({ tracing: true, enableSsrfProtection: true, ssrfAllowlist: ['127.0.0.1'] });
    await post(`${sidecar!.url}/v1/chat/completions`, chat(image('a')), { 'x-encoder-hosts-ports': '10.6.6.6:9' });
    await vi.waitFor(() => expect(exporter.getFinishedSpans().some((span) => span.name === 'llm_d.pd_proxy.request')).toBe(true));
    const requestSpan = exporter.getFinishedSpans().find((span) => span.name === 'llm_d.pd_proxy.request')!;
    expect(requestSpan.attributes).toMatchObject({
      'llm_d.epd_proxy.encode_disaggregation_used': false,
      'llm_d.epd_proxy.encoder_allowed': 0,
      'llm_d.epd_proxy.encoder_candidates': 1,
    });
  });
});
