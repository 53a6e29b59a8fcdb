/**
 * Deterministic English-like text for the benchmarks: the project's seeded generator (src/random.ts)
 * picks words (each benchmark decides its mix through `word`), with a sentence break about every
 * 14 words. Same seed, same text — across runs and machines.
 */
import { seededRandom } from '../src/random.js';

export const COMMON_WORDS = (
  'the of and to in is that for it as with was on be by this are or from at an which have not but they his her she ' +
  'model request token cache prefix block router pod decode prefill latency memory server client batch queue score ' +
  'function return value error config file data system user assistant message time first last next new old more ' +
  'because however therefore example result change should would could will can may must also only just very much'
).split(' ');

/** `next(n)`: the next pseudo-random integer in [0, n). */
export type NextInt = (n: number) => number;

export function syntheticText(seed: number, words: number, word: (next: NextInt) => string): string {
  const random = seededRandom(seed);
  const next: NextInt = (n) => Math.floor(random() * n);
  const out: string[] = [];
  for (let i = 0; i < words; i++) {
    out.push(word(next));
    if (next(14) === 0) out.push(next(3) === 0 ? '.\n\n' : '.');
  }
  return out.join(' ');
}
