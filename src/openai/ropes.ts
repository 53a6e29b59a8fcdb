/**
 * Long string values of a request body, kept as the small pieces they were decoded in.
 *
 * piecewise-json.ts decodes a long string value (a document pasted into a message) in pieces of
 * ~32 KiB and joins them with `+`; V8 keeps the join as a rope until something reads its
 * characters, and then flattens it into one string as large as the value (a fresh large-object
 * mapping, ~1 ms of page faults for 200 KB on a VM). A reader that can work on the pieces — the
 * chat-template renderer and the tokenizer's splitter (src/tokenization/rope-render.ts) — finds
 * them here and never makes that string.
 *
 * Ropes are attached to the body object they came from and carried along when a body is turned
 * into another (validation, Anthropic → chat, Responses → chat). A string is matched to its rope
 * by `===`: for the very same string value — the common case, since validation and the chat
 * conversion move strings without copying them — that is a pointer comparison; a different string
 * of the same length is compared character by character (and merely equal text also gets the
 * pieces, which are its characters all the same). `RopeMatcher` keeps those comparisons linear
 * in the body whatever its shape.
 */

/** A long string value and the pieces whose concatenation it is. */
export interface Rope {
  readonly text: string;
  readonly pieces: readonly string[];
}

const ropes = new WeakMap<object, readonly Rope[]>();

/** Records `list` as the long values inside `body` (replacing what was recorded). */
export function attachRopes(body: object, list: readonly Rope[]): void {
  if (list.length > 0) ropes.set(body, list);
}

/** The ropes recorded for `body` (none when it was parsed whole). */
export function ropesOf(body: object): readonly Rope[] {
  return ropes.get(body) ?? [];
}

/** Gives `to` (a body made from `from`) the ropes of `from`. */
export function carryRopes(from: object, to: object): void {
  const list = ropes.get(from);
  if (list) ropes.set(to, list);
}

/**
 * Finds the rope a string is, for strings met in about the order they were parsed: ropes are
 * grouped by length, each group searched outward from the one after its last match, in the
 * direction matches went (so the next value in document order, or in reverse, costs one
 * comparison). Comparisons of distinct strings of equal
 * length cost up to their length each; past a budget of a few per rope the matcher stops
 * matching, and the rest are read as plain strings (exact all the same, only flattened).
 */
export class RopeMatcher {
  /** The length of the shortest rope (shorter strings are never ropes). */
  readonly shortest: number;
  private readonly groups = new Map<number, { ropes: Rope[]; at: number; last: number }>();
  private budget: number;

  constructor(list: readonly Rope[]) {
    let shortest = Infinity;
    for (const rope of list) {
      const length = rope.text.length;
      shortest = Math.min(shortest, length);
      const group = this.groups.get(length);
      if (group) group.ropes.push(rope);
      else this.groups.set(length, { ropes: [rope], at: 0, last: -1 });
    }
    this.shortest = shortest;
    this.budget = 4 * list.length + 16;
  }

  /** The rope whose text `text` is, if any. */
  find(text: string): Rope | undefined {
    if (text.length < this.shortest) return undefined;
    const group = this.groups.get(text.length);
    if (!group) return undefined;
    const { ropes } = group;
    for (let step = 0; step < 2 * ropes.length; step++) {
      // at, at-1, at+1, at-2, at+2, …
      const offset = step % 2 === 0 ? step / 2 : -(step + 1) / 2;
      const index = group.at + offset;
      if (index < 0 || index >= ropes.length) continue;
      if (this.budget <= 0) return undefined;
      this.budget--;
      if (ropes[index]!.text === text) {
        const next = index + (index < group.last ? -1 : 1);
        group.at = Math.max(0, Math.min(next, ropes.length - 1));
        group.last = index;
        return ropes[index];
      }
    }
    return undefined;
  }
}
