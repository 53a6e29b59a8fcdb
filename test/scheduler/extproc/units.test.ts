/** Unit tests of the ext_proc building blocks: header maps, Struct, model rewrite, usage, chunking, path rules. */
import { describe, expect, it } from 'vitest';
import { fromStruct, headerMapToMap, subsetHint, toStruct } from '../../../scheduler/extproc/headers.js';
import { BODY_CHUNK_BYTES, bodyChunks } from '../../../scheduler/extproc/messages.js';
import { requestPath } from '../../../scheduler/extproc/request-phase.js';
import { defaultParsers } from '../../../scheduler/config/parsers.js';
import { resolveParser } from '../../../scheduler/plugins/parsers/request-parser.js';
import { ModelRewriter, SseUsageScanner, jsonUsage } from '../../../scheduler/extproc/response-body.js';
import { BodyBytes } from '../../../src/http/body-bytes.js';
import { subsetMetadata } from './envoy-client.js';

describe('header maps', () => {
  it('prefers raw_value, lower-cases names and joins repeated headers', () => {
    const map = headerMapToMap({
      headers: [
        { key: 'X-A', raw_value: Buffer.from('1') },
        { key: 'x-a', value: '2' },
        { key: 'cookie', raw_value: Buffer.from('a=1') },
        { key: 'cookie', raw_value: Buffer.from('b=2') },
        { key: 'x-b', value: 'v', raw_value: Buffer.from('raw') },
      ],
    });
    expect([...map]).toEqual([['x-a', '1, 2'], ['cookie', 'a=1; b=2'], ['x-b', 'raw']]);
  });

  it('round-trips Struct and reads the subset hint', () => {
    const json = { a: { b: 'c', n: 1, t: true, z: null, l: ['x', 2] } };
    expect(fromStruct(toStruct(json))).toEqual(json);
    expect(subsetHint(undefined)).toBeUndefined();
    expect(subsetHint({ filter_metadata: {} })).toBeUndefined();
    expect(subsetHint(subsetMetadata([]))).toEqual([]);
    expect(subsetHint(subsetMetadata(['10.0.0.1:80', '10.0.0.2:80']))).toEqual(['10.0.0.1:80', '10.0.0.2:80']);
  });
});

describe('request path → parser', () => {
  it('picks the default parsers by suffix; a query string does not defeat the match', () => {
    const parsers = defaultParsers();
    const typeOf = (path: string): string | undefined => resolveParser(parsers, path)?.type;
    expect(typeOf('/v1/chat/completions')).toBe('openai-parser');
    expect(typeOf('/v1/chat/completions?x=1')).toBe('openai-parser');
    expect(typeOf('/v1/completions')).toBe('openai-parser');
    expect(typeOf('/v1/responses')).toBe('openai-parser');
    expect(typeOf('/v1/embeddings')).toBe('openai-parser');
    expect(typeOf('/v1/messages')).toBe('anthropic-parser');
    expect(typeOf('/v1/messages/count_tokens')).toBe('anthropic-parser');
    expect(typeOf('/generate')).toBeUndefined();
    // Claimed but not modelled: read as nothing (scheduled unparsed).
    expect(resolveParser(parsers, '/v1/embeddings')!.parse('/v1/embeddings', BodyBytes.of(Buffer.from('{"input":"x"}')))).toBeUndefined();
    expect(resolveParser(parsers, '/v1/chat/completions')!.parse('/v1/chat/completions', BodyBytes.of(Buffer.from('{"model":"m","messages":[{"role":"user","content":"hi"}]}')))?.api).toBe('chat_completions');
  });

  it('reads :path, then x-original-path, then x-forwarded-path', () => {
    expect(requestPath(new Map([[':path', '/a'], ['x-original-path', '/b']]))).toBe('/a');
    expect(requestPath(new Map([['x-original-path', '/b'], ['x-forwarded-path', '/c']]))).toBe('/b');
    expect(requestPath(new Map([['x-forwarded-path', '/c']]))).toBe('/c');
    expect(requestPath(new Map())).toBe('/v1/completions');
  });
});

describe('body chunks', () => {
  it('splits at 62000 bytes with end-of-stream on the last only; empty is one chunk', () => {
    const chunks = bodyChunks('request_body', Buffer.alloc(2 * BODY_CHUNK_BYTES + 1), true);
    expect(chunks.map((c) => c.request_body!.response!.body_mutation!.streamed_response!.body.length)).toEqual([BODY_CHUNK_BYTES, BODY_CHUNK_BYTES, 1]);
    expect(chunks.map((c) => c.request_body!.response!.body_mutation!.streamed_response!.end_of_stream)).toEqual([false, false, true]);
    expect(bodyChunks('response_body', Buffer.alloc(0), true)).toEqual([{ response_body: { response: { body_mutation: { streamed_response: { body: Buffer.alloc(0), end_of_stream: true } } } } }]);
  });
});

describe('ModelRewriter', () => {
  it('rewrites both spellings, holds back only a possible pattern start, and keeps multi-byte characters', () => {
    const rewriter = new ModelRewriter('target', 'orig');
    const text = 'data: {"model":"target","x":"ü"}\n\ndata: {"model": "target"}\n\n';
    const bytes = Buffer.from(text);
    let out = Buffer.alloc(0);
    for (let i = 0; i < bytes.length; i += 3) {
      const end = Math.min(bytes.length, i + 3);
      out = Buffer.concat([out, rewriter.push(bytes.subarray(i, end), end >= bytes.length)]);
    }
    expect(out.toString()).toBe('data: {"model":"orig","x":"ü"}\n\ndata: {"model": "orig"}\n\n');
    expect(new ModelRewriter('t', 'o').push(Buffer.from('abc'), false).toString()).toBe('abc');
    expect(new ModelRewriter('t', 'o').push(Buffer.from('abc"mo'), false).toString()).toBe('abc');
  });
});

describe('usage', () => {
  it('reads JSON usage (chat and responses shapes)', () => {
    expect(jsonUsage(Buffer.from('{"usage":{"prompt_tokens":3,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":1}}}'))).toEqual({ promptTokens: 3, completionTokens: 2, cachedTokens: 1 });
    expect(jsonUsage(Buffer.from('{"object":"response","usage":{"input_tokens":4,"output_tokens":5,"input_tokens_details":{"cached_tokens":2}}}'))).toEqual({ promptTokens: 4, completionTokens: 5, cachedTokens: 2 });
    expect(jsonUsage(Buffer.from('not json'))).toBeUndefined();
    expect(jsonUsage(Buffer.from('{"usage":null}'))).toBeUndefined();
  });

  it('scans SSE across chunk boundaries; the last usage wins; response.completed counts', () => {
    const scanner = new SseUsageScanner();
    const stream = 'data: {"usage":null}\n\ndata: {"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\ndata: {"usage":{"prompt_tokens":1,"completion_tokens":9}}\n\ndata: [DONE]\n\n';
    for (let i = 0; i < stream.length; i += 7) scanner.push(Buffer.from(stream.slice(i, i + 7)));
    expect(scanner.finish()).toMatchObject({ promptTokens: 1, completionTokens: 9 });
    const responses = new SseUsageScanner();
    responses.push(Buffer.from('event: response.completed\ndata: {"type":"response.completed","response":{"usage":{"input_tokens":6,"output_tokens":2}}}'));
    expect(responses.finish()).toMatchObject({ promptTokens: 6, completionTokens: 2 });
  });
});
