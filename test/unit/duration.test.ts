import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/duration.js';

describe('parseDuration (Go syntax)', () => {
  it.each([
    ['0', 0], ['250ms', 250], ['1.5s', 1500], ['1m30s', 90_000], ['2h', 7_200_000], ['100us', 0.1], ['-1s', -1000], ['.5s', 500],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBeCloseTo(ms);
  });

  it.each(['', '5', 'ms', '1x', '1s2', '-'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/invalid duration/);
  });
});
