/**
 * Writing the sidecar's own answers to the client: OpenAI-shaped errors (src/openai/errors.ts),
 * the plain-text SSRF denial upstream sends, and relays of a buffered upstream answer.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { OpenAIError } from '../src/openai/errors.js';
import { forwardResponseHeaders } from '../src/http/headers.js';

/** Upstream's exact message when the local vLLM refuses connections. */
export const DECODER_NOT_READY_MESSAGE =
  'The decode node is not ready. Please check that the vLLM service is running and the port configuration is correct.';

export const SSRF_DENIED_BODY = 'Forbidden: prefill target not allowed by SSRF protection\n';

// The OpenAI error writer is shared with the gateway (src/wire/respond.ts); re-exported for the connectors.
export { canRespond, sendError } from '../src/wire/respond.js';
import { canRespond } from '../src/wire/respond.js';

export function decoderNotReady(cause?: unknown): OpenAIError {
  return new OpenAIError(503, DECODER_NOT_READY_MESSAGE, { type: 'ServiceUnavailable', cause });
}

export function badGateway(message: string, cause?: unknown): OpenAIError {
  return new OpenAIError(502, message, { type: 'BadGateway', cause });
}

/** Go's http.Error for the SSRF denial: text/plain, nosniff, trailing newline. */
export function sendSsrfDenied(res: ServerResponse): void {
  if (!canRespond(res)) return;
  res.writeHead(403, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'content-length': Buffer.byteLength(SSRF_DENIED_BODY),
  });
  res.end(SSRF_DENIED_BODY);
}

/** A status with an empty body (upstream's answer to an unknown data-parallel target). */
export function sendEmpty(res: ServerResponse, status: number): void {
  if (!canRespond(res)) return;
  res.writeHead(status, { 'content-length': 0 });
  res.end();
}

export interface BufferedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Relays a buffered upstream answer; `withHeaders: false` mirrors upstream paths that copy only status + body. */
export function relayBuffered(res: ServerResponse, response: BufferedResponse, withHeaders: boolean): void {
  if (!canRespond(res)) return;
  const headers = withHeaders ? forwardResponseHeaders(response.headers) : {};
  headers['content-length'] = response.body.length;
  res.writeHead(response.status, headers);
  res.end(response.body);
}
