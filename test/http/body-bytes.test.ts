import { describe, expect, it } from 'vitest';
import { BodyBytes } from '../../src/http/body-bytes.js';
import { seededRandom } from '../../src/random.js';
import { cutRandomly as cut } from '../helpers/chunks.js';

describe('BodyBytes', () => {
  it('decodes chunks to the same text as the joined bytes: split multi-byte characters, invalid bytes, a BOM', () => {
    const random = seededRandom(12);
    // ASCII, 2-, 3- and 4-byte characters, a BOM, stray continuation bytes, truncated and overlong sequences.
    const alphabet = [0x41, 0x22, 0x5c, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xef, 0xbb, 0xbf, 0x80, 0xbf, 0xff, 0xc0, 0xed, 0xa0, 0xf4, 0x90];
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 24) }, () => alphabet[Math.floor(random() * alphabet.length)]!));
      const body = BodyBytes.from(cut(bytes, random, 5));
      expect(body.text()).toBe(bytes.toString('utf8'));
      expect(body.length).toBe(bytes.length);
    }
  });

  it('a JSON body cut inside multi-byte characters parses to the original', () => {
    const json = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'héllo wörld € 😀 '.repeat(5000) }] });
    const bytes = Buffer.from(json, 'utf8');
    // 64 KiB chunks as Envoy streams them: every boundary lands somewhere in the text.
    const chunks = [];
    for (let offset = 0; offset < bytes.length; offset += 65_536) chunks.push(Buffer.from(bytes.subarray(offset, offset + 65_536)));
    expect(chunks.length).toBeGreaterThan(1);
    expect(JSON.parse(BodyBytes.from(chunks).text())).toEqual(JSON.parse(json));
  });

  it('slices give back exactly the original bytes, each piece 1..max bytes, however the body was cut', () => {
    const random = seededRandom(7);
    for (const [size, maxCut, max] of [[200_000, 65_536, 62_000], [200_000, 300, 62_000], [5_000, 7, 100], [1, 1, 10], [10, 3, 1]] as const) {
      const bytes = Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256)));
      const chunks = cut(bytes, random, maxCut);
      const slices = BodyBytes.from(chunks).slices(max);
      expect(Buffer.concat(slices).equals(bytes)).toBe(true);
      for (const slice of slices) expect(slice.length).toBeGreaterThanOrEqual(1);
      for (const slice of slices) expect(slice.length).toBeLessThanOrEqual(max);
      // Bounded however the body was cut: a few pieces per max bytes.
      expect(slices.length).toBeLessThanOrEqual(Math.ceil((6 * size) / max) + 1);
    }
  });

  it('64 KiB chunks go back as views of the received chunks; only small tails are joined', () => {
    const bytes = Buffer.alloc(200_000, 0x61);
    const chunks = [0, 65_536, 131_072, 196_608].map((offset) => Buffer.from(bytes.subarray(offset, offset + 65_536)));
    const slices = BodyBytes.from(chunks).slices(62_000);
    expect(slices.map((s) => s.length)).toEqual([62_000, 3_536, 62_000, 3_536, 62_000, 3_536 + 3_392]);
    const within = (slice: Buffer, chunk: Buffer): boolean =>
      slice.buffer === chunk.buffer && slice.byteOffset >= chunk.byteOffset && slice.byteOffset + slice.length <= chunk.byteOffset + chunk.length;
    const isView = (slice: Buffer): boolean => chunks.some((chunk) => within(slice, chunk));
    expect(slices.map(isView)).toEqual([true, true, true, true, true, false]);
    expect(Buffer.concat(slices).equals(bytes)).toBe(true);
  });

  it('an empty body has no text, no slices and an empty buffer', () => {
    for (const body of [BodyBytes.from([]), BodyBytes.from([Buffer.alloc(0)]), BodyBytes.of(Buffer.alloc(0))]) {
      expect(body.text()).toBe('');
      expect(body.slices(10)).toEqual([]);
      expect(body.buffer().length).toBe(0);
      expect(body.length).toBe(0);
    }
  });

  it('buffer() is the one chunk itself, or the chunks joined once', () => {
    const one = Buffer.from('abc');
    expect(BodyBytes.of(one).buffer()).toBe(one);
    const body = BodyBytes.from([Buffer.from('ab'), Buffer.from('cd')]);
    expect(body.buffer().toString()).toBe('abcd');
    expect(body.buffer()).toBe(body.buffer());
  });
});
