/**
 * Random prompt text for tokenization property tests: fragments chosen to stress tokenizers and
 * our cuts — unicode, whitespace runs, digits, contractions, special-token look-alikes and real
 * special tokens inside content.
 */
import { afterAll, beforeAll } from 'vitest';
import { PromptTokenizer } from '../../src/tokenization/prompt-tokens.js';
import { ensureModels } from './models.js';

export const FRAGMENTS = [
  'hello', ' world', 'Hello', '  ', '\n', '\n\n', '\t', ' \n ', '123', '4567', '3.14', "don't", "'s", 'ünïcödé', 'é',
  '漢字かな', '🙂', '👩‍💻', '<|im_start|>', '<|im_end|>', '<|eot_id|>', '<|start_header_id|>', '<|im_', '|>', '<', '>',
  '```ts\nconst x = 1;\n```', '{"a": [1, 2]}', 'https://example.com/a?b=c', '...', '!!', ' - ', 'x'.repeat(40),
  '\r\n', "'s", " 's", "'LL", '\n-', '\n1', '\n ', ' \n', 'a b c', 'Zz', '\u0301', 'ﬁ', '٣',
  'The quick brown fox', ' jumps over', 'Section 4.2 of the agreement', ' shall apply.',
];

/** 1..maxParts random fragments, concatenated. */
export function randomText(next: () => number, maxParts: number): string {
  let text = '';
  const parts = 1 + Math.floor(next() * maxParts);
  for (let i = 0; i < parts; i++) text += FRAGMENTS[Math.floor(next() * FRAGMENTS.length)]!;
  return text;
}

/** `text` cut at random points into pieces of 1..maxPiece UTF-16 units (a surrogate pair may be split). */
export function randomPieces(text: string, next: () => number, maxPiece: number): string[] {
  const pieces: string[] = [];
  for (let at = 0; at < text.length;) {
    const size = 1 + Math.floor(next() * maxPiece);
    pieces.push(text.slice(at, at + size));
    at += size;
  }
  return pieces;
}

/**
 * Prompt tokenizers over the prepared models for the calling suite, opened in its `beforeAll` and
 * closed in its `afterAll`: `whole` with the default cuts, `chunked` cutting long runs every ~40
 * characters (so chunk boundaries land everywhere the safe-cut rules allow).
 */
export function suitePromptTokenizers(): { readonly whole: PromptTokenizer; readonly chunked: PromptTokenizer } {
  const tokenizers = {} as { whole: PromptTokenizer; chunked: PromptTokenizer };
  beforeAll(async () => {
    tokenizers.whole = new PromptTokenizer({ searchDirs: [await ensureModels()] });
    tokenizers.chunked = new PromptTokenizer({ store: tokenizers.whole.store, chunkChars: 40 });
  });
  afterAll(async () => {
    await tokenizers.chunked?.close();
    await tokenizers.whole?.close();
  });
  return tokenizers;
}
