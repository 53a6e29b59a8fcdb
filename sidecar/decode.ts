/**
 * The decode leg every connector ends with: stream the decoder's answer to the client inside an
 * `llm_d.pd_proxy.decode` span that ends after the last byte is written (or the client leaves),
 * carrying upstream's timing totals.
 */
import type { Attributes } from '@opentelemetry/api';
import type { HeaderRecord } from '../src/http/headers.js';
import { CachedTokensFilter, type JsonObject } from './cached-tokens.js';
import type { KvConnector } from './config.js';
import type { PdExchange } from './exchange.js';
import { forwardAsync, type ForwardOutcome, type Upstream } from './proxy.js';
import { ATTR, SPAN, SpanKind, setError, startSpan, wholeMs } from './tracing.js';

export interface DecodeLeg {
  connector: KvConnector;
  decoder: Upstream;
  body: Buffer | string;
  headers: HeaderRecord;
  requestId?: string;
  /** Set `usage.prompt_tokens_details.cached_tokens` to this (nixlv2 after a successful prefill). */
  cachedTokens?: number;
  dataParallel?: boolean;
  /** Prefill timing, for the coordinator-overhead totals. */
  prefillStartedAt?: number;
  prefillEndedAt?: number;
  attributes?: Attributes;
}

export async function runDecode(ex: PdExchange, leg: DecodeLeg): Promise<ForwardOutcome> {
  const span = ex.span && startSpan(ex.span, SPAN.decode, SpanKind.INTERNAL, {
    [ATTR.connector]: leg.connector,
    [ATTR.decodeStreaming]: ex.json.stream === true,
    [ATTR.decodeDataParallel]: leg.dataParallel ?? false,
    [ATTR.decodeTarget]: leg.decoder.hostPort,
    ...(leg.requestId === undefined ? {} : { [ATTR.requestId]: leg.requestId }),
    ...(typeof ex.json.model === 'string' ? { 'gen_ai.request.model': ex.json.model } : {}),
    ...leg.attributes,
  });
  const onUsage = span && ((usage: JsonObject): void => {
    if (typeof usage.prompt_tokens === 'number') span.span.setAttribute('gen_ai.usage.input_tokens', usage.prompt_tokens);
    if (typeof usage.completion_tokens === 'number') span.span.setAttribute('gen_ai.usage.output_tokens', usage.completion_tokens);
  });
  const filter = leg.cachedTokens === undefined ? undefined : new CachedTokensFilter(leg.cachedTokens, onUsage);
  if (span && leg.cachedTokens !== undefined) span.span.setAttribute('gen_ai.usage.cache_read.input_tokens', leg.cachedTokens);

  const decodeStart = performance.now();
  const { outcome } = await forwardAsync(
    ex.res,
    leg.decoder,
    { method: ex.req.method ?? 'POST', path: ex.url, headers: leg.headers, body: leg.body },
    { logger: ex.rt.logger, filter, trace: span },
  );
  ex.record.decodeMs = performance.now() - decodeStart;
  if (outcome === 'upstream_failed') ex.record.error ??= 'decode request failed';
  if (span) {
    const now = performance.now();
    span.span.setAttributes({
      [ATTR.decodeDurationMs]: wholeMs(now - decodeStart),
      [ATTR.totalDurationMs]: wholeMs(now - ex.startedAt),
      // Upstream's "true TTFT": request arrival → decode dispatch (not the first token).
      [ATTR.trueTtftMs]: wholeMs(decodeStart - ex.startedAt),
      [ATTR.decodeTotalMs]: wholeMs(now - decodeStart),
    });
    if (leg.prefillStartedAt !== undefined && leg.prefillEndedAt !== undefined) {
      span.span.setAttributes({
        [ATTR.prefillTotalMs]: wholeMs(leg.prefillEndedAt - leg.prefillStartedAt),
        [ATTR.coordinatorOverheadMs]: wholeMs(decodeStart - leg.prefillEndedAt),
      });
    }
    if (outcome === 'client_gone') setError(span, 'client disconnected', 'client_disconnect');
    else if (outcome === 'upstream_failed') setError(span, 'decode request failed', 'upstream_error');
    span.span.end();
  }
  return outcome;
}
