import { describe, expect, it } from 'vitest';
import { BodyBytes } from '../../src/http/body-bytes.js';
import { parseJsonObject } from '../../src/openai/parse.js';
import { parseJsonPieces, type WholeReason } from '../../src/openai/piecewise-json.js';
import { seededRandom } from '../../src/random.js';
import { cutRandomly as cut } from '../helpers/chunks.js';

type Random = () => number;
const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

/** Bytes of a JSON string's content: text, every kind of escape, multi-byte and invalid UTF-8. */
function stringContent(random: Random, length: number): Buffer[] {
  const parts: Buffer[] = [];
  const atoms: Array<() => Buffer> = [
    () => Buffer.from('abc def '),
    () => Buffer.from('é€😀中'),
    () => Buffer.from(pick(random, ['\\n', '\\"', '\\\\', '\\/', '\\t', '\\u00e9', '\\uD83D\\uDE00', '\\ud83d', '\\uDE00x', '\\u2028', '\\u2028'])),
    () => Buffer.from([pick(random, [0x80, 0xbf, 0xc3, 0xe2, 0x82, 0xf0, 0x9f, 0xff, 0xed, 0xa0])]),
    () => Buffer.from('\\'.repeat(2 * Math.floor(random() * 3))),
  ];
  for (let size = 0; size < length;) {
    const atom = random() < 0.6 ? atoms[0]!() : random() < 0.005 ? Buffer.from('\\u0000') : pick(random, atoms)();
    parts.push(atom);
    size += atom.length;
  }
  return parts;
}

/** A random JSON document as bytes (its parts, in order). */
function document(random: Random, depth = 0): Buffer[] {
  const roll = random();
  if (depth > 3 || (depth > 0 && roll < 0.3)) {
    const value = pick(random, [
      () => [Buffer.from('"'), ...stringContent(random, Math.floor(random() * (random() < 0.3 ? 400 : 60))), Buffer.from('"')],
      () => [Buffer.from(pick(random, ['1', '-2.5e3', 'true', 'false', 'null', '12345678901234567890']))],
    ])();
    return value;
  }
  const ws = (): Buffer => Buffer.from(pick(random, ['', ' ', '\n  ', '\t']));
  if (roll < 0.6) {
    const items = Array.from({ length: Math.floor(random() * 4) }, () => [ws(), ...document(random, depth + 1), ws()]);
    return [Buffer.from('['), ...items.flatMap((item, i) => (i === 0 ? item : [Buffer.from(','), ...item])), Buffer.from(']')];
  }
  const members = Array.from({ length: Math.floor(random() * 4) }, () => {
    const key = random() < 0.15
      ? [Buffer.from(pick(random, ['"__proto__"', '"a"', '"a"', '"0"']))]
      : [Buffer.from('"'), ...stringContent(random, Math.floor(random() * (random() < 0.03 ? 200 : 8))), Buffer.from('"')];
    return [ws(), ...key, ws(), Buffer.from(':'), ws(), ...document(random, depth + 1)];
  });
  return [Buffer.from('{'), ...members.flatMap((member, i) => (i === 0 ? member : [Buffer.from(','), ...member])), Buffer.from('}')];
}

/** One random defect: a cut, a raw control character, a stray quote or backslash. */
function breakIt(random: Random, bytes: Buffer): Buffer {
  const at = Math.floor(random() * bytes.length);
  switch (Math.floor(random() * 4)) {
    case 0: return bytes.subarray(0, at);
    case 1: return Buffer.concat([bytes.subarray(0, at), Buffer.from([0x0a]), bytes.subarray(at)]);
    case 2: return Buffer.concat([bytes.subarray(0, at), Buffer.from('"'), bytes.subarray(at)]);
    default: return Buffer.concat([bytes.subarray(0, at), Buffer.from('\\x'), bytes.subarray(at)]);
  }
}


/** The outcome of a parse: the value's JSON text (key order, own `__proto__` and lone surrogates included), or the error. */
function outcome(parse: () => unknown): string {
  try {
    const value = parse();
    const prototypes: unknown[] = [];
    const visit = (node: unknown): void => {
      if (node === null || typeof node !== 'object') return;
      prototypes.push(Object.getPrototypeOf(node) === (Array.isArray(node) ? Array.prototype : Object.prototype));
      for (const key of Object.keys(node)) visit((node as Record<string, unknown>)[key]);
    };
    visit(value);
    return `ok ${JSON.stringify(value)} ${JSON.stringify(prototypes)}`;
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

describe('parseJsonPieces', () => {
  it('gives JSON.parse\'s value or error on random documents, however they are chunked and cut into pieces', () => {
    const random = seededRandom(2026);
    let pieced = 0;
    let invalid = 0;
    for (let trial = 0; trial < 4000; trial++) {
      let bytes: Buffer = Buffer.concat(document(random));
      if (random() < 0.25) bytes = breakIt(random, bytes);
      const reasons: WholeReason[] = [];
      const options = { bigString: 9 + Math.floor(random() * 24), piece: 1 + Math.floor(random() * 24), onWhole: (reason: WholeReason) => reasons.push(reason) };
      const chunks = cut(bytes, random, pick(random, [3, 40, 1000]));
      const expected = outcome(() => JSON.parse(bytes.toString('utf8')));
      expect(outcome(() => parseJsonPieces(chunks, options)), `${bytes.toString('latin1')} ${JSON.stringify(options)}`).toBe(expected);
      if (expected.startsWith('ok')) {
        // A valid document is never mistaken for an invalid one (a piece cut inside an escape or a character would be).
        expect(reasons, bytes.toString('latin1')).not.toContain('invalid');
        if (reasons.length === 0) pieced++;
      } else {
        invalid++;
      }
    }
    // Both kinds were really exercised, most valid documents piecewise.
    expect(pieced).toBeGreaterThan(1000);
    expect(invalid).toBeGreaterThan(500);
  });

  it('a 200 KB chat body: the long message is a rope of small pieces, equal to JSON.parse\'s', () => {
    const content = 'The quick brown fox — “quoted” \\ and \n newlines, 😀 emoji.\n'.repeat(3200);
    const json = JSON.stringify({ model: 'm', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content }], max_tokens: 1 });
    const bytes = Buffer.from(json);
    expect(bytes.length).toBeGreaterThan(200_000);
    const chunks = cut(bytes, seededRandom(3), 65_536);
    const value = parseJsonPieces(chunks) as { messages: Array<{ content: string }> };
    expect(value).toEqual(JSON.parse(json));
    expect(value.messages[1]!.content).toBe(content);
  });

  it('a big string as an object key, a \\u0000 in the skeleton, a body with no big string: JSON.parse\'s result', () => {
    const cases = [
      `{"${'k'.repeat(40_000)}": 1}`,
      `{"a": "\\u0000", "b": "${'x'.repeat(40_000)}"}`,
      `{"a": "\\u00001", "b": "${'x'.repeat(40_000)}", "c": "${'y'.repeat(40_000)}"}`,
      '{"a": [1, 2, {"b": "c"}]}',
      `"${'top level '.repeat(5000)}"`,
      `{"__proto__": "${'p'.repeat(40_000)}", "x": 1}`,
    ];
    const reasons: WholeReason[] = [];
    for (const text of cases) {
      expect(outcome(() => parseJsonPieces([Buffer.from(text)], { onWhole: (reason) => reasons.push(reason) }))).toBe(outcome(() => JSON.parse(text)));
    }
    expect(reasons).toEqual(['big key', 'nul escape', 'nul escape', 'no big string']);
    const proto = parseJsonPieces([Buffer.from(cases[5]!)]) as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.hasOwn(proto, '__proto__')).toBe(true);
  });

  it('hostile shapes: dense quotes and long backslash runs go to JSON.parse whole, long runs of escapes or stray bytes are still cut, arrays are walked by index', () => {
    const cases: Array<[string, Buffer, WholeReason | undefined]> = [
      ['escaped quotes only', Buffer.from(`{"a": "${'\\"'.repeat(100_000)}"}`), 'dense'],
      // The run ends past the first cut (4096 bytes in): the cut's parity check would walk it.
      ['a backslash run past 512', Buffer.from(`{"a": "${'x'.repeat(3500)}${'\\\\'.repeat(600)}${'x'.repeat(40_000)}"}`), 'dense'],
      ['a backslash run before the closing quote', Buffer.from(`{"a": "${'x'.repeat(40_000)}${'\\\\'.repeat(300)}"}`), 'dense'],
      ['newline escapes only', Buffer.from(`{"a": "${'\\n'.repeat(100_000)}"}`), undefined],
      ['stray continuation bytes', Buffer.concat([Buffer.from('{"a": "'), Buffer.alloc(200_000, 0x80), Buffer.from('"}')]), undefined],
      ['\\u escapes only', Buffer.from(`{"a": "${'\\u00e9\\uD83D\\uDE00'.repeat(20_000)}"}`), undefined],
      ['a long array after the big string', Buffer.from(`["${'x'.repeat(20_000)}"${',0'.repeat(200_000)}, "${'y'.repeat(20_000)}"]`), undefined],
    ];
    for (const [name, bytes, reason] of cases) {
      const reasons: WholeReason[] = [];
      const chunks = cut(bytes, seededRandom(9), 70_000);
      expect(outcome(() => parseJsonPieces(chunks, { piece: 4096, onWhole: (r) => reasons.push(r) })), name).toBe(outcome(() => JSON.parse(bytes.toString('utf8'))));
      expect(reasons, name).toEqual(reason === undefined ? [] : [reason]);
    }
    expect(() => parseJsonPieces([Buffer.from('{}')], { piece: 0 })).toThrow(RangeError);
    expect(() => parseJsonPieces([Buffer.from('{}')], { bigString: 1.5 })).toThrow(RangeError);
  });

  it('parseJsonObject on a large BodyBytes: same 400s as on its text', () => {
    const long = 'x'.repeat(50_000);
    for (const text of [`{"a": "${long}"`, `{"a": "${long}\u0001"}`, `["${long}"]`, `{"a": "${long}\\q"}`]) {
      const fromText = outcome(() => parseJsonObject(text));
      expect(fromText).toMatch(/^OpenAIError: request body (is not valid JSON|must be a JSON object)/);
      expect(outcome(() => parseJsonObject(BodyBytes.from(cut(Buffer.from(text), seededRandom(5), 30_000))))).toBe(fromText);
    }
  });
});
