/**
 * Bytes that arrived in chunks (a request body as Envoy or a socket handed it over), read as one
 * sequence by absolute offset without joining them.
 *
 * The bytes are seen through windows of at most `windowBytes` (views of the chunks, nothing
 * copied). Scanning (`indexOf`, `byteAt`) goes through each window's latin1 string — one char per
 * byte, made on first use: V8's string search and `charCodeAt` cost a few ns per call, against
 * ~100 ns for each call into Buffer's native `indexOf`, which matters to a scanner that stops at
 * every quote of a hostile body. A window stays well under V8's 128 KB large-object size. `text`
 * decodes UTF-8 from the bytes themselves.
 */
import { StringDecoder } from 'node:string_decoder';

export class ByteWindows {
  readonly length: number;
  private readonly views: Buffer[] = [];
  private readonly starts: number[] = [];
  private readonly scans: Array<string | undefined> = [];
  /** The window of the last read: reads mostly move forward from there. */
  private cursor = 0;

  constructor(chunks: readonly Buffer[], windowBytes = 64 * 1024) {
    let offset = 0;
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.length; at += windowBytes) {
        const view = chunk.subarray(at, Math.min(chunk.length, at + windowBytes));
        this.views.push(view);
        this.starts.push(offset);
        offset += view.length;
      }
    }
    this.length = offset;
  }

  /** Index of the window holding absolute offset `at` (0 ≤ at < length). */
  private windowAt(at: number): number {
    const cursor = this.cursor;
    if (at >= this.starts[cursor]! && at < this.starts[cursor]! + this.views[cursor]!.length) return cursor;
    let low = 0;
    let high = this.views.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.starts[mid]! <= at) low = mid;
      else high = mid - 1;
    }
    this.cursor = low;
    return low;
  }

  private scan(window: number): string {
    return (this.scans[window] ??= this.views[window]!.toString('latin1'));
  }

  /** The byte at `at`, or -1 outside [0, length). */
  byteAt(at: number): number {
    if (at < 0 || at >= this.length) return -1;
    const window = this.windowAt(at);
    return this.scan(window).charCodeAt(at - this.starts[window]!);
  }

  /** Absolute offset of the first occurrence of the one-byte character `char` at or after `from`, or -1. */
  indexOf(char: string, from: number): number {
    if (from >= this.length) return -1;
    for (let window = this.windowAt(Math.max(0, from)); window < this.views.length; window++) {
      const start = this.starts[window]!;
      const found = this.scan(window).indexOf(char, Math.max(0, from - start));
      if (found >= 0) {
        this.cursor = window;
        return start + found;
      }
    }
    return -1;
  }

  /** UTF-8 text of [from, to): one window's slice, or the windows' parts through one decoder. */
  text(from: number, to: number): string {
    if (from >= to) return '';
    const first = this.windowAt(from);
    const last = this.windowAt(to - 1);
    if (first === last) return this.views[first]!.toString('utf8', from - this.starts[first]!, to - this.starts[first]!);
    const decoder = new StringDecoder('utf8');
    let text = '';
    for (let window = first; window <= last; window++) {
      const start = this.starts[window]!;
      const view = this.views[window]!;
      text += decoder.write(view.subarray(Math.max(0, from - start), Math.min(view.length, to - start)));
    }
    return text + decoder.end();
  }
}
