/**
 * Cached-token rewriter for successful nixlv2 P/D responses (llm-d #916). After a NIXL pull the
 * decoder reports nearly the whole prompt as cached; the real cache hit is the prefiller's, so the
 * sidecar sets `usage.prompt_tokens_details.cached_tokens` to the prefiller's value P.
 *
 * Rule: when `usage` is an object, details missing/null/non-object become `{"cached_tokens":P}`,
 * otherwise `cached_tokens` is set to P. Edits are textual (raw-json), so every other byte of a
 * changed document survives, and unchanged documents keep their exact bytes.
 *
 * SSE bodies are rewritten per complete `data:` line (a line is held back until its newline);
 * `[DONE]`, `event:` and non-JSON lines pass byte-identical, and a trailing line without newline is
 * flushed at the end. Other bodies are buffered whole and rewritten once (upstream rewrote each
 * write separately and so missed split bodies).
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { ResponseBodyFilter } from '../src/http/forward.js';
import { patchMembers, rawMember } from '../src/openai/raw-json.js';

export type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `usage.prompt_tokens_details.cached_tokens` of a response document, or 0 when absent or null. */
export function cachedTokensOf(response: unknown): number {
  if (!isObject(response) || !isObject(response.usage)) return 0;
  const details = response.usage.prompt_tokens_details;
  if (!isObject(details) || typeof details.cached_tokens !== 'number') return 0;
  return Math.trunc(details.cached_tokens);
}

/** Called with every `usage` object the rewriter sees (for span attributes). */
export type UsageObserver = (usage: JsonObject) => void;

/** Rewrites one JSON document; undefined when it is not JSON, has no usage object, or is already right. */
export function rewriteCachedTokens(text: string, cached: number, onUsage?: UsageObserver): string | undefined {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(document) || !isObject(document.usage)) return undefined;
  onUsage?.(document.usage);
  const details = document.usage.prompt_tokens_details;
  if (isObject(details) && typeof details.cached_tokens === 'number' && Math.trunc(details.cached_tokens) === cached) return undefined;
  const usageText = rawMember(text, 'usage')!;
  const detailsText = isObject(details)
    ? patchMembers(rawMember(usageText, 'prompt_tokens_details')!, { cached_tokens: String(cached) })
    : `{"cached_tokens":${cached}}`;
  return patchMembers(text, { usage: patchMembers(usageText, { prompt_tokens_details: detailsText }) });
}

const EMPTY = Buffer.alloc(0);
const USAGE_KEY = Buffer.from('"usage"');
const DATA_PREFIX = Buffer.from('data:');

/** Line-buffering SSE rewriter; `write` returns the complete lines (rewritten), `end` the rest. */
export class SseCachedTokensRewriter {
  private pending: Buffer | undefined;

  constructor(private readonly cached: number, private readonly onUsage?: UsageObserver) {}

  write(chunk: Buffer): Buffer {
    const data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    const lastNewline = data.lastIndexOf(0x0a);
    if (lastNewline < 0) {
      this.pending = data;
      return EMPTY;
    }
    this.pending = lastNewline === data.length - 1 ? undefined : data.subarray(lastNewline + 1);
    return this.rewriteBlock(data.subarray(0, lastNewline + 1));
  }

  end(): Buffer {
    const rest = this.pending;
    this.pending = undefined;
    return rest ? this.rewriteBlock(rest) : EMPTY;
  }

  /** Lines without `"usage"` cannot change, so most blocks are returned as they came. */
  private rewriteBlock(block: Buffer): Buffer {
    if (block.indexOf(USAGE_KEY) < 0) return block;
    const parts: Buffer[] = [];
    let changed = false;
    for (let start = 0; start < block.length;) {
      const newline = block.indexOf(0x0a, start);
      const end = newline < 0 ? block.length : newline + 1;
      const line = block.subarray(start, end);
      const rewritten = line.indexOf(USAGE_KEY) >= 0 ? this.rewriteLine(line) : undefined;
      if (rewritten) changed = true;
      parts.push(rewritten ?? line);
      start = end;
    }
    return changed ? Buffer.concat(parts) : block;
  }

  private rewriteLine(line: Buffer): Buffer | undefined {
    if (line.length < DATA_PREFIX.length || line.compare(DATA_PREFIX, 0, DATA_PREFIX.length, 0, DATA_PREFIX.length) !== 0) return undefined;
    let contentEnd = line.length;
    while (contentEnd > 0 && (line[contentEnd - 1] === 0x0a || line[contentEnd - 1] === 0x0d)) contentEnd--;
    const payloadStart = line[DATA_PREFIX.length] === 0x20 ? DATA_PREFIX.length + 1 : DATA_PREFIX.length;
    const rewritten = rewriteCachedTokens(line.toString('utf8', payloadStart, contentEnd), this.cached, this.onUsage);
    if (rewritten === undefined) return undefined;
    return Buffer.concat([line.subarray(0, payloadStart), Buffer.from(rewritten), line.subarray(contentEnd)]);
  }
}

/** The rewriter as a forwarder body filter (src/http/forward.ts `ResponseBodyFilter`): SSE streamed line by line, anything else buffered whole. */
export class CachedTokensFilter implements ResponseBodyFilter {
  private mode: 'off' | 'sse' | 'whole' = 'whole';
  private sse: SseCachedTokensRewriter | undefined;
  private chunks: Buffer[] = [];

  constructor(private readonly cached: number, private readonly onUsage?: UsageObserver) {}

  start(_status: number, headers: OutgoingHttpHeaders): void {
    const encoding = headers['content-encoding'];
    if (encoding !== undefined && String(encoding).toLowerCase() !== 'identity') {
      // A compressed body cannot be rewritten as text; pass it on untouched.
      this.mode = 'off';
      return;
    }
    delete headers['content-length'];
    if (String(headers['content-type'] ?? '').includes('text/event-stream')) this.startSse();
  }

  write(chunk: Buffer): Buffer | undefined {
    if (this.mode === 'off') return chunk;
    if (this.mode === 'whole' && this.chunks.length === 0 && chunk.length >= DATA_PREFIX.length && chunk.subarray(0, DATA_PREFIX.length).equals(DATA_PREFIX)) {
      // No SSE content type, but the body is SSE (upstream checks this too): stream it.
      this.startSse();
    }
    if (this.mode === 'sse') return this.sse!.write(chunk);
    this.chunks.push(chunk);
    return undefined;
  }

  end(): Buffer | undefined {
    if (this.mode === 'off') return undefined;
    if (this.mode === 'sse') return this.sse!.end();
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = [];
    if (body.length === 0) return body;
    const rewritten = rewriteCachedTokens(body.toString('utf8'), this.cached, this.onUsage);
    return rewritten === undefined ? body : Buffer.from(rewritten);
  }

  private startSse(): void {
    this.mode = 'sse';
    this.sse = new SseCachedTokensRewriter(this.cached, this.onUsage);
  }
}
