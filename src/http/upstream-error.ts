/**
 * The one mapping from an upstream transport failure (before any response header) to the
 * OpenAI-shaped error the client sees. The message names the target and the error code only,
 * never the internal error text:
 *
 *   refused / unreachable / unknown host   → 503 ServiceUnavailable (the server is not listening yet)
 *   connect or header timeout              → 504 GatewayTimeout
 *   anything else (reset, abort, closed)   → 502 BadGateway
 */
import { OpenAIError } from '../openai/errors.js';

const REFUSED: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const TIMED_OUT: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT']);

interface CodedError {
  code?: string;
  cause?: { code?: string };
  errors?: Array<{ code?: string }>;
}

/** The error code of a transport failure (undici wraps some in `cause`, happy-eyeballs in `errors`). */
export function errorCode(err: unknown): string | undefined {
  const e = err as CodedError | undefined;
  return e?.code ?? e?.cause?.code ?? e?.errors?.find((inner) => inner.code !== undefined)?.code;
}

export type UpstreamFailure = 'refused' | 'timeout' | 'failed';

export function classifyUpstreamError(err: unknown): UpstreamFailure {
  const code = errorCode(err);
  if (code !== undefined && REFUSED.has(code)) return 'refused';
  if (code !== undefined && TIMED_OUT.has(code)) return 'timeout';
  return 'failed';
}

/** Refused connections: the upstream process is not (yet) listening. */
export function isConnectionRefused(err: unknown): boolean {
  return classifyUpstreamError(err) === 'refused';
}

/** `target` is a `host:port` label; `refusedMessage` overrides the 503 text (the sidecar's decoder message). */
export function upstreamError(err: unknown, target: string, refusedMessage?: string): OpenAIError {
  const code = errorCode(err);
  switch (classifyUpstreamError(err)) {
    case 'refused':
      return new OpenAIError(503, refusedMessage ?? `model server ${target} is not reachable (${code})`, { type: 'ServiceUnavailable', cause: err });
    case 'timeout':
      return new OpenAIError(504, `model server ${target} timed out`, { type: 'GatewayTimeout', cause: err });
    default:
      return new OpenAIError(502, `model server ${target} failed${code === undefined ? '' : ` (${code})`}`, { type: 'BadGateway', cause: err });
  }
}
