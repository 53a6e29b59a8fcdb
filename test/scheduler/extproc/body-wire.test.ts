import { describe, expect, it } from 'vitest';
import { encodeBodyChunk, withBodyChunkEncoding } from '../../../scheduler/extproc/body-wire.js';
import { bodyChunks, requestHeadersResponse } from '../../../scheduler/extproc/messages.js';
import { loadProtos, type ProcessingResponse } from '../../../scheduler/extproc/proto.js';

const { responseSerialize, responseDeserialize } = loadProtos().extProc.Process!;
const protobufjs = (message: ProcessingResponse): Buffer => responseSerialize(message) as Buffer;

describe('hand-encoded body chunks', () => {
  it('are the bytes proto-loader writes, for both phases, any size, with and without end-of-stream', () => {
    for (const size of [0, 1, 127, 128, 16_383, 16_384, 62_000, 300_000]) {
      const body = Buffer.alloc(size, 0x61 + (size % 26));
      for (const phase of ['request_body', 'response_body'] as const) {
        for (const endOfStream of [false, true]) {
          const [message] = bodyChunks(phase, body.subarray(0, Math.min(size, 62_000)), endOfStream);
          const direct: ProcessingResponse = { [phase]: { response: { body_mutation: { streamed_response: { body, end_of_stream: endOfStream } } } } };
          for (const m of [message!, direct]) {
            const hand = encodeBodyChunk(m);
            expect(hand).toBeDefined();
            expect(Buffer.from(hand!).equals(protobufjs(m))).toBe(true);
          }
        }
      }
    }
  });

  it('decode to the message they encode', () => {
    const body = Buffer.from('{"model":"m","messages":[]}');
    const decoded = responseDeserialize(Buffer.from(encodeBodyChunk(bodyChunks('request_body', body, true)[0]!)!)) as ProcessingResponse;
    expect(decoded.response).toBe('request_body');
    const streamed = decoded.request_body?.response?.body_mutation?.streamed_response;
    expect(Buffer.from(streamed!.body).equals(body)).toBe(true);
    expect(streamed!.end_of_stream).toBe(true);
  });

  it('leave every other message to proto-loader', () => {
    const headers = requestHeadersResponse({ destination: '10.0.0.1:8000', bodySize: 2, trace: {}, headers: new Map([[':path', '/v1/chat/completions']]), removeWhenAbsent: [] });
    const [chunk] = bodyChunks('response_body', Buffer.from('{}'), true);
    const withMetadata: ProcessingResponse = { ...chunk!, dynamic_metadata: { fields: { k: { string_value: 'v' } } } };
    for (const message of [headers, withMetadata, { immediate_response: { status: { code: 400 } } }, { response_trailers: {} }] as ProcessingResponse[]) {
      expect(encodeBodyChunk(message)).toBeUndefined();
      expect(withBodyChunkEncoding(protobufjs)(message).equals(protobufjs(message))).toBe(true);
    }
  });
});
