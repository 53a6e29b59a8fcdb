/**
 * Forwards one scheduled request to its endpoint and streams the answer back, unbuffered. The
 * upstream leg is aborted when the client goes away; failures before response headers become
 * OpenAI-shaped 502/503/504 errors.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import { OpenAIError } from '../../src/openai/errors.js';
import { forwardResponseHeaders, type HeaderRecord } from '../../src/http/headers.js';
import { REQUEST_ID_HEADER } from '../../src/wire/headers.js';

const UPSTREAM_ONLY_DROPPED: ReadonlySet<string> = new Set([REQUEST_ID_HEADER]);
import { UsageSniffer, type Usage } from '../../src/wire/usage.js';

export interface ForwardResult {
  status: number;
  headers: Map<string, string>;
  usage: Usage | undefined;
  /** False when the client disconnected or the upstream failed mid-body. */
  completed: boolean;
}

const REFUSED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function upstreamError(err: unknown, target: string): OpenAIError {
  const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code && REFUSED.has(code)) return new OpenAIError(503, `model server ${target} is not reachable (${code})`, { cause: err });
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') return new OpenAIError(504, `model server ${target} timed out`, { cause: err });
  return new OpenAIError(502, `model server ${target} failed: ${(err as Error).message}`, { cause: err });
}

export async function forwardToEndpoint(options: {
  dispatcher: Dispatcher;
  target: string;
  method: string;
  path: string;
  headers: HeaderRecord;
  body: Buffer | undefined;
  incoming: IncomingMessage;
  outgoing: ServerResponse;
}): Promise<ForwardResult> {
  const { incoming, outgoing } = options;
  const abort = new AbortController();
  const onClientGone = (): void => {
    if (!outgoing.writableFinished) abort.abort(new Error('client disconnected'));
  };
  outgoing.once('close', onClientGone);
  try {
    const response = await options.dispatcher.request({
      method: options.method as Dispatcher.HttpMethod,
      path: options.path,
      headers: options.headers,
      body: options.body,
      signal: abort.signal,
    }).catch((err: unknown) => {
      throw upstreamError(err, options.target);
    });
    const responseHeaders = new Map<string, string>();
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const sniffer = new UsageSniffer(responseHeaders.get('content-type'));
    // The request id the client sees is the one the front door chose (already set on `outgoing`).
    outgoing.writeHead(response.statusCode, forwardResponseHeaders(response.headers, UPSTREAM_ONLY_DROPPED));
    outgoing.flushHeaders();
    let completed = true;
    try {
      for await (const chunk of response.body) {
        sniffer.push(chunk as Buffer);
        if (!outgoing.write(chunk)) await waitForDrain(outgoing, abort.signal);
      }
      outgoing.end();
    } catch {
      // Upstream broke mid-body, or the client left: cut the client connection so it sees the failure.
      completed = false;
      response.body.destroy();
      incoming.socket?.destroy();
    }
    return { status: response.statusCode, headers: responseHeaders, usage: sniffer.finish(), completed };
  } finally {
    outgoing.off('close', onClientGone);
  }
}

function waitForDrain(outgoing: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => { outgoing.off('drain', onDrain); reject(signal.reason as Error); };
    const onDrain = (): void => { signal.removeEventListener('abort', onAbort); resolve(); };
    outgoing.once('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
