import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { readBody } from '../../src/http/body.js';
import { normalizeOrigin, UpstreamPools } from '../../src/http/upstream.js';
import { appendForwardedFor, forwardRequestHeaders } from '../../src/http/headers.js';
import { OpenAIError } from '../../src/openai/errors.js';

describe('readBody', () => {
  it('concatenates chunks', async () => {
    const body = await readBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 10);
    expect(body.toString()).toBe('abcd');
  });

  it('fails with 413 on a declared length past the limit, before reading', async () => {
    await expect(readBody(Readable.from([]), 10, '11')).rejects.toMatchObject({ status: 413 });
  });

  it('fails with 413 as soon as a streamed body crosses the limit', async () => {
    const err = await readBody(Readable.from([Buffer.alloc(6), Buffer.alloc(6)]), 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAIError);
    expect((err as OpenAIError).status).toBe(413);
  });
});

describe('upstream origins and pools', () => {
  it('normalises targets so every spelling shares one pool', () => {
    expect(normalizeOrigin('10.0.0.1:8000', false)).toBe('http://10.0.0.1:8000');
    expect(normalizeOrigin('http://10.0.0.1:8000/', false)).toBe('http://10.0.0.1:8000');
    expect(normalizeOrigin(' Pod-A:8000 ', true)).toBe('https://pod-a:8000');
    expect(normalizeOrigin('[::1]:8000', false)).toBe('http://[::1]:8000');
  });

  it('reuses a pool per origin and evicts the least recently used past the cap', async () => {
    const pools = new UpstreamPools({ maxOrigins: 2 });
    const a = pools.get('http://127.0.0.1:1');
    pools.get('http://127.0.0.1:2');
    expect(pools.get('http://127.0.0.1:1')).toBe(a);
    pools.get('http://127.0.0.1:3'); // evicts :2, the least recently used
    expect(pools.size).toBe(2);
    expect(pools.get('http://127.0.0.1:1')).toBe(a);
    await pools.close();
    expect(() => pools.get('http://127.0.0.1:1')).toThrow(/closed/);
  });
});

describe('forwarded headers', () => {
  it('drops hop-by-hop, Connection-listed, host, content-length and named headers', () => {
    const out = forwardRequestHeaders(
      { host: 'h', connection: 'keep-alive, x-secret', 'x-secret': 's', 'content-length': '5', 'transfer-encoding': 'chunked', 'x-prefiller-host-port': 'p:1', authorization: 'Bearer t', 'x-request-id': 'r' },
      new Set(['x-prefiller-host-port']),
    );
    expect(out).toEqual({ authorization: 'Bearer t', 'x-request-id': 'r' });
  });

  it('appends the client address to X-Forwarded-For', () => {
    const headers: Record<string, string | string[]> = { 'x-forwarded-for': '1.1.1.1' };
    appendForwardedFor(headers, '2.2.2.2');
    expect(headers['x-forwarded-for']).toBe('1.1.1.1, 2.2.2.2');
  });
});
