/** The sidecar's P/D path for the Anthropic Messages API (`POST /v1/messages`, nixlv2). */
import { afterEach, describe, expect, it } from 'vitest';
import { PREFILL_KV_TRANSFER_PARAMS } from '../../sidecar/connectors/nixlv2.js';
import { PREFILL_ANSWER, sendJson, sendSse, startFakeVllm, type FakeVllm } from './helpers/fake-vllm.js';
import { post, startTestSidecar, type TestSidecar } from './helpers/sidecar.js';

const MESSAGES = { model: 'claude-like', max_tokens: 50, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello' }] };
const ANSWER = '{"id":"m1","type":"message","role":"assistant","content":[{"type":"text","text":"hi"}],"model":"claude-like","stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":64,"output_tokens":1}}';
const SSE = 'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":64,"output_tokens":0}}}\n\n'
  + 'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"input_tokens":64,"output_tokens":1}}\n\n'
  + 'event: message_stop\ndata: {"type":"message_stop"}\n\n';

let prefiller: FakeVllm;
let decoder: FakeVllm;
let sidecar: TestSidecar | undefined;

afterEach(async () => {
  await sidecar?.close(0);
  sidecar = undefined;
  await prefiller?.close();
  await decoder?.close();
});

async function setup(): Promise<void> {
  prefiller = await startFakeVllm((_r, res) => sendJson(res, 200, PREFILL_ANSWER));
  decoder = await startFakeVllm((r, res) => (r.json?.stream === true ? sendSse(res, SSE) : sendJson(res, 200, ANSWER)));
  sidecar = await startTestSidecar(decoder.port, {});
}

describe('/v1/messages P/D (nixlv2)', () => {
  it('prefill leg: max_tokens 1, kv_transfer_params asking for a remote decode, not streamed; decode leg: the client body plus the prefill\'s kv_transfer_params', async () => {
    await setup();
    const answer = await post(`${sidecar!.url}/v1/messages`, { ...MESSAGES, stream: true, min_tokens: 3 }, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(answer.status).toBe(200);
    const p = prefiller.requests[0]!;
    expect(p.url).toBe('/v1/messages');
    expect(p.json!.max_tokens).toBe(1);
    expect(p.json).not.toHaveProperty('max_completion_tokens');
    expect(p.json).not.toHaveProperty('min_tokens');
    expect(p.json!.stream).toBe(false);
    expect(p.json!.kv_transfer_params).toEqual(JSON.parse(PREFILL_KV_TRANSFER_PARAMS));
    expect(p.json!.system).toBe('Be brief.');

    const d = decoder.requests[0]!;
    expect(d.url).toBe('/v1/messages');
    expect(d.json!.max_tokens).toBe(50);
    expect(d.json!.stream).toBe(true);
    expect(d.json!.kv_transfer_params).toMatchObject({ remote_block_ids: [1, 2, 3] });
    // Anthropic events pass unchanged: no OpenAI cached-token details are added.
    expect(answer.text).toBe(SSE);
  });

  it('a non-streamed answer passes byte for byte; without a prefill header only the decoder is asked', async () => {
    await setup();
    const pd = await post(`${sidecar!.url}/v1/messages`, MESSAGES, { 'x-prefiller-host-port': prefiller.hostPort });
    expect(pd.text).toBe(ANSWER);
    const local = await post(`${sidecar!.url}/v1/messages`, MESSAGES);
    expect(local.text).toBe(ANSWER);
    expect(prefiller.requests).toHaveLength(1);
    expect(decoder.requests).toHaveLength(2);
  });

  it('a client kv_transfer_params never reaches the decoder on the decode-only path', async () => {
    await setup();
    await post(`${sidecar!.url}/v1/messages`, { ...MESSAGES, kv_transfer_params: { remote_host: 'attacker' } });
    expect(decoder.requests[0]!.json).not.toHaveProperty('kv_transfer_params');
  });
});
