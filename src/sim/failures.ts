/**
 * Failure injection: with probability rate/100 a request is answered at once
 * with one of the selected failure types (uniformly), before queueing and without metrics. The
 * deterministic alternative is the `X-Return-Error: <status>` header.
 */
import { OpenAIError, errorTypeForStatus } from '../openai/errors.js';
import { FAILURE_TYPES, type FailureType } from './config.js';
import type { Random } from './random.js';

/** vLLM's type names: ≥ 500 → InternalServerError (unlike the proxies' 502/503/504 names). */
export function simErrorType(status: number): string {
  return status >= 500 ? 'InternalServerError' : errorTypeForStatus(status);
}

export function simError(status: number, message: string, param: string | null = null): OpenAIError {
  return new OpenAIError(status, message, { type: simErrorType(status), param });
}

export function failureFor(type: FailureType, model: string): OpenAIError {
  switch (type) {
    case 'rate_limit':
      return simError(429, `Rate limit reached for ${model} in organization org-xxx on requests per min (RPM): Limit 3, Used 3, Requested 1.`);
    case 'invalid_api_key':
      return simError(401, 'Incorrect API key provided.');
    case 'context_length':
      return simError(400, "This model's maximum context length is 4096 tokens. However, your messages resulted in 4500 tokens.", 'messages');
    case 'server_error':
      return simError(503, 'The server is overloaded or not ready yet.');
    case 'invalid_request':
      return simError(400, "Invalid request: missing required parameter 'model'.", 'model');
    case 'model_not_found':
      return simError(404, `The model '${model}-nonexistent' does not exist`, 'model');
  }
}

/** The injected failure for this request, or undefined. `model` is the base model (`--model`). */
export function injectFailure(random: Random, rate: number, types: readonly FailureType[], model: string): OpenAIError | undefined {
  if (rate <= 0) return undefined;
  if (random.int(1, 100) > rate) return undefined;
  const choices = types.length > 0 ? types : FAILURE_TYPES;
  return failureFor(choices[random.int(0, choices.length - 1)]!, model);
}

/** `X-Return-Error`: an integer status (200–599) answered at once; anything else is a 400. */
export function returnErrorHeader(value: string): OpenAIError {
  const trimmed = value.trim();
  const status = /^[+-]?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(status)) {
    return simError(400, `Invalid X-Return-Error header value ${JSON.stringify(value)}: must be an integer`);
  }
  // Node cannot send other status lines; Go would write them verbatim.
  if (status < 200 || status > 599) {
    return simError(400, `Invalid X-Return-Error header value ${JSON.stringify(value)}: must be an HTTP status between 200 and 599`);
  }
  return simError(status, `Simulated error triggered by X-Return-Error header (code ${status})`);
}
