/**
 * The prefill leg, shared by the connectors: a buffered POST to the prefill pod with a per-attempt
 * deadline (`--prefill-timeout`: a hung prefill must not hang the client forever), retries after
 * 502/503/504 answers and connection failures (`--prefill-max-retries`, `--prefill-retry-backoff`,
 * as llm-d #1206), one CLIENT span per attempt, and an outcome the connector turns into a relay,
 * a fallback or the decode leg. A client that disconnects aborts the attempt and stops the loop.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { HeaderRecord } from '../src/http/headers.js';
import { OpenAIError } from '../src/openai/errors.js';
import type { Logger } from '../src/log.js';
import { AnswerTooLargeError, requestBuffered } from './buffered.js';
import type { SidecarMetrics } from './metrics.js';
import type { Upstream } from './proxy.js';
import type { BufferedResponse } from './respond.js';
import { ATTR, endClientSpan, setError, startClientSpan, wholeMs, type TraceScope } from './tracing.js';

export type PrefillOutcome =
  /** 2xx: go on with the decode leg. */
  | { kind: 'ok'; response: BufferedResponse }
  /** 400–451: the request itself is wrong; always relayed to the client. */
  | { kind: 'rejected'; response: BufferedResponse }
  /** Anything else, after retries: the failure policy decides (relay or local fallback). */
  | { kind: 'failed'; response?: BufferedResponse; error?: Error; timedOut: boolean }
  /** The client went away; nothing more is sent anywhere. */
  | { kind: 'client_gone' };

export interface PrefillRequest {
  /** `host:port` as chosen from the header (logs, errors). */
  target: string;
  upstream: Upstream;
  path: string;
  headers: HeaderRecord;
  body: string;
}

export interface PrefillPolicy {
  timeoutMs: number;
  /** Largest prefill answer buffered (`--max-prefill-answer-bytes`). */
  maxAnswerBytes: number;
  maxRetries: number;
  backoffMs: number;
}

export interface PrefillContext {
  logger: Logger;
  requestId?: string;
  /** Client liveness; absent for detached prefills (sglang). */
  signal?: AbortSignal;
  /** The `llm_d.pd_proxy.prefill` span; CLIENT spans go under it. */
  span?: TraceScope;
  metrics?: SidecarMetrics;
}

const RETRYABLE_STATUS = new Set([502, 503, 504]);

class PrefillTimeoutError extends Error {
  override readonly name = 'PrefillTimeoutError';
}

interface Attempt {
  response?: BufferedResponse;
  error?: Error;
  timedOut: boolean;
}

async function attemptOnce(request: PrefillRequest, policy: PrefillPolicy, ctx: PrefillContext): Promise<Attempt> {
  const headers = { ...request.headers };
  const clientSpan = ctx.span && startClientSpan(ctx.span, 'POST', request.upstream, headers);
  const abort = new AbortController();
  const onClientGone = (): void => abort.abort(ctx.signal?.reason);
  ctx.signal?.addEventListener('abort', onClientGone, { once: true });
  const timer = policy.timeoutMs > 0
    ? setTimeout(() => abort.abort(new PrefillTimeoutError(`prefill to ${request.target} timed out after ${policy.timeoutMs}ms`)), policy.timeoutMs)
    : undefined;
  try {
    const response = await requestBuffered(request.upstream.dispatcher, { method: 'POST', path: request.path, headers, body: request.body }, abort.signal, policy.maxAnswerBytes);
    if (clientSpan) endClientSpan(clientSpan, response.status);
    return { response, timedOut: false };
  } catch (err) {
    const timedOut = abort.signal.reason instanceof PrefillTimeoutError && !ctx.signal?.aborted;
    const error = timedOut ? (abort.signal.reason as Error) : (err as Error);
    if (clientSpan) endClientSpan(clientSpan, undefined, error, timedOut ? 'timeout' : undefined);
    return { error, timedOut };
  } finally {
    clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onClientGone);
  }
}

export async function sendPrefill(request: PrefillRequest, policy: PrefillPolicy, ctx: PrefillContext): Promise<PrefillOutcome> {
  const started = performance.now();
  let attempt: Attempt = { timedOut: false };
  let attempts = 0;
  const record = (status: number): void => {
    ctx.span?.span.setAttributes({
      [ATTR.prefillStatusCode]: status,
      [ATTR.prefillDurationMs]: wholeMs(performance.now() - started),
      [ATTR.prefillAttempts]: attempts,
    });
  };
  for (;;) {
    attempts++;
    attempt = await attemptOnce(request, policy, ctx);
    if (ctx.signal?.aborted) return { kind: 'client_gone' };
    const status = attempt.response?.status;
    if (status !== undefined && status >= 200 && status < 300) {
      record(status);
      return { kind: 'ok', response: attempt.response! };
    }
    if (status !== undefined && status >= 400 && status <= 451) {
      record(status);
      if (ctx.span) setError(ctx.span, `prefill answered ${status}`);
      ctx.logger.warn({ target: request.target, requestId: ctx.requestId, code: status, body: attempt.response!.body.toString('utf8', 0, 512) }, 'request failed');
      return { kind: 'rejected', response: attempt.response! };
    }
    // Timeouts are not retried: a prefill that hung once is likely to hang again under the same load.
    // Neither is an oversized answer: the same request would produce it again.
    const tooLarge = attempt.error instanceof AnswerTooLargeError;
    if (tooLarge) ctx.metrics?.prefillAnswerTooLarge.inc();
    const retryable = status !== undefined && !tooLarge ? RETRYABLE_STATUS.has(status) : !attempt.timedOut && !tooLarge;
    if (!retryable || attempts > policy.maxRetries) break;
    ctx.logger.info(
      { attempt: attempts, target: request.target, requestId: ctx.requestId, previous_code: status, err: attempt.error?.message },
      'retrying prefill request',
    );
    try {
      await sleep(policy.backoffMs, undefined, ctx.signal ? { signal: ctx.signal } : undefined);
    } catch {
      return { kind: 'client_gone' };
    }
  }
  // Upstream's ReverseProxy turns a transport failure into 502; a deadline is a gateway timeout.
  const status = attempt.response?.status ?? (attempt.timedOut ? 504 : 502);
  record(status);
  if (ctx.span) setError(ctx.span, attempt.error?.message ?? `prefill answered ${status}`, attempt.timedOut ? 'timeout' : undefined);
  ctx.logger.error(
    { target: request.target, requestId: ctx.requestId, code: status, attempts, err: attempt.error?.message, body: attempt.response?.body.toString('utf8', 0, 512) },
    'request failed',
  );
  return { kind: 'failed', response: attempt.response, error: attempt.error, timedOut: attempt.timedOut };
}

/** The client-facing error for a failed prefill under the relay policy. */
export function prefillFailureError(target: string, outcome: Extract<PrefillOutcome, { kind: 'failed' }>): OpenAIError {
  if (outcome.timedOut) return new OpenAIError(504, outcome.error?.message ?? `prefill to ${target} timed out`, { type: 'GatewayTimeout' });
  return new OpenAIError(502, `prefill request to ${target} failed: ${outcome.error?.message ?? 'no response'}`, { type: 'BadGateway' });
}
