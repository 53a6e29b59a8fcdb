/**
 * Pieces the connectors share: which token fields an API has, the failure policy after a failed
 * prefill (relay the error, or decode locally with the original body), the prefill span, and the
 * rule that `ec_transfer_params` never reaches the local decoder.
 */
import { OpenAIError } from '../../src/openai/errors.js';
import { patchMembers } from '../../src/openai/raw-json.js';
import { dispatchDecode } from '../decode-leg.js';
import type { KvConnector } from '../config.js';
import { tokenLimitFields, type InferenceApi } from '../../src/openai/apis.js';
import { legHeaders, targetLabel, type PdExchange, type PrefillExchange } from '../exchange.js';
import { prefillFailureError, sendPrefill, type PrefillOutcome } from '../prefill.js';
import { badGateway, relayBuffered, sendError, type BufferedResponse } from '../respond.js';
import { ATTR, SPAN, SpanKind, setError, startSpan, type TraceScope } from '../tracing.js';

/**
 * Raw-JSON changes capping the prefill to one token: every token-limit field of the API
 * (src/openai/apis.ts; `/v1/messages`: `max_tokens`) set to 1 (#400/#403). `min_tokens` is
 * dropped: with a cap of 1, `min_tokens > 1` makes vLLM answer 400 (#2041) and has no meaning for
 * a prefill.
 */
export function capTokens(api: InferenceApi): Record<string, string | undefined> {
  const changes: Record<string, string | undefined> = { min_tokens: undefined };
  for (const field of tokenLimitFields(api)) changes[field] = '1';
  return changes;
}

/**
 * `ec_transfer_params` is for the prefill pod's EC connector (EPD). The decode pod has none, and
 * vLLM warns on every request that carries it (llm-d #1704), so decode legs drop it. The body is
 * only rewritten when the field is there.
 */
export const EC_TRANSFER_PARAMS = 'ec_transfer_params';

export function withoutEcTransferParams(ex: Pick<PdExchange, 'json' | 'text' | 'body'>): Buffer | string {
  return Object.hasOwn(ex.json, EC_TRANSFER_PARAMS) ? patchMembers(ex.text, { [EC_TRANSFER_PARAMS]: undefined }) : ex.body;
}

export function startPrefillSpan(ex: PrefillExchange, connector: KvConnector, requestId?: string): TraceScope | undefined {
  return startSpan(ex.span, SPAN.prefill, SpanKind.INTERNAL, {
    [ATTR.prefillTarget]: targetLabel(ex.target),
    [ATTR.connector]: connector,
    ...(requestId === undefined ? {} : { [ATTR.requestId]: requestId }),
    ...(typeof ex.json.model === 'string' ? { 'gen_ai.request.model': ex.json.model } : {}),
  });
}

/**
 * Sends the prefill leg and handles every non-2xx outcome itself (relay, fallback decode, or
 * nothing when the client left). Returns the successful answer, or undefined when it is done.
 */
export async function prefillOrHandle(
  ex: PrefillExchange,
  options: { connector: KvConnector; body: string; relayHeaders: boolean; fallbackBody: Buffer | string },
): Promise<{ response: BufferedResponse; startedAt: number; endedAt: number } | undefined> {
  const { rt, requestId } = ex;
  const target = targetLabel(ex.target);
  const span = ex.span && startPrefillSpan(ex, options.connector, requestId);
  const startedAt = performance.now();
  let outcome: PrefillOutcome;
  try {
    const upstream = rt.prefillUpstream(ex.target);
    outcome = await sendPrefill(
      { target, upstream, path: ex.url, headers: legHeaders(ex.headers, requestId, true), body: options.body },
      rt.prefillPolicy,
      { logger: rt.logger, requestId, signal: ex.signal, span, metrics: rt.metrics },
    );
  } catch (err) {
    // An unusable target (cannot become a URL): upstream answers 502 BadGateway.
    if (span) setError(span, (err as Error).message);
    span?.span.end();
    sendError(ex.res, badGateway(`invalid prefill target ${target}: ${(err as Error).message}`, err));
    return undefined;
  }
  span?.span.end();
  const endedAt = performance.now();
  ex.record.prefillMs = endedAt - startedAt;
  switch (outcome.kind) {
    case 'ok':
      return { response: outcome.response, startedAt, endedAt };
    case 'client_gone':
      return undefined;
    case 'rejected':
      relayBuffered(ex.res, outcome.response, options.relayHeaders);
      return undefined;
    case 'failed':
      if (rt.config.prefillFailurePolicy === 'fallback') {
        rt.logger.warn({ requestId, target, connector: options.connector }, 'fallback to decode');
        // Upstream's dispatch-decode: chunked when configured.
        await dispatchDecode(ex, {
          connector: options.connector,
          decoder: ex.role.decoder,
          body: options.fallbackBody,
          headers: legHeaders(ex.headers, requestId, false),
          requestId,
          attributes: { [ATTR.decodeFallback]: true },
        });
      } else if (outcome.response) {
        relayBuffered(ex.res, outcome.response, options.relayHeaders);
      } else {
        ex.record.error = outcome.error?.message ?? 'prefill failed';
        sendError(ex.res, prefillFailureError(target, outcome));
      }
      return undefined;
  }
}

/** A prefill that answered 2xx with something that is not a JSON object: the upstream is at fault (502). */
export function invalidPrefillAnswer(detail: string): OpenAIError {
  return new OpenAIError(502, `prefill response is not a JSON object: ${detail}`, { type: 'BadGateway' });
}
