/**
 * Splits prompt text at the tokenizer's atomic added tokens (`<|im_start|>`, `<|eot_id|>`, …),
 * the boundaries where tokenizing pieces separately provably equals tokenizing the whole.
 *
 * Why this holds: an HF tokenizer first cuts its input at non-normalized added tokens
 * (leftmost-longest match) and only then normalizes, pre-tokenizes and runs the model on each
 * piece independently; with `add_special_tokens = false` the post-processor adds nothing. So the
 * ids of `text` are the concatenation of the ids of the pieces between those tokens and the
 * tokens' own ids. The cut is only ours to make where that independence is exact:
 *
 *  - tokens with `lstrip`/`rstrip` (they eat neighbouring whitespace) or `normalized` (matched
 *    after normalization) are still matched — to reproduce leftmost-longest — but left inside
 *    the surrounding piece, where the real tokenizer sees the same neighbours;
 *  - `single_word` tokens depend on characters across our cut → no splitting for that tokenizer;
 *  - a Metaspace pre-tokenizer with `prepend_scheme: "first"` treats the piece at offset 0
 *    differently → no splitting either.
 *
 * Long runs can further be cut into chunks at points safe-cuts.ts proves harmless for the
 * tokenizer's pre-tokenizer (when it knows it), so they encode in parallel.
 *
 * Text in parts (text-parts.ts) gives the same pieces as the string it stands for: the added
 * tokens are searched window by window (forEachMatch), and the runs are cut by the same code.
 *
 * The tokenization tests check the equality on random conversations with Qwen3 and Llama 3.1.
 */
import { safeCutFinder, type CutFinder } from './safe-cuts.js';
import type { PromptText, TextReader } from './text-parts.js';
import type { AddedTokenInfo, TokenizerMeta } from './tokenizer-meta.js';

export type { AddedTokenInfo, TokenizerMeta };

/** A piece of split text: a run of ordinary text, or the id of an atomic added token. */
export type Piece = string | number;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** True if some (nested) section is a Metaspace that prepends only to the first piece. */
function prependsFirstOnly(section: unknown): boolean {
  if (Array.isArray(section)) return section.some(prependsFirstOnly);
  if (section === null || typeof section !== 'object') return false;
  const node = section as Record<string, unknown>;
  if (node.type === 'Metaspace' && node.prepend_scheme === 'first') return true;
  return Object.values(node).some((value) => typeof value === 'object' && prependsFirstOnly(value));
}

/** Why a tokenizer's text cannot be split, or undefined when it can. */
export function unsplittableReason(meta: TokenizerMeta): string | undefined {
  if (meta.addedTokens.some((token) => token.single_word)) return 'an added token is single_word';
  if (prependsFirstOnly(meta.preTokenizer) || prependsFirstOnly(meta.normalizer)) return 'Metaspace prepends only to the first piece';
  return undefined;
}

/**
 * Calls `found(start, end, content)` for each match of `pattern` (global; literal alternatives of
 * at most `longest` characters, longest first) in `text`, as `pattern.exec` finds them in the
 * whole string. Parts are searched one at a time behind the end of the previous one (at most
 * `longest - 1` characters): a match is taken only where every alternative fits in what was read,
 * so it and the absence of an earlier one are what the whole text gives.
 */
export function forEachMatch(pattern: RegExp, longest: number, text: PromptText, found: (start: number, end: number, content: string) => void): void {
  if (typeof text === 'string') {
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
      found(match.index, pattern.lastIndex, match[0]);
    }
    return;
  }
  let behind = '';
  let offset = 0;
  const parts = text.parts;
  for (let i = 0; i < parts.length; i++) {
    const window = behind + parts[i]!;
    const last = i === parts.length - 1;
    // A match starting before `limit` is decided by characters already read.
    const limit = last ? window.length : window.length - longest + 1;
    let resume = 0;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(window); match !== null && match.index < limit; match = pattern.exec(window)) {
      found(offset + match.index, offset + pattern.lastIndex, match[0]);
      resume = pattern.lastIndex;
    }
    const keep = Math.max(resume, limit, 0);
    behind = window.slice(keep);
    offset += keep;
  }
}

export class AddedTokenSplitter {
  private readonly pattern: RegExp | undefined;
  /** The longest matched token, in UTF-16 units. */
  private readonly longest: number;
  /** content → id, for the tokens we cut at. */
  private readonly atomic = new Map<string, number>();

  private constructor(
    tokens: readonly AddedTokenInfo[],
    private readonly findCut: CutFinder | undefined,
  ) {
    const matched = tokens.filter((token) => !token.normalized && token.content.length > 0);
    for (const token of matched) {
      if (!token.lstrip && !token.rstrip) this.atomic.set(token.content, token.id);
    }
    // Longest first: JS alternation is leftmost, first-alternative-wins → leftmost-longest.
    const alternatives = [...new Set(matched.map((token) => token.content))]
      .sort((a, b) => b.length - a.length || (a < b ? -1 : 1))
      .map(escapeRegExp);
    this.pattern = alternatives.length > 0 ? new RegExp(alternatives.join('|'), 'g') : undefined;
    this.longest = Math.max(1, ...matched.map((token) => token.content.length));
  }

  /** A splitter for this tokenizer, or undefined when it could not split anything without changing ids. */
  static create(meta: TokenizerMeta): AddedTokenSplitter | undefined {
    if (unsplittableReason(meta) !== undefined) return undefined;
    const findCut = safeCutFinder(meta);
    const hasAtomic = meta.addedTokens.some((token) => !token.normalized && !token.lstrip && !token.rstrip && token.content.length > 0);
    if (!hasAtomic && !findCut) return undefined;
    return new AddedTokenSplitter(meta.addedTokens, findCut);
  }

  /** Whether long runs can be cut into chunks (the pre-tokenizer is one safe-cuts.ts covers). */
  get chunks(): boolean {
    return this.findCut !== undefined;
  }

  /**
   * `text` as ordinary runs (never empty) and atomic token ids, in order; runs longer than
   * `chunkChars` (0 = never) are cut into chunks of about that size where that is safe.
   */
  split(text: PromptText, chunkChars = 0): Piece[] {
    const pieces: Piece[] = [];
    let runStart = 0;
    if (this.pattern) {
      forEachMatch(this.pattern, this.longest, text, (start, end, content) => {
        const id = this.atomic.get(content);
        if (id === undefined) return; // matched, but stays inside the run (lstrip/rstrip token)
        if (start > runStart) this.pushRun(pieces, text, runStart, start, chunkChars);
        pieces.push(id);
        runStart = end;
      });
    }
    if (runStart < text.length) this.pushRun(pieces, text, runStart, text.length, chunkChars);
    return pieces;
  }

  /** Pushes `text[start, end)`, cut into ~chunkChars chunks where that is provably safe. */
  private pushRun(pieces: Piece[], text: TextReader, start: number, end: number, chunkChars: number): void {
    if (this.findCut && chunkChars > 0) {
      while (end - start > chunkChars) {
        const cut = this.findCut(text, start + chunkChars, end);
        if (cut < 0) break;
        pieces.push(text.slice(start, cut));
        start = cut;
      }
    }
    pieces.push(text.slice(start, end));
  }
}
