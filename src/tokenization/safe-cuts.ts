/**
 * Points inside ordinary text where cutting provably does not change the ids — so a long run can
 * be encoded in parallel chunks, and cached at finer grain. Only for pre-tokenizers whose regex we
 * have reasoned about: the Qwen2/Qwen3 and Llama 3 (tiktoken-style) patterns,
 *
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{…}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *
 * followed by ByteLevel without prefix space, and no normalizer or NFC. BPE merges never cross a
 * pre-token, so a cut at position p is exact iff p is a match boundary both in the whole text and
 * in each part alone (leftmost-first alternation, lookahead of one char, no lookbehind):
 *
 *  - "\n" | ASCII graphic char: every alternative that can consume the "\n" ends at p
 *    (`[\r\n]*` / `\s*[\r\n]+` are greedy and the next char is not whitespace; `\s*[\r\n]+` comes
 *    before `\s+(?!\S)`, so the lookahead never sees past p) — alone, the left part ends the same;
 *  - ASCII letter | " " ASCII letter: the letter run ends at p, and " word" starts a match.
 *
 * Characters are restricted to ASCII so that JS's and Oniguruma's Unicode tables cannot disagree.
 * NFC cannot compose across "\n" or " ". The property test checks random texts against whole-text
 * encoding for both models.
 */
import type { TextReader } from './text-parts.js';
import type { TokenizerMeta } from './tokenizer-meta.js';

/** The pre-tokenizer regexes this reasoning covers (Qwen2/2.5/3, Llama 3/3.1/3.2/3.3). */
const KNOWN_PATTERNS = new Set([
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
]);

/** Finds the first safe cut in `text[from, end)`, or -1 (it reads text[from - 1, end) only). */
export type CutFinder = (text: TextReader, from: number, end: number) => number;

type Section = Record<string, unknown> | null | undefined;

function isKnownPreTokenizer(section: Section): boolean {
  if (section?.type !== 'Sequence' || !Array.isArray(section.pretokenizers) || section.pretokenizers.length !== 2) return false;
  const [split, byteLevel] = section.pretokenizers as Section[];
  const pattern = (split?.pattern as Section)?.Regex;
  return (
    split?.type === 'Split' && split.behavior === 'Isolated' && split.invert === false &&
    typeof pattern === 'string' && KNOWN_PATTERNS.has(pattern) &&
    byteLevel?.type === 'ByteLevel' && byteLevel.add_prefix_space === false && byteLevel.use_regex === false
  );
}

const isAsciiLetter = (code: number): boolean => (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
const isAsciiGraphic = (code: number): boolean => code >= 0x21 && code <= 0x7e;

function findCut(text: TextReader, from: number, end: number): number {
  for (let p = Math.max(from, 1); p < end; p++) {
    const code = text.charCodeAt(p);
    const previous = text.charCodeAt(p - 1);
    if (previous === 10 && isAsciiGraphic(code)) return p;
    if (code === 32 && p + 1 < end && isAsciiLetter(previous) && isAsciiLetter(text.charCodeAt(p + 1))) return p;
  }
  return -1;
}

/**
 * The cut finder for this tokenizer, or undefined when its pre-tokenizer is not one we covered
 * (or an added token that stays inside runs could straddle a cut).
 */
export function safeCutFinder(meta: TokenizerMeta): CutFinder | undefined {
  const normalizer = meta.normalizer as Section;
  if (normalizer != null && normalizer.type !== 'NFC') return undefined;
  if (!isKnownPreTokenizer(meta.preTokenizer as Section)) return undefined;
  const inRun = meta.addedTokens.filter((token) => token.normalized || token.lstrip || token.rstrip);
  if (inRun.some((token) => token.content.includes('\n') || token.content.includes(' '))) return undefined;
  return findCut;
}
