import { describe, expect, it } from 'vitest';
import { ByteWindows } from '../../src/http/byte-windows.js';
import { seededRandom } from '../../src/random.js';
import { cutRandomly } from '../helpers/chunks.js';

describe('ByteWindows', () => {
  it('reads chunked bytes as the joined Buffer does: byteAt, indexOf, UTF-8 text of any range', () => {
    const random = seededRandom(41);
    const alphabet = [0x22, 0x5c, 0x61, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff];
    for (let trial = 0; trial < 300; trial++) {
      const bytes = Buffer.from(Array.from({ length: Math.floor(random() * 300) }, () => alphabet[Math.floor(random() * alphabet.length)]!));
      const windows = new ByteWindows(cutRandomly(bytes, random, 1 + Math.floor(random() * 50)), 1 + Math.floor(random() * 20));
      expect(windows.length).toBe(bytes.length);
      for (let at = -1; at <= bytes.length; at++) expect(windows.byteAt(at)).toBe(at >= 0 && at < bytes.length ? bytes[at] : -1);
      for (let probe = 0; probe < 20; probe++) {
        const from = Math.floor(random() * (bytes.length + 2)) - 1;
        expect(windows.indexOf('"', from)).toBe(bytes.indexOf(0x22, Math.max(0, from)));
        const a = Math.floor(random() * (bytes.length + 1));
        const b = a + Math.floor(random() * (bytes.length + 1 - a));
        expect(windows.text(a, b)).toBe(bytes.subarray(a, b).toString('utf8'));
      }
    }
  });
});
