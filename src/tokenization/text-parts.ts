/**
 * Prompt text given as the parts whose concatenation it is, read without ever concatenating
 * them: a rendered chat whose long message contents stayed in pieces (rope-render.ts).
 *
 * Why: a string over 128 KB is a fresh large-object mapping in V8 — ~1 ms of page faults for
 * 200 KB on a VM (docs/benchmarks.md). Reading characters of a rope (`+`-joined pieces) makes V8
 * flatten it into exactly such a string; reading them through here does not.
 *
 * The splitter (added-tokens.ts) reads prompt text through `PromptText`: a plain string, or this.
 * Access is sequential in practice (a scan for safe cuts, then slices in order), so the part last
 * read is remembered and the next lookup starts there.
 */

/** What the splitter reads: `length`, characters and slices, as a string offers them. */
export interface TextReader {
  readonly length: number;
  charCodeAt(index: number): number;
  slice(start: number, end: number): string;
}

export class TextParts implements TextReader {
  readonly parts: readonly string[];
  readonly length: number;
  /** starts[i]: offset of parts[i] in the text; one more entry: the length. */
  private readonly starts: number[];
  private part = 0;

  /** `parts` are kept as given; empty ones are skipped. */
  constructor(parts: readonly string[]) {
    const kept = parts.filter((part) => part.length > 0);
    this.parts = kept;
    this.starts = new Array<number>(kept.length + 1);
    let offset = 0;
    for (let i = 0; i < kept.length; i++) {
      this.starts[i] = offset;
      offset += kept[i]!.length;
    }
    this.starts[kept.length] = offset;
    this.length = offset;
  }

  /** The index of the part holding `index` (0 ≤ index < length). */
  private locate(index: number): number {
    let part = this.part;
    const starts = this.starts;
    if (index >= starts[part]! && index < starts[part + 1]!) return part;
    if (index >= starts[part + 1]! && index < (starts[part + 2] ?? -1)) return (this.part = part + 1);
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    part = lo;
    return (this.part = part);
  }

  charCodeAt(index: number): number {
    if (!(index >= 0 && index < this.length)) return Number.NaN;
    const part = this.locate(index);
    return this.parts[part]!.charCodeAt(index - this.starts[part]!);
  }

  /** text[start, end) as a string of its own (a rope when it spans parts). */
  slice(start: number, end: number): string {
    start = Math.max(0, Math.min(start, this.length));
    end = Math.max(start, Math.min(end, this.length));
    if (start === end) return '';
    let part = this.locate(start);
    let out = '';
    while (start < end) {
      const partStart = this.starts[part]!;
      const partEnd = this.starts[part + 1]!;
      out += this.parts[part]!.slice(start - partStart, Math.min(end, partEnd) - partStart);
      start = Math.min(end, partEnd);
      part++;
    }
    return out;
  }

  /** The whole text as one string: only where a caller cannot do without it (it is body-sized). */
  toString(): string {
    return this.parts.join('');
  }
}

/** Prompt text: one string, or parts. */
export type PromptText = string | TextParts;

/** The text as one string (joins parts: only where a whole string is unavoidable). */
export function wholeText(text: PromptText): string {
  return typeof text === 'string' ? text : text.toString();
}
