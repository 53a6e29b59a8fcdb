/**
 * Edits the top-level members of a JSON object *as text*, so every member we do not touch is
 * forwarded byte-for-byte (big integers, float spellings, key order and unknown fields survive —
 * JSON.parse → JSON.stringify would lose them). One linear scan finds the members; nested values
 * are skipped, not parsed.
 */

interface Member {
  key: string;
  /** Offset of the key's opening quote. */
  start: number;
  valueStart: number;
  /** Offset just past the value. */
  end: number;
}

/** JSON whitespace: space, line feed, carriage return, tab. */
export function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

function skipWhitespace(text: string, i: number): number {
  while (i < text.length && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

/** Index just past the closing quote of the string starting at `i`. */
function skipString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === 0x5c) j++; // backslash: skip the escaped char
    else if (c === 0x22) return j + 1;
  }
  throw new SyntaxError('unterminated string');
}

/** Index just past the JSON value starting at `i`. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return skipString(text, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const d = text.charCodeAt(j);
      if (d === 0x22) j = skipString(text, j) - 1;
      else if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new SyntaxError('unterminated container');
  }
  let j = i;
  while (j < text.length) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || isWhitespace(d)) break;
    j++;
  }
  if (j === i) throw new SyntaxError(`unexpected character at ${i}`);
  return j;
}

/** The top-level members of a JSON object text, in order; throws SyntaxError if it is not one. */
export function scanMembers(text: string): Member[] {
  const members: Member[] = [];
  let i = skipWhitespace(text, 0);
  if (text.charCodeAt(i) !== 0x7b) throw new SyntaxError('not a JSON object');
  i = skipWhitespace(text, i + 1);
  if (text.charCodeAt(i) === 0x7d) return members;
  for (;;) {
    if (text.charCodeAt(i) !== 0x22) throw new SyntaxError(`expected a key at ${i}`);
    const start = i;
    const keyEnd = skipString(text, i);
    const rawKey = text.slice(i + 1, keyEnd - 1);
    const key = rawKey.includes('\\') ? (JSON.parse(text.slice(i, keyEnd)) as string) : rawKey;
    i = skipWhitespace(text, keyEnd);
    if (text.charCodeAt(i) !== 0x3a) throw new SyntaxError(`expected ':' at ${i}`);
    const valueStart = skipWhitespace(text, i + 1);
    const end = skipValue(text, valueStart);
    members.push({ key, start, valueStart, end });
    i = skipWhitespace(text, end);
    const sep = text.charCodeAt(i);
    if (sep === 0x7d) return members;
    if (sep !== 0x2c) throw new SyntaxError(`expected ',' or '}' at ${i}`);
    i = skipWhitespace(text, i + 1);
  }
}

/** The raw text of a top-level member's value (the last one, as JSON.parse would keep), or undefined. */
export function rawMember(text: string, key: string): string | undefined {
  let found: string | undefined;
  for (const m of scanMembers(text)) if (m.key === key) found = text.slice(m.valueStart, m.end);
  return found;
}

/**
 * Returns `text` with top-level members changed: a string value is the new member's raw JSON,
 * `undefined` deletes the member. Untouched members keep their exact bytes; new ones are appended.
 */
export function patchMembers(text: string, changes: Record<string, string | undefined>): string {
  const members = scanMembers(text);
  const lastIndex = new Map<string, number>();
  members.forEach((m, idx) => lastIndex.set(m.key, idx));
  const parts: string[] = [];
  members.forEach((m, idx) => {
    if (!Object.hasOwn(changes, m.key)) {
      parts.push(text.slice(m.start, m.end));
      return;
    }
    const value = changes[m.key];
    // Duplicate keys: only the last one counts for JSON.parse, so only it is kept.
    if (value !== undefined && lastIndex.get(m.key) === idx) parts.push(`${JSON.stringify(m.key)}:${value}`);
  });
  for (const [key, value] of Object.entries(changes)) {
    if (value !== undefined && !lastIndex.has(key)) parts.push(`${JSON.stringify(key)}:${value}`);
  }
  return `{${parts.join(',')}}`;
}
