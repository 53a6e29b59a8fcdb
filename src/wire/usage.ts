/**
 * Token `usage` from a response body, JSON or SSE — the one scanner the gateway and the ext_proc
 * response phase share. It covers chat/completions (`usage.prompt_tokens`, `completion_tokens`,
 * `prompt_tokens_details.cached_tokens`), the Responses API (`input_tokens`, `output_tokens`,
 * `input_tokens_details.cached_tokens`; in a stream, the `response.completed` event carries them
 * under `response.usage`) and the Anthropic Messages API (`input_tokens`, `output_tokens`,
 * `cache_read_input_tokens`; in a stream, `message_start` carries them under `message.usage` and
 * `message_delta` under `usage`, often only `output_tokens`). It never holds the bytes up: JSON
 * is collected up to a bound and parsed at the end, SSE is scanned line by line.
 */

export interface Usage {
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
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
    cachedTokens: details && typeof details === 'object' ? num(details.cached_tokens) : num(u.cache_read_input_tokens),
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
 * Scans an SSE stream for usage: `data:` events whose JSON carries `usage`, a Responses API
 * `response.completed` event (usage under `response`) or an Anthropic `message_start` (under
 * `message`). Each field's last value wins, so cumulative `continuous_usage_stats` end on the
 * final totals and Anthropic's `message_delta` (output tokens) keeps `message_start`'s input.
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
      const nested = event as { response?: unknown; message?: unknown } | null;
      const usage = usageOf(event) ?? usageOf(nested?.response) ?? usageOf(nested?.message);
      if (usage) this.found = { ...this.found, ...definedOnly(usage) };
    } catch {
      // Not JSON (or not ours): nothing to learn.
    }
  }
}

function definedOnly(usage: Usage): Usage {
  const out: Usage = {};
  if (usage.promptTokens !== undefined) out.promptTokens = usage.promptTokens;
  if (usage.completionTokens !== undefined) out.completionTokens = usage.completionTokens;
  if (usage.cachedTokens !== undefined) out.cachedTokens = usage.cachedTokens;
  return out;
}

/** JSON bodies bigger than this are not parsed for usage (metrics only; the bytes still flow). */
const MAX_JSON_BYTES = 4 * 1024 * 1024;

/** Picks the scanner by content type: SSE streams line by line, anything else as one JSON document. */
export class UsageSniffer {
  private readonly sse: SseUsageScanner | undefined;
  private chunks: Buffer[] = [];
  private size = 0;

  constructor(contentType: string | undefined) {
    this.sse = (contentType ?? '').includes('text/event-stream') ? new SseUsageScanner() : undefined;
  }

  push(chunk: Buffer): void {
    if (this.sse) {
      this.sse.push(chunk);
      return;
    }
    this.size += chunk.length;
    if (this.size <= MAX_JSON_BYTES) this.chunks.push(chunk);
    else this.chunks = [];
  }

  finish(): Usage | undefined {
    if (this.sse) return this.sse.finish();
    if (this.size === 0 || this.size > MAX_JSON_BYTES) return undefined;
    return jsonUsage(Buffer.concat(this.chunks, this.size));
  }
}
