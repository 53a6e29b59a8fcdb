/**
 * The built-in gateway's cross-cutting work, as hono middleware (composed in gateway/server.ts):
 *
 * - `requestId`: the request id (the client's well-formed `x-request-id`, else a new one), set on
 *   the response before anything is written;
 * - `lifecycle`: one RequestLifecycle per request (span, metrics, log line, ResponseComplete);
 * - `readBodyWithin`: the body, bounded in size (413) and in time (408);
 * - `answerError`: every thrown error becomes an OpenAI-shaped answer, recorded by the lifecycle.
 */
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { settleWithin } from '../../src/deadline.js';
import { readBody } from '../../src/http/body.js';
import { OpenAIError, toOpenAIError } from '../../src/openai/errors.js';
import { extractContext } from '../../src/telemetry/tracing.js';
import { REQUEST_ID_HEADER } from '../../src/wire/headers.js';
import { sendError } from '../../src/wire/respond.js';
import { RequestLifecycle, type LifecycleDeps } from '../frontdoor/lifecycle.js';
import { requestIdFrom } from '../../src/wire/request-id.js';

export type GatewayEnv = {
  Bindings: HttpBindings;
  Variables: { requestId: string; lifecycle: RequestLifecycle };
};

export function requestId(): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const header = c.env.incoming.headers[REQUEST_ID_HEADER];
    const id = requestIdFrom(Array.isArray(header) ? undefined : header);
    c.set('requestId', id);
    c.env.outgoing.setHeader(REQUEST_ID_HEADER, id);
    await next();
  };
}

export function lifecycle(deps: LifecycleDeps): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const { incoming } = c.env;
    const life = new RequestLifecycle(deps, {
      frontDoor: 'gateway',
      id: c.get('requestId'),
      parent: extractContext(incoming.headers, ROOT_CONTEXT),
      path: c.req.path,
      method: c.req.method,
    });
    c.set('lifecycle', life);
    // A client that leaves while its request waits for admission takes it out of the queue.
    const gone = (): void => life.clientGone();
    c.env.outgoing.once('close', gone);
    try {
      await next();
    } finally {
      c.env.outgoing.off('close', gone);
    }
  };
}

/**
 * The whole request body, at most `limit` bytes (413) and within `timeoutMs` of the call (408).
 * On a timeout the connection is closed after the answer, so the unread rest is never waited for.
 */
export async function readBodyWithin(incoming: IncomingMessage, limit: number, timeoutMs: number): Promise<Buffer> {
  const reading = readBody(incoming, limit, incoming.headers['content-length']);
  if (timeoutMs <= 0) return reading;
  return settleWithin(reading, timeoutMs, () => new OpenAIError(408, `the request body was not received within ${timeoutMs} ms`, { type: 'RequestTimeout' }));
}

/** app.onError: the lifecycle records the failure; the client gets the OpenAI-shaped error. */
export function answerError(err: Error, c: Context<GatewayEnv>): Response {
  const { outgoing } = c.env;
  const lifecycleOfRequest = c.get('lifecycle') as RequestLifecycle | undefined;
  const error = lifecycleOfRequest ? lifecycleOfRequest.fail(err) : toOpenAIError(err);
  // An unanswered body (timeouts, 413) would otherwise keep the connection busy.
  const headers: Record<string, string> = error.status === 408 || error.status === 413 ? { connection: 'close' } : {};
  sendError(outgoing, error, headers);
  return RESPONSE_ALREADY_SENT;
}
