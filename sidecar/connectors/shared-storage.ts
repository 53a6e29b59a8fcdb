/**
 * shared-storage (renamed from lmcache, llm-d #509): the KV cache travels through shared storage,
 * so the legs only need the right token caps.
 *
 * - Decode-first: when the body has `cache_hit_threshold`, the original request goes to the
 *   decoder first. If it answers `finish_reason:"cache_threshold"` (not enough cached), P/D
 *   follows; otherwise its answer is the client's answer.
 * - Prefill: the body with every token field of the API at 1 (upstream forgot the responses API's
 *   `max_output_tokens`), `cache_hit_threshold:0`, no kv params, no request id. Non-2xx → status +
 *   body to the client (or the fallback policy); the answer itself is ignored.
 * - Decode: the original body plus `cache_hit_threshold:0` (without `ec_transfer_params`), plain proxy.
 */
import { once } from 'node:events';
import type { Dispatcher } from 'undici';
import { forwardResponseHeaders } from '../../src/http/headers.js';
import { OpenAIError } from '../../src/openai/errors.js';
import { patchMembers } from '../../src/openai/raw-json.js';
import { runDecode } from '../decode.js';
import { legHeaders, targetLabel, type PdExchange, type PrefillExchange } from '../exchange.js';
import { isConnectionRefused } from '../proxy.js';
import { badGateway, canRespond, decoderNotReady, relayBuffered, sendError } from '../respond.js';
import { endClientSpan, startClientSpan } from '../tracing.js';
import { EC_TRANSFER_PARAMS, capTokens, prefillOrHandle } from './common.js';

const CACHE_THRESHOLD = 'cache_threshold';

function firstFinishReason(document: unknown): unknown {
  const choices = (document as { choices?: unknown } | null)?.choices;
  return Array.isArray(choices) ? (choices[0] as { finish_reason?: unknown } | undefined)?.finish_reason : undefined;
}

/** True when a buffered SSE prefix has a `data:` event whose first choice finished with cache_threshold. */
export function sseHasCacheThreshold(text: string): boolean {
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    try {
      if (firstFinishReason(JSON.parse(line.slice(6))) === CACHE_THRESHOLD) return true;
    } catch {
      // Malformed chunks are skipped, as upstream.
    }
  }
  return false;
}

function countEvents(chunks: readonly Buffer[]): number {
  const text = Buffer.concat(chunks).toString('utf8');
  let count = 0;
  for (let i = text.indexOf('\n\n'); i >= 0; i = text.indexOf('\n\n', i + 2)) count++;
  return count;
}

/** Sends the decode-first request; on a transport failure answers the client and returns undefined. */
async function decodeFirstRequest(ex: PdExchange): Promise<Dispatcher.ResponseData | undefined> {
  const headers = legHeaders(ex.headers, ex.requestId, false);
  const clientSpan = startClientSpan(ex.span, 'POST', ex.role.decoder, headers);
  try {
    const answer = await ex.role.decoder.dispatcher.request({ path: ex.url, method: 'POST', headers, body: ex.body, signal: ex.signal });
    endClientSpan(clientSpan, answer.statusCode);
    return answer;
  } catch (err) {
    endClientSpan(clientSpan, undefined, err);
    if (!ex.signal.aborted) sendError(ex.res, isConnectionRefused(err) ? decoderNotReady(err) : badGateway((err as Error).message, err));
    return undefined;
  }
}

/** Non-streaming decode-first. Returns true when P/D must follow. */
async function decodeFirstBuffered(ex: PdExchange): Promise<boolean> {
  const answer = await decodeFirstRequest(ex);
  if (!answer) return false;
  let body: Buffer;
  try {
    body = Buffer.from(await answer.body.arrayBuffer());
  } catch (err) {
    if (!ex.signal.aborted) sendError(ex.res, badGateway((err as Error).message, err));
    return false;
  }
  const response = { status: answer.statusCode, headers: answer.headers, body };
  if (answer.statusCode < 200 || answer.statusCode >= 300) {
    ex.rt.logger.error({ code: answer.statusCode }, 'decode request failed');
    relayBuffered(ex.res, response, false);
    return false;
  }
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch (err) {
    sendError(ex.res, new OpenAIError(500, `decode response is not valid JSON: ${(err as Error).message}`, { type: 'InternalServerError' }));
    return false;
  }
  if (firstFinishReason(document) === CACHE_THRESHOLD) return true;
  relayBuffered(ex.res, response, true);
  return false;
}

/** Streaming decode-first: look at the first two SSE events, then either stream on or go P/D. */
async function decodeFirstStreaming(ex: PdExchange): Promise<boolean> {
  const answer = await decodeFirstRequest(ex);
  if (!answer) return false;
  const { res } = ex;
  const iterator = (answer.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const held: Buffer[] = [];
  let ended = false;
  try {
    if (answer.statusCode >= 200 && answer.statusCode < 300) {
      while (countEvents(held) < 2) {
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          break;
        }
        held.push(next.value);
      }
      if (sseHasCacheThreshold(Buffer.concat(held).toString('utf8'))) {
        answer.body.destroy();
        return true;
      }
    }
    if (!canRespond(res)) return false;
    res.writeHead(answer.statusCode, forwardResponseHeaders(answer.headers));
    for (const chunk of held) res.write(chunk);
    if (!ended) {
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        if (!res.write(next.value)) await once(res, 'drain', { signal: ex.signal });
      }
    }
    res.end();
  } catch (err) {
    answer.body.destroy();
    if (ex.signal.aborted) return false;
    if (canRespond(res)) sendError(res, badGateway((err as Error).message, err));
    else res.destroy();
  }
  return false;
}

export async function runSharedStorage(ex: PrefillExchange): Promise<void> {
  // After the EPD encoder stage the body has cache_hit_threshold:0 to *skip* decode-first (see PdExchange).
  if (Object.hasOwn(ex.json, 'cache_hit_threshold') && !ex.afterEncoderStage) {
    const needsPrefill = ex.json.stream === true ? await decodeFirstStreaming(ex) : await decodeFirstBuffered(ex);
    if (!needsPrefill) return;
    ex.rt.logger.debug({ requestId: ex.requestId, target: targetLabel(ex.target) }, 'decode below the cache hit threshold; running P/D');
  }
  const decodeBody = patchMembers(ex.text, { cache_hit_threshold: '0', [EC_TRANSFER_PARAMS]: undefined });
  const prefill = await prefillOrHandle(ex, {
    connector: 'shared-storage',
    body: patchMembers(ex.text, { ...capTokens(ex.api), cache_hit_threshold: '0' }),
    relayHeaders: false,
    fallbackBody: decodeBody,
  });
  if (!prefill) return;
  await runDecode(ex, {
    connector: 'shared-storage',
    decoder: ex.role.decoder,
    body: decodeBody,
    headers: legHeaders(ex.headers, ex.requestId, false),
    prefillStartedAt: prefill.startedAt,
    prefillEndedAt: prefill.endedAt,
  });
}
