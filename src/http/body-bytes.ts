/**
 * A request body as the chunks it arrived in (Envoy streams a body to ext_proc in pieces of
 * ~64 KiB; the gateway reads it as one Buffer), used without joining them:
 *
 * - `chunks()` for a reader that works piece by piece (the JSON parser of large bodies,
 *   src/openai/piecewise-json.ts);
 * - `text()` decodes chunk by chunk with one UTF-8 decoder, which carries a character split
 *   across two chunks over to the next — the result equals `Buffer.concat(chunks).toString()`,
 *   invalid bytes included (U+FFFD in the same places);
 * - `slices(max)` hands out views of at most `max` bytes for sending the body on, no copy;
 * - `buffer()` joins the chunks once, for the rare caller that needs one contiguous Buffer
 *   (a body edited as text, an HTTP client).
 *
 * Why: joining costs a fresh allocation as large as the body on every request. For a 200 KB body
 * that is a malloc'd block that the allocator maps and unmaps around each request — page faults
 * that cost more than the copy itself (~0.5 ms per 200 KB on the development VM), and more garbage
 * for V8 to account for — while the parser reads the chunks, and Envoy wants them back as chunks.
 */
import { StringDecoder } from 'node:string_decoder';

export class BodyBytes {
  private joined: Buffer | undefined;

  private constructor(
    private readonly parts: readonly Buffer[],
    /** Bytes in the body. */
    readonly length: number,
  ) {}

  /** A body that is one Buffer. */
  static of(buffer: Buffer): BodyBytes {
    return new BodyBytes([buffer], buffer.length);
  }

  /** A body made of `chunks`, in order (kept as they are: do not reuse them afterwards). */
  static from(chunks: readonly Buffer[]): BodyBytes {
    let length = 0;
    for (const chunk of chunks) length += chunk.length;
    return new BodyBytes(chunks.filter((chunk) => chunk.length > 0), length);
  }

  /** The non-empty chunks, in order (do not change them). */
  chunks(): readonly Buffer[] {
    return this.parts;
  }

  /** The body as UTF-8 text (decoded anew on every call). */
  text(): string {
    if (this.parts.length === 0) return '';
    if (this.parts.length === 1) return this.parts[0]!.toString('utf8');
    const decoder = new StringDecoder('utf8');
    let text = '';
    for (const part of this.parts) text += decoder.write(part);
    return text + decoder.end();
  }

  /** The body as one Buffer: the only chunk itself, else the chunks joined (once). */
  buffer(): Buffer {
    if (this.parts.length === 1) return this.parts[0]!;
    this.joined ??= Buffer.concat(this.parts, this.length);
    return this.joined;
  }

  /**
   * The body in order as pieces of 1..maxBytes bytes (none for an empty body). A piece of at least
   * half that size is a view of its chunk, nothing copied; smaller ones (a chunk's tail, or a body
   * that came in many small chunks) are joined with their neighbours up to maxBytes, so a body cut
   * into many small chunks still goes out in a few pieces per maxBytes.
   */
  slices(maxBytes: number): Buffer[] {
    if (!(maxBytes >= 1)) throw new RangeError(`slice size must be at least 1, got ${maxBytes}`);
    const out: Buffer[] = [];
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = (): void => {
      if (pending.length > 0) out.push(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
      pending = [];
      pendingBytes = 0;
    };
    for (const part of this.parts) {
      for (let offset = 0; offset < part.length; offset += maxBytes) {
        const view = part.subarray(offset, Math.min(part.length, offset + maxBytes));
        if (view.length * 2 >= maxBytes) {
          flush();
          out.push(view);
          continue;
        }
        if (pendingBytes + view.length > maxBytes) flush();
        pending.push(view);
        pendingBytes += view.length;
      }
    }
    flush();
    return out;
  }
}
