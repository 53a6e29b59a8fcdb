/**
 * The long values of one template render (rope-render.ts), each standing in the template's
 * variables as a short marker, and the few reads that are answered from their pieces exactly —
 * without joining them into the string they make.
 *
 * A marker is `U+FDD0 nonce . index U+FDD1`, the nonce random per render: text in a request
 * cannot forge one, and a stray `U+FDD0` in a short value only makes the render take the plain
 * way (rope-render.ts treats any value holding `U+FDD0` as marked).
 */
import { randomBytes } from 'node:crypto';
import { TextParts, type PromptText } from './text-parts.js';

/** A long value as the pieces whose concatenation it is. */
export interface Span {
  readonly pieces: readonly string[];
  readonly length: number;
}

export const MARK = '\uFDD0';
const CLOSE = '\uFDD1';
/** The longest string V8 makes (the plain render fails past it; so must the render in parts). */
export const MAX_STRING_LENGTH = (1 << 29) - 24;

export class SpanTable {
  private readonly nonce = randomBytes(6).toString('hex');
  private readonly spans: Span[] = [];
  private readonly pattern = new RegExp(`${MARK}${this.nonce}\\.(\\d+)${CLOSE}`, 'g');

  /** A new marker standing for `span`. */
  marker(span: Span): string {
    this.spans.push(span);
    return `${MARK}${this.nonce}.${this.spans.length - 1}${CLOSE}`;
  }

  /** The span a string is exactly the marker of. */
  whole(text: string): Span | undefined {
    if (text.length > 40 || !text.startsWith(MARK) || !text.endsWith(CLOSE)) return undefined;
    this.pattern.lastIndex = 0;
    const match = this.pattern.exec(text);
    return match && match.index === 0 && match[0].length === text.length ? this.spans[Number(match[1])] : undefined;
  }

  /** How many characters longer `text` is with its markers replaced by their spans (may be negative). */
  extraLength(text: string): number {
    let extra = 0;
    if (!text.includes(MARK)) return extra;
    this.pattern.lastIndex = 0;
    for (let match = this.pattern.exec(text); match !== null; match = this.pattern.exec(text)) {
      extra += this.spans[Number(match[1])]!.length - match[0].length;
    }
    return extra;
  }

  /**
   * `output` with each marker replaced by its pieces: parts, or the string itself when it holds
   * no marker; undefined when the text would be longer than a string can be.
   */
  expand(output: string): PromptText | undefined {
    const found: Array<{ at: number; end: number; span: Span }> = [];
    let length = output.length;
    this.pattern.lastIndex = 0;
    for (let match = this.pattern.exec(output); match !== null; match = this.pattern.exec(output)) {
      const span = this.spans[Number(match[1])]!;
      found.push({ at: match.index, end: this.pattern.lastIndex, span });
      length += span.length - match[0].length;
      if (length > MAX_STRING_LENGTH) return undefined;
    }
    if (found.length === 0) return output;
    const parts: string[] = [];
    let from = 0;
    for (const { at, end, span } of found) {
      if (at > from) parts.push(output.slice(from, at));
      for (const piece of span.pieces) parts.push(piece);
      from = end;
    }
    if (from < output.length) parts.push(output.slice(from));
    return new TextParts(parts);
  }
}

/** The first `n` characters of a span (all of it when shorter), from its leading pieces. */
export function head(span: Span, n: number): string {
  let out = '';
  for (const piece of span.pieces) {
    if (out.length >= n) break;
    out += piece.slice(0, n - out.length);
  }
  return out;
}

/** The last `n` characters of a span, from its trailing pieces. */
export function tail(span: Span, n: number): string {
  let out = '';
  for (let i = span.pieces.length - 1; i >= 0 && out.length < n; i--) {
    const piece = span.pieces[i]!;
    out = piece.slice(Math.max(0, piece.length - (n - out.length))) + out;
  }
  return out;
}

/** Whether the span's text contains `needle`, piece by piece (each searched with the end of the one before). */
export function includes(span: Span, needle: string): boolean {
  if (needle.length === 0) return true;
  let behind = '';
  for (const piece of span.pieces) {
    const window = behind + piece;
    if (window.includes(needle)) return true;
    behind = window.slice(Math.max(0, window.length - needle.length + 1));
  }
  return false;
}

/** The span's text trimmed as JS `trim` does (the interpreter's `trim` filter), as pieces. */
export function trimmed(span: Span): Span {
  const all = span.pieces;
  let first = 0;
  while (first < all.length && all[first]!.trimStart() === '') first++;
  let last = all.length - 1;
  while (last > first && all[last]!.trimEnd() === '') last--;
  if (first >= all.length) return { pieces: [], length: 0 };
  const pieces = all.slice(first, last + 1);
  pieces[0] = pieces[0]!.trimStart();
  pieces[pieces.length - 1] = pieces.at(-1)!.trimEnd();
  let length = 0;
  for (const piece of pieces) length += piece.length;
  return { pieces, length };
}
