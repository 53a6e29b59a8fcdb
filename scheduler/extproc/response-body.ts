/**
 * Response-body helpers for the ext_proc response phase: rewriting the model name back to the
 * one the client sent (byte-level, so multi-byte characters split across chunks stay intact) and
 * reading OpenAI `usage` from JSON bodies and SSE streams.
 */
import type { ResponseInfo } from '../framework/plugins.js';

export type Usage = NonNullable<ResponseInfo['usage']>;

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

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/**
 * `usage` of an OpenAI response object: prompt/completion tokens, or input/output tokens for
 * Responses API objects; cached tokens from `prompt_tokens_details` (vLLM's spelling; upstream
 * reads a misspelt key and misses them) or `input_tokens_details`.
 */
export function usageOf(document: unknown): Usage | undefined {
  if (document === null || typeof document !== 'object') return undefined;
  const usage = (document as { usage?: unknown }).usage;
  if (usage === null || typeof usage !== 'object') return undefined;
  const u = usage as Record<string, unknown>;
  const details = (u.prompt_tokens_details ?? u.input_tokens_details) as Record<string, unknown> | null | undefined;
  const found: Usage = {
    promptTokens: num(u.prompt_tokens) ?? num(u.input_tokens),
    completionTokens: num(u.completion_tokens) ?? num(u.output_tokens),
    cachedTokens: details && typeof details === 'object' ? num(details.cached_tokens) : undefined,
  };
  return found.promptTokens === undefined && found.completionTokens === undefined ? undefined : found;
}

/** Usage of a complete non-streaming JSON body; undefined when it is not JSON or has none. */
export function jsonUsage(body: Buffer): Usage | undefined {
  try {
    return usageOf(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}

/** Bytes of an unfinished SSE line kept across chunks; longer lines are not usage events. */
const MAX_LINE_BYTES = 1024 * 1024;

/**
 * Scans an SSE stream for usage: `data:` events whose JSON carries `usage`, or a Responses API
 * `response.completed` event (usage under `response`). The last one seen wins, so cumulative
 * `continuous_usage_stats` end on the final totals.
 */
export class SseUsageScanner {
  private partial: Buffer = Buffer.alloc(0);
  private found: Usage | undefined;

  push(chunk: Buffer): void {
    let data = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk;
    let newline = data.indexOf(0x0a);
    while (newline >= 0) {
      this.scanLine(data.subarray(0, newline));
      data = data.subarray(newline + 1);
      newline = data.indexOf(0x0a);
    }
    this.partial = data.length <= MAX_LINE_BYTES ? Buffer.from(data) : Buffer.alloc(0);
  }

  finish(): Usage | undefined {
    if (this.partial.length > 0) this.scanLine(this.partial);
    this.partial = Buffer.alloc(0);
    return this.found;
  }

  private scanLine(line: Buffer): void {
    if (line.length < 6 || line.subarray(0, 5).toString('latin1') !== 'data:' || line.indexOf('"usage"') < 0) return;
    try {
      const event = JSON.parse(line.subarray(5).toString('utf8')) as unknown;
      this.found = usageOf(event) ?? usageOf((event as { response?: unknown } | null)?.response) ?? this.found;
    } catch {
      // Not JSON (or not ours): nothing to learn.
    }
  }
}
