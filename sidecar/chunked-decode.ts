/**
 * Chunked decode (`--decode-chunk-size=N`, `/v1/chat/completions` only): instead of
 * one long decode, the local vLLM is asked for at most N tokens at a time, each pass continuing
 * the assistant turn the previous ones produced, until the model stops or the client's budget is
 * spent. A budget that fits in one chunk is one ordinary decode.
 *
 * Each chunk is a buffered, non-streaming request (chunked-decode-body.ts shapes it). The client
 * gets either one SSE event per chunk, then the totals and `[DONE]`, or — non-streaming — one
 * reassembled completion. Failures: a transport error answers like the proxy (503 not ready, 502);
 * a non-2xx chunk is relayed; a non-JSON chunk is a 500. Once SSE events are out, a failure can
 * only be reported in-stream: an `{"error":…}` event and `[DONE]` (upstream wrote the raw error
 * body into the stream). A client that leaves gets `[DONE]` (if anything was sent) and the loop stops.
 */
import type { ServerResponse } from 'node:http';
import { OpenAIError } from '../src/openai/errors.js';
import { requestBuffered } from './buffered.js';
import {
  appendAssistantTurn, choiceText, chunkRequestBody, finishReason, firstChoice, isObject, reassembledAnswer,
  streamEvent, tokenBudget, totalUsage, usageField, type JsonObject,
} from './chunked-decode-body.js';
import { runDecode, type DecodeLeg } from './decode.js';
import type { PdExchange } from './exchange.js';
import { isConnectionRefused } from './proxy.js';
import { badGateway, decoderNotReady, relayBuffered, sendError, type BufferedResponse } from './respond.js';
import { ATTR, SPAN, SpanKind, endClientSpan, setError, startClientSpan, startSpan, wholeMs, type TraceScope } from './tracing.js';

/** The SSE side of the answer; the head goes out with the first event (so chunk 1 can still fail with its own status). */
class EventStream {
  started = false;

  constructor(private readonly res: ServerResponse) {}

  private get open(): boolean {
    return !this.res.destroyed && this.res.writable;
  }

  send(data: JsonObject): void {
    if (!this.open) return;
    if (!this.started) {
      this.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      this.started = true;
    }
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  done(): void {
    if (this.started && this.open) this.res.end('data: [DONE]\n\n');
  }
}

type ChunkAnswer = { response: BufferedResponse } | { error: Error } | undefined;

async function sendChunk(ex: PdExchange, leg: DecodeLeg, parent: TraceScope | undefined, body: string): Promise<ChunkAnswer> {
  // The sidecar parses every chunk, so it asks for an uncompressed answer.
  const headers = { ...leg.headers, 'accept-encoding': 'identity' };
  const client = startClientSpan(parent, 'POST', leg.decoder, headers);
  try {
    const response = await requestBuffered(leg.decoder.dispatcher, { method: 'POST', path: ex.url, headers, body }, ex.signal);
    endClientSpan(client, response.status);
    return { response };
  } catch (err) {
    endClientSpan(client, undefined, err, ex.signal.aborted ? 'client_disconnect' : undefined);
    return ex.signal.aborted ? undefined : { error: err as Error };
  }
}

function parseChunk(response: BufferedResponse): JsonObject | undefined {
  try {
    const document: unknown = JSON.parse(response.body.toString('utf8'));
    return isObject(document) ? document : undefined;
  } catch {
    return undefined;
  }
}

export async function runChunkedDecode(ex: PdExchange, leg: DecodeLeg): Promise<void> {
  const { rt, res } = ex;
  const chunkSize = rt.config.decodeChunkSize;
  const streaming = ex.json.stream === true;
  const span = startSpan(ex.span, SPAN.chunkedDecode, SpanKind.INTERNAL, {
    [ATTR.chunkSize]: chunkSize,
    [ATTR.chunkStreaming]: streaming,
    [ATTR.connector]: leg.connector,
    [ATTR.decodeTarget]: leg.decoder.hostPort,
    ...(leg.requestId === undefined ? {} : { [ATTR.requestId]: leg.requestId }),
  });
  const budget = tokenBudget(ex.json);
  if (budget > 0 && budget <= chunkSize) {
    rt.logger.debug({ maxTokens: budget, chunkSize }, 'chunked decode: token budget <= chunk size, using regular decode');
    try {
      await runDecode(ex, leg);
    } finally {
      span?.span.end();
    }
    return;
  }

  const started = performance.now();
  const events = streaming ? new EventStream(res) : undefined;
  let body = typeof leg.body === 'string' ? leg.body : leg.body.toString('utf8');
  let chunks = 0;
  let completionTokens = 0;
  let promptTokens = 0;
  let text = '';
  let last: JsonObject | undefined;

  /** A failure: the client's answer, or an in-stream error event once SSE has started. */
  const fail = (error: OpenAIError, relay?: BufferedResponse): void => {
    setError(span, error.message);
    rt.logger.error({ chunk: chunks, status: error.status, requestId: ex.requestId, err: error.message }, 'chunked decode chunk error');
    if (events?.started) {
      events.send(error.toBody() as unknown as JsonObject);
      events.done();
    } else if (relay) {
      relayBuffered(res, relay, true);
    } else {
      sendError(res, error);
    }
  };

  try {
    for (;;) {
      if (ex.signal.aborted) {
        events?.done();
        return;
      }
      const remaining = budget < 0 ? -1 : Math.max(0, budget - completionTokens);
      if (remaining === 0) break;
      const limit = remaining > 0 && remaining < chunkSize ? remaining : chunkSize;
      rt.logger.debug({ chunk: chunks, limit, totalTokens: completionTokens }, 'chunked decode: dispatching chunk');

      const answer = await sendChunk(ex, leg, span, chunkRequestBody(body, limit, chunks > 0));
      if (answer === undefined) {
        events?.done();
        return;
      }
      if ('error' in answer) {
        fail(isConnectionRefused(answer.error) ? decoderNotReady(answer.error) : badGateway(answer.error.message, answer.error));
        return;
      }
      const { response } = answer;
      if (response.status < 200 || response.status >= 300) {
        const detail = response.body.toString('utf8', 0, 512);
        fail(new OpenAIError(response.status, `decode chunk ${chunks} failed with status ${response.status}: ${detail}`), response);
        return;
      }
      const document = parseChunk(response);
      if (!document) {
        fail(new OpenAIError(500, `decode chunk ${chunks} answer is not a JSON object`, { type: 'InternalServerError' }));
        return;
      }

      last = document;
      const tokens = usageField(document, 'completion_tokens');
      completionTokens += tokens;
      if (chunks === 0) promptTokens = usageField(document, 'prompt_tokens');
      chunks++;
      const chunkText = choiceText(firstChoice(document));
      if (events) events.send(streamEvent(document));
      else text += chunkText;

      const reason = finishReason(document);
      if (reason !== '' && reason !== 'length') break;
      // Nothing generated and nothing to continue from: another pass would loop forever.
      if (tokens === 0 && chunkText === '') {
        rt.logger.info({ chunk: chunks }, 'chunked decode: empty chunk with no tokens, stopping');
        break;
      }
      body = appendAssistantTurn(body, chunkText);
    }

    const usage = totalUsage(promptTokens, completionTokens, leg.cachedTokens);
    if (events) {
      if (last) events.send({ usage, choices: [] });
      events.done();
    } else if (last) {
      const payload = JSON.stringify(reassembledAnswer(last, text, usage));
      if (!res.headersSent && !res.destroyed) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
      }
    } else {
      fail(new OpenAIError(500, 'chunked decode produced no chunks', { type: 'InternalServerError' }));
    }
  } finally {
    span?.span.setAttributes({
      [ATTR.chunkCount]: chunks,
      [ATTR.chunkTotalTokens]: completionTokens,
      [ATTR.chunkDurationMs]: wholeMs(performance.now() - started),
    });
    if (ex.signal.aborted) setError(span, 'client disconnected', 'client_disconnect');
    span?.span.end();
  }
}
