/** The cached-token rewriter as a unit. */
import { describe, expect, it } from 'vitest';
import { CachedTokensFilter, SseCachedTokensRewriter, cachedTokensOf, rewriteCachedTokens } from '../../sidecar/cached-tokens.js';

const USAGE_LINE = 'data: {"choices":[],"usage":{"prompt_tokens":64,"prompt_tokens_details":{"cached_tokens":49}}}\n';

function run(rewriter: SseCachedTokensRewriter, pieces: string[]): string[] {
  return pieces.map((piece) => rewriter.write(Buffer.from(piece)).toString());
}

describe('rewriteCachedTokens (one JSON document)', () => {
  it('sets cached_tokens in existing details, keeping every other byte', () => {
    const text = '{"id":"x","usage":{"prompt_tokens":64,"prompt_tokens_details":{"cached_tokens":49,"audio_tokens":0},"big":12345678901234567890}}';
    expect(rewriteCachedTokens(text, 7)).toBe('{"id":"x","usage":{"prompt_tokens":64,"prompt_tokens_details":{"cached_tokens":7,"audio_tokens":0},"big":12345678901234567890}}');
  });

  it.each([
    ['missing', '{"usage":{"prompt_tokens":1}}', '{"usage":{"prompt_tokens":1,"prompt_tokens_details":{"cached_tokens":7}}}'],
    ['null', '{"usage":{"prompt_tokens_details":null}}', '{"usage":{"prompt_tokens_details":{"cached_tokens":7}}}'],
    ['not an object', '{"usage":{"prompt_tokens_details":3}}', '{"usage":{"prompt_tokens_details":{"cached_tokens":7}}}'],
    ['empty', '{"usage":{"prompt_tokens_details":{}}}', '{"usage":{"prompt_tokens_details":{"cached_tokens":7}}}'],
  ])('creates the details when they are %s', (_name, input, output) => {
    expect(rewriteCachedTokens(input, 7)).toBe(output);
  });

  it.each([
    ['no usage', '{"choices":[]}'],
    ['usage null', '{"usage":null}'],
    ['already right', '{"usage":{"prompt_tokens_details":{"cached_tokens":7}}}'],
    ['not JSON', '{"usage":'],
    ['not an object', '[1]'],
  ])('leaves a document unchanged when it has %s', (_name, input) => {
    expect(rewriteCachedTokens(input, 7)).toBeUndefined();
  });

  it('reads the prefiller value, 0 when absent or null', () => {
    expect(cachedTokensOf({ usage: { prompt_tokens_details: { cached_tokens: 7 } } })).toBe(7);
    expect(cachedTokensOf({ usage: { prompt_tokens_details: null } })).toBe(0);
    expect(cachedTokensOf({ usage: null })).toBe(0);
    expect(cachedTokensOf({})).toBe(0);
  });
});

describe('SseCachedTokensRewriter', () => {
  it('emits nothing for a line split as "da" + rest until its newline arrives', () => {
    const rewriter = new SseCachedTokensRewriter(7);
    const out = run(rewriter, ['da', USAGE_LINE.slice(2, 30), USAGE_LINE.slice(30)]);
    expect(out[0]).toBe('');
    expect(out[1]).toBe('');
    expect(out[2]).toBe(USAGE_LINE.replace('49', '7'));
  });

  it('holds a line split inside the JSON', () => {
    const rewriter = new SseCachedTokensRewriter(7);
    const cut = USAGE_LINE.indexOf('cached');
    expect(run(rewriter, [USAGE_LINE.slice(0, cut), USAGE_LINE.slice(cut)])).toEqual(['', USAGE_LINE.replace('49', '7')]);
  });

  it('emits exactly the input bytes when nothing needs rewriting (output length equals input length)', () => {
    const input = 'event: ping\ndata: [DONE]\n: comment\ndata: not json {"usage"\ndata: {"choices":[{"delta":{"content":"é"}}]}\n\n';
    const rewriter = new SseCachedTokensRewriter(7);
    const out = Buffer.concat([rewriter.write(Buffer.from(input)), rewriter.end()]);
    expect(out.length).toBe(Buffer.byteLength(input));
    expect(out.toString()).toBe(input);
  });

  it('keeps CRLF line endings and multi-byte characters split across chunks', () => {
    const line = 'data: {"x":"€","usage":{"prompt_tokens_details":{"cached_tokens":49}}}\r\n';
    const bytes = Buffer.from(line);
    const euro = bytes.indexOf(0xe2);
    const rewriter = new SseCachedTokensRewriter(7);
    const out = Buffer.concat([rewriter.write(bytes.subarray(0, euro + 1)), rewriter.write(bytes.subarray(euro + 1)), rewriter.end()]);
    expect(out.toString()).toBe(line.replace('49', '7'));
  });

  it('flushes a last line without newline at the end, rewritten', () => {
    const rewriter = new SseCachedTokensRewriter(7);
    const partial = USAGE_LINE.trimEnd();
    expect(rewriter.write(Buffer.from(partial)).toString()).toBe('');
    expect(rewriter.end().toString()).toBe(partial.replace('49', '7'));
    expect(rewriter.end().toString()).toBe('');
  });

  it('accepts "data:" without a space', () => {
    const rewriter = new SseCachedTokensRewriter(3);
    expect(rewriter.write(Buffer.from('data:{"usage":{}}\n')).toString()).toBe('data:{"usage":{"prompt_tokens_details":{"cached_tokens":3}}}\n');
  });
});

describe('CachedTokensFilter', () => {
  it('buffers a JSON body split across writes and rewrites it whole (upstream missed split bodies)', () => {
    const filter = new CachedTokensFilter(7);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'content-length': '99' };
    filter.start(200, headers);
    expect(headers['content-length']).toBeUndefined();
    const body = '{"usage":{"prompt_tokens_details":{"cached_tokens":49}}}';
    expect(filter.write(Buffer.from(body.slice(0, 10)))).toBeUndefined();
    expect(filter.write(Buffer.from(body.slice(10)))).toBeUndefined();
    expect(filter.end()!.toString()).toBe(body.replace('49', '7'));
  });

  it('treats a body starting with "data:" as SSE even without the content type', () => {
    const filter = new CachedTokensFilter(7);
    filter.start(200, {});
    expect(filter.write(Buffer.from(USAGE_LINE))!.toString()).toBe(USAGE_LINE.replace('49', '7'));
  });

  it('leaves compressed bodies alone', () => {
    const filter = new CachedTokensFilter(7);
    const headers: Record<string, string> = { 'content-encoding': 'gzip', 'content-length': '3' };
    filter.start(200, headers);
    expect(headers['content-length']).toBe('3');
    expect(filter.write(Buffer.from('abc'))!.toString()).toBe('abc');
    expect(filter.end()).toBeUndefined();
  });
});
