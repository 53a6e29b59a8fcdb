import { describe, expect, it } from 'vitest';
import { flattenChat, fnv1a32, splitTokens, tokenizeChat, tokenizeText } from '../../src/sim/tokenizer.js';

describe('simulated tokenizer', () => {
  it('"Hello, world!" → 4 tokens with FNV-1a-32 ids', () => {
    expect(splitTokens('Hello, world!')).toEqual(['Hello', ', ', 'world', '!']);
    expect(tokenizeText('Hello, world!').ids).toEqual([4116459851, 2312110321, 933488787, 604802540]);
  });

  it('"### user: Hello\\n" → #, #, "# ", user, ": ", "Hello\\n"', () => {
    const tokens = tokenizeText('### user: Hello\n');
    expect(tokens.strings).toEqual(['#', '#', '# ', 'user', ': ', 'Hello\n']);
    expect(tokens.ids).toEqual([638357778, 638357778, 399020470, 1618501362, 2382766391, 2166458707]);
  });

  it('flattens chat as "### role: text\\n" per message', () => {
    const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello' }];
    expect(flattenChat(messages)).toBe('### system: Be brief.\n### user: Hello\n');
    expect(tokenizeChat([{ role: 'user', content: 'Hello' }]).ids).toEqual([638357778, 638357778, 399020470, 1618501362, 2382766391, 2166458707]);
  });

  it('flattens structured content, tool call ids and tool calls like upstream', () => {
    const text = flattenChat([
      { role: 'user', content: [{ type: 'text', text: 'look' }, { type: 'image_url', image_url: { url: 'http://x/y.png' } }] },
      { role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
      { role: 'tool', content: 'ok', tool_call_id: 'c1' },
    ]);
    expect(text).toBe('### user: look\nimage: http://x/y.png\n### assistant: [f({"a":1})]\n### tool(c1): ok\n');
  });

  it('uses RE2 whitespace (no \\v) and ASCII \\w: other characters are skipped', () => {
    expect(splitTokens('a\tb\fc\vd')).toEqual(['a\t', 'b\f', 'c', 'd']);
    expect(splitTokens('héllo wörld')).toEqual(['h', 'llo ', 'w', 'rld']);
    expect(splitTokens('')).toEqual([]);
  });

  it('hashes UTF-8 bytes for non-ASCII text', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('é')).not.toBe(fnv1a32('e'));
  });
});
