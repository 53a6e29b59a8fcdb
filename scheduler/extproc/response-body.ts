/**
 * Response-body helpers for the ext_proc response phase: rewriting the model name back to the
 * one the client sent (byte-level, so multi-byte characters split across chunks stay intact).
 * Reading OpenAI `usage` is src/wire/usage.ts (one scanner for the gateway and ext_proc).
 */
export { SseUsageScanner, jsonUsage, usageOf, type Usage } from '../../src/wire/usage.js';

/**
 * Replaces `"model":"<target>"` (also written `"model": "<target>"`) with the client's model name.
 * Streaming: a chunk whose tail could be the start of a pattern keeps that tail until the next
 * chunk (or the end), so a name split across chunks is still rewritten.
 */
export class ModelRewriter {
  private readonly patterns: Array<{ from: Buffer; to: Buffer }>;
  private readonly longest: number;
  private held: Buffer = Buffer.alloc(0);

  constructor(target: string, original: string) {
    const t = JSON.stringify(target);
    const o = JSON.stringify(original);
    this.patterns = [
      { from: Buffer.from(`"model":${t}`), to: Buffer.from(`"model":${o}`) },
      { from: Buffer.from(`"model": ${t}`), to: Buffer.from(`"model": ${o}`) },
    ];
    this.longest = Math.max(...this.patterns.map((p) => p.from.length));
  }

  /** The rewritten bytes that can go out now; `final` flushes everything held. */
  push(chunk: Buffer, final: boolean): Buffer {
    let data = this.held.length > 0 ? Buffer.concat([this.held, chunk]) : chunk;
    for (const { from, to } of this.patterns) data = replaceAll(data, from, to);
    if (final) {
      this.held = Buffer.alloc(0);
      return data;
    }
    const keep = this.partialTail(data);
    this.held = Buffer.from(data.subarray(data.length - keep));
    return data.subarray(0, data.length - keep);
  }

  /** Length of the longest tail of `data` that is a proper prefix of a pattern. */
  private partialTail(data: Buffer): number {
    for (let k = Math.min(data.length, this.longest - 1); k > 0; k--) {
      const tail = data.subarray(data.length - k);
      if (this.patterns.some(({ from }) => from.subarray(0, k).equals(tail))) return k;
    }
    return 0;
  }
}

function replaceAll(data: Buffer, from: Buffer, to: Buffer): Buffer {
  let at = data.indexOf(from);
  if (at < 0) return data;
  const parts: Buffer[] = [];
  let start = 0;
  while (at >= 0) {
    parts.push(data.subarray(start, at), to);
    start = at + from.length;
    at = data.indexOf(from, start);
  }
  parts.push(data.subarray(start));
  return Buffer.concat(parts);
}
