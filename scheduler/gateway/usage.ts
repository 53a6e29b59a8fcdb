/**
 * Watches a response body stream for OpenAI `usage` without holding it up: non-streaming JSON is
 * collected (bounded) and parsed at the end; SSE is scanned line by line for the last `data:`
 * event carrying usage.
 */

export interface Usage {
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
}

/** Bodies bigger than this are not parsed for usage (metrics only; the bytes still flow). */
const MAX_JSON_BYTES = 4 * 1024 * 1024;

function usageOf(document: unknown): Usage | undefined {
  const usage = (document as { usage?: Record<string, unknown> } | null)?.usage;
  if (!usage || typeof usage !== 'object') return undefined;
  const details = usage.prompt_tokens_details as { cached_tokens?: unknown } | null | undefined;
  const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
  return {
    promptTokens: num(usage.prompt_tokens) ?? num(usage.input_tokens),
    completionTokens: num(usage.completion_tokens) ?? num(usage.output_tokens),
    cachedTokens: num(details?.cached_tokens),
  };
}

export class UsageSniffer {
  private readonly sse: boolean;
  private chunks: Buffer[] = [];
  private size = 0;
  private partialLine = '';
  private found: Usage | undefined;

  constructor(contentType: string | undefined) {
    this.sse = (contentType ?? '').includes('text/event-stream');
  }

  push(chunk: Buffer): void {
    if (this.sse) {
      const text = this.partialLine + chunk.toString('utf8');
      const lines = text.split('\n');
      this.partialLine = lines.pop() ?? '';
      for (const line of lines) this.scanLine(line);
      return;
    }
    this.size += chunk.length;
    if (this.size <= MAX_JSON_BYTES) this.chunks.push(chunk);
    else this.chunks = [];
  }

  finish(): Usage | undefined {
    if (this.sse) {
      if (this.partialLine) this.scanLine(this.partialLine);
      return this.found;
    }
    if (this.size === 0 || this.size > MAX_JSON_BYTES) return undefined;
    try {
      return usageOf(JSON.parse(Buffer.concat(this.chunks).toString('utf8')));
    } catch {
      return undefined;
    }
  }

  private scanLine(line: string): void {
    if (!line.startsWith('data:') || !line.includes('"usage"')) return;
    try {
      this.found = usageOf(JSON.parse(line.slice(5).trim())) ?? this.found;
    } catch {
      // Not JSON: nothing to learn.
    }
  }
}
