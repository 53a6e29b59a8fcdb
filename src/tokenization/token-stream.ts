/**
 * A prompt's token ids, produced a chunk at a time, so a caller that only needs a prefix (the
 * precise prefix cache: the longest cached prefix ends at the first block no pod holds) stops
 * tokenizing there. What was not tokenized is summarised by `rest()`: ids known without encoding
 * (atomic added tokens, the special-token suffix) and the UTF-8 bytes of the text left, from
 * which the caller estimates a token count.
 *
 * Chunks concatenate to exactly the ids of a whole-text encode: text is cut at the same places
 * segmented-encoder.ts cuts it (atomic added tokens and provably safe points), and pieces are
 * encoded in order in batches that grow geometrically (first ~`firstChars` characters, then
 * four times as many each call) — a short prompt is one batch, a long uncached one stops early.
 * Pieces whose ids the segment cache already holds (text seen before: a conversation's history, a
 * shared system prompt) do not count against a batch's size: a batch takes every such leading
 * piece for free, then ~`firstChars` of new text — where a cached prefix usually ends. Once a
 * background reader caps the batches (`capBatches`), known pieces count too: a cached document
 * after new text must not come back as one huge chunk.
 */
export interface TokenStreamRest {
  /** Ids of the rest that need no encoding (atomic added tokens, special-token suffix). */
  readonly knownTokens: number;
  /** UTF-8 bytes of the rest's ordinary text (to be estimated). */
  readonly textBytes: number;
}

export interface TokenStream {
  /**
   * The next ids, or undefined when the prompt is exhausted. A stream never changes an array it
   * has handed out (callers keep chunks without copying them).
   */
  next(): Promise<ArrayLike<number> | undefined>;
  /** What is left after the chunks returned so far. */
  rest(): TokenStreamRest;
  /**
   * Caps each later batch at about `chars` of text, whether new or cached (batches stop growing;
   * ids: `chars / CHARS_PER_TOKEN` ids): a background reader keeps each encode — and what it
   * hashes after it — short, so a decision queued behind it waits little.
   */
  capBatches?(chars: number): void;
}

/**
 * Default size of the first batch's new text, in UTF-16 units (about 250 tokens of English; text
 * seen before is free). Later batches grow ×4, so a long prompt costs few worker round trips.
 */
export const FIRST_BATCH_CHARS = 1024;
/** UTF-16 units per token assumed when a character budget applies to ids. */
export const CHARS_PER_TOKEN = 4;
const GROWTH = 4;

const NOTHING_LEFT: TokenStreamRest = { knownTokens: 0, textBytes: 0 };

/** Ids already known (id prompts, a tokenizer that cannot split): handed out in growing slices. */
export class IdsStream implements TokenStream {
  private offset = 0;
  private size: number;
  private maxSize = Number.POSITIVE_INFINITY;

  constructor(private readonly ids: ArrayLike<number>, firstTokens = FIRST_BATCH_CHARS / CHARS_PER_TOKEN) {
    this.size = Math.max(1, firstTokens);
  }

  async next(): Promise<ArrayLike<number> | undefined> {
    if (this.offset >= this.ids.length) return undefined;
    const end = Math.min(this.ids.length, this.offset + this.size);
    // A typed array is handed out as a view (no copy); the ids are not changed afterwards.
    const chunk = ArrayBuffer.isView(this.ids)
      ? (this.ids as unknown as Uint32Array).subarray(this.offset, end)
      : Array.prototype.slice.call(this.ids, this.offset, end) as number[];
    this.offset = end;
    this.size = Math.min(this.size * GROWTH, this.maxSize);
    return chunk;
  }

  capBatches(chars: number): void {
    this.maxSize = Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
    this.size = Math.min(this.size, this.maxSize);
  }

  rest(): TokenStreamRest {
    return { knownTokens: this.ids.length - this.offset, textBytes: 0 };
  }
}

/** Encodes pieces[from, to) (each an ordinary run or an atomic id) into one id array. */
export type PieceEncoder = (pieces: ReadonlyArray<string | number>, from: number, to: number) => Promise<Uint32Array>;

/** Whether the run at `index` has its ids known already (segment cache): such pieces cost nothing to include. */
export type PieceKnown = (index: number) => boolean;

/** Split text, encoded batch by batch in order. */
export class PieceStream implements TokenStream {
  private index = 0;
  private budget: number;
  private maxBudget = Number.POSITIVE_INFINITY;
  private prefixSent = false;
  private suffixSent = false;

  constructor(
    private readonly pieces: ReadonlyArray<string | number>,
    private readonly encode: PieceEncoder,
    private readonly prefix: Uint32Array = new Uint32Array(0),
    private readonly suffix: Uint32Array = new Uint32Array(0),
    firstChars = FIRST_BATCH_CHARS,
    private readonly known?: PieceKnown,
  ) {
    this.budget = Math.max(1, firstChars);
  }

  async next(): Promise<ArrayLike<number> | undefined> {
    if (this.index >= this.pieces.length) {
      if (!this.prefixSent && this.prefix.length > 0) {
        this.prefixSent = true;
        return this.prefix;
      }
      if (this.suffixSent || this.suffix.length === 0) return undefined;
      this.suffixSent = true;
      return this.suffix;
    }
    const from = this.index;
    let chars = 0;
    let to = from;
    while (to < this.pieces.length && (to === from || chars < this.budget)) {
      const at = to++;
      const piece = this.pieces[at]!;
      if (typeof piece === 'number') chars += 1;
      else if (this.capped || this.known === undefined || !this.known(at)) chars += piece.length;
    }
    this.index = to;
    this.budget = Math.min(this.budget * GROWTH, this.maxBudget);
    const ids = await this.encode(this.pieces, from, to);
    if (this.prefixSent || this.prefix.length === 0) return ids;
    this.prefixSent = true;
    const out = new Uint32Array(this.prefix.length + ids.length);
    out.set(this.prefix);
    out.set(ids, this.prefix.length);
    return out;
  }

  private get capped(): boolean {
    return this.maxBudget !== Number.POSITIVE_INFINITY;
  }

  capBatches(chars: number): void {
    this.maxBudget = Math.max(1, chars);
    this.budget = Math.min(this.budget, this.maxBudget);
  }

  rest(): TokenStreamRest {
    if (this.index >= this.pieces.length && (this.suffixSent || this.suffix.length === 0)) return NOTHING_LEFT;
    // Counted only here, over the pieces not handed out: a walk that reaches the end never pays for it.
    let atomic = 0;
    let bytes = 0;
    for (let i = this.index; i < this.pieces.length; i++) {
      const piece = this.pieces[i]!;
      if (typeof piece === 'number') atomic++;
      else bytes += Buffer.byteLength(piece, 'utf8');
    }
    return { knownTokens: atomic + (this.suffixSent ? 0 : this.suffix.length), textBytes: bytes };
  }
}

/** Reads a stream to the end (tests, and callers that need every id). */
export async function readAll(stream: TokenStream): Promise<Uint32Array> {
  const chunks: ArrayLike<number>[] = [];
  let total = 0;
  for (let chunk = await stream.next(); chunk !== undefined; chunk = await stream.next()) {
    chunks.push(chunk);
    total += chunk.length;
  }
  const out = new Uint32Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}
