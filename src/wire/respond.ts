/**
 * Writing an OpenAI-shaped error on a node:http response — the one writer both processes use.
 * Once an answer has started nothing can be written any more: the connection is cut instead, so
 * the client sees a truncated answer rather than a spliced one.
 */
import type { ServerResponse } from 'node:http';
import type { OpenAIError } from '../openai/errors.js';

/** False once the client is gone or an answer has started: nothing more may be written. */
export function canRespond(res: ServerResponse): boolean {
  return !res.headersSent && !res.destroyed && res.writable;
}

export function sendError(res: ServerResponse, error: OpenAIError, headers: Readonly<Record<string, string>> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (!canRespond(res)) return;
  const body = error.toJSON();
  res.writeHead(error.status, { ...error.headers, ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
