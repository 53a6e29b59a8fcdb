import { describe, expect, it } from 'vitest';
import { patchMembers, rawMember, scanMembers } from '../../src/openai/raw-json.js';

describe('raw-json top-level editing', () => {
  const body = '{"model":"m", "seed": 12345678901234567890, "t":1.50,"messages":[{"role":"user","content":"a \\"}\\" b"}],"x":{"y":[1,{"z":"}"}]}}';

  it('finds every top-level member with its exact value text', () => {
    const members = scanMembers(body);
    expect(members.map((m) => m.key)).toEqual(['model', 'seed', 't', 'messages', 'x']);
    expect(rawMember(body, 'seed')).toBe('12345678901234567890');
    expect(rawMember(body, 't')).toBe('1.50');
    expect(rawMember(body, 'x')).toBe('{"y":[1,{"z":"}"}]}');
    expect(rawMember(body, 'absent')).toBeUndefined();
  });

  it('keeps untouched members byte-for-byte (big ints, float spelling, escapes)', () => {
    const out = patchMembers(body, { stream: 'false', t: undefined, model: '"n"' });
    expect(out).toContain('"seed": 12345678901234567890');
    expect(out).toContain('"content":"a \\"}\\" b"');
    expect(out).not.toContain('"t"');
    expect(JSON.parse(out)).toMatchObject({ model: 'n', stream: false });
    expect(out.endsWith(',"stream":false}')).toBe(true);
  });

  it('treats duplicate keys like JSON.parse (last wins) and removes all on delete', () => {
    const dup = '{"a":1,"a":2,"b":3}';
    expect(rawMember(dup, 'a')).toBe('2');
    expect(patchMembers(dup, { a: '9' })).toBe('{"a":9,"b":3}');
    expect(patchMembers(dup, { a: undefined })).toBe('{"b":3}');
  });

  it('handles empty objects, whitespace and escaped keys', () => {
    expect(patchMembers(' { } ', { a: '1' })).toBe('{"a":1}');
    expect(scanMembers('{ "k\\u0041" : true }')[0]!.key).toBe('kA');
  });

  it('rejects what is not a JSON object', () => {
    expect(() => scanMembers('[1,2]')).toThrow(SyntaxError);
    expect(() => scanMembers('{"a":')).toThrow(SyntaxError);
    expect(() => scanMembers('{"a" 1}')).toThrow(SyntaxError);
    expect(() => scanMembers('{"a":"unterminated}')).toThrow(SyntaxError);
  });
});
